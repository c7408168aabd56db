"""Wires the MCP server: the low-level mcp Server lists the offered tools and routes every call through
validation (schema and E.164) and the call pipeline; the one place errors become MCP results."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager
from typing import TYPE_CHECKING, Any

import anyio
import httpx
import mcp_types as types
from mcp import MCPError
from mcp.server import Server, ServerRequestContext
from mcp.server.context import CallNext, HandlerResult
from mcp.server.request_state import RequestStateBoundary, RequestStateSecurity

from telnyx_numbers_mcp import __version__, discovery, guide, prompts
from telnyx_numbers_mcp.approvals.channels import can_elicit
from telnyx_numbers_mcp.approvals.tools import CHECK_TOOL
from telnyx_numbers_mcp.auth.identity import current_caller
from telnyx_numbers_mcp.calls import results
from telnyx_numbers_mcp.config import Settings
from telnyx_numbers_mcp.errors import MissingApiKey, ToolCallError, shown
from telnyx_numbers_mcp.guards.redaction import bounded, redact_logs
from telnyx_numbers_mcp.listing import ToolListCache
from telnyx_numbers_mcp.logs import limit_repeats
from telnyx_numbers_mcp.runtime import CONFIRM_TOOL, Runtime, build_runtime, make_client
from telnyx_numbers_mcp.spend.tools import MANDATE_TOOL, SPENDING_TOOL

if TYPE_CHECKING:
    from telnyx_numbers_mcp.catalog import ToolSpec

log = logging.getLogger("telnyx_numbers_mcp")
SERVER_NAME = "telnyx-numbers-mcp"
ERROR_LIMIT = 8000  # characters of one error result


def instructions(rt: Runtime, *, elicit: bool = False) -> str:
    """The server's guide for agents (guide.py), naming only what a session is offered: under `elicit-only`
    a client that cannot ask the user is offered no guarded tools, so it reads a guide without them."""
    return guide.instructions(rt.offer_for(elicit=elicit), sandbox=rt.sandbox)


class SessionInstructions:
    """Server middleware: under `elicit-only` the instructions depend on whether the client can elicit, which
    is known only from its `initialize` (or, on 2026-07-28, the request's own capabilities)."""

    def __init__(self, rt: Runtime) -> None:
        self.rt = rt

    async def __call__(self, ctx: ServerRequestContext[Any, Any], call_next: CallNext) -> HandlerResult:
        result = await call_next(ctx)
        if ctx.method not in ("initialize", "server/discover") or not isinstance(result, dict):
            return result
        if ctx.method == "initialize":
            params = ctx.params if isinstance(ctx.params, Mapping) else {}
            caps = params.get("capabilities")
            elicit = isinstance(caps, Mapping) and caps.get("elicitation") is not None
        else:
            elicit = can_elicit(ctx)
        if elicit and "instructions" in result:
            return {**result, "instructions": instructions(self.rt, elicit=True)}
        return result


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
    limit_repeats()  # a flood of one log line cannot fill the disk through stderr

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
            data, text = discovery.find(
                rt.offered(ctx), args, policy=policy, lookup_budget=budget, ranker=rt.ranker, offer=rt.offer(ctx)
            )
            return results.structured(data, text, sandbox=rt.sandbox)
        # as in `all` mode, a tool `elicit-only` hides can still be named, and says why it cannot run
        by_name = rt.tools
        if name == discovery.DESCRIBE:
            data = discovery.describe(by_name, args, policy=policy, lookup_budget=budget, offer=rt.offer(ctx))
            return results.structured(data, results.compact(data), sandbox=rt.sandbox)
        tool, inner = discovery.call_target(by_name, args, rt.offer(ctx))
        return await run(ctx, params, tool, inner)

    async def call_tool(
        ctx: ServerRequestContext[Any], params: types.CallToolRequestParams
    ) -> types.CallToolResult | types.InputRequiredResult:
        # results (and the renderers, prices and phonenumbers behind it) load on the first call: start-up
        # to tools/list stays near the floor; later calls find the module already imported

        name, args = params.name, dict(params.arguments or {})
        if name not in rt.callable_names(ctx):
            raise MCPError(code=types.INVALID_PARAMS, message=f"Unknown tool: {shown(name)}")
        caller = current_caller()  # hosted: HTTP already answered 403 for a missing scope; this holds anyway
        if caller is not None and (needed := rt.scope_for(name, args)) is not None and not caller.may(needed):
            return results.error(f"{shown(name)} needs the scope {needed}, which this access token does not "
                                 "grant; nothing was sent.")  # fmt: skip
        try:
            if name == CONFIRM_TOOL:
                return await rt.gate.confirm(args)
            if name == CHECK_TOOL:
                return await rt.gate.check(ctx, args)
            if name == MANDATE_TOOL:
                from telnyx_numbers_mcp.spend.asking import request_mandate

                return await request_mandate(rt, ctx, params, args)
            if name == SPENDING_TOOL:
                return rt.spend.report()
            if rt.discover:
                return await discover(ctx, params, name, args)
            return await run(ctx, params, rt.tools[name], args)
        except ToolCallError as exc:
            # the key masked (an echoing proxy), then the whole text bounded: the model pays for every character
            return results.error(bounded(rt.redactor.text(str(exc)), ERROR_LIMIT))
        except Exception:  # the one catch-all: never crash, never leak internals or the key
            log.exception("internal error in %s", shown(name))
            return results.error(
                f"Internal error in {shown(name)}; nothing more is known. See the server log (stderr)."
            )

    async def list_prompts(
        ctx: ServerRequestContext[Any], params: types.PaginatedRequestParams | None
    ) -> types.ListPromptsResult:
        return prompts.listing()

    async def get_prompt(ctx: ServerRequestContext[Any], params: types.GetPromptRequestParams) -> types.GetPromptResult:
        return prompts.get(params.name, params.arguments, rt.offer(ctx))

    completer = prompts.Completer(rt.spec("available_phone_numbers_list"), rt.spec("country_coverage_retrieve"))

    async def complete(ctx: ServerRequestContext[Any], params: types.CompleteRequestParams) -> types.CompleteResult:
        async def fetch(tool: ToolSpec) -> Any:
            from telnyx_numbers_mcp.request import build

            if rt.client is None or (not rt.settings.api_key and not rt.sandbox):
                return None
            return (await rt.client.send(build(tool, {}), tool=tool.name)).json

        return await completer.complete(params, fetch)

    server: Server[Any] = Server(
        SERVER_NAME,
        version=__version__,
        instructions=instructions(rt),
        lifespan=lifespan,
        on_list_tools=list_tools,
        on_list_prompts=list_prompts,
        on_get_prompt=get_prompt,
        on_completion=complete,
    )

    async def call_tool_wire(
        ctx: ServerRequestContext[Any], params: types.CallToolRequestParams
    ) -> dict[str, Any] | types.CallToolResult | types.InputRequiredResult:
        return results.wire(await call_tool(ctx, params))

    # registered as a plain request handler, which may answer in wire form (see results.wire)
    server.add_request_handler("tools/call", types.CallToolRequestParams, call_tool_wire)
    if rt.telemetry is not None:  # outermost: the duration covers every other middleware too
        server.middleware.insert(0, rt.telemetry.middleware())
    server.middleware.append(ToolListCache(rt.variant))  # elicit-only and a token's scopes change the answer
    if settings.purchase_policy == "elicit-only":
        server.middleware.append(SessionInstructions(rt))
    # from --state-secret (else random per process): a 2026 approval round trip may come back to another replica
    security = RequestStateSecurity(keys=[rt.keys.request_state])
    server.middleware.append(RequestStateBoundary(security, default_audience=SERVER_NAME))
    if settings.purchase_policy == "allow":
        log.warning("--purchase-policy allow: purchases and destructive calls run WITHOUT a human's approval")
    return server, rt
