"""Pre-filter the Telnyx OpenAPI spec to our 47 operations (done once, as a generator user would).

Writes bench/peer_spec.json: the 47 (method, path) pairs from tool_specs/*.json plus every component
they reference (transitively). Generated and git-ignored.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import yaml

ROOT = Path(__file__).resolve().parent.parent
SPEC = Path(__file__).resolve().parents[2] / "shared" / "telnyx-openapi" / "spec3.yml"
OUT = ROOT / "bench" / "peer_spec.json"


def our_operations() -> list[tuple[str, str]]:
    """(METHOD, path) of every tool in tool_specs/."""
    ops = []
    for f in sorted((ROOT / "tool_specs").glob("*.json")):
        x = json.loads(f.read_text()).get("x-telnyx")
        if x:
            ops.append((x["method"].upper(), x["path"]))
    return ops


def load_spec() -> dict[str, Any]:
    """Parse the YAML spec (C loader when available)."""
    loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
    with SPEC.open() as f:
        spec: dict[str, Any] = yaml.load(f, Loader=loader)
    return spec


def refs(node: Any, out: set[str]) -> None:
    """Collect every $ref string under node."""
    if isinstance(node, dict):
        for k, v in node.items():
            if k == "$ref" and isinstance(v, str):
                out.add(v)
            else:
                refs(v, out)
    elif isinstance(node, list):
        for v in node:
            refs(v, out)


def resolve(spec: dict[str, Any], ref: str) -> Any:
    """Follow a local JSON pointer."""
    node: Any = spec
    for part in ref.lstrip("#/").split("/"):
        node = node[part.replace("~1", "/").replace("~0", "~")]
    return node


def filter_spec(spec: dict[str, Any], ops: list[tuple[str, str]]) -> dict[str, Any]:
    """Keep only ops and the components they reach."""
    paths: dict[str, Any] = {}
    for method, path in ops:
        item = spec["paths"][path]
        kept = paths.setdefault(path, {k: v for k, v in item.items() if k == "parameters"})
        kept[method.lower()] = item[method.lower()]
    seen: set[str] = set()
    todo: set[str] = set()
    refs(paths, todo)
    while todo:
        ref = todo.pop()
        if ref in seen or not ref.startswith("#/"):
            continue
        seen.add(ref)
        refs(resolve(spec, ref), todo)
    components: dict[str, dict[str, Any]] = {}
    for ref in seen:
        _, _, kind, name = ref.split("/", 3)
        components.setdefault(kind, {})[name] = spec["components"][kind][name]
    if "securitySchemes" in spec.get("components", {}):
        components["securitySchemes"] = spec["components"]["securitySchemes"]
    out = {k: spec[k] for k in ("openapi", "info", "servers", "security") if k in spec}
    out["paths"] = paths
    out["components"] = components
    return out


def main() -> None:
    """Write bench/peer_spec.json unless it is newer than the spec and tool_specs."""
    inputs = [SPEC, *(ROOT / "tool_specs").glob("*.json")]
    if OUT.exists() and OUT.stat().st_mtime > max(p.stat().st_mtime for p in inputs) and "--force" not in sys.argv:
        return
    ops = our_operations()
    OUT.write_text(json.dumps(filter_spec(load_spec(), ops), indent=1, sort_keys=True))
    print(f"wrote {OUT} ({len(ops)} operations, {OUT.stat().st_size} bytes)", file=sys.stderr)


if __name__ == "__main__":
    main()
