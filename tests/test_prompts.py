"""Prompts and argument completion (issue #24) through a real MCP client, both protocol eras: the five
everyday workflows as slash commands (`prompts/list`, `prompts/get`) whose steps name only offered tools, and
`completion/complete` for their arguments from the spec's enums and Telnyx's country coverage."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from pathlib import Path
from typing import Any

import httpx
import mcp_types as types
import pytest
from mcp import Client, MCPError

from helpers import TOOLS
from telnyx_numbers_mcp.app import build_server
from telnyx_numbers_mcp.config import build_settings
from telnyx_numbers_mcp.sandbox import Sandbox, create_app

pytestmark = pytest.mark.anyio

WORKFLOWS = {
    "buy_local_number": ["country", "area_code_or_city", "features"],
    "order_number_block": ["country", "size"],
    "number_with_requirements": ["country", "number_type"],
    "release_number": ["number"],
    "review_spending_and_approvals": ["since"],
}
Connect = Callable[..., AbstractAsyncContextManager[Client]]


@pytest.fixture
def sb() -> Sandbox:
    return Sandbox()


@pytest.fixture
def connect(sb: Sandbox, tmp_path: Path, mode: str) -> Connect:
    @asynccontextmanager
    async def open_client(**flags: Any) -> AsyncIterator[Client]:
        base = {"sandbox": True, "audit_log": str(tmp_path / "audit.jsonl")}
        server = build_server(build_settings({**base, **flags}, {}), transport=httpx.ASGITransport(app=create_app(sb)))
        async with Client(server, mode=mode) as client:
            yield client

    return open_client


async def prompt_text(client: Client, name: str, args: dict[str, str]) -> str:
    got = await client.get_prompt(name, args)
    assert len(got.messages) == 1 and got.messages[0].role == "user"
    content = got.messages[0].content
    assert isinstance(content, types.TextContent)
    return content.text


async def test_the_server_declares_prompts_and_completions(connect: Connect) -> None:
    async with connect() as client:
        caps = client.server_capabilities
    assert caps.prompts is not None and caps.completions is not None and caps.tools is not None


async def test_prompts_list_offers_the_five_workflows_with_their_arguments(connect: Connect) -> None:
    async with connect() as client:
        listed = (await client.list_prompts()).prompts
    assert {p.name: [a.name for a in p.arguments or []] for p in listed} == WORKFLOWS
    for prompt in listed:
        assert prompt.description and prompt.title
    required = {p.name: [a.name for a in p.arguments or [] if a.required] for p in listed}
    assert required["buy_local_number"] == ["country"] and required["release_number"] == ["number"]
    assert required["number_with_requirements"] == ["country", "number_type"]


async def test_prompts_get_gives_steps_that_name_offered_tools_with_the_arguments(connect: Connect) -> None:
    async with connect() as client:
        buy = await prompt_text(client, "buy_local_number", {"country": "us", "area_code_or_city": "312",
                                                              "features": "sms,voice"})  # fmt: skip
        city = await prompt_text(client, "buy_local_number", {"country": "US", "area_code_or_city": "Chicago"})
        block = await prompt_text(client, "order_number_block", {"country": "US", "size": "100"})
    assert (
        "Find numbers with available_phone_numbers_list (filter country_code=US, national_destination_code=312, "
        "phone_number_type=local, features=sms,voice, limit=10)." in buy
    )
    for tool in ("country_coverage_retrieve_country", "number_reservations_create", "number_orders_create",
                 "number_orders_retrieve", "check_approval"):  # fmt: skip
        assert tool in buy, tool
    assert "1. Check what US local numbers require before ordering with country_coverage_retrieve_country." in buy
    assert "locality=Chicago" in city
    assert "Find blocks of 100 numbers with available_phone_number_blocks_list" in block
    assert "number_block_orders_create" in block


async def test_a_step_whose_toolset_is_off_says_which_and_how_to_enable_it(connect: Connect) -> None:
    async with connect() as default, connect(toolsets="all") as everything:
        off = await prompt_text(default, "release_number", {"number": "+13125550001"})
        on = await prompt_text(everything, "release_number", {"number": "+13125550001"})
        groups = await prompt_text(everything, "number_with_requirements", {"country": "GB", "number_type": "mobile"})
    assert "phone_numbers_delete" not in off and "phone_numbers_list" not in off
    assert "Toolset numbers is not enabled; the operator enables it with --toolsets default,numbers." in off
    assert "Release it by its id (needs toolset numbers)." in off
    assert "Release it by its id with phone_numbers_delete." in on and "not enabled" not in on
    assert "requirement_groups_create" in groups and "sub_number_orders_update_group" in groups


async def test_prompts_respect_tools_read_only_and_the_tool_mode(connect: Connect) -> None:
    async with connect(read_only=True) as reader, connect(tool_mode="discover") as finder:
        read = await prompt_text(reader, "buy_local_number", {"country": "US"})
        found = await prompt_text(finder, "buy_local_number", {"country": "US"})
    assert "available_phone_numbers_list" in read
    assert "number_orders_create" not in read and "number_reservations_create" not in read  # held back
    assert "Reach each tool named below with call_tool (describe_tool shows its arguments)." in found
    assert "with number_orders_create" in found  # reached through call_tool


async def test_prompts_get_refuses_unknown_prompts_and_bad_arguments(connect: Connect) -> None:
    async with connect() as client:
        with pytest.raises(MCPError) as unknown:
            await client.get_prompt("nope", {})
        with pytest.raises(MCPError) as missing:
            await client.get_prompt("number_with_requirements", {"country": "GB"})
        with pytest.raises(MCPError) as number:
            await client.get_prompt("release_number", {"number": "0312 555 0001"})
        with pytest.raises(MCPError) as extra:
            await client.get_prompt("release_number", {"number": "+13125550001", "colour": "red"})
        with pytest.raises(MCPError) as long:
            await client.get_prompt("buy_local_number", {"country": "US", "area_code_or_city": "x" * 101})
    assert unknown.value.error.code == types.INVALID_PARAMS and "Unknown prompt 'nope'" in unknown.value.error.message
    assert "needs argument(s): number_type" in missing.value.error.message
    assert "is not E.164" in number.value.error.message
    assert "has no argument(s) colour; it takes number" in extra.value.error.message
    assert "area_code_or_city longer than 100 characters" in long.value.error.message


async def complete(client: Client, prompt: str, argument: str, value: str) -> types.Completion:
    answer = await client.complete(types.PromptReference(type="ref/prompt", name=prompt), {"name": argument,
                                                                                           "value": value})  # fmt: skip
    return answer.completion


async def test_completion_completes_countries_types_and_features(sb: Sandbox, connect: Connect) -> None:
    number_types = TOOLS["available_phone_numbers_list"].input_schema["properties"]["filter"]["properties"][
        "phone_number_type"]["enum"]  # fmt: skip
    async with connect() as client:
        by_code = await complete(client, "buy_local_number", "country", "g")
        by_name = await complete(client, "buy_local_number", "country", "germ")
        every = await complete(client, "number_with_requirements", "country", "")
        kinds = await complete(client, "number_with_requirements", "number_type", "")
        mobile = await complete(client, "number_with_requirements", "number_type", "mo")
        features = await complete(client, "buy_local_number", "features", "sms,v")
        first = await complete(client, "buy_local_number", "features", "")
        city = await complete(client, "buy_local_number", "area_code_or_city", "Chi")
    assert by_code.values[0] == "GB" and "DE" in by_code.values  # codes first, then names (Germany)
    assert by_name.values == ["DE"]
    assert every.total == len(every.values) and {"US", "GB", "DE"} <= set(every.values)
    assert "AF" not in every.values  # listed by coverage without numbers
    assert kinds.values == number_types and mobile.values == ["mobile"]
    assert features.values == ["sms,voice"] and "sms" in first.values and "hd_voice" in first.values
    assert city.values == [] and city.has_more is False
    # the coverage data was read once, then kept
    assert sum(1 for r in sb.requests if r["path"] == "/v2/country_coverage") == 1


async def test_completion_refuses_unknown_prompts_and_arguments(connect: Connect) -> None:
    async with connect() as client:
        with pytest.raises(MCPError) as prompt:
            await complete(client, "test_prompt_with_arguments", "arg1", "par")
        with pytest.raises(MCPError) as argument:
            await complete(client, "buy_local_number", "colour", "re")
    assert prompt.value.error.code == types.INVALID_PARAMS and "Unknown prompt" in prompt.value.error.message
    assert "has no argument 'colour'" in argument.value.error.message
