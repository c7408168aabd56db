"""Approvals with the HTTP transport, as a user runs it (`--transport http --http-token-file ...` in a subprocess):
the review page on the same listener without the bearer token, and a 2026-07-28 approval replayed from a new
HTTP session."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager, contextmanager
from pathlib import Path
from typing import Any

import httpx
import httpx2
import mcp_types as types
import pytest
from mcp import Client, MCPError
from mcp.client.streamable_http import streamable_http_client

from approval_helpers import NOTIFY, Flow, decide, text
from sandbox_helpers import child_env, free_port, served, wait_for_port
from telnyx_numbers_mcp.sandbox import Sandbox

pytestmark = pytest.mark.anyio
TOKEN = "http-token-for-approvals-test"
KEY = "KEY_Jv5Nx1Qs7Lc9Gf2Th4"
ORDERS = "/v2/number_orders"


@contextmanager
def http_server(tmp: Path, base_url: str) -> Iterator[str]:
    port = free_port()
    (tmp / "token").write_text(TOKEN + "\n")
    proc = subprocess.Popen(
        [sys.executable, "-m", "telnyx_numbers_mcp", "--transport", "http", "--port", str(port),
         "--http-token-file", str(tmp / "token"), "--base-url", base_url, "--state-dir", str(tmp / "state"),
         "--audit-log", str(tmp / "audit.jsonl"), "--approval-wait", "0",
         "--approval-notify", f"{sys.executable} {NOTIFY} {tmp / 'urls.jsonl'}"],
        env=child_env(TELNYX_API_KEY=KEY), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    try:
        wait_for_port(port, proc)
        yield f"http://127.0.0.1:{port}"
    finally:
        proc.terminate()
        proc.wait(timeout=20)


@asynccontextmanager
async def mcp(base: str, mode: str, callback: Any = None) -> AsyncIterator[Client]:
    http = httpx2.AsyncClient(headers={"Authorization": f"Bearer {TOKEN}"})
    async with http, Client(streamable_http_client(f"{base}/mcp", http_client=http), mode=mode,
                            elicitation_callback=callback) as client:  # fmt: skip
        yield client


def orders(sb: Sandbox) -> int:
    return sum(1 for r in sb.requests if r["method"] == "POST" and r["path"] == ORDERS)


async def a_number(c: Client) -> str:
    found = await c.call_tool("available_phone_numbers_list", {"filter": {"country_code": "US", "limit": 1}})
    return str((found.structured_content or {})["data"][0]["phone_number"])


async def test_the_review_page_is_served_on_the_http_listener_without_the_bearer_token(tmp_path: Path) -> None:
    sb = Sandbox()
    with served(sb) as sandbox_url, http_server(tmp_path, sandbox_url) as base:
        async with mcp(base, "legacy") as c:
            result = await c.call_tool("number_orders_create", {"phone_numbers": [{"phone_number": await a_number(c)}]})
            data = result.structured_content or {}
            assert data.get("status") == "awaiting_approval", text(result)
            url = Flow(sb, tmp_path).url()  # what --approval-notify was given
            assert url.startswith(f"{base}/approvals/{data['approval_id']}?t=")
            async with httpx.AsyncClient() as http:
                assert (await http.post(f"{base}/mcp", json={})).status_code == 401  # MCP still needs the token
                forged = await http.get(url.split("?t=")[0] + "?t=forged")
                assert forged.status_code == 404
            assert orders(sb) == 0
            done = await decide(url, "approve")
            assert done.status_code == 200 and "Approved and sent" in done.text, done.text
            checked = await c.call_tool("check_approval", {"approval_id": data["approval_id"]})
    assert not checked.is_error, text(checked)
    assert orders(sb) == 1
    assert "?t=" not in result.model_dump_json() + checked.model_dump_json()


async def human(context: Any, params: types.ElicitRequestParams) -> types.ElicitResult:
    return types.ElicitResult(action="accept", content={"approve": True})


async def test_a_2026_approval_replayed_from_a_new_http_session_sends_nothing(tmp_path: Path) -> None:
    sb = Sandbox()
    approve: dict[str, types.InputResponse] = {
        "approve": types.ElicitResult(action="accept", content={"approve": True})
    }
    with served(sb) as sandbox_url, http_server(tmp_path, sandbox_url) as base:
        async with mcp(base, "auto", human) as c:
            args = {"phone_numbers": [{"phone_number": await a_number(c)}]}
            asked = await c.session.call_tool("number_orders_create", args, allow_input_required=True)
            assert isinstance(asked, types.InputRequiredResult) and asked.request_state
            state = asked.request_state
            done = await c.session.call_tool(
                "number_orders_create", args, input_responses=approve, request_state=state, allow_input_required=True
            )
            assert isinstance(done, types.CallToolResult) and not done.is_error, done
        assert orders(sb) == 1
        for _ in range(3):
            async with mcp(base, "auto", human) as fresh:
                try:
                    replay = await fresh.session.call_tool(
                        "number_orders_create", args, input_responses=approve, request_state=state,
                        allow_input_required=True,
                    )  # fmt: skip
                except MCPError:
                    continue
                assert isinstance(replay, types.CallToolResult) and replay.is_error
                assert "replay" in text(replay) and "nothing was sent" in text(replay).lower()
    assert orders(sb) == 1
