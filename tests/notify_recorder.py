"""An --approval-notify command for tests: appends what it was given to the file named by its first argument,
as one JSON line: its arguments, the link from TELNYX_MCP_APPROVAL_URL and from standard input, and whether
any secret variable reached its environment."""

import json
import os
import sys

SECRETS = ("TELNYX_API_KEY", "MCP_HTTP_TOKEN", "TELNYX_MCP_STATE_SECRET", "TELNYX_MCP_STORE")

record = {
    "argv": sys.argv,
    "env_url": os.environ.get("TELNYX_MCP_APPROVAL_URL", ""),
    "stdin": sys.stdin.read().strip(),
    "secrets": sorted(k for k in os.environ if k in SECRETS),
    "pid": os.getpid(),
}
with open(sys.argv[1], "a", encoding="utf-8") as out:
    out.write(json.dumps(record) + "\n")
