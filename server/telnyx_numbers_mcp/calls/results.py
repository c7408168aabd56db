"""The one place where answers and errors become MCP tool results."""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

import mcp_types as types

from telnyx_numbers_mcp.calls.http import ApiAnswer
from telnyx_numbers_mcp.calls.render import render
from telnyx_numbers_mcp.catalog import ToolSpec
from telnyx_numbers_mcp.errors import ToolCallError
from telnyx_numbers_mcp.offer import Offer

SANDBOX_TAG = "[sandbox: simulated]"  # on results that would have bought, reserved or changed something
META_SANDBOX = "telnyx-numbers-mcp/sandbox"


def compact(data: Any) -> str:
    return json.dumps(data, separators=(",", ":"), ensure_ascii=False)


def _content(text: str, tag: bool, notes: list[str] | None = None) -> list[types.ContentBlock]:
    blocks: list[types.ContentBlock] = [types.TextContent(type="text", text=text)]
    if notes:
        blocks.append(types.TextContent(type="text", text="\n".join(notes)))
    if tag:  # the instructions explain the sandbox once; here a short tag where it matters
        blocks.insert(0, types.TextContent(type="text", text=SANDBOX_TAG))
    return blocks


def _marked(data: dict[str, Any], sandbox: bool) -> dict[str, Any]:
    """Structured output says `sandbox: true` in sandbox mode (a copy: the answer itself is not changed)."""
    return {**data, "sandbox": True} if sandbox else data


def success(
    tool: ToolSpec,
    answer: ApiAnswer,
    *,
    sandbox: bool,
    offer: Offer,
    args: Mapping[str, Any] | None = None,
    rendered: bool = True,
    notes: list[str] | None = None,
    requirements: Mapping[str, str] | None = None,
) -> types.CallToolResult:
    """structuredContent is Telnyx's JSON answer (plus `sandbox: true` in sandbox mode); the text block is a
    compact rendering of it for the model (`rendered`), or Telnyx's JSON itself (--result-format json).
    `notes` are lines the server adds (a country's requirements); hints name only what `offer` offers."""
    meta = {META_SANDBOX: True} if sandbox else None
    tag = sandbox and not tool.read_only
    if isinstance(answer.json, dict) and rendered:
        shown = render(tool.name, args or {}, answer.json, offer=offer, notes=notes, requirements=requirements)
        return types.CallToolResult(
            content=_content(shown, tag), structured_content=_marked(answer.json, sandbox), _meta=meta
        )
    if isinstance(answer.json, dict):
        # Telnyx already answers compact JSON: mirror its text rather than serialising it again
        text = answer.text if answer.text else compact(answer.json)
        return types.CallToolResult(
            content=_content(text, tag, notes), structured_content=_marked(answer.json, sandbox), _meta=meta
        )
    if answer.json is not None:  # JSON that is not an object: wrap it so clients can still validate
        data = {"data": answer.json}
        return types.CallToolResult(
            content=_content(compact(data), tag, notes), structured_content=_marked(data, sandbox), _meta=meta
        )
    if tool.output_schema is not None:
        data = {"data": None, "http_status": answer.status}
        return types.CallToolResult(
            content=_content(compact(data), tag, notes), structured_content=_marked(data, sandbox), _meta=meta
        )
    text = answer.text if answer.text else f"(empty answer, HTTP {answer.status})"
    return types.CallToolResult(content=_content(text, tag, notes), _meta=meta)


def structured(data: dict[str, Any], text: str, *, sandbox: bool) -> types.CallToolResult:
    """A result the server makes itself (a quote, an approval awaiting the human, discovery): its text says
    what it is, so it carries no tag; its structured output says `sandbox: true` in sandbox mode."""
    meta = {META_SANDBOX: True} if sandbox else None
    return types.CallToolResult(content=_content(text, False), structured_content=_marked(data, sandbox), _meta=meta)


def wire(
    result: types.CallToolResult | types.InputRequiredResult,
) -> dict[str, Any] | types.CallToolResult | types.InputRequiredResult:
    """A tool result in its wire form with structuredContent put in as it is: it is parsed JSON (Telnyx's
    answer) or our own plain data, which pydantic would otherwise walk twice per call, here and again in
    the SDK's per-version check of every result (that check still validates and serializes it once)."""
    if not isinstance(result, types.CallToolResult) or result.structured_content is None:
        return result
    out = result.model_dump(by_alias=True, mode="json", exclude_none=True, exclude={"structured_content"})
    out["structuredContent"] = result.structured_content
    return out


def error(exc: ToolCallError | str) -> types.CallToolResult:
    """Errors change nothing, in the sandbox or not: no tag."""
    return types.CallToolResult(content=_content(str(exc), False), is_error=True)
