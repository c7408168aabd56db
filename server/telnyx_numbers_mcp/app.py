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
from telnyx_numbers_mcp.approvals.gate import CHECK_TOOL, Gate
from telnyx_numbers_mcp.calls import results
from telnyx_numbers_mcp.calls.pipeline import call, execute
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
    "approves: the user is asked directly, or the call returns status awaiting_approval with an approval_id "
    "while the human decides on their own review page; then call check_approval. Never approve on the "
    "user's behalf."
)
SANDBOX_INSTRUCTIONS = (
    "SANDBOX MODE: every call goes to a built-in simulator of the Telnyx API. Nothing is bought, "
    "reserved or changed for real, and no account is needed. "
)


def build_server(
    settings: Settings, *, transport: httpx.AsyncBaseTransport | None = None, runtime: Runtime | None = None
) -> Server[Any]:
    return build_app(settings, transport=transport, runtime=runtime)[0]


def build_app(
    settings: Settings, *, transport: httpx.AsyncBaseTransport | None = None, runtime: Runtime | None = None
) -> tuple[Server[Any], Runtime]:
    """The MCP server and its runtime (the HTTP transport mounts the review page from `runtime.gate`)."""
    rt = runtime if runtime is not None else build_runtime(settings, transport=transport)
    rt.attach(Gate(rt, send=lambda tool, args, decision: execute(rt, tool, args, decision)))

    @asynccontextmanager
    async def lifespan(_: Server[Any]) -> AsyncIterator[Runtime]:
        # one pooled client shared by all sessions (HTTP runs a lifespan per session)
        if rt.client is None:
            rt.client = make_client(rt)
        rt.sessions += 1
        async with anyio.create_task_group() as tg:
            owner = rt.task_group is None
            if owner:
                rt.task_group = tg  # the stdio review listener lives as long as this session
            try:
                yield rt
            finally:
                if owner:
                    rt.task_group = None
                    if rt.gate.review is not None:
                        rt.gate.review.stop()
                tg.cancel_scope.cancel()
                rt.sessions -= 1
                if rt.sessions == 0 and rt.client is not None:
                    client, rt.client = rt.client, None
                    with anyio.CancelScope(shield=True):
                        await client.aclose()
                if rt.sessions == 0:
                    rt.gate.close()

    async def list_tools(
        ctx: ServerRequestContext[Any], params: types.PaginatedRequestParams | None
    ) -> types.ListToolsResult:
        return types.ListToolsResult(tools=rt.visible(ctx))

    async def call_tool(
        ctx: ServerRequestContext[Any], params: types.CallToolRequestParams
    ) -> types.CallToolResult | types.InputRequiredResult:
        name, args = params.name, dict(params.arguments or {})
        tool = rt.tools.get(name)
        if tool is None and not rt.server_tool(name, ctx):
            raise MCPError(code=types.INVALID_PARAMS, message=f"Unknown tool: {name}")
        try:
            if name == CONFIRM_TOOL:
                return await rt.gate.confirm(args)
            if name == CHECK_TOOL or tool is None:
                return await rt.gate.check(ctx, args)
            validate(tool, args)  # schema and E.164, every problem at once; nothing is sent on failure
            if not rt.settings.api_key and not rt.sandbox:
                raise MissingApiKey()  # before cost look-ups and quotes, which would send or promise a call
            if tool.kind == "purchase" and not args.get("customer_reference"):
                # lets an agent find the order after a timeout instead of buying again
                args["customer_reference"] = rt.reference_for(tool.name, args)
            return await call(rt, ctx, params, tool, args)
        except ToolCallError as exc:
            return results.error(rt.redact(str(exc)), sandbox=rt.sandbox)  # an echoing proxy
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
    return server, rt
