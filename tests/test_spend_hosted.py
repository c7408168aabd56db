"""Spend controls on a hosted server (--auth-issuer, issue 23): money is counted per signed-in subject (the access
token's `sub`). A per-user limit counts each person apart; a mandate is for the person who asked for it (or the one an
operator named with --for) and pays for nobody else's purchases. A real oidc-provider issues the tokens; the replica
is a real process; the sandbox-api process is the recording upstream."""

from __future__ import annotations

import contextlib
import uuid
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field
from typing import Any

import httpx2
import mcp_types as types
import pytest
from mcp import Client
from mcp.client.streamable_http import streamable_http_client

from oidc_helpers import Idp, idp_running, node_package, person_token
from replica_helpers import Replica, Upstream, cli, start_replica
from sandbox_helpers import free_port, sandbox_api_process

pytestmark = [pytest.mark.anyio, pytest.mark.slow]  # node, a server process
FULL = "numbers:read numbers:write numbers:purchase"


@dataclass
class Hosted:
    idp: Idp
    upstream: Upstream
    replica: Replica
    store: str
    audience: str

    tokens: dict[str, str] = field(default_factory=dict)

    async def token(self, subject: str) -> str:
        """`subject`'s own access token, as their MCP client gets it from the provider (oidc_helpers.person_token)."""
        if subject not in self.tokens:
            self.tokens[subject] = await person_token(self.replica.url, subject)
        return self.tokens[subject]

    def shell(self, *args: str) -> str:
        out = cli(self.store, *args, "--base-url", f"{self.upstream.base}/v2")
        assert out.returncode == 0, out.stderr
        return out.stdout


@pytest.fixture(scope="module")
def hosted(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Hosted]:
    node_package("oidc-provider")
    logs = tmp_path_factory.mktemp("spend-hosted")
    port = free_port()
    with sandbox_api_process() as upstream, idp_running(logs) as idp:
        store = f"sqlite:///{logs}/store.sqlite3"
        replica = start_replica(store, upstream, logs, "--auth-issuer", idp.issuer, "--spend-limit-per-user",
                                "daily=3", "--spend-limit", "daily=100", token=None, port=port)  # fmt: skip
        try:
            yield Hosted(idp, Upstream(upstream), replica, store, f"http://127.0.0.1:{port}/mcp")
        finally:
            replica.stop()


@contextlib.asynccontextmanager
async def as_subject(hosted: Hosted, subject: str, elicit: Any = None) -> AsyncIterator[Client]:
    http = httpx2.AsyncClient(headers={"Authorization": f"Bearer {await hosted.token(subject)}"}, timeout=60)
    target = streamable_http_client(hosted.replica.url, http_client=http)
    async with http, Client(target, mode="legacy", elicitation_callback=elicit) as client:
        yield client


def text(result: types.CallToolResult) -> str:
    return "\n".join(getattr(block, "text", "") for block in result.content)


async def buy(c: Client, number: str) -> types.CallToolResult:
    args = {"phone_numbers": [{"phone_number": number}], "customer_reference": f"hosted-{uuid.uuid4().hex[:10]}"}
    return await c.call_tool("number_orders_create", args)


async def us_numbers(c: Client, count: int) -> list[str]:
    found = await c.call_tool("available_phone_numbers_list", {"filter": {"country_code": "US", "limit": count}})
    return [r["phone_number"] for r in (found.structured_content or {})["data"]]


def data(result: types.CallToolResult) -> dict[str, Any]:
    return dict(result.structured_content or {})


async def test_a_mandate_is_for_its_subject_and_a_per_user_limit_counts_each_person_apart(hosted: Hosted) -> None:
    hosted.upstream.reset()
    async with as_subject(hosted, "alice") as alice, as_subject(hosted, "bob") as bob:
        request = {"max_numbers": 3, "max_total_usd": 7, "countries": ["US"], "number_types": ["local"],
                   "expires_in_minutes": 60, "reason": "alice's team lines"}  # fmt: skip
        waiting = await alice.call_tool("request_mandate", request)
        approval = data(waiting)["approval_id"]
        assert "For: the signed-in user alice" in data(waiting)["summary"]
        hosted.shell("approvals", "approve", approval, "--yes")
        granted = await alice.call_tool("check_approval", {"approval_id": approval})
        mandate = data(granted)["id"]
        assert data(granted)["subject"] == "alice", text(granted)
        numbers = await us_numbers(alice, 4)

        paid = await buy(alice, numbers[0])
        assert f"Paid under mandate {mandate}" in text(paid)
        over = await buy(alice, numbers[1])  # the mandate has room; alice's own daily limit (3.00) does not
        assert over.is_error and "over your daily spending limit" in text(over) and "so 1.00 USD is left" in text(over)
        asked = await buy(bob, numbers[2])  # alice's mandate pays for nobody else; bob's limit has room
        assert data(asked).get("status") == "awaiting_approval", text(asked)
        assert "No mandate covers" not in data(asked)["summary"]  # bob has none

        for_bob = hosted.shell("approvals", "mandate", "grant", "--for", "bob", "--max-numbers", "1", "--max-total",
                               "2", "--expires-in", "30m").strip()  # fmt: skip
        bobs = await buy(bob, numbers[3])
        assert f"Paid under mandate {for_bob}" in text(bobs), text(bobs)

        mine, his = data(await alice.call_tool("spending", {})), data(await bob.call_tool("spending", {}))
    assert mine["subject"] == "alice" and mine["yours"]["daily"]["spent_usd"] == "2.00"
    assert mine["yours"]["daily"]["left_usd"] == "1.00" and [m["id"] for m in mine["mandates"]] == [mandate]
    assert his["yours"]["daily"]["spent_usd"] == "2.00" and his["mandates"] == []  # bob's is used up
    assert mine["everyone"]["daily"]["spent_usd"] == "4.00" and mine["everyone"]["daily"]["limit_usd"] == "100.00"
    orders = [n["phone_number"] for r in hosted.upstream.orders() for n in r["json"]["phone_numbers"]]
    assert orders == [numbers[0], numbers[3]]


async def test_a_mandate_request_is_not_granted_in_the_requesters_own_client(hosted: Hosted) -> None:
    """Two people decide on a hosted server: alice's client can ask her, but her own answer would be the
    requester approving her own mandate, so the request waits for an approver (or the operator)."""
    asked: list[str] = []

    async def yes(context: Any, params: types.ElicitRequestParams) -> types.ElicitResult:
        asked.append(getattr(params, "message", ""))
        return types.ElicitResult(action="accept", content={"approve": True})

    async with as_subject(hosted, "alice", elicit=yes) as alice:
        request = {"max_numbers": 1, "max_total_usd": 2, "countries": ["US"], "number_types": ["local"],
                   "expires_in_minutes": 30, "reason": "one line"}  # fmt: skip
        waiting = await alice.call_tool("request_mandate", request)
    assert asked == [] and data(waiting).get("status") == "awaiting_approval", text(waiting)
    listed = hosted.shell("approvals", "mandate", "list")
    assert "one line" not in listed  # nothing was granted
