"""The store (audit trail, single-use confirmations; approvals): `open_store` picks the backend from
`--store URL`: SQLite in the state folder by default, PostgreSQL for several replicas. `audit_key` is the key of
the audit chain (chain.py): derived from --state-secret, or without one the audit.key file in the state folder."""

from __future__ import annotations

import functools
from pathlib import Path

import platformdirs

from telnyx_numbers_mcp.config import Settings
from telnyx_numbers_mcp.errors import ConfigError
from telnyx_numbers_mcp.statefolder import secure_folder, sweep_links
from telnyx_numbers_mcp.store.base import QuoteRecord, Store

__all__ = ["AUDIT_KEY_FILE", "QuoteRecord", "Store", "audit_key", "audit_key_file", "default_state_dir",
           "default_store_path", "open_store"]  # fmt: skip

AUDIT_KEY_FILE = "audit.key"


def default_state_dir() -> Path:
    return Path(platformdirs.user_state_dir("telnyx-numbers-mcp", appauthor=False))


def default_store_path(settings: Settings) -> Path:
    """`state.sqlite3` in --state-dir, else in the per-user state folder (platformdirs)."""
    return (settings.state_dir or default_state_dir()) / "state.sqlite3"


def audit_key_file(settings: Settings) -> Path | None:
    """Where the audit chain's key is kept without --state-secret: beside approval.key in the state folder."""
    return None if settings.state_secret is not None else (settings.state_dir or default_state_dir()) / AUDIT_KEY_FILE


def audit_key(settings: Settings) -> bytes:
    """The audit chain's key: from --state-secret through the keyring (its own label), so every replica holding the
    secret has it; without one, 32 random bytes in `audit_key_file` (mode 0600, made atomically by the first
    process that needs it, as approval.key is)."""
    if settings.state_secret is not None:
        from telnyx_numbers_mcp.keyring import Keyring
        from telnyx_numbers_mcp.store.chain import KEY_LABEL

        return Keyring.from_secret(settings.state_secret.get_secret_value()).derive(KEY_LABEL)
    from telnyx_numbers_mcp.approvals import keys

    return keys.load_or_create(settings.state_dir or default_state_dir(), AUDIT_KEY_FILE)


def open_store(settings: Settings) -> Store:
    """Open (and migrate) the configured store; ConfigError names the problem without any password. The state
    folder is checked first (statefolder.py): it holds the default store, the review-link key and redirect files.
    The audit key is resolved on the first append, so opening a store only to read it creates no key file."""
    folder = settings.state_dir or default_state_dir()
    if settings.store is None or folder.exists():
        sweep_links(secure_folder(folder))
    url = settings.store.get_secret_value() if settings.store else None
    key = functools.partial(audit_key, settings)
    if settings.store_kind == "postgresql" and url:
        from telnyx_numbers_mcp.store.postgres import PostgresStore

        return PostgresStore(url, audit_key=key)
    import sqlite3

    from telnyx_numbers_mcp.store.sqlite import SqliteStore

    path = Path(url[len("sqlite://") :]) if url else default_store_path(settings)
    try:
        return SqliteStore(path, audit_key=key)
    except (OSError, sqlite3.Error) as exc:
        raise ConfigError(f"cannot use the store sqlite://{path}: {exc.__class__.__name__}: {exc}") from None
