"""Document store for the simulator: collections of JSON objects in memory, optionally mirrored to SQLite."""

from __future__ import annotations

import copy
import json
import sqlite3
import threading
from typing import Any

Doc = dict[str, Any]


class Store:
    """Collections of documents keyed by id.

    Mutations are buffered and flushed by commit() in one SQLite transaction, so a crash mid-request
    leaves the previous consistent state on disk.
    """

    def __init__(self, path: str | None = None) -> None:
        self._data: dict[str, dict[str, Doc]] = {}
        self._dirty: set[tuple[str, str]] = set()
        self._lock = threading.RLock()
        self._db: sqlite3.Connection | None = None
        if path:
            self._db = sqlite3.connect(path, check_same_thread=False, isolation_level=None)
            self._db.execute("PRAGMA journal_mode=WAL")
            self._db.execute(
                "CREATE TABLE IF NOT EXISTS documents ("
                " collection TEXT NOT NULL, id TEXT NOT NULL, body TEXT NOT NULL,"
                " PRIMARY KEY (collection, id))"
            )
            for collection, doc_id, body in self._db.execute("SELECT collection, id, body FROM documents"):
                self._data.setdefault(collection, {})[doc_id] = json.loads(body)

    def get(self, collection: str, doc_id: str) -> Doc | None:
        """The live document (callers mutate it and then call put to mark it dirty)."""
        return self._data.get(collection, {}).get(doc_id)

    def all(self, collection: str) -> list[Doc]:
        """Documents in insertion order (creation order, since ids are never reused)."""
        return list(self._data.get(collection, {}).values())

    def put(self, collection: str, doc_id: str, doc: Doc) -> None:
        with self._lock:
            self._data.setdefault(collection, {})[doc_id] = doc
            self._dirty.add((collection, doc_id))

    def delete(self, collection: str, doc_id: str) -> None:
        with self._lock:
            self._data.get(collection, {}).pop(doc_id, None)
            self._dirty.add((collection, doc_id))

    def snapshot(self, collection: str, doc_id: str) -> Doc | None:
        """A deep copy, for building answers without aliasing stored state."""
        doc = self.get(collection, doc_id)
        return copy.deepcopy(doc) if doc is not None else None

    def commit(self) -> None:
        """Write every document changed since the last commit, atomically."""
        with self._lock:
            if self._db is None or not self._dirty:
                self._dirty.clear()
                return
            dirty, self._dirty = self._dirty, set()
            db = self._db
            db.execute("BEGIN IMMEDIATE")
            try:
                for collection, doc_id in dirty:
                    doc = self.get(collection, doc_id)
                    if doc is None:
                        db.execute("DELETE FROM documents WHERE collection=? AND id=?", (collection, doc_id))
                    else:
                        db.execute(
                            "INSERT OR REPLACE INTO documents (collection, id, body) VALUES (?, ?, ?)",
                            (collection, doc_id, json.dumps(doc, separators=(",", ":"))),
                        )
                db.execute("COMMIT")
            except BaseException:
                db.execute("ROLLBACK")
                self._dirty |= dirty
                raise

    def close(self) -> None:
        with self._lock:
            if self._db is not None:
                self._db.close()
                self._db = None
