"""Resumable SSE over a real HTTP connection (uvicorn on a free port, raw HTTP as a client sends it): a tool
call's stream starts with a priming event (an id, empty data, `retry:`); a client whose connection dropped
mid-call reconnects with Last-Event-ID and gets the answer it missed; another session cannot replay it."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import anyio
import httpx
import mcp_types as types
import pytest

from telnyx_numbers_mcp.resumable import RETRY_MS, EventStore
from telnyx_numbers_mcp.sandbox import Sandbox
from test_server_http import INIT, TOKEN, serving

pytestmark = pytest.mark.anyio

MODERN = "2025-11-25"  # the first protocol version whose clients read priming events
SEARCH = {"filter": {"country_code": "US", "locality": "Chicago", "limit": 1}}
SSE = "text/event-stream"


def parse_events(lines: list[str]) -> list[dict[str, str]]:
    """SSE lines -> events (field name -> value), as an EventSource reads them."""
    events: list[dict[str, str]] = []
    current: dict[str, str] = {}
    for line in lines:
        if not line:
            if current:
                events.append(current)
            current = {}
            continue
        if line.startswith(":"):
            continue
        name, _, value = line.partition(":")
        current[name] = value[1:] if value.startswith(" ") else value
    if current:
        events.append(current)
    return events


async def read_events(response: httpx.Response, count: int) -> list[dict[str, str]]:
    """The first `count` events of a stream (then the caller closes it)."""
    lines: list[str] = []
    with anyio.fail_after(30):
        async for line in response.aiter_lines():
            lines.append(line)
            if not line and len(parse_events(lines)) >= count:
                break
    return parse_events(lines)


class Session:
    """One MCP session over raw HTTP: initialize, then requests with its session id and protocol version."""

    def __init__(self, http: httpx.AsyncClient, url: str, version: str) -> None:
        self.http, self.url, self.version, self.id = http, url, version, ""

    def headers(self, accept: str = f"application/json, {SSE}") -> dict[str, str]:
        out = {"Authorization": f"Bearer {TOKEN}", "Accept": accept, "mcp-protocol-version": self.version}
        return out | ({"mcp-session-id": self.id} if self.id else {})

    async def start(self) -> Session:
        init = json.loads(json.dumps(INIT))
        init["params"]["protocolVersion"] = self.version
        async with self.http.stream("POST", self.url, json=init, headers=self.headers()) as answer:
            assert answer.status_code == 200
            self.id = answer.headers["mcp-session-id"]
            await answer.aread()
        note = {"jsonrpc": "2.0", "method": "notifications/initialized"}
        assert (await self.http.post(self.url, json=note, headers=self.headers())).status_code == 202
        return self

    @asynccontextmanager
    async def call(self, request_id: int, arguments: dict[str, Any]) -> AsyncIterator[httpx.Response]:
        call = {"jsonrpc": "2.0", "id": request_id, "method": "tools/call",
                "params": {"name": "available_phone_numbers_list", "arguments": arguments}}  # fmt: skip
        async with self.http.stream("POST", self.url, json=call, headers=self.headers()) as answer:
            assert answer.status_code == 200 and answer.headers["content-type"].startswith(SSE)
            yield answer

    @asynccontextmanager
    async def resume(self, last_event_id: str) -> AsyncIterator[httpx.Response]:
        headers = self.headers(SSE) | {"Last-Event-ID": last_event_id}
        async with self.http.stream("GET", self.url, headers=headers) as answer:
            assert answer.status_code == 200
            yield answer


def result_of(event: dict[str, str]) -> dict[str, Any]:
    message = json.loads(event["data"])
    assert message["id"] == 1 and "result" in message, message
    result: dict[str, Any] = message["result"]
    return result


async def test_a_call_stream_starts_with_a_priming_event_with_an_id_and_retry(tmp_path: Path) -> None:
    async with serving(tmp_path, Sandbox()) as url, httpx.AsyncClient(timeout=30) as http:
        session = await Session(http, url, MODERN).start()
        async with session.call(1, SEARCH) as answer:
            priming, message = await read_events(answer, 2)
    assert priming["id"] and priming["data"] == "" and priming["retry"] == str(RETRY_MS)
    assert message["id"] and message["id"] != priming["id"]
    assert not result_of(message)["isError"]


async def test_a_client_that_lost_the_connection_mid_call_resumes_with_last_event_id(tmp_path: Path) -> None:
    """The upstream answers slowly; the client drops the stream after the priming event, then reconnects with
    its id and receives the call's answer, which the server kept while no one was listening."""
    sb = Sandbox()
    sb.faults.add(200, path_prefix="/available_phone_numbers", delay=1.0)  # a slow, successful answer
    async with serving(tmp_path, sb) as url, httpx.AsyncClient(timeout=30) as http:
        session = await Session(http, url, MODERN).start()
        async with session.call(1, SEARCH) as answer:
            (priming,) = await read_events(answer, 1)
        # the connection is gone; the call goes on and its answer is stored
        with anyio.fail_after(30):
            while not sb.requests:
                await anyio.sleep(0.05)
        await anyio.sleep(1.5)
        async with session.resume(priming["id"]) as replay:
            events = await read_events(replay, 1)
    found = result_of(events[0])
    assert not found["isError"] and found["structuredContent"]["data"][0]["phone_number"].startswith("+1")
    assert len(sb.requests) == 1  # the answer was replayed, not fetched again


async def test_another_session_cannot_replay_a_sessions_events(tmp_path: Path) -> None:
    """Both sessions use request id 1 (ids repeat across sessions); B presenting A's event id gets nothing."""
    async with serving(tmp_path, Sandbox()) as url, httpx.AsyncClient(timeout=30) as http:
        a = await Session(http, url, MODERN).start()
        b = await Session(http, url, MODERN).start()
        async with a.call(1, SEARCH) as answer:
            priming_a, message_a = await read_events(answer, 2)
        async with b.call(1, {"filter": {"country_code": "US", "limit": 1}}) as answer:
            await read_events(answer, 2)  # B has its own stream with request id 1 too
        async with b.resume(priming_a["id"]) as stolen:
            leaked = await stolen.aread()  # nothing to replay: the stream ends at once
        async with a.resume(priming_a["id"]) as own:
            (again,) = await read_events(own, 1)
    number = result_of(message_a)["structuredContent"]["data"][0]["phone_number"]
    assert number not in leaked.decode() and b"data: {" not in leaked
    assert again["data"] == message_a["data"]  # A's own resumption still works


async def test_clients_before_2025_11_25_get_no_priming_event(tmp_path: Path) -> None:
    """They would read the empty priming event as a broken message, so the stream is as before."""
    async with serving(tmp_path, Sandbox()) as url, httpx.AsyncClient(timeout=30) as http:
        session = await Session(http, url, "2025-06-18").start()
        async with session.call(1, SEARCH) as answer:
            (message,) = await read_events(answer, 1)
    assert message["data"].startswith("{") and "retry" not in message
    assert not result_of(message)["isError"]


async def test_the_store_keeps_at_most_its_bound_and_forgets_the_oldest() -> None:
    store = EventStore(max_events=3)
    scope = store.scope()
    note = types.JSONRPCNotification(jsonrpc="2.0", method="notifications/progress", params={})
    first = await scope.store_event("7", None)
    ids = [await scope.store_event("7", note) for _ in range(3)]
    assert store.count == 3
    sent: list[str | None] = []

    async def collect(event: Any) -> None:
        sent.append(event.event_id)

    assert await scope.replay_events_after(first, collect) is None  # evicted: the client starts afresh
    assert await scope.replay_events_after(ids[0], collect) == "7"
    assert sent == ids[1:]
    assert await store.scope().replay_events_after(ids[0], collect) is None  # another scope sees nothing
