"""The one place that answers "may this call go out, and who said so?": purchase policy, caps, the summary a
human approves, the channel that reaches them (form elicitation -> URL elicitation -> review page; quote +
confirm_action only under --purchase-policy host-confirm; the review page alone under review-only, so that no
MCP client, not even one an agent runs itself, can answer), the approvals store and the decision. The call
pipeline asks it once per guarded call; the review page and the `approvals` command decide through it. Hosted,
each approval and quote is bound to who asked (the token's issuer-scoped subject: `mine`), and the requester's
own client is no second person, so it decides nothing unless --allow-self-approval (`_in_client`)."""

from __future__ import annotations

import logging
import re
import threading
import time
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

import anyio
import mcp_types as types
from mcp.server import ServerRequestContext

from telnyx_numbers_mcp.approvals import channels, handoff, keys
from telnyx_numbers_mcp.approvals.channels import Decision
from telnyx_numbers_mcp.approvals.store import Approval, ApprovalStore, TooManyPending
from telnyx_numbers_mcp.approvals.tools import CHECK_TOOL
from telnyx_numbers_mcp.auth.identity import Approver, current_caller, requester_record
from telnyx_numbers_mcp.calls import results
from telnyx_numbers_mcp.calls.costs import lookup_costs
from telnyx_numbers_mcp.calls.lookups import summarize
from telnyx_numbers_mcp.calls.pipeline import order_id
from telnyx_numbers_mcp.catalog import ToolSpec
from telnyx_numbers_mcp.errors import (
    ApprovalError,
    ArgumentError,
    ArgumentProblem,
    ModeMismatch,
    PolicyError,
    ToolCallError,
    shown,
)
from telnyx_numbers_mcp.guards.confirmations import canonical_args_digest
from telnyx_numbers_mcp.guards.redaction import bounded
from telnyx_numbers_mcp.guards.summary import Costs, count_numbers, total_cost
from telnyx_numbers_mcp.mode import Mode, refusal
from telnyx_numbers_mcp.store import default_state_dir

if TYPE_CHECKING:
    from telnyx_numbers_mcp.approvals.review import ReviewListener
    from telnyx_numbers_mcp.runtime import Runtime

log = logging.getLogger("telnyx_numbers_mcp.approval")

ID_PATTERN = re.compile(r"ap_[0-9a-f]{20}")
POLL = 0.2  # seconds between looks at the store while waiting for a decision (it may come from another process)
CONFIRMATION_ID_LIMIT = 200  # issued ids are about 70 characters
OUTCOME_WAIT = 60.0  # how long a caller that lost the race to execute waits for the winner's result
NAMED_PENDING = 20  # pending approvals a flood refusal names one by one
STATUS_LIMIT = 300  # characters of check_approval's answer while the approval is still pending

Send = Callable[[ToolSpec, dict[str, Any], Decision | None], Awaitable[types.CallToolResult]]
Ctx = ServerRequestContext[Any]


def when(timestamp: float) -> str:
    return datetime.fromtimestamp(timestamp, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _utc(timestamp: float) -> str:
    """What the model reads: `2026-12-02 16:31:00 UTC`."""
    return datetime.fromtimestamp(timestamp, UTC).strftime("%Y-%m-%d %H:%M:%S UTC")


# where the human was asked, in the words of a pending answer (the review link itself never reaches the model)
_CHANNELS = {
    "review-page": "via their review page",
    "url-elicitation": "via a link their client showed",
    "elicitation": "in their client",
}


def outcome_of(result: types.CallToolResult) -> dict[str, Any]:
    texts = [c.text for c in result.content if isinstance(c, types.TextContent)]
    return {"is_error": bool(result.is_error), "texts": texts, "structured": result.structured_content,
            "meta": result.meta}  # fmt: skip


def result_from(outcome: dict[str, Any]) -> types.CallToolResult:
    return types.CallToolResult(
        content=[types.TextContent(type="text", text=t) for t in outcome.get("texts", [])],
        structured_content=outcome.get("structured"),
        is_error=bool(outcome.get("is_error")),
        _meta=outcome.get("meta"),
    )


class Gate:
    """Decides guarded calls. One per server process; the store may be shared with other processes."""

    def __init__(self, rt: Runtime, send: Send) -> None:
        self.rt = rt
        self.send = send
        self._store: ApprovalStore | None = None
        self._key: bytes | None = None
        self.review: ReviewListener | None = None

    # --- shared state, opened on first need (a read-only server never touches the state folder) ----------

    @property
    def store(self) -> ApprovalStore:
        if self._store is None:
            self._store = self.rt.store.approvals()  # the server's store (--store): SQLite or PostgreSQL
        return self._store

    @property
    def key(self) -> bytes:
        """From --state-secret when given (replicas on several machines honour each other's links), else
        the key file in the state folder (processes sharing the folder share it)."""
        if self._key is None:
            if self.rt.keys.shared:
                self._key = self.rt.keys.derive("review-page")
            else:
                self._key = keys.load_or_create(self.rt.settings.state_dir or default_state_dir())
        return self._key

    def close(self) -> None:
        if self._store is not None:
            self._store.close()
            self._store = None

    # --- who asked ---------------------------------------------------------------------------------------

    def _in_client(self) -> bool:
        """May the MCP client ask the human (and answer)? Not under review-only, and not on a hosted server
        with two people (the client is the requester's own: its answer would be the requester approving)."""
        s = self.rt.settings
        return s.purchase_policy != "review-only" and not s.two_person

    @staticmethod
    def _requester() -> str | None:
        """Who is asking: the caller's issuer-scoped subject on a hosted server, None for a local call."""
        caller = current_caller()
        return caller.key if caller is not None else None

    @staticmethod
    def _asked_by() -> dict[str, Any]:
        """The audit trail's `requester` of a record written in the caller's own request ({} when local)."""
        caller = current_caller()
        return {"requester": caller.record()} if caller is not None else {}

    @staticmethod
    def _asked(approval: Approval) -> dict[str, Any]:
        """The audit trail's `requester` of a record about `approval` ({} when it was asked locally)."""
        who = requester_record(approval.requester, approval.requester_client)
        return {"requester": who} if who is not None else {}

    def mine(self, approval: Approval) -> Approval:
        """The approval, if the caller asked for it: only the same subject (at the same issuer) checks it,
        answers its question or repeats it; a local call only a local approval. Anyone else is refused without
        learning what it is for (no summary, no tool), and the refusal is audited."""
        requester = self._requester()
        if approval.requester != requester:
            owner = requester_record(approval.requester, approval.requester_client)
            self.rt.audit.append({"event": "requester_refused", "approval_id": approval.id, **self._asked_by(),
                                  "asked_by": owner})  # fmt: skip
            raise ApprovalError(
                f"Approval {approval.id}: this approval was asked by another user, so only they can check it or "
                "carry it out. Nothing was sent, and nothing about it is shown here."
            )
        return approval

    # --- the guarded call ------------------------------------------------------------------------------

    async def guarded_call(
        self, ctx: Ctx, params: types.CallToolRequestParams, tool: ToolSpec, args: dict[str, Any]
    ) -> types.CallToolResult | types.InputRequiredResult:
        """Policy and caps, then the human's decision through the first channel that works, then the call."""
        s = self.rt.settings
        if s.purchase_policy == "deny":
            self.note(decision="refused")
            if tool.billed_settings is not None and not tool.guarded:  # the tool stays; its billed changes do not
                raise PolicyError(f"{tool.name}: this change turns on what Telnyx bills, which --purchase-policy "
                                  "deny forbids; nothing was sent. Leave the billed settings out.")  # fmt: skip
            raise PolicyError(f"{tool.name} is disabled by --purchase-policy deny; nothing was sent.")
        in_client = self._in_client()  # may the MCP client ask (and answer) for the human?
        if in_client and channels.modern(ctx) and (answer := channels.answered(params)) is not None:
            return await self._answer(ctx, tool, args, *answer)  # caps and summary were checked when asked
        asks = s.purchase_policy != "allow" and (channels.can_form(ctx) or s.purchase_policy != "host-confirm")
        if asks and (repeated := self._pending_same(tool, args)) is not None:  # an approval (not a quote) is next
            return await self._resume(ctx, repeated)
        costs = await self._caps(tool, args)
        if s.purchase_policy == "allow":
            self.note(decision="allowed_by_policy")
            return await self.send(tool, args, Decision(True, "policy-allow", "--purchase-policy allow"))
        cover = self.rt.spend.cover(tool, args, costs)  # a mandate a human granted ahead of time (spend/)
        if cover.hold is not None:
            return await self.rt.spend.send_covered(cover, tool, args, self.rt.offer(ctx))
        summary = await summarize(self.rt, tool, args, costs)  # after look-ups naming what the call acts on
        summary = await self._with_requirements(tool, args, costs, summary)
        summary = cover.noted(summary)  # why no active mandate covers it, when one exists
        return await self.ask(ctx, tool, args, summary)

    async def ask(
        self, ctx: Ctx, tool: ToolSpec, args: dict[str, Any], summary: str
    ) -> types.CallToolResult | types.InputRequiredResult:
        """Ask the human about `summary` through the first channel that works (a purchase, or a mandate request:
        spend/asking.py), then carry out what they approved."""
        s = self.rt.settings
        in_client = self._in_client()
        if in_client and channels.can_form(ctx):
            return await self._form(ctx, tool, args, summary)
        if s.purchase_policy == "host-confirm":
            return self._quote(tool, args, summary)
        if in_client and channels.can_url(ctx):
            return await self._url(ctx, tool, args, summary)
        if s.purchase_policy == "elicit-only":
            self.note(decision="refused")
            raise PolicyError(
                f"{tool.name} needs a human's approval and this client cannot ask (no elicitation support); "
                "--purchase-policy elicit-only forbids the review page. Nothing was sent."
            )
        approval, created = self._create(tool, args, summary, "review-page")
        if not created:
            return await self._resume(ctx, approval)
        await self.announce(approval)
        return await self._wait(ctx, approval.id)

    async def _caps(self, tool: ToolSpec, args: dict[str, Any]) -> Costs:
        s = self.rt.settings
        count = count_numbers(tool.name, args)
        if tool.kind == "purchase":
            self.note(count=count)
        if count > s.max_numbers_per_order:
            self.note(decision="refused")
            raise PolicyError(
                f"{tool.name} would buy {count} numbers, over the limit of {s.max_numbers_per_order} per order "
                "(--max-numbers-per-order); nothing was sent. Split the order or ask the operator to raise it."
            )
        # costs are for the human's summary, the cost cap and the spending limits; `allow` with neither needs none
        # (its purchases then count as of unknown cost)
        limited = s.max_order_cost is not None or s.spend_limit is not None or s.spend_limit_per_user is not None
        costs: Costs = {}
        if tool.kind == "purchase" and (s.purchase_policy != "allow" or limited) and self.rt.client is not None:
            costs = await lookup_costs(self.rt.client, self.rt.searches, self.rt.prices, tool.name, args)
        total = total_cost(tool.name, args, costs) if tool.kind == "purchase" else None
        self.note(cost=total)
        if tool.kind == "purchase":
            self.rt.spend.before_asking(tool, args, costs)  # --spend-limit: refused before anyone is asked
        if s.max_order_cost is not None and tool.kind == "purchase":
            if total is None:
                self.note(decision="refused")
                estimated = any(q.get("estimate") for q in costs.values())
                raise PolicyError(
                    f"{tool.name}: the cost could not be determined"
                    + (" (there is only an estimate: Telnyx picks the numbers)" if estimated else "")
                    + f", and --max-order-cost {s.max_order_cost:.2f} USD is set, so the order is refused; "
                    "nothing was sent."
                )
            if total > s.max_order_cost:
                self.note(decision="refused")
                raise PolicyError(
                    f"{tool.name} would cost {total:.2f} USD upfront, over --max-order-cost "
                    f"{s.max_order_cost:.2f} USD; nothing was sent."
                )
        return costs

    async def _with_requirements(self, tool: ToolSpec, args: dict[str, Any], costs: Costs, summary: str) -> str:
        """A purchase's summary also says what the order will wait for (regulatory requirements) and what the
        user will have to provide, before the total (still the last line): the human approves knowing it."""
        from telnyx_numbers_mcp.calls import requirements

        if tool.kind != "purchase" or self.rt.client is None:
            return summary
        pairs = requirements.purchase_pairs(tool.name, args, costs)
        extra = requirements.summary_lines(await self.rt.requirements.lookup(self.rt.client, pairs))
        if not extra:
            return summary
        lines = summary.splitlines()
        return "\n".join([*lines[:-1], *extra, lines[-1]])

    def _create(self, tool: ToolSpec, args: dict[str, Any], summary: str, channel: str) -> tuple[Approval, bool]:
        """The pending approval for this call under this mode: a new one (True: asked and audited) or the one
        already waiting for the same request (False: its human is not asked again)."""
        caller = current_caller()
        try:
            approval, created = self.store.open(
                tool=tool.name, args=args, args_digest=canonical_args_digest(args), summary=summary,
                channel=channel, ttl=self.rt.settings.approval_ttl, mode=self.rt.mode.key,
                requester=caller.key if caller else None, requester_client=caller.client_id if caller else None,
                max_pending=self.rt.settings.max_pending_approvals,
            )  # fmt: skip
        except TooManyPending as exc:
            raise self._flood(tool, exc.pending) from None
        if created:
            self.rt.audit.append({"event": "asked", "approval_id": approval.id, "tool": tool.name,
                                  "kind": tool.kind, "args": args, "channel": channel,
                                  "expires_at": when(approval.expires_at), **self._asked(approval),
                                  **self.rt.mode.record()})  # fmt: skip
            if self.rt.telemetry is not None:
                self.rt.telemetry.asked(approval.id)  # the decision, made elsewhere later, links back to this call
        return approval, created

    def _pending_same(self, tool: ToolSpec, args: dict[str, Any]) -> Approval | None:
        """Before cost look-ups: the approval this requester already has pending for this very request (never
        another requester's), or a refusal when too many of theirs are pending. A cheap first look; `_create`
        decides again, atomically, when an approval is made."""
        waiting = self.store.waiting(self._requester())
        same = (tool.name, canonical_args_digest(args), self.rt.mode.key)
        repeated = next((a for a in waiting if (a.tool, a.args_digest, a.mode) == same), None)
        if repeated is None and len(waiting) >= self.rt.settings.max_pending_approvals:
            raise self._flood(tool, waiting)
        return repeated

    def _flood(self, tool: ToolSpec, pending: list[Approval]) -> PolicyError:
        """--max-pending-approvals: refused before anything is stored or anyone is notified."""
        limit = self.rt.settings.max_pending_approvals
        named = "\n".join(f"- {a.id}: {a.tool}, expires {when(a.expires_at)}" for a in pending[:NAMED_PENDING])
        more = f"\n- ... and {len(pending) - NAMED_PENDING} more" if len(pending) > NAMED_PENDING else ""
        return PolicyError(
            f"{tool.name} needs a human's approval, and {len(pending)} approvals are already waiting for one "
            f"(--max-pending-approvals {limit}), so this call was refused: nothing was stored, sent or shown to "
            f"anyone. Ask the user to decide the waiting ones (check_approval reports each), or wait until they "
            f"expire:\n{named}{more}"
        )

    async def _resume(self, ctx: Ctx, approval: Approval) -> types.CallToolResult | types.InputRequiredResult:
        """A repeat of a request whose approval is pending: that approval again, and no new notification. On
        2026-07-28 the client gets the same question back (bound to the same approval); otherwise the call waits
        for the decision as the first one does. A question pending in a client (form elicitation) that this
        caller cannot answer there is moved to the review page, once, and announced then."""
        in_client = self._in_client()
        if in_client and channels.modern(ctx) and approval.channel == "elicitation" and channels.can_form(ctx):
            return channels.form_question(approval.summary, approval.id, self._form_for(approval.tool, approval.args))
        if in_client and channels.modern(ctx) and approval.channel == "url-elicitation":
            return channels.url_question(await self.review_url(approval), approval.id)
        if approval.channel == "elicitation" and self.store.rechannel(
            approval.id, from_channel="elicitation", to_channel="review-page"
        ):
            self.rt.audit.append({"event": "asked", "approval_id": approval.id, "tool": approval.tool,
                                  "kind": self._kind(approval.tool), "args": approval.args, "channel": "review-page",
                                  "expires_at": when(approval.expires_at), **self._asked(approval),
                                  **self.rt.mode.record()})  # fmt: skip
            await self.announce(approval)
        return await self._wait(ctx, approval.id)

    # --- channel 1: form elicitation --------------------------------------------------------------------

    async def _form(
        self, ctx: Ctx, tool: ToolSpec, args: dict[str, Any], summary: str
    ) -> types.CallToolResult | types.InputRequiredResult:
        approval, created = self._create(tool, args, summary, "elicitation")
        if not created:
            return await self._resume(ctx, approval)
        form = self._form_for(tool.name, approval.args)
        if channels.modern(ctx):
            self.note(decision="asked")
            return channels.form_question(summary, approval.id, form)
        try:
            decision, granted = await channels.ask_form(
                ctx, summary, timeout=self.rt.settings.elicitation_timeout, form=form
            )
        except BaseException:  # the call ended unanswered (cancelled): no one else can answer this question
            self._decide(approval, False, "elicitation", "the call ended before the user answered")
            raise
        return await self._settle(ctx, approval, decision, granted)

    def _form_for(self, tool: str, args: dict[str, Any]) -> channels.Form:
        """The question's form: Approve alone, or for a mandate also the bounds the human may lower."""
        from telnyx_numbers_mcp.spend.tools import MANDATE_TOOL

        if tool == MANDATE_TOOL:
            from telnyx_numbers_mcp.spend.mandates import form

            return form(args)
        return channels.PLAIN

    async def _answer(
        self, ctx: Ctx, tool: ToolSpec, args: dict[str, Any], approval_id: str, answer: Any
    ) -> types.CallToolResult:
        """2026-07-28: the client calls again with the answer to the question whose state names `approval_id`.
        The answer is taken once: a replay, concurrent or from another session, finds it decided. Only the
        requester's own answers count (the SDK's sealed state is bound to their token too)."""
        approval = self.store.get(approval_id)
        self.note(approval_id=approval_id)
        if approval is not None:
            self.mine(approval)
        if approval is None or approval.tool != tool.name or approval.args_digest != canonical_args_digest(args):
            raise ApprovalError(
                "This answer does not belong to a pending question for these exact arguments; nothing was sent. "
                "Call the tool again to be asked afresh."
            )
        self.own(approval)
        how = "url-elicitation" if approval.channel == "url-elicitation" else "elicitation"
        if how == "url-elicitation":
            action = answer.action if isinstance(answer, types.ElicitResult) else "malformed"
            if action != "accept" and self._decide(approval, False, how, f"the user chose '{action}'"):
                raise self._refusal(approval, Decision(False, how, f"the user chose '{action}'", approval.id))
            return await self._wait(ctx, approval.id)
        if approval.status != "pending":
            raise ApprovalError(
                f"This approval question ({approval_id}) was already answered ({approval.status}); an answer "
                "is taken once, so this replay was refused and nothing was sent. Call the tool again for a "
                "new approval."
            )
        return await self._settle(ctx, approval, *self._form_for(approval.tool, approval.args).judge(answer))

    async def _settle(
        self, ctx: Ctx, approval: Approval, decision: Decision, granted: dict[str, Any] | None = None
    ) -> types.CallToolResult:
        """Record an in-client answer (with the arguments approved, when the human lowered a mandate's bounds); the
        one that wins the store's transition goes on to execute."""
        who = self._client_name(ctx)
        asker = requester_record(approval.requester, approval.requester_client)  # hosted: the requester decided
        if not self._decide(approval, decision.approved, decision.how, decision.detail, decided_by=who,
                            approver=asker, args=granted):  # fmt: skip
            current = self.store.get(approval.id)
            status = current.status if current else "unknown"
            raise ApprovalError(
                f"This approval question ({approval.id}) was already answered ({status}); an answer is taken "
                "once, so this replay was refused and nothing was sent. Call the tool again for a new approval."
            )
        if not decision.approved:
            raise self._refusal(approval, decision)
        return await self.carry_out(approval.id)

    def _refusal(self, approval: Approval, decision: Decision) -> ApprovalError:
        return ApprovalError(
            f"Not approved: {decision.detail}. Nothing was sent to Telnyx; {approval.summary.splitlines()[0]}"
        )

    # --- channel 2: URL elicitation ---------------------------------------------------------------------

    async def _url(
        self, ctx: Ctx, tool: ToolSpec, args: dict[str, Any], summary: str
    ) -> types.CallToolResult | types.InputRequiredResult:
        approval, created = self._create(tool, args, summary, "url-elicitation")
        if not created:
            return await self._resume(ctx, approval)
        url = await self.review_url(approval)
        if channels.modern(ctx):
            log.warning("Approval %s for %s: its review page was handed to the client", approval.id, tool.name)
            return channels.url_question(url, approval.id)
        action = await channels.ask_url(ctx, url, approval.id, timeout=self.rt.settings.elicitation_timeout)
        if action is None:  # the client could not show it: fall back to the review page's own channels
            await self.announce(approval)
        elif action != "accept":
            decision = Decision(False, "url-elicitation", f"the user chose '{action}'", approval.id)
            if self._decide(approval, False, decision.how, decision.detail, decided_by=self._client_name(ctx)):
                raise self._refusal(approval, decision)
        else:
            log.warning("Approval %s for %s: the user opened its review page from the client", approval.id, tool.name)
        return await self._wait(ctx, approval.id)

    # --- channel 3: the review page ---------------------------------------------------------------------

    async def review_url(self, approval: Approval) -> str:
        """This approval's page; its secret (`t`) is an HMAC of the id under the server key."""
        from telnyx_numbers_mcp.approvals.review import ReviewListener

        if self.review is None:
            self.review = ReviewListener(self)
        base = await self.review.ensure_started()
        return f"{base}/approvals/{approval.id}?t={keys.tag(self.key, 'view', approval.id)}"

    async def announce(self, approval: Approval) -> None:
        """Bring the review page to the human without its secret reaching argv or a log (handoff.py): a 0600
        redirect file in the state folder, opened in the browser on a desktop; --approval-notify (the link in
        its environment and on stdin); and a log line naming the approval and that file."""
        s = self.rt.settings
        url = await self.review_url(approval)
        page = handoff.write_link(s.state_dir or default_state_dir(), approval.id, url, approval.expires_at)
        how = f"open {page.as_uri()} in a browser on this machine, or " if page else ""
        log.warning("Approval %s needed for %s: %srun `telnyx-numbers-mcp approvals`",
                    approval.id, approval.tool, how)  # fmt: skip
        if page is not None:
            if self.rt.task_group is not None:

                def settled() -> bool:
                    current = self.current(approval.id)
                    return current is None or current.status != "pending"

                self.rt.task_group.start_soon(handoff.drop_when_settled, page, settled)
            if s.open_browser:
                threading.Thread(target=_open_browser, args=(page, dict(s.child_environ)), daemon=True).start()
        if s.approval_notify:
            _notify(s.approval_notify, url, dict(s.child_environ))

    # --- waiting, deciding, executing ---------------------------------------------------------------

    def own(self, approval: Approval) -> Approval:
        """The approval, if it was made under this process's mode; else ModeMismatch (nothing decided or sent)."""
        if approval.mode != self.rt.mode.key:
            raise ModeMismatch(refusal(f"Approval {approval.id}", Mode.from_key(approval.mode), self.rt.mode))
        return approval

    def current(self, approval_id: str) -> Approval | None:
        """The approval as stored (ModeMismatch if made under another mode), marked expired once its time is up:
        pending, or approved but not carried out."""
        approval = self.store.get(approval_id)
        if approval is not None and self.own(approval).expired():
            self.store.transition(approval_id, from_status=approval.status, to_status="expired")
            approval = self.store.get(approval_id)
        return approval

    def decide(
        self,
        approval_id: str,
        approve: bool,
        channel: str,
        decided_by: str,
        approver: Approver | None = None,
        args: dict[str, Any] | None = None,
    ) -> Approval | None:
        """A decision from outside the MCP call (review page, terminal). Returns the approval as it stands;
        its status says whether this decision took effect. `approver`: who signed in on the review page; `args`:
        what the human approved when they lowered a mandate's bounds."""
        approval = self.current(approval_id)
        if approval is None:
            return None
        if approval.status == "pending":
            detail = f"{'approved' if approve else 'declined'} by {decided_by} via {channel}"
            self._decide(approval, approve, channel, detail, decided_by=decided_by,
                         approver=approver.record() if approver is not None else None, args=args)  # fmt: skip
        return self.store.get(approval_id)

    def _decide(
        self,
        approval: Approval,
        approve: bool,
        channel: str,
        detail: str,
        *,
        decided_by: str | None = None,
        approver: dict[str, Any] | None = None,
        args: dict[str, Any] | None = None,
    ) -> bool:
        """Record the decision once (the store's conditional transition); the audit's `decided` record names the
        approver (who signed in, or the requester answering in their own client) and the requester. `args`, given
        with an approval, replace the asked ones in that same update (a mandate whose bounds the human lowered)."""
        won = self.store.transition(
            approval.id, from_status="pending", to_status="approved" if approve else "declined",
            channel=channel, decided_by=decided_by or detail, mode=self.rt.mode.key, args=args if approve else None,
        )  # fmt: skip
        if won:
            self.note(decision="approved" if approve else "declined")
            named = {"approver": approver} if approver is not None else {}
            lowered = {"granted": args} if approve and args is not None else {}
            self.rt.audit.append({
                "event": "decided", "approval_id": approval.id, "tool": approval.tool, "approved": approve,
                "channel": channel, "decided_by": decided_by or detail, "detail": detail, **named, **lowered,
                **self._asked(approval), **self.rt.mode.record(),
            })  # fmt: skip
            if not approve:
                self.rt.audit.append({
                    "event": "refused", "approval_id": approval.id, "tool": approval.tool,
                    "kind": self._kind(approval.tool), "args": approval.args,
                    "approval": {"approved": False, "how": channel, "detail": detail}, **self._asked(approval),
                })  # fmt: skip
        return won

    def _kind(self, tool: str) -> str:
        spec = self.rt.tools.get(tool)
        return spec.kind if spec else "unknown"

    async def _wait(self, ctx: Ctx | None, approval_id: str, *, first: bool = True) -> types.CallToolResult:
        """Wait up to --approval-wait for the decision, with progress; then the result or 'awaiting approval'
        (the full quote the `first` time, a short status line when check_approval asks again)."""
        wait = self.rt.settings.approval_wait
        started = time.monotonic()
        reported = -1.0
        while True:
            approval = self.current(approval_id)
            if approval is None:
                raise ApprovalError(f"No approval {approval_id!r} is known; nothing was sent.")
            if approval.status in ("approved", "executed"):
                self.note(decision="approved")
                return await self.carry_out(approval_id)
            if approval.status == "declined":
                self.note(decision="declined")
                who = approval.decided_by or "the human"
                raise ApprovalError(
                    f"Not approved: declined by {who} via {approval.channel}. Nothing was sent to Telnyx; "
                    f"{approval.summary.splitlines()[0]}"
                )
            if approval.status == "expired":
                self.note(decision="expired")
                raise self._expired(approval)
            elapsed = time.monotonic() - started
            if elapsed >= wait:
                self.note(decision="awaiting_approval")
                return self._awaiting(approval, first=first)
            if ctx is not None and elapsed - reported >= 1.0:
                reported = elapsed
                await ctx.session.report_progress(elapsed, wait, "Waiting for a human to approve or decline")
            await anyio.sleep(min(POLL, wait - elapsed))

    def _awaiting(self, approval: Approval, *, first: bool = True) -> types.CallToolResult:
        """Still waiting for the human. The first answer carries the whole quote; check_approval's answer while
        the approval is pending is one short status (at most STATUS_LIMIT characters): the model already has
        the quote, and pays for every character each time it asks."""
        asked, expires = _utc(approval.created_at), _utc(approval.expires_at)
        where = _CHANNELS.get(approval.channel, f"through {approval.channel}")
        data = {
            "status": "awaiting_approval",
            "approval_id": approval.id,
            "tool": approval.tool,
            "asked_at": when(approval.created_at),
            "channel": approval.channel,
            "expires_at": when(approval.expires_at),
            "next": f"{CHECK_TOOL}(approval_id={approval.id!r})",
        }
        if not first:
            text = (
                f"awaiting approval: {approval.id} ({approval.tool}). The user was asked at {asked} {where}; it "
                f"expires at {expires}. Tell the user it waits for their decision; then call {CHECK_TOOL} again."
            )
            if len(text) > STATUS_LIMIT:  # an unusually long channel name: the tool is in `data` anyway
                text = text.replace(f" ({approval.tool})", "")[:STATUS_LIMIT]
            return results.structured(data, text, sandbox=self.rt.sandbox)
        text = (
            f"{approval.summary}\n\n"
            f"Status: awaiting approval (approval_id {approval.id}). NOTHING HAS BEEN SENT YET: a human must "
            "approve this, and you cannot approve it yourself.\n"
            f"The user was asked at {asked} {where}, outside this chat. Tell the user it is waiting for their "
            "decision; do not try to approve it for them.\n"
            f"Then call `{CHECK_TOOL}` with approval_id {approval.id} to get the result once they decide. The "
            f"approval expires at {expires}; any change to the arguments needs a new one."
        )
        return results.structured({**data, "summary": approval.summary}, text, sandbox=self.rt.sandbox)

    def _expired(self, approval: Approval) -> ApprovalError:
        """Expired pending, or approved but not carried out in time (then it is never sent)."""
        at = when(approval.expires_at)
        how = f"was approved but not carried out before it expired at {at}" if approval.decided_by else (
            f"expired at {at} without a decision")  # fmt: skip
        return ApprovalError(
            f"Approval {approval.id} {how}; nothing was sent to Telnyx. Call the tool again to ask for a new approval."
        )

    async def carry_out(self, approval_id: str) -> types.CallToolResult:
        """Execute an approved approval exactly once, under the mode it was made in and before it expires (the
        store's conditional approved -> executed claim decides who sends); everyone else gets the stored result."""
        approval = self.current(approval_id)
        if approval is None:
            raise ApprovalError(f"No approval {approval_id!r} is known; nothing was sent.")
        if approval.status == "approved" and self.store.transition(
            approval_id, from_status="approved", to_status="executed", mode=self.rt.mode.key
        ):
            tool = self.rt.tools.get(approval.tool)
            asker = requester_record(approval.requester, approval.requester_client)
            decision = Decision(True, approval.channel, f"approved by {approval.decided_by} via {approval.channel}",
                                approval.id, asker)  # fmt: skip
            with anyio.CancelScope(shield=True):  # once claimed, the call and its record finish together
                result = await self._send_once(tool, approval, decision)
                self.store.record_outcome(approval_id, outcome_of(result))
            return result
        deadline = time.monotonic() + OUTCOME_WAIT
        while time.monotonic() < deadline:
            approval = self.current(approval_id)  # the claim failed because it expired: it is expired now
            if approval is not None and approval.status == "expired":
                raise self._expired(approval)
            if approval is not None and approval.status in ("pending", "declined"):
                raise ApprovalError(f"Approval {approval_id} is {approval.status}; nothing was sent to Telnyx.")
            if approval is not None and approval.outcome is not None:
                if self._kind(approval.tool) == "purchase":  # sent by another call: its order, seen here
                    self.note(order_id=order_id(approval.outcome.get("structured")))
                return result_from(approval.outcome)
            await anyio.sleep(POLL)
        from telnyx_numbers_mcp.calls.pipeline import look_up_first

        reference = (approval.args.get("customer_reference") if approval else None) or "?"
        raise ApprovalError(
            f"Approval {approval_id} was approved and its request may have gone out, but no result is recorded. "
            f"DO NOT call the tool again: {look_up_first(self.rt.offer(None), reference)}, or call "
            f"{CHECK_TOOL} again later."
        )

    async def _send_once(self, tool: ToolSpec | None, approval: Approval, decision: Decision) -> types.CallToolResult:
        from telnyx_numbers_mcp.spend.tools import MANDATE_TOOL

        if approval.tool == MANDATE_TOOL:  # carrying out an approved mandate request grants the mandate
            return self.rt.spend.grant(approval)
        if tool is None:
            return results.error(f"{approval.tool} is no longer offered by this server; nothing was sent.")
        try:
            return await self.send(tool, approval.args, decision)
        except ToolCallError as exc:
            return results.error(self.rt.redact(str(exc)))
        except Exception:
            log.exception("internal error executing approval %s", approval.id)
            return results.error(f"Internal error in {approval.tool}; see the server log (stderr).")

    # --- check_approval and confirm_action ------------------------------------------------------------

    async def check(self, ctx: Ctx, args: dict[str, Any]) -> types.CallToolResult:
        approval_id = args.get("approval_id")
        if not isinstance(approval_id, str) or not ID_PATTERN.fullmatch(approval_id):
            shown = repr(approval_id)[:60]
            raise ArgumentError(CHECK_TOOL, [ArgumentProblem(
                "approval_id", f"{shown} is not an approval id; expected the approval_id of an awaiting_approval "
                "result, like 'ap_' followed by 20 hex digits")])  # fmt: skip
        found = self.store.get(approval_id)
        if found is not None:
            self.mine(found)  # before anything else: another user's approval is neither expired nor described
        self.note(approval_id=approval_id)
        approval = self.current(approval_id)
        if approval is None:
            raise ApprovalError(f"No approval {approval_id!r} is known to this server; nothing was sent.")
        if approval.channel == "elicitation" and approval.status == "pending":
            raise ApprovalError(
                f"Approval {approval_id} is a question the client is asking the user directly; it is answered "
                "there, not here. Nothing was sent."
            )
        return await self._wait(ctx, approval_id, first=False)

    def _quote(self, tool: ToolSpec, args: dict[str, Any], summary: str) -> types.CallToolResult:
        """host-confirm: the host's approval prompt on confirm_action is the human's approval."""
        quote = self.rt.confirmations.issue(tool.name, args, summary, requester=self._requester())
        self.note(decision="awaiting_confirmation")
        self.rt.audit.append({"event": "quoted", "tool": tool.name, "kind": tool.kind, "args": args,
                              "confirmation_expires_at": quote.expires_at, **self._asked_by(),
                              **self.rt.mode.record()})  # fmt: skip
        return results.structured(
            {"status": "awaiting_confirmation", "confirmation_id": quote.confirmation_id, "summary": quote.summary,
             "expires_at": quote.expires_at},
            channels.quote_text(quote.confirmation_id, quote.summary, quote.expires_at),
            sandbox=self.rt.sandbox,
        )  # fmt: skip

    async def confirm(self, args: dict[str, Any]) -> types.CallToolResult:
        """Redeem a quote; every refusal (forged, altered, reused, expired, wrong summary) is audited too,
        since a stream of them is how an agent trying to approve its own purchase shows up."""
        cid, summary = args.get("confirmation_id"), args.get("summary")
        try:
            if not isinstance(cid, str) or not isinstance(summary, str):
                raise ApprovalError(
                    "confirm_action needs string arguments confirmation_id and summary; nothing was sent."
                )
            if len(cid) > CONFIRMATION_ID_LIMIT:
                raise ApprovalError(
                    f"{shown(cid)} is not a confirmation id this server issued (too long); nothing was sent to Telnyx."
                )
            tool_name, quoted_args = self.rt.confirmations.redeem(cid, summary, requester=self._requester())
            tool = self.rt.tools.get(tool_name)
            if tool is None:
                raise ApprovalError(f"{tool_name} is no longer offered by this server; nothing was sent.")
        except ApprovalError as exc:
            self.rt.audit.append({"event": "confirm_refused", "tool": "confirm_action",
                                  "confirmation_id": bounded(str(cid), 200),
                                  "summary_chars": len(summary) if isinstance(summary, str) else None,
                                  "reason": bounded(str(exc), 500), **self._asked_by()})  # fmt: skip
            raise
        decision = Decision(True, "confirm_action", "the host approved confirm_action (--purchase-policy host-confirm)")
        self.note(decision="confirmed")
        return await self.send(tool, quoted_args, decision)

    def note(self, **facts: Any) -> None:
        """Facts for the current span (telemetry.py), when telemetry is on."""
        if self.rt.telemetry is not None:
            self.rt.telemetry.note(**facts)

    @staticmethod
    def _client_name(ctx: Ctx) -> str:
        params = ctx.session.client_params
        info = getattr(params, "client_info", None)
        name = getattr(info, "name", None)
        return f"the user in {name}" if name else "the user in the MCP client"


def _open_browser(page: Path, env: dict[str, str]) -> None:
    """The browser opens the redirect file, not the link: its argument holds no secret; no secret in its env."""
    handoff.open_browser(page, env)


def _notify(command: str, url: str, env: dict[str, str]) -> None:
    """Run --approval-notify (no shell) with the link in TELNYX_MCP_APPROVAL_URL and on stdin, never in argv."""
    handoff.notify(command, url, env)
