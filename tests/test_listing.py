"""tools/list is built once per offered tool set and served from that cache, through real MCP clients in
both protocol eras: repeated answers are identical, and clients that differ in what they may see (can they
elicit, under `elicit-only`) each get their own answer from one server."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import httpx
import mcp_types as types
import pytest
from mcp import Client

from helpers import CATALOG, GUARDED, Human
from telnyx_numbers_mcp.app import build_server
from telnyx_numbers_mcp.config import build_settings
from telnyx_numbers_mcp.sandbox import Sandbox, create_app

pytestmark = pytest.mark.anyio


def server_for(tmp_path: Path, **flags: Any) -> Any:
    settings = build_settings({"api_key": "KEY_x", "audit_log": str(tmp_path / "audit.jsonl"), **flags}, {})
    return build_server(settings, transport=httpx.ASGITransport(app=create_app(Sandbox())))


def dump(result: types.ListToolsResult) -> list[dict[str, Any]]:
    return [t.model_dump(by_alias=True, mode="json", exclude_none=True) for t in result.tools]


async def test_repeated_tools_lists_are_identical_and_complete(tmp_path: Path, mode: str) -> None:
    server = server_for(tmp_path)
    async with Client(server, mode=mode) as first:
        a, b = await first.list_tools(), await first.list_tools()
    async with Client(server, mode=mode) as second:  # a new session gets the cached answer
        c = await second.list_tools()
    assert dump(a) == dump(b) == dump(c)
    assert len(a.tools) == len(CATALOG) + 3  # the default tools, check_approval, request_mandate and spending
    # the cached answer still calls: the first call after it works as usual
    async with Client(server, mode=mode) as third:
        await third.list_tools()
        result = await third.call_tool("available_phone_numbers_list", {"filter": {"country_code": "US", "limit": 1}})
    assert not result.is_error


async def test_one_server_lists_per_client_capability_under_elicit_only(tmp_path: Path, mode: str) -> None:
    server = server_for(tmp_path, purchase_policy="elicit-only")
    for _ in range(2):  # the second round is served from the cache
        async with Client(server, mode=mode) as blind, Client(server, mode=mode, elicitation_callback=Human()) as asks:
            blind_names = {t.name for t in (await blind.list_tools()).tools}
            asking_names = {t.name for t in (await asks.list_tools()).tools}
        assert not blind_names & set(GUARDED)
        assert asking_names >= set(GUARDED)
        assert "confirm_action" not in blind_names | asking_names


async def test_discover_mode_caches_its_own_three_tools(tmp_path: Path, mode: str) -> None:
    server = server_for(tmp_path, tool_mode="discover", purchase_policy="allow")
    async with Client(server, mode=mode) as c:
        first, again = await c.list_tools(), await c.list_tools()
    assert (
        [t.name for t in first.tools]
        == [t.name for t in again.tools]
        == ["find_tools", "describe_tool", "call_tool", "spending"]
    )


@pytest.mark.parametrize(
    "flags",
    [{}, {"tool_mode": "discover"}, {"purchase_policy": "host-confirm"}, {"purchase_policy": "deny"},
     {"read_only": True}, {"toolsets": "all"}, {"purchase_policy": "elicit-only"}],
    ids=["default", "discover", "host-confirm", "deny", "read-only", "all", "elicit-only"],
)  # fmt: skip
async def test_the_tools_command_lists_exactly_what_the_server_offers(
    tmp_path: Path, flags: dict[str, Any], capsys: pytest.CaptureFixture[str]
) -> None:
    """`telnyx-numbers-mcp tools` prints the tools/list answer a client gets (one that cannot elicit)."""
    from telnyx_numbers_mcp.cli import print_tools

    settings = build_settings({"api_key": "KEY_x", "state_dir": str(tmp_path), **flags}, {})
    assert print_tools(settings) == 0
    printed = [line.split()[0] for line in capsys.readouterr().out.splitlines()]
    async with Client(server_for(tmp_path, **flags), mode="legacy") as client:
        offered = [t.name for t in (await client.list_tools()).tools]
    assert printed == offered
    if flags.get("tool_mode") == "discover":
        assert printed == ["find_tools", "describe_tool", "call_tool", "check_approval", "request_mandate", "spending"]
