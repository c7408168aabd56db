"""The approvals store: one row per approval, moved between statuses only by conditional updates, so an
approval is decided once and executed at most once across concurrent calls and server processes.

Each approval is bound to the mode it was made under (mode.py); while one is pending, the same request (tool,
arguments, mode, requester) gets that one back, and a requester has at most --max-pending-approvals waiting.
The per-day lookup budget (--lookup-budget) is counted here too, shared by every process on the store.

ApprovalStore holds the logic and the SQL text once; a backend (SqliteApprovalStore, the embedded default, a
file in the state folder; PostgresApprovalStore in store/postgres.py) only runs statements and transactions."""

from __future__ import annotations

import builtins
import json
import secrets
import sqlite3
import threading
import time
from abc import ABC, abstractmethod
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal, TypeVar, cast

from telnyx_numbers_mcp.store.sqlite import enable_wal, migrate

Status = Literal["pending", "approved", "declined", "expired", "executed"]
STATUSES: tuple[Status, ...] = ("pending", "approved", "declined", "expired", "executed")
T = TypeVar("T")
# one statement inside a transaction: (rows changed, rows returned)
Run = Callable[[str, Sequence[Any]], tuple[int, "builtins.list[tuple[Any, ...]]"]]


@dataclass(frozen=True)
class Approval:
    """One approval as stored; `args` are exactly the arguments that will be sent once approved."""

    id: str
    tool: str
    args_digest: str
    args: dict[str, Any]
    summary: str
    status: Status
    channel: str  # where the human is asked, then where the decision came from
    created_at: float
    expires_at: float
    decided_by: str | None = None
    decided_at: float | None = None
    executed_at: float | None = None
    outcome: dict[str, Any] | None = None
    mode: str | None = None  # what it was made under (mode.py Mode.key); None: before modes were recorded
    requester: str | None = None  # who asked (hosted: ISSUER#SUBJECT, auth/identity.py); None: the local user
    requester_client: str | None = None  # the client their token was issued to (client_id or azp)

    def expired(self, now: float | None = None) -> bool:
        """Past its expiry while still open: pending, or approved but not yet carried out."""
        return self.status in ("pending", "approved") and (time.time() if now is None else now) >= self.expires_at


class TooManyPending(Exception):
    """The requester already has --max-pending-approvals approvals waiting; nothing was stored."""

    def __init__(self, pending: builtins.list[Approval]) -> None:
        super().__init__(f"{len(pending)} approvals are pending")
        self.pending = pending


def new_id() -> str:
    """Unique, not secret: the model sees it. The secret of a review URL is derived elsewhere (keys.py)."""
    return "ap_" + secrets.token_hex(10)


class ApprovalStore(ABC):
    """The approvals logic over any SQL database, written once: a backend supplies only its placeholder style
    and how to run one statement or one transaction. Every state change is one conditional UPDATE, so it is
    atomic; making an approval (and taking a lookup) is one transaction."""

    placeholder = "?"  # the DB-API paramstyle marker ("?" for sqlite3, "%s" for psycopg)

    @abstractmethod
    def _write(self, sql: str, params: Sequence[Any]) -> int:
        """Run one statement, committed on return; the number of rows it changed."""

    @abstractmethod
    def _read(self, sql: str, params: Sequence[Any]) -> builtins.list[tuple[Any, ...]]:
        """Run one query; its rows as tuples."""

    @abstractmethod
    def _transaction(self, work: Callable[[Run], T]) -> T:
        """Run `work` in one transaction that takes the write lock before its first statement (SQLite) or
        holds the row locks its statements take until it commits (PostgreSQL); committed on return."""

    def _sql(self, text: str) -> str:
        """`text` written with `?` markers, in this backend's placeholder style."""
        return text.replace("?", self.placeholder)

    def open(
        self,
        *,
        tool: str,
        args: dict[str, Any],
        args_digest: str,
        summary: str,
        channel: str,
        ttl: float,
        mode: str,
        requester: str | None = None,
        requester_client: str | None = None,
        max_pending: int | None = None,
    ) -> tuple[Approval, bool]:
        """The pending approval for this request: the one already waiting for the same tool, arguments, mode
        and requester (False), or a new one (True). TooManyPending, storing nothing, when the requester
        already has `max_pending` others waiting. One transaction that first locks the requester's row, so
        concurrent requests in any number of processes make one approval and never pass the limit."""
        who = requester or ""
        now = time.time()
        approval = Approval(
            id=new_id(), tool=tool, args_digest=args_digest, args=args, summary=summary, status="pending",
            channel=channel, created_at=now, expires_at=now + ttl, mode=mode, requester=requester,
            requester_client=requester_client,
        )  # fmt: skip

        def work(run: Run) -> tuple[Approval, bool] | builtins.list[Approval]:
            run(self._sql(
                "INSERT INTO approval_requesters (requester, asked_at) VALUES (?, ?) "
                "ON CONFLICT (requester) DO UPDATE SET asked_at = excluded.asked_at"), (who, now))  # fmt: skip
            run(self._sql(
                "UPDATE approvals SET status = 'expired', decided_at = ? "
                "WHERE status = 'pending' AND expires_at <= ? AND COALESCE(requester, '') = ?"),
                (now, now, who))  # fmt: skip
            same = self._same(run, tool, args_digest, mode, who)
            if same is not None:
                return same, False
            pending = self._waiting(run, who)
            if max_pending is not None and len(pending) >= max_pending:
                return pending
            inserted, _ = run(self._sql(
                f"INSERT INTO approvals ({COLUMNS}) VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?) ON CONFLICT DO NOTHING"),
                (approval.id, tool, args_digest, json.dumps(args, sort_keys=True), summary, "pending", channel,
                 None, now, approval.expires_at, None, None, None, mode, requester, requester_client))  # fmt: skip
            if inserted == 1:
                return approval, True
            same = self._same(run, tool, args_digest, mode, who)  # a writer outside this lock (never ours)
            if same is None:
                raise RuntimeError(f"approval for {tool} neither inserted nor found")
            return same, False

        result = self._transaction(work)
        if isinstance(result, builtins.list):
            raise TooManyPending(result)
        return result

    def _same(self, run: Run, tool: str, digest: str, mode: str, who: str) -> Approval | None:
        _, rows = run(self._sql(
            f"SELECT {COLUMNS} FROM approvals WHERE status = 'pending' AND tool = ? AND args_digest = ? "
            "AND mode = ? AND COALESCE(requester, '') = ?"), (tool, digest, mode, who))  # fmt: skip
        return row_to_approval(rows[0]) if rows else None

    def _waiting(self, run: Run, who: str) -> builtins.list[Approval]:
        _, rows = run(self._sql(
            f"SELECT {COLUMNS} FROM approvals WHERE status = 'pending' AND COALESCE(requester, '') = ? "
            "ORDER BY created_at"), (who,))  # fmt: skip
        return [row_to_approval(r) for r in rows]

    def waiting(self, requester: str | None = None) -> builtins.list[Approval]:
        """The requester's pending approvals that have not expired, oldest first (a cheap look before asking)."""
        now = time.time()
        return [a for a in self._waiting(self._run_read, requester or "") if not a.expired(now)]

    def _run_read(self, sql: str, params: Sequence[Any]) -> tuple[int, builtins.list[tuple[Any, ...]]]:
        """One query outside a transaction, shaped as `Run`."""
        return 0, self._read(sql, params)

    def get(self, approval_id: str) -> Approval | None:
        rows = self._read(self._sql(f"SELECT {COLUMNS} FROM approvals WHERE id = ?"), (approval_id,))
        return row_to_approval(rows[0]) if rows else None

    def transition(
        self,
        approval_id: str,
        *,
        from_status: Status,
        to_status: Status,
        channel: str | None = None,
        decided_by: str | None = None,
        mode: str | None = None,
        args: dict[str, Any] | None = None,
    ) -> bool:
        """Move from `from_status` to `to_status` if, and only if, the approval is in `from_status` now (and,
        leaving `pending` or `approved`, not past its expiry unless the target is `expired`; and made under
        `mode` when given). `args` replace the stored arguments in the same update: what the human approved when
        they lowered a mandate's bounds (its digest stays the request's). True if this caller won."""
        if from_status not in STATUSES or to_status not in STATUSES:
            raise ValueError(f"unknown status {from_status!r} -> {to_status!r}")
        now = time.time()
        sets = ["status = ?"]
        values: builtins.list[Any] = [to_status]
        if to_status in ("approved", "declined") or (to_status == "expired" and from_status == "pending"):
            sets += ["decided_at = ?"]
            values += [now]
        if to_status == "executed":
            sets += ["executed_at = ?"]
            values += [now]
        if channel is not None:
            sets += ["channel = ?"]
            values += [channel]
        if decided_by is not None:
            sets += ["decided_by = ?"]
            values += [decided_by]
        if args is not None:
            sets += ["args_json = ?"]
            values += [json.dumps(args, sort_keys=True)]
        where = "id = ? AND status = ?"
        values += [approval_id, from_status]
        if from_status in ("pending", "approved"):  # a decision, or a send, after the expiry is none
            where += " AND expires_at > ?" if to_status != "expired" else " AND expires_at <= ?"
            values += [now]
        if mode is not None:
            where += " AND mode = ?"
            values += [mode]
        return self._write(self._sql(f"UPDATE approvals SET {', '.join(sets)} WHERE {where}"), values) == 1

    def rechannel(self, approval_id: str, *, from_channel: str, to_channel: str) -> bool:
        """Move a pending, unexpired approval to another channel if, and only if, it is still on `from_channel`
        (so of concurrent movers exactly one wins, and only it tells the human). True if this caller won."""
        changed = self._write(
            self._sql("UPDATE approvals SET channel = ? WHERE id = ? AND status = 'pending' AND channel = ? "
                      "AND expires_at > ?"),
            (to_channel, approval_id, from_channel, time.time()),
        )  # fmt: skip
        return changed == 1

    def record_outcome(self, approval_id: str, outcome: dict[str, Any]) -> bool:
        """Store the result of an executed approval, once; True if it was stored by this call."""
        changed = self._write(
            self._sql(
                "UPDATE approvals SET outcome_json = ? WHERE id = ? AND status = 'executed' AND outcome_json IS NULL"
            ),
            (json.dumps(outcome, sort_keys=True), approval_id),
        )
        return changed == 1

    def list(
        self, status: Status | None = None, limit: int | None = None, mode: str | None = None
    ) -> builtins.list[Approval]:
        """Newest first; every one unless `limit` says otherwise; only those made under `mode` when given."""
        query = f"SELECT {COLUMNS} FROM approvals"
        where: builtins.list[str] = []
        params: builtins.list[Any] = []
        if status is not None:
            where.append("status = ?")
            params.append(status)
        if mode is not None:
            where.append("mode = ?")
            params.append(mode)
        if where:
            query += " WHERE " + " AND ".join(where)
        query += " ORDER BY created_at DESC"
        if limit is not None:
            query += " LIMIT ?"
            params.append(limit)
        return [row_to_approval(r) for r in self._read(self._sql(query), params)]

    def take_lookup(self, *, day: str, mode: str, budget: int, requester: str | None = None) -> int | None:
        """Use one of `budget` billed lookups of this UTC `day`, mode and requester, shared by every process on
        the store: its number (1-based), or None once they are spent. One transaction; the increment is
        conditional, so concurrent takers never pass the budget."""
        if budget <= 0:
            return None
        key = (day, requester or "", mode)

        def work(run: Run) -> int | None:
            run(self._sql(
                "INSERT INTO lookup_budget (day, requester, mode, used) VALUES (?, ?, ?, 0) "
                "ON CONFLICT (day, requester, mode) DO NOTHING"), key)  # fmt: skip
            taken, _ = run(self._sql(
                "UPDATE lookup_budget SET used = used + 1 WHERE day = ? AND requester = ? AND mode = ? AND used < ?"),
                (*key, budget))  # fmt: skip
            if taken != 1:
                return None
            _, rows = run(self._sql("SELECT used FROM lookup_budget WHERE day = ? AND requester = ? AND mode = ?"), key)
            return int(rows[0][0])

        return self._transaction(work)

    def close(self) -> None:  # noqa: B027 - optional for backends without resources
        """Release the backend's resources."""


COLUMNS = (
    "id, tool, args_digest, args_json, summary, status, channel, decided_by, created_at, expires_at, "
    "decided_at, executed_at, outcome_json, mode, requester, requester_client"
)


class SqliteApprovalStore(ApprovalStore):
    """SQLite in WAL mode with a busy timeout: several processes on one machine can share the file."""

    def __init__(self, path: Path | str) -> None:
        self.path = Path(path)
        if str(path) != ":memory:":
            self.path.parent.mkdir(parents=True, exist_ok=True)
        self._lock = threading.Lock()  # one connection, used from the event loop and the review listener
        self._db = sqlite3.connect(str(path), timeout=10.0, isolation_level=None, check_same_thread=False)
        self._db.execute("PRAGMA busy_timeout = 10000")
        if str(path) != ":memory:":
            enable_wal(self._db)
        self._db.execute("PRAGMA synchronous = FULL")  # a decision or an execution claim survives a crash
        with self._lock:
            migrate(self._db)  # the same tables as the store's (store/base.py MIGRATIONS)

    def _write(self, sql: str, params: Sequence[Any]) -> int:
        with self._lock:
            return self._db.execute(sql, params).rowcount

    def _read(self, sql: str, params: Sequence[Any]) -> builtins.list[tuple[Any, ...]]:
        with self._lock:
            return [tuple(row) for row in self._db.execute(sql, params).fetchall()]

    def _transaction(self, work: Callable[[Run], T]) -> T:
        def run(sql: str, params: Sequence[Any]) -> tuple[int, builtins.list[tuple[Any, ...]]]:
            cursor = self._db.execute(sql, params)
            return cursor.rowcount, [tuple(row) for row in cursor.fetchall()]

        with self._lock:
            self._db.execute("BEGIN IMMEDIATE")  # the write lock first: other processes wait (busy timeout)
            try:
                result = work(run)
            except BaseException:
                self._db.execute("ROLLBACK")
                raise
            self._db.execute("COMMIT")
            return result

    def close(self) -> None:
        with self._lock:
            self._db.close()


def row_to_approval(row: tuple[Any, ...]) -> Approval:
    (id_, tool, digest, args_json, summary, status, channel, decided_by, created, expires, decided, executed,
     outcome_json, mode, requester, requester_client) = row  # fmt: skip
    return Approval(
        id=id_, tool=tool, args_digest=digest, args=json.loads(args_json), summary=summary,
        status=cast(Status, status), channel=channel, decided_by=decided_by, created_at=created,
        expires_at=expires, decided_at=decided, executed_at=executed,
        outcome=json.loads(outcome_json) if outcome_json else None, mode=mode, requester=requester,
        requester_client=requester_client,
    )  # fmt: skip
