"""An --approval-notify command for tests: appends the URL it was given (last argument) and the one in
TELNYX_MCP_APPROVAL_URL to the file named by its first argument, as `argv<TAB>env`."""

import os
import sys

with open(sys.argv[1], "a", encoding="utf-8") as out:
    out.write(
        f"{sys.argv[-1]}\t{os.environ.get('TELNYX_MCP_APPROVAL_URL', '')}\t{os.environ.get('TELNYX_API_KEY', '')}\n"
    )
