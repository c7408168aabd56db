"""The Sandbox object: state, clock, faults and recorded requests shared by every handler."""

from __future__ import annotations

import hashlib
import threading
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from .clock import Clock, iso, parse_iso
from .errors import not_found
from .faults import Faults
from .state import Doc, Store

ANONYMOUS = "anonymous"
"""The account of requests that carry no API key (the sandbox does not require one unless --require-auth)."""

_USER_NS = uuid.UUID("6a09cdc3-8948-47f0-aa62-74ac943d6c58")

COLLECTIONS = (
    "addresses",
    "advanced_orders",
    "block_jobs",
    "block_orders",
    "comments",
    "csrs",
    "inexplicit_orders",
    "number_orders",
    "order_numbers",
    "reports",
    "requirement_groups",
    "reservations",
    "sub_number_orders",
)
"""The collections whose records belong to an account (settings of owned numbers follow their number)."""

RESERVATION_TTL = timedelta(minutes=30)
ORDER_PROCESSING = timedelta(seconds=10)


class _PersistentClock(Clock):
    """Clock whose offset is saved with the state, so jumping forward survives a restart."""

    def __init__(self, store: Store) -> None:
        meta = store.get("_meta", "clock") or {}
        super().__init__(float(meta.get("offset", 0.0)))
        self._store = store

    def advance(self, seconds: float) -> None:
        super().advance(seconds)
        self._store.put("_meta", "clock", {"offset": self.offset})
        self._store.commit()


def account_of(api_key: str) -> str:
    """Each API key is its own account, known by a digest so the key itself is never kept."""
    return hashlib.sha256(api_key.encode()).hexdigest()[:16] if api_key else ANONYMOUS


LEGACY_KEY = "sandbox"
"""State written before records had accounts belongs to the key `--sandbox` mode sends (runtime.make_client)."""


def user_id(account: str) -> str:
    """The user_id Telnyx echoes on an account's records: stable per API key, different between keys."""
    return str(uuid.uuid5(_USER_NS, account))


@dataclass(frozen=True)
class Call:
    """One decoded /v2 request as handlers see it."""

    method: str
    path: str
    params: dict[str, str]
    query: dict[str, Any]
    body: Any
    account: str = ANONYMOUS  # derived from the API key: every record belongs to the key that made it


class Sandbox:
    """A stateful stand-in for the Telnyx numbers API; knows nothing of MCP or HTTP routing."""

    def __init__(self, state_path: str | None = None, require_auth: bool = False, seed: int = 0) -> None:
        self.store = Store(state_path)
        self._adopt_ownerless()
        self.clock: Clock = _PersistentClock(self.store)
        self.faults = Faults()
        self.require_auth = require_auth
        self.seed = seed
        self.requests: list[dict[str, Any]] = []
        self.lock = threading.RLock()

    def _adopt_ownerless(self) -> None:
        """Records from a state file older than accounts go to LEGACY_KEY's account, so `--sandbox` mode
        keeps finding them after an upgrade."""
        for collection in COLLECTIONS:
            for doc in self.store.all(collection):
                if "account" not in doc:
                    doc["account"] = account_of(LEGACY_KEY)
                    self.store.put(collection, doc["id"], doc)
        self.store.commit()

    def reset_requests(self) -> None:
        """Forget recorded requests (state is kept)."""
        self.requests.clear()

    def close(self) -> None:
        """Flush and release the SQLite file, if any."""
        self.store.commit()
        self.store.close()

    # ---- helpers used by the handlers -------------------------------------------------------------

    def now(self) -> datetime:
        return self.clock.now()

    def now_iso(self) -> str:
        return iso(self.clock.now())

    @staticmethod
    def new_id() -> str:
        return str(uuid.uuid4())

    def elapsed(self, since: str) -> float:
        """Sandbox seconds since an ISO timestamp stored on a document."""
        return (self.clock.now() - parse_iso(since)).total_seconds()

    def mine(self, collection: str, account: str) -> list[Doc]:
        """The account's documents of a collection, in creation order; other accounts' are never listed."""
        return [doc for doc in self.store.all(collection) if doc.get("account") == account]

    def find(self, collection: str, doc_id: str, account: str) -> Doc | None:
        """The account's document with this id; another account's is as absent as an unknown id."""
        doc = self.store.get(collection, doc_id)
        return doc if doc is not None and doc.get("account") == account else None

    def get_or_404(self, collection: str, doc_id: str, what: str, account: str) -> Doc:
        doc = self.find(collection, doc_id, account)
        if doc is None:
            raise not_found(what, doc_id)
        return doc
