"""The keys the server signs and seals with, derived from one shared secret so that every replica accepts
what another issued (sealed 2026 request state, confirmation tags, customer references, review links).

Without a secret each process draws its own random keys, which is right for one process and wrong for
several: a quote or an approval round trip would then only work on the replica that issued it."""

from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass

__all__ = ["LABELS", "Keyring", "hkdf_sha256"]

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
