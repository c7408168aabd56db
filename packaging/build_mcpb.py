"""Build the MCP Bundle (.mcpb) that Claude Desktop installs with a double-click.

Usage (from a checkout, with the project's venv active):

    python packaging/build_mcpb.py            # -> dist/telnyx-numbers-mcp-<version>.mcpb
    python packaging/build_mcpb.py --lock     # re-pin packaging/bundle/uv.lock (after a dependency change)
    python packaging/build_mcpb.py --server-json server.json   # also write the bundle's sha256 there

Why a staged copy instead of `mcpb pack .`: the checkout holds tests, benchmarks, a venv and a symlinked
tool_specs/ folder; the bundle must hold only what `uv run` needs to install and start the server (the
manifest, a pyproject.toml, its uv.lock, README.md, LICENSE and the package with real files). The manifest's
`server.type` is "uv": the app creates the environment on the user's machine, so no compiled dependency
(pydantic-core, rpds-py) is bundled for the wrong platform.

Pinned: the bundle's pyproject.toml is the project's without its extras (test, dev, bench, ...) and tool
settings, and beside it goes packaging/bundle/uv.lock, the lock of exactly that: the runtime dependencies at
fixed versions (and the setuptools that builds the package). With a lock that matches its pyproject, `uv run`
installs what the lock says and resolves nothing (the manifest's command adds --frozen). The build refuses a
lock that no longer matches the dependencies. Packing itself is done by the pinned official CLI
(`npx @anthropic-ai/mcpb pack`), which also validates the manifest.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import re
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
TOP_FILES = ("manifest.json", "README.md", "LICENSE")
LOCK = ROOT / "packaging" / "bundle" / "uv.lock"  # the bundle's runtime dependencies, pinned (--lock renews it)
BUILD_BACKEND = "setuptools==84.2.1"  # what builds the package on the user's machine, pinned in the lock too
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


def bundle_pyproject(text: str) -> str:
    """The project's pyproject.toml without its extras and tool settings (tests, lint, bench: not the
    bundle's business), with the build backend pinned for uv. Every other table stays as written."""
    kept: list[str] = []
    keep = True
    for line in text.splitlines(keepends=True):
        header = re.match(r"^\[\[?([^\]]+)\]\]?\s*(#.*)?$", line)
        if header:
            name = header.group(1).strip()
            keep = name != "project.optional-dependencies" and (
                not name.startswith("tool.") or name.startswith("tool.setuptools")
            )
        if keep:
            kept.append(line)
    pinned = (
        "\n[tool.uv]\n# the bundle's environment comes from uv.lock beside this file; this builds the package\n"
        f'build-constraint-dependencies = ["{BUILD_BACKEND}"]\n'
    )
    out = "".join(kept).rstrip() + "\n" + pinned
    parsed = tomllib.loads(out)
    if "optional-dependencies" in parsed["project"] or set(parsed.get("tool", {})) - {"setuptools", "uv"}:
        raise BuildError("the bundle's pyproject.toml still has extras or tool settings")
    return out


def stage(into: Path, *, with_lock: bool = True) -> dict[str, Any]:
    """Copy what the bundle needs into `into`; returns the manifest written there."""
    manifest: dict[str, Any] = json.loads((ROOT / "manifest.json").read_text())
    version = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["version"]
    if manifest["version"] != version:
        raise BuildError(f"manifest.json version {manifest['version']!r} differs from pyproject.toml's {version!r}")
    for name in TOP_FILES:
        if (ROOT / name).is_file():
            shutil.copy2(ROOT / name, into / name)
    (into / "pyproject.toml").write_text(bundle_pyproject((ROOT / "pyproject.toml").read_text()))
    if with_lock:
        if not LOCK.is_file():
            raise BuildError(f"{LOCK.relative_to(ROOT)} is missing: run `python packaging/build_mcpb.py --lock`")
        shutil.copy2(LOCK, into / "uv.lock")
    # symlinks=False copies the files behind server/telnyx_numbers_mcp/tool_specs (a link to ../../tool_specs)
    shutil.copytree(ROOT / "server" / PACKAGE, into / "server" / PACKAGE, symlinks=False, ignore=SKIP)
    manifest["tools"] = manifest_tools()
    (into / "manifest.json").write_text(json.dumps(manifest, indent=2) + "\n")
    return manifest


def uv() -> str:
    """uv from this virtualenv (a test dependency) or PATH."""
    here = Path(sys.executable).parent / "uv"
    found = str(here) if here.is_file() else shutil.which("uv")
    if found is None:
        raise BuildError("uv not found: pip install uv (it checks and renews the bundle's lock)")
    return found


def check_lock(staged: Path) -> None:
    """The shipped lock must match the bundle's pyproject (offline: no resolution, only a comparison)."""
    proc = subprocess.run(
        [uv(), "lock", "--check", "--offline", "--quiet", "--directory", str(staged)],
        capture_output=True, text=True, stdin=subprocess.DEVNULL, timeout=120,
    )  # fmt: skip
    if proc.returncode != 0:
        raise BuildError(
            f"{LOCK.relative_to(ROOT)} does not match pyproject.toml's dependencies; renew it with "
            f"`python packaging/build_mcpb.py --lock` and review the diff:\n{proc.stderr[-1500:]}"
        )


def lock() -> Path:
    """Resolve the bundle's runtime dependencies afresh (needs the package index) into packaging/bundle/uv.lock."""
    with tempfile.TemporaryDirectory(prefix="mcpb-lock-") as tmp:
        staged = Path(tmp)
        stage(staged, with_lock=False)
        proc = subprocess.run(
            [uv(), "lock", "--quiet", "--directory", str(staged)],
            capture_output=True, text=True, stdin=subprocess.DEVNULL, timeout=600,
        )  # fmt: skip
        if proc.returncode != 0:
            raise BuildError(f"uv lock failed ({proc.returncode}):\n{proc.stderr[-2000:]}")
        LOCK.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(staged / "uv.lock", LOCK)
    return LOCK


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def record_in_server_json(bundle: Path, server_json: Path) -> None:
    """Write the bundle's sha256 into the mcpb package of a registry server.json (the registry requires it)."""
    doc = json.loads(server_json.read_text())
    packages = [p for p in doc.get("packages", []) if p.get("registryType") == "mcpb"]
    if len(packages) != 1 or not str(packages[0].get("identifier", "")).endswith("/" + bundle.name):
        raise BuildError(f"{server_json} has no mcpb package whose identifier ends in /{bundle.name}")
    packages[0]["fileSha256"] = sha256(bundle)
    server_json.write_text(json.dumps(doc, indent=2, ensure_ascii=False) + "\n")


def build(out_dir: Path) -> Path:
    """Stage, pack with the official CLI and return the .mcpb path."""
    cli = npx()
    out_dir.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="mcpb-stage-") as tmp:
        staged = Path(tmp) / "bundle"
        staged.mkdir()
        manifest = stage(staged)
        check_lock(staged)
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
    parser.add_argument("--out", type=Path, default=ROOT / "dist", help="output folder (default: dist/)")
    parser.add_argument("--lock", action="store_true", help="renew packaging/bundle/uv.lock instead of building")
    parser.add_argument(
        "--server-json", type=Path, default=None, help="write the bundle's sha256 into this server.json (default: none)"
    )
    args = parser.parse_args(argv)
    try:
        if args.lock:
            print(lock())
            return 0
        target = build(args.out)
        if args.server_json is not None:
            record_in_server_json(target, args.server_json)
    except BuildError as exc:
        print(f"build_mcpb: {exc}", file=sys.stderr)
        return 1
    print(target)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
