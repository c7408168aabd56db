"""The audit chain's verification as pure logic (store/chain.py): rows linked as the stores link them, then changed,
deleted or inserted the ways SQL can; `verify` names the first record that is wrong and says what happened.
The same checks against real SQLite and PostgreSQL stores, through the CLI, are in test_audit_verify.py."""

from __future__ import annotations

import json
from dataclasses import asdict, replace
from typing import Any

import pytest

from telnyx_numbers_mcp.store.chain import ChainHead, ChainRow, Verdict, head_mac, link, record_mac, verify

KEY = bytes(range(32))


def trail(count: int, *, older: int = 0, first_id: int = 1) -> tuple[ChainHead, list[ChainRow]]:
    """`older` unchained rows (as written before the upgrade), then `count` chained ones, as a store appends them."""
    rows = [ChainRow(first_id + i, f"e{i}", "t", json.dumps({"i": i}), None, None, None, None) for i in range(older)]
    head = ChainHead()
    for i in range(count):
        store_id = first_id + older + i
        row, head = link(KEY, head, store_id, f"c{i}", f"2026-01-01T00:00:0{i % 10}Z", json.dumps({"n": i}),
                         older=(older, rows[-1].id if rows else None))  # fmt: skip
        rows.append(row)
    return head, rows


def changed(row: ChainRow, field: str, value: Any) -> ChainRow:
    return ChainRow(**{**asdict(row), field: value})


def failed(verdict: Verdict, store_id: int | None, what: str) -> None:
    assert not verdict.ok, verdict.message
    assert verdict.store_id == store_id, verdict.message
    assert verdict.message.startswith(f"TAMPERED: store id {store_id}: {what}"), verdict.message


def test_an_untouched_chain_verifies_and_counts_its_records() -> None:
    head, rows = trail(6)
    verdict = verify(KEY, head, rows)
    assert verdict.ok and verdict.records == 6 and verdict.message == "ok 6 records"
    assert verify(KEY, ChainHead(), []).message == "ok 0 records"


def test_each_record_is_linked_to_the_one_before_and_the_head_to_the_newest() -> None:
    head, rows = trail(3)
    assert [(r.seq, r.prev_id) for r in rows] == [(1, None), (2, 1), (3, 2)]
    assert rows[1].prev_mac == rows[0].mac and rows[2].prev_mac == rows[1].mac
    assert (head.seq, head.last_id, head.mac) == (3, 3, rows[2].mac)
    assert head.head_mac == head_mac(KEY, head) and len(head.head_mac or "") == 64


@pytest.mark.parametrize(
    "field, value",
    [("record", '{"n": 99}'), ("ts", "2027-01-01T00:00:00Z"), ("event_id", "other"), ("mac", "0" * 64),
     ("prev_mac", "f" * 64)],
)  # fmt: skip
def test_a_changed_field_names_its_record(field: str, value: str) -> None:
    head, rows = trail(5)
    rows[2] = changed(rows[2], field, value)
    failed(verify(KEY, head, rows), 3, "changed")


def test_a_changed_newest_record_is_named_as_changed() -> None:
    head, rows = trail(4)
    rows[-1] = replace(rows[-1], record="{}")
    failed(verify(KEY, head, rows), 4, "changed")


def test_a_record_whose_chain_columns_were_erased_is_named_as_changed_not_as_older() -> None:
    head, rows = trail(4)
    rows[1] = replace(rows[1], seq=None, prev_id=None, prev_mac=None, mac=None)
    failed(verify(KEY, head, rows), 2, "changed: its chain fields were erased")
    rows = trail(4)[1]
    rows[0] = replace(rows[0], seq=None, prev_id=None, prev_mac=None, mac=None)
    failed(verify(KEY, head, rows), 1, "changed: its chain fields were erased")


def test_a_deleted_record_is_named_by_the_one_after_it() -> None:
    head, rows = trail(5)
    del rows[2]
    verdict = verify(KEY, head, rows)
    failed(verdict, 3, "deleted")
    assert "after store id 2, before store id 4 (2 records before it verify)" in verdict.message


def test_several_deleted_records_are_counted() -> None:
    head, rows = trail(6)
    del rows[1:4]
    verdict = verify(KEY, head, rows)
    failed(verdict, 4, "deleted: 3 records are missing after store id 1")


def test_a_deleted_first_record_is_named() -> None:
    head, rows = trail(3)
    failed(verify(KEY, head, rows[1:]), 1, "deleted: it is missing at the chain's start")


def test_deleted_newest_records_are_named_by_the_head() -> None:
    head, rows = trail(5)
    failed(verify(KEY, head, rows[:-1]), 5, "deleted: the newest record is missing after store id 4")
    failed(verify(KEY, head, rows[:-2]), 5, "deleted: the newest 2 records are missing after store id 3")
    failed(verify(KEY, head, []), 5, "deleted: the newest 5 records are missing (every chained record)")


def test_an_inserted_record_is_named_as_inserted() -> None:
    head, rows = trail(4)
    forged = ChainRow(99, "x", "t", "{}", 9, 2, rows[1].mac, "ab" * 32)
    failed(verify(KEY, head, [*rows[:2], forged, *rows[2:]]), 99, "inserted: it is not part of the chain")
    failed(verify(KEY, head, [*rows, forged]), 99, "inserted: it is not part of the chain")
    plain = ChainRow(99, "x", "t", "{}", None, None, None, None)  # INSERT naming only the old columns
    failed(verify(KEY, head, [*rows, plain]), 99, "inserted: it has no MAC")


def test_a_record_made_with_another_key_does_not_verify_and_the_message_says_why_when_none_does() -> None:
    head, rows = trail(3)
    verdict = verify(b"\x01" * 32, head, rows)
    failed(verdict, 1, "changed")
    assert "the key is not the one the servers used" in verdict.message
    assert "the key is not" not in verify(KEY, head, [rows[0], replace(rows[1], record="{}"), rows[2]]).message


def test_a_changed_or_missing_head_is_reported() -> None:
    head, rows = trail(3)
    assert not verify(KEY, replace(head, seq=2, last_id=2, mac=rows[1].mac), rows[:2]).ok  # head rolled back
    assert verify(KEY, replace(head, older=7), rows).message == (
        "TAMPERED: the chain head: changed: its MAC does not match (table audit_chain) (3 records verified before it)"
    )
    assert verify(KEY, None, rows).message == (
        "TAMPERED: the chain head: deleted: the row of table audit_chain is missing (3 records verified before it)"
    )
    failed(verify(KEY, None, [rows[0], rows[2]]), 2, "deleted")  # the records are still walked
    failed(verify(KEY, ChainHead(), rows), 3, "the chain head was reset")


def test_older_records_before_the_chain_are_counted_and_a_deleted_or_inserted_one_is_reported() -> None:
    head, rows = trail(3, older=4)
    verdict = verify(KEY, head, rows)
    assert verdict.ok and (verdict.records, verdict.older) == (3, 4), verdict.message
    assert verdict.message == (
        "ok 3 records\n4 older records (up to store id 4) predate the chain: written before the upgrade that added "
        "it, they are counted but not covered"
    )
    gone = verify(KEY, head, rows[:2] + rows[3:])
    assert not gone.ok and gone.message.startswith(
        "TAMPERED: the records older than the chain: deleted: the chain began after 4 older records (up to store id 4)"
        ", and 3 are there now"), gone.message  # fmt: skip
    extra = ChainRow(0, "x", "t", "{}", None, None, None, None)
    added = verify(KEY, head, [extra, *rows])
    assert not added.ok and "older than the chain: inserted: the chain began after 4" in added.message


def test_the_mac_covers_a_canonical_encoding_of_every_column_but_itself() -> None:
    _, rows = trail(2)
    row = rows[1]
    for field, value in [("id", 7), ("seq", 5), ("prev_id", 9), ("event_id", "y"), ("ts", "z"), ("record", "[]")]:
        assert record_mac(KEY, changed(row, field, value)) != row.mac, field
    assert record_mac(KEY, replace(row, mac=None)) == row.mac
    assert record_mac(KEY, replace(row, record=row.record + " ")) != row.mac  # the stored text, byte for byte
