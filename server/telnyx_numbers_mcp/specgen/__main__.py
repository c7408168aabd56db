"""`python -m telnyx_numbers_mcp.specgen`: (re)write tool_specs/ from the vendored spec in openapi/.

With `--upstream PATH_OR_URL` it first re-cuts openapi/ from a (newer) upstream Telnyx spec: exactly the
operations in scope.toml and the components they reference, plus the SDK method rows and a provenance record.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from telnyx_numbers_mcp.errors import SpecError
from telnyx_numbers_mcp.specgen import cut, naming, tool_table
from telnyx_numbers_mcp.specgen.build import GENERATOR_VERSION, build_tool, check_lookups
from telnyx_numbers_mcp.specgen.schema import Resolver
from telnyx_numbers_mcp.specgen.source import Scope, load_scope, parse_sdk_methods, parse_spec, read_bytes

REPO_ROOT = Path(__file__).resolve().parents[3]


def dump(data: Any) -> str:
    return json.dumps(data, indent=2, sort_keys=True, ensure_ascii=False) + "\n"


def generate(
    spec: dict[str, Any], sdk: dict[tuple[str, str], str], *, spec_sha256: str, scope: Scope | None = None
) -> dict[str, str]:
    """Return {file name: text} for every file of tool_specs/ (pure)."""
    scope = scope or load_scope()
    resolver = Resolver(spec)
    tools = []
    for entry in scope.entries:
        sdk_method = sdk.get((entry.method, entry.path))
        if sdk_method is None:
            raise SpecError(f"{entry.method} {entry.path} has no SDK method in the SDK methods table")
        tools.append(build_tool(entry, spec=spec, resolver=resolver, sdk_method=sdk_method, scope=scope))
    naming.check_unique([t["name"] for t in tools])
    check_lookups(tools)
    files = {f"{t['name']}.json": dump(t) for t in tools}
    files["index.json"] = dump(
        {
            "generator_version": GENERATOR_VERSION,
            "spec_sha256": spec_sha256,  # the upstream spec the cut came from
            "tools": [t["name"] for t in tools],  # scope.toml order: toolsets stay together
            "synonyms": [list(group) for group in scope.synonyms],  # for find_tools' ranking
        }
    )
    return files


def generate_from_vendored(folder: Path = cut.OPENAPI_DIR, scope: Scope | None = None) -> dict[str, str]:
    """tool_specs/ from openapi/, after checking the cut holds exactly scope.toml's operations."""
    scope = scope or load_scope()
    vendored = cut.load_vendored(folder)
    ops = cut.scope_operations(scope)
    try:
        exact = cut.cut(vendored.spec, ops)
    except SpecError as exc:
        raise SpecError(f"scope.toml names operations the vendored spec lacks ({exc}); {cut.REFRESH_HINT}") from None
    if exact != vendored.spec:
        in_cut = {(m.upper(), p) for p, item in vendored.spec["paths"].items() for m in item if m in cut.HTTP_METHODS}
        extra = sorted(f"{m} {p}" for m, p in in_cut - set(ops))
        what = f"operations not in scope.toml: {', '.join(extra)}" if extra else "components nothing references"
        raise SpecError(f"the vendored spec has {what}; {cut.REFRESH_HINT}")
    sdk = parse_sdk_methods(vendored.sdk_methods)
    return generate(vendored.spec, sdk, spec_sha256=vendored.provenance["upstream_sha256"], scope=scope)


def refresh(upstream: str, sdk_methods: str, folder: Path = cut.OPENAPI_DIR, note: str | None = None) -> list[str]:
    """Re-cut openapi/ from an upstream spec and SDK table (paths or URLs); return the files that changed."""
    raw = read_bytes(upstream)
    sdk_tsv = read_bytes(sdk_methods).decode()
    files = cut.vendor_files(
        spec=parse_spec(raw, upstream),
        upstream=upstream,
        upstream_sha256=cut.sha256(raw),
        sdk_tsv=sdk_tsv,
        sdk_location=sdk_methods,
        scope=load_scope(),
        generator_version=GENERATOR_VERSION,
        note=note,
    )
    folder.mkdir(parents=True, exist_ok=True)
    changed = []
    for name, text in files.items():
        target = folder / name
        if not target.exists() or target.read_text() != text:
            target.write_text(text)
            changed.append(name)
    return changed


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
    parser.add_argument(
        "--upstream",
        metavar="PATH_OR_URL",
        help="re-cut openapi/ from this upstream OpenAPI spec (YAML or JSON) before generating",
    )
    parser.add_argument(
        "--sdk-methods",
        metavar="PATH_OR_URL",
        help="with --upstream: endpoint -> SDK method TSV (default: sdk-methods.tsv beside the upstream spec)",
    )
    parser.add_argument(
        "--upstream-note",
        metavar="TEXT",
        help="with --upstream: where the spec comes from, for provenance.json (e.g. 'team-telnyx/openapi 4f3a6bd')",
    )
    parser.add_argument("--openapi-dir", default=str(cut.OPENAPI_DIR), help="the vendored spec folder")
    parser.add_argument("--out", default=str(REPO_ROOT / "tool_specs"), help="output folder")
    parser.add_argument("--check", action="store_true", help="fail if the output folder is stale")
    opts = parser.parse_args(argv)
    if (opts.sdk_methods or opts.upstream_note) and not opts.upstream:
        parser.error("--sdk-methods and --upstream-note only go with --upstream")
    if opts.check and opts.upstream:
        parser.error("--check compares with the vendored spec; run --upstream without --check")
    openapi_dir = Path(opts.openapi_dir)
    try:
        if opts.upstream:
            sdk_methods = opts.sdk_methods or opts.upstream.rsplit("/", 1)[0] + "/sdk-methods.tsv"
            changed_cut = refresh(opts.upstream, sdk_methods, openapi_dir, opts.upstream_note)
            print(
                f"specgen: cut {opts.upstream} into {openapi_dir} ({len(changed_cut)} files changed)", file=sys.stderr
            )
        files = generate_from_vendored(openapi_dir)
    except SpecError as exc:
        print(f"specgen: {exc}", file=sys.stderr)
        return 1
    out = Path(opts.out)
    # the repository's own tool_specs/ come with their table in docs/tools.md (an --out elsewhere has none)
    table = REPO_ROOT / tool_table.DOC
    table_here = out.resolve() == (REPO_ROOT / "tool_specs").resolve() and table.exists()
    if opts.check:
        stale = stale_files(files, out)
        if stale:
            print(f"specgen: {out} is stale: {', '.join(stale)}", file=sys.stderr)
        if table_here and tool_table.render(table.read_text(), out) != table.read_text():
            print(f"specgen: the tool table in {tool_table.DOC} is stale", file=sys.stderr)
            stale.append(str(tool_table.DOC))
        if stale:
            return 1
        print(f"specgen: {out} is up to date ({len(files) - 1} tools){', and its table' if table_here else ''}",
              file=sys.stderr)  # fmt: skip
        return 0
    changed = write(files, out)
    print(f"specgen: wrote {len(files) - 1} tools to {out} ({len(changed)} files changed)", file=sys.stderr)
    if table_here:
        table.write_text(tool_table.render(table.read_text(), out))
        print(f"specgen: updated the tool table in {tool_table.DOC}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
