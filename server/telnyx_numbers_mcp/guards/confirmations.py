"""Two-step confirmations for MCP clients that cannot ask the human (no elicitation).

The first call returns a quote (summary + confirmation id) instead of acting; only a second call
carrying that id and the quote's exact summary performs the action, exactly once, with exactly
the quoted arguments. Ids are random and HMAC-tagged so a model cannot invent or alter one.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import secrets as _secrets
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from typing import Any, Protocol

from telnyx_numbers_mcp.errors import ApprovalError, ModeMismatch
from telnyx_numbers_mcp.mode import Mode, refusal
from telnyx_numbers_mcp.store.base import QuoteRecord

__all__ = ["ConfirmationStore", "MemoryQuoteBook", "Quote", "QuoteBook", "canonical_args_digest", "canonical_json"]

_PREFIX = "cf_"
_NOTHING_SENT = "nothing was sent to Telnyx"


def canonical_json(args: Mapping[str, Any]) -> str:
    """One text per argument set (sorted keys, no spaces) so equal args hash equally."""
    return json.dumps(args, sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False)


def canonical_args_digest(args: Mapping[str, Any]) -> str:
    """SHA-256 hex of the canonical JSON of ``args``."""
    return hashlib.sha256(canonical_json(args).encode("utf-8")).hexdigest()


@dataclass(frozen=True)
class Quote:
    """What the human is asked to approve; ``confirmation_id`` redeems it once."""

    confirmation_id: str
    summary: str
    expires_at: float
    tool: str


class QuoteBook(Protocol):
    """Where pending quotes live: in memory (one process) or in the store (every replica)."""

    def put_quote(self, record: QuoteRecord) -> None: ...
    def get_quote(self, nonce: str) -> QuoteRecord | None: ...
    def claim_quote(self, nonce: str, now: float) -> bool: ...
    def prune_quotes(self, before: float) -> None: ...


class MemoryQuoteBook:
    """The per-process book (tests, `call`); `claim_quote` is atomic under a lock."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._quotes: dict[str, QuoteRecord] = {}

    def put_quote(self, record: QuoteRecord) -> None:
        with self._lock:
            self._quotes[record.nonce] = record

    def get_quote(self, nonce: str) -> QuoteRecord | None:
        with self._lock:
            return self._quotes.get(nonce)

    def claim_quote(self, nonce: str, now: float) -> bool:
        with self._lock:
            record = self._quotes.get(nonce)
            if record is None or record.used:
                return False
            self._quotes[nonce] = replace(record, used=True)
            return True

    def prune_quotes(self, before: float) -> None:
        with self._lock:
            for nonce in [n for n, r in self._quotes.items() if r.expires_at < before]:
                del self._quotes[nonce]


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _normal_summary(summary: str) -> str:
    """Line endings and surrounding whitespace do not change what a human read."""
    return summary.replace("\r\n", "\n").strip()


def _summary_digest(summary: str) -> str:
    return hashlib.sha256(_normal_summary(summary).encode("utf-8")).hexdigest()


def _when(timestamp: float) -> str:
    return datetime.fromtimestamp(timestamp, UTC).isoformat(timespec="seconds").replace("+00:00", "Z")


class ConfirmationStore:
    """Signs quotes and redeems each once. The book may be shared by several processes (the store): any of
    them redeems a quote another issued when they share the secret and run under the same mode (mode.py: a
    quote made in the sandbox is never redeemed live, nor one for one key or base URL under another), and the
    claim is atomic in the book."""

    def __init__(
        self,
        *,
        secret: bytes | None = None,
        ttl_seconds: float = 600,
        clock: Callable[[], float] = time.time,
        book: QuoteBook | None = None,
        mode: Mode | None = None,
    ) -> None:
        if ttl_seconds <= 0:
            raise ValueError("ttl_seconds must be positive")
        self._mode = mode
        self._mode_key = mode.key if mode is not None else None
        self._secret = secret if secret is not None else _secrets.token_bytes(32)
        self._ttl = float(ttl_seconds)
        self._clock = clock
        self._book: QuoteBook = book if book is not None else MemoryQuoteBook()

    def issue(self, tool: str, args: Mapping[str, Any], summary: str, requester: str | None = None) -> Quote:
        """Remember ``args`` for ``tool`` and return a quote the human must approve; hosted, only ``requester``
        (who asked, auth/identity.py) may redeem it."""
        args_json = canonical_json(args)
        nonce = _b64(_secrets.token_bytes(16))
        now = self._clock()
        expires_at = now + self._ttl
        tag = self._tag(nonce, tool, args_json, _summary_digest(summary), expires_at, self._mode_key, requester)
        quote = Quote(confirmation_id=f"{_PREFIX}{nonce}.{tag}", summary=summary, expires_at=expires_at, tool=tool)
        self._book.prune_quotes(now - self._ttl)  # forget quotes one TTL after they expired
        self._book.put_quote(
            QuoteRecord(nonce, tool, args_json, summary, expires_at, mode=self._mode_key, requester=requester)
        )
        return quote

    def redeem(self, confirmation_id: str, summary: str, requester: str | None = None) -> tuple[str, dict[str, Any]]:
        """Return (tool, a fresh copy of the quoted args) and mark the id used; else ApprovalError. A quote
        given to one requester is refused to every other (and to a local call), before anything of it is shown."""
        entry = self._verified(confirmation_id)
        if entry.requester != requester:
            raise ApprovalError(
                f"Confirmation {confirmation_id!r} was quoted to another user; only they can confirm it. "
                f"{_NOTHING_SENT[0].upper()}{_NOTHING_SENT[1:]}."
            )
        if entry.mode != self._mode_key and self._mode is not None:
            raise ModeMismatch(refusal(f"Confirmation {confirmation_id!r}", Mode.from_key(entry.mode), self._mode)
                               + " Start over here to get a new quote.")  # fmt: skip
        used = ApprovalError(
            f"Confirmation {confirmation_id!r} was already used; {_NOTHING_SENT} by this call. "
            "Each confirmation works once: start over to get a new quote."
        )
        if entry.used:
            raise used
        now = self._clock()
        if now >= entry.expires_at:
            raise ApprovalError(
                f"Confirmation {confirmation_id!r} expired at {_when(entry.expires_at)} "
                f"({now - entry.expires_at:.0f} s ago); {_NOTHING_SENT}. "
                "Start over to get a new quote."
            )
        if not hmac.compare_digest(_summary_digest(summary), _summary_digest(entry.summary)):
            raise ApprovalError(
                f"The summary passed with confirmation {confirmation_id!r} differs from the quote; "
                f"{_NOTHING_SENT}. Pass the quote's summary exactly as it was shown."
            )
        if not self._book.claim_quote(entry.nonce, now):  # lost a race with another call or replica
            raise used
        return entry.tool, json.loads(entry.args_json)

    def peek(self, confirmation_id: str) -> Quote | None:
        """The quote behind a genuine, unused, unexpired id; None otherwise."""
        try:
            entry = self._verified(confirmation_id)
        except ApprovalError:
            return None
        if entry.used or self._clock() >= entry.expires_at or entry.mode != self._mode_key:
            return None
        return Quote(confirmation_id, entry.summary, entry.expires_at, entry.tool)

    def _verified(self, confirmation_id: str) -> QuoteRecord:
        """Find the quote and check its tag."""
        if not isinstance(confirmation_id, str) or not confirmation_id.startswith(_PREFIX):
            raise ApprovalError(
                f"{confirmation_id!r} is not a confirmation id (they start with {_PREFIX!r}); {_NOTHING_SENT}."
            )
        nonce, _, tag = confirmation_id[len(_PREFIX) :].partition(".")
        entry = self._book.get_quote(nonce)
        if entry is None:
            raise ApprovalError(
                f"Unknown confirmation id {confirmation_id!r}: this server (and the replicas sharing its store) "
                f"never issued it, or it expired long ago; {_NOTHING_SENT}. Start over to get a new quote."
            )
        expected = self._tag(
            entry.nonce, entry.tool, entry.args_json, _summary_digest(entry.summary), entry.expires_at, entry.mode,
            entry.requester,
        )  # fmt: skip
        if not hmac.compare_digest(tag.encode("ascii", "replace"), expected.encode("ascii")):
            raise ApprovalError(
                f"Confirmation id {confirmation_id!r} does not match its signature (altered or forged, or "
                f"not issued by this server: replicas must share one --state-secret); {_NOTHING_SENT}."
            )
        return entry

    def _tag(
        self,
        nonce: str,
        tool: str,
        args_json: str,
        summary_digest: str,
        expires_at: float,
        mode: str | None,
        requester: str | None = None,
    ) -> str:
        """Binds everything a quote says, its mode and requester included: a quote whose stored mode or
        requester was changed is forged."""
        parts: list[Any] = [nonce, tool, args_json, summary_digest, repr(expires_at)]
        if mode is not None:
            parts.append(mode)
        if requester is not None:
            parts.append({"requester": requester})
        message = json.dumps(parts, separators=(",", ":"))
        return _b64(hmac.new(self._secret, message.encode("utf-8"), hashlib.sha256).digest())
