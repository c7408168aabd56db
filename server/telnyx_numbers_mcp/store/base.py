"""What the server keeps beyond one call and beyond one process: the audit trail and the pending quotes
(single-use confirmations). One interface, two backends: SQLite (one machine) and PostgreSQL (replicas).

Every method is synchronous and durable when it returns: a record handed to `append_audit` is committed
before the caller goes on (the pipeline sends a purchase only after that), and `claim_quote` is one
conditional UPDATE, so of many concurrent claims on one quote, in any number of processes, exactly one wins.
`append_audit` links each record into the audit chain (chain.py): reading the chain's head, inserting the record
and moving the head are one transaction that holds the head's lock, so concurrent writers keep one linear chain."""

from __future__ import annotations

import json
from abc import ABC, abstractmethod
from collections.abc import Callable, Iterator, Mapping
from contextlib import AbstractContextManager
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from telnyx_numbers_mcp.store.chain import ChainHead, ChainRow, Verdict, verify

if TYPE_CHECKING:
    from telnyx_numbers_mcp.approvals.store import ApprovalStore

__all__ = ["MIGRATIONS", "AuditKey", "QuoteRecord", "Store"]

# The audit chain's key, or how to get it on the first append (store/__init__.py: from --state-secret, or the
# audit.key file in the state folder), so opening a store to read it creates nothing.
AuditKey = bytes | Callable[[], bytes]


@dataclass(frozen=True)
class QuoteRecord:
    """A quote waiting for `confirm_action`; `args_json` is the canonical JSON of the quoted arguments."""

    nonce: str
    tool: str
    args_json: str
    summary: str
    expires_at: float
    used: bool = False
    mode: str | None = None  # the issuing process's mode (mode.py); None: issued before modes were recorded
    requester: str | None = None  # who got it (hosted: ISSUER#SUBJECT, auth/identity.py); None: a local call


# (version, statements); the SQL is the common subset of SQLite and PostgreSQL, with {serial} and {real}
# filled per backend. Append only: a released migration never changes.
MIGRATIONS: list[tuple[int, list[str]]] = [
    (
        1,
        [
            "CREATE TABLE IF NOT EXISTS audit_events ("
            " id {serial} PRIMARY KEY, event_id TEXT NOT NULL UNIQUE, ts TEXT NOT NULL, record TEXT NOT NULL)",
            "CREATE TABLE IF NOT EXISTS quotes ("
            " nonce TEXT PRIMARY KEY, tool TEXT NOT NULL, args_json TEXT NOT NULL, summary TEXT NOT NULL,"
            " expires_at {real} NOT NULL, used_at {real})",
            "CREATE INDEX IF NOT EXISTS quotes_expires ON quotes (expires_at)",
        ],
    ),
    (
        2,  # approvals/store.py: the same table as SqliteApprovalStore creates
        [
            "CREATE TABLE IF NOT EXISTS approvals ("
            " id TEXT PRIMARY KEY, tool TEXT NOT NULL, args_digest TEXT NOT NULL, args_json TEXT NOT NULL,"
            " summary TEXT NOT NULL,"
            " status TEXT NOT NULL CHECK (status IN ('pending','approved','declined','expired','executed')),"
            " channel TEXT NOT NULL, decided_by TEXT, created_at {real} NOT NULL, expires_at {real} NOT NULL,"
            " decided_at {real}, executed_at {real}, outcome_json TEXT)",
            "CREATE INDEX IF NOT EXISTS approvals_status ON approvals (status, created_at)",
        ],
    ),
    (
        3,  # approvals and quotes bound to their mode (mode.py); one pending approval per request and requester
        [
            "ALTER TABLE approvals ADD COLUMN mode TEXT",
            "ALTER TABLE approvals ADD COLUMN requester TEXT",  # who asked (hosted mode); NULL: the local user
            # made before modes were recorded: no process may decide or carry them out any more
            "UPDATE approvals SET status = 'expired' WHERE status IN ('pending', 'approved') AND mode IS NULL",
            "CREATE UNIQUE INDEX IF NOT EXISTS approvals_one_pending ON approvals"
            " (tool, args_digest, mode, COALESCE(requester, '')) WHERE status = 'pending'",
            # one row per requester, locked while one of its approvals is made (the pending count is exact)
            "CREATE TABLE IF NOT EXISTS approval_requesters (requester TEXT PRIMARY KEY, asked_at {real} NOT NULL)",
            "ALTER TABLE quotes ADD COLUMN mode TEXT",
            "CREATE TABLE IF NOT EXISTS lookup_budget (day TEXT NOT NULL, requester TEXT NOT NULL,"
            " mode TEXT NOT NULL, used INTEGER NOT NULL, PRIMARY KEY (day, requester, mode))",
        ],
    ),
    (
        4,  # who asked (hosted mode): the client the requester's token was issued to; quotes bound to requesters
        [
            "ALTER TABLE approvals ADD COLUMN requester_client TEXT",  # the token's client_id (or azp)
            "ALTER TABLE quotes ADD COLUMN requester TEXT",  # ISSUER#SUBJECT of who got the quote; NULL: local
        ],
    ),
    (
        5,  # the audit chain (chain.py): records before it keep NULL chain columns; the head starts empty
        [
            "ALTER TABLE audit_events ADD COLUMN chain_seq BIGINT",
            "ALTER TABLE audit_events ADD COLUMN prev_id BIGINT",
            "ALTER TABLE audit_events ADD COLUMN prev_mac TEXT",
            "ALTER TABLE audit_events ADD COLUMN mac TEXT",
            "CREATE UNIQUE INDEX IF NOT EXISTS audit_events_chain_seq ON audit_events (chain_seq)",
            "CREATE TABLE IF NOT EXISTS audit_chain ("
            " id INTEGER PRIMARY KEY CHECK (id = 1), seq BIGINT NOT NULL, last_id BIGINT, mac TEXT, older BIGINT,"
            " older_last_id BIGINT, head_mac TEXT)",
            "INSERT INTO audit_chain (id, seq) VALUES (1, 0)",
        ],
    ),
    (
        6,  # spend controls (spend/book.py): the ledger of holds, mandates, and one lock row per mode
        [
            "CREATE TABLE IF NOT EXISTS spend_ledger ("
            " id TEXT PRIMARY KEY, mode TEXT NOT NULL, subject TEXT NOT NULL, tool TEXT NOT NULL,"
            " numbers INTEGER NOT NULL, amount_micros BIGINT,"
            " state TEXT NOT NULL CHECK (state IN ('held','spent','released')), day TEXT NOT NULL, month TEXT NOT NULL,"
            " mandate_id TEXT, approval_id TEXT, reference TEXT, created_at {real} NOT NULL, settled_at {real})",
            "CREATE INDEX IF NOT EXISTS spend_ledger_day ON spend_ledger (mode, day)",
            "CREATE INDEX IF NOT EXISTS spend_ledger_month ON spend_ledger (mode, month)",
            # what a purchase counted when it was asked, so the process that carries it out holds the same amount
            "CREATE TABLE IF NOT EXISTS spend_quotes ("
            " key TEXT PRIMARY KEY, amount_micros BIGINT, subject TEXT NOT NULL, created_at {real} NOT NULL)",
            "CREATE TABLE IF NOT EXISTS spend_locks (mode TEXT PRIMARY KEY, at {real} NOT NULL)",
            "CREATE TABLE IF NOT EXISTS mandates ("
            " id TEXT PRIMARY KEY, mode TEXT NOT NULL, subject TEXT NOT NULL, max_numbers INTEGER NOT NULL,"
            " max_micros BIGINT NOT NULL, countries TEXT NOT NULL, number_types TEXT NOT NULL, tools TEXT NOT NULL,"
            " reason TEXT NOT NULL, granted_by TEXT NOT NULL, approval_id TEXT UNIQUE, created_at {real} NOT NULL,"
            " expires_at {real} NOT NULL, revoked_at {real}, revoked_by TEXT, used_numbers INTEGER NOT NULL,"
            " used_micros BIGINT NOT NULL)",
            "CREATE INDEX IF NOT EXISTS mandates_mode ON mandates (mode, subject, expires_at)",
        ],
    ),
]

# the chain's columns, in ChainRow's and ChainHead's order
AUDIT_ROW_COLUMNS = "id, event_id, ts, record, chain_seq, prev_id, prev_mac, mac"
AUDIT_HEAD_COLUMNS = "seq, last_id, mac, older, older_last_id, head_mac"


class Store(ABC):
    """The backend-neutral interface; `describe()` names the store without any password."""

    kind: str
    _audit_key: AuditKey

    def audit_key(self) -> bytes:
        """The chain's key, resolved once, on the first append."""
        if callable(self._audit_key):
            self._audit_key = self._audit_key()
        return self._audit_key

    @abstractmethod
    def describe(self) -> str: ...

    @abstractmethod
    def ping(self) -> bool:
        """True if the store answers now (for /readyz); never raises."""

    @abstractmethod
    def append_audit(self, entry: Mapping[str, Any]) -> int:
        """Commit one audit record (already redacted, with `event_id` and `ts`), linked into the chain; returns its
        store id."""

    @abstractmethod
    def audit_rows(self, after: int = 0, limit: int | None = None) -> Iterator[tuple[int, str]]:
        """(store id, record JSON) in commit order, ids above `after`."""

    @abstractmethod
    def audit_chain(self) -> AbstractContextManager[tuple[ChainHead | None, Iterator[ChainRow]]]:
        """The chain's head (None if its row was deleted) and every audit row, oldest first, read in one snapshot (a
        concurrent append is either wholly in it or wholly out of it)."""

    def verify_audit(self, key: bytes) -> Verdict:
        """Walk the chain with `key` (`audit --verify`)."""
        with self.audit_chain() as (head, rows):
            return verify(key, head, rows)

    @abstractmethod
    def put_quote(self, record: QuoteRecord) -> None: ...

    @abstractmethod
    def get_quote(self, nonce: str) -> QuoteRecord | None: ...

    @abstractmethod
    def claim_quote(self, nonce: str, now: float) -> bool:
        """Mark the quote used if, and only if, nobody did before; True if this caller won."""

    @abstractmethod
    def prune_quotes(self, before: float) -> None:
        """Forget quotes that expired before `before`."""

    @abstractmethod
    def approvals(self) -> ApprovalStore:
        """The approvals kept in this store (approvals/); closing it leaves this store open."""

    def close(self) -> None:  # noqa: B027 - backends without resources need nothing
        """Release connections."""

    def audit(self, after: int = 0, limit: int | None = None) -> Iterator[dict[str, Any]]:
        """Audit records as dicts, each with its `store_id`, oldest first."""
        for store_id, text in self.audit_rows(after, limit):
            record = json.loads(text)
            record["store_id"] = store_id
            yield record


def audit_json(entry: Mapping[str, Any]) -> str:
    return json.dumps(entry, sort_keys=True, default=str, ensure_ascii=False)
