"""Arguments -> the HTTP request the official SDK would send (pure: builds, never sends)."""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

from telnyx_numbers_mcp.catalog import ToolSpec
from telnyx_numbers_mcp.errors import ArgumentError, ArgumentProblem, shown

_PLACEHOLDER_RE = re.compile(r"\{([^}]+)\}")
_DOT_SEGMENT_RE = re.compile(r"^(?:\.|%2[eE]){1,2}$")


@dataclass(frozen=True)
class WireRequest:
    method: str
    path: str  # already percent-encoded, relative to the base URL
    query: list[tuple[str, str]]
    json: dict[str, Any] | None


def primitive(value: Any) -> str:
    if value is True:
        return "true"
    if value is False:
        return "false"
    if value is None:
        return ""
    return str(value)


def encode_query(key: str, value: Any, renames: Mapping[str, str], prefix: str = "") -> list[tuple[str, str]]:
    """deepObject with bracketed nesting and comma-joined arrays, as the SDK's Querystring does."""
    if isinstance(value, Mapping):
        pairs: list[tuple[str, str]] = []
        for sub_key, sub_value in value.items():
            arg_path = f"{prefix}{sub_key}"
            wire_key = renames.get(arg_path, sub_key)
            pairs += encode_query(f"{key}[{wire_key}]", sub_value, renames, arg_path + ".")
        return pairs
    if isinstance(value, list | tuple):
        return [(key, ",".join(primitive(v) for v in value if v is not None))]
    return [(key, primitive(value))]


def quote_segment(value: Any) -> str:
    return quote(primitive(value), safe="!$&'()*+,;=:@")


def build(tool: ToolSpec, args: Mapping[str, Any]) -> WireRequest:
    """Map validated arguments to method, path, query and JSON body."""
    path_values: dict[str, Any] = {}
    query: list[tuple[str, str]] = []
    body: dict[str, Any] | None = None
    if any(a.location == "body" for a in tool.args.values()):
        body = {}
    for arg, value in args.items():
        wire = tool.args.get(arg)
        if wire is None:
            raise ArgumentError(tool.name, [ArgumentProblem(arg, "is not an argument of this tool")])
        if wire.location == "path":
            path_values[wire.name] = value
        elif wire.location == "query":
            query += encode_query(wire.name, value, wire.renames)
        else:
            assert body is not None
            body[wire.name] = value

    def fill(match: re.Match[str]) -> str:
        name = match.group(1)
        if name not in path_values or path_values[name] in ("", None):
            raise ArgumentError(tool.name, [ArgumentProblem(name, "is required and must not be empty")])
        return quote_segment(path_values[name])

    path = _PLACEHOLDER_RE.sub(fill, tool.path)
    bad = [s for s in path.split("/") if _DOT_SEGMENT_RE.match(s)]
    if bad:
        raise ArgumentError(tool.name, [ArgumentProblem("path", f"segment {shown(bad[0])} is not allowed")])
    return WireRequest(method=tool.method, path=path, query=query, json=body)
