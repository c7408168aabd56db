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

SANDBOX_NOTE = "[SANDBOX: simulated Telnyx API; nothing is bought or changed for real]"
META_SANDBOX = "telnyx-numbers-mcp/sandbox"


def compact(data: Any) -> str:
    return json.dumps(data, separators=(",", ":"), ensure_ascii=False)


def _content(text: str, sandbox: bool) -> list[types.ContentBlock]:
    blocks: list[types.ContentBlock] = [types.TextContent(type="text", text=text)]
    if sandbox:
        blocks.insert(0, types.TextContent(type="text", text=SANDBOX_NOTE))
    return blocks


def success(
    tool: ToolSpec, answer: ApiAnswer, *, sandbox: bool, args: Mapping[str, Any] | None = None, rendered: bool = True
) -> types.CallToolResult:
    """structuredContent is Telnyx's JSON answer; the text block is a compact rendering of it for the model
    (`rendered`), or Telnyx's JSON itself (--result-format json)."""
    meta = {META_SANDBOX: True} if sandbox else None
    if isinstance(answer.json, dict) and rendered:
        shown = render(tool.name, args or {}, answer.json)
        return types.CallToolResult(content=_content(shown, sandbox), structured_content=answer.json, _meta=meta)
    if isinstance(answer.json, dict):
        # Telnyx already answers compact JSON: mirror its text rather than serialising it again
        text = answer.text if answer.text else compact(answer.json)
        return types.CallToolResult(content=_content(text, sandbox), structured_content=answer.json, _meta=meta)
    if answer.json is not None:  # JSON that is not an object: wrap it so clients can still validate
        data = {"data": answer.json}
        return types.CallToolResult(content=_content(compact(data), sandbox), structured_content=data, _meta=meta)
    if tool.output_schema is not None:
        data = {"data": None, "http_status": answer.status}
        return types.CallToolResult(content=_content(compact(data), sandbox), structured_content=data, _meta=meta)
    text = answer.text if answer.text else f"(empty answer, HTTP {answer.status})"
    return types.CallToolResult(content=_content(text, sandbox), _meta=meta)


def structured(data: dict[str, Any], text: str, *, sandbox: bool) -> types.CallToolResult:
    """A result the server makes itself (a quote awaiting confirmation)."""
    meta = {META_SANDBOX: True} if sandbox else None
    return types.CallToolResult(content=_content(text, sandbox), structured_content=data, _meta=meta)


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


def error(exc: ToolCallError | str, *, sandbox: bool = False) -> types.CallToolResult:
    return types.CallToolResult(content=_content(str(exc), sandbox), is_error=True)
