"""The keys the server signs and seals with, derived from one shared secret so that every replica accepts
what another issued (sealed 2026 request state, confirmation tags, customer references, review links).

Without a secret each process draws its own random keys, which is right for one process and wrong for
several: a quote or an approval round trip would then only work on the replica that issued it."""

from __future__ import annotations

import hashlib
import hmac
import itertools
import math
import secrets
from collections import Counter
from dataclasses import dataclass

__all__ = ["LABELS", "MIN_SECRET_BITS", "Keyring", "estimated_bits", "hkdf_sha256"]

MIN_SECRET_BITS = 64  # 32 random hex digits give about 115 by estimated_bits, 32 random decimal digits about 100

# One label per use: a key leaked or misused in one place tells nothing about the others.
LABELS = {
    "request_state": b"telnyx-numbers-mcp/v1/request-state",
    "confirmation": b"telnyx-numbers-mcp/v1/confirmation-tag",
    "reference": b"telnyx-numbers-mcp/v1/customer-reference",
}
_SALT = b"telnyx-numbers-mcp/v1/state-secret"


def hkdf_sha256(secret: bytes, info: bytes, length: int = 32, salt: bytes = _SALT) -> bytes:
    """RFC 5869 HKDF with SHA-256 (extract, then expand); stdlib only."""
    if length > 255 * 32:
        raise ValueError("HKDF-SHA256 gives at most 8160 bytes")
    prk = hmac.new(salt, secret, hashlib.sha256).digest()
    out, block, counter = b"", b"", 1
    while len(out) < length:
        block = hmac.new(prk, block + info + bytes([counter]), hashlib.sha256).digest()
        out += block
        counter += 1
    return out[:length]


def _entropy(items: list[str] | list[int]) -> float:
    """Shannon entropy of the items' frequencies, in bits per item."""
    counts = Counter(items)
    return -sum(n / len(items) * math.log2(n / len(items)) for n in counts.values()) if items else 0.0


def estimated_bits(secret: str) -> float:
    """A rough, deliberately low estimate of how many bits of randomness `secret` holds, to refuse the
    obviously guessable: one character repeated ('a' * 32), a short pattern repeated ('ab' * 16, 'password' * 4)
    or a run ('abcdefgh...', '0123456789...'). It is the length of the shortest repeating unit times the
    entropy per character of the unit's characters or of the steps between them, whichever is lower."""
    period = next(
        (p for p in range(1, len(secret) // 2 + 1) if all(secret[i] == secret[i - p] for i in range(p, len(secret)))),
        len(secret),
    )
    unit = secret[:period]
    steps = [ord(b) - ord(a) for a, b in itertools.pairwise(unit)]
    return max(0.0, len(unit) * min(_entropy(list(unit)), _entropy(steps)))


@dataclass(frozen=True, repr=False)
class Keyring:
    """32-byte keys, one per use; `shared` says whether they came from a secret other replicas hold."""

    request_state: bytes
    confirmation: bytes
    reference: bytes
    shared: bool
    _root: bytes

    @classmethod
    def from_secret(cls, secret: str | bytes | None) -> Keyring:
        """Derive every key from `secret`, or draw random per-process keys when it is None."""
        if secret is None:
            root, shared = secrets.token_bytes(32), False
        else:
            root, shared = (secret.encode() if isinstance(secret, str) else bytes(secret)), True
        keys = {name: hkdf_sha256(root, label) for name, label in LABELS.items()}
        return cls(**keys, shared=shared, _root=root)

    def derive(self, label: str) -> bytes:
        """A key for another use (e.g. review-page tokens), distinct from the named ones."""
        if not label or label in LABELS:
            raise ValueError(f"label {label!r} is empty or already used")
        return hkdf_sha256(self._root, f"telnyx-numbers-mcp/v1/{label}".encode())

    def __repr__(self) -> str:  # never print key material
        return f"Keyring(shared={self.shared})"
