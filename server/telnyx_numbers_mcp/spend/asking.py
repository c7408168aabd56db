"""`request_mandate`: the agent asks a human to approve a bounded set of purchases ahead of time. The request goes
through the same channels as a purchase (approvals/gate.py: form elicitation in both protocol eras, URL elicitation,
the review page, the `approvals` command), as an approval whose arguments are the bounds; the human sees them and
may lower any of them before approving (the gate's decision stores what they approved, `mandates.lower` checks it),
and carrying out the approval grants the mandate (Meter.grant)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import mcp_types as types

from telnyx_numbers_mcp.approvals import channels
from telnyx_numbers_mcp.catalog import ToolSpec
from telnyx_numbers_mcp.errors import ArgumentError, PolicyError
from telnyx_numbers_mcp.spend import mandates
from telnyx_numbers_mcp.spend.subject import subject
from telnyx_numbers_mcp.spend.tools import MANDATE_TOOL, mandate_tool

if TYPE_CHECKING:
    from mcp.server import ServerRequestContext

    from telnyx_numbers_mcp.runtime import Runtime

_TOOL = mandate_tool()
# what the gate's channels need of a tool: its name, and its kind for the audit trail (it approves purchases)
SPEC = ToolSpec(
    name=MANDATE_TOOL, title=_TOOL.title or "", description=_TOOL.description or "", input_schema=_TOOL.input_schema,
    output_schema=None, annotations={}, meta={}, method="", path="", sdk_method="", kind="purchase", toolset="",
    e164=(), args={}, response_media_type="application/json",
)  # fmt: skip


async def request_mandate(
    rt: Runtime, ctx: ServerRequestContext[Any], params: types.CallToolRequestParams, args: dict[str, Any]
) -> types.CallToolResult | types.InputRequiredResult:
    """Check the bounds (every problem named, nothing asked while there is one), then ask the human."""
    gate = rt.gate
    policy = rt.settings.purchase_policy
    if policy not in ("confirm", "elicit-only", "review-only"):
        raise PolicyError(f"{MANDATE_TOOL} is not available under --purchase-policy {policy}; nothing was asked.")
    offered = [t.name for t in rt.offered(ctx) if t.kind == "purchase"]
    bounds, problems = mandates.requested(args, offered, subject())
    if problems:
        raise ArgumentError(MANDATE_TOOL, problems)
    wanted = bounds.args()
    in_client = gate._in_client()  # not under review-only, nor the requester's own client when two people decide
    if in_client and channels.modern(ctx) and (answer := channels.answered(params)) is not None:
        return await gate._answer(ctx, SPEC, wanted, *answer)  # the human's answer to the form: granted once
    repeated = gate._pending_same(SPEC, wanted)
    if repeated is not None:  # the same request is already waiting: that approval, and nobody is told again
        return await gate._resume(ctx, repeated)
    unsold = mandates.unsold(bounds, await rt.spend.sold())
    if unsold:
        raise ArgumentError(MANDATE_TOOL, unsold)
    return await gate.ask(ctx, SPEC, wanted, mandates.summary(bounds, sandbox=rt.sandbox))
