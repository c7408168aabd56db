"""The server over streamable HTTP (uvicorn in-process) with a bearer token."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import anyio
import httpx
import httpx2
import pytest
import uvicorn
from mcp import Client
from mcp.client.streamable_http import streamable_http_client

from helpers import DEFAULT_TOOL_NAMES
from sandbox_helpers import free_port
from telnyx_numbers_mcp.app import build_server
from telnyx_numbers_mcp.config import build_settings
from telnyx_numbers_mcp.sandbox import Sandbox, create_app
from telnyx_numbers_mcp.transports import http_app

pytestmark = pytest.mark.anyio

TOKEN = "s3cret"
INIT = {
    "jsonrpc": "2.0",
    "id": 1,
    "method": "initialize",
    "params": {"protocolVersion": "2025-11-25", "capabilities": {}, "clientInfo": {"name": "t", "version": "1"}},
}


@asynccontextmanager
async def serving(tmp_path: Path, sb: Sandbox) -> AsyncIterator[str]:
    settings = build_settings(
        {"base_url": "http://sandbox.invalid/v2", "api_key": "KEY_http", "audit_log": str(tmp_path / "a.jsonl")}, {}
    )
    server = build_server(settings, transport=httpx.ASGITransport(app=create_app(sb)))
    port = free_port()
    config = uvicorn.Config(
        http_app(server, host="127.0.0.1", token=TOKEN), host="127.0.0.1", port=port, log_level="warning"
    )
    web = uvicorn.Server(config)
    async with anyio.create_task_group() as tg:
        tg.start_soon(web.serve)
        with anyio.fail_after(10):
            while not web.started:
                await anyio.sleep(0.01)  # waiting for the listener
        try:
            yield f"http://127.0.0.1:{port}/mcp"
        finally:
            web.should_exit = True


@pytest.mark.parametrize("mode", ["legacy", "auto"])
async def test_http_with_the_token_lists_tools_and_searches(tmp_path: Path, mode: str) -> None:
    sb = Sandbox()
    async with serving(tmp_path, sb) as url:
        http = httpx2.AsyncClient(headers={"Authorization": f"Bearer {TOKEN}"})
        async with http, Client(streamable_http_client(url, http_client=http), mode=mode) as client:
            names = {t.name for t in (await client.list_tools()).tools}
            result = await client.call_tool(
                "available_phone_numbers_list", {"filter": {"country_code": "US", "limit": 2}}
            )
    assert names == DEFAULT_TOOL_NAMES
    assert not result.is_error
    assert result.structured_content is not None and result.structured_content["data"]
    assert [r["path"] for r in sb.requests] == ["/v2/available_phone_numbers"]


@pytest.mark.parametrize("headers", [{}, {"Authorization": "Bearer wrong"}, {"Authorization": TOKEN}])
async def test_http_without_the_right_token_gets_401(tmp_path: Path, headers: dict[str, str]) -> None:
    async with serving(tmp_path, Sandbox()) as url, httpx.AsyncClient() as http:
        answer = await http.post(url, json=INIT, headers={**headers, "Accept": "application/json, text/event-stream"})
    assert answer.status_code == 401
    assert answer.headers["www-authenticate"] == "Bearer"
