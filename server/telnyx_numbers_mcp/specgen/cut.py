"""The vendored spec: cut the in-scope operations (and what they reference) out of the upstream OpenAPI spec.

The repository carries `openapi/telnyx-numbers.json` instead of the 4 MB upstream YAML, so a fresh clone can
regenerate and check `tool_specs/` with no network, no PyYAML and no folder beside it. The cut is derived
from scope.toml: adding an operation there only needs `--upstream PATH_OR_URL` once to re-cut.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from telnyx_numbers_mcp.errors import SpecError
from telnyx_numbers_mcp.specgen.source import Scope

OPENAPI_DIR = Path(__file__).resolve().parents[3] / "openapi"
CUT_FILE = "telnyx-numbers.json"
SDK_FILE = "sdk-methods.tsv"
PROVENANCE_FILE = "provenance.json"
HTTP_METHODS = ("get", "put", "post", "delete", "options", "head", "patch", "trace")
# Top-level keys a client of the cut needs besides paths and components (FastMCP, validators, humans).
KEPT_TOP_LEVEL = ("openapi", "info", "servers", "security")
REFRESH_HINT = "refresh the vendored spec: python -m telnyx_numbers_mcp.specgen --upstream PATH_OR_URL"


def dump(data: Any) -> str:
    """Deterministic, diff-friendly JSON: sorted keys, one value per line, one-space indent (small on disk)."""
    return json.dumps(data, indent=1, sort_keys=True, ensure_ascii=False) + "\n"


def sha256(data: bytes | str) -> str:
    return hashlib.sha256(data.encode() if isinstance(data, str) else data).hexdigest()


def _refs(node: Any, out: set[str]) -> None:
    if isinstance(node, dict):
        for key, value in node.items():
            if key == "$ref" and isinstance(value, str):
                out.add(value)
            else:
                _refs(value, out)
    elif isinstance(node, list):
        for value in node:
            _refs(value, out)


def _component(spec: dict[str, Any], ref: str) -> tuple[str, str, Any]:
    """`#/components/<kind>/<name>` -> (kind, name, node); anything else cannot be vendored faithfully."""
    parts = ref.split("/")
    if len(parts) != 4 or parts[:2] != ["#", "components"]:
        raise SpecError(f"$ref {ref!r} does not point at a component; the cut supports only #/components/<kind>/<name>")
    kind, name = (p.replace("~1", "/").replace("~0", "~") for p in parts[2:])
    try:
        return kind, name, spec["components"][kind][name]
    except (KeyError, TypeError):
        raise SpecError(f"$ref {ref!r} points at nothing in the spec") from None


def cut(spec: dict[str, Any], operations: Iterable[tuple[str, str]]) -> dict[str, Any]:
    """An OpenAPI document with exactly `operations` ((METHOD, path) pairs) and every component they
    reference, directly or through other components; path-level keys (shared parameters) come along."""
    paths: dict[str, Any] = {}
    missing = []
    for method, path in operations:
        item = spec.get("paths", {}).get(path)
        if not isinstance(item, dict) or method.lower() not in item:
            missing.append(f"{method} {path}")
            continue
        kept = paths.setdefault(path, {k: v for k, v in item.items() if k not in HTTP_METHODS})
        kept[method.lower()] = item[method.lower()]
    if missing:
        raise SpecError(f"not in the upstream spec: {', '.join(missing)}")
    components: dict[str, dict[str, Any]] = {}
    seen: set[str] = set()
    todo: set[str] = set()
    _refs(paths, todo)
    while todo:
        ref = todo.pop()
        if ref in seen:
            continue
        seen.add(ref)
        kind, name, node = _component(spec, ref)
        components.setdefault(kind, {})[name] = node
        _refs(node, todo)
    schemes = spec.get("components", {}).get("securitySchemes")
    if schemes:  # referenced by name from `security`, not by $ref
        components["securitySchemes"] = schemes
    out = {k: spec[k] for k in KEPT_TOP_LEVEL if k in spec}
    out["paths"] = paths
    out["components"] = components
    return out


def scope_operations(scope: Scope) -> list[tuple[str, str]]:
    return [(e.method, e.path) for e in scope.entries]


def sdk_rows(tsv: str, operations: Iterable[tuple[str, str]]) -> str:
    """The header and the upstream rows for `operations`, in upstream order (other rows are not needed)."""
    wanted = {(m.upper(), p) for m, p in operations}
    lines = tsv.splitlines()
    if not lines or lines[0].split("\t")[:3] != ["http_method", "path", "sdk_method"]:
        raise SpecError("the SDK methods table must start with the header http_method, path, sdk_method")
    kept = [line for line in lines[1:] if (line.split("\t")[0].upper(), line.split("\t")[1]) in wanted]
    return "\n".join([lines[0], *kept]) + "\n"


@dataclass(frozen=True)
class Vendored:
    """The vendored spec as the generator reads it."""

    spec: dict[str, Any]
    sdk_methods: str
    provenance: dict[str, Any]


def vendor_files(
    *,
    spec: dict[str, Any],
    upstream: str,
    upstream_sha256: str,
    sdk_tsv: str,
    sdk_location: str,
    scope: Scope,
    generator_version: str,
    note: str | None = None,
    today: dt.date | None = None,
) -> dict[str, str]:
    """Return {file name: text} for openapi/: the cut, the SDK rows in scope and the provenance record."""
    ops = scope_operations(scope)
    cut_text = dump(cut(spec, ops))
    sdk_text = sdk_rows(sdk_tsv, ops)
    provenance = {
        "upstream": upstream,
        "upstream_sha256": upstream_sha256,
        "upstream_note": note,
        "upstream_title": spec.get("info", {}).get("title"),
        "upstream_version": spec.get("info", {}).get("version"),
        "sdk_methods": sdk_location,
        "sdk_methods_sha256": sha256(sdk_tsv),
        "cut_date": (today or dt.datetime.now(dt.UTC).date()).isoformat(),
        "generator_version": generator_version,
        "operations": len(ops),
        # hashes of the two vendored files, so a hand edit is caught before it reaches tool_specs/
        "cut_sha256": sha256(cut_text),
        "sdk_rows_sha256": sha256(sdk_text),
    }
    return {CUT_FILE: cut_text, SDK_FILE: sdk_text, PROVENANCE_FILE: dump(provenance)}


def load_vendored(folder: Path = OPENAPI_DIR) -> Vendored:
    """Read openapi/, refusing files that differ from what the last refresh wrote (hand edits, bad merges)."""
    try:
        provenance = json.loads((folder / PROVENANCE_FILE).read_text())
        cut_text = (folder / CUT_FILE).read_text()
        sdk_text = (folder / SDK_FILE).read_text()
    except FileNotFoundError as exc:
        raise SpecError(f"the vendored spec is missing {exc.filename}; {REFRESH_HINT}") from None
    for name, text, key in ((CUT_FILE, cut_text, "cut_sha256"), (SDK_FILE, sdk_text, "sdk_rows_sha256")):
        if sha256(text) != provenance.get(key):
            raise SpecError(
                f"{folder / name} does not match its sha256 in {PROVENANCE_FILE} (edited by hand?); {REFRESH_HINT}"
            )
    return Vendored(spec=json.loads(cut_text), sdk_methods=sdk_text, provenance=provenance)
