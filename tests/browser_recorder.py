"""A BROWSER program for tests: appends its arguments and environment to the file named by its first argument
(one JSON line), as a browser would be started with the page to open as its last argument."""

import json
import os
import sys

with open(sys.argv[1], "a", encoding="utf-8") as out:
    out.write(json.dumps({"argv": sys.argv, "env": dict(os.environ)}) + "\n")
