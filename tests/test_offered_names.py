"""No text names a tool the session is not offered (issue #24). Hints, errors, tool descriptions, the
instructions and the prompts name only tools this session can call; where the next step needs a toolset that
is not enabled, the text says which one and the `--toolsets` flag the operator adds.

Two parts: every toolset combination (all 4,095, plus the default set, in both tool modes) through the
session's own text builders, and real MCP sessions for a set of configurations that walk every tool, prompt
and discovery answer against the sandbox and read every text they get back."""

from __future__ import annotations

import json
import re
from collections.abc import AsyncIterator, Iterable
from contextlib import asynccontextmanager
from itertools import combinations
from pathlib import Path
from typing import Any

import httpx
import mcp_types as types
import pytest
from mcp import Client

from helpers import ALL_CATALOG, Human, call_args, text_of
from telnyx_numbers_mcp import discovery, guide, prompts
from telnyx_numbers_mcp.app import build_app
from telnyx_numbers_mcp.calls.pipeline import look_up_first
from telnyx_numbers_mcp.calls.render import hints
from telnyx_numbers_mcp.catalog import packaged_synonyms
from telnyx_numbers_mcp.config import build_settings
from telnyx_numbers_mcp.errors import ToolCallError
from telnyx_numbers_mcp.offer import Offer
from telnyx_numbers_mcp.runtime import Runtime, build_runtime
from telnyx_numbers_mcp.sandbox import Sandbox, create_app
from telnyx_numbers_mcp.store import open_store

pytestmark = pytest.mark.anyio

SERVER_TOOLS = (
    "find_tools",
    "describe_tool",
    "call_tool",
    "check_approval",
    "confirm_action",
    "request_mandate",
    "spending",
)
KNOWN = frozenset({t.name for t in ALL_CATALOG} | set(SERVER_TOOLS))
SNAKE = re.compile(r"(?<![\w.-])[a-z][a-z0-9]*(?:_[a-z0-9]+)+(?!\w)")  # a word that may be a tool name
# a made-up tool name would not be in KNOWN: a word shaped like one counts too
TOOLISH = re.compile(r"_(?:list|create|retrieve|update|delete|cancel|extend|download)$")
NOT_ENABLED = re.compile(r"oolset (\w+) is not enabled; the operator enables it with --toolsets ([\w,]+)")
TOOLSETS = sorted({t.toolset for t in ALL_CATALOG})


def named(text: str) -> set[str]:
    return {w for w in SNAKE.findall(text) if w in KNOWN or TOOLISH.search(w)}


def problems_in(text: str, offer: Offer, echoed: Iterable[str] = ()) -> list[str]:
    """Tool names in `text` this session does not offer (the caller's own words, `echoed`, aside), and any
    "not enabled" note about a toolset that is enabled or whose flag would not enable it."""
    bad = sorted(n for n in named(text) - set(echoed) if n not in offer.names)
    for toolset, flag in NOT_ENABLED.findall(text):
        if toolset in offer.enabled or toolset not in flag.split(","):
            bad.append(f"toolset note: {toolset} / {flag}")
    return bad


# ---- every toolset combination, through the session's own text builders ---------------------------

PENDING = {"id": "o-1", "status": "pending", "requirements_met": True}
WAITING = {
    "id": "o-2", "record_type": "number_order", "status": "pending", "requirements_met": False,
    "phone_numbers": [{"id": "n-1", "phone_number": "+4930901820", "country_code": "DE", "phone_number_type": "local",
                       "requirements_met": False,
                       "regulatory_requirements": [{"requirement_id": "r-1", "field_type": "address"}]}],
}  # fmt: skip
# the items of one answer for every hint the renderer writes (slow work, requirements, a ready report, holds)
HINTED: list[tuple[str, list[dict[str, Any]]]] = [
    ("number_orders_retrieve", [{**PENDING, "record_type": "number_order"}]),
    ("number_orders_create", [WAITING]),
    ("number_order_phone_numbers_retrieve", [{**PENDING, "record_type": "number_order_phone_number"}]),
    ("sub_number_orders_retrieve", [{**PENDING, "record_type": "sub_number_order"}]),
    ("sub_number_orders_list", [{**WAITING, "record_type": "sub_number_order"}]),
    ("number_block_orders_retrieve", [{**PENDING, "record_type": "number_block_order"}]),
    ("phone_number_blocks_jobs_delete_block", [{"id": "j-1", "status": "in_progress"}]),
    ("inexplicit_number_orders_retrieve", [{"id": "i-1", "status": "processing"}]),
    ("advanced_orders_list", [{"id": "a-1", "status": ["processing"]}]),
    ("customer_service_records_create", [{"id": "c-1", "status": "pending"}]),
    ("requirement_groups_submit_for_approval", [{"id": "g-1", "status": "pending-approval"}]),
    ("sub_number_orders_report_create", [{"id": "s-1", "status": "pending"}]),
    ("sub_number_orders_report_retrieve", [{"id": "s-1", "status": "success"}]),
    ("number_reservations_create", [{"id": "res-1", "record_type": "number_reservation", "status": "success",
                                     "phone_numbers": [{"phone_number": "+13125550001",
                                                        "expired_at": "2026-12-05T16:42:05Z"}]}]),
]  # fmt: skip
PROMPT_ARGS = {
    "buy_local_number": {"country": "US", "area_code_or_city": "312", "features": "sms,voice"},
    "order_number_block": {"country": "US", "size": "10"},
    "number_with_requirements": {"country": "GB", "number_type": "mobile"},
    "release_number": {"number": "+13125550001"},
    "review_spending_and_approvals": {"since": "2026-01-01"},
}
QUERIES = ("buy a number", "attach a requirement group", "give up a number I own", "carrier of a number")


def session_texts(rt: Runtime, ranker: discovery.Ranker) -> list[tuple[str, str, tuple[str, ...]]]:
    """(where, text, the caller's own words) for everything a session with these settings may read."""
    offer = rt.offer_for(elicit=False)
    texts: list[tuple[str, str, tuple[str, ...]]] = [
        ("instructions", guide.instructions(offer, sandbox=True), ()),
        ("look-up advice", look_up_first(offer, "mcp-1"), ()),
    ]
    texts += [(f"{t.name} description", t.description or "", ()) for t in rt.visible(None) if t.name in SERVER_TOOLS]
    for name, args in PROMPT_ARGS.items():
        got = prompts.get(name, args, offer)
        texts += [
            (f"prompt {name}", m.content.text, ()) for m in got.messages if isinstance(m.content, types.TextContent)
        ]
    for tool, items in HINTED:
        texts.append((f"hints of {tool}", "\n".join(hints(tool, items, offer, {"r-1": "Address"})), ()))
    if offer.discover:
        offered = rt.offered(None)

        def find(args: dict[str, Any]) -> str:
            return discovery.find(offered, args, policy="confirm", lookup_budget=25, ranker=ranker, offer=offer)[1]

        for query in QUERIES:
            texts.append((f"find_tools {query!r}", find({"query": query}), ()))
        # a toolset that is not enabled (the answer says how to enable it), and one that is
        for toolset in [*sorted(set(TOOLSETS) - offer.enabled), min(offer.enabled)]:
            texts.append((f"find_tools in {toolset}", find({"toolset": toolset}), ()))
        for name in ("phone_numbers_delete", "sub_number_orders_update_group", "number_orders_create"):
            try:
                discovery.describe(rt.tools, {"name": name}, policy="confirm", lookup_budget=25, offer=offer)
            except ToolCallError as exc:
                texts.append((f"describe_tool {name}", str(exc), (name,)))
    return texts


def test_no_tool_description_names_another_tool() -> None:
    """A description is the same under every --toolsets and --tools, so it names no other tool at all."""
    for tool in ALL_CATALOG:
        others = named(tool.description + json.dumps(tool.input_schema)) - {tool.name}
        assert not others, (tool.name, others)


def test_no_text_names_an_unoffered_tool_for_any_toolset_combination(tmp_path: Path) -> None:
    base = {"sandbox": True, "audit_log": str(tmp_path / "audit.jsonl"), "state_dir": str(tmp_path)}
    store = open_store(build_settings(base, {}))
    ranker = discovery.Ranker(ALL_CATALOG, packaged_synonyms())
    combos = ["", *(",".join(c) for size in range(1, len(TOOLSETS) + 1) for c in combinations(TOOLSETS, size))]
    problems, checked, notes = [], 0, 0
    try:
        for combo in combos:
            for mode in ("all", "discover"):
                flags = {**base, "tool_mode": mode, **({"toolsets": combo} if combo else {})}
                rt = build_runtime(build_settings(flags, {}), store=store)
                for where, text, echoed in session_texts(rt, ranker):
                    checked += 1
                    notes += len(NOT_ENABLED.findall(text))
                    bad = problems_in(text, rt.offer_for(elicit=False), echoed)
                    if bad:
                        problems.append((combo or "default", mode, where, bad))
                assert len(guide.instructions(rt.offer_for(elicit=False), sandbox=True)) < 1500, (combo, mode)
    finally:
        store.close()
    assert len(combos) == 2 ** len(TOOLSETS)
    assert not problems, problems[:10]
    assert notes > 0  # the texts did have to send the operator to --toolsets, and said so correctly
    print(f"{len(combos)} toolset combinations x 2 tool modes, {checked} texts: 0 name an unoffered tool")


# ---- real sessions: every tool, prompt and discovery answer, and every text that comes back --------

CONFIGS: list[dict[str, Any]] = [
    {},
    {"toolsets": "all"},
    {"toolsets": "search"},
    {"toolsets": "orders"},
    {"toolsets": "requirements"},
    {"toolsets": "reservations,coverage"},
    {"read_only": True},
    {"tools": "number_orders_create,available_phone_numbers_list"},
    {"purchase_policy": "deny"},
    {"purchase_policy": "host-confirm"},
    {"tool_mode": "discover"},
    {"tool_mode": "discover", "toolsets": "search,orders"},
]


@asynccontextmanager
async def session(tmp_path: Path, mode: str = "legacy", **flags: Any) -> AsyncIterator[tuple[Client, Runtime]]:
    base = {"sandbox": True, "audit_log": str(tmp_path / "audit.jsonl"), "approval_wait": 0}
    server, rt = build_app(
        build_settings({**base, **flags}, {}), transport=httpx.ASGITransport(app=create_app(Sandbox()))
    )
    async with Client(server, mode=mode) as client:
        yield client, rt


async def walk(client: Client) -> list[tuple[str, str, tuple[str, ...]]]:
    """Everything this session reads: instructions, descriptions, prompts, and the text of a call of every
    tool (spec-example arguments, then bad ones), of find/describe in discover mode, and of the approval tools."""
    texts: list[tuple[str, str, tuple[str, ...]]] = [("instructions", client.instructions or "", ())]
    listed = (await client.list_tools()).tools
    texts += [(f"{t.name} description", (t.description or "") + json.dumps(t.input_schema), ()) for t in listed]
    for prompt in (await client.list_prompts()).prompts:
        got = await client.get_prompt(prompt.name, PROMPT_ARGS[prompt.name])
        texts += [(f"prompt {prompt.name}", m.content.text, ()) for m in got.messages
                  if isinstance(m.content, types.TextContent)]  # fmt: skip
    names = {t.name for t in listed}
    by_name = {t.name: t for t in ALL_CATALOG}

    async def call(name: str, args: dict[str, Any], echoed: tuple[str, ...] = ()) -> types.CallToolResult:
        result = await client.call_tool(name, args)
        texts.append((f"{name}({json.dumps(args)[:80]})", text_of(result), echoed))
        return result

    if "find_tools" in names:
        for query in QUERIES:
            await call("find_tools", {"query": query})
        for toolset in TOOLSETS:
            await call("find_tools", {"toolset": toolset})
        for tool in ALL_CATALOG:
            await call("describe_tool", {"name": tool.name}, (tool.name,))
            await call("call_tool", {"name": tool.name, "arguments": call_args(tool)}, (tool.name,))
    for name in sorted(names & set(by_name)):
        await call(name, call_args(by_name[name]))
        await call(name, {"not_an_argument": 1})
    # the spend tools: the report, a mandate request (its summary names the purchase tools it covers) and a bad one
    if "spending" in names:
        await call("spending", {})
    if "request_mandate" in names:
        await call(
            "request_mandate",
            {
                "max_numbers": 2,
                "max_total_usd": 5,
                "countries": ["US"],
                "number_types": ["local"],
                "expires_in_minutes": 60,
                "reason": "two lines",
            },
        )
        await call("request_mandate", {"max_numbers": 0, "not_an_argument": 1})
    # an order that waits for regulatory requirements, and a reservation (hints of their own)
    if "available_phone_numbers_list" in names:
        found = await call("available_phone_numbers_list", {"filter": {"country_code": "DE", "limit": 2}})
        number = (found.structured_content or {}).get("data", [{}])[0].get("phone_number", "+4930901820")
        for change in ("number_reservations_create", "number_orders_create"):
            if change in names:
                answer = await call(change, {"phone_numbers": [{"phone_number": number}]})
                approval = (answer.structured_content or {}).get("approval_id")
                if approval and "check_approval" in names:
                    await call("check_approval", {"approval_id": approval})
    return texts


@pytest.mark.parametrize("flags", CONFIGS, ids=lambda f: ",".join(f"{k}={v}" for k, v in f.items()) or "default")
async def test_every_text_of_a_real_session_names_only_offered_tools(tmp_path: Path, flags: dict[str, Any]) -> None:
    problems = []
    for policy in ({"purchase_policy": "allow"}, {}) if "purchase_policy" not in flags else ({},):
        async with session(tmp_path, **{**policy, **flags}) as (client, rt):
            texts = await walk(client)
            offer = rt.offer_for(elicit=False)
        for where, text, echoed in texts:
            bad = problems_in(text, offer, echoed)
            if bad:
                problems.append((where, bad, text[:300]))
    assert not problems, problems[:5]


async def test_under_elicit_only_each_client_reads_instructions_for_what_it_is_offered(
    tmp_path: Path, mode: str
) -> None:
    """A client that cannot ask the user is offered no purchase under elicit-only, so its instructions name none;
    a client that can ask reads the full guide (known from its initialize, or the 2026 request's capabilities)."""
    async with session(tmp_path, mode=mode, purchase_policy="elicit-only") as (blind, rt):
        blind_guide = blind.instructions or ""
        blind_tools = {t.name for t in (await blind.list_tools()).tools}
    server, _ = build_app(
        build_settings({"sandbox": True, "audit_log": str(tmp_path / "b.jsonl"), "purchase_policy": "elicit-only"}, {}),
        transport=httpx.ASGITransport(app=create_app(Sandbox())),
    )
    async with Client(server, mode=mode, elicitation_callback=Human()) as asking:
        asking_guide = asking.instructions or ""
    assert "number_orders_create" not in blind_tools and "number_orders_create" not in blind_guide
    assert not problems_in(blind_guide, rt.offer_for(elicit=False))
    assert "order with number_orders_create" in asking_guide
