"""The generic-generator peer: FastMCP.from_openapi serving the same 47 operations (run in bench/.venv-fastmcp).

Usage: fastmcp_peer.py [--base-url URL]; reads the vendored openapi/telnyx-numbers.json (the in-scope
operations and the components they reference), serves stdio.
TELNYX_API_KEY is sent as a bearer token, as a user would configure the client.
"""

from __future__ import annotations

import argparse
import json
import os
from pathlib import Path

import httpx2
from fastmcp import FastMCP

SPEC = Path(__file__).resolve().parents[1] / "openapi" / "telnyx-numbers.json"


def main() -> None:
    """Build the server from the spec and run it over stdio."""
    parser = argparse.ArgumentParser()
    parser.add_argument("--base-url", default="https://api.telnyx.com/v2")
    base_url = parser.parse_args().base_url
    spec = json.loads(SPEC.read_text())
    client = httpx2.AsyncClient(
        base_url=base_url, headers={"Authorization": f"Bearer {os.environ.get('TELNYX_API_KEY', '')}"}
    )
    server = FastMCP.from_openapi(openapi_spec=spec, client=client, name="telnyx-peer")
    server.run(transport="stdio", show_banner=False)


if __name__ == "__main__":
    main()
