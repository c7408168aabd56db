"""The shared store for replicas: PostgreSQL through psycopg 3 and a connection pool. Migrations run at
start under an advisory lock, so replicas starting together apply each one once. Every write is its own
committed statement; `claim_quote` is a conditional UPDATE, never a read followed by a write. The one exception is an
audit append: one transaction that locks the chain's head row (SELECT ... FOR UPDATE), inserts the record and moves
the head, so replicas appending together keep one linear chain."""

from __future__ import annotations

import builtins
import logging
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from typing import Any, TypeVar
from urllib.parse import urlsplit, urlunsplit

from telnyx_numbers_mcp.approvals.store import ApprovalStore, Run
from telnyx_numbers_mcp.errors import ConfigError
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

__all__ = ["PostgresApprovalStore", "PostgresStore", "redact_url"]

log = logging.getLogger("telnyx_numbers_mcp.store")
T = TypeVar("T")
_MIGRATION_LOCK = 0x7E1E_0015  # pg_advisory_xact_lock key: one migrating replica at a time


def redact_url(url: str) -> str:
    """The URL with its password replaced, for messages and logs."""
    parts = urlsplit(url)
    if parts.password is None:
        return url
    netloc = parts.netloc.rsplit("@", 1)
    user = (parts.username or "") + ":***"
    return urlunsplit(parts._replace(netloc=f"{user}@{netloc[-1]}"))


class PostgresStore(Store):
    kind = "postgresql"

    def __init__(self, url: str, *, audit_key: AuditKey, max_size: int = 8, connect_timeout: float = 10.0) -> None:
        self._audit_key = audit_key
        try:
            import psycopg
            from psycopg_pool import ConnectionPool
        except ImportError:
            raise ConfigError(
                "a postgresql:// store needs psycopg 3 and psycopg-pool: pip install 'telnyx-numbers-mcp[postgres]'"
            ) from None
        self._url_shown = redact_url(url)
        self._errors: tuple[type[BaseException], ...] = (psycopg.Error, OSError)
        self._pool = ConnectionPool(
            url,
            min_size=1,
            max_size=max_size,
            kwargs={"autocommit": True},
            check=ConnectionPool.check_connection,  # a connection broken by a database restart is replaced
            open=False,
            timeout=connect_timeout,
            name="telnyx-numbers-mcp",
        )
        try:
            self._pool.open(wait=True, timeout=connect_timeout)
            self._migrate()
        except Exception as exc:
            self._pool.close()
            raise ConfigError(
                f"cannot use the store {self._url_shown}: {exc.__class__.__name__}: "
                f"{str(exc).replace(url, self._url_shown)[:300]}"
            ) from None

    def _migrate(self) -> None:
        with self._pool.connection() as conn, conn.transaction():
            conn.execute("SELECT pg_advisory_xact_lock(%s)", (_MIGRATION_LOCK,))
            conn.execute("CREATE TABLE IF NOT EXISTS schema_migrations (version INTEGER PRIMARY KEY)")
            done = {row[0] for row in conn.execute("SELECT version FROM schema_migrations")}
            for version, statements in MIGRATIONS:
                if version in done:
                    continue
                for sql in statements:
                    conn.execute(sql.format(serial="BIGSERIAL", real="DOUBLE PRECISION").encode())
                conn.execute("INSERT INTO schema_migrations (version) VALUES (%s)", (version,))
                log.info("store %s: applied migration %d", self._url_shown, version)

    def describe(self) -> str:
        return self._url_shown

    def ping(self) -> bool:
        try:
            with self._pool.connection(timeout=3.0) as conn:
                conn.execute("SELECT 1 FROM audit_events LIMIT 1").fetchall()
            return True
        except Exception:  # any failure means "not ready"; /readyz must answer, not raise
            return False

    def append_audit(self, entry: Mapping[str, Any]) -> int:
        key = self.audit_key()
        # pipeline mode: BEGIN goes with the head's SELECT, and the INSERT with COMMIT (two round trips, not four)
        with self._pool.connection() as conn, conn.pipeline(), conn.transaction():
            # The head row's lock serialises appends from every replica until this transaction commits. The store id
            # is drawn once the lock is held (outside the locking CTE), so ids grow in chain order.
            found = conn.execute(
                f"WITH head AS (SELECT {AUDIT_HEAD_COLUMNS} FROM audit_chain WHERE id = 1 FOR UPDATE)"
                " SELECT head.*, nextval('audit_events_id_seq') FROM head".encode()
            ).fetchone()
            if found is None:
                raise RuntimeError("the audit chain's head (table audit_chain) is missing; refusing to append")
            head, store_id = chain.ChainHead(*found[:-1]), int(found[-1])
            older = conn.execute("SELECT count(*), max(id) FROM audit_events").fetchone() if not head.seq else None
            row, new = chain.link(key, head, store_id, str(entry["event_id"]), str(entry["ts"]), audit_json(entry),
                                  older=None if older is None else (int(older[0]), older[1]))  # fmt: skip
            conn.execute(
                f"WITH added AS (INSERT INTO audit_events ({AUDIT_ROW_COLUMNS})"
                " VALUES (%s, %s, %s, %s, %s, %s, %s, %s))"
                " UPDATE audit_chain SET seq = %s, last_id = %s, mac = %s, older = %s, older_last_id = %s,"
                " head_mac = %s WHERE id = 1".encode(),
                (row.id, row.event_id, row.ts, row.record, row.seq, row.prev_id, row.prev_mac, row.mac,
                 new.seq, new.last_id, new.mac, new.older, new.older_last_id, new.head_mac),
            )  # fmt: skip
        return store_id

    @contextmanager
    def audit_chain(self) -> Iterator[tuple[chain.ChainHead | None, Iterator[chain.ChainRow]]]:
        with self._pool.connection() as conn, conn.transaction():
            conn.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY")  # one snapshot for all reads
            found = conn.execute(f"SELECT {AUDIT_HEAD_COLUMNS} FROM audit_chain WHERE id = 1".encode()).fetchone()
            with conn.cursor(name="audit_chain") as rows:  # server-side: the trail is read in batches
                rows.execute(f"SELECT {AUDIT_ROW_COLUMNS} FROM audit_events ORDER BY id".encode())
                yield (chain.ChainHead(*found) if found else None), (chain.ChainRow(*r) for r in rows)

    def audit_rows(self, after: int = 0, limit: int | None = None) -> Iterator[tuple[int, str]]:
        with self._pool.connection() as conn:
            rows = conn.execute(
                "SELECT id, record FROM audit_events WHERE id > %s ORDER BY id LIMIT %s", (after, limit)
            ).fetchall()
        for store_id, record in rows:
            yield int(store_id), str(record)

    def put_quote(self, record: QuoteRecord) -> None:
        r = record
        with self._pool.connection() as conn:
            conn.execute(
                "INSERT INTO quotes (nonce, tool, args_json, summary, expires_at, mode, requester)"
                " VALUES (%s, %s, %s, %s, %s, %s, %s)",
                (r.nonce, r.tool, r.args_json, r.summary, r.expires_at, r.mode, r.requester),
            )

    def get_quote(self, nonce: str) -> QuoteRecord | None:
        with self._pool.connection() as conn:
            row = conn.execute(
                "SELECT nonce, tool, args_json, summary, expires_at, used_at, mode, requester FROM quotes"
                " WHERE nonce = %s",
                (nonce,),
            ).fetchone()
        if row is None:
            return None
        return QuoteRecord(
            row[0], row[1], row[2], row[3], float(row[4]), used=row[5] is not None, mode=row[6], requester=row[7]
        )

    def claim_quote(self, nonce: str, now: float) -> bool:
        with self._pool.connection() as conn:
            cursor = conn.execute("UPDATE quotes SET used_at = %s WHERE nonce = %s AND used_at IS NULL", (now, nonce))
            return cursor.rowcount == 1

    def prune_quotes(self, before: float) -> None:
        with self._pool.connection() as conn:
            conn.execute("DELETE FROM quotes WHERE expires_at < %s", (before,))

    def approvals(self) -> ApprovalStore:
        return PostgresApprovalStore(self._pool)

    def close(self) -> None:
        self._pool.close()


class PostgresApprovalStore(ApprovalStore):
    """Approvals in PostgreSQL. Every status change is one conditional UPDATE (`WHERE status = <from>`): under
    PostgreSQL's row locking, of concurrent transitions from one status exactly one matches the row."""

    placeholder = "%s"

    def __init__(self, pool: Any) -> None:
        self._pool = pool

    def _write(self, sql: str, params: Sequence[Any]) -> int:
        with self._pool.connection() as conn:
            return int(conn.execute(sql.encode(), params).rowcount)

    def _read(self, sql: str, params: Sequence[Any]) -> builtins.list[tuple[Any, ...]]:
        with self._pool.connection() as conn:
            return [tuple(row) for row in conn.execute(sql.encode(), params).fetchall()]

    def _transaction(self, work: Callable[[Run], T]) -> T:
        with self._pool.connection() as conn, conn.transaction():

            def run(sql: str, params: Sequence[Any]) -> tuple[int, builtins.list[tuple[Any, ...]]]:
                cursor = conn.execute(sql.encode(), params)
                rows = cursor.fetchall() if cursor.description is not None else []
                return int(cursor.rowcount), [tuple(row) for row in rows]

            return work(run)

    def close(self) -> None:
        """The pool belongs to PostgresStore, which closes it."""
