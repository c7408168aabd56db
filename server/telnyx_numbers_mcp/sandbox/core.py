"""The Sandbox object: state, clock, faults and recorded requests shared by every handler."""

from __future__ import annotations

import threading
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from .clock import Clock, iso, parse_iso
from .errors import not_found
from .faults import Faults
from .state import Doc, Store

USER_ID = "6a09cdc3-8948-47f0-aa62-74ac943d6c58"
"""The one simulated account; Telnyx echoes the owner's user_id on several records."""

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


@dataclass(frozen=True)
class Call:
    """One decoded /v2 request as handlers see it."""

    method: str
    path: str
    params: dict[str, str]
    query: dict[str, Any]
    body: Any
    account: str = "anonymous"  # derived from the API key: reservations belong to the key that made them


class Sandbox:
    """A stateful stand-in for the Telnyx numbers API; knows nothing of MCP or HTTP routing."""

    def __init__(self, state_path: str | None = None, require_auth: bool = False, seed: int = 0) -> None:
        self.store = Store(state_path)
        self.clock: Clock = _PersistentClock(self.store)
        self.faults = Faults()
        self.require_auth = require_auth
        self.seed = seed
        self.requests: list[dict[str, Any]] = []
        self.lock = threading.RLock()

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

    def get_or_404(self, collection: str, doc_id: str, what: str) -> Doc:
        doc = self.store.get(collection, doc_id)
        if doc is None:
            raise not_found(what, doc_id)
        return doc
