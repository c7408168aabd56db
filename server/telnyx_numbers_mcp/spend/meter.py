"""The runtime's face on spend controls, called from the few places a purchase is asked, approved, sent and answered
(approvals/gate.py, calls/pipeline.py):

- before anyone is asked: what the purchase counts must fit the limits (else it is refused, naming what is left and
  when the limit resets), and is remembered for whichever process carries it out;
- a mandate that covers the purchase entirely pays for it (one transaction with its hold): it goes out unasked, and
  its result says which mandate paid and what is left; otherwise the approval's summary says why none covered it;
- just before sending: the amount is held (a mandate's purchase already holds it), and once Telnyx answers it is
  spent, or released when Telnyx refused it or it failed before sending (a timeout after sending keeps it spent);
- an approved request_mandate grants the mandate; the spending tool reports it all."""

from __future__ import annotations

import contextlib
import time
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import mcp_types as types

from telnyx_numbers_mcp.approvals.channels import Decision
from telnyx_numbers_mcp.calls import results
from telnyx_numbers_mcp.errors import ApiError, PolicyError, ToolCallError, TransportError
from telnyx_numbers_mcp.guards.confirmations import canonical_args_digest
from telnyx_numbers_mcp.guards.summary import Costs, count_numbers
from telnyx_numbers_mcp.spend.amount import Purchase, purchase_of
from telnyx_numbers_mcp.spend.book import Hold, Limits, Miss, Refusal, SpendBook, State, Use, quote_key
from telnyx_numbers_mcp.spend.mandates import Bounds, Mandate, new_id
from telnyx_numbers_mcp.spend.money import iso, usd, utc
from telnyx_numbers_mcp.spend.subject import subject

if TYPE_CHECKING:
    from telnyx_numbers_mcp.approvals.store import Approval
    from telnyx_numbers_mcp.catalog import ToolSpec
    from telnyx_numbers_mcp.offer import Offer
    from telnyx_numbers_mcp.runtime import Runtime

META_MANDATE = "telnyx-numbers-mcp/mandate"
COVERAGE_TTL = 86_400.0  # seconds what Telnyx sells (its country coverage) is trusted
COVERAGE_TOOL = "country_coverage_retrieve"


@dataclass(frozen=True)
class Cover:
    """What the mandates said about one purchase: the hold a mandate took for it, or why none covers it."""

    use: Use | None = None
    reasons: tuple[str, ...] = ()

    @property
    def hold(self) -> Hold | None:
        return self.use.hold if self.use is not None else None

    def noted(self, summary: str) -> str:
        """The summary with a line saying why no mandate covers this purchase (before the total, still the last
        line), when mandates exist; else the summary as it was."""
        if not self.reasons:
            return summary
        lines = summary.splitlines()
        note = "No mandate covers this purchase: " + "; ".join(self.reasons[:3]) + "."
        return "\n".join([*lines[:-1], note, lines[-1]])


def settled_state(error: BaseException | None) -> State:
    """What a hold becomes once the call ends: spent when Telnyx accepted it or it may have reached Telnyx (a
    timeout after sending, a 5xx answer, an unknown failure); released when Telnyx refused it (4xx) or it failed
    before anything was sent."""
    if error is None:
        return "spent"
    if isinstance(error, TransportError):
        return "spent" if error.may_have_reached else "released"
    if isinstance(error, ApiError):
        return "spent" if error.status >= 500 else "released"
    return "released" if isinstance(error, ToolCallError) else "spent"


def mandate_note(mandate: Mandate) -> str:
    return f"Paid under mandate {mandate.id} (granted by {mandate.granted_by}): {mandate.left()}."


class Meter:
    """Spend controls for one server process; the ledger and mandates live in the store, shared by every process and
    replica on it under the same mode."""

    def __init__(self, rt: Runtime) -> None:
        self.rt = rt
        self._sold: tuple[float, dict[str, set[str]]] | None = None

    @property
    def book(self) -> SpendBook:
        """Over the gate's approvals store as it is now (closed when the last session ends, reopened on need)."""
        return SpendBook(self.rt.gate.store)

    @property
    def limits(self) -> Limits:
        s = self.rt.settings
        return Limits(s.spend_limit, s.spend_limit_per_user)

    def _key(self, tool: str, args: Mapping[str, Any]) -> str:
        return quote_key(self.rt.mode.key, tool, canonical_args_digest(dict(args)))

    def _audit(self, event: str, **record: Any) -> None:
        self.rt.audit.append({"event": event, **record, **self.rt.mode.record()})

    # --- before anyone is asked ------------------------------------------------------------------------

    def before_asking(self, tool: ToolSpec, args: dict[str, Any], costs: Costs) -> None:
        """A purchase over a limit (or of unknown cost while one is set) is refused now, before anyone is asked;
        what it counts is remembered for the process that will carry it out."""
        purchase = purchase_of(tool.name, args, costs)
        who = subject() or ""
        refusal = self.book.over(self.rt.mode.key, who, purchase.amount, self.limits)
        if refusal is not None:
            raise PolicyError(refusal.text(tool.name) + " Nothing was sent and nobody was asked.")
        self.book.remember(self._key(tool.name, args), purchase.amount, who)

    def cover(self, tool: ToolSpec, args: dict[str, Any], costs: Costs) -> Cover:
        """Take the purchase from a mandate that covers it entirely (with its hold), or say why none does."""
        if tool.kind != "purchase":
            return Cover()
        purchase = purchase_of(tool.name, args, costs)
        reference = args.get("customer_reference")
        found = self.book.use(self.rt.mode.key, subject() or "", purchase, self.limits,
                              reference=str(reference) if reference else None)  # fmt: skip
        if isinstance(found, Refusal):
            raise PolicyError(found.text(tool.name) + " Nothing was sent and nobody was asked.")
        if isinstance(found, Miss):
            return Cover(reasons=found.reasons)
        self._audit("mandate_used", mandate_id=found.mandate.id, tool=tool.name, args=args,
                    ledger_id=found.hold.id, numbers=purchase.count,
                    amount_usd=usd(purchase.amount) if purchase.amount is not None else None,
                    numbers_left=found.mandate.left_numbers, usd_left=usd(found.mandate.left_micros))  # fmt: skip
        return Cover(use=found)

    async def send_covered(
        self, cover: Cover, tool: ToolSpec, args: dict[str, Any], offer: Offer
    ) -> types.CallToolResult:
        """Send a purchase a mandate paid for, without asking; its result says which mandate and what is left."""
        from telnyx_numbers_mcp.calls.pipeline import execute

        assert cover.use is not None
        mandate = cover.use.mandate
        decision = Decision(True, "mandate", f"mandate {mandate.id} granted by {mandate.granted_by}")
        result = await execute(self.rt, tool, args, decision, offer, hold=cover.use.hold)
        note = types.TextContent(type="text", text=mandate_note(mandate))
        meta = {**(result.meta or {}), META_MANDATE: {"id": mandate.id, "numbers_left": mandate.left_numbers,
                                                       "usd_left": usd(mandate.left_micros),
                                                       "expires_at": iso(mandate.expires_at)}}  # fmt: skip
        return types.CallToolResult(content=[*result.content, note], structured_content=result.structured_content,
                                    is_error=result.is_error, _meta=meta)  # fmt: skip

    # --- around the send -------------------------------------------------------------------------------

    async def charge(
        self, tool: ToolSpec, args: dict[str, Any], decision: Decision | None, held: Hold | None = None
    ) -> Hold | None:
        """Hold what a purchase counts just before it is sent (a mandate's purchase brings its hold). Over a limit:
        PolicyError, and nothing is sent. Not a purchase: None."""
        if tool.kind != "purchase":
            return None
        if held is not None:
            return held
        recalled = self.book.recalled(self._key(tool.name, args))
        if recalled is not None:
            amount, who = recalled
        else:  # asked before this server counted, or by a process that did not: priced now
            from telnyx_numbers_mcp.calls.costs import lookup_costs

            costs: Costs = {}
            if self.rt.client is not None:
                costs = await lookup_costs(self.rt.client, self.rt.searches, self.rt.prices, tool.name, args)
            amount, who = purchase_of(tool.name, args, costs).amount, subject() or ""
        if decision is not None and decision.requester is not None:  # an approval carried out: its requester pays
            who = str(decision.requester.get("subject") or "")
        purchase = Purchase(tool.name, count_numbers(tool.name, args), amount, ())
        reference = args.get("customer_reference")
        found = self.book.hold(self.rt.mode.key, who, purchase, self.limits,
                               approval_id=decision.approval_id if decision else None,
                               reference=str(reference) if reference else None)  # fmt: skip
        if isinstance(found, Refusal):
            self._audit("refused", tool=tool.name, kind=tool.kind, args=args, reason=found.text(tool.name))
            raise PolicyError(found.text(tool.name) + " It was approved, but the limit was reached since: nothing "
                              "was sent.")  # fmt: skip
        return found

    def settle(self, hold: Hold | None, error: BaseException | None = None) -> dict[str, Any]:
        """Spent or released, by how the call ended (settled_state): what the call's outcome record says of it."""
        if hold is None:
            return {}
        state = settled_state(error)
        self.book.settle(hold, state)
        return {"spend": state}

    @contextlib.contextmanager
    def released_on_error(self, hold: Hold | None) -> Iterator[None]:
        """Around what must succeed before a purchase is sent (its audit record): on failure the hold is given back."""
        try:
            yield
        except BaseException:
            with contextlib.suppress(Exception):
                self.release(hold)
            raise

    def release(self, hold: Hold | None) -> None:
        """Nothing was sent (the request could not even be built): the hold, and a mandate's use, are given back."""
        if hold is not None and self.book.settle(hold, "released"):
            self._audit("spend", state="released", tool=hold.tool, **hold.record())

    # --- mandates ------------------------------------------------------------------------------------------

    def grant(self, approval: Approval) -> types.CallToolResult:
        """Carry out an approved request_mandate: the mandate, with the bounds the human approved, from now on."""
        try:
            bounds = Bounds.from_args(approval.args)
        except (KeyError, ValueError, TypeError) as exc:
            return results.error(f"Approval {approval.id}'s mandate bounds cannot be read ({exc}); nothing was "
                                 "granted. Ask for a new mandate.")  # fmt: skip
        mandate = grant(self.book, bounds, mode=approval.mode or self.rt.mode.key,
                        granted_by=approval.decided_by or "a human", approval_id=approval.id)  # fmt: skip
        self._audit("mandate_granted", **granted_record(mandate))
        return results.structured(mandate.data(), granted_text(mandate), sandbox=self.rt.sandbox)

    async def sold(self) -> dict[str, set[str]]:
        """What Telnyx sells: ISO country -> its number types, from its country coverage (read once a day)."""
        if self._sold is not None and self._sold[0] > time.monotonic():
            return self._sold[1]
        from telnyx_numbers_mcp.request import build

        spec = self.rt.spec(COVERAGE_TOOL)
        if spec is None or self.rt.client is None:
            raise ToolCallError("The countries and number types Telnyx sells could not be checked (no coverage "
                                "look-up here); nothing was asked.")  # fmt: skip
        try:
            answer = await self.rt.client.send(build(spec, {}), tool=COVERAGE_TOOL)
        except ToolCallError as exc:
            raise ToolCallError(f"The countries and number types Telnyx sells could not be checked ({exc}); "
                                "nothing was asked. Try again in a moment.") from None  # fmt: skip
        sold = coverage(answer.json)
        if sold:
            self._sold = (time.monotonic() + COVERAGE_TTL, sold)
        return sold

    # --- the spending tool ------------------------------------------------------------------------------

    def report(self) -> types.CallToolResult:
        from telnyx_numbers_mcp.spend.report import report

        now = time.time()
        mode = self.rt.mode
        who = subject()
        pending = sum(1 for a in self.rt.gate.store.list("pending", mode=mode.key) if not a.expired(now))
        data, text = report(
            where=mode.describe(), store=self.book.totals(mode.key, None, now),
            mine=self.book.totals(mode.key, who, now) if who else None, subject=who,
            store_limit=self.rt.settings.spend_limit, user_limit=self.rt.settings.spend_limit_per_user,
            mandates=self.book.mandates(mode.key, who or ""), pending=pending, now=now,
        )  # fmt: skip
        return results.structured(data, text, sandbox=self.rt.sandbox)


def coverage(answer: Any) -> dict[str, set[str]]:
    """ISO code -> number types sold there, from a GET /country_coverage answer (countries without numbers left out)."""
    data = answer.get("data") if isinstance(answer, dict) else None
    sold: dict[str, set[str]] = {}
    for entry in data.values() if isinstance(data, dict) else []:
        if isinstance(entry, dict) and entry.get("code") and entry.get("numbers") is not False:
            kinds = entry.get("phone_number_type")
            sold[str(entry["code"]).upper()] = {str(k) for k in kinds} if isinstance(kinds, list) else set()
    return sold


def grant(book: SpendBook, bounds: Bounds, *, mode: str, granted_by: str, approval_id: str | None) -> Mandate:
    """Store a mandate with `bounds`, from now on (one per approval: a second grant returns the first)."""
    now = time.time()
    mandate = Mandate(
        id=new_id(), mode=mode, subject=bounds.subject or "", max_numbers=bounds.max_numbers,
        max_micros=bounds.max_micros, countries=bounds.countries, number_types=bounds.number_types,
        tools=bounds.tools, reason=bounds.reason, granted_by=granted_by, approval_id=approval_id, created_at=now,
        expires_at=now + bounds.minutes * 60,
    )  # fmt: skip
    return book.grant(mandate)


def granted_record(mandate: Mandate) -> dict[str, Any]:
    """The audit record of a grant (everything it allows)."""
    return {"mandate_id": mandate.id, "approval_id": mandate.approval_id, "granted_by": mandate.granted_by,
            **{k: v for k, v in mandate.data().items() if k not in ("id", "status", "approval_id", "granted_by")},
            "reason": mandate.reason}  # fmt: skip


def granted_text(mandate: Mandate) -> str:
    where = ", ".join(mandate.countries) or "any country"
    kinds = ", ".join(mandate.number_types) or "any number type"
    return (
        f"Mandate {mandate.id} granted by {mandate.granted_by}: purchases within it now go out without asking: at "
        f"most {mandate.max_numbers} numbers and {usd(mandate.max_micros)} USD in all (upfront plus the first month "
        f"of each), {where}, {kinds}, through {', '.join(mandate.tools)}, until {utc(mandate.expires_at)}. A "
        "purchase it does not cover is asked about as before; the spending limits still apply."
    )
