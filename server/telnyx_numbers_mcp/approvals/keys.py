"""The server key behind review-page secrets: 32 random bytes in the state folder (mode 0600), shared by every
server process that shares the folder, so a link made by one process is honoured by another. A key file that
another user owns, or that others may read or write, is refused (statefolder.py): it could be a planted one."""

from __future__ import annotations

import hashlib
import hmac
import os
import secrets
import time
from pathlib import Path

from telnyx_numbers_mcp.statefolder import KEY_FILE, check_file, secure_folder

NOFOLLOW = getattr(os, "O_NOFOLLOW", 0)


def load_or_create(state_dir: Path, name: str = KEY_FILE) -> bytes:
    """Read the key, or create it atomically (O_EXCL) so two processes starting together agree on one. `name`:
    another key file in the same folder (store/: the audit chain's audit.key)."""
    path = secure_folder(state_dir) / name
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | NOFOLLOW, 0o600)
    except FileExistsError:
        fd = os.open(path, os.O_RDONLY | NOFOLLOW)
        with os.fdopen(fd, "rb") as f:
            check_file(f.fileno(), path, secret=True)
            for _ in range(50):  # the creator may still be writing its 32 bytes
                f.seek(0)
                data = f.read(64)
                if len(data) >= 32:
                    return data[:32]
                time.sleep(0.01)
        raise RuntimeError(f"{path} is shorter than 32 bytes; delete it to make a new key") from None
    key = secrets.token_bytes(32)
    with os.fdopen(fd, "wb") as f:
        f.write(key)
        f.flush()
        os.fsync(f.fileno())
    return key


def tag(key: bytes, purpose: str, approval_id: str) -> str:
    """A secret bound to one approval and one purpose ('view' for the URL, 'decide' for the form token)."""
    return hmac.new(key, f"{purpose}\n{approval_id}".encode(), hashlib.sha256).hexdigest()[:43]


def check(key: bytes, purpose: str, approval_id: str, given: str | None) -> bool:
    return isinstance(given, str) and hmac.compare_digest(tag(key, purpose, approval_id).encode(), given.encode())
