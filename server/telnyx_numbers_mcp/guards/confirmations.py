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
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from telnyx_numbers_mcp.errors import ApprovalError

__all__ = ["ConfirmationStore", "Quote", "canonical_args_digest", "canonical_json"]

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


@dataclass
class _Pending:
    quote: Quote
    nonce: str
    args_json: str
    used: bool = False


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
    """In-memory pending quotes; thread-safe, so concurrent redeems of one id cannot both win."""

    def __init__(
        self,
        *,
        secret: bytes | None = None,
        ttl_seconds: float = 600,
        clock: Callable[[], float] = time.time,
    ) -> None:
        if ttl_seconds <= 0:
            raise ValueError("ttl_seconds must be positive")
        self._secret = secret if secret is not None else _secrets.token_bytes(32)
        self._ttl = float(ttl_seconds)
        self._clock = clock
        self._lock = threading.Lock()
        self._pending: dict[str, _Pending] = {}

    def issue(self, tool: str, args: Mapping[str, Any], summary: str) -> Quote:
        """Remember ``args`` for ``tool`` and return a quote the human must approve."""
        args_json = canonical_json(args)
        nonce = _b64(_secrets.token_bytes(16))
        now = self._clock()
        expires_at = now + self._ttl
        tag = self._tag(nonce, tool, args_json, _summary_digest(summary), expires_at)
        quote = Quote(confirmation_id=f"{_PREFIX}{nonce}.{tag}", summary=summary, expires_at=expires_at, tool=tool)
        with self._lock:
            self._prune(now)
            self._pending[nonce] = _Pending(quote=quote, nonce=nonce, args_json=args_json)
        return quote

    def redeem(self, confirmation_id: str, summary: str) -> tuple[str, dict[str, Any]]:
        """Return (tool, a fresh copy of the quoted args) and mark the id used; else ApprovalError."""
        with self._lock:
            entry = self._verified(confirmation_id)
            if entry.used:
                raise ApprovalError(
                    f"Confirmation {confirmation_id!r} was already used; {_NOTHING_SENT} by this call. "
                    "Each confirmation works once: start over to get a new quote."
                )
            now = self._clock()
            if now >= entry.quote.expires_at:
                raise ApprovalError(
                    f"Confirmation {confirmation_id!r} expired at {_when(entry.quote.expires_at)} "
                    f"({now - entry.quote.expires_at:.0f} s ago); {_NOTHING_SENT}. "
                    "Start over to get a new quote."
                )
            if not hmac.compare_digest(_summary_digest(summary), _summary_digest(entry.quote.summary)):
                raise ApprovalError(
                    f"The summary passed with confirmation {confirmation_id!r} differs from the quote; "
                    f"{_NOTHING_SENT}. Pass the quote's summary exactly as it was shown."
                )
            entry.used = True
            return entry.quote.tool, json.loads(entry.args_json)

    def peek(self, confirmation_id: str) -> Quote | None:
        """The quote behind a genuine, unused, unexpired id; None otherwise."""
        with self._lock:
            try:
                entry = self._verified(confirmation_id)
            except ApprovalError:
                return None
            if entry.used or self._clock() >= entry.quote.expires_at:
                return None
            return entry.quote

    def _verified(self, confirmation_id: str) -> _Pending:
        """Find the entry and check its tag; the caller holds the lock."""
        if not isinstance(confirmation_id, str) or not confirmation_id.startswith(_PREFIX):
            raise ApprovalError(
                f"{confirmation_id!r} is not a confirmation id (they start with {_PREFIX!r}); {_NOTHING_SENT}."
            )
        nonce, _, tag = confirmation_id[len(_PREFIX) :].partition(".")
        entry = self._pending.get(nonce)
        if entry is None:
            raise ApprovalError(
                f"Unknown confirmation id {confirmation_id!r}: it was not issued by this server process "
                f"(or expired long ago, or the server restarted); {_NOTHING_SENT}. "
                "Start over to get a new quote."
            )
        expected = self._tag(
            entry.nonce,
            entry.quote.tool,
            entry.args_json,
            _summary_digest(entry.quote.summary),
            entry.quote.expires_at,
        )
        if not hmac.compare_digest(tag.encode("ascii", "replace"), expected.encode("ascii")):
            raise ApprovalError(
                f"Confirmation id {confirmation_id!r} does not match its signature (altered or forged); "
                f"{_NOTHING_SENT}."
            )
        return entry

    def _tag(self, nonce: str, tool: str, args_json: str, summary_digest: str, expires_at: float) -> str:
        message = json.dumps([nonce, tool, args_json, summary_digest, repr(expires_at)], separators=(",", ":"))
        return _b64(hmac.new(self._secret, message.encode("utf-8"), hashlib.sha256).digest())

    def _prune(self, now: float) -> None:
        """Forget entries one TTL after they expired, so memory stays bounded."""
        stale = [n for n, e in self._pending.items() if now >= e.quote.expires_at + self._ttl]
        for nonce in stale:
            del self._pending[nonce]
