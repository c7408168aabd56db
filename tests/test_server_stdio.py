"""The server as a real stdio subprocess, against its built-in sandbox and against a served sandbox."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import httpx
import pytest
from mcp import Client, StdioServerParameters

from helpers import DEFAULT_TOOL_NAMES, TOOLS
from sandbox_helpers import child_env, sandbox_api_process
from sdk_oracle import sdk_request

pytestmark = [pytest.mark.anyio, pytest.mark.slow]  # server subprocesses

KEY = "KEY_stdio_test_secret"


def stdio(*args: str, **env: str) -> StdioServerParameters:
    return StdioServerParameters(command=sys.executable, args=["-m", "telnyx_numbers_mcp", *args], env=child_env(**env))


async def test_stdio_lists_every_tool_and_a_search_works(tmp_path: Path, mode: str) -> None:
    params = stdio("--sandbox", "--audit-log", str(tmp_path / "audit.jsonl"))
    async with Client(params, mode=mode) as client:
        tools = (await client.list_tools()).tools
        names = {t.name for t in tools}
        assert len(tools) == len(names) == len(DEFAULT_TOOL_NAMES)
        assert names == DEFAULT_TOOL_NAMES
        result = await client.call_tool("available_phone_numbers_list", {"filter": {"country_code": "US", "limit": 2}})
    assert not result.is_error
    assert result.structured_content is not None
    assert 0 < len(result.structured_content["data"]) <= 2


async def test_stdio_read_only_lists_no_write_tool(tmp_path: Path) -> None:
    async with Client(stdio("--sandbox", "--read-only", "--audit-log", str(tmp_path / "a.jsonl"))) as client:
        names = {t.name for t in (await client.list_tools()).tools}
    assert names == {n for n, t in TOOLS.items() if t.read_only}
    assert names < DEFAULT_TOOL_NAMES and "check_approval" not in names


async def test_stdio_against_a_served_sandbox_sends_what_the_sdk_sends(tmp_path: Path) -> None:
    calls: list[tuple[str, dict[str, Any]]] = [
        ("available_phone_numbers_list", {"filter": {"country_code": "US", "limit": 2}}),
        ("number_reservations_create", {"phone_numbers": [{"phone_number": "+13125550001"}]}),
        ("number_orders_list", {"page_number": 1, "page_size": 5}),
        ("comments_list", {"filter": {"comment_record_type": "sub_number_order", "comment_record_id": "x"}}),
    ]
    with sandbox_api_process() as url:
        params = stdio(
            "--base-url",
            f"{url}/v2",
            "--audit-log",
            str(tmp_path / "audit.jsonl"),
            TELNYX_API_KEY=KEY,
        )
        async with Client(params) as client:
            for name, args in calls:
                result = await client.call_tool(name, args)
                assert KEY not in str(result.content)
        async with httpx.AsyncClient() as http:
            recorded = (await http.get(f"{url}/_sandbox/requests")).json()["data"]
    assert len(recorded) == len(calls)
    for (name, args), req in zip(calls, recorded, strict=True):
        sdk = sdk_request(TOOLS[name].sdk_method, args)
        assert req["method"] == sdk.method, name
        assert req["path"] == "/v2" + sdk.path, name
        assert sorted(map(tuple, req["query_pairs"])) == sorted(sdk.query), name
        assert req["json"] == sdk.json, name
        assert req["headers"]["authorization"] == "Bearer ***"  # a key was sent (the sandbox redacts it)
