"""The lookup budget (--lookup-budget) is kept in the store, per UTC day, and shared by every process and replica
on that store: four runs with a budget of 5 used to send 20 billed lookups, two replicas 10. Two servers on one
SQLite file and two replica processes on a real PostgreSQL, against the recording sandbox."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from pathlib import Path

import anyio
import httpx
import mcp_types as types
import pytest

from approval_helpers import Flow, text
from replica_helpers import connect, new_database, start_replica
from sandbox_helpers import sandbox_api_process
from telnyx_numbers_mcp.approvals.store import ApprovalStore
from telnyx_numbers_mcp.config import build_settings
from telnyx_numbers_mcp.mode import Mode
from telnyx_numbers_mcp.sandbox import Sandbox
from telnyx_numbers_mcp.store import open_store

pytestmark = pytest.mark.anyio
LOOKUP = "number_lookup_retrieve"
NUMBERS = ("+13125550123", "+442071838750", "+4915112345678", "+33142685300", "+61291234567", "+13125550124")
LIVE = Mode(False, "https://api.telnyx.com/v2", "key-0123456789abcdef").key
SANDBOX = Mode(True, "http://sandbox.invalid/v2", None).key
SECRET = "Zq8vK2pWx7LmN4rT9yB3cH6jD1fG5sQ0aE"


def lookups_sent(requests: list[dict[str, object]]) -> int:
    return sum(1 for r in requests if r["method"] == "GET" and str(r["path"]).startswith("/v2/number_lookup"))


async def test_two_servers_on_one_store_share_one_budget(tmp_path: Path) -> None:
    flow = Flow(Sandbox(), tmp_path)
    budget = {"toolsets": "search,lookup", "lookup_budget": 3, "purchase_policy": "host-confirm"}
    results: list[types.CallToolResult] = []
    async with flow.client("legacy", **budget) as a, flow.client("auto", **budget) as b:
        for i, number in enumerate(NUMBERS):
            results.append(await (a if i % 2 else b).call_tool(LOOKUP, {"phone_number": number}))
    sent = [r for r in results if isinstance(r.structured_content, dict) and "data" in r.structured_content]
    quoted = [r for r in results if (r.structured_content or {}).get("status") == "awaiting_confirmation"]
    assert len(sent) == 3 and len(quoted) == 3, [text(r) for r in results]
    assert lookups_sent(flow.sb.requests) == 3
    details = [r["approval"]["detail"] for r in flow.audit() if r.get("event") == "request"]
    assert details == [f"lookup {i} of 3 today (UTC; --lookup-budget)" for i in (1, 2, 3)]
    async with flow.client("legacy", **budget) as later:  # a new run the same day finds it spent too
        again = await later.call_tool(LOOKUP, {"phone_number": NUMBERS[0]})
    assert (again.structured_content or {}).get("status") == "awaiting_confirmation", text(again)
    assert lookups_sent(flow.sb.requests) == 3


@pytest.fixture(params=["sqlite", "postgresql"])
def approvals_store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[tuple[ApprovalStore, ApprovalStore]]:
    """Two connections to one fresh store, as two processes or replicas hold."""
    url = new_database(request.getfixturevalue("pg_admin")) if request.param == "postgresql" else (
        f"sqlite://{tmp_path / 'state.sqlite3'}")  # fmt: skip
    settings = build_settings({"store": url, "state_secret": SECRET}, {})
    stores = [open_store(settings), open_store(settings)]
    pair = (stores[0].approvals(), stores[1].approvals())
    yield pair
    for store in stores:
        store.close()


@pytest.mark.slow
def test_the_budget_is_counted_per_utc_day_and_mode_and_never_overspent_by_concurrent_takers(
    approvals_store: tuple[ApprovalStore, ApprovalStore],
) -> None:
    a, b = approvals_store
    taken: list[int | None] = []
    start = threading.Barrier(20)

    def take(i: int) -> None:
        start.wait()
        taken.append((a if i % 2 else b).take_lookup(day="2026-03-01", mode=LIVE, budget=5))

    threads = [threading.Thread(target=take, args=(i,)) for i in range(20)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(n for n in taken if n is not None) == [1, 2, 3, 4, 5] and taken.count(None) == 15
    assert a.take_lookup(day="2026-03-02", mode=LIVE, budget=5) == 1  # a new UTC day
    assert b.take_lookup(day="2026-03-01", mode=SANDBOX, budget=5) == 1  # the sandbox never spends live's
    assert b.take_lookup(day="2026-03-01", mode=LIVE, budget=6) == 6  # a larger budget the same day: one more
    assert a.take_lookup(day="2026-03-01", mode=LIVE, budget=0) is None


@pytest.mark.slow
async def test_two_replicas_on_postgresql_send_no_more_lookups_than_the_budget(pg_admin: str, tmp_path: Path) -> None:
    store = new_database(pg_admin)
    flags = ("--toolsets", "search,lookup", "--lookup-budget", "2", "--purchase-policy", "host-confirm")
    with sandbox_api_process() as upstream:
        replicas = [start_replica(store, upstream, tmp_path, *flags) for _ in range(2)]
        try:
            results: list[types.CallToolResult] = []

            async def look(url: str, number: str) -> None:
                async with connect(url) as c:
                    results.append(await c.call_tool(LOOKUP, {"phone_number": number}))

            async with anyio.create_task_group() as tg:
                for i, number in enumerate(NUMBERS):
                    tg.start_soon(look, replicas[i % 2].url, number)
            requests = httpx.get(f"{upstream}/_sandbox/requests", timeout=10).json()["data"]
        finally:
            for replica in replicas:
                replica.stop()
    assert lookups_sent(requests) == 2
    quoted = [r for r in results if (r.structured_content or {}).get("status") == "awaiting_confirmation"]
    assert len(results) == 6 and len(quoted) == 4, [text(r) for r in results]
