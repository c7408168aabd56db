"""What the agent reads (issue #11): compact result text, prices on every quote, hints for slow work,
curated tool descriptions and the server instructions. Everything goes through a real MCP client
against the in-process sandbox, as an agent in sandbox mode sees it."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from pathlib import Path
from typing import Any

import httpx
import mcp_types as types
import pytest
from mcp import Client

from sandbox_helpers import client_for
from telnyx_numbers_mcp.app import build_server
from telnyx_numbers_mcp.config import build_settings
from telnyx_numbers_mcp.sandbox import Sandbox, create_app

pytestmark = pytest.mark.anyio

# Result text of the canonical flow below, as the server answered before compact results (commit a29dabd,
# in-memory client without elicitation, sandbox mode, so the order is a quote): measured by running
# `canonical_flow` on that commit and summing the characters of every text block of every result.
BASELINE_FLOW_CHARS = 15_011
ACCOUNT = "sandbox"  # the key the server uses in sandbox mode: the sandbox account the flow's order lives in

Connect = Callable[..., AbstractAsyncContextManager[Client]]


@pytest.fixture
def sb() -> Sandbox:
    return Sandbox()


@pytest.fixture
def connect(sb: Sandbox, tmp_path: Path) -> Connect:
    @asynccontextmanager
    async def open_client(mode: str = "legacy", **flags: Any) -> AsyncIterator[Client]:
        settings = build_settings({"sandbox": True, "audit_log": str(tmp_path / "audit.jsonl"), **flags}, {})
        server = build_server(settings, transport=httpx.ASGITransport(app=create_app(sb)))
        async with Client(server, mode=mode) as client:  # type: ignore[arg-type]
            yield client

    return open_client


def text_of(result: types.CallToolResult) -> str:
    return "\n".join(getattr(b, "text", "") for b in result.content)


async def place_order(sb: Sandbox, number: str) -> str:
    """An order a human already approved, placed straight on the sandbox so the flow can follow it."""
    async with client_for(sb, ACCOUNT) as http:
        answer = await http.post("/number_orders", json={"phone_numbers": [{"phone_number": number}]})
        answer.raise_for_status()
        return str(answer.json()["data"]["id"])


async def canonical_flow(sb: Sandbox, client: Client) -> list[tuple[str, types.CallToolResult]]:
    """Search 10 numbers in 312 with sms+voice, list 10 US blocks, reserve one, quote an order, list
    orders, retrieve one, list sub-orders, DE country coverage."""
    out: list[tuple[str, types.CallToolResult]] = []

    async def call(name: str, args: dict[str, Any]) -> types.CallToolResult:
        result = await client.call_tool(name, args)
        assert isinstance(result, types.CallToolResult)
        out.append((name, result))
        return result

    search = {"country_code": "US", "national_destination_code": "312", "features": ["sms", "voice"], "limit": 10}
    found = await call("available_phone_numbers_list", {"filter": search})
    numbers = [d["phone_number"] for d in (found.structured_content or {})["data"]]
    await call("available_phone_number_blocks_list", {"filter": {"country_code": "US", "limit": 10}})
    await call("number_reservations_create", {"phone_numbers": [{"phone_number": numbers[0]}]})
    await call("number_orders_create", {"phone_numbers": [{"phone_number": numbers[1]}]})
    order_id = await place_order(sb, numbers[2])
    await call("number_orders_list", {})
    await call("number_orders_retrieve", {"number_order_id": order_id})
    await call("sub_number_orders_list", {})
    await call("country_coverage_retrieve_country", {"country_code": "DE"})
    return out
