"""The approvals store: one row per approval, moved between statuses only by conditional updates, so an
approval is decided once and executed at most once across concurrent calls and server processes.

ApprovalStore holds the logic and the SQL text once; a backend (SqliteApprovalStore, the embedded default, a
file in the state folder; PostgresApprovalStore in store/postgres.py) only runs statements."""

from __future__ import annotations

import builtins
import json
import secrets
import sqlite3
import threading
import time
from abc import ABC, abstractmethod
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal, cast

from telnyx_numbers_mcp.store.sqlite import enable_wal

Status = Literal["pending", "approved", "declined", "expired", "executed"]
STATUSES: tuple[Status, ...] = ("pending", "approved", "declined", "expired", "executed")


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

    def expired(self, now: float | None = None) -> bool:
        return self.status == "pending" and (time.time() if now is None else now) >= self.expires_at


def new_id() -> str:
    """Unique, not secret: the model sees it. The secret of a review URL is derived elsewhere (keys.py)."""
    return "ap_" + secrets.token_hex(10)


class ApprovalStore(ABC):
    """The approvals logic over any SQL database, written once: a backend supplies only its placeholder style
    and how to run one statement. Every state change is one conditional UPDATE, so it is atomic."""

    placeholder = "?"  # the DB-API paramstyle marker ("?" for sqlite3, "%s" for psycopg)

    @abstractmethod
    def _write(self, sql: str, params: Sequence[Any]) -> int:
        """Run one statement, committed on return; the number of rows it changed."""

    @abstractmethod
    def _read(self, sql: str, params: Sequence[Any]) -> builtins.list[tuple[Any, ...]]:
        """Run one query; its rows as tuples."""

    def _sql(self, text: str) -> str:
        """`text` written with `?` markers, in this backend's placeholder style."""
        return text.replace("?", self.placeholder)

    def create(
        self, *, tool: str, args: dict[str, Any], args_digest: str, summary: str, channel: str, ttl: float
    ) -> Approval:
        now = time.time()
        approval = Approval(
            id=new_id(), tool=tool, args_digest=args_digest, args=args, summary=summary, status="pending",
            channel=channel, created_at=now, expires_at=now + ttl,
        )  # fmt: skip
        self._write(
            self._sql(f"INSERT INTO approvals ({COLUMNS}) VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?)"),
            (approval.id, tool, args_digest, json.dumps(args, sort_keys=True), summary, "pending", channel,
             None, now, approval.expires_at, None, None, None),
        )  # fmt: skip
        return approval

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
    ) -> bool:
        """Move from `from_status` to `to_status` if, and only if, the approval is in `from_status` now
        (and, leaving `pending`, not past its expiry unless the target is `expired`). True if this caller won."""
        if from_status not in STATUSES or to_status not in STATUSES:
            raise ValueError(f"unknown status {from_status!r} -> {to_status!r}")
        now = time.time()
        sets = ["status = ?"]
        values: builtins.list[Any] = [to_status]
        if to_status in ("approved", "declined", "expired"):
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
        where = "id = ? AND status = ?"
        values += [approval_id, from_status]
        if from_status == "pending":  # a decision after the expiry is no decision
            where += " AND expires_at > ?" if to_status != "expired" else " AND expires_at <= ?"
            values += [now]
        return self._write(self._sql(f"UPDATE approvals SET {', '.join(sets)} WHERE {where}"), values) == 1

    def record_outcome(self, approval_id: str, outcome: dict[str, Any]) -> bool:
        """Store the result of an executed approval, once; True if it was stored by this call."""
        changed = self._write(
            self._sql(
                "UPDATE approvals SET outcome_json = ? WHERE id = ? AND status = 'executed' AND outcome_json IS NULL"
            ),
            (json.dumps(outcome, sort_keys=True), approval_id),
        )
        return changed == 1

    def list(self, status: Status | None = None, limit: int = 100) -> builtins.list[Approval]:
        query = f"SELECT {COLUMNS} FROM approvals"
        params: builtins.list[Any] = []
        if status is not None:
            query += " WHERE status = ?"
            params.append(status)
        query += " ORDER BY created_at DESC LIMIT ?"
        return [row_to_approval(r) for r in self._read(self._sql(query), (*params, limit))]

    def close(self) -> None:  # noqa: B027 - optional for backends without resources
        """Release the backend's resources."""


SCHEMA = """
CREATE TABLE IF NOT EXISTS approvals (
    id TEXT PRIMARY KEY,
    tool TEXT NOT NULL,
    args_digest TEXT NOT NULL,
    args_json TEXT NOT NULL,
    summary TEXT NOT NULL,
    status TEXT NOT NULL CHECK (status IN ('pending','approved','declined','expired','executed')),
    channel TEXT NOT NULL,
    decided_by TEXT,
    created_at REAL NOT NULL,
    expires_at REAL NOT NULL,
    decided_at REAL,
    executed_at REAL,
    outcome_json TEXT
);
CREATE INDEX IF NOT EXISTS approvals_status ON approvals (status, created_at);
"""
COLUMNS = (
    "id, tool, args_digest, args_json, summary, status, channel, decided_by, created_at, expires_at, "
    "decided_at, executed_at, outcome_json"
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
            self._db.executescript(SCHEMA)

    def _write(self, sql: str, params: Sequence[Any]) -> int:
        with self._lock:
            return self._db.execute(sql, params).rowcount

    def _read(self, sql: str, params: Sequence[Any]) -> builtins.list[tuple[Any, ...]]:
        with self._lock:
            return [tuple(row) for row in self._db.execute(sql, params).fetchall()]

    def close(self) -> None:
        with self._lock:
            self._db.close()


def row_to_approval(row: tuple[Any, ...]) -> Approval:
    (id_, tool, digest, args_json, summary, status, channel, decided_by, created, expires, decided, executed,
     outcome_json) = row  # fmt: skip
    return Approval(
        id=id_, tool=tool, args_digest=digest, args=json.loads(args_json), summary=summary,
        status=cast(Status, status), channel=channel, decided_by=decided_by, created_at=created,
        expires_at=expires, decided_at=decided, executed_at=executed,
        outcome=json.loads(outcome_json) if outcome_json else None,
    )  # fmt: skip
