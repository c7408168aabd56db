"""Argument sets built from the OpenAPI spec's own examples, one per tool (test helper)."""

from __future__ import annotations

import copy
from functools import cache
from typing import Any

from telnyx_numbers_mcp.catalog import ToolSpec
from telnyx_numbers_mcp.specgen.cut import load_vendored
from telnyx_numbers_mcp.specgen.schema import Resolver, merge_all_of

UUID = "12ade33a-21c0-473b-b055-b3c836e1c292"


@cache
def spec() -> dict[str, Any]:
    """The vendored OpenAPI cut (openapi/telnyx-numbers.json): the in-scope operations and their components."""
    return load_vendored().spec


def example_of(schema: dict[str, Any], resolver: Resolver) -> Any:
    """An example value for a schema: its own example, else one built from its properties."""
    schema = merge_all_of(resolver.inline(schema))
    if "example" in schema:
        return copy.deepcopy(schema["example"])
    if "examples" in schema and isinstance(schema["examples"], list) and schema["examples"]:
        return copy.deepcopy(schema["examples"][0])
    if "enum" in schema:
        return schema["enum"][0]
    if "default" in schema:
        return schema["default"]
    kind = schema.get("type")
    if kind == "object" or "properties" in schema:
        out = {}
        for key, sub in schema.get("properties", {}).items():
            sub_m = merge_all_of(resolver.inline(sub))
            if sub_m.get("readOnly"):
                continue
            value = example_of(sub, resolver)
            if value is not None:
                out[key] = value
        return out or None
    if kind == "array":
        item = example_of(schema.get("items", {}), resolver)
        return [item] if item is not None else None
    if kind == "integer":
        return 1
    if kind == "boolean":
        return True
    if kind == "string":
        return UUID if schema.get("format") == "uuid" else "example"
    return None


def _strip_read_only(value: Any, schema: dict[str, Any], resolver: Resolver) -> Any:
    schema = merge_all_of(resolver.inline(schema))
    if isinstance(value, dict):
        props = schema.get("properties", {})
        return {
            k: _strip_read_only(v, props.get(k, {}), resolver)
            for k, v in value.items()
            if k in props and not merge_all_of(resolver.inline(props[k])).get("readOnly")
        }
    if isinstance(value, list) and isinstance(schema.get("items"), dict):
        return [_strip_read_only(v, schema["items"], resolver) for v in value]
    return value


def example_args(tool: ToolSpec) -> dict[str, Any]:
    """Arguments (SDK names) for `tool` from the spec's examples; body examples are used whole."""
    data = spec()
    resolver = Resolver(data)
    item = data["paths"][tool.path]
    op = item[tool.method.lower()]
    by_wire = {(w.location, w.name): arg for arg, w in tool.args.items()}
    args: dict[str, Any] = {}
    for param in [resolver.deref(p) for p in item.get("parameters", []) + op.get("parameters", [])]:
        if param["in"] == "path":
            value = param.get("example") or example_of(param.get("schema", {}), resolver)
            args[by_wire[("path", param["name"])]] = UUID if value in (None, "example") else value
        elif param["in"] == "query":
            value = param.get("example") or example_of(param.get("schema", {}), resolver)
            if value is None:
                continue
            if isinstance(value, dict) and ("query", param["name"]) not in by_wire:  # flattened (page)
                for key, sub in value.items():
                    args[by_wire[("query", f"{param['name']}[{key}]")]] = sub
            else:
                arg = by_wire[("query", param["name"])]
                wire = tool.args[arg]
                inverse = {v: k for k, v in wire.renames.items()}
                args[arg] = _rename(value, inverse)
    if "requestBody" in op:
        body_schema = resolver.deref(op["requestBody"])["content"]["application/json"]["schema"]
        value = _strip_read_only(example_of(body_schema, resolver), body_schema, resolver) or {}
        for key, sub in value.items():
            args[by_wire[("body", key)]] = sub
    return args


def _rename(value: Any, inverse: dict[str, str], prefix: str = "") -> Any:
    """Wire keys -> SDK argument keys, using a tool's recorded renames (inverted)."""
    if not isinstance(value, dict):
        return value
    out = {}
    for key, sub in value.items():
        arg_key = next((p.rsplit(".", 1)[-1] for w, p in inverse.items() if w == key), key)
        out[arg_key] = _rename(sub, inverse, f"{prefix}{arg_key}.")
    return out
