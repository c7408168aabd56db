"""The spending ledger and the mandates, in the server's store (the same database and backends as the approvals:
SQLite or PostgreSQL, approvals/store.py runs the statements).

Every change that must fit a limit or a mandate is one transaction that first takes the mode's lock row (an upsert:
SQLite's BEGIN IMMEDIATE already holds the file's write lock; PostgreSQL holds the row's lock until commit), then
reads the sums and the mandate and writes the hold. So concurrent purchases in any number of processes and replicas
on one store never pass a limit or a mandate together: 20 purchases against a mandate with room for 3 hold 3.

A hold is `held` from just before its purchase is sent; `spent` once Telnyx accepted it, or when it may have reached
Telnyx (a timeout after sending never frees money that was maybe spent); `released` when Telnyx refused it or it failed
before sending (a mandate's use is given back then). Held and spent both count against the limits."""

from __future__ import annotations

import builtins
import hashlib
import secrets
import time
from collections.abc import Sequence
from dataclasses import dataclass, replace
from typing import Any, Literal

from telnyx_numbers_mcp.approvals.store import ApprovalStore, Run
from telnyx_numbers_mcp.spend.amount import Purchase
from telnyx_numbers_mcp.spend.limits import PERIODS, SpendLimit
from telnyx_numbers_mcp.spend.mandates import Mandate
from telnyx_numbers_mcp.spend.money import day_of, month_of, next_day, next_month, usd, utc

State = Literal["held", "spent", "released"]
MANDATE_COLUMNS = (
    "id, mode, subject, max_numbers, max_micros, countries, number_types, tools, reason, granted_by, approval_id, "
    "created_at, expires_at, revoked_at, revoked_by, used_numbers, used_micros"
)
RECENT = 86_400.0  # a mandate that expired or was revoked this long ago is still named when it covers nothing
QUOTE_KEEP = 2 * 86_400.0  # remembered asked amounts older than this are dropped


@dataclass(frozen=True)
class Limits:
    """The limits that apply to one purchase: the store's (--spend-limit) and its subject's (--spend-limit-per-user,
    hosted only)."""

    store: SpendLimit | None = None
    per_user: SpendLimit | None = None

    @property
    def any(self) -> bool:
        return self.store is not None or self.per_user is not None


@dataclass(frozen=True)
class Sums:
    """Micro-dollars spent and held in one period, and how many holds of unknown cost it has."""

    spent: int = 0
    held: int = 0
    unknown: int = 0

    @property
    def used(self) -> int:
        return self.spent + self.held


@dataclass(frozen=True)
class Refusal:
    """A purchase over a limit (or of unknown cost while a limit is set): what is left and when the limit resets."""

    whose: str  # "everyone on this server" | "your"
    period: str  # daily | monthly
    limit: int
    used: int
    amount: int | None
    resets: float
    flag: str

    def text(self, tool: str) -> str:
        label = f"the {self.period} spending limit for everyone on this server" if self.whose == "store" else (
            f"your {self.period} spending limit")  # fmt: skip
        when = "today (UTC)" if self.period == "daily" else "this month (UTC)"
        left = max(0, self.limit - self.used)
        state = (f"{usd(self.used)} of {usd(self.limit)} USD is spent or held {when}, so {usd(left)} USD is left; "
                 f"it resets at {utc(self.resets)} ({self.flag})")  # fmt: skip
        if self.amount is None:
            return (f"{tool}: its cost could not be determined, and {label} is set, so it is refused (a limit "
                    f"counts every purchase): {state}.")  # fmt: skip
        return f"{tool} would count {usd(self.amount)} USD (upfront plus the first month), over {label}: {state}."


@dataclass(frozen=True)
class Hold:
    """Money held for one purchase that is about to be sent."""

    id: str
    mode: str
    subject: str
    tool: str
    numbers: int
    amount: int | None
    mandate_id: str | None = None

    def record(self) -> dict[str, Any]:
        """For the audit trail."""
        return {"ledger_id": self.id, "amount_usd": usd(self.amount) if self.amount is not None else None,
                "numbers": self.numbers, "mandate_id": self.mandate_id, "subject": self.subject or None}  # fmt: skip


@dataclass(frozen=True)
class Use:
    """A mandate paid for a purchase: its hold, and the mandate as it stands after."""

    hold: Hold
    mandate: Mandate


@dataclass(frozen=True)
class Miss:
    """No mandate covers the purchase: why each one that exists (or ended lately) does not."""

    reasons: tuple[str, ...] = ()


def quote_key(mode: str, tool: str, digest: str) -> str:
    return hashlib.sha256(f"{mode}\n{tool}\n{digest}".encode()).hexdigest()


def row_to_mandate(row: Sequence[Any]) -> Mandate:
    (id_, mode, subject, max_numbers, max_micros, countries, kinds, tools, reason, granted_by, approval_id, created,
     expires, revoked, revoked_by, used_numbers, used_micros) = row  # fmt: skip

    def split(text: str) -> tuple[str, ...]:
        return tuple(v for v in str(text).split(",") if v)

    return Mandate(
        id=id_, mode=mode, subject=subject, max_numbers=int(max_numbers), max_micros=int(max_micros),
        countries=split(countries), number_types=split(kinds), tools=split(tools), reason=reason,
        granted_by=granted_by, approval_id=approval_id, created_at=float(created), expires_at=float(expires),
        revoked_at=float(revoked) if revoked is not None else None, revoked_by=revoked_by,
        used_numbers=int(used_numbers), used_micros=int(used_micros),
    )  # fmt: skip


class SpendBook:
    """The ledger and the mandates over the approvals store's backend (one database, one transaction discipline)."""

    def __init__(self, store: ApprovalStore) -> None:
        self._store = store

    # --- plumbing: statements written with `?`, run by the approvals store's backend ------------------------

    def _tx(self, work: Any) -> Any:
        def sql_run(run: Run) -> Any:
            return work(lambda sql, params: run(self._store._sql(sql), params))

        return self._store._transaction(sql_run)

    def _read(self, sql: str, params: Sequence[Any]) -> builtins.list[tuple[Any, ...]]:
        return self._store._read(self._store._sql(sql), params)

    @staticmethod
    def _lock(run: Run, mode: str, now: float) -> None:
        """The mode's lock row: every transaction that must fit a limit or a mandate takes it first."""
        run("INSERT INTO spend_locks (mode, at) VALUES (?, ?) ON CONFLICT (mode) DO UPDATE SET at = excluded.at",
            (mode, now))  # fmt: skip

    # --- sums and limits -----------------------------------------------------------------------------------

    @staticmethod
    def _sums(run: Run, mode: str, period: str, key: str, subject: str | None) -> Sums:
        column = "day" if period == "daily" else "month"
        where = f"mode = ? AND {column} = ? AND state IN ('held', 'spent')"
        params: list[Any] = [mode, key]
        if subject is not None:
            where += " AND subject = ?"
            params.append(subject)
        _, rows = run(f"SELECT state, COALESCE(SUM(amount_micros), 0), SUM(CASE WHEN amount_micros IS NULL THEN 1 "
                      f"ELSE 0 END) FROM spend_ledger WHERE {where} GROUP BY state", params)  # fmt: skip
        found = {state: (int(total), int(unknown or 0)) for state, total, unknown in rows}
        spent, held = found.get("spent", (0, 0)), found.get("held", (0, 0))
        return Sums(spent=spent[0], held=held[0], unknown=spent[1] + held[1])

    def _over(
        self, run: Run, mode: str, subject: str, amount: int | None, limits: Limits, now: float
    ) -> Refusal | None:
        checks: list[tuple[str, SpendLimit | None, str | None, str]] = [("store", limits.store, None, "--spend-limit")]
        if subject and limits.per_user is not None:
            checks.append(("user", limits.per_user, subject, "--spend-limit-per-user"))
        for whose, limit, who, flag in checks:
            if limit is None:
                continue
            for period in PERIODS:
                most = limit.of(period)
                if most is None:
                    continue
                key, resets = (day_of(now), next_day(now)) if period == "daily" else (month_of(now), next_month(now))
                used = self._sums(run, mode, period, key, who).used
                if amount is None or used + amount > most:
                    return Refusal(whose, period, most, used, amount, resets, flag)
        return None

    def over(self, mode: str, subject: str, amount: int | None, limits: Limits) -> Refusal | None:
        """Would `amount` pass the limits now? A look before anyone is asked (no hold, no lock)."""
        if not limits.any:
            return None
        return self._over(self._run_read, mode, subject, amount, limits, time.time())

    def _run_read(self, sql: str, params: Sequence[Any]) -> tuple[int, builtins.list[tuple[Any, ...]]]:
        return 0, self._read(sql, params)

    def totals(self, mode: str, subject: str | None, now: float) -> dict[str, Sums]:
        """Today's and this month's sums under `mode`: everyone's, or one subject's."""
        return {
            "daily": self._sums(self._run_read, mode, "daily", day_of(now), subject),
            "monthly": self._sums(self._run_read, mode, "monthly", month_of(now), subject),
        }

    # --- what a purchase counted when it was asked ------------------------------------------------------------

    def remember(self, key: str, amount: int | None, subject: str) -> None:
        now = time.time()

        def work(run: Run) -> None:
            run("INSERT INTO spend_quotes (key, amount_micros, subject, created_at) VALUES (?, ?, ?, ?) ON CONFLICT "
                "(key) DO UPDATE SET amount_micros = excluded.amount_micros, subject = excluded.subject, "
                "created_at = excluded.created_at", (key, amount, subject, now))  # fmt: skip
            run("DELETE FROM spend_quotes WHERE created_at < ?", (now - QUOTE_KEEP,))

        self._tx(work)

    def recalled(self, key: str) -> tuple[int | None, str] | None:
        rows = self._read("SELECT amount_micros, subject FROM spend_quotes WHERE key = ?", (key,))
        return (None if rows[0][0] is None else int(rows[0][0]), str(rows[0][1])) if rows else None

    # --- holds ---------------------------------------------------------------------------------------------

    def _insert(self, run: Run, hold: Hold, now: float, approval_id: str | None, reference: str | None) -> None:
        run("INSERT INTO spend_ledger (id, mode, subject, tool, numbers, amount_micros, state, day, month, mandate_id, "
            "approval_id, reference, created_at) VALUES (?, ?, ?, ?, ?, ?, 'held', ?, ?, ?, ?, ?, ?)",
            (hold.id, hold.mode, hold.subject, hold.tool, hold.numbers, hold.amount, day_of(now), month_of(now),
             hold.mandate_id, approval_id, reference, now))  # fmt: skip

    def hold(
        self, mode: str, subject: str, purchase: Purchase, limits: Limits, *, approval_id: str | None = None,
        reference: str | None = None,
    ) -> Hold | Refusal:  # fmt: skip
        """Hold what `purchase` counts if it fits the limits: one transaction under the mode's lock."""
        hold = Hold("sp_" + secrets.token_hex(10), mode, subject, purchase.tool, purchase.count, purchase.amount)

        def work(run: Run) -> Hold | Refusal:
            now = time.time()
            self._lock(run, mode, now)
            refusal = self._over(run, mode, subject, purchase.amount, limits, now) if limits.any else None
            if refusal is not None:
                return refusal
            self._insert(run, hold, now, approval_id, reference)
            return hold

        result: Hold | Refusal = self._tx(work)
        return result

    def settle(self, hold: Hold, state: State) -> bool:
        """Spent or released, once; a release gives a mandate's use back. True if this call settled it."""

        def work(run: Run) -> bool:
            now = time.time()
            self._lock(run, hold.mode, now)
            changed, _ = run("UPDATE spend_ledger SET state = ?, settled_at = ? WHERE id = ? AND state = 'held'",
                             (state, now, hold.id))  # fmt: skip
            if changed == 1 and state == "released" and hold.mandate_id is not None:
                run("UPDATE mandates SET used_numbers = used_numbers - ?, used_micros = used_micros - ? WHERE id = ?",
                    (hold.numbers, hold.amount or 0, hold.mandate_id))  # fmt: skip
            return changed == 1

        settled: bool = self._tx(work)
        return settled

    # --- mandates ------------------------------------------------------------------------------------------

    def grant(self, mandate: Mandate) -> Mandate:
        """Store a new mandate; one granted for the same approval before is returned instead (granted once)."""

        def work(run: Run) -> Mandate:
            self._lock(run, mandate.mode, time.time())
            m = mandate
            added, _ = run(f"INSERT INTO mandates ({MANDATE_COLUMNS}) VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?) "
                           "ON CONFLICT DO NOTHING",
                           (m.id, m.mode, m.subject, m.max_numbers, m.max_micros, ",".join(m.countries),
                            ",".join(m.number_types), ",".join(m.tools), m.reason, m.granted_by, m.approval_id,
                            m.created_at, m.expires_at, None, None, 0, 0))  # fmt: skip
            if added == 1 or m.approval_id is None:
                return m
            _, rows = run(f"SELECT {MANDATE_COLUMNS} FROM mandates WHERE approval_id = ?", (m.approval_id,))
            return row_to_mandate(rows[0])

        granted: Mandate = self._tx(work)
        return granted

    def get(self, mandate_id: str) -> Mandate | None:
        rows = self._read(f"SELECT {MANDATE_COLUMNS} FROM mandates WHERE id = ?", (mandate_id,))
        return row_to_mandate(rows[0]) if rows else None

    def mandates(self, mode: str | None = None, subject: str | None = None) -> builtins.list[Mandate]:
        """Newest first; under `mode` and for `subject` when given."""
        where, params = [], []
        if mode is not None:
            where.append("mode = ?")
            params.append(mode)
        if subject is not None:
            where.append("subject = ?")
            params.append(subject)
        clause = f" WHERE {' AND '.join(where)}" if where else ""
        rows = self._read(f"SELECT {MANDATE_COLUMNS} FROM mandates{clause} ORDER BY created_at DESC", params)
        return [row_to_mandate(r) for r in rows]

    def revoke(self, mandate_id: str, by: str) -> bool:
        """Revoke now, once: a purchase that took from it before goes on; none after. True if this call revoked it."""
        found = self.get(mandate_id)
        if found is None:
            return False

        def work(run: Run) -> bool:
            now = time.time()
            self._lock(run, found.mode, now)
            changed, _ = run("UPDATE mandates SET revoked_at = ?, revoked_by = ? WHERE id = ? AND revoked_at IS NULL",
                             (now, by, mandate_id))  # fmt: skip
            return changed == 1

        revoked: bool = self._tx(work)
        return revoked

    def use(
        self, mode: str, subject: str, purchase: Purchase, limits: Limits, *, reference: str | None = None
    ) -> Use | Miss | Refusal:
        """Take `purchase` from the first active mandate (the one ending soonest) that covers it entirely, and hold its
        amount: one transaction under the mode's lock, so concurrent purchases never take more than a mandate has.
        A purchase a mandate covers but a limit does not allow is refused; one no mandate covers is a Miss."""
        recent = (mode, subject, time.time() - RECENT)
        if not self._read("SELECT 1 FROM mandates WHERE mode = ? AND subject = ? AND expires_at > ? LIMIT 1", recent):
            return Miss()  # the usual case: no mandate at all, so no write lock is taken

        def work(run: Run) -> Use | Miss | Refusal:
            now = time.time()
            self._lock(run, mode, now)
            _, rows = run(f"SELECT {MANDATE_COLUMNS} FROM mandates WHERE mode = ? AND subject = ? AND expires_at > ? "
                          "ORDER BY expires_at, id", (mode, subject, now - RECENT))  # fmt: skip
            reasons: list[str] = []
            for mandate in (row_to_mandate(r) for r in rows):
                why = mandate.misses(purchase, now)
                if why is not None:
                    reasons.append(f"{mandate.id} {why}")
                    continue
                refusal = self._over(run, mode, subject, purchase.amount, limits, now) if limits.any else None
                if refusal is not None:
                    return refusal
                count, amount = purchase.count, purchase.amount or 0
                taken, _ = run("UPDATE mandates SET used_numbers = used_numbers + ?, used_micros = used_micros + ? "
                               "WHERE id = ? AND revoked_at IS NULL AND expires_at > ? AND used_numbers + ? <= "
                               "max_numbers AND used_micros + ? <= max_micros",
                               (count, amount, mandate.id, now, count, amount))  # fmt: skip
                if taken != 1:  # never: the lock is held; a row changed outside it is not used
                    continue
                hold = Hold("sp_" + secrets.token_hex(10), mode, subject, purchase.tool, count, purchase.amount,
                            mandate.id)  # fmt: skip
                self._insert(run, hold, now, None, reference)
                after = replace(mandate, used_numbers=mandate.used_numbers + count,
                                used_micros=mandate.used_micros + amount)  # fmt: skip
                return Use(hold, after)
            return Miss(tuple(reasons))

        result: Use | Miss | Refusal = self._tx(work)
        return result
