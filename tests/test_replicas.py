"""Several HTTP replicas, one truth: two server processes share one store (a real PostgreSQL started from the
pgserver package, or the SQLite default on one machine) and one --state-secret. What one replica issued, the
other accepts; what must happen once happens once; a replica killed mid-purchase leaves its audit record."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import anyio
import httpx
import mcp_types as types
import pytest
from mcp import Client

from replica_helpers import (
    SECRET,
    Replica,
    Upstream,
    audit_cli,
    connect,
    new_database,
    start_replica,
)
from sandbox_helpers import sandbox_api_process

pytestmark = pytest.mark.anyio
APPROVE = {"approve": types.ElicitResult(action="accept", content={"approve": True})}


@dataclass
class Cluster:
    store: str
    upstream: Upstream
    a: Replica
    b: Replica
    logs: Path

    def start(self, *extra: str, secret: str | None = SECRET) -> Replica:
        return start_replica(self.store, self.upstream.base, self.logs, *extra, secret=secret)


@pytest.fixture(scope="module")
def upstream() -> Iterator[Upstream]:
    with sandbox_api_process() as base:
        yield Upstream(base)


@pytest.fixture(scope="module", params=["postgresql", "sqlite"])
def cluster(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory, upstream: Upstream
) -> Iterator[Cluster]:
    logs = tmp_path_factory.mktemp(f"replicas-{request.param}")
    if request.param == "postgresql":
        store = new_database(request.getfixturevalue("pg_admin"))
    else:
        store = f"sqlite://{logs / 'state.sqlite3'}"
    a = start_replica(store, upstream.base, logs)
    b = start_replica(store, upstream.base, logs)
    try:
        yield Cluster(store, upstream, a, b, logs)
    finally:
        a.stop()
        b.stop()


@pytest.fixture
def up(cluster: Cluster) -> Upstream:
    cluster.upstream.reset()
    return cluster.upstream


async def approve(context: Any, params: types.ElicitRequestParams) -> types.ElicitResult:
    """Declares elicitation; the 2026 rounds below are driven by hand, so it is never asked."""
    raise AssertionError("the rounds are driven by hand")


def text(result: types.CallToolResult) -> str:
    return "\n".join(getattr(block, "text", "") for block in result.content)


async def order_args(client: Client, skip: int = 0) -> dict[str, Any]:
    """Arguments ordering one number that is available now (ordered numbers leave the sandbox's pool)."""
    found = await client.call_tool("available_phone_numbers_list", {"filter": {"country_code": "US", "limit": 5}})
    assert not found.is_error, text(found)
    assert isinstance(found.structured_content, dict)
    return {"phone_numbers": [{"phone_number": found.structured_content["data"][skip]["phone_number"]}]}


async def quote_on(replica: Replica, skip: int = 0) -> tuple[dict[str, Any], str, str]:
    async with connect(replica.url) as c:
        args = await order_args(c, skip)
        result = await c.call_tool("number_orders_create", args)
    data = result.structured_content
    assert isinstance(data, dict) and data["status"] == "awaiting_confirmation", text(result)
    return args, data["confirmation_id"], data["summary"]


def ordered_numbers(up: Upstream) -> list[str]:
    return [n["phone_number"] for r in up.orders() for n in (r["json"] or {}).get("phone_numbers", [])]


@pytest.mark.parametrize("mode", ["legacy", "auto"])
async def test_a_quote_from_replica_a_is_confirmed_on_replica_b_exactly_once(
    cluster: Cluster, up: Upstream, mode: str
) -> None:
    args, cid, summary = await quote_on(cluster.a)
    assert up.orders() == []
    async with connect(cluster.b.url, mode) as b:
        done = await b.call_tool("confirm_action", {"confirmation_id": cid, "summary": summary})
        again = await b.call_tool("confirm_action", {"confirmation_id": cid, "summary": summary})
    async with connect(cluster.a.url, mode) as a:
        from_a = await a.call_tool("confirm_action", {"confirmation_id": cid, "summary": summary})
    assert not done.is_error, text(done)
    assert isinstance(done.structured_content, dict) and done.structured_content["data"]["id"]
    for refused in (again, from_a):
        assert refused.is_error and "already used" in text(refused), text(refused)
    assert ordered_numbers(up) == [args["phone_numbers"][0]["phone_number"]]


async def test_twenty_concurrent_confirmations_over_both_replicas_send_one_purchase(
    cluster: Cluster, up: Upstream
) -> None:
    _, cid, summary = await quote_on(cluster.a)
    results: list[types.CallToolResult] = []

    async def confirm(replica: Replica) -> None:
        async with connect(replica.url, "auto") as c:
            results.append(await c.call_tool("confirm_action", {"confirmation_id": cid, "summary": summary}))

    async with anyio.create_task_group() as tg:
        for i in range(20):
            tg.start_soon(confirm, cluster.a if i % 2 else cluster.b)
    ok = [r for r in results if not r.is_error]
    assert len(results) == 20 and len(ok) == 1, [text(r) for r in results]
    assert all("already used" in text(r) for r in results if r.is_error)
    assert len(up.orders()) == 1


async def test_a_2026_approval_round_trip_whose_answer_goes_to_the_other_replica_succeeds(
    cluster: Cluster, up: Upstream
) -> None:
    async with connect(cluster.a.url, "auto", elicit=approve) as a:
        args = await order_args(a)
        first = await a.session.call_tool("number_orders_create", args, allow_input_required=True)
    assert isinstance(first, types.InputRequiredResult) and first.request_state
    question = first.input_requests["approve"].params.message  # type: ignore[union-attr]
    reference = re.search(r"mcp-[0-9a-f]{12}", question)
    assert reference, question
    assert up.orders() == []
    async with connect(cluster.b.url, "auto", elicit=approve) as b:
        done = await b.session.call_tool(
            "number_orders_create", args, input_responses=APPROVE, request_state=first.request_state,
            allow_input_required=True,
        )  # fmt: skip
    assert isinstance(done, types.CallToolResult) and not done.is_error, done
    [order] = up.orders()
    # the customer reference the human approved on A is the one B sent (one reference key for all replicas)
    assert order["json"]["customer_reference"] == reference.group(0)


async def test_a_replica_with_another_secret_accepts_nothing_the_others_issued(cluster: Cluster, up: Upstream) -> None:
    if cluster.store.startswith("postgresql"):
        other = cluster.start(secret="a-different-secret-0123456789abcdefgh")
    else:
        other = cluster.start(secret=None)  # SQLite allows per-process keys
    try:
        _, cid, summary = await quote_on(cluster.a)
        async with connect(other.url) as c:
            refused = await c.call_tool("confirm_action", {"confirmation_id": cid, "summary": summary})
        async with connect(cluster.a.url, "auto", elicit=approve) as a:
            args = await order_args(a, skip=1)
            first = await a.session.call_tool("number_orders_create", args, allow_input_required=True)
        assert isinstance(first, types.InputRequiredResult)
        async with connect(other.url, "auto", elicit=approve) as c:
            try:
                answer: Any = await c.session.call_tool(
                    "number_orders_create", args, input_responses=APPROVE, request_state=first.request_state,
                    allow_input_required=True,
                )  # fmt: skip
            except Exception as exc:  # the boundary rejects the sealed state: -32602
                answer = exc
    finally:
        other.stop()
    assert refused.is_error and "state-secret" in text(refused), text(refused)
    assert not isinstance(answer, types.CallToolResult) or answer.is_error, answer
    assert up.orders() == []


async def test_killing_a_replica_mid_purchase_loses_no_audit_record(cluster: Cluster, up: Upstream) -> None:
    victim = cluster.start()
    args, cid, summary = await quote_on(cluster.a)
    up.delay_orders(60)  # Telnyx "hangs": the order request arrives and is not answered
    number = args["phone_numbers"][0]["phone_number"]

    async def confirm_on_victim() -> None:
        try:
            async with connect(victim.url) as c:
                await c.call_tool("confirm_action", {"confirmation_id": cid, "summary": summary})
        except Exception:  # the connection dies with the replica
            pass

    async with anyio.create_task_group() as tg:
        tg.start_soon(confirm_on_victim)
        with anyio.fail_after(30):
            while not up.orders():
                await anyio.sleep(0.05)  # waiting for the purchase to reach the upstream
        victim.kill()
        tg.cancel_scope.cancel()
    assert ordered_numbers(up) == [number]
    trail = audit_cli(cluster.store)
    victims = [r for r in trail if r["replica"].endswith(f":{victim.proc.pid}")]
    [request] = [r for r in victims if r["event"] == "request"]
    assert request["tool"] == "number_orders_create" and request["args"]["phone_numbers"] == args["phone_numbers"]
    assert request["approval"]["how"] == "confirm_action"
    assert not [r for r in victims if r["event"] == "outcome"]  # it died before Telnyx answered
    quoted = [r for r in trail if r["event"] == "quoted" and r["args"]["phone_numbers"] == args["phone_numbers"]]
    assert quoted and quoted[0]["replica"].endswith(f":{cluster.a.proc.pid}")


async def test_the_audit_command_prints_every_replicas_trail_as_json_lines(cluster: Cluster, up: Upstream) -> None:
    _, cid, summary = await quote_on(cluster.a)
    async with connect(cluster.b.url) as b:
        done = await b.call_tool("confirm_action", {"confirmation_id": cid, "summary": summary})
    assert not done.is_error, text(done)
    trail = audit_cli(cluster.store)
    ids = [r["store_id"] for r in trail]
    assert ids == sorted(ids) and len(set(ids)) == len(ids)
    request = next(r for r in reversed(trail) if r["event"] == "request")
    outcome = next(r for r in reversed(trail) if r["event"] == "outcome")
    assert request["id"] == outcome["id"] and outcome["ok"] is True
    assert request["replica"].endswith(f":{cluster.b.proc.pid}")
    assert request["store_id"] < outcome["store_id"]
    everything = json.dumps(trail)
    assert "KEY_replicas" not in everything and SECRET not in everything


async def test_health_and_readiness_answer_without_the_token_and_say_nothing_else(cluster: Cluster) -> None:
    async with httpx.AsyncClient() as http:
        health = await http.get(f"{cluster.a.base}/healthz")
        ready = await http.get(f"{cluster.b.base}/readyz")
        mcp = await http.post(cluster.a.url, json={})
    assert (health.status_code, health.json()) == (200, {"status": "ok"})
    assert (ready.status_code, ready.json()) == (200, {"status": "ready"})
    assert mcp.status_code == 401  # everything else still needs the token


def test_a_postgresql_store_without_a_secret_is_refused_before_connecting(tmp_path: Path) -> None:
    import subprocess
    import sys

    from sandbox_helpers import child_env

    url = "postgresql://mcp:hunter2-password@127.0.0.1:1/numbers"
    out = subprocess.run(
        [sys.executable, "-m", "telnyx_numbers_mcp", "--transport", "http", "--store", url],
        env=child_env(), capture_output=True, timeout=60,
    )  # fmt: skip
    err = out.stderr.decode()
    assert out.returncode == 2, err
    assert "--state-secret" in err and "refusing to start" in err
    assert "hunter2" not in err
