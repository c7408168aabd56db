"""The embedded store: one SQLite file (WAL, synchronous=FULL, busy timeout) that several processes on one
machine can share; a commit is on disk when a call returns. An audit append is one BEGIN IMMEDIATE transaction
(the file's write lock, taken before the chain's head is read), so appends from several processes chain in order."""

from __future__ import annotations

import sqlite3
import threading
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any

from telnyx_numbers_mcp.statefolder import private_file
from telnyx_numbers_mcp.store import chain
from telnyx_numbers_mcp.store.base import (
    AUDIT_HEAD_COLUMNS,
    AUDIT_ROW_COLUMNS,
    MIGRATIONS,
    AuditKey,
    QuoteRecord,
    Store,
    audit_json,
)

if TYPE_CHECKING:
    from telnyx_numbers_mcp.approvals.store import ApprovalStore

__all__ = ["SqliteStore", "enable_wal", "migrate"]


def enable_wal(db: sqlite3.Connection) -> None:
    """Switch a file to WAL. The switch needs the file to itself, and SQLite answers "database is locked" at once,
    without waiting on the busy timeout, while another process is opening it too: retry for a while."""
    deadline = time.monotonic() + 30.0
    while True:
        try:
            db.execute("PRAGMA journal_mode = WAL")
            return
        except sqlite3.OperationalError as exc:
            if "locked" not in str(exc) or time.monotonic() > deadline:
                raise
            time.sleep(0.02)


def migrate(db: sqlite3.Connection) -> None:
    """Apply what is missing, once, even when several processes start together (BEGIN IMMEDIATE)."""
    db.execute("BEGIN IMMEDIATE")
    try:
        db.execute("CREATE TABLE IF NOT EXISTS schema_migrations (version INTEGER PRIMARY KEY)")
        done = {v for (v,) in db.execute("SELECT version FROM schema_migrations")}
        for version, statements in MIGRATIONS:
            if version in done:
                continue
            for sql in statements:
                db.execute(sql.format(serial="INTEGER", real="REAL"))
            db.execute("INSERT INTO schema_migrations (version) VALUES (?)", (version,))
        db.execute("COMMIT")
    except BaseException:
        db.execute("ROLLBACK")
        raise


class SqliteStore(Store):
    kind = "sqlite"

    def __init__(self, path: Path | str, *, audit_key: AuditKey) -> None:
        self.path = Path(path)
        self._audit_key = audit_key
        if str(path) != ":memory:":
            private_file(self.path)  # 0600 before SQLite makes it 0644 (the -wal and -shm files follow its mode)
        self._lock = threading.Lock()  # one connection, shared by the event loop and helper threads
        self._db = sqlite3.connect(str(path), timeout=30.0, isolation_level=None, check_same_thread=False)
        self._db.execute("PRAGMA busy_timeout = 30000")
        if str(path) != ":memory:":
            enable_wal(self._db)
        self._db.execute("PRAGMA synchronous = FULL")  # an audit record or a claim survives a crash
        self._migrate()

    def _migrate(self) -> None:
        with self._lock:
            migrate(self._db)

    def describe(self) -> str:
        return f"sqlite:///{self.path}"

    def ping(self) -> bool:
        try:
            with self._lock:
                self._db.execute("SELECT 1 FROM audit_events LIMIT 1").fetchall()
            return True
        except sqlite3.Error:
            return False

    def append_audit(self, entry: Mapping[str, Any]) -> int:
        key = self.audit_key()
        with self._lock:
            self._db.execute("BEGIN IMMEDIATE")  # the write lock first: no other writer moves the head meanwhile
            try:
                found = self._db.execute(f"SELECT {AUDIT_HEAD_COLUMNS} FROM audit_chain WHERE id = 1").fetchone()
                if found is None:
                    raise RuntimeError("the audit chain's head (table audit_chain) is missing; refusing to append")
                head = chain.ChainHead(*found)
                (top,) = self._db.execute("SELECT max(id) FROM audit_events").fetchone()
                # records before the chain are counted once, when it starts (a count reads the whole table)
                older = None if head.seq else self._db.execute("SELECT count(*), max(id) FROM audit_events").fetchone()
                store_id = max(top or 0, head.last_id or 0) + 1  # never reuse the id of a deleted newest record
                row, new = chain.link(key, head, store_id, str(entry["event_id"]), str(entry["ts"]), audit_json(entry),
                                      older=older)  # fmt: skip
                self._db.execute(
                    f"INSERT INTO audit_events ({AUDIT_ROW_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                    (row.id, row.event_id, row.ts, row.record, row.seq, row.prev_id, row.prev_mac, row.mac),
                )
                self._db.execute(
                    "UPDATE audit_chain SET seq = ?, last_id = ?, mac = ?, older = ?, older_last_id = ?, head_mac = ?"
                    " WHERE id = 1", (new.seq, new.last_id, new.mac, new.older, new.older_last_id, new.head_mac),
                )  # fmt: skip
                self._db.execute("COMMIT")
            except BaseException:
                if self._db.in_transaction:
                    self._db.execute("ROLLBACK")
                raise
        return store_id

    @contextmanager
    def audit_chain(self) -> Iterator[tuple[chain.ChainHead | None, Iterator[chain.ChainRow]]]:
        with self._lock:
            self._db.execute("BEGIN")  # a read transaction: one WAL snapshot for the head and every row
            try:
                found = self._db.execute(f"SELECT {AUDIT_HEAD_COLUMNS} FROM audit_chain WHERE id = 1").fetchone()
                head = chain.ChainHead(*found) if found else None
                rows = self._db.execute(f"SELECT {AUDIT_ROW_COLUMNS} FROM audit_events ORDER BY id")
                yield head, (chain.ChainRow(*r) for r in rows)
            finally:
                self._db.execute("COMMIT")

    def audit_rows(self, after: int = 0, limit: int | None = None) -> Iterator[tuple[int, str]]:
        with self._lock:
            rows = self._db.execute(
                "SELECT id, record FROM audit_events WHERE id > ? ORDER BY id LIMIT ?",
                (after, -1 if limit is None else limit),
            ).fetchall()
        for store_id, record in rows:
            yield int(store_id), str(record)

    def put_quote(self, record: QuoteRecord) -> None:
        r = record
        with self._lock:
            self._db.execute(
                "INSERT INTO quotes (nonce, tool, args_json, summary, expires_at, mode, requester)"
                " VALUES (?, ?, ?, ?, ?, ?, ?)",
                (r.nonce, r.tool, r.args_json, r.summary, r.expires_at, r.mode, r.requester),
            )

    def get_quote(self, nonce: str) -> QuoteRecord | None:
        with self._lock:
            row = self._db.execute(
                "SELECT nonce, tool, args_json, summary, expires_at, used_at, mode, requester FROM quotes"
                " WHERE nonce = ?",
                (nonce,),
            ).fetchone()
        if row is None:
            return None
        return QuoteRecord(
            row[0], row[1], row[2], row[3], float(row[4]), used=row[5] is not None, mode=row[6], requester=row[7]
        )

    def claim_quote(self, nonce: str, now: float) -> bool:
        with self._lock:
            cursor = self._db.execute("UPDATE quotes SET used_at = ? WHERE nonce = ? AND used_at IS NULL", (now, nonce))
        return cursor.rowcount == 1

    def prune_quotes(self, before: float) -> None:
        with self._lock:
            self._db.execute("DELETE FROM quotes WHERE expires_at < ?", (before,))

    def approvals(self) -> ApprovalStore:
        from telnyx_numbers_mcp.approvals.store import SqliteApprovalStore

        return SqliteApprovalStore(self.path)  # its own connection to the same file

    def close(self) -> None:
        with self._lock:
            self._db.close()
