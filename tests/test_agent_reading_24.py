"""What the agent reads, round two (issue #24), through a real MCP client against the in-process sandbox:
requirements before buying in the default tool set, the short "still waiting" answer, the sandbox said once,
and times that stay true."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import pytest
from mcp import Client

from helpers import Human, doc_prose, text_of
from telnyx_numbers_mcp.app import build_server
from telnyx_numbers_mcp.approvals.gate import STATUS_LIMIT
from telnyx_numbers_mcp.calls.render import utc
from telnyx_numbers_mcp.calls.results import SANDBOX_TAG
from telnyx_numbers_mcp.config import build_settings
from telnyx_numbers_mcp.sandbox import Sandbox, create_app
from test_agent_reading import canonical_flow

pytestmark = pytest.mark.anyio

GB_MOBILE = ("Address in the United Kingdom (address: An address in United Kingdom)",
             "End user name (textual: 2 to 200 characters)")  # fmt: skip
Connect = Callable[..., AbstractAsyncContextManager[Client]]


@pytest.fixture
def sb() -> Sandbox:
    return Sandbox()


@pytest.fixture
def connect(sb: Sandbox, tmp_path: Path) -> Connect:
    @asynccontextmanager
    async def open_client(mode: str = "legacy", human: Human | None = None, **flags: Any) -> AsyncIterator[Client]:
        base = {"sandbox": True, "audit_log": str(tmp_path / "audit.jsonl"), "approval_wait": 0,
                "state_dir": str(tmp_path / "state")}  # fmt: skip
        server = build_server(build_settings({**base, **flags}, {}), transport=httpx.ASGITransport(app=create_app(sb)))
        async with Client(server, mode=mode, elicitation_callback=human) as client:
            yield client

    return open_client


def orders_sent(sb: Sandbox) -> int:
    return sum(1 for r in sb.requests if r["method"] == "POST" and r["path"] == "/v2/number_orders")


# ---- requirements before buying, in the default tool set ---------------------------------------------


async def test_a_gb_mobile_request_yields_the_requirement_names_before_any_order(
    sb: Sandbox, connect: Connect, mode: str
) -> None:
    """The nine-task evaluation's "I need a UK mobile number: what do I have to provide?" with the default
    tools: the coverage answer names each requirement with its type and limits, and so does the quote, while
    no order exists yet."""
    async with connect(mode=mode) as client:
        listed = {t.name for t in (await client.list_tools()).tools}
        coverage = await client.call_tool("country_coverage_retrieve_country", {"country_code": "GB"})
        search = await client.call_tool(
            "available_phone_numbers_list",
            {"filter": {"country_code": "GB", "phone_number_type": "mobile", "limit": 1}},
        )
        number = (search.structured_content or {})["data"][0]["phone_number"]
        quote = await client.call_tool("number_orders_create", {"phone_numbers": [{"phone_number": number}]})
    assert "regulatory_requirements_retrieve" not in listed  # the default tools, nothing opted in
    text = text_of(coverage)
    assert "Regulatory requirements before ordering, by number type: local: none · mobile: " in text
    assert all(req in text for req in GB_MOBILE) and "toll_free: none" in text
    assert "An order of a type with requirements waits until the user provides them." in text
    summary = (quote.structured_content or {})["summary"]
    lines = summary.splitlines()
    assert "Regulatory requirements: the order waits until the user provides, for" in lines
    assert f"  GB mobile: {GB_MOBILE[0]}; {GB_MOBILE[1]}" in lines
    assert lines[-1].startswith("Total: ")  # the total stays the last line of what the human approves
    assert orders_sent(sb) == 0


async def test_the_human_reads_the_requirements_in_the_approval_question(
    sb: Sandbox, connect: Connect, mode: str
) -> None:
    human = Human(action="decline", content=None)
    async with connect(mode=mode, human=human) as client:
        await client.call_tool("number_orders_create", {"phone_numbers": [{"phone_number": "+447400291320"}]})
    assert (
        human.asked and GB_MOBILE[1] in human.asked[0] and "the order waits until the user provides" in human.asked[0]
    )
    assert orders_sent(sb) == 0


async def test_a_number_without_requirements_gets_no_requirement_lines(connect: Connect) -> None:
    async with connect() as client:
        coverage = await client.call_tool("country_coverage_retrieve_country", {"country_code": "US"})
        quote = await client.call_tool("number_orders_create", {"phone_numbers": [{"phone_number": "+13123709222"}]})
    assert "local: none" in text_of(coverage) and "waits until the user provides" not in text_of(coverage)
    assert "Regulatory requirements" not in (quote.structured_content or {})["summary"]


async def test_requirements_are_looked_up_once_per_country_and_type(sb: Sandbox, connect: Connect) -> None:
    async with connect() as client:
        for _ in range(3):
            await client.call_tool("country_coverage_retrieve_country", {"country_code": "GB"})
        await client.call_tool("number_orders_create", {"phone_numbers": [{"phone_number": "+447400291320"}]})
    asked = [r for r in sb.requests if r["path"] == "/v2/regulatory_requirements"]
    assert sorted(dict(r["query_pairs"])["filter[phone_number_type]"] for r in asked) == [
        "local",
        "mobile",
        "toll_free",
    ]
    assert all(dict(r["query_pairs"])["filter[action]"] == "ordering" for r in asked)


async def test_a_failed_requirements_look_up_is_said_not_taken_for_none(tmp_path: Path) -> None:
    """Telnyx answers the requirements look-up with 500: the coverage answer says they could not be looked up."""
    sb = Sandbox()
    app = create_app(sb)

    async def failing(scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] == "http" and scope["path"].endswith("/regulatory_requirements"):
            response = httpx.Response(500, json={"errors": [{"code": "10007", "title": "Unexpected error"}]})
            await send({"type": "http.response.start", "status": 500,
                        "headers": [(b"content-type", b"application/json")]})  # fmt: skip
            await send({"type": "http.response.body", "body": response.content})
            return
        await app(scope, receive, send)

    settings = build_settings({"sandbox": True, "audit_log": str(tmp_path / "a.jsonl"), "max_retries": 0}, {})
    async with Client(build_server(settings, transport=httpx.ASGITransport(app=failing)), mode="legacy") as client:
        coverage = await client.call_tool("country_coverage_retrieve_country", {"country_code": "GB"})
    assert not coverage.is_error
    assert "mobile: could not be looked up just now (ask again later)" in text_of(coverage)
    assert "mobile: none" not in text_of(coverage)


# ---- a short pending answer ----------------------------------------------------------------------------


async def test_a_pending_check_approval_answers_in_at_most_300_characters(connect: Connect, mode: str) -> None:
    async with connect(mode=mode) as client:
        first = await client.call_tool("number_orders_create", {"phone_numbers": [{"phone_number": "+447400291320"}]})
        data = first.structured_content or {}
        checked = await client.call_tool("check_approval", {"approval_id": data["approval_id"]})
    full, short = text_of(first), text_of(checked)
    # the first answer keeps the whole quote
    assert data["summary"] in full and "Status: awaiting approval" in full and data["status"] == "awaiting_approval"
    assert len(short) <= STATUS_LIMIT == 300, (len(short), short)
    status = checked.structured_content or {}
    assert status["status"] == "awaiting_approval" and status["approval_id"] == data["approval_id"]
    assert short.startswith(f"awaiting approval: {data['approval_id']} (number_orders_create).")
    asked = re.search(r"asked at (\d{4}-\d\d-\d\d \d\d:\d\d:\d\d UTC) via their review page", short)
    expires = re.search(r"expires at (\d{4}-\d\d-\d\d \d\d:\d\d:\d\d UTC)\.", short)
    assert asked and expires, short
    assert asked.group(1) == utc(status["asked_at"]) and expires.group(1) == utc(status["expires_at"])
    assert "Tell the user it waits for their decision" in short and "check_approval" in short
    assert "Total:" not in short  # no quote again
    print(f"pending check_approval: {len(short)} characters (first answer {len(full)})")


# ---- the sandbox said once -------------------------------------------------------------------------------


async def test_the_sandbox_tag_is_under_2_percent_of_the_canonical_flow(sb: Sandbox, connect: Connect) -> None:
    async with connect() as client:
        guide = client.instructions or ""
        flow = await canonical_flow(sb, client)
    total = sum(len(text_of(r)) for _, r in flow)
    tags = sum(text_of(r).count(SANDBOX_TAG) for _, r in flow)
    share = tags * (len(SANDBOX_TAG) + 1) / total  # the tag and the line break after it
    print(f"sandbox tag: {tags} x {len(SANDBOX_TAG)} characters = {share:.2%} of {total} characters")
    assert len(SANDBOX_TAG) <= 20 and 0 < share < 0.02
    page = doc_prose("agent-view.md")  # what the docs say of it
    assert f"the {len(SANDBOX_TAG)}-character tag `{SANDBOX_TAG}`" in page
    said = f"the tag is {share:.1%} of the characters the agent reads"
    assert said in page, f"update docs/agent-view.md: {said}"
    assert (
        guide.startswith("SANDBOX MODE:") and "nothing is bought or changed for real" in guide and SANDBOX_TAG in guide
    )
    tagged = {name for name, r in flow if SANDBOX_TAG in text_of(r)}
    assert tagged == {"number_reservations_create"}  # the one change: reads and the quote carry no tag
    for name, result in flow:
        assert (result.structured_content or {}).get("sandbox") is True, name
    assert "[SANDBOX: simulated Telnyx API" not in "".join(text_of(r) for _, r in flow)


async def test_live_results_carry_no_tag_and_no_sandbox_key(sb: Sandbox, tmp_path: Path) -> None:
    settings = build_settings({"api_key": "KEY_live_0123456789", "audit_log": str(tmp_path / "a.jsonl")}, {})
    async with Client(build_server(settings, transport=httpx.ASGITransport(app=create_app(sb))), mode="legacy") as c:
        held = await c.call_tool("number_reservations_create", {"phone_numbers": [{"phone_number": "+13123709222"}]})
    assert SANDBOX_TAG not in text_of(held) and "sandbox" not in (held.structured_content or {})


# ---- times that stay true --------------------------------------------------------------------------------


async def test_the_reservation_hint_states_the_actual_expiry_after_extending(sb: Sandbox, connect: Connect) -> None:
    async with connect() as client:
        held = await client.call_tool(
            "number_reservations_create", {"phone_numbers": [{"phone_number": "+13123709222"}]}
        )
        reservation = (held.structured_content or {})["data"]
        sb.clock.advance(600)
        extended = await client.call_tool(
            "number_reservations_actions_extend", {"number_reservation_id": reservation["id"]}
        )
    before = reservation["phone_numbers"][0]["expired_at"]
    after = (extended.structured_content or {})["data"]["phone_numbers"][0]["expired_at"]
    assert after != before
    hint = next(line for line in text_of(extended).splitlines() if line.startswith("Hint:"))
    assert hint.startswith(f"Hint: reserved numbers are held until {utc(after)}; ") and utc(after).endswith(" UTC")
    assert "30 minutes" not in hint and utc(before) not in hint


def test_telnyx_timestamps_are_shown_in_utc() -> None:
    assert utc("2026-12-05T16:42:05.123456Z") == "2026-12-05 16:42:05 UTC"
    assert utc("2026-12-05T18:42:05+02:00") == "2026-12-05 16:42:05 UTC"
    assert utc("not a time") == "not a time"


async def test_a_host_confirm_quote_states_its_actual_expiry(connect: Connect) -> None:
    async with connect(purchase_policy="host-confirm") as client:
        quote = await client.call_tool("number_orders_create", {"phone_numbers": [{"phone_number": "+13123709222"}]})
    data = quote.structured_content or {}
    expires = utc(datetime.fromtimestamp(data["expires_at"], UTC).isoformat())
    assert f"The confirmation is single-use and expires at {expires}; " in text_of(quote)
    assert "minutes" not in text_of(quote).split("NOTHING HAS BEEN SENT YET")[1]
