"""One call's path after validation: caps -> the human's approval (elicitation or a quote) -> audit
(fsynced before sending) -> request -> send -> result. Refusals raise ToolCallError; app.py maps them."""

from __future__ import annotations

import uuid
from typing import Any

import mcp_types as types
from mcp.server import ServerRequestContext

from telnyx_numbers_mcp.calls import results
from telnyx_numbers_mcp.calls.costs import lookup_costs
from telnyx_numbers_mcp.catalog import ToolSpec
from telnyx_numbers_mcp.errors import (
    ApprovalError,
    MissingApiKey,
    PolicyError,
    ToolCallError,
    TransportError,
    shown,
)
from telnyx_numbers_mcp.guards import approval
from telnyx_numbers_mcp.guards.redaction import bounded
from telnyx_numbers_mcp.guards.summary import Costs, count_numbers, describe_action, total_cost
from telnyx_numbers_mcp.request import build
from telnyx_numbers_mcp.runtime import CONFIRM_TOOL, Runtime


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
    rt.client.prepare(wire, tool=tool.name)  # refuses a request that cannot be built before it is audited
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
                             "status": getattr(exc, "status", None),
                             "error": bounded(rt.redactor.text(str(exc)), 500),
                             "may_have_reached": getattr(exc, "may_have_reached", None)})  # fmt: skip
        if tool.kind == "purchase" and isinstance(exc, TransportError) and exc.may_have_reached:
            raise TransportError(
                f"{exc} DO NOT order again: the purchase may have gone through. Look it up first, e.g. "
                f"number_orders_list with filter.customer_reference={args.get('customer_reference')!r}.",
                may_have_reached=True,
            ) from None
        raise
    except Exception as exc:  # a bug, not a refusal: the request record still gets its outcome
        if audited:
            rt.audit.append({"event": "outcome", "id": event_id, "tool": tool.name, "ok": False, "status": None,
                             "error": f"internal error ({type(exc).__name__})", "may_have_reached": None})  # fmt: skip
        raise
    if audited:
        rt.audit.append({"event": "outcome", "id": event_id, "tool": tool.name, "ok": True,
                         "status": answer.status, "ids": _ids(answer.json)})  # fmt: skip
    rt.prices.remember(tool.name, args, answer.json)  # a later quote shows what this search showed
    return results.success(tool, answer, sandbox=rt.sandbox, args=args, rendered=rt.settings.result_format == "text")


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
        costs = await lookup_costs(rt.client, rt.searches, rt.prices, tool.name, args)
    if s.max_order_cost is not None and tool.kind == "purchase":
        total = total_cost(tool.name, args, costs)
        if total is None:
            estimated = any(q.get("estimate") for q in costs.values())
            raise PolicyError(
                f"{tool.name}: the cost could not be determined"
                + (" (there is only an estimate: Telnyx picks the numbers)" if estimated else "")
                + f", and --max-order-cost {s.max_order_cost:.2f} USD is set, so the order is refused; "
                "nothing was sent."
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


CONFIRMATION_ID_LIMIT = 200  # issued ids are about 70 characters


async def confirm_call(rt: Runtime, args: dict[str, Any]) -> types.CallToolResult:
    """Redeem a quote; every refusal (forged, altered, reused, expired, wrong summary) is audited too,
    since a stream of them is how an agent trying to approve its own purchase shows up."""
    cid, summary = args.get("confirmation_id"), args.get("summary")
    try:
        if not isinstance(cid, str) or not isinstance(summary, str):
            raise ApprovalError("confirm_action needs string arguments confirmation_id and summary; nothing was sent.")
        if len(cid) > CONFIRMATION_ID_LIMIT:
            raise ApprovalError(
                f"{shown(cid)} is not a confirmation id this server issued (too long); nothing was sent to Telnyx."
            )
        tool_name, quoted_args = rt.confirmations.redeem(cid, summary)
        tool = rt.tools.get(tool_name)
        if tool is None:
            raise ApprovalError(f"{tool_name} is no longer offered by this server; nothing was sent.")
    except ApprovalError as exc:
        rt.audit.append({"event": "confirm_refused", "tool": CONFIRM_TOOL, "confirmation_id": bounded(str(cid), 200),
                         "summary_chars": len(summary) if isinstance(summary, str) else None,
                         "reason": bounded(str(exc), 500)})  # fmt: skip
        raise
    decision = approval.Decision(True, "confirm_action", "a human approved the quote via confirm_action")
    return await execute(rt, tool, quoted_args, decision)
