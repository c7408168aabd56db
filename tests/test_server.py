"""The MCP server through a real MCP client (both protocol eras) against the in-process sandbox."""

from __future__ import annotations

import csv
import io
import re
from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from pathlib import Path
from typing import Any

import httpx
import mcp_types as types
import pytest
from mcp import Client, MCPError

from helpers import ALL_CATALOG, CATALOG, SPEND_TOOLS, TOOLS, call_args, text_of, tool_data
from sandbox_helpers import served
from sdk_oracle import sdk_request
from telnyx_numbers_mcp.app import build_server
from telnyx_numbers_mcp.catalog import ToolSpec
from telnyx_numbers_mcp.config import Settings, build_settings
from telnyx_numbers_mcp.errors import ConfigError
from telnyx_numbers_mcp.sandbox import Sandbox, create_app

pytestmark = pytest.mark.anyio

BASE = "http://sandbox.invalid/v2"
KEY = "KEY_test_0123456789secret"


def settings_for(tmp_path: Path, **flags: Any) -> Settings:
    base: dict[str, Any] = {
        "base_url": BASE,
        "api_key": KEY,
        "audit_log": str(tmp_path / "audit.jsonl"),
        "retry_backoff": 0.01,
        "state_dir": str(tmp_path / "state"),
    }
    base.update(flags)
    return build_settings(base, {})


Connect = Callable[..., AbstractAsyncContextManager[Client]]


@pytest.fixture
def sb() -> Sandbox:
    return Sandbox()


@pytest.fixture
def connect(sb: Sandbox, tmp_path: Path, mode: str) -> Connect:
    @asynccontextmanager
    async def open_client(**flags: Any) -> AsyncIterator[Client]:
        transport = httpx.ASGITransport(app=create_app(sb))
        server = build_server(settings_for(tmp_path, **flags), transport=transport)
        async with Client(server, mode=mode) as client:
            yield client

    return open_client


def recorded(sb: Sandbox, index: int = -1) -> tuple[str, str, list[tuple[str, str]], Any]:
    req = sb.requests[index]
    path = req["path"]
    assert path.startswith("/v2"), path
    return req["method"], path[len("/v2") :], sorted(map(tuple, req["query_pairs"])), req["json"]


def is_cost_lookup(tool: ToolSpec, request: dict[str, Any]) -> bool:
    """The server's own look-ups beside a call: a purchase first looks its numbers' costs up in the number
    search; a country's coverage (and an order waiting for requirements) reads the regulatory requirements."""
    if request["path"] == "/v2/regulatory_requirements" and tool.name != "regulatory_requirements_retrieve":
        return True
    return tool.kind == "purchase" and request["path"] == "/v2/available_phone_numbers"


# ---- 1 and 9: every tool sends what the official SDK sends ------------------------------------------


async def test_every_tool_sends_the_same_request_as_the_official_sdk(sb: Sandbox, connect: Connect) -> None:
    async with connect(purchase_policy="allow", toolsets=("all",)) as client:
        listed = {t.name: t for t in (await client.list_tools()).tools}
        # allow: no confirm_action, no check_approval, no request_mandate (nothing is asked); spending stays
        assert set(listed) == {t.name for t in ALL_CATALOG} | {"spending"}
        mismatches = []
        for tool in ALL_CATALOG:
            args = call_args(tool)
            before = len(sb.requests)
            # the SDK client validates structuredContent against outputSchema and raises on a mismatch
            result = await client.call_tool(tool.name, args)
            assert isinstance(result, types.CallToolResult), tool.name
            assert KEY not in text_of(result)
            sent = [i for i in range(before, len(sb.requests)) if not is_cost_lookup(tool, sb.requests[i])]
            assert len(sent) == 1, (tool.name, text_of(result))
            sdk = sdk_request(tool.sdk_method, args)
            ours = recorded(sb, sent[0])
            want = (sdk.method, sdk.path, sorted(sdk.query), sdk.json)
            if ours != want:
                mismatches.append((tool.name, ours, want))
            if not result.is_error and tool.output_schema is not None:
                assert result.structured_content is not None, tool.name
        assert not mismatches, mismatches


async def test_the_csv_download_returns_text_with_a_row_per_sub_order(sb: Sandbox, connect: Connect) -> None:
    async with connect(purchase_policy="allow") as client:
        found = await tool_data(client, "available_phone_numbers_list", {"filter": {"country_code": "US", "limit": 1}})
        ordered = await client.call_tool(
            "number_orders_create",
            {"phone_numbers": [{"phone_number": found[0]["phone_number"]}], "customer_reference": "csv-ref"},
        )
        assert not ordered.is_error, text_of(ordered)
        assert ordered.structured_content is not None
        order_id = ordered.structured_content["data"]["id"]
        sb.clock.advance(10)  # the order succeeds
        created = await client.call_tool("sub_number_orders_report_create", {"country_code": "US"})
        assert not created.is_error, text_of(created)
        assert created.structured_content is not None
        report_id = created.structured_content["data"]["id"]
        sb.clock.advance(3600)
        result = await client.call_tool("sub_number_orders_report_download", {"report_id": report_id})
    assert not result.is_error, text_of(result)
    assert result.structured_content is None
    rows = list(csv.DictReader(io.StringIO(text_of(result))))
    assert len(rows) == 1, text_of(result)
    assert rows[0]["order_request_id"] == order_id
    assert rows[0]["status"] == "success" and rows[0]["phone_numbers_count"] == "1"
    assert rows[0]["country_code"] == "US" and rows[0]["customer_reference"] == "csv-ref"


async def test_the_api_key_is_sent_as_a_bearer_token(sb: Sandbox, tmp_path: Path) -> None:
    seen: list[str] = []

    async def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request.headers.get("authorization", ""))
        return httpx.Response(200, json={"data": [], "meta": {}})

    server = build_server(settings_for(tmp_path), transport=httpx.MockTransport(handler))
    async with Client(server, mode="legacy") as client:
        await client.call_tool("available_phone_numbers_list", {"filter": {"country_code": "US"}})
    assert seen == [f"Bearer {KEY}"]


async def test_the_api_key_never_appears_in_an_error_even_when_upstream_echoes_it(tmp_path: Path, mode: str) -> None:
    async def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(400, text=f"proxy: bad header {request.headers['authorization']}")

    server = build_server(settings_for(tmp_path), transport=httpx.MockTransport(handler))
    async with Client(server, mode=mode) as client:
        result = await client.call_tool("number_orders_list", {})
    assert result.is_error
    assert "HTTP 400" in text_of(result) and "Bearer ***" in text_of(result)
    assert KEY not in text_of(result)


# ---- 8: pagination --------------------------------------------------------------------------------


async def test_a_list_tool_with_page_arguments_returns_meta(sb: Sandbox, connect: Connect) -> None:
    async with connect() as client:
        result = await client.call_tool("number_orders_list", {"page_number": 1, "page_size": 2})
    assert not result.is_error, text_of(result)
    assert result.structured_content is not None
    assert "meta" in result.structured_content
    method, path, query, _ = recorded(sb)
    assert (method, path) == ("GET", "/number_orders")
    assert ("page[size]", "2") in query and ("page[number]", "1") in query


# ---- 3: error classes -----------------------------------------------------------------------------


async def test_bad_arguments_name_every_bad_field_and_send_nothing(sb: Sandbox, connect: Connect) -> None:
    async with connect() as client:
        result = await client.call_tool(
            "available_phone_numbers_list",
            {"filter": {"country_code": 12, "limit": "many"}, "bogus": True},
        )
    assert result.is_error
    text = text_of(result)
    for path in ("country_code", "limit", "bogus"):
        assert path in text, text
    assert sb.requests == []


async def test_an_unknown_tool_is_a_protocol_error(sb: Sandbox, connect: Connect) -> None:
    async with connect() as client:
        with pytest.raises(MCPError, match="Unknown tool"):
            await client.call_tool("no_such_tool", {})
    assert sb.requests == []


async def test_a_missing_api_key_is_explained_and_nothing_is_sent(sb: Sandbox, tmp_path: Path, mode: str) -> None:
    settings = build_settings({"base_url": BASE, "audit_log": str(tmp_path / "a.jsonl")}, {})
    server = build_server(settings, transport=httpx.ASGITransport(app=create_app(sb)))
    async with Client(server, mode=mode) as client:
        search = await client.call_tool("available_phone_numbers_list", {"filter": {"country_code": "US"}})
        # a purchase neither looks up costs nor issues a quote that could never be carried out
        purchase = await client.call_tool("number_orders_create", {"phone_numbers": [{"phone_number": "+13125550001"}]})
    for result in (search, purchase):
        assert result.is_error
        assert "TELNYX_API_KEY" in text_of(result)
    assert sb.requests == []


@pytest.mark.parametrize("status", [401, 403, 404, 422, 429, 500])
async def test_telnyx_errors_show_status_code_title_detail_and_a_hint(
    sb: Sandbox, connect: Connect, status: int
) -> None:
    sb.faults.add(status, count=10)
    async with connect(max_retries=0) as client:
        result = await client.call_tool("number_orders_list", {})
    assert result.is_error
    text = text_of(result)
    assert f"HTTP {status}" in text
    assert "Hint:" in text
    assert re.search(r"^- \d+ .+: .+", text, re.M), text  # Telnyx's code, title and detail
    assert KEY not in text


async def test_a_real_404_and_422_carry_telnyx_code_title_and_detail(sb: Sandbox, connect: Connect) -> None:
    async with connect() as client:
        missing = await client.call_tool(
            "number_orders_retrieve", {"number_order_id": "12ade33a-21c0-473b-b055-b3c836e1c292"}
        )
        assert missing.is_error
        assert "HTTP 404" in text_of(missing) and "no such resource" in text_of(missing)
        reserve = {"phone_numbers": [{"phone_number": "+13125550001"}]}
        first = await client.call_tool("number_reservations_create", reserve)
        assert not first.is_error, text_of(first)
        bad = await client.call_tool("number_reservations_create", reserve)  # already reserved
        assert bad.is_error
        assert "HTTP 422" in text_of(bad) and "Hint:" in text_of(bad)
    texts = [text_of(missing), text_of(bad)]
    for text in texts:
        assert re.search(r"^- \d+ .+: .+", text, re.M), text
        assert KEY not in text


async def test_a_timeout_says_a_read_was_retried_and_a_write_may_have_reached_telnyx(tmp_path: Path, mode: str) -> None:
    sb = Sandbox()
    with served(sb) as base_url:
        server = build_server(settings_for(tmp_path, base_url=base_url, timeout=0.5, max_retries=1))
        async with Client(server, mode=mode) as client:
            # margins wide enough for a loaded machine: the bound covers connecting too
            sb.faults.add(200, method="POST", delay=1.5)
            write = await client.call_tool(
                "number_reservations_create", {"phone_numbers": [{"phone_number": "+13125550001"}]}
            )
            sb.faults.add(200, method="GET", delay=1.5, count=2)
            read = await client.call_tool("number_orders_list", {})
    assert write.is_error and "may have reached Telnyx" in text_of(write)
    assert read.is_error and "did not answer in time" in text_of(read)
    methods = [r["method"] for r in sb.requests]
    assert methods.count("POST") == 1
    assert methods.count("GET") == 2
    assert KEY not in text_of(write) + text_of(read)


async def test_a_dropped_connection_on_a_write_says_it_may_have_reached_telnyx(sb: Sandbox, connect: Connect) -> None:
    sb.faults.add(200, method="POST", drop=True)
    async with connect() as client:
        result = await client.call_tool(
            "number_reservations_create", {"phone_numbers": [{"phone_number": "+13125550001"}]}
        )
    assert result.is_error
    assert "may have reached Telnyx" in text_of(result)
    assert len(sb.requests) == 1


async def test_a_dropped_connection_on_a_purchase_warns_not_to_order_again(sb: Sandbox, connect: Connect) -> None:
    sb.faults.add(200, method="POST", drop=True)
    async with connect(purchase_policy="allow") as client:
        result = await client.call_tool(
            "number_orders_create",
            {"phone_numbers": [{"phone_number": "+13125550001"}], "customer_reference": "ref-9"},
        )
    assert result.is_error
    assert "DO NOT order again" in text_of(result) and "ref-9" in text_of(result)
    assert [r["method"] for r in sb.requests].count("POST") == 1


# ---- 4: retries -----------------------------------------------------------------------------------


async def test_a_read_is_retried_after_429_with_retry_after(sb: Sandbox, connect: Connect) -> None:
    sb.faults.add(429, method="GET", retry_after=0.01)
    async with connect() as client:
        result = await client.call_tool("number_orders_list", {})
    assert not result.is_error, text_of(result)
    assert len(sb.requests) == 2


async def test_a_read_is_retried_on_503_up_to_max_retries_then_fails(sb: Sandbox, connect: Connect) -> None:
    sb.faults.add(503, method="GET", count=10)
    async with connect(max_retries=2) as client:
        result = await client.call_tool("number_orders_list", {})
    assert result.is_error
    assert "HTTP 503" in text_of(result) and "tried 3 times" in text_of(result)
    assert len(sb.requests) == 3


@pytest.mark.parametrize(
    "tool,args",
    [
        ("number_reservations_create", {"phone_numbers": [{"phone_number": "+13125550001"}]}),
        ("comments_create", {"body": "hello", "comment_record_type": "sub_number_order", "comment_record_id": "x"}),
    ],
)
async def test_a_write_answered_503_is_not_retried(
    sb: Sandbox, connect: Connect, tool: str, args: dict[str, Any]
) -> None:
    if tool not in TOOLS:
        pytest.skip(f"{tool} is not in the catalog")
    sb.faults.add(503, method="POST", count=10)
    async with connect(max_retries=3) as client:
        result = await client.call_tool(tool, args)
    assert result.is_error
    assert "HTTP 503" in text_of(result) and "may or may not have been made" in text_of(result)
    assert len(sb.requests) == 1


@pytest.mark.parametrize("tool", ["number_orders_list", "number_reservations_create"])
async def test_a_failed_connect_is_retried_even_for_a_write_since_nothing_was_sent(
    tmp_path: Path, mode: str, tool: str
) -> None:
    attempts: list[str] = []

    async def handler(request: httpx.Request) -> httpx.Response:
        attempts.append(request.method)
        if len(attempts) == 1:
            raise httpx.ConnectError("connection refused", request=request)
        return httpx.Response(200, json={"data": {"id": "x"}} if request.method == "POST" else {"data": []})

    server = build_server(settings_for(tmp_path), transport=httpx.MockTransport(handler))
    async with Client(server, mode=mode) as client:
        result = await client.call_tool(
            tool, {"phone_numbers": [{"phone_number": "+13125550001"}]} if "create" in tool else {}
        )
    assert len(attempts) == 2
    assert not result.is_error, text_of(result)


async def test_a_connect_failure_that_persists_says_the_request_was_not_sent(tmp_path: Path, mode: str) -> None:
    async def handler(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("connection refused", request=request)

    server = build_server(settings_for(tmp_path, max_retries=1), transport=httpx.MockTransport(handler))
    async with Client(server, mode=mode) as client:
        result = await client.call_tool(
            "number_reservations_create", {"phone_numbers": [{"phone_number": "+13125550001"}]}
        )
    assert result.is_error
    assert "was not sent" in text_of(result)


# ---- 5: filtering ---------------------------------------------------------------------------------


async def names(connect: Connect, **flags: Any) -> set[str]:
    async with connect(**flags) as client:
        return {t.name for t in (await client.list_tools()).tools}


async def test_toolsets_offer_only_their_tools(connect: Connect) -> None:
    expected = {t.name for t in CATALOG if t.toolset == "search"}
    assert expected
    assert await names(connect, toolsets=("search",)) == expected | (
        {"check_approval"} if any(TOOLS[n].guarded for n in expected) else set()
    )


async def test_tools_offer_exactly_the_named_tools(connect: Connect) -> None:
    assert await names(connect, tools=("available_phone_numbers_list", "number_orders_list")) == {
        "available_phone_numbers_list",
        "number_orders_list",
    }


async def test_read_only_offers_no_write_tool(connect: Connect) -> None:
    assert await names(connect, read_only=True) == {t.name for t in CATALOG if t.read_only}


async def test_the_default_policy_adds_check_approval_to_the_full_list(connect: Connect) -> None:
    assert await names(connect) == set(TOOLS) | {"check_approval", *SPEND_TOOLS}
    # host-confirm asks through confirm_action, which cannot grant a mandate: only spending comes along
    assert await names(connect, purchase_policy="host-confirm") == set(TOOLS) | {"confirm_action", "spending"}


async def test_opt_in_toolsets_are_offered_only_when_named(connect: Connect) -> None:
    default = await names(connect)
    assert not default & {"phone_numbers_list", "requirement_groups_create", "number_lookup_retrieve"}
    numbers = await names(connect, toolsets=("numbers",))
    assert numbers == {t.name for t in ALL_CATALOG if t.toolset == "numbers"} | {"check_approval"}  # no purchases
    assert await names(connect, toolsets=("all",)) == {t.name for t in ALL_CATALOG} | {"check_approval", *SPEND_TOOLS}
    # naming a tool offers it without its toolset; a billed tool brings check_approval (past the lookup budget)
    assert await names(connect, tools=("number_lookup_retrieve",)) == {"number_lookup_retrieve", "check_approval"}


async def test_a_hidden_tool_cannot_be_called(sb: Sandbox, connect: Connect) -> None:
    async with connect(read_only=True) as client:
        with pytest.raises(MCPError, match="Unknown tool"):
            await client.call_tool("number_reservations_create", {"phone_numbers": [{"phone_number": "+13125550001"}]})
    assert sb.requests == []


def test_an_unknown_toolset_is_a_config_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError):
        build_server(settings_for(tmp_path, toolsets=("no_such_toolset",)))


def test_an_unknown_tool_name_is_a_config_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError):
        build_server(settings_for(tmp_path, tools=("no_such_tool",)))


# ---- 9: successful answers validate against each tool's outputSchema ---------------------------------


async def test_a_purchase_lifecycle_succeeds_and_every_answer_matches_its_output_schema(
    sb: Sandbox, connect: Connect
) -> None:
    """The example ids of test 1 mostly get 404; here real ids make each call succeed. The SDK client
    validates structuredContent against the tool's outputSchema and raises on any mismatch."""
    succeeded: set[str] = set()
    async with connect(purchase_policy="allow") as client:

        async def call(name: str, args: dict[str, Any]) -> dict[str, Any]:
            result = await client.call_tool(name, args)
            assert not result.is_error, (name, text_of(result))
            assert result.structured_content is not None, name
            succeeded.add(name)
            data: dict[str, Any] = result.structured_content
            return data

        found = await call("available_phone_numbers_list", {"filter": {"country_code": "US", "limit": 3}})
        numbers = [d["phone_number"] for d in found["data"]]
        reservation = (await call("number_reservations_create", {"phone_numbers": [{"phone_number": numbers[0]}]}))[
            "data"
        ]["id"]
        await call("number_reservations_retrieve", {"number_reservation_id": reservation})
        await call("number_reservations_actions_extend", {"number_reservation_id": reservation})
        order = (
            await call(
                "number_orders_create", {"phone_numbers": [{"phone_number": numbers[1]}], "customer_reference": "r1"}
            )
        )["data"]
        await call("number_orders_list", {"filter": {"customer_reference": "r1"}})
        await call("number_orders_retrieve", {"number_order_id": order["id"]})
        await call("number_orders_update", {"number_order_id": order["id"], "customer_reference": "r2"})
        number_id = order["phone_numbers"][0]["id"]
        await call("number_order_phone_numbers_retrieve", {"number_order_phone_number_id": number_id})
        sub = (await call("sub_number_orders_list", {}))["data"][0]["id"]
        await call("sub_number_orders_retrieve", {"sub_number_order_id": sub})
        comment = (
            await call(
                "comments_create", {"body": "hi", "comment_record_type": "sub_number_order", "comment_record_id": sub}
            )
        )["data"]["id"]
        await call("comments_retrieve", {"id": comment})
        await call("comments_mark_as_read", {"id": comment})
        report = (await call("sub_number_orders_report_create", {}))["data"]["id"]
        await call("sub_number_orders_report_retrieve", {"report_id": report})
        await call("sub_number_orders_cancel", {"sub_number_order_id": sub})
    assert len(succeeded) == 17
    assert all(r["method"] in ("GET", "POST", "PATCH") for r in sb.requests)


async def test_advanced_block_inexplicit_and_csr_calls_succeed_with_schema_valid_answers(
    sb: Sandbox, connect: Connect
) -> None:
    async with connect(purchase_policy="allow", max_numbers_per_order=1000) as client:

        async def call(name: str, args: dict[str, Any]) -> dict[str, Any]:
            result = await client.call_tool(name, args)
            assert not result.is_error, (name, text_of(result))
            assert result.structured_content is not None, name
            data: dict[str, Any] = result.structured_content
            return data

        advanced = (await call("advanced_orders_create", call_args(TOOLS["advanced_orders_create"])))["id"]
        await call("advanced_orders_retrieve", {"order_id": advanced})
        updated = await call(
            "advanced_orders_update_requirement_group",
            {"advanced_order_id": advanced, "requirement_group_id": "12ade33a-21c0-473b-b055-b3c836e1c292"},
        )
        assert updated["requirement_group_id"] == "12ade33a-21c0-473b-b055-b3c836e1c292"
        csr = await call("customer_service_records_create", call_args(TOOLS["customer_service_records_create"]))
        await call("customer_service_records_retrieve", {"customer_service_record_id": csr["data"]["id"]})
        block = (await call("available_phone_number_blocks_list", {"filter": {"country_code": "US"}}))["data"][0]
        order = await call(
            "number_block_orders_create", {"starting_number": block["phone_number"], "range": block["range"]}
        )
        await call("number_block_orders_retrieve", {"number_block_order_id": order["data"]["id"]})
        group = {"country_iso": "US", "phone_number_type": "local", "count_requested": "1"}
        inexplicit = await call("inexplicit_number_orders_create", {"ordering_groups": [group]})
        await call("inexplicit_number_orders_retrieve", {"id": inexplicit["data"]["id"]})


async def test_an_approved_purchase_is_attempted_once_even_when_the_connection_fails(tmp_path: Path) -> None:
    attempts: list[str] = []

    def refuse(request: httpx.Request) -> httpx.Response:
        attempts.append(f"{request.method} {request.url.path}")
        raise httpx.ConnectError("connection refused", request=request)

    settings = settings_for(tmp_path, purchase_policy="allow", max_retries=3)
    order = {"phone_numbers": [{"phone_number": "+13125550001"}], "customer_reference": "ref-1"}
    async with Client(build_server(settings, transport=httpx.MockTransport(refuse)), mode="legacy") as c:
        result = await c.call_tool("number_orders_create", order)
        search = await c.call_tool("available_phone_numbers_list", {"filter": {"country_code": "US"}})
    assert result.is_error and "was not sent" in text_of(result)
    assert attempts.count("POST /v2/number_orders") == 1
    assert search.is_error and attempts.count("GET /v2/available_phone_numbers") == 4  # reads do retry
