"""Mechanical no-loss check: spec parameter names, required entries and enum values vs our tool schemas.

Names are compared after normalising (lower-case, only letters and digits), so SDK renames match:
page[number] -> page_number, location.code -> location_code, groupBy -> group_by. A spec name counts as
present when its full path, its leaf, or parent+leaf appears among the tool's property names at any depth.
Object wrappers whose leaves are all checked (deepObject `page` -> page_number, page_size) count
through their leaves. Request-body fields marked readOnly are skipped (the server drops them on purpose).
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
PEER_SPEC = ROOT / "openapi" / "telnyx-numbers.json"  # the vendored cut of the upstream spec


def norm(name: str) -> str:
    """Normalise a name: lower-case letters and digits only."""
    return re.sub(r"[^a-z0-9]", "", name.lower())


@dataclass
class Report:
    """Counts and misses of the check."""

    names: int = 0
    required: int = 0
    enums: int = 0
    misses: list[str] = field(default_factory=list)


def _resolve(spec: dict[str, Any], node: Any) -> Any:
    while isinstance(node, dict) and "$ref" in node:
        cur: Any = spec
        for part in node["$ref"].lstrip("#/").split("/"):
            cur = cur[part]
        node = cur
    return node


def _walk_spec(
    spec: dict[str, Any], schema: Any, path: list[str], out: dict[str, set[Any]], depth: int = 0, body: bool = False
) -> None:
    """Collect (path) names, required paths and enum values from a spec schema."""
    schema = _resolve(spec, schema)
    if not isinstance(schema, dict) or depth > 12:
        return
    for v in schema.get("enum", []) or []:
        if v is not None:
            out["enums"].add(str(v))
    for key in ("allOf", "oneOf", "anyOf"):
        for sub in schema.get(key, []) or []:
            _walk_spec(spec, sub, path, out, depth + 1, body)
    if isinstance(schema.get("items"), dict):
        _walk_spec(spec, schema["items"], path, out, depth + 1, body)
    props = schema.get("properties") or {}
    for name, sub in props.items():
        sub_r = _resolve(spec, sub)
        if body and isinstance(sub_r, dict) and sub_r.get("readOnly"):
            continue
        out["names"].add((*path, name))
        _walk_spec(spec, sub, [*path, name], out, depth + 1, body)
    for name in schema.get("required", []) or []:
        sub_r = _resolve(spec, props.get(name, {}))
        if body and isinstance(sub_r, dict) and sub_r.get("readOnly"):
            continue
        out["required"].add((*path, name))


def _walk_ours(schema: Any, out: dict[str, set[str]]) -> None:
    """Collect normalised property names, required entries and enum values from our schema."""
    if isinstance(schema, dict):
        for v in schema.get("enum", []) or []:
            out["enums"].add(str(v))
        if "const" in schema:
            out["enums"].add(str(schema["const"]))
        for name in schema.get("required", []) or []:
            out["required"].add(norm(name))
        for name in schema.get("properties", {}) or {}:
            out["names"].add(norm(name))
        for v in schema.values():
            _walk_ours(v, out)
    elif isinstance(schema, list):
        for v in schema:
            _walk_ours(v, out)


def _present(path: tuple[str, ...], names: set[str]) -> bool:
    parts = [p for seg in path for p in re.split(r"[\[\].]+", seg) if p]
    candidates = {norm("".join(parts)), norm(parts[-1])}
    if len(parts) > 1:
        candidates.add(norm(parts[-2] + parts[-1]))
    return bool(candidates & names)


def check() -> Report:
    """Run the check over every tool in tool_specs/ that maps to a spec operation."""
    spec = json.loads(PEER_SPEC.read_text())
    rep = Report()
    for f in sorted((ROOT / "tool_specs").glob("*.json")):
        tool = json.loads(f.read_text())
        x = tool.get("x-telnyx")
        if not x:
            continue
        item = spec["paths"][x["path"]]
        op = item[x["method"].lower()]
        want: dict[str, set[Any]] = {"names": set(), "required": set(), "enums": set()}
        for p in [*(item.get("parameters") or []), *(op.get("parameters") or [])]:
            p = _resolve(spec, p)
            if p.get("in") == "header":
                continue
            want["names"].add((p["name"],))
            if p.get("required"):
                want["required"].add((p["name"],))
            _walk_spec(spec, p.get("schema", {}), [p["name"]], want)
        body = _resolve(spec, op.get("requestBody") or {})
        for media in (body.get("content") or {}).values():
            _walk_spec(spec, media.get("schema", {}), [], want, body=True)
        have: dict[str, set[str]] = {"names": set(), "required": set(), "enums": set()}
        _walk_ours(tool["inputSchema"], have)
        name = tool["name"]
        rep.names += len(want["names"])
        rep.required += len(want["required"])
        rep.enums += len(want["enums"])
        containers = {path[:-1] for path in want["names"] if len(path) > 1}
        for path in sorted(want["names"]):
            if path in containers:  # object wrapper (e.g. deepObject `page`): its leaves are checked instead
                continue
            if not _present(path, have["names"]):
                rep.misses.append(f"{name}: parameter {'.'.join(path)}")
        for path in sorted(want["required"]):
            if not _present(path, have["required"]):
                rep.misses.append(f"{name}: required {'.'.join(path)}")
        for value in sorted(want["enums"] - have["enums"]):
            rep.misses.append(f"{name}: enum value {value!r}")
    return rep


if __name__ == "__main__":
    r = check()
    print(f"names={r.names} required={r.required} enums={r.enums} misses={len(r.misses)}")
    print("\n".join(r.misses[:80]))
