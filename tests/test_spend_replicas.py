"""Spend controls across replicas (issue 23): two server processes on one store (a real PostgreSQL from the pgserver
package, or the SQLite default on one machine) share a spending limit and a mandate exactly, because holding money and
taking from a mandate are each one transaction in the store. The sandbox-api process is the recording upstream."""

from __future__ import annotations

import re
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from decimal import Decimal
from pathlib import Path
from typing import Any

import anyio
import mcp_types as types
import pytest

from replica_helpers import Replica, Upstream, cli, connect, new_database, start_replica
from sandbox_helpers import sandbox_api_process

pytestmark = [pytest.mark.anyio, pytest.mark.slow]  # starts server processes and PostgreSQL


@pytest.fixture(scope="module")
def upstream() -> Iterator[Upstream]:
    with sandbox_api_process() as base:
        yield Upstream(base)


@pytest.fixture(params=["postgresql", "sqlite"])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """A fresh store for each test: its ledger and mandates start empty."""
    if request.param == "postgresql":
        return new_database(request.getfixturevalue("pg_admin"))
    return f"sqlite://{tmp_path / 'state.sqlite3'}"


@contextmanager
def replicas(store: str, upstream: Upstream, logs: Path, *extra: str) -> Iterator[tuple[Replica, Replica]]:
    a = start_replica(store, upstream.base, logs, "--max-pending-approvals", "30", *extra)
    b = start_replica(store, upstream.base, logs, "--max-pending-approvals", "30", *extra)
    try:
        yield a, b
    finally:
        a.stop()
        b.stop()


def text(result: types.CallToolResult) -> str:
    return "\n".join(getattr(block, "text", "") for block in result.content)


def shell(store: str, upstream: Upstream, *args: str) -> str:
    """The operator at any machine's shell, under the replicas' mode (their base URL and API key)."""
    out = cli(store, *args, "--base-url", f"{upstream.base}/v2")
    assert out.returncode == 0, out.stderr
    return out.stdout


async def us_numbers(replica: Replica, count: int) -> list[str]:
    async with connect(replica.url) as c:
        search = {"filter": {"country_code": "US", "phone_number_type": "local", "limit": count}}
        found = await c.call_tool("available_phone_numbers_list", search)
    rows = (found.structured_content or {})["data"]
    assert all(r["cost_information"]["upfront_cost"] == r["cost_information"]["monthly_cost"] == "1.00" for r in rows)
    return [r["phone_number"] for r in rows]


async def buy(replica: Replica, number: str) -> types.CallToolResult:
    """From a client that cannot elicit: what is not paid for ahead waits for the review page or the terminal."""
    args = {"phone_numbers": [{"phone_number": number}], "customer_reference": f"spend-{uuid.uuid4().hex[:10]}"}
    async with connect(replica.url) as c:
        return await c.call_tool("number_orders_create", args)


async def call(replica: Replica, tool: str, args: dict[str, Any]) -> types.CallToolResult:
    async with connect(replica.url) as c:
        return await c.call_tool(tool, args)


def ordered(upstream: Upstream) -> list[str]:
    return [n["phone_number"] for r in upstream.orders() for n in (r["json"] or {})["phone_numbers"]]


async def test_two_replicas_share_a_daily_limit_and_refuse_the_third_number_before_asking(
    store: str, upstream: Upstream, tmp_path: Path
) -> None:
    with replicas(store, upstream, tmp_path, "--spend-limit", "daily=5") as (a, b):
        upstream.reset()
        numbers = await us_numbers(a, 4)
        for replica, number in ((a, numbers[0]), (b, numbers[1])):
            waiting = await buy(replica, number)
            approval = (waiting.structured_content or {})["approval_id"]
            shell(store, upstream, "approvals", "approve", approval, "--yes")
            done = await call(replica, "check_approval", {"approval_id": approval})
            assert not done.is_error, text(done)
        assert ordered(upstream) == numbers[:2]
        for replica, number in ((a, numbers[2]), (b, numbers[3])):
            refused = await buy(replica, number)
            assert refused.is_error and "4.00 of 5.00 USD is spent or held today (UTC), so 1.00 USD is left" in text(
                refused
            )  # fmt: skip
        assert "No approvals are waiting" in shell(store, upstream, "approvals"), "a refused purchase was asked about"
        report = await call(b, "spending", {})
    assert ordered(upstream) == numbers[:2]
    today = (report.structured_content or {})["everyone"]["daily"]
    assert Decimal(today["spent_usd"]) == 2 * len(ordered(upstream)) and today["left_usd"] == "1.00"


async def test_two_replicas_share_a_mandate_exactly_and_a_revocation_at_once(
    store: str, upstream: Upstream, tmp_path: Path
) -> None:
    with replicas(store, upstream, tmp_path) as (a, b):
        upstream.reset()
        granted = shell(store, upstream, "approvals", "mandate", "grant", "--max-numbers", "3", "--max-total", "7",
                        "--countries", "US", "--types", "local", "--expires-in", "1h")  # fmt: skip
        mandate = granted.strip()
        assert re.fullmatch(r"md_[0-9a-f]{20}", mandate), granted
        numbers = await us_numbers(a, 22)
        answers: list[types.CallToolResult] = []

        async def one(replica: Replica, number: str) -> None:
            answers.append(await buy(replica, number))

        async with anyio.create_task_group() as tg:  # 20 purchases at once, 10 on each replica
            for i, number in enumerate(numbers[:20]):
                tg.start_soon(one, (a, b)[i % 2], number)
        assert len(ordered(upstream)) == 3, "more purchases went out than the mandate has room for"
        paid = [r for r in answers if f"Paid under mandate {mandate}" in text(r)]
        asked = [r for r in answers if (r.structured_content or {}).get("status") == "awaiting_approval"]
        assert len(paid) == 3 and len(asked) == 17
        report = await call(b, "spending", {})
        assert Decimal((report.structured_content or {})["everyone"]["daily"]["spent_usd"]) == 2 * 3

        second = shell(store, upstream, "approvals", "mandate", "grant", "--max-numbers", "2", "--max-total", "5",
                       "--expires-in", "1h").strip()  # fmt: skip
        first = await buy(a, numbers[20])
        assert f"Paid under mandate {second}" in text(first) and "1 of 2 numbers" in text(first)
        assert f"Revoked {second}" in shell(store, upstream, "approvals", "mandate", "revoke", second)
        after = await buy(b, numbers[21])
        assert (after.structured_content or {}).get("status") == "awaiting_approval", text(after)
        assert f"{second} revoked at" in (after.structured_content or {})["summary"]
        assert len(ordered(upstream)) == 4
        verified = cli(store, "audit", "--verify")
    assert verified.returncode == 0 and verified.stdout.startswith("ok "), verified.stdout + verified.stderr
    events = [line for line in cli(store, "audit").stdout.splitlines() if '"mandate_' in line]
    assert sum('"mandate_used"' in e for e in events) == 4 and sum('"mandate_granted"' in e for e in events) == 2
