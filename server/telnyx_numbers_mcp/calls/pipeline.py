"""One call's path after validation: guarded calls ask the approvals gate once (policy, caps, the human's
decision) -> audit (fsynced before sending) -> request -> send -> result. Refusals raise ToolCallError;
app.py maps them."""

from __future__ import annotations

import uuid
from typing import TYPE_CHECKING, Any

import mcp_types as types
from mcp.server import ServerRequestContext

from telnyx_numbers_mcp.approvals.channels import Decision
from telnyx_numbers_mcp.auth.identity import current_caller
from telnyx_numbers_mcp.calls import requirements, results
from telnyx_numbers_mcp.catalog import ToolSpec
from telnyx_numbers_mcp.errors import MissingApiKey, ToolCallError, TransportError
from telnyx_numbers_mcp.guards.redaction import bounded
from telnyx_numbers_mcp.offer import Offer
from telnyx_numbers_mcp.request import build
from telnyx_numbers_mcp.runtime import Runtime

if TYPE_CHECKING:
    from telnyx_numbers_mcp.spend.book import Hold


def look_up_first(offer: Offer, reference: Any) -> str:
    """After a purchase that may have gone through: how to find it before ordering again."""
    if offer.has("number_orders_list"):
        return f"look the order up first with number_orders_list (filter.customer_reference={reference!r})"
    why = offer.missing("number_orders_list")
    return f"look the order up first by its customer_reference {reference!r}" + (f" ({why})" if why else "")


async def _added(rt: Runtime, tool: ToolSpec, args: dict[str, Any], answer: Any) -> tuple[list[str], dict[str, str]]:
    """What the server adds to an answer: a country's requirements before ordering (coverage), and the
    words for the requirement ids an order waits for. Look-ups that fail only leave them out."""
    if rt.client is None:
        return [], {}
    if tool.name == requirements.COVERAGE_TOOL:
        found = await rt.requirements.lookup(rt.client, requirements.coverage_pairs(args, answer))
        return requirements.coverage_lines(found), {}
    pairs = requirements.order_pairs(answer)
    if pairs:
        return [], requirements.named(await rt.requirements.lookup(rt.client, pairs))
    return [], {}


def order_id(data: Any) -> str | None:
    """The id of the order a purchase answered with."""
    inner = data.get("data") if isinstance(data, dict) else None
    found = inner.get("id") if isinstance(inner, dict) else None
    return str(found) if found else None


def _requester(decision: Decision | None) -> dict[str, Any]:
    """The audit trail's `requester` of a call's request and outcome (hosted): who asked for the approval being
    carried out (perhaps in an approver's request on the review page), else the caller; {} for a local call."""
    if decision is not None and decision.requester is not None:
        return {"requester": decision.requester}
    caller = current_caller()
    return {"requester": caller.record()} if caller is not None else {}


def _ids(data: Any) -> list[str]:
    inner = data.get("data") if isinstance(data, dict) else None
    items = inner if isinstance(inner, list) else [inner if inner is not None else data]
    return [str(i["id"]) for i in items if isinstance(i, dict) and i.get("id")][:50]


async def execute(
    rt: Runtime,
    tool: ToolSpec,
    args: dict[str, Any],
    decision: Decision | None,
    offer: Offer | None = None,
    *,
    hold: Hold | None = None,
) -> types.CallToolResult:
    """Send one validated, approved call; writes are audited before sending and after the answer. Hints in
    the result name only what `offer` offers (without one: what a client that cannot ask the user is offered).
    A purchase's amount is held before it is sent (`hold`: a mandate already held it) and settled by its answer."""
    offer = offer if offer is not None else rt.offer(None)
    try:
        if rt.client is None:
            raise ToolCallError("the server is not running (no HTTP client)")
        if not rt.settings.api_key and not rt.sandbox:
            raise MissingApiKey()
        wire = build(tool, args)
        request = rt.client.prepare(wire, tool=tool.name)  # refuses a bad request before it is audited
        # purchases: the amount is held now (spend/), or the call is refused over a limit
        charge = await rt.spend.charge(tool, args, decision, hold)
    except BaseException:
        rt.spend.release(hold)  # nothing was sent: a mandate's hold is given back
        raise
    audited = not tool.read_only
    event_id = uuid.uuid4().hex if audited else ""
    asked = _requester(decision) if audited else {}
    if audited:
        with rt.spend.released_on_error(charge):  # a request record that cannot be written: nothing is sent
            rt.audit.append({
                "event": "request", "id": event_id, "tool": tool.name, "kind": tool.kind, "args": args,
                "approval": None if decision is None else {"approved": decision.approved, "how": decision.how,
                                                          "detail": decision.detail},
                "approval_id": None if decision is None else decision.approval_id,
                **({"spend": charge.record()} if charge is not None else {}),
                **asked, **rt.mode.record(),  # who asked (hosted); sandbox or live, base URL, API key fingerprint
            })  # fmt: skip
    try:
        # never repeated: purchases and destructive calls, and billed lookups (a retry would be billed again)
        answer = await rt.client.send(
            wire, tool=tool.name, route=tool.path, once=tool.guarded or tool.billed, prepared=request
        )
    except ToolCallError as exc:
        spent = rt.spend.settle(charge, exc)  # refused by Telnyx or never sent: released; may have reached it: spent
        if audited:
            rt.audit.append({"event": "outcome", "id": event_id, "tool": tool.name, "ok": False,
                             "status": getattr(exc, "status", None),
                             "error": bounded(rt.redactor.text(str(exc)), 500),
                             "may_have_reached": getattr(exc, "may_have_reached", None), **spent,
                             **asked})  # fmt: skip
        if tool.kind == "purchase" and isinstance(exc, TransportError) and exc.may_have_reached:
            raise TransportError(
                f"{exc} DO NOT order again: the purchase may have gone through; "
                f"{look_up_first(offer, args.get('customer_reference'))}.",
                may_have_reached=True,
            ) from None
        raise
    except Exception as exc:  # a bug, not a refusal: the request record still gets its outcome
        spent = rt.spend.settle(charge, exc)  # it may have been sent: kept as spent
        if audited:
            rt.audit.append({"event": "outcome", "id": event_id, "tool": tool.name, "ok": False, "status": None,
                             "error": f"internal error ({type(exc).__name__})", "may_have_reached": None,
                             **spent, **asked})  # fmt: skip
        raise
    spent = rt.spend.settle(charge)  # Telnyx accepted it: spent
    if audited:
        rt.audit.append({"event": "outcome", "id": event_id, "tool": tool.name, "ok": True,
                         "status": answer.status, "ids": _ids(answer.json), **spent, **asked})  # fmt: skip
    if rt.telemetry is not None and tool.kind == "purchase":
        rt.telemetry.note(order_id=order_id(answer.json))
    rt.prices.remember(tool.name, args, answer.json)  # a later quote shows what this search showed
    notes, words = await _added(rt, tool, args, answer.json)
    return results.success(
        tool, answer, sandbox=rt.sandbox, offer=offer, args=args, rendered=rt.settings.result_format == "text",
        notes=notes, requirements=words,
    )  # fmt: skip


async def call(
    rt: Runtime,
    ctx: ServerRequestContext[Any],
    params: types.CallToolRequestParams,
    tool: ToolSpec,
    args: dict[str, Any],
) -> types.CallToolResult | types.InputRequiredResult:
    """A validated call: guarded ones ask the gate (which calls `execute` once approved), others go out.
    Billed lookups go out within --lookup-budget; past it a human approves each one, as for a purchase. A
    settings change that turns on what Telnyx bills (call forwarding, CNAM listing, ...) is guarded too."""
    if tool.asks_approval(args):
        return await rt.gate.guarded_call(ctx, params, tool, args)
    if tool.billed:
        used = rt.take_lookup()
        if used is None:  # the budget is spent: a human approves each further lookup
            return await rt.gate.guarded_call(ctx, params, tool, args)
        budget = f"lookup {used} of {rt.settings.lookup_budget} today (UTC; --lookup-budget)"
        return await execute(rt, tool, args, Decision(True, "lookup-budget", budget), rt.offer(ctx))
    return await execute(rt, tool, args, None, rt.offer(ctx))
