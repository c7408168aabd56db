"""`python -m telnyx_numbers_mcp.specgen --spec PATH_OR_URL`: (re)write tool_specs/ from the OpenAPI spec."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from telnyx_numbers_mcp.errors import SpecError
from telnyx_numbers_mcp.specgen import naming, readme
from telnyx_numbers_mcp.specgen.build import GENERATOR_VERSION, build_tool
from telnyx_numbers_mcp.specgen.schema import Resolver
from telnyx_numbers_mcp.specgen.source import load_scope, load_sdk_methods, load_spec

REPO_ROOT = Path(__file__).resolve().parents[3]
DEFAULT_SPEC = REPO_ROOT.parent / "shared" / "telnyx-openapi" / "spec3.yml"


def dump(data: Any) -> str:
    return json.dumps(data, indent=2, sort_keys=True, ensure_ascii=False) + "\n"


def generate(spec_location: str, sdk_methods_location: str) -> dict[str, str]:
    """Return {file name: text} for every file of tool_specs/ (pure apart from reading the inputs)."""
    spec, digest = load_spec(spec_location)
    sdk = load_sdk_methods(sdk_methods_location)
    scope = load_scope()
    resolver = Resolver(spec)
    tools = []
    for entry in scope.entries:
        sdk_method = sdk.get((entry.method, entry.path))
        if sdk_method is None:
            raise SpecError(f"{entry.method} {entry.path} has no SDK method in {sdk_methods_location}")
        tools.append(build_tool(entry, spec=spec, resolver=resolver, sdk_method=sdk_method, scope=scope))
    naming.check_unique([t["name"] for t in tools])
    files = {f"{t['name']}.json": dump(t) for t in tools}
    files["index.json"] = dump(
        {
            "generator_version": GENERATOR_VERSION,
            "spec_sha256": digest,
            "tools": [t["name"] for t in tools],  # scope.toml order: toolsets stay together
        }
    )
    return files


def write(files: dict[str, str], out: Path) -> list[str]:
    """Write the files and delete stale ones; return the names that changed."""
    out.mkdir(parents=True, exist_ok=True)
    changed = []
    for old in out.glob("*.json"):
        if old.name not in files:
            old.unlink()
            changed.append(old.name)
    for name, text in sorted(files.items()):
        target = out / name
        if not target.exists() or target.read_text() != text:
            target.write_text(text)
            changed.append(name)
    return changed


def stale_files(files: dict[str, str], out: Path) -> list[str]:
    on_disk = {p.name: p.read_text() for p in out.glob("*.json")} if out.exists() else {}
    names = set(files) | set(on_disk)
    return sorted(n for n in names if files.get(n) != on_disk.get(n))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m telnyx_numbers_mcp.specgen", description=__doc__)
    parser.add_argument("--spec", default=str(DEFAULT_SPEC), help="OpenAPI spec: file path or URL")
    parser.add_argument(
        "--sdk-methods",
        default=None,
        help="endpoint -> SDK method TSV (default: sdk-methods.tsv beside the spec)",
    )
    parser.add_argument("--out", default=str(REPO_ROOT / "tool_specs"), help="output folder")
    parser.add_argument("--check", action="store_true", help="fail if the output folder is stale")
    opts = parser.parse_args(argv)
    sdk_methods = opts.sdk_methods or opts.spec.rsplit("/", 1)[0] + "/sdk-methods.tsv"
    try:
        files = generate(opts.spec, sdk_methods)
    except SpecError as exc:
        print(f"specgen: {exc}", file=sys.stderr)
        return 1
    out = Path(opts.out)
    if opts.check:
        stale = stale_files(files, out)
        if stale:
            print(f"specgen: {out} is stale: {', '.join(stale)}", file=sys.stderr)
            return 1
        print(f"specgen: {out} is up to date ({len(files) - 1} tools)", file=sys.stderr)
        return 0
    changed = write(files, out)
    print(f"specgen: wrote {len(files) - 1} tools to {out} ({len(changed)} files changed)", file=sys.stderr)
    readme_path = REPO_ROOT / "README.md"
    if out.resolve() == (REPO_ROOT / "tool_specs").resolve() and readme_path.exists():
        readme_path.write_text(readme.render(readme_path.read_text(), out))
        print("specgen: updated the tool table in README.md", file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
