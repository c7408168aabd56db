"""The generic-generator peer: FastMCP.from_openapi serving the same 47 operations (run in bench/.venv-fastmcp).

Usage: fastmcp_peer.py [--base-url URL]; reads the vendored openapi/telnyx-numbers.json (the in-scope
operations and the components they reference), keeps the operations our server offers by default (the
opt-in toolsets' operations are in the vendored cut too: tool_specs/*.json say which), serves stdio.
TELNYX_API_KEY is sent as a bearer token, as a user would configure the client.
"""

from __future__ import annotations

import argparse
import json
import os
from pathlib import Path
from typing import Any

import httpx2
from fastmcp import FastMCP

ROOT = Path(__file__).resolve().parents[1]
SPEC = ROOT / "openapi" / "telnyx-numbers.json"


def default_operations() -> set[tuple[str, str]]:
    """(path, method) of every operation our server offers without --toolsets: the same 47 to compare."""
    ops = set()
    for f in (ROOT / "tool_specs").glob("*.json"):
        x = json.loads(f.read_text()).get("x-telnyx")
        if x and not x.get("opt_in"):
            ops.add((x["path"], x["method"].lower()))
    return ops


def same_operations(spec: dict[str, Any]) -> dict[str, Any]:
    """The spec cut to the default operations (paths left empty are dropped)."""
    keep = default_operations()
    paths: dict[str, Any] = {}
    for path, item in spec["paths"].items():
        kept = {k: v for k, v in item.items() if (path, k) in keep or k not in _METHODS}
        if any(k in _METHODS for k in kept):
            paths[path] = kept
    return {**spec, "paths": paths}


_METHODS = {"get", "put", "post", "patch", "delete", "head", "options", "trace"}


def main() -> None:
    """Build the server from the spec and run it over stdio."""
    parser = argparse.ArgumentParser()
    parser.add_argument("--base-url", default="https://api.telnyx.com/v2")
    base_url = parser.parse_args().base_url
    spec = same_operations(json.loads(SPEC.read_text()))
    client = httpx2.AsyncClient(
        base_url=base_url, headers={"Authorization": f"Bearer {os.environ.get('TELNYX_API_KEY', '')}"}
    )
    server = FastMCP.from_openapi(openapi_spec=spec, client=client, name="telnyx-peer")
    server.run(transport="stdio", show_banner=False)


if __name__ == "__main__":
    main()
