"""Discovery mode (`--tool-mode discover`): three small tools stand in for the whole catalog so a model
pays for a few hundred tokens up front and reads a schema only when it needs one. The third tool hands
the call back to app.py, which runs it exactly like the direct tool (validation, E.164, approval, audit)."""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from typing import Any

import mcp_types as types

from telnyx_numbers_mcp.catalog import ToolSpec
from telnyx_numbers_mcp.errors import ECHO_LIMIT, ArgumentError, ArgumentProblem, shown

FIND, DESCRIBE, CALL = "find_tools", "describe_tool", "call_tool"
NAMES = (FIND, DESCRIBE, CALL)
_WORD = re.compile(r"[a-z0-9]+")
SUMMARY_LIMIT = 110


def one_line(tool: ToolSpec) -> str:
    """The first sentence of a tool's description (its title when that is shorter or missing)."""
    first = re.match(r"(.+?[.!?])(\s|$)", tool.description)
    text = first.group(1) if first else tool.description
    if not text or len(text) > SUMMARY_LIMIT:
        text = tool.title
    return text.rstrip(".")


def needs_approval(tool: ToolSpec, policy: str, lookup_budget: int) -> bool | str:
    """True for purchases and destructive calls; for billed lookups and billed settings a phrase, since only
    some of their calls ask a human (a bare false would tell the model they never need approval)."""
    if policy == "allow":
        return False
    if tool.billed:
        return f"beyond the lookup budget ({lookup_budget} per UTC day)" if lookup_budget else True
    if tool.billed_settings is not None and not tool.guarded:
        return f"when it turns on {', '.join(tool.billed_settings.names)}"
    return tool.guarded


def _approval_note(value: bool | str) -> str:
    if value is True:
        return " (needs approval)"
    return f" (needs approval {value})" if value else ""


def _hints(tools: list[ToolSpec]) -> types.ToolAnnotations:
    """call_tool can do whatever the tools it reaches can do: read-only when they all are."""
    read_only = all(t.read_only for t in tools)
    return types.ToolAnnotations(
        read_only_hint=read_only,
        destructive_hint=any(t.annotations.get("destructiveHint") for t in tools),
        idempotent_hint=read_only,
        open_world_hint=True,
    )


def tools(offered: list[ToolSpec]) -> list[types.Tool]:
    """The three discovery tools for one offered set (built once per set by the caller)."""
    sets = sorted({t.toolset for t in offered})
    find_props: dict[str, Any] = {
        "query": {"type": "string", "description": "Words to match in tool names and descriptions."},
        "toolset": {"type": "string", "enum": sets},
    }
    read = types.ToolAnnotations(
        read_only_hint=True, destructive_hint=False, idempotent_hint=True, open_world_hint=False
    )
    return [
        types.Tool(
            name=FIND,
            title="Find Telnyx number tools",
            description=(
                f"Lists the {len(offered)} Telnyx phone-number tools (names and one line each) matching the words "
                f"or toolset; no arguments lists all. Then describe_tool, then call_tool."
            ),
            input_schema={"type": "object", "properties": find_props, "additionalProperties": False},
            annotations=read,
        ),
        types.Tool(
            name=DESCRIBE,
            title="Describe a Telnyx number tool",
            description="The tool's full description and input schema, and whether a human must approve it.",
            input_schema={
                "type": "object",
                "properties": {"name": {"type": "string"}},
                "required": ["name"],
                "additionalProperties": False,
            },
            annotations=read,
        ),
        types.Tool(
            name=CALL,
            title="Call a Telnyx number tool",
            description=(
                "Calls a tool by name with arguments matching its input schema. Purchases and destructive "
                "calls still need a human's approval."
            ),
            input_schema={
                "type": "object",
                "properties": {"name": {"type": "string"}, "arguments": {"type": "object"}},
                "required": ["name"],
                "additionalProperties": False,
            },
            annotations=_hints(offered),
        ),
    ]


def _problem(field: str, message: str, tool: str) -> ArgumentError:
    return ArgumentError(tool, [ArgumentProblem(field, message)])


def _string(args: Mapping[str, Any], key: str, tool: str, *, required: bool) -> str | None:
    value = args.get(key)
    if value is None and not required:
        return None
    if not isinstance(value, str):
        shown = "missing" if value is None else f"is {type(value).__name__} {value!r:.60}"
        raise _problem(key, f"{shown}; expected a string", tool)
    return value


def _unknown_args(args: Mapping[str, Any], allowed: Iterable[str], tool: str) -> None:
    extra = sorted(set(args) - set(allowed))
    if extra:
        allowed_text = ", ".join(sorted(allowed))
        raise ArgumentError(
            tool, [ArgumentProblem(k[:ECHO_LIMIT], f"unknown argument; allowed: {allowed_text}") for k in extra]
        )


def lookup(offered: Mapping[str, ToolSpec], args: Mapping[str, Any], caller: str) -> ToolSpec:
    """The offered tool named by `name`, or an ArgumentError naming close matches."""
    name = _string(args, "name", caller, required=True)
    assert name is not None
    tool = offered.get(name)
    if tool is None:
        import difflib  # only for a misspelt name; ~10 ms at start-up otherwise

        close = difflib.get_close_matches(name, list(offered), n=3, cutoff=0.5)
        hint = f"did you mean {', '.join(close)}?" if close else f"use {FIND} to list the tools offered"
        raise _problem("name", f"no tool {shown(name)} is offered here; {hint}", caller)
    return tool


def find(
    offered: list[ToolSpec], args: Mapping[str, Any], *, policy: str, lookup_budget: int
) -> tuple[dict[str, Any], str]:
    """Offered tools that match every word of `query` (any order), restricted to `toolset`;
    results as (structured, text). Refuses bad arguments before matching."""
    _unknown_args(args, ("query", "toolset"), FIND)
    query = _string(args, "query", FIND, required=False) or ""
    toolset = _string(args, "toolset", FIND, required=False)
    known = sorted({t.toolset for t in offered})
    if toolset is not None and toolset not in known:
        raise _problem("toolset", f"is {shown(toolset)}; expected one of {', '.join(known)}", FIND)
    words = _WORD.findall(query.lower())
    hits = []
    for tool in offered:
        if toolset is not None and tool.toolset != toolset:
            continue
        haystack = " ".join((tool.name.replace("_", " "), tool.title, tool.description, tool.toolset)).lower()
        found = set(_WORD.findall(haystack))
        # a word matches a whole word or a word's start: "reserv" finds reservations
        if all(w in found or any(f.startswith(w) for f in found) for w in words):
            hits.append(tool)
    rows = [
        {
            "name": t.name,
            "summary": one_line(t),
            "toolset": t.toolset,
            "needs_approval": needs_approval(t, policy, lookup_budget),
        }
        for t in hits
    ]
    if rows:
        lines = [f"{r['name']}: {r['summary']}{_approval_note(r['needs_approval'])}" for r in rows]
        text = "\n".join(lines) + f"\n\nNext: {DESCRIBE} for a tool's arguments, then {CALL}."
    else:
        text = (
            f"No offered tool matches {shown(query)}"
            + (f" in toolset {shown(toolset)}" if toolset else "")
            + f". Toolsets offered: {', '.join(known)}. Try fewer words, or no arguments to list all."
        )
    return {"tools": rows}, text


def describe(
    offered: Mapping[str, ToolSpec], args: Mapping[str, Any], *, policy: str, lookup_budget: int
) -> dict[str, Any]:
    _unknown_args(args, ("name",), DESCRIBE)
    tool = lookup(offered, args, DESCRIBE)
    return {
        "name": tool.name,
        "description": tool.description,
        "toolset": tool.toolset,
        "kind": tool.kind,
        "needs_approval": needs_approval(tool, policy, lookup_budget),
        "input_schema": tool.input_schema,
    }


def call_target(offered: Mapping[str, ToolSpec], args: Mapping[str, Any]) -> tuple[ToolSpec, dict[str, Any]]:
    """The tool and arguments a call_tool call names; bad names or non-object arguments are refused."""
    _unknown_args(args, ("name", "arguments"), CALL)
    tool = lookup(offered, args, CALL)
    inner = args.get("arguments", {})
    if not isinstance(inner, dict):
        raise _problem("arguments", f"is {type(inner).__name__} {inner!r:.60}; expected an object", CALL)
    return tool, dict(inner)
