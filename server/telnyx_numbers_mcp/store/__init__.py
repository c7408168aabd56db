"""The store (audit trail, single-use confirmations; approvals): `open_store` picks the backend from
`--store URL`: SQLite in the state folder by default, PostgreSQL for several replicas."""

from __future__ import annotations

from pathlib import Path

import platformdirs

from telnyx_numbers_mcp.config import Settings
from telnyx_numbers_mcp.errors import ConfigError
from telnyx_numbers_mcp.statefolder import secure_folder, sweep_links
from telnyx_numbers_mcp.store.base import QuoteRecord, Store

__all__ = ["QuoteRecord", "Store", "default_state_dir", "default_store_path", "open_store"]


def default_state_dir() -> Path:
    return Path(platformdirs.user_state_dir("telnyx-numbers-mcp", appauthor=False))


def default_store_path(settings: Settings) -> Path:
    """`state.sqlite3` in --state-dir, else in the per-user state folder (platformdirs)."""
    return (settings.state_dir or default_state_dir()) / "state.sqlite3"


def open_store(settings: Settings) -> Store:
    """Open (and migrate) the configured store; ConfigError names the problem without any password. The state
    folder is checked first (statefolder.py): it holds the default store, the review-link key and redirect files."""
    folder = settings.state_dir or default_state_dir()
    if settings.store is None or folder.exists():
        sweep_links(secure_folder(folder))
    url = settings.store.get_secret_value() if settings.store else None
    if settings.store_kind == "postgresql" and url:
        from telnyx_numbers_mcp.store.postgres import PostgresStore

        return PostgresStore(url)
    import sqlite3

    from telnyx_numbers_mcp.store.sqlite import SqliteStore

    path = Path(url[len("sqlite://") :]) if url else default_store_path(settings)
    try:
        return SqliteStore(path)
    except (OSError, sqlite3.Error) as exc:
        raise ConfigError(f"cannot use the store sqlite://{path}: {exc.__class__.__name__}: {exc}") from None
