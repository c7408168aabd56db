"""Wires the server: the low-level mcp Server, tools from tool_specs/, and every call through
validate -> E.164 -> caps -> approval -> audit -> request -> send -> result."""

from __future__ import annotations

import hmac
import logging
import secrets
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any

import anyio
import httpx
import mcp_types as types
from mcp import MCPError
from mcp.server import Server, ServerRequestContext
from mcp.server.request_state import RequestStateBoundary, RequestStateSecurity

from telnyx_numbers_mcp import __version__
from telnyx_numbers_mcp.calls import results
from telnyx_numbers_mcp.calls.costs import BLOCK_SEARCH, NUMBER_SEARCH, Costs, lookup_costs
from telnyx_numbers_mcp.calls.http import TelnyxClient
from telnyx_numbers_mcp.calls.validate import validate
from telnyx_numbers_mcp.catalog import ToolSpec, load_catalog, select
from telnyx_numbers_mcp.config import Settings
from telnyx_numbers_mcp.errors import (
    ApprovalError,
    MissingApiKey,
    PolicyError,
    ToolCallError,
    TransportError,
)
from telnyx_numbers_mcp.guards import approval
from telnyx_numbers_mcp.guards.audit import AuditLog, default_audit_path
from telnyx_numbers_mcp.guards.confirmations import ConfirmationStore, canonical_json
from telnyx_numbers_mcp.guards.summary import count_numbers, describe_action, total_cost
from telnyx_numbers_mcp.request import build

log = logging.getLogger("telnyx_numbers_mcp")
SERVER_NAME = "telnyx-numbers-mcp"
CONFIRM_TOOL = "confirm_action"

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


def confirm_tool() -> types.Tool:
    return types.Tool(
        name=CONFIRM_TOOL,
        title="Confirm a quoted purchase or destructive action",
        description=(
            "Carries out a purchase or destructive action that a tool quoted, after a HUMAN approved the "
            "quote's summary. Pass the quote's confirmation_id and its exact summary text. Single-use; "
            "expires; never call it without the user's explicit approval."
        ),
        input_schema={
            "type": "object",
            "properties": {
                "confirmation_id": {"type": "string", "description": "From the quote."},
                "summary": {"type": "string", "description": "The quote's summary text, exactly."},
            },
            "required": ["confirmation_id", "summary"],
        },
        annotations=types.ToolAnnotations(
            read_only_hint=False, destructive_hint=True, idempotent_hint=False, open_world_hint=True
        ),
        _meta={"telnyx-numbers-mcp/kind": "confirmation"},
    )


@dataclass
class Runtime:
    """What lives for the server's life: settings, tools, the pooled HTTP client and the guards' state."""

    settings: Settings
    tools: dict[str, ToolSpec]
    audit: AuditLog
    confirmations: ConfirmationStore
    searches: dict[str, ToolSpec] = field(default_factory=dict)  # cost look-ups, even if search is not offered
    transport: httpx.AsyncBaseTransport | None = None
    client: TelnyxClient | None = None
    sessions: int = 0
    confirm: types.Tool = field(default_factory=confirm_tool)

    reference_key: bytes = field(default_factory=lambda: secrets.token_bytes(32))

    def reference_for(self, tool: str, args: dict[str, Any]) -> str:
        """A customer_reference that stays the same across the rounds of one approval (2026 flow)."""
        digest = hmac.new(self.reference_key, f"{tool}\n{canonical_json(args)}".encode(), "sha256")
        return f"mcp-{digest.hexdigest()[:12]}"

    @property
    def sandbox(self) -> bool:
        return self.settings.sandbox

    def visible(self, ctx: ServerRequestContext[Any] | None) -> list[types.Tool]:
        policy = self.settings.purchase_policy
        elicit = ctx is not None and approval.can_elicit(ctx)
        out = []
        guarded_visible = False
        for tool in self.tools.values():
            if tool.guarded and policy == "elicit-only" and not elicit:
                continue
            guarded_visible |= tool.guarded
            out.append(tool.mcp_tool)
        if guarded_visible and policy == "confirm":
            out.append(self.confirm)
        return out


def build_runtime(settings: Settings, *, transport: httpx.AsyncBaseTransport | None = None) -> Runtime:
    full = load_catalog()
    catalog = select(
        full,
        toolsets_wanted=settings.toolsets,
        tools_wanted=settings.tools,
        read_only=settings.read_only,
        hide_guarded=settings.purchase_policy == "deny",
    )
    api_key = settings.api_key.get_secret_value() if settings.api_key else None
    if transport is None and settings.sandbox:
        from telnyx_numbers_mcp.sandbox import Sandbox, create_app

        sandbox = Sandbox(state_path=str(settings.sandbox_state) if settings.sandbox_state else None)
        transport = httpx.ASGITransport(app=create_app(sandbox))
    return Runtime(
        settings=settings,
        tools={t.name: t for t in catalog},
        audit=AuditLog(settings.audit_log or default_audit_path(), secrets=[api_key] if api_key else []),
        confirmations=ConfirmationStore(ttl_seconds=settings.confirmation_ttl),
        searches={t.name: t for t in full if t.name in (NUMBER_SEARCH, BLOCK_SEARCH)},
        transport=transport,
    )


def _client(rt: Runtime) -> TelnyxClient:
    s = rt.settings
    api_key = s.api_key.get_secret_value() if s.api_key else ("sandbox" if s.sandbox else None)
    return TelnyxClient(
        base_url=s.effective_base_url,
        api_key=api_key,
        timeout=s.timeout,
        max_retries=s.max_retries,
        retry_backoff=s.retry_backoff,
        retry_max_wait=s.retry_max_wait,
        transport=rt.transport,
        user_agent=f"telnyx-numbers-mcp/{__version__}",
    )


def _ids(data: Any) -> list[str]:
    inner = data.get("data") if isinstance(data, dict) else None
    items = inner if isinstance(inner, list) else [inner if inner is not None else data]
    return [str(i["id"]) for i in items if isinstance(i, dict) and i.get("id")][:50]


async def execute(
    rt: Runtime, tool: ToolSpec, args: dict[str, Any], decision: approval.Decision | None
) -> types.CallToolResult:
    """Send one validated, approved call; writes are audited before sending and after the answer."""
    if rt.client is None:
        raise ToolCallError("the server is not running (no HTTP client)")
    if not rt.settings.api_key and not rt.sandbox:
        raise MissingApiKey()
    wire = build(tool, args)
    audited = not tool.read_only
    event_id = uuid.uuid4().hex
    if audited:
        rt.audit.append({
            "event": "request", "id": event_id, "tool": tool.name, "kind": tool.kind, "args": args,
            "approval": None if decision is None else {"approved": decision.approved, "how": decision.how,
                                                      "detail": decision.detail},
            "sandbox": rt.sandbox,
        })  # fmt: skip
    try:
        answer = await rt.client.send(wire, tool=tool.name, once=tool.guarded)
    except ToolCallError as exc:
        if audited:
            rt.audit.append({"event": "outcome", "id": event_id, "tool": tool.name, "ok": False,
                             "status": getattr(exc, "status", None), "error": str(exc)[:500],
                             "may_have_reached": getattr(exc, "may_have_reached", None)})  # fmt: skip
        if tool.kind == "purchase" and isinstance(exc, TransportError) and exc.may_have_reached:
            raise TransportError(
                f"{exc} DO NOT order again: the purchase may have gone through. Look it up first, e.g. "
                f"number_orders_list with filter.customer_reference={args.get('customer_reference')!r}.",
                may_have_reached=True,
            ) from None
        raise
    if audited:
        rt.audit.append({"event": "outcome", "id": event_id, "tool": tool.name, "ok": True,
                         "status": answer.status, "ids": _ids(answer.json)})  # fmt: skip
    return results.success(tool, answer, sandbox=rt.sandbox)


async def guarded_call(
    rt: Runtime,
    ctx: ServerRequestContext[Any],
    params: types.CallToolRequestParams,
    tool: ToolSpec,
    args: dict[str, Any],
) -> types.CallToolResult | types.InputRequiredResult:
    """Caps, then the human's approval (elicitation or quote), then the call."""
    s = rt.settings
    if s.purchase_policy == "deny":
        raise PolicyError(f"{tool.name} is disabled by --purchase-policy deny; nothing was sent.")
    count = count_numbers(tool.name, args)
    if count > s.max_numbers_per_order:
        raise PolicyError(
            f"{tool.name} would buy {count} numbers, over the limit of {s.max_numbers_per_order} per order "
            "(--max-numbers-per-order); nothing was sent. Split the order or ask the operator to raise it."
        )
    # costs are for the human's summary and the cost cap; `allow` without a cap needs neither
    wants_costs = s.purchase_policy != "allow" or s.max_order_cost is not None
    costs: Costs = {}
    if tool.kind == "purchase" and wants_costs and rt.client is not None:
        costs = await lookup_costs(rt.client, rt.searches, tool.name, args)
    if s.max_order_cost is not None and tool.kind == "purchase":
        total = total_cost(args, costs)
        if total is None:
            raise PolicyError(
                f"{tool.name}: the cost could not be determined, and --max-order-cost "
                f"{s.max_order_cost:.2f} USD is set, so the order is refused; nothing was sent."
            )
        if total > s.max_order_cost:
            raise PolicyError(
                f"{tool.name} would cost {total:.2f} USD upfront, over --max-order-cost "
                f"{s.max_order_cost:.2f} USD; nothing was sent."
            )
    if s.purchase_policy == "allow":
        return await execute(rt, tool, args, approval.Decision(True, "policy-allow", "--purchase-policy allow"))
    summary = describe_action(tool.name, args, kind=tool.kind, costs=costs, sandbox=rt.sandbox)
    if approval.can_elicit(ctx):
        decision = await approval.ask(
            ctx, params, tool=tool.name, args=args, summary=summary, timeout=s.elicitation_timeout
        )
        if isinstance(decision, types.InputRequiredResult):
            return decision
        if not decision.approved:
            refusal = {"approved": False, "how": decision.how, "detail": decision.detail}
            rt.audit.append(
                {"event": "refused", "tool": tool.name, "kind": tool.kind, "args": args, "approval": refusal}
            )
            raise ApprovalError(
                f"Not approved: {decision.detail}. Nothing was sent to Telnyx; {summary.splitlines()[0]}"
            )
        return await execute(rt, tool, args, decision)
    if s.purchase_policy == "elicit-only":
        raise PolicyError(
            f"{tool.name} needs a human's approval and this client cannot ask (no elicitation support); "
            "--purchase-policy elicit-only forbids the quote-and-confirm fallback. Nothing was sent."
        )
    quote = rt.confirmations.issue(tool.name, args, summary)
    rt.audit.append({"event": "quoted", "tool": tool.name, "kind": tool.kind, "args": args,
                     "confirmation_expires_at": quote.expires_at})  # fmt: skip
    return results.structured(
        {"status": "awaiting_confirmation", "confirmation_id": quote.confirmation_id, "summary": quote.summary,
         "expires_at": quote.expires_at},
        approval.quote_text(quote, s.confirmation_ttl),
        sandbox=rt.sandbox,
    )  # fmt: skip


async def confirm_call(rt: Runtime, args: dict[str, Any]) -> types.CallToolResult:
    cid, summary = args.get("confirmation_id"), args.get("summary")
    if not isinstance(cid, str) or not isinstance(summary, str):
        raise ApprovalError("confirm_action needs string arguments confirmation_id and summary; nothing was sent.")
    tool_name, quoted_args = rt.confirmations.redeem(cid, summary)
    tool = rt.tools.get(tool_name)
    if tool is None:
        raise ApprovalError(f"{tool_name} is no longer offered by this server; nothing was sent.")
    decision = approval.Decision(True, "confirm_action", "a human approved the quote via confirm_action")
    return await execute(rt, tool, quoted_args, decision)


def build_server(settings: Settings, *, transport: httpx.AsyncBaseTransport | None = None) -> Server[Any]:
    rt = build_runtime(settings, transport=transport)

    @asynccontextmanager
    async def lifespan(_: Server[Any]) -> AsyncIterator[Runtime]:
        # one pooled client shared by all sessions (HTTP runs a lifespan per session)
        if rt.client is None:
            rt.client = _client(rt)
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
    server.middleware.append(RequestStateBoundary(RequestStateSecurity.ephemeral(), default_audience=SERVER_NAME))
    if settings.purchase_policy == "allow":
        log.warning("--purchase-policy allow: purchases and destructive calls run WITHOUT a human's approval")
    return server
