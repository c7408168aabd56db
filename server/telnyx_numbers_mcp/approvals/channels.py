"""How a human is reached through the MCP client: form elicitation (both protocol eras) and URL elicitation
(2025-11-25 `mode: "url"`). Pure helpers; the gate decides which one to use and records the answer."""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import anyio
import mcp_types as types
from mcp.server import ServerRequestContext
from mcp.shared.exceptions import MCPError, NoBackChannelError
from mcp_types.version import MODERN_PROTOCOL_VERSIONS

log = logging.getLogger("telnyx_numbers_mcp.approval")

APPROVE_KEY = "approve"
STATE_PREFIX = "approve:v2:"  # + approval id: each question has its own nonce (sealed by RequestStateBoundary)
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
URL_MESSAGE = (
    "A purchase or destructive action is waiting for your approval. Open the review page to see exactly what "
    "will happen and approve or decline it there."
)


@dataclass(frozen=True)
class Decision:
    """Who approved what, through which channel; `how` is the channel and lands in the audit trail."""

    approved: bool
    how: str  # elicitation | url-elicitation | review-page | terminal | confirm_action | policy-allow | none
    detail: str
    approval_id: str | None = None
    requester: dict[str, Any] | None = None  # who asked (hosted), when the call is carried out outside their request


def modern(ctx: ServerRequestContext[Any]) -> bool:
    return ctx.protocol_version in MODERN_PROTOCOL_VERSIONS


def can_elicit(ctx: ServerRequestContext[Any]) -> bool:
    caps = ctx.session.client_capabilities
    return caps is not None and caps.elicitation is not None


def can_form(ctx: ServerRequestContext[Any]) -> bool:
    """A bare `elicitation: {}` means form support (clients older than URL mode)."""
    caps = ctx.session.client_capabilities
    el = caps.elicitation if caps is not None else None
    return el is not None and (el.form is not None or el.url is None)


def can_url(ctx: ServerRequestContext[Any]) -> bool:
    caps = ctx.session.client_capabilities
    el = caps.elicitation if caps is not None else None
    return el is not None and el.url is not None


def judge(answer: Any, how: str = "elicitation") -> Decision:
    if not isinstance(answer, types.ElicitResult):
        return Decision(False, how, "the answer was malformed")
    if answer.action != "accept":
        return Decision(False, how, f"the user chose '{answer.action}'")
    content = answer.content or {}
    if content.get(APPROVE_KEY) is True:
        return Decision(True, how, "the user approved")
    return Decision(False, how, "the user did not tick 'approve'")


@dataclass(frozen=True)
class Form:
    """What a form question asks: its schema, the line after the summary, and how an answer becomes a decision
    plus, where the human may lower what was asked (a mandate's bounds: spend/mandates.py), the arguments they
    approved (None: exactly those asked)."""

    schema: dict[str, Any]
    judge: Callable[[Any], tuple[Decision, dict[str, Any] | None]]
    footer: str = QUESTION_FOOTER


PLAIN = Form(APPROVE_SCHEMA, lambda answer: (judge(answer), None))


def form_question(summary: str, approval_id: str, form: Form = PLAIN) -> types.InputRequiredResult:
    """The 2026-07-28 question: the client asks and calls again carrying this approval's own state."""
    return types.InputRequiredResult(
        input_requests={
            APPROVE_KEY: types.ElicitRequest(
                params=types.ElicitRequestFormParams(message=summary + form.footer, requested_schema=form.schema)
            )
        },
        request_state=STATE_PREFIX + approval_id,
    )


def url_question(url: str, approval_id: str) -> types.InputRequiredResult:
    return types.InputRequiredResult(
        input_requests={
            APPROVE_KEY: types.ElicitRequest(
                params=types.ElicitRequestURLParams(message=URL_MESSAGE, url=url, elicitation_id=approval_id)
            )
        },
        request_state=STATE_PREFIX + approval_id,
    )


def answered(params: types.CallToolRequestParams) -> tuple[str, Any] | None:
    """(approval id, answer) when this call carries an answer to one of our questions, else None."""
    state = params.request_state
    responses = params.input_responses or {}
    if not state or not state.startswith(STATE_PREFIX) or APPROVE_KEY not in responses:
        if responses:
            log.warning("ignored an approval answer that does not belong to a question of ours")
        return None
    return state[len(STATE_PREFIX) :], responses[APPROVE_KEY]


async def ask_form(
    ctx: ServerRequestContext[Any], summary: str, *, timeout: float, form: Form = PLAIN
) -> tuple[Decision, dict[str, Any] | None]:
    """Handshake era: a server-to-client elicitation request, bounded by `timeout`; the decision and, for a form
    whose bounds the human may lower, the arguments they approved."""
    if not ctx.session.can_send_request:
        return Decision(False, "elicitation", "this transport cannot carry a question to the user"), None
    try:
        with anyio.fail_after(timeout):
            answer = await ctx.session.elicit_form(
                summary + form.footer, form.schema, related_request_id=ctx.request_id
            )
    except TimeoutError:
        return Decision(False, "elicitation", f"no answer within {timeout:.0f} s"), None
    except (MCPError, NoBackChannelError) as exc:
        return Decision(False, "elicitation", f"the question could not be asked ({exc})"), None
    return form.judge(answer)


async def ask_url(ctx: ServerRequestContext[Any], url: str, approval_id: str, *, timeout: float) -> str | None:
    """Handshake era: hand the review URL to the client (shown to the user, not the model). Returns the
    user's action ('accept' means they went to the page), or None when the client could not be asked."""
    if not ctx.session.can_send_request:
        return None
    try:
        with anyio.fail_after(timeout):
            answer = await ctx.session.elicit_url(URL_MESSAGE, url, approval_id, related_request_id=ctx.request_id)
    except (TimeoutError, MCPError, NoBackChannelError) as exc:
        log.warning("could not hand the review page to the client (%s); the other channels still work", exc)
        return None
    return answer.action


def quote_text(confirmation_id: str, summary: str, expires_at: float) -> str:
    """host-confirm's quote; the expiry is the actual time (UTC), which stays true however late it is read."""
    expires = datetime.fromtimestamp(expires_at, UTC).strftime("%Y-%m-%d %H:%M:%S UTC")
    return (
        f"{summary}\n\n"
        "NOTHING HAS BEEN SENT YET. This client cannot ask the user directly, so a human must approve.\n"
        "Show the user the summary above. Only if they approve, call `confirm_action` with\n"
        f"  confirmation_id: {confirmation_id}\n"
        "  summary: the exact summary text above (from its first line to the line before this notice).\n"
        f"The confirmation is single-use and expires at {expires}; "
        "any change to the arguments needs a new quote."
    )
