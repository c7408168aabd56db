"""`python -m telnyx_numbers_mcp` runs the CLI."""

from telnyx_numbers_mcp.cli import main

raise SystemExit(main())
