"""A human's approval before a purchase or destructive call: elicitation in both protocol eras,
or a quote to confirm with `confirm_action` where the client cannot elicit."""

from __future__ import annotations

import hashlib
import logging
from dataclasses import dataclass
from typing import Any, Literal

import anyio
import mcp_types as types
from mcp.server import ServerRequestContext
from mcp.shared.exceptions import MCPError, NoBackChannelError
from mcp_types.version import MODERN_PROTOCOL_VERSIONS

from telnyx_numbers_mcp.guards.confirmations import Quote, canonical_args_digest

log = logging.getLogger("telnyx_numbers_mcp.approval")

APPROVE_KEY = "approve"
APPROVE_SCHEMA: dict[str, Any] = {
    "type": "object",
    "properties": {
        APPROVE_KEY: {
            "type": "boolean",
            "title": "Approve",
            "description": "Check to approve exactly what is described above.",
        }
    },
    "required": [APPROVE_KEY],
}
QUESTION_FOOTER = "\n\nApprove? Only an explicit approval sends the request; anything else sends nothing."


@dataclass(frozen=True)
class Decision:
    approved: bool
    how: Literal["elicitation", "confirm_action", "policy-allow", "lookup-budget", "none"]
    detail: str


def can_elicit(ctx: ServerRequestContext[Any]) -> bool:
    caps = ctx.session.client_capabilities
    return caps is not None and caps.elicitation is not None


def _state_for(tool: str, args: dict[str, Any]) -> str:
    """requestState names our question and the exact arguments; RequestStateBoundary seals it."""
    digest = hashlib.sha256(f"{tool}\n{canonical_args_digest(args)}".encode()).hexdigest()[:32]
    return f"approve:v1:{digest}"


def _judge(answer: Any) -> Decision:
    if not isinstance(answer, types.ElicitResult):
        return Decision(False, "elicitation", "the answer was malformed")
    if answer.action != "accept":
        return Decision(False, "elicitation", f"the user chose '{answer.action}'")
    content = answer.content or {}
    if content.get(APPROVE_KEY) is True:
        return Decision(True, "elicitation", "the user approved")
    return Decision(False, "elicitation", "the user did not tick 'approve'")


async def ask(
    ctx: ServerRequestContext[Any],
    params: types.CallToolRequestParams,
    *,
    tool: str,
    args: dict[str, Any],
    summary: str,
    timeout: float,
) -> Decision | types.InputRequiredResult:
    """Ask the human through the client. Returns an InputRequiredResult on 2026-07-28 (the client
    asks and calls again), else a Decision. Callers check `can_elicit` first."""
    message = summary + QUESTION_FOOTER
    if ctx.protocol_version in MODERN_PROTOCOL_VERSIONS:
        expected = _state_for(tool, args)
        responses = params.input_responses or {}
        if params.request_state != expected or APPROVE_KEY not in responses:
            if responses and params.request_state != expected:
                log.warning("ignored an approval answer that does not belong to this question")
            return types.InputRequiredResult(
                input_requests={
                    APPROVE_KEY: types.ElicitRequest(
                        params=types.ElicitRequestFormParams(message=message, requested_schema=APPROVE_SCHEMA)
                    )
                },
                request_state=expected,
            )
        return _judge(responses[APPROVE_KEY])
    if not ctx.session.can_send_request:
        return Decision(False, "elicitation", "this transport cannot carry a question to the user")
    try:
        with anyio.fail_after(timeout):
            answer = await ctx.session.elicit_form(message, APPROVE_SCHEMA, related_request_id=ctx.request_id)
    except TimeoutError:
        return Decision(False, "elicitation", f"no answer within {timeout:.0f} s")
    except (MCPError, NoBackChannelError) as exc:
        return Decision(False, "elicitation", f"the question could not be asked ({exc})")
    return _judge(answer)


def quote_text(quote: Quote, ttl: float) -> str:
    return (
        f"{quote.summary}\n\n"
        "NOTHING HAS BEEN SENT YET. This client cannot ask the user directly, so a human must approve.\n"
        "Show the user the summary above. Only if they approve, call `confirm_action` with\n"
        f"  confirmation_id: {quote.confirmation_id}\n"
        "  summary: the exact summary text above (from its first line to the line before this notice).\n"
        f"The confirmation is single-use and expires in {ttl / 60:.0f} minutes; "
        "any change to the arguments needs a new quote."
    )
