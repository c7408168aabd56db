"""Discovery mode (`--tool-mode discover`) through a real MCP client, both protocol eras, against the sandbox
served over real local HTTP as a recording Telnyx upstream: a call through call_tool must send exactly what
the direct tool sends, with the same validation, approval and audit."""

from __future__ import annotations

import json
import re
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import mcp_types as types
import pytest
from mcp import Client, MCPError

from helpers import ALL_CATALOG, CATALOG, Human, audit_records, doc_prose, fill_e164, text_of
from sandbox_helpers import served
from spec_examples import example_args
from telnyx_numbers_mcp import discovery
from telnyx_numbers_mcp.app import build_server
from telnyx_numbers_mcp.catalog import ToolSpec
from telnyx_numbers_mcp.config import build_settings
from telnyx_numbers_mcp.sandbox import Sandbox
from telnyx_numbers_mcp.specgen.source import load_scope

pytestmark = pytest.mark.anyio

KEY = "KEY_discovery_secret_0123"
DISCOVERY = {"find_tools", "describe_tool", "call_tool"}
US = "+13123709222"  # a number the sandbox's search offers


@dataclass
class Upstream:
    """A sandbox served over HTTP on 127.0.0.1: it records every request that reaches it."""

    sb: Sandbox
    url: str
    tmp: Path

    def mark(self) -> int:
        return len(self.sb.requests)

    def since(self, mark: int) -> list[tuple[str, str, list[tuple[str, str]], Any]]:
        return [
            (r["method"], r["path"], sorted(map(tuple, r["query_pairs"])), r["json"]) for r in self.sb.requests[mark:]
        ]

    def audit(self, name: str) -> list[dict[str, Any]]:
        return audit_records(self.tmp / f"{name}.jsonl")

    @asynccontextmanager
    async def client(
        self, mode: str = "legacy", human: Human | None = None, audit: str = "audit", **flags: Any
    ) -> AsyncIterator[Client]:
        settings = build_settings(
            {"base_url": self.url, "api_key": KEY, "audit_log": str(self.tmp / f"{audit}.jsonl"), **flags}, {}
        )
        async with Client(build_server(settings), mode=mode, elicitation_callback=human) as c:
            yield c


@pytest.fixture
def upstream(tmp_path: Path) -> Iterator[Upstream]:
    sb = Sandbox()
    with served(sb) as url:
        yield Upstream(sb, url, tmp_path)


def args_for(tool: ToolSpec) -> dict[str, Any]:
    """Spec-example arguments, with a real E.164 number where the example has a placeholder."""
    args = fill_e164(example_args(tool), tool, US)
    if tool.kind == "purchase":
        args["customer_reference"] = "discovery-ref-1"  # the server's own reference is keyed per process
    # counts must be plain digits (the spec's example is the word "example")
    text = re.sub(r'"count_requested": "example"', '"count_requested": "1"', json.dumps(args))
    fixed: dict[str, Any] = json.loads(text)
    return fixed


async def via(client: Client, name: str, arguments: dict[str, Any]) -> types.CallToolResult:
    return await client.call_tool("call_tool", {"name": name, "arguments": arguments})


# ---- the listing ----------------------------------------------------------------------------------


async def test_discover_mode_lists_three_tools_and_keeps_the_approval_tools_direct(upstream: Upstream) -> None:
    async with upstream.client("legacy", tool_mode="discover", purchase_policy="host-confirm") as blind:
        quoting = {t.name for t in (await blind.list_tools()).tools}  # no elicitation: quotes need confirm
    assert quoting == {*DISCOVERY, "confirm_action", "spending"}
    async with upstream.client("legacy", tool_mode="discover") as blind:
        listed = {t.name: t for t in (await blind.list_tools()).tools}
    assert set(listed) == {*DISCOVERY, "check_approval", "request_mandate", "spending"}
    assert all(t.input_schema["type"] == "object" for t in listed.values())
    call = listed["call_tool"].annotations
    assert call is not None and call.destructive_hint is True and call.read_only_hint is False
    async with upstream.client("legacy", Human(), tool_mode="discover", purchase_policy="allow") as c:
        assert {t.name for t in (await c.list_tools()).tools} == {*DISCOVERY, "spending"}  # nothing is asked


async def test_read_only_discover_mode_marks_call_tool_read_only(upstream: Upstream) -> None:
    async with upstream.client(tool_mode="discover", read_only=True) as c:
        listed = {t.name: t for t in (await c.list_tools()).tools}
    assert set(listed) == DISCOVERY  # nothing to approve, so no confirm_action
    hints = listed["call_tool"].annotations
    assert hints is not None and hints.read_only_hint is True and hints.destructive_hint is False


async def test_direct_tool_names_are_unknown_in_discover_mode(upstream: Upstream) -> None:
    async with upstream.client(tool_mode="discover") as c:
        with pytest.raises(MCPError, match="Unknown tool"):
            await c.call_tool("available_phone_numbers_list", {})
    assert upstream.since(0) == []


# ---- every operation: the same request as the direct tool ------------------------------------------


async def test_every_operation_through_call_tool_sends_the_direct_tools_request(upstream: Upstream, mode: str) -> None:
    direct_human, discover_human = Human(), Human()
    mismatches = []
    async with (
        upstream.client(mode, direct_human, audit="direct", max_numbers_per_order=1000) as direct,
        upstream.client(mode, discover_human, audit="discover", max_numbers_per_order=1000,
                        tool_mode="discover") as disc,
    ):  # fmt: skip
        for tool in CATALOG:
            args = args_for(tool)
            mark = upstream.mark()
            want = await direct.call_tool(tool.name, args)
            sent_direct = upstream.since(mark)
            mark = upstream.mark()
            got = await via(disc, tool.name, args)
            sent_discover = upstream.since(mark)
            assert sent_direct, (tool.name, text_of(want))  # every example reaches the upstream
            if sent_discover != sent_direct:
                mismatches.append((tool.name, sent_direct, sent_discover))
            assert got.is_error == want.is_error, (tool.name, text_of(got), text_of(want))
            assert KEY not in text_of(got)
    assert not mismatches, mismatches
    guarded = [t.name for t in CATALOG if t.guarded]
    # both asked the human once per purchase or destructive call, with the same summary
    assert len(discover_human.asked) == len(guarded) == len(direct_human.asked)
    assert discover_human.asked == direct_human.asked
    # and both audited the same changes, under the real tool names
    strip = ("id", "ts", "seq", "event_id", "approval_id", "spend")  # approval and ledger ids are unique

    def changes(records: list[dict[str, Any]]) -> list[tuple[Any, ...]]:
        return [(r["event"], r["tool"], json.dumps({k: v for k, v in r.items() if k not in strip}, sort_keys=True))
                for r in records if r["event"] in ("request", "refused")]  # fmt: skip

    assert changes(upstream.audit("discover")) == changes(upstream.audit("direct"))
    assert {r["tool"] for r in upstream.audit("discover") if r["event"] == "request"} >= set(guarded)


async def test_a_purchase_through_call_tool_is_asked_and_sent_once(upstream: Upstream, mode: str) -> None:
    human = Human()
    async with upstream.client(mode, human, tool_mode="discover") as c:
        mark = upstream.mark()
        result = await via(c, "number_orders_create", {"phone_numbers": [{"phone_number": US}]})
    assert not result.is_error, text_of(result)
    assert len(human.asked) == 1 and US in human.asked[0]
    orders = [r for r in upstream.since(mark) if r[:2] == ("POST", "/v2/number_orders")]
    assert len(orders) == 1
    assert orders[0][3]["phone_numbers"] == [{"phone_number": US}]
    assert orders[0][3]["customer_reference"].startswith("mcp-")  # added as for the direct tool


async def test_a_declined_purchase_through_call_tool_sends_nothing(upstream: Upstream, mode: str) -> None:
    async with upstream.client(mode, Human(content={"approve": False}), tool_mode="discover") as c:
        mark = upstream.mark()
        result = await via(c, "number_orders_create", {"phone_numbers": [{"phone_number": US}]})
    assert result.is_error and "nothing was sent" in text_of(result).lower(), text_of(result)
    assert not [r for r in upstream.since(mark) if r[:2] == ("POST", "/v2/number_orders")]


async def test_without_elicitation_call_tool_quotes_and_the_direct_confirm_action_buys_once(
    upstream: Upstream,
) -> None:
    async with upstream.client("legacy", tool_mode="discover", purchase_policy="host-confirm") as c:
        quote = await via(c, "number_orders_create", {"phone_numbers": [{"phone_number": US}]})
        data = quote.structured_content
        assert isinstance(data, dict) and data["status"] == "awaiting_confirmation", text_of(quote)
        mark = upstream.mark()
        # call_tool cannot reach confirm_action: clients gate that tool by its own name
        confirm = {"confirmation_id": data["confirmation_id"], "summary": data["summary"]}
        sneaky = await via(c, "confirm_action", confirm)
        assert sneaky.is_error and "confirm_action" in text_of(sneaky)
        assert upstream.since(mark) == []
        done = await c.call_tool("confirm_action", confirm)
    assert not done.is_error, text_of(done)
    assert [r[:2] for r in upstream.since(mark)] == [("POST", "/v2/number_orders")]


async def test_without_elicitation_call_tool_awaits_the_human_and_only_the_direct_check_approval_reports(
    upstream: Upstream,
) -> None:
    async with upstream.client("legacy", tool_mode="discover", approval_wait=0) as c:
        waiting = await via(c, "number_orders_create", {"phone_numbers": [{"phone_number": US}]})
        data = waiting.structured_content
        assert isinstance(data, dict) and data["status"] == "awaiting_approval", text_of(waiting)
        mark = upstream.mark()
        sneaky = await via(c, "check_approval", {"approval_id": data["approval_id"]})
        assert sneaky.is_error and "check_approval" in text_of(sneaky)
        pending = await c.call_tool("check_approval", {"approval_id": data["approval_id"]})
        assert (pending.structured_content or {}).get("status") == "awaiting_approval", text_of(pending)
        assert upstream.since(mark) == []  # the human's channels are tested in test_approvals_*.py


# ---- validation is the direct tool's -------------------------------------------------------------


async def test_bad_arguments_through_call_tool_get_the_direct_tools_errors(upstream: Upstream) -> None:
    bad = {"phone_numbers": [{"phone_number": "312-555-0001"}], "colour": "red"}
    async with upstream.client() as direct, upstream.client(tool_mode="discover") as disc:
        want = await direct.call_tool("number_orders_create", bad)
        got = await via(disc, "number_orders_create", bad)
        wrong_type = await via(disc, "available_phone_numbers_list", {"filter": {"limit": "five"}})
    assert got.is_error and text_of(got) == text_of(want)
    assert "phone_numbers[0].phone_number" in text_of(got) and "colour" in text_of(got)
    assert wrong_type.is_error and "filter.limit" in text_of(wrong_type)
    assert upstream.since(0) == []


async def test_call_tool_names_a_bad_name_or_bad_arguments_field(upstream: Upstream) -> None:
    async with upstream.client(tool_mode="discover") as c:
        typo = await via(c, "number_order_create", {})
        not_object = await c.call_tool("call_tool", {"name": "comments_list", "arguments": ["x"]})
        extra = await c.call_tool("call_tool", {"name": "comments_list", "args": {}})
        missing = await c.call_tool("call_tool", {})
    assert typo.is_error and "name: no tool 'number_order_create'" in text_of(typo)
    assert "number_orders_create" in text_of(typo)  # the close match
    assert (
        not_object.is_error
        and "arguments: is list" in text_of(not_object)
        and "expected an object" in text_of(not_object)
    )
    assert extra.is_error and "args: unknown argument" in text_of(extra)
    assert missing.is_error and "name: missing; expected a string" in text_of(missing)
    assert upstream.since(0) == []


# ---- finding and describing ----------------------------------------------------------------------


async def test_find_tools_ranks_by_the_task_and_filters_by_toolset(upstream: Upstream) -> None:
    async with upstream.client(tool_mode="discover") as c:
        everything = await c.call_tool("find_tools", {})
        reserve = await c.call_tool("find_tools", {"query": "extend reservation"})
        in_set = await c.call_tool("find_tools", {"toolset": "comments"})
        nothing = await c.call_tool("find_tools", {"query": "zebra"})
        bad_set = await c.call_tool("find_tools", {"toolset": "nope"})
    assert isinstance(everything.structured_content, dict)
    assert [t["name"] for t in everything.structured_content["tools"]] == [t.name for t in CATALOG]
    by_name = {t["name"]: t for t in everything.structured_content["tools"]}
    assert by_name["number_orders_create"]["needs_approval"] is True
    assert by_name["available_phone_numbers_list"]["needs_approval"] is False
    assert "number_orders_create: " in text_of(everything) and "(needs approval)" in text_of(everything)
    assert isinstance(reserve.structured_content, dict)
    ranked = [t["name"] for t in reserve.structured_content["tools"]]
    assert ranked[0] == "number_reservations_actions_extend" and len(ranked) <= discovery.FOUND_LIMIT
    assert isinstance(in_set.structured_content, dict)
    assert {t["name"] for t in in_set.structured_content["tools"]} == {
        t.name for t in CATALOG if t.toolset == "comments"
    }
    assert not nothing.is_error and "No offered tool matches 'zebra'" in text_of(nothing)
    assert bad_set.is_error and "toolset: is 'nope'; expected one of" in text_of(bad_set)


async def test_find_tools_summaries_are_the_curated_sentences(upstream: Upstream) -> None:
    """Whole sentences, each the tool's curated "Use ..." text (never a description cut mid-sentence)."""
    async with upstream.client(tool_mode="discover", toolsets="all") as c:
        found = await c.call_tool("find_tools", {})
    assert isinstance(found.structured_content, dict)
    sentences = {e.description for e in load_scope().entries}
    rows = found.structured_content["tools"]
    assert len(rows) == len(ALL_CATALOG)
    for row in rows:
        assert row["summary"] in sentences or row["summary"][:-1] in sentences, row
        assert row["summary"].startswith("Use ") and row["summary"].endswith("."), row
    comments = next(r for r in rows if r["name"] == "comments_create")
    assert comments["summary"] == "Use to write to Telnyx about an order (e.g. its requirements)."


async def test_find_tools_takes_every_toolset_and_says_how_to_enable_one(upstream: Upstream) -> None:
    async with upstream.client(tool_mode="discover") as c:
        listed = {t.name: t for t in (await c.list_tools()).tools}
        off = await c.call_tool("find_tools", {"toolset": "requirements"})
        task = await c.call_tool("find_tools", {"query": "give up a number I no longer need"})
    enum = listed["find_tools"].input_schema["properties"]["toolset"]["enum"]
    assert enum == sorted({t.toolset for t in ALL_CATALOG})  # the opt-in toolsets too
    assert not off.is_error and off.structured_content == {"tools": [], "toolset_enabled": False}
    assert text_of(off) == (
        "No tools: toolset requirements is not enabled; the operator enables it with --toolsets default,requirements."
    )
    assert isinstance(task.structured_content, dict)
    assert "phone_numbers_delete" not in text_of(task)  # not offered here: its toolset is named instead
    assert "More for this task: toolset numbers is not enabled; the operator enables it with --toolsets " in (
        text_of(task)
    )


# A user's words, not the descriptions'. The first 30 were used while choosing the synonyms in scope.toml;
# the last 12 were written afterwards and never tuned for.
PHRASINGS: list[tuple[str, set[str]]] = [
    ("I need a phone number in Chicago", {"available_phone_numbers_list"}),
    ("get me a toll-free number", {"available_phone_numbers_list"}),
    ("search available numbers buy", {"number_orders_create"}),
    ("buy this number +13125550001", {"number_orders_create"}),
    ("purchase two DIDs I found", {"number_orders_create"}),
    ("hold this number for me while I think", {"number_reservations_create"}),
    ("keep my reserved numbers a bit longer", {"number_reservations_actions_extend"}),
    ("which countries can I get numbers in", {"country_coverage_retrieve"}),
    ("what do I have to provide for a UK mobile number",
     {"country_coverage_retrieve_country", "regulatory_requirements_retrieve"}),
    ("is my order done yet", {"number_orders_retrieve", "number_orders_list"}),
    ("did my number purchase go through", {"number_orders_list", "number_orders_retrieve"}),
    ("I want 100 consecutive numbers", {"available_phone_number_blocks_list"}),
    ("order a block of 10 numbers", {"number_block_orders_create"}),
    ("give up a number I don't use anymore", {"phone_numbers_delete"}),
    ("get rid of my whole number block", {"phone_number_blocks_jobs_delete_block"}),
    ("cancel the part of my order stuck on paperwork", {"sub_number_orders_cancel"}),
    ("move my existing number over from AT&T", {"customer_service_records_create"}),
    ("who is the carrier of this number", {"number_lookup_retrieve"}),
    ("forward calls from my number to my cell", {"phone_numbers_voice_update"}),
    ("show the numbers I already have", {"phone_numbers_list", "phone_numbers_slim_list"}),
    ("send a note to Telnyx about my order", {"comments_create"}),
    ("export my sub orders to a spreadsheet", {"sub_number_orders_report_create", "sub_number_orders_report_download"}),
    ("can this number receive texts", {"numbers_features_create"}),
    ("how many numbers are left in area code 212", {"inventory_coverage_list"}),
    ("save my business address for compliance", {"addresses_create"}),
    ("let Telnyx pick any 5 numbers in Texas for me", {"inexplicit_number_orders_create"}),
    ("connect my number to a messaging profile", {"phone_numbers_messaging_update"}),
    ("which numbers am I holding right now", {"number_reservations_list"}),
    ("put together the paperwork for German numbers", {"requirement_groups_create"}),
    ("my order is stuck waiting for documents",
     {"sub_number_orders_update_group", "sub_number_orders_update", "number_order_phone_numbers_update",
      "sub_number_orders_list", "number_order_phone_numbers_list"}),
    # written after the synonyms were chosen
    ("find me a local number with a 415 area code", {"available_phone_numbers_list"}),
    ("I'd like to order the number I just found", {"number_orders_create"}),
    ("reserve +442071838750 for half an hour", {"number_reservations_create"}),
    ("what's the status of my block order", {"number_block_orders_retrieve", "number_block_orders_list"}),
    ("stop the number release job", {"phone_number_blocks_jobs_list", "phone_number_blocks_jobs_retrieve"}),
    ("which mobile networks does Telnyx roam with", {"mobile_network_operators_list"}),
    ("read Telnyx's reply about my order", {"comments_list", "comments_retrieve"}),
    ("check a US address before I save it", {"addresses_actions_validate"}),
    ("change where my number sends calls", {"phone_numbers_voice_update", "phone_numbers_update"}),
    ("is the CSR for my number ready", {"customer_service_records_retrieve", "customer_service_records_list"}),
    ("how much does a UK mobile number cost", {"available_phone_numbers_list"}),
    ("buy 20 numbers wherever Telnyx has them", {"inexplicit_number_orders_create"}),
]  # fmt: skip


async def test_find_tools_puts_the_right_tool_in_the_top_five_for_nine_in_ten_tasks(upstream: Upstream) -> None:
    misses = []
    async with upstream.client(tool_mode="discover", toolsets="all") as c:
        for phrase, wanted in PHRASINGS:
            found = await c.call_tool("find_tools", {"query": phrase})
            assert isinstance(found.structured_content, dict)
            top = [t["name"] for t in found.structured_content["tools"][:5]]
            if not wanted & set(top):
                misses.append((phrase, top))
        both = await c.call_tool("find_tools", {"query": "search available numbers buy"})
    assert len(PHRASINGS) >= 25
    share = 1 - len(misses) / len(PHRASINGS)
    print(f"find_tools top-5: {len(PHRASINGS) - len(misses)}/{len(PHRASINGS)} = {share:.0%}; misses: {misses}")
    assert share >= 0.9, misses
    hits = len(PHRASINGS) - len(misses)
    said = f"with {len(PHRASINGS)} phrasings as users say them: {hits} reach the top 5 ({share:.0%})"
    assert said in doc_prose("agent-view.md"), f"update docs/agent-view.md: {said}"
    assert isinstance(both.structured_content, dict)
    top = [t["name"] for t in both.structured_content["tools"][:5]]
    assert {"available_phone_numbers_list", "number_orders_create"} <= set(top)


async def test_describe_tool_gives_the_direct_schema_and_approval(upstream: Upstream) -> None:
    async with upstream.client(tool_mode="discover") as disc, upstream.client() as direct:
        listed = {t.name: t for t in (await direct.list_tools()).tools}
        order = await disc.call_tool("describe_tool", {"name": "number_orders_create"})
        search = await disc.call_tool("describe_tool", {"name": "available_phone_numbers_list"})
    assert isinstance(order.structured_content, dict) and isinstance(search.structured_content, dict)
    assert order.structured_content["input_schema"] == listed["number_orders_create"].input_schema
    assert order.structured_content["description"] == listed["number_orders_create"].description
    assert order.structured_content["needs_approval"] is True
    assert search.structured_content["needs_approval"] is False
    assert search.structured_content["input_schema"] == listed["available_phone_numbers_list"].input_schema


async def test_toolsets_tools_and_read_only_limit_what_discovery_finds_and_calls(upstream: Upstream) -> None:
    async with upstream.client(tool_mode="discover", toolsets="search,comments", read_only=True) as c:
        found = await c.call_tool("find_tools", {})
        write = await via(c, "comments_create", {"body": "hi", "comment_record_type": "sub_number_order",
                                                 "comment_record_id": "x"})  # fmt: skip
        other_set = await c.call_tool("describe_tool", {"name": "number_orders_list"})
        ok = await via(c, "available_phone_numbers_list", {"filter": {"country_code": "US", "limit": 1}})
    assert isinstance(found.structured_content, dict)
    names = {t["name"] for t in found.structured_content["tools"]}
    assert names == {t.name for t in CATALOG if t.toolset in ("search", "comments") and t.read_only}
    assert write.is_error and "no tool 'comments_create' is offered" in text_of(write)
    assert other_set.is_error and "no tool 'number_orders_list' is offered" in text_of(other_set)
    assert not ok.is_error, text_of(ok)
    assert [r[:2] for r in upstream.since(0)] == [("GET", "/v2/available_phone_numbers")]
    async with upstream.client(tool_mode="discover", tools="comments_list") as one:
        only = await one.call_tool("find_tools", {})
    assert isinstance(only.structured_content, dict)
    assert [t["name"] for t in only.structured_content["tools"]] == ["comments_list"]


async def test_elicit_only_hides_guarded_tools_from_clients_that_cannot_ask(upstream: Upstream) -> None:
    async with upstream.client("legacy", tool_mode="discover", purchase_policy="elicit-only") as blind:
        listed = {t.name for t in (await blind.list_tools()).tools}
        found = await blind.call_tool("find_tools", {"query": "create order"})
        refused = await via(blind, "number_orders_create", {"phone_numbers": [{"phone_number": US}]})
    assert listed == DISCOVERY
    assert isinstance(found.structured_content, dict)
    assert not {t["name"] for t in found.structured_content["tools"]} & {t.name for t in CATALOG if t.guarded}
    assert refused.is_error and "nothing was sent" in text_of(refused).lower()
    assert not [r for r in upstream.since(0) if r[0] == "POST"]
