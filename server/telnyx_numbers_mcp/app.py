"""Wires the MCP server: the low-level mcp Server lists the offered tools and routes every call through
validation (schema and E.164) and the call pipeline; the one place errors become MCP results."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import anyio
import httpx
import mcp_types as types
from mcp import MCPError
from mcp.server import Server, ServerRequestContext
from mcp.server.request_state import RequestStateBoundary, RequestStateSecurity

from telnyx_numbers_mcp import __version__
from telnyx_numbers_mcp.calls import results
from telnyx_numbers_mcp.calls.pipeline import confirm_call, execute, guarded_call
from telnyx_numbers_mcp.calls.validate import validate
from telnyx_numbers_mcp.config import Settings
from telnyx_numbers_mcp.errors import MissingApiKey, ToolCallError
from telnyx_numbers_mcp.runtime import CONFIRM_TOOL, Runtime, build_runtime, make_client

log = logging.getLogger("telnyx_numbers_mcp")
SERVER_NAME = "telnyx-numbers-mcp"

INSTRUCTIONS = (
    "Telnyx phone numbers: search (available_phone_numbers_list), reserve (number_reservations_create), "
    "buy (number_orders_create) and follow orders (number_orders_retrieve, sub_number_orders_*). "
    "Phone numbers are E.164 (+13125550001). Purchases and destructive calls run only after a human "
    "approves: the user is asked directly, or the tool returns a quote that a human must approve "
    "before you call confirm_action. Never approve on the user's behalf."
)
SANDBOX_INSTRUCTIONS = (
    "SANDBOX MODE: every call goes to a built-in simulator of the Telnyx API. Nothing is bought, "
    "reserved or changed for real, and no account is needed. "
)


def build_server(
    settings: Settings, *, transport: httpx.AsyncBaseTransport | None = None, runtime: Runtime | None = None
) -> Server[Any]:
    rt = runtime if runtime is not None else build_runtime(settings, transport=transport)

    @asynccontextmanager
    async def lifespan(_: Server[Any]) -> AsyncIterator[Runtime]:
        # one pooled client shared by all sessions (HTTP runs a lifespan per session)
        if rt.client is None:
            rt.client = make_client(rt)
        rt.sessions += 1
        try:
            yield rt
        finally:
            rt.sessions -= 1
            if rt.sessions == 0 and rt.client is not None:
                client, rt.client = rt.client, None
                with anyio.CancelScope(shield=True):
                    await client.aclose()

    async def list_tools(
        ctx: ServerRequestContext[Any], params: types.PaginatedRequestParams | None
    ) -> types.ListToolsResult:
        return types.ListToolsResult(tools=rt.visible(ctx))

    async def call_tool(
        ctx: ServerRequestContext[Any], params: types.CallToolRequestParams
    ) -> types.CallToolResult | types.InputRequiredResult:
        name, args = params.name, dict(params.arguments or {})
        tool = rt.tools.get(name)
        if tool is None and not (name == CONFIRM_TOOL and any(t.name == CONFIRM_TOOL for t in rt.visible(ctx))):
            raise MCPError(code=types.INVALID_PARAMS, message=f"Unknown tool: {name}")
        try:
            if tool is None:
                return await confirm_call(rt, args)
            validate(tool, args)  # schema and E.164, every problem at once; nothing is sent on failure
            if not rt.settings.api_key and not rt.sandbox:
                raise MissingApiKey()  # before cost look-ups and quotes, which would send or promise a call
            if tool.kind == "purchase" and not args.get("customer_reference"):
                # lets an agent find the order after a timeout instead of buying again
                args["customer_reference"] = rt.reference_for(tool.name, args)
            if tool.guarded:
                return await guarded_call(rt, ctx, params, tool, args)
            return await execute(rt, tool, args, None)
        except ToolCallError as exc:
            text, key = str(exc), settings.api_key.get_secret_value() if settings.api_key else ""
            return results.error(text.replace(key, "***") if key else text, sandbox=rt.sandbox)  # an echoing proxy
        except Exception:  # the one catch-all: never crash, never leak internals or the key
            log.exception("internal error in %s", name)
            return results.error(f"Internal error in {name}; nothing more is known. See the server log (stderr).")

    server: Server[Any] = Server(
        SERVER_NAME,
        version=__version__,
        instructions=(SANDBOX_INSTRUCTIONS if settings.sandbox else "") + INSTRUCTIONS,
        lifespan=lifespan,
        on_list_tools=list_tools,
        on_call_tool=call_tool,
    )
    # from --state-secret (else random per process): a 2026 approval round trip may come back to another replica
    security = RequestStateSecurity(keys=[rt.keys.request_state])
    server.middleware.append(RequestStateBoundary(security, default_audience=SERVER_NAME))
    if settings.purchase_policy == "allow":
        log.warning("--purchase-policy allow: purchases and destructive calls run WITHOUT a human's approval")
    return server
