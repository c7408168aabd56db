"""Wires the MCP server: the low-level mcp Server lists the offered tools and routes every call through
validation (schema and E.164) and the call pipeline; the one place errors become MCP results."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import TYPE_CHECKING, Any

import anyio
import httpx
import mcp_types as types
from mcp import MCPError
from mcp.server import Server, ServerRequestContext
from mcp.server.request_state import RequestStateBoundary, RequestStateSecurity

from telnyx_numbers_mcp import __version__, discovery
from telnyx_numbers_mcp.approvals.channels import can_elicit
from telnyx_numbers_mcp.approvals.tools import CHECK_TOOL
from telnyx_numbers_mcp.calls import results
from telnyx_numbers_mcp.config import Settings
from telnyx_numbers_mcp.errors import MissingApiKey, ToolCallError, shown
from telnyx_numbers_mcp.guards.redaction import bounded, redact_logs
from telnyx_numbers_mcp.listing import ToolListCache
from telnyx_numbers_mcp.runtime import CONFIRM_TOOL, Runtime, build_runtime, make_client

if TYPE_CHECKING:
    from telnyx_numbers_mcp.catalog import ToolSpec

log = logging.getLogger("telnyx_numbers_mcp")
SERVER_NAME = "telnyx-numbers-mcp"
ERROR_LIMIT = 8000  # characters of one error result

INSTRUCTIONS = (
    "Telnyx phone numbers. Workflow: 1) search with available_phone_numbers_list (area code = "
    "national_destination_code) or available_phone_number_blocks_list; 2) optionally hold numbers with "
    "number_reservations_create: a reservation lasts 30 minutes and number_reservations_actions_extend adds "
    "30; 3) order with "
    "number_orders_create (number_block_orders_create for blocks, inexplicit_number_orders_create when any "
    "number will do); 4) a human approves every purchase and destructive call outside the chat: the user may "
    "be asked directly, and if a call answers that it awaits approval, do what that answer says (check_approval, "
    "where offered, tells you when the human has decided); never approve on the user's behalf; 5) follow the "
    "order: it starts pending; number_orders_retrieve and sub_number_orders_retrieve show its status and any "
    "regulatory requirements. Phone numbers are E.164 (+13125550001). "
    "'Hint:' lines say when to check slow work again. Toolsets: search = what is available and its "
    "price; coverage = what a country or area offers; orders, blocks, advanced = buying and following orders; "
    "reservations = holding numbers; csr = a carrier's record before porting a number in; comments = messages "
    "to Telnyx about an order; reports = CSV of sub-orders."
)
LIVE_INSTRUCTIONS = "LIVE: calls reach the real Telnyx account; purchases are charged. "
DISCOVER_INSTRUCTIONS = " The tools named here are reached through find_tools, describe_tool and call_tool."
SANDBOX_INSTRUCTIONS = (
    "SANDBOX MODE: a built-in simulator of the Telnyx API answers every call; nothing is bought, reserved "
    "or changed for real, and no account is needed. "
)


def instructions(settings: Settings) -> str:
    """The server's guide for agents (the `instructions` of the server info), under 1,500 characters:
    clients that load tools on demand find the server through it."""
    mode = SANDBOX_INSTRUCTIONS if settings.sandbox else LIVE_INSTRUCTIONS
    return mode + INSTRUCTIONS + (DISCOVER_INSTRUCTIONS if settings.tool_mode == "discover" else "")


def build_server(
    settings: Settings, *, transport: httpx.AsyncBaseTransport | None = None, runtime: Runtime | None = None
) -> Server[Any]:
    return build_app(settings, transport=transport, runtime=runtime)[0]


def build_app(
    settings: Settings, *, transport: httpx.AsyncBaseTransport | None = None, runtime: Runtime | None = None
) -> tuple[Server[Any], Runtime]:
    """The MCP server and its runtime (the HTTP transport mounts the review page from `runtime.gate`)."""
    rt = runtime if runtime is not None else build_runtime(settings, transport=transport)
    redact_logs(rt.redactor.secrets)

    @asynccontextmanager
    async def lifespan(_: Server[Any]) -> AsyncIterator[Runtime]:
        # one pooled client shared by all sessions (HTTP runs a lifespan per session)
        if rt.client is None:
            rt.client = make_client(rt)
        rt.sessions += 1
        async with anyio.create_task_group() as tg:
            owner = rt.task_group is None
            if owner:
                rt.task_group = tg  # the stdio review page listener lives as long as this session
            try:
                yield rt
            finally:
                if owner:
                    rt.task_group = None
                tg.cancel_scope.cancel()
                rt.sessions -= 1
                if rt.sessions == 0:
                    rt.close_gate()
                    if rt.client is not None:
                        client, rt.client = rt.client, None
                        with anyio.CancelScope(shield=True):
                            await client.aclose()

    async def list_tools(
        ctx: ServerRequestContext[Any], params: types.PaginatedRequestParams | None
    ) -> types.ListToolsResult:
        return types.ListToolsResult(tools=rt.visible(ctx))

    async def run(
        ctx: ServerRequestContext[Any], params: types.CallToolRequestParams, tool: ToolSpec, args: dict[str, Any]
    ) -> types.CallToolResult | types.InputRequiredResult:
        """One catalog tool's path, the same whether called directly or through call_tool."""
        # imported on the first call (then a dict look-up): start-up to tools/list stays near the floor
        from telnyx_numbers_mcp.calls.pipeline import call
        from telnyx_numbers_mcp.calls.validate import validate

        if rt.telemetry is not None:
            rt.telemetry.arguments(args)  # only with --otel-include-arguments
        validate(tool, args)  # schema and E.164, every problem at once; nothing is sent on failure
        if not rt.settings.api_key and not rt.sandbox:
            raise MissingApiKey()  # before cost look-ups and quotes, which would send or promise a call
        if tool.kind == "purchase" and not args.get("customer_reference"):
            # lets an agent find the order after a timeout instead of buying again
            args["customer_reference"] = rt.reference_for(tool.name, args)
        return await call(rt, ctx, params, tool, args)  # guarded calls ask the approvals gate once

    async def discover(
        ctx: ServerRequestContext[Any], params: types.CallToolRequestParams, name: str, args: dict[str, Any]
    ) -> types.CallToolResult | types.InputRequiredResult:

        policy, budget = rt.settings.purchase_policy, rt.settings.lookup_budget
        if name == discovery.FIND:
            data, text = discovery.find(rt.offered(ctx), args, policy=policy, lookup_budget=budget)
            return results.structured(data, text, sandbox=rt.sandbox)
        # as in `all` mode, a tool `elicit-only` hides can still be named, and says why it cannot run
        by_name = rt.tools
        if name == discovery.DESCRIBE:
            data = discovery.describe(by_name, args, policy=policy, lookup_budget=budget)
            return results.structured(data, results.compact(data), sandbox=rt.sandbox)
        tool, inner = discovery.call_target(by_name, args)
        return await run(ctx, params, tool, inner)

    async def call_tool(
        ctx: ServerRequestContext[Any], params: types.CallToolRequestParams
    ) -> types.CallToolResult | types.InputRequiredResult:
        # results (and the renderers, prices and phonenumbers behind it) load on the first call: start-up
        # to tools/list stays near the floor; later calls find the module already imported

        name, args = params.name, dict(params.arguments or {})
        if name not in rt.callable_names(ctx):
            raise MCPError(code=types.INVALID_PARAMS, message=f"Unknown tool: {shown(name)}")
        try:
            if name == CONFIRM_TOOL:
                return await rt.gate.confirm(args)
            if name == CHECK_TOOL:
                return await rt.gate.check(ctx, args)
            if rt.discover:
                return await discover(ctx, params, name, args)
            return await run(ctx, params, rt.tools[name], args)
        except ToolCallError as exc:
            # the key masked (an echoing proxy), then the whole text bounded: the model pays for every character
            return results.error(bounded(rt.redactor.text(str(exc)), ERROR_LIMIT), sandbox=rt.sandbox)
        except Exception:  # the one catch-all: never crash, never leak internals or the key
            log.exception("internal error in %s", shown(name))
            return results.error(
                f"Internal error in {shown(name)}; nothing more is known. See the server log (stderr)."
            )

    server: Server[Any] = Server(
        SERVER_NAME,
        version=__version__,
        instructions=instructions(settings),
        lifespan=lifespan,
        on_list_tools=list_tools,
    )

    async def call_tool_wire(
        ctx: ServerRequestContext[Any], params: types.CallToolRequestParams
    ) -> dict[str, Any] | types.CallToolResult | types.InputRequiredResult:
        return results.wire(await call_tool(ctx, params))

    # registered as a plain request handler, which may answer in wire form (see results.wire)
    server.add_request_handler("tools/call", types.CallToolRequestParams, call_tool_wire)
    if rt.telemetry is not None:  # outermost: the duration covers every other middleware too
        server.middleware.insert(0, rt.telemetry.middleware())
    server.middleware.append(ToolListCache(can_elicit))  # the answer depends on it under elicit-only
    # from --state-secret (else random per process): a 2026 approval round trip may come back to another replica
    security = RequestStateSecurity(keys=[rt.keys.request_state])
    server.middleware.append(RequestStateBoundary(security, default_audience=SERVER_NAME))
    if settings.purchase_policy == "allow":
        log.warning("--purchase-policy allow: purchases and destructive calls run WITHOUT a human's approval")
    return server, rt
