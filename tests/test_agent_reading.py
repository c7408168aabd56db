"""What the agent reads (issue #11): compact result text, prices on every quote, hints for slow work,
curated tool descriptions and the server instructions. Everything goes through a real MCP client
against the in-process sandbox, as an agent in sandbox mode sees it."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from pathlib import Path
from typing import Any

import httpx
import mcp_types as types
import pytest
from mcp import Client

from helpers import ALL_CATALOG, EVERYTHING, doc_prose, text_of, tool_data
from sandbox_helpers import client_for
from telnyx_numbers_mcp.app import build_server
from telnyx_numbers_mcp.calls.render import utc
from telnyx_numbers_mcp.calls.results import SANDBOX_TAG
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
        # no elicitation: a purchase answers at once with its summary, awaiting the human's approval
        base = {"sandbox": True, "audit_log": str(tmp_path / "audit.jsonl"), "approval_wait": 0}
        settings = build_settings({**base, **flags}, {})
        server = build_server(settings, transport=httpx.ASGITransport(app=create_app(sb)))
        async with Client(server, mode=mode) as client:
            yield client

    return open_client


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
    # the spec's block filter has no `limit` (unknown filter keys are refused); the sandbox lists 10 blocks
    await call("available_phone_number_blocks_list", {"filter": {"country_code": "US"}})
    await call("number_reservations_create", {"phone_numbers": [{"phone_number": numbers[0]}]})
    await call("number_orders_create", {"phone_numbers": [{"phone_number": numbers[1]}]})
    order_id = await place_order(sb, numbers[2])
    await call("number_orders_list", {})
    await call("number_orders_retrieve", {"number_order_id": order_id})
    await call("sub_number_orders_list", {})
    await call("country_coverage_retrieve_country", {"country_code": "DE"})
    return out


FACT_KEYS = {"phone_number", "upfront_cost", "monthly_cost", "currency", "status", "expired_at", "range", "code",
             "customer_reference", "phone_number_type", "country_code", "region", "requirements_status"}  # fmt: skip


def facts(value: Any, key: str = "") -> set[str]:
    """Every number, price, status and id in an answer: what the agent must still be able to read."""
    if isinstance(value, dict):
        return set().union(*(facts(v, k) for k, v in value.items())) if value else set()
    if isinstance(value, list):
        return set().union(*(facts(v, key) for v in value)) if value else set()
    wanted = key in FACT_KEYS or key == "id" or key.endswith(("_id", "_ids"))
    return {str(value)} if wanted and value not in (None, "") and not isinstance(value, bool) else set()


async def test_the_canonical_flow_reads_in_40_percent_of_the_characters_with_every_fact_kept(
    sb: Sandbox, connect: Connect
) -> None:
    async with connect() as client:
        flow = await canonical_flow(sb, client)
    total = sum(len(text_of(r)) for _, r in flow)
    assert total <= 0.40 * BASELINE_FLOW_CHARS, f"{total} characters, {total / BASELINE_FLOW_CHARS:.0%} of today's"
    said = f"reads about {total / BASELINE_FLOW_CHARS:.0%} of the characters of the full-JSON text"
    assert said in doc_prose("agent-view.md"), f"update docs/agent-view.md: {said}"
    for name, result in flow:
        assert not result.is_error, (name, text_of(result))
        data = result.structured_content or {}
        if name == "number_orders_create":  # a quote: the server's own words, checked for its price below
            continue
        missing = sorted(f for f in facts(data) if f not in text_of(result))
        assert not missing, (name, missing, text_of(result))
    # what the facts check cannot see: features, places and the flags a buyer decides on
    search = text_of(flow[0][1])
    assert "CHICAGO, IL, US" in search and "reservable" in search and "sms" in search and "mms" in search
    assert "10 result(s)" in search
    quote = text_of(flow[3][1])
    assert "upfront 1.00 USD, monthly 1.00 USD" in quote and "Total: upfront 1.00 USD" in quote


async def test_the_canonical_flow_structured_content_is_telnyx_s_full_json(sb: Sandbox, connect: Connect) -> None:
    async with connect() as client:
        flow = await canonical_flow(sb, client)
    search = flow[0][1].structured_content or {}
    first = search["data"][0]
    assert first["features"][0] == {"name": "sms"} and first["region_information"][0]["region_type"] == "rate_center"
    assert search["meta"]["total_results"] == 10


async def test_result_format_json_restores_the_full_json_text(sb: Sandbox, connect: Connect) -> None:
    async with connect(result_format="json") as client:
        flow = await canonical_flow(sb, client)
    for name, result in flow:
        if name == "number_orders_create":
            continue  # a quote is the server's own words in both formats
        texts = [c.text for c in result.content if isinstance(c, types.TextContent)]
        body = texts[1] if texts[0] == SANDBOX_TAG else texts[0]  # a change is tagged first
        assert {**json.loads(body), "sandbox": True} == result.structured_content, name
    assert sum(len(text_of(r)) for _, r in flow) > BASELINE_FLOW_CHARS * 0.9


# ---- what tools/list and the server info tell the agent ---------------------------------------------


@pytest.mark.parametrize("mode", ["legacy", "auto"])
async def test_the_server_instructions_are_a_short_guide(connect: Connect, mode: str) -> None:
    async with connect(mode=mode) as client:
        guide = client.instructions
    assert guide is not None and len(guide) < 1500
    for fact in (
        "SANDBOX",  # sandbox vs live
        "available_phone_numbers_list",  # search ->
        "number_reservations_create",  # -> optionally reserve
        "30 minutes",  # how long a reservation lasts
        "number_reservations_actions_extend adds 30",
        "number_orders_create",  # -> order
        "human approves",  # -> approval
        "awaits approval",
        "number_orders_retrieve",  # -> follow the order
        "E.164 (+13125550001)",
        "csr = ",  # which toolset answers which question
        "coverage = ",
    ):
        assert fact in guide, fact


async def test_live_instructions_say_purchases_are_charged(sb: Sandbox, tmp_path: Path) -> None:
    settings = build_settings({"api_key": "KEY_live", "audit_log": str(tmp_path / "a.jsonl")}, {})
    server = build_server(settings, transport=httpx.ASGITransport(app=create_app(sb)))
    async with Client(server, mode="legacy") as client:
        guide = client.instructions or ""
    assert guide.startswith("LIVE:") and "charged" in guide and "SANDBOX" not in guide and len(guide) < 1500


def curated() -> dict[str, str]:
    """scope.toml's curated first sentences, by operation."""
    from telnyx_numbers_mcp.specgen.source import load_scope

    return {f"{e.method} {e.path}": e.description for e in load_scope().entries}


async def test_tools_list_carries_the_curated_descriptions_without_sdk_references(connect: Connect) -> None:
    sentences = curated()
    async with connect(toolsets="all") as client:  # the opt-in toolsets' descriptions too
        tools = (await client.list_tools()).tools
    described = 0
    for tool in tools:
        if tool.name in ("confirm_action", "check_approval", "request_mandate", "spending"):
            continue
        meta = tool.meta or {}
        op = meta["telnyx-numbers-mcp/operation"]
        assert meta["telnyx-numbers-mcp/sdk_method"]  # machine-readable, in _meta only
        assert (tool.description or "").startswith(sentences[op]), tool.name
        assert "[" not in (tool.description or "") and op not in (tool.description or ""), tool.name
        described += 1
    assert described == len(sentences) == len(ALL_CATALOG)
    by_name = {t.name: t for t in tools}
    inventory = by_name["inventory_coverage_list"]
    assert "Creates" not in (inventory.description or "") and inventory.title == "List inventory coverage"
    deletion = by_name["phone_number_blocks_jobs_delete_block"].description or ""
    assert "…" not in deletion and deletion.rstrip().endswith(".")
    assert not any((t.description or "").rstrip().endswith("…") for t in tools)


# ---- a price on every quote -------------------------------------------------------------------------


async def first_found(client: Client, tool: str, flt: dict[str, Any]) -> dict[str, Any]:
    limit = {"limit": 3} if tool == "available_phone_numbers_list" else {}  # the block filter has no limit
    return (await tool_data(client, tool, {"filter": {**flt, **limit}}))[0]


def lookups(sb: Sandbox) -> int:
    return sum(1 for r in sb.requests if r["path"].startswith("/v2/available_phone_number"))


@pytest.mark.parametrize(
    ("flt", "kind"),
    [
        ({"country_code": "US", "national_destination_code": "312"}, "US local"),
        ({"country_code": "US", "phone_number_type": "toll_free"}, "US toll_free"),
        ({"country_code": "GB", "phone_number_type": "mobile"}, "GB mobile"),
    ],
)
async def test_a_searched_number_is_quoted_with_its_price_and_a_total_without_asking_telnyx_again(
    sb: Sandbox, connect: Connect, flt: dict[str, Any], kind: str
) -> None:
    async with connect() as client:
        row = await first_found(client, "available_phone_numbers_list", flt)
        asked = lookups(sb)
        quote = await client.call_tool(
            "number_orders_create", {"phone_numbers": [{"phone_number": row["phone_number"]}]}
        )
    cost = row["cost_information"]
    up, month, cur = cost["upfront_cost"], cost["monthly_cost"], cost["currency"]
    text = text_of(quote)
    assert f"{row['phone_number']}  {kind}  upfront {up} {cur}, monthly {month} {cur}" in text
    assert f"Total: upfront {up} {cur}, then {month} {cur} per month." in text
    assert lookups(sb) == asked  # remembered from the search: no second look-up


async def test_a_number_not_searched_here_is_looked_up_with_its_number_type(sb: Sandbox, connect: Connect) -> None:
    async with client_for(sb, ACCOUNT) as http:  # found elsewhere (e.g. by a person on the portal)
        found = await http.get("/available_phone_numbers", params={"filter[country_code]": "GB",
                                                                    "filter[phone_number_type]": "mobile"})  # fmt: skip
    row = found.json()["data"][0]
    async with connect() as client:
        quote = await client.call_tool(
            "number_orders_create", {"phone_numbers": [{"phone_number": row["phone_number"]}]}
        )
    text = text_of(quote)
    assert f"{row['phone_number']}  GB mobile  upfront 2.00 USD, monthly 5.00 USD" in text, text
    assert "Total: upfront 2.00 USD, then 5.00 USD per month." in text
    lookup = [r for r in sb.requests if r["path"] == "/v2/available_phone_numbers"][-1]
    assert ["filter[phone_number_type]", "mobile"] in [list(p) for p in lookup["query_pairs"]]


async def test_a_searched_block_is_quoted_with_the_total_for_the_whole_block(sb: Sandbox, connect: Connect) -> None:
    async with connect(max_numbers_per_order=100) as client:
        block = await first_found(client, "available_phone_number_blocks_list", {"country_code": "US"})
        asked = lookups(sb)
        args = {"starting_number": block["phone_number"], "range": block["range"]}
        quote = await client.call_tool("number_block_orders_create", args)
    cost = block["cost_information"]
    text = text_of(quote)
    assert f"upfront {cost['upfront_cost']} USD, monthly {cost['monthly_cost']} USD" in text and "whole block" in text
    assert (
        f"Total: upfront {cost['upfront_cost']} USD, then {cost['monthly_cost']} USD per month, for the whole block."
        in text
    )
    assert lookups(sb) == asked


async def test_an_inexplicit_order_shows_a_labelled_estimate_from_a_search_with_the_same_filters(
    connect: Connect,
) -> None:
    groups = [
        {"count_requested": "2", "country_iso": "US", "phone_number_type": "local", "national_destination_code": "312"},
        {"count_requested": "1", "country_iso": "US", "phone_number_type": "toll_free"},
    ]
    async with connect() as client:
        quote = await client.call_tool("inexplicit_number_orders_create", {"ordering_groups": groups})
    text = text_of(quote)
    assert text.count("estimate: upfront") == 2, text
    assert "estimate: upfront 1.00 USD, monthly 1.00 USD per number (from a search with the same filters)" in text
    assert "estimate: upfront 1.00 USD, monthly 2.00 USD per number" in text
    assert "ESTIMATED total: upfront 3.00 USD, then 4.00 USD per month (an estimate: Telnyx picks the numbers" in text


async def test_an_advanced_order_shows_a_labelled_estimate(connect: Connect) -> None:
    args = {"quantity": 3, "country_code": "US", "phone_number_type": "toll_free"}
    async with connect() as client:
        quote = await client.call_tool("advanced_orders_create", args)
    text = text_of(quote)
    assert "estimate: upfront 1.00 USD, monthly 2.00 USD per number" in text
    assert "ESTIMATED total: upfront 3.00 USD, then 6.00 USD per month" in text


async def test_the_cost_cap_uses_the_remembered_price_and_refuses_an_estimate(sb: Sandbox, connect: Connect) -> None:
    async with connect(max_order_cost=1.5) as client:
        gb = await first_found(
            client, "available_phone_numbers_list", {"country_code": "GB", "phone_number_type": "mobile"}
        )
        us = await first_found(client, "available_phone_numbers_list", {"country_code": "US"})
        over = await client.call_tool("number_orders_create", {"phone_numbers": [{"phone_number": gb["phone_number"]}]})
        under = await client.call_tool(
            "number_orders_create", {"phone_numbers": [{"phone_number": us["phone_number"]}]}
        )
        group = {"count_requested": "1", "country_iso": "US", "phone_number_type": "local"}
        estimated = await client.call_tool("inexplicit_number_orders_create", {"ordering_groups": [group]})
    assert over.is_error and "would cost 2.00 USD upfront, over --max-order-cost 1.50" in text_of(over)
    assert not under.is_error and "Total: upfront 1.00 USD" in text_of(under)
    assert estimated.is_error and "only an estimate" in text_of(estimated)
    assert not any(r["path"] in ("/v2/number_orders", "/v2/inexplicit_number_orders") for r in sb.requests)


# ---- hints for slow work ----------------------------------------------------------------------------


def hint_lines(result: types.CallToolResult) -> list[str]:
    return [line for line in text_of(result).splitlines() if line.startswith("Hint:")]


async def test_pending_orders_and_reservations_say_when_to_look_again(sb: Sandbox, connect: Connect) -> None:
    async with connect() as client:
        flow = dict(await canonical_flow(sb, client))
        reservation = (flow["number_reservations_create"].structured_content or {})["data"]
        expires = reservation["phone_numbers"][0]["expired_at"]
        assert hint_lines(flow["number_reservations_create"]) == [
            f"Hint: reserved numbers are held until {utc(expires)}; extend them with "
            "number_reservations_actions_extend or order them with number_orders_create before then."
        ]
        order = (flow["number_orders_retrieve"].structured_content or {})["data"]
        assert hint_lines(flow["number_orders_retrieve"]) == [
            f"Hint: still in progress ({order['id']}); check again in about a minute with number_orders_retrieve "
            "(number_order_id=...)."
        ]
        (sub,) = (flow["sub_number_orders_list"].structured_content or {})["data"]
        assert f"({sub['id']}); check again in about a minute with sub_number_orders_retrieve" in "".join(
            hint_lines(flow["sub_number_orders_list"])
        )
        sb.clock.advance(60)  # the sandbox fills orders after 10 seconds
        done = await client.call_tool("number_orders_retrieve", {"number_order_id": order["id"]})
    assert "success" in text_of(done) and hint_lines(done) == []


async def test_csr_and_report_results_say_when_and_how_to_check_again(sb: Sandbox, connect: Connect) -> None:
    async with connect() as client:
        csr = await client.call_tool("customer_service_records_create", {"phone_number": "+13125550123"})
        report = await client.call_tool("sub_number_orders_report_create", {})
        csr_id = (csr.structured_content or {})["data"]["id"]
        report_id = (report.structured_content or {})["data"]["id"]
        assert hint_lines(csr) == [
            f"Hint: still in progress ({csr_id}); check again in a few minutes (the carrier answers it) with "
            "customer_service_records_retrieve (customer_service_record_id=...)."
        ]
        assert "with sub_number_orders_report_retrieve (report_id=...)" in hint_lines(report)[0]
        sb.clock.advance(60)
        ready = await client.call_tool("sub_number_orders_report_retrieve", {"report_id": report_id})
        answered = await client.call_tool("customer_service_records_retrieve", {"customer_service_record_id": csr_id})
    assert hint_lines(ready) == [
        "Hint: the report is ready; download it with sub_number_orders_report_download (report_id=...)."
    ]
    assert hint_lines(answered) == []


def test_block_jobs_and_advanced_orders_in_progress_name_their_follow_up_tool() -> None:
    from telnyx_numbers_mcp.calls.render import render

    job = {"data": {"id": "job-1", "record_type": "phone_numbers_job", "status": "in_progress"}}
    assert "check again in about a minute with phone_number_blocks_jobs_retrieve (id=...)" in render(
        "phone_number_blocks_jobs_delete_block", {}, job, offer=EVERYTHING
    )
    advanced = {"data": [{"id": "adv-1", "status": ["processing"]}, {"id": "adv-2", "status": ["done"]}]}
    text = render("advanced_orders_list", {}, advanced, offer=EVERYTHING)
    assert "still in progress (adv-1); check again in a few hours" in text and "adv-2)" not in text


# ---- the price memory and the flag (pure logic) ----------------------------------------------------


def test_the_price_memory_forgets_after_its_time_limit_and_stays_bounded() -> None:
    from telnyx_numbers_mcp.calls.costs import PriceCache

    now = [0.0]
    cache = PriceCache(ttl=60, size=2, clock=lambda: now[0])
    row = {
        "phone_number": "+13125550001",
        "cost_information": {"upfront_cost": "1", "monthly_cost": "2", "currency": "USD"},
    }
    assert cache.remember("available_phone_numbers_list", {}, {"data": [row]}) == 1
    assert cache.get("+13125550001") == {
        "upfront_cost": "1", "monthly_cost": "2", "currency": "USD", "country_code": "US",
        "phone_number_type": "local", "features": "",
    }  # fmt: skip
    now[0] = 61
    assert cache.get("+13125550001") is None
    for n in ("+13125550002", "+13125550003", "+13125550004"):
        cache.put(n, {"upfront_cost": "1"})
    assert len(cache) == 2 and cache.get("+13125550002") is None and cache.get("+13125550004") is not None
    assert cache.remember("number_orders_list", {}, {"data": [row]}) == 0  # only searches are remembered


def test_the_result_format_flag_reaches_the_settings() -> None:
    from telnyx_numbers_mcp.cli import parser, settings_from

    assert settings_from(parser().parse_args(["--result-format", "json"]), {}).result_format == "json"
    assert settings_from(parser().parse_args([]), {}).result_format == "text"
    with pytest.raises(SystemExit):
        parser().parse_args(["--result-format", "yaml"])


@pytest.mark.parametrize("toolsets", [(), ("all",)])
async def test_an_order_waiting_for_requirements_names_them_and_how_to_provide_them(
    connect: Connect, toolsets: tuple[str, ...]
) -> None:
    async with connect(purchase_policy="allow", toolsets=toolsets) as client:
        row = await first_found(client, "available_phone_numbers_list", {"country_code": "DE"})
        order = await client.call_tool(
            "number_orders_create", {"phone_numbers": [{"phone_number": row["phone_number"]}]}
        )
    data = (order.structured_content or {})["data"]
    assert data["status"] == "pending" and data["requirements_met"] is False
    assert "requirements NOT met" in text_of(order)
    address, proof = (r["requirement_id"] for r in data["phone_numbers"][0]["regulatory_requirements"])
    group = (
        "attach an approved requirement group with sub_number_orders_update_group"
        if toolsets
        else "attach an approved requirement group (toolset requirements is not enabled; the operator enables it "
        "with --toolsets default,requirements)"
    )
    assert hint_lines(order) == [
        "Hint: the order waits for the user to provide: Address in Germany (address: An address in Germany; "
        f"requirement_id {address}); Proof of address (document: Issued within the last 6 months; requirement_id "
        f"{proof}).",
        "Hint: regulatory requirements are missing; answer them with sub_number_orders_update or "
        f"number_order_phone_numbers_update (requirement_id and field_value) or {group}.",
    ]


async def test_discovery_mode_instructions_say_how_to_reach_the_named_tools(connect: Connect) -> None:
    async with connect(tool_mode="discover") as client:
        guide = client.instructions or ""
        listed = {t.name for t in (await client.list_tools()).tools}
    assert "find_tools, describe_tool and call_tool" in guide and len(guide) < 1500
    assert {"find_tools", "describe_tool", "call_tool"} <= listed
