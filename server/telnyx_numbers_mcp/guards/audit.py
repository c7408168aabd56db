"""Append-only audit trail of what the server was asked to do and what it did.

Every record is committed to the store (SQLite or PostgreSQL, shared by replicas) and, when an audit file
is configured, written to it with a single ``O_APPEND`` write and fsynced, all before ``append`` returns,
so a purchase that reached Telnyx is recorded even if the process dies right after. Secrets are
redacted before anything is written.
"""

from __future__ import annotations

import itertools
import json
import os
import socket
import threading
import uuid
from collections.abc import Iterable, Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

import platformdirs

from telnyx_numbers_mcp.guards.redaction import REDACTED, Redactor
from telnyx_numbers_mcp.statefolder import private_file

if TYPE_CHECKING:
    from telnyx_numbers_mcp.store.base import Store

__all__ = ["REDACTED", "AuditLog", "default_audit_path", "looks_secret", "redact"]

_SECRET_KEY_PARTS = ("api_key", "apikey", "token", "authorization", "password", "secret")


def default_audit_path() -> Path:
    """Per-user data directory, so the trail survives upgrades and is not in the working dir."""
    return platformdirs.user_data_path("telnyx-numbers-mcp") / "audit.jsonl"


def looks_secret(key: str) -> bool:
    """True for keys such as ``api_key``, ``X-Api-Key``, ``Authorization`` or ``client_secret``."""
    normal = key.lower().replace("-", "_")
    return any(part in normal for part in _SECRET_KEY_PARTS)


def redact(obj: Any, secrets: Iterable[str] = ()) -> Any:
    """Return a copy of ``obj`` with secret-looking keys and known secret strings replaced.

    Values of secret-looking keys become "***" (None stays None, so "no key" stays visible);
    any occurrence of one of ``secrets`` (or of 8 or more of its characters) inside a string
    becomes "***". Objects JSON cannot hold are turned into ``str`` first so that their text
    is redacted too.
    """
    return _redact(obj, Redactor(secrets))


def _redact(obj: Any, secrets: Redactor) -> Any:
    if isinstance(obj, Mapping):
        out: dict[str, Any] = {}
        for key, value in obj.items():
            name = _redact_text(str(key), secrets)
            if looks_secret(name) and value is not None:
                out[name] = REDACTED
            else:
                out[name] = _redact(value, secrets)
        return out
    if isinstance(obj, (list, tuple, set, frozenset)):
        return [_redact(item, secrets) for item in obj]
    if isinstance(obj, str):
        return _redact_text(obj, secrets)
    if obj is None or isinstance(obj, (bool, int, float)):
        return obj
    return _redact_text(str(obj), secrets)


def _redact_text(text: str, secrets: Redactor) -> str:
    return secrets.text(text)


class AuditLog:
    """Records go to the store and/or one JSON object per line in a file; ``append`` is durable when it returns."""

    def __init__(
        self, path: str | os.PathLike[str] | None, *, secrets: Iterable[str] = (), store: Store | None = None
    ) -> None:
        if path is None and store is None:
            raise ValueError("an audit log needs a file, a store, or both")
        self.path = Path(path) if path is not None else None
        if self.path is not None:
            private_file(self.path)  # 0600 in a folder made 0700; an older, readable trail of ours is tightened
        self.store = store
        self._secrets = Redactor(secrets)
        self._lock = threading.Lock()
        self._seq = itertools.count(1)
        self._replica = f"{socket.gethostname()}:{os.getpid()}"  # which process, when replicas share a store

    def append(self, record: Mapping[str, Any]) -> None:
        """Store ``record`` plus ``ts``, ``seq`` (per-process counter), ``replica`` and ``event_id``; the
        store commit and the file's fsync both happen before this returns, and a failure raises."""
        with self._lock:
            entry = dict(_redact(record, self._secrets))
            entry["ts"] = datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")
            entry["seq"] = next(self._seq)
            entry["replica"] = self._replica
            entry["event_id"] = uuid.uuid4().hex
            if self.store is not None:
                self.store.append_audit(entry)
            if self.path is not None:
                line = json.dumps(entry, sort_keys=True, default=str, ensure_ascii=False) + "\n"
                self._write(self.path, line.encode("utf-8"))

    @staticmethod
    def _write(path: Path, data: bytes) -> None:
        created = not path.exists()
        if created and not path.parent.exists():
            path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)  # the trail is read by its owner only
        try:
            view = memoryview(data)
            while view:
                written = os.write(fd, view)
                view = view[written:]
            os.fsync(fd)
        finally:
            os.close(fd)
        if created:
            _fsync_dir(path.parent)


def _fsync_dir(directory: Path) -> None:
    """Make a newly created file's directory entry durable too (not possible on Windows)."""
    try:
        fd = os.open(directory, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)
