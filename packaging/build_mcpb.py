"""Build the MCP Bundle (.mcpb) that Claude Desktop installs with a double-click.

Usage (from a checkout, with the project's venv active):

    python packaging/build_mcpb.py            # -> dist/telnyx-numbers-mcp-<version>.mcpb

Why a staged copy instead of `mcpb pack .`: the checkout holds tests, benchmarks, a venv and a symlinked
tool_specs/ folder; the bundle must hold only what `uv run` needs to install and start the server (the
manifest, pyproject.toml, README.md, LICENSE and the package with real files). The manifest's `server.type`
is "uv": the app creates the environment from pyproject.toml on the user's machine, so no compiled
dependency (pydantic-core, rpds-py) is bundled for the wrong platform. Packing itself is done by the pinned
official CLI (`npx @anthropic-ai/mcpb pack`), which also validates the manifest.
"""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import sys
import tempfile
import tomllib
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
MCPB_CLI = "@anthropic-ai/mcpb@2.1.2"  # pinned: the manifest schema (0.4, server.type "uv") is checked against it
PACKAGE = "telnyx_numbers_mcp"
TOP_FILES = ("manifest.json", "pyproject.toml", "README.md", "LICENSE")
SKIP = shutil.ignore_patterns("__pycache__", "*.pyc", "*.pyo", "*.egg-info")


class BuildError(Exception):
    """A build precondition failed; the message says what to fix."""


def npx() -> str:
    found = shutil.which("npx")
    if found is None:
        raise BuildError("npx not found: install Node.js (18+) to pack the bundle with the official mcpb CLI")
    return found


def manifest_tools() -> list[dict[str, str]]:
    """The tools the install dialog lists: every catalog tool plus check_approval (the default policy)."""
    sys.path.insert(0, str(ROOT / "server"))
    from telnyx_numbers_mcp.approvals.tools import check_tool
    from telnyx_numbers_mcp.catalog import load_catalog

    check = check_tool()
    # what the server offers by default: the opt-in toolsets (requirements, numbers, lookup) need --toolsets
    tools = [{"name": t.name, "description": t.title} for t in load_catalog() if not t.opt_in]
    return [*tools, {"name": check.name, "description": check.title or check.name}]


def stage(into: Path) -> dict[str, Any]:
    """Copy what the bundle needs into `into`; returns the manifest written there."""
    manifest: dict[str, Any] = json.loads((ROOT / "manifest.json").read_text())
    version = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["version"]
    if manifest["version"] != version:
        raise BuildError(f"manifest.json version {manifest['version']!r} differs from pyproject.toml's {version!r}")
    for name in TOP_FILES:
        if (ROOT / name).is_file():
            shutil.copy2(ROOT / name, into / name)
    # symlinks=False copies the files behind server/telnyx_numbers_mcp/tool_specs (a link to ../../tool_specs)
    shutil.copytree(ROOT / "server" / PACKAGE, into / "server" / PACKAGE, symlinks=False, ignore=SKIP)
    manifest["tools"] = manifest_tools()
    (into / "manifest.json").write_text(json.dumps(manifest, indent=2) + "\n")
    return manifest


def build(out_dir: Path) -> Path:
    """Stage, pack with the official CLI and return the .mcpb path."""
    cli = npx()
    out_dir.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="mcpb-stage-") as tmp:
        staged = Path(tmp) / "bundle"
        staged.mkdir()
        manifest = stage(staged)
        target = out_dir.resolve() / f"{manifest['name']}-{manifest['version']}.mcpb"
        target.unlink(missing_ok=True)
        proc = subprocess.run(
            [cli, "-y", MCPB_CLI, "pack", str(staged), str(target)],
            capture_output=True,
            text=True,
            stdin=subprocess.DEVNULL,
            timeout=600,
        )
        if proc.returncode != 0 or not target.is_file():
            raise BuildError(f"mcpb pack failed ({proc.returncode}):\n{proc.stdout[-2000:]}{proc.stderr[-2000:]}")
    return target


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Build the .mcpb bundle for Claude Desktop")
    parser.add_argument("--out", type=Path, default=ROOT / "dist", help="output folder (default dist/)")
    args = parser.parse_args(argv)
    try:
        target = build(args.out)
    except BuildError as exc:
        print(f"build_mcpb: {exc}", file=sys.stderr)
        return 1
    print(target)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
