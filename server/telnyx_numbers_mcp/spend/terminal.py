"""`telnyx-numbers-mcp approvals mandate grant|list|revoke`: the operator grants a mandate directly (it prints its
id), lists the mandates of this command's mode, or revokes one. And approving a requested mandate at the terminal
(`approvals approve ID --max-numbers 2 ...`): the bounds may be lowered there, never raised, and it is granted at once.

Mandates are bound to the mode (mode.py), as approvals are: run these under the servers' mode and store."""

from __future__ import annotations

import getpass
import re
import sys
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from telnyx_numbers_mcp.catalog import packaged_catalog
from telnyx_numbers_mcp.errors import ArgumentProblem
from telnyx_numbers_mcp.guards.audit import AuditLog
from telnyx_numbers_mcp.mode import Mode
from telnyx_numbers_mcp.spend.book import SpendBook
from telnyx_numbers_mcp.spend.mandates import Bounds, lower, money, parse_duration
from telnyx_numbers_mcp.spend.meter import grant, granted_record, granted_text
from telnyx_numbers_mcp.spend.tools import MAX_NUMBERS, NUMBER_TYPES

if TYPE_CHECKING:
    from telnyx_numbers_mcp.approvals.store import Approval, ApprovalStore
    from telnyx_numbers_mcp.config import Settings
    from telnyx_numbers_mcp.store import Store

PROG = "telnyx-numbers-mcp"
MANDATE_ID = re.compile(r"md_[0-9a-f]{20}")


@dataclass(frozen=True)
class Options:
    """The mandate options of the `approvals` command, as given (None: not given)."""

    max_numbers: int | None = None
    max_total: str | None = None
    countries: str | None = None
    types: str | None = None
    purchase_tools: str | None = None
    for_subject: str | None = None
    expires_in: str | None = None
    reason: str | None = None

    @property
    def any(self) -> bool:
        return any(v is not None for v in vars(self).values())


def _split(text: str | None) -> list[str] | None:
    return None if text is None else [p.strip() for p in text.split(",") if p.strip()]


def _fail(message: str) -> int:
    print(f"{PROG}: {message}", file=sys.stderr)
    return 2


def _who() -> str:
    return f"{getpass.getuser()} at the terminal"


def purchase_tools() -> tuple[str, ...]:
    return tuple(t.name for t in packaged_catalog() if t.kind == "purchase")


def bounds_from(options: Options) -> tuple[Bounds, list[ArgumentProblem]]:
    """The bounds of `approvals mandate grant`; every problem, each naming its option."""
    problems: list[ArgumentProblem] = []
    if options.max_numbers is None:
        problems.append(ArgumentProblem("--max-numbers", "is required (the most numbers the mandate may buy)"))
    elif not 1 <= options.max_numbers <= MAX_NUMBERS:
        problems.append(ArgumentProblem("--max-numbers", f"is {options.max_numbers}; expected 1 to {MAX_NUMBERS}"))
    micros = 0
    if options.max_total is None:
        problems.append(ArgumentProblem("--max-total", "is required (the most USD all purchases count together)"))
    else:
        micros = money(options.max_total, "--max-total", problems)
    countries = tuple(sorted({c.upper() for c in _split(options.countries) or []}))
    bad = [c for c in countries if len(c) != 2 or not c.isalpha() or not c.isascii()]
    if bad:
        problems.append(ArgumentProblem("--countries", f"{bad[0]!r:.20} is not an ISO country code (e.g. US,GB)"))
    kinds = _split(options.types) or []
    if unknown := [k for k in kinds if k not in NUMBER_TYPES]:
        problems.append(ArgumentProblem("--types", f"{unknown[0]!r:.30} is not a number type; expected "
                                        f"{','.join(NUMBER_TYPES)}"))  # fmt: skip
    every = purchase_tools()
    tools = tuple(_split(options.purchase_tools) or every)
    if unknown := [t for t in tools if t not in every]:
        problems.append(ArgumentProblem("--purchase-tools", f"{unknown[0]!r:.40} is not a purchase tool; expected "
                                        f"some of {','.join(every)}"))  # fmt: skip
    minutes = 0
    if options.expires_in is None:
        problems.append(ArgumentProblem("--expires-in", "is required (e.g. 2h; at most 7d)"))
    else:
        try:
            minutes = parse_duration(options.expires_in)
        except ValueError as exc:
            problems.append(ArgumentProblem("--expires-in", str(exc)))
    bounds = Bounds(
        max_numbers=options.max_numbers or 0, max_micros=micros, countries=countries,
        number_types=tuple(k for k in NUMBER_TYPES if k in kinds), tools=tools, minutes=minutes,
        reason=options.reason or "granted by the operator", subject=options.for_subject or None,
    )  # fmt: skip
    return bounds, problems


def run(settings: Settings, action: str, target: str | None, options: Options) -> int:
    """`approvals mandate ACTION [ID]` on whichever store --store names, under this command's mode."""
    from telnyx_numbers_mcp.store import open_store

    if action not in ("grant", "list", "revoke"):
        return _fail(f"approvals mandate {action!r}: expected grant, list or revoke")
    server_store = open_store(settings)
    approvals = server_store.approvals()
    book = SpendBook(approvals)
    mode = Mode.of(settings)
    try:
        if action == "list":
            return _list(book, mode)
        if action == "revoke":
            return _revoke(settings, server_store, book, mode, target)
        return _grant(settings, server_store, book, mode, options)
    finally:
        approvals.close()
        server_store.close()


def _audit(settings: Settings, store: Store) -> AuditLog:
    api_key = settings.api_key.get_secret_value() if settings.api_key else None
    return AuditLog(settings.audit_log, secrets=[api_key] if api_key else [], store=store)


def _grant(settings: Settings, store: Store, book: SpendBook, mode: Mode, options: Options) -> int:
    bounds, problems = bounds_from(options)
    if problems:
        lines = "\n".join(f"  {p.path}: {p.message}" for p in problems)
        return _fail(f"approvals mandate grant: nothing was granted:\n{lines}")
    mandate = grant(book, bounds, mode=mode.key, granted_by=_who(), approval_id=None)
    _audit(settings, store).append({"event": "mandate_granted", **granted_record(mandate), **mode.record()})
    print(mandate.id)
    print(f"{granted_text(mandate)} Made under {mode.describe()}.", file=sys.stderr)
    return 0


def _list(book: SpendBook, mode: Mode) -> int:
    found = book.mandates(mode.key)
    if not found:
        print(f"No mandates under {mode.describe()}.")
    for mandate in found:
        reason = f"\n    reason: {mandate.reason}" if mandate.reason else ""
        print(f"{mandate.line()}\n    granted by {mandate.granted_by}{reason}")
    return 0


def _revoke(settings: Settings, store: Store, book: SpendBook, mode: Mode, target: str | None) -> int:
    if not target or not MANDATE_ID.fullmatch(target):
        return _fail(f"approvals mandate revoke needs a mandate id like md_0123... (see `{PROG} approvals mandate "
                     f"list`); got {target!r}")  # fmt: skip
    mandate = book.get(target)
    if mandate is None or mandate.mode != mode.key:
        return _fail(f"no mandate {target} under {mode.describe()} in this store ({store.describe()}); give this "
                     "command the servers' --store (or --state-dir) and mode (--sandbox, --base-url, "
                     "TELNYX_API_KEY)")  # fmt: skip
    if not book.revoke(target, _who()):
        return _fail(f"{target} was not changed: it was already revoked")
    _audit(settings, store).append({"event": "mandate_revoked", "mandate_id": target, "revoked_by": _who(),
                                    **mode.record()})  # fmt: skip
    print(f"Revoked {target}: no purchase starts under it from now on (one already under way may finish).")
    return 0


def lowered(approval: Approval, options: Options) -> dict[str, Any] | None:
    """The bounds the operator approves for a requested mandate: the options lower what was asked (None: approve
    it as asked). LoweringError for a raised or invalid bound; ValueError for an option that is not a bound."""
    if options.for_subject is not None or options.reason is not None:
        raise ValueError("--for and --reason are a grant's, not an approval's: a request's subject and reason stay")
    if not options.any:
        return None
    fields: dict[str, Any] = {
        "max_numbers": options.max_numbers, "max_total_usd": options.max_total,
        "countries": _split(options.countries), "number_types": _split(options.types),
        "tools": _split(options.purchase_tools),
        "expires_in_minutes": parse_duration(options.expires_in) if options.expires_in is not None else None,
    }  # fmt: skip
    return lower(Bounds.from_args(approval.args), fields).args()


def grant_approved(settings: Settings, store: ApprovalStore, server_store: Store, approval_id: str) -> str | None:
    """Carry out a mandate request the operator just approved: granted now (the server would otherwise grant it only
    when the agent asks), once across every process (the approval's executed claim)."""
    from telnyx_numbers_mcp.approvals.gate import outcome_of
    from telnyx_numbers_mcp.calls import results

    approval = store.get(approval_id)
    if approval is None or not store.transition(approval_id, from_status="approved", to_status="executed",
                                                mode=approval.mode):  # fmt: skip
        return None
    book = SpendBook(store)
    bounds = Bounds.from_args(approval.args)
    mandate = grant(book, bounds, mode=approval.mode or Mode.of(settings).key,
                    granted_by=approval.decided_by or _who(), approval_id=approval.id)  # fmt: skip
    text = granted_text(mandate)
    store.record_outcome(approval_id, outcome_of(results.structured(mandate.data(), text, sandbox=settings.sandbox)))
    _audit(settings, server_store).append({"event": "mandate_granted", **granted_record(mandate),
                                           **Mode.of(settings).record()})  # fmt: skip
    return text
