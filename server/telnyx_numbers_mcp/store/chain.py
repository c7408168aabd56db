"""The audit trail's hash chain: each record in the store carries an HMAC-SHA256 of its content and of the previous
record's MAC, keyed with the state key, and one head row holds the chain's newest link under its own MAC.

What a record's MAC covers, as one canonical encoding (a compact JSON array, ASCII only, in this order):
``["telnyx-numbers-mcp/audit-record/v1", store id, chain position, previous record's store id, previous record's
MAC, event_id, ts, record JSON text]``: every column of the row except the MAC itself. The first chained record has
no previous (null, null). The head covers ``["telnyx-numbers-mcp/audit-head/v1", position, store id, MAC, older
records, last older store id]``, so deleting the newest records shows too, and records older than the chain (written
before the upgrade that added it) are counted when the chain starts: they are not covered, but a deletion or an
insertion among them is reported (not which one).

Only stdlib `hmac` and `hashlib`; the backends (sqlite.py, postgres.py) read the head, link and write in one locked
transaction, and `verify` is backend-neutral."""

from __future__ import annotations

import hashlib
import hmac
import json
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, replace
from typing import Any

__all__ = ["KEY_LABEL", "ChainHead", "ChainRow", "Verdict", "head_mac", "link", "record_mac", "verify"]

KEY_LABEL = "audit-chain"  # the Keyring label of the key derived from --state-secret (store/__init__.py)
_RECORD = "telnyx-numbers-mcp/audit-record/v1"
_HEAD = "telnyx-numbers-mcp/audit-head/v1"
HEAD = "the chain head"


@dataclass(frozen=True)
class ChainRow:
    """One audit_events row as stored; `seq` and `mac` are None for records older than the chain."""

    id: int
    event_id: str
    ts: str
    record: str
    seq: int | None
    prev_id: int | None
    prev_mac: str | None
    mac: str | None


@dataclass(frozen=True)
class ChainHead:
    """The audit_chain row: the newest link (`seq` 0 before the first chained record) and the older records."""

    seq: int = 0
    last_id: int | None = None
    mac: str | None = None
    older: int | None = None
    older_last_id: int | None = None
    head_mac: str | None = None


def _mac(key: bytes, fields: list[Any]) -> str:
    body = json.dumps(fields, ensure_ascii=True, separators=(",", ":"))
    return hmac.new(key, body.encode("ascii"), hashlib.sha256).hexdigest()


def record_mac(key: bytes, row: ChainRow) -> str:
    return _mac(key, [_RECORD, row.id, row.seq, row.prev_id, row.prev_mac, row.event_id, row.ts, row.record])


def head_mac(key: bytes, head: ChainHead) -> str:
    return _mac(key, [_HEAD, head.seq, head.last_id, head.mac, head.older, head.older_last_id])


Older = tuple[int, int | None]  # records before the chain: how many, and the newest one's store id


def link(
    key: bytes, head: ChainHead, store_id: int, event_id: str, ts: str, record: str, older: Older | None
) -> tuple[ChainRow, ChainHead]:
    """The next record and the new head. `older` (count, last store id) is what precedes the chain: the backend
    reads it for the first link (head.seq == 0) only; later links keep the head's."""
    count, last_older = older if older is not None and head.seq == 0 else (head.older or 0, head.older_last_id)
    row = ChainRow(store_id, event_id, ts, record, head.seq + 1, head.last_id, head.mac, None)
    row = replace(row, mac=record_mac(key, row))
    new = ChainHead(head.seq + 1, store_id, row.mac, count, last_older)
    return row, replace(new, head_mac=head_mac(key, new))


@dataclass(frozen=True)
class Verdict:
    """What `audit --verify` says: `ok` with the chained count, or the first problem and the store id it names."""

    ok: bool
    records: int
    older: int
    message: str
    store_id: int | None = None


def verify(key: bytes, head: ChainHead | None, rows: Iterable[ChainRow]) -> Verdict:
    """Walk `rows` (oldest first, one snapshot with `head`) and stop at the first record that was changed,
    deleted or inserted."""
    found, head = head, head or ChainHead()
    good: ChainRow | None = None  # the newest record that verified and followed its predecessor
    checked = older = 0
    last_older: int | None = None
    walk = _Peekable(rows)
    for row in walk:
        want_id, want_mac = (good.id, good.mac) if good else (None, None)
        if row.seq is None and row.mac is None and row.prev_id is None and row.prev_mac is None:
            if good is None:
                older, last_older = older + 1, row.id  # written before the chain began
                continue
            nxt = walk.peek()
            if nxt is not None and nxt.prev_id == row.id:
                return _fail(row.id, checked, older, "changed: its chain fields were erased")
            return _fail(row.id, checked, older, "inserted: it has no MAC, yet it comes after the chain began")
        if not _valid(key, row):
            nxt = walk.peek()
            if nxt is not None:
                inserted = (nxt.prev_id, nxt.prev_mac) == (want_id, want_mac) and _valid(key, nxt)
                where = f"store id {nxt.id} follows the record before it"
            else:
                inserted = good is not None and _head_ok(key, head) and head.last_id == good.id
                where = "the chain head names the record before it"
            if inserted:
                return _fail(row.id, checked, older, f"inserted: it is not part of the chain (no valid MAC; {where})")
            what = "changed: its content or chain fields no longer match its MAC"
            return _fail(row.id, checked, older, what + _key_hint(checked))
        expected = (good.seq or 0) + 1 if good else 1
        if row.seq is not None and row.seq > expected:
            if good is None and row.prev_id is not None and row.prev_id == last_older:
                return _fail(row.prev_id, checked, older, "changed: its chain fields were erased")
            gone = row.seq - expected
            after = f"after store id {good.id}" if good else "at the chain's start"
            if gone == 1 and row.prev_id is not None:
                return _fail(row.prev_id, checked, older, f"deleted: it is missing {after}, before store id {row.id}")
            return _fail(row.prev_id, checked, older, f"deleted: {gone} records are missing {after}, before store id "
                         f"{row.id} (the last of them was store id {row.prev_id})")  # fmt: skip
        if row.seq != expected or (row.prev_id, row.prev_mac) != (want_id, want_mac):
            return _fail(row.id, checked, older, "out of place: it does not follow the record before it")
        good, checked = row, checked + 1
    if found is None:
        return _fail(None, checked, older, "deleted: the row of table audit_chain is missing", where=HEAD)
    return _check_head(key, head, good, checked, older, last_older)


def _check_head(
    key: bytes, head: ChainHead, good: ChainRow | None, checked: int, older: int, last_older: int | None
) -> Verdict:
    if head.seq == 0 and head.head_mac is None:
        if good is not None:
            return _fail(good.id, checked, older, "the chain head was reset: this record is chained, the head is empty")
        return Verdict(True, 0, older, f"ok 0 records{_older_note(older, last_older)}")
    if not _head_ok(key, head):
        return _fail(None, checked, older, "changed: its MAC does not match (table audit_chain)", where=HEAD)
    seen = (good.seq or 0) if good else 0
    if head.seq > seen:
        gone = head.seq - seen
        after = f"after store id {good.id}" if good else "(every chained record)"
        if gone == 1:
            return _fail(head.last_id, checked, older, f"deleted: the newest record is missing {after}")
        return _fail(head.last_id, checked, older, f"deleted: the newest {gone} records are missing {after} "
                     f"(the last of them was store id {head.last_id})")  # fmt: skip
    if good is not None and (head.last_id, head.mac) != (good.id, good.mac):
        return _fail(good.id, checked, older, "out of place: the chain head names another record")
    if head.older is not None and head.older != older:
        what = "deleted" if older < head.older else "inserted"
        what += f": the chain began after {head.older} older records (up to store id {head.older_last_id}), and "
        return _fail(None, checked, older, f"{what}{older} are there now", where="the records older than the chain")
    return Verdict(True, checked, older, f"ok {checked} records{_older_note(older, last_older)}")


def _head_ok(key: bytes, head: ChainHead) -> bool:
    return head.head_mac is not None and hmac.compare_digest(head_mac(key, head), head.head_mac)


def _valid(key: bytes, row: ChainRow) -> bool:
    return row.mac is not None and hmac.compare_digest(record_mac(key, row), row.mac)


def _key_hint(checked: int) -> str:
    if checked:
        return ""
    return ("; if no record verifies, the key is not the one the servers used (their --state-secret, or without one "
            "the audit.key in their --state-dir)")  # fmt: skip


def _older_note(older: int, last: int | None) -> str:
    if not older:
        return ""
    return (f"\n{older} older record{'s' if older != 1 else ''} (up to store id {last}) predate the chain: written "
            "before the upgrade that added it, they are counted but not covered")  # fmt: skip


def _fail(store_id: int | None, checked: int, older: int, what: str, where: str = HEAD) -> Verdict:
    where = f"store id {store_id}" if store_id is not None else where
    ok_before = f" ({checked} record{' before it verifies' if checked == 1 else 's before it verify'})"
    if where == HEAD:
        ok_before = f" ({checked} record{'' if checked == 1 else 's'} verified before it)"
    return Verdict(False, checked, older, f"TAMPERED: {where}: {what}{ok_before}", store_id)


class _Peekable(Iterator[ChainRow]):
    """Rows one by one, with a look at the next (to tell an inserted record from a changed one)."""

    def __init__(self, rows: Iterable[ChainRow]) -> None:
        self._rows = iter(rows)
        self._next: list[ChainRow] = []

    def __next__(self) -> ChainRow:
        return self._next.pop() if self._next else next(self._rows)

    def peek(self) -> ChainRow | None:
        if not self._next:
            try:
                self._next.append(next(self._rows))
            except StopIteration:
                return None
        return self._next[0]
