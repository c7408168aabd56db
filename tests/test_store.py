"""The store's contract, for both backends (SQLite and a real PostgreSQL): many connections, as many
processes would hold, claim a quote concurrently and exactly one wins; migrations run once however many
replicas start together; the audit trail keeps its order; readiness follows the database."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from replica_helpers import new_database
from telnyx_numbers_mcp.config import build_settings
from telnyx_numbers_mcp.errors import ConfigError
from telnyx_numbers_mcp.mode import Mode
from telnyx_numbers_mcp.store import QuoteRecord, Store, open_store

pytestmark = pytest.mark.slow  # starts PostgreSQL
SECRET = "Zq8vK2pWx7LmN4rT9yB3cH6jD1fG5sQ0aE"
MODE = Mode(sandbox=False, base_url="https://api.telnyx.com/v2", key_fingerprint="key-0123456789abcdef").key


@pytest.fixture(params=["sqlite", "postgresql"])
def opener(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Callable[[], Store]]:
    """Opens a new connection (pool) to one fresh store per test, as another replica would."""
    url = new_database(request.getfixturevalue("pg_admin")) if request.param == "postgresql" else (
        f"sqlite://{tmp_path / 'state.sqlite3'}")  # fmt: skip
    settings = build_settings({"store": url, "state_secret": SECRET}, {})
    opened: list[Store] = []

    def open_one() -> Store:
        store = open_store(settings)
        opened.append(store)
        return store

    yield open_one
    for store in opened:
        store.close()


def together(start: Callable[[], object], count: int = 6) -> list[BaseException]:
    """Run `start` in `count` threads at once, as replicas starting together; what they raised."""
    errors: list[BaseException] = []

    def run() -> None:
        try:
            start()
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=run) for _ in range(count)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return errors


def quote(nonce: str = "n1") -> QuoteRecord:
    return QuoteRecord(nonce, "number_orders_create", '{"a":1}', "Buy 1 number", 4_000_000_000.0)


def test_of_twenty_concurrent_claims_from_separate_connections_exactly_one_wins(
    opener: Callable[[], Store],
) -> None:
    stores = [opener() for _ in range(20)]
    stores[0].put_quote(quote())
    start = threading.Barrier(20)
    wins: list[bool] = []

    def claim(store: Store) -> None:
        start.wait()
        wins.append(store.claim_quote("n1", 1.0))

    threads = [threading.Thread(target=claim, args=(s,)) for s in stores]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(wins) == [False] * 19 + [True]
    got = stores[5].get_quote("n1")
    assert got is not None and got.used and got.args_json == '{"a":1}'


def test_a_quote_put_by_one_connection_is_read_by_another_exactly(opener: Callable[[], Store]) -> None:
    first, second = opener(), opener()
    first.put_quote(quote("n2"))
    assert second.get_quote("n2") == quote("n2")
    assert second.get_quote("unknown") is None
    second.prune_quotes(before=4_000_000_001.0)
    assert first.get_quote("n2") is None


def test_migrations_run_once_when_replicas_start_together(opener: Callable[[], Store]) -> None:
    opened: list[Store] = []
    assert together(lambda: opened.append(opener())) == [] and len(opened) == 6
    opened[0].append_audit({"event_id": "e1", "ts": "t", "event": "x"})
    assert [r["event"] for r in opener().audit()] == ["x"]


def test_the_audit_trail_keeps_commit_order_across_connections(opener: Callable[[], Store]) -> None:
    a, b = opener(), opener()
    for i in range(6):
        (a if i % 2 else b).append_audit({"event_id": f"e{i}", "ts": "t", "event": "x", "i": i})
    records = list(opener().audit())
    assert [r["i"] for r in records] == list(range(6))
    assert [r["i"] for r in a.audit(after=records[3]["store_id"])] == [4, 5]
    assert [r["i"] for r in a.audit(limit=2)] == [0, 1]


def test_ping_is_true_for_an_open_store_and_false_once_it_is_closed(opener: Callable[[], Store]) -> None:
    store = opener()
    assert store.ping() is True
    store.close()
    assert store.ping() is False


def test_an_unreachable_postgresql_store_is_a_clear_error_without_the_password() -> None:
    from telnyx_numbers_mcp.store.postgres import PostgresStore

    url = "postgresql://mcp:hunter2-password@127.0.0.1:1/numbers"
    with pytest.raises(ConfigError, match="cannot use the store") as caught:
        PostgresStore(url, audit_key=bytes(32), connect_timeout=1)
    assert "hunter2" not in str(caught.value) and "mcp:***@127.0.0.1:1" in str(caught.value)


def test_each_backends_approvals_decide_once_execute_once_and_list(opener: Callable[[], Store]) -> None:
    a, b = opener().approvals(), opener().approvals()  # as two replicas would
    made, _ = a.open(tool="number_orders_create", args={"n": 1}, args_digest="d", summary="BUY", channel="chat",
                     ttl=60, mode=MODE)  # fmt: skip
    other, _ = a.open(tool="number_orders_create", args={}, args_digest="e", summary="BUY", channel="chat", ttl=0,
                      mode=MODE)  # fmt: skip
    assert b.get(made.id) == made and b.get("ap_missing") is None
    assert not b.transition(made.id, from_status="approved", to_status="executed")  # not approved yet
    assert b.transition(made.id, from_status="pending", to_status="approved", channel="terminal", decided_by="ops")
    assert not a.transition(made.id, from_status="pending", to_status="declined")
    assert not a.transition(other.id, from_status="pending", to_status="approved")  # past its expiry
    assert a.transition(other.id, from_status="pending", to_status="expired")
    assert a.transition(made.id, from_status="approved", to_status="executed")
    assert not b.transition(made.id, from_status="approved", to_status="executed")
    assert b.record_outcome(made.id, {"ok": True}) and not a.record_outcome(made.id, {"ok": False})
    got = a.get(made.id)
    assert got is not None and (got.status, got.channel, got.decided_by, got.outcome) == (
        "executed", "terminal", "ops", {"ok": True})  # fmt: skip
    assert got.decided_at is not None and got.executed_at is not None and got.args == {"n": 1}
    assert [x.id for x in b.list("expired")] == [other.id] and len(b.list(limit=1)) == 1
    assert {x.id for x in b.list()} == {made.id, other.id} and b.list("pending") == []


def test_processes_opening_a_new_sqlite_state_folder_together_all_start(tmp_path: Path) -> None:
    """Switching a new file to WAL needs it to itself and SQLite refuses at once (no busy wait) while another
    opener holds it: two servers started together on a fresh state folder must both come up (30 fresh folders,
    6 openers each, the audit store and the approvals store)."""
    from telnyx_numbers_mcp.approvals.store import SqliteApprovalStore
    from telnyx_numbers_mcp.store.sqlite import SqliteStore

    for i in range(30):
        folder = tmp_path / f"state-{i}"

        def start(folder: Path = folder) -> None:
            SqliteStore(folder / "state.sqlite3", audit_key=bytes(32))
            SqliteApprovalStore(folder / "approvals.sqlite3")

        assert together(start) == [], folder


def test_concurrent_requests_make_one_approval_each_and_never_pass_the_pending_limit(
    opener: Callable[[], Store],
) -> None:
    """20 threads on two connections: the same request makes one approval; 20 different ones, with a limit
    of 5, make exactly 5 and the other 15 are refused, naming the 5 (the same on SQLite and PostgreSQL)."""
    from telnyx_numbers_mcp.approvals.store import TooManyPending

    stores = [opener().approvals(), opener().approvals()]
    made: list[tuple[str, bool]] = []
    refused: list[list[str]] = []

    def ask(i: int, digest: str) -> None:
        start.wait()
        try:
            approval, fresh = stores[i % 2].open(tool="number_orders_create", args={"i": i}, args_digest=digest,
                                                 summary="BUY", channel="review-page", ttl=60, mode=MODE,
                                                 max_pending=5)  # fmt: skip
            made.append((approval.id, fresh))
        except TooManyPending as exc:
            refused.append([a.id for a in exc.pending])

    for digests in (["same"] * 20, [f"d{i}" for i in range(20)]):
        made.clear()
        start = threading.Barrier(20)
        threads = [threading.Thread(target=ask, args=(i, d)) for i, d in enumerate(digests)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        if digests[0] == "same":
            assert len(made) == 20 and len({i for i, _ in made}) == 1 and sum(f for _, f in made) == 1
    fresh_ids = {i for i, f in made if f}
    assert len(fresh_ids) == 4 and len(refused) == 16  # with the first request's approval: 5 pending
    assert all(set(names) == fresh_ids | {stores[0].list("pending")[-1].id} for names in refused)
    assert len(stores[1].list("pending")) == 5
