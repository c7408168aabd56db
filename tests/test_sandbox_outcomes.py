"""The sandbox's test numbers, through the MCP tools in sandbox mode as an agent meets them: a search that aims
at them finds them, and each one's order, reservation or lookup ends the way docs/sandbox.md says."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import httpx
import phonenumbers
import pytest
from mcp import Client

from helpers import Human, text_of
from sandbox_helpers import client_for
from telnyx_numbers_mcp.app import build_server
from telnyx_numbers_mcp.config import build_settings
from telnyx_numbers_mcp.guards.e164 import check_phone_value
from telnyx_numbers_mcp.sandbox import Sandbox, create_app
from telnyx_numbers_mcp.sandbox import outcomes as o

pytestmark = pytest.mark.anyio


@asynccontextmanager
async def sandbox_mode(sb: Sandbox, tmp: Path, mode: str = "legacy") -> AsyncIterator[Client]:
    """The server as `--sandbox` runs it (sandbox instructions, no API key), with the simulator in reach so the
    test can move its clock; a human approves every purchase."""
    settings = build_settings(
        {
            "sandbox": True,
            "audit_log": str(tmp / "audit.jsonl"),
            "toolsets": "search,orders,reservations,comments,lookup",
        },
        {},
    )
    server = build_server(settings, transport=httpx.ASGITransport(app=create_app(sb)))
    async with Client(server, mode=mode, elicitation_callback=Human()) as client:
        yield client


async def data(c: Client, tool: str, args: dict[str, Any]) -> Any:
    result = await c.call_tool(tool, args)
    assert not result.is_error, (tool, text_of(result))
    assert isinstance(result.structured_content, dict), (tool, text_of(result))
    return result.structured_content["data"]


async def order(c: Client, number: str) -> dict[str, Any]:
    placed: dict[str, Any] = await data(c, "number_orders_create", {"phone_numbers": [{"phone_number": number}]})
    assert placed["status"] == "pending" and placed["phone_numbers"][0]["phone_number"] == number
    return placed


async def status(c: Client, placed: dict[str, Any]) -> dict[str, Any]:
    now: dict[str, Any] = await data(c, "number_orders_retrieve", {"number_order_id": placed["id"]})
    return now


def test_the_test_numbers_are_valid_e164_and_fictional() -> None:
    """They pass this server's own E.164 guard, and the random pool never makes one of them."""
    assert len(o.TEST_NUMBERS) == 6
    for fixed in o.TEST_NUMBERS:
        assert check_phone_value("phone_number", fixed.e164) is None
        assert phonenumbers.is_valid_number(phonenumbers.parse(fixed.e164)) and o.is_fictional(fixed.e164)


async def test_a_search_aimed_at_them_finds_them_and_others_do_not(tmp_path: Path) -> None:
    sb = Sandbox()
    async with sandbox_mode(sb, tmp_path) as c:
        aimed = await data(c, "available_phone_numbers_list", {"filter": {"phone_number": {"contains": "55501"}}})
        found = {d["phone_number"]: d for d in aimed}
        assert [f.e164 for f in o.TEST_NUMBERS] == list(found)[: len(o.TEST_NUMBERS)]
        assert [e for e, d in found.items() if not d["reservable"]] == [o.NOT_RESERVABLE]
        one = await data(c, "available_phone_numbers_list", {"filter": {"phone_number": {"starts_with": o.SLOW}}})
        assert [d["phone_number"] for d in one] == [o.SLOW]
        chicago = await data(c, "available_phone_numbers_list", {"filter": {"locality": "Chicago", "limit": 100}})
        assert not {d["phone_number"] for d in chicago} & set(found), "a plain search never shows them"
    # nor does the random pool, anywhere in the US: no 555-0100 to 555-0199
    async with client_for(sb) as api:
        for ndc in ("312", "773", "212", "415"):
            params = {
                "filter[national_destination_code]": ndc,
                "filter[phone_number][contains]": "5550",
                "filter[limit]": "50",
            }
            made = [
                d["phone_number"] for d in (await api.get("/available_phone_numbers", params=params)).json()["data"]
            ]
            assert made and not any(o.is_fictional(e) for e in made), made


async def test_each_test_number_ends_as_documented(tmp_path: Path, mode: str) -> None:
    sb = Sandbox()
    async with sandbox_mode(sb, tmp_path, mode) as c:
        orderable, taken, slow, regulatory = [await order(c, e) for e in (o.ORDERABLE, o.TAKEN, o.SLOW, o.REGULATORY)]
        assert regulatory["requirements_met"] is False
        assert all(p["requirements_met"] for p in (orderable, taken, slow))
        sb.clock.advance(10)
        assert (await status(c, orderable))["status"] == "success"
        failed = await status(c, taken)
        assert failed["status"] == "failure" and failed["phone_numbers"][0]["status"] == "failure"
        why = await data(c, "comments_list", {"filter": {"comment_record_id": taken["sub_number_orders_ids"][0]}})
        assert [x["commenter_type"] for x in why] == ["admin"] and "taken by another customer" in why[0]["body"]
        assert (await status(c, slow))["status"] == "pending"
        sb.clock.advance(o.SLOW_SECONDS - 20)
        assert (await status(c, slow))["status"] == "pending"
        assert (await status(c, regulatory))["status"] == "pending"
        sb.clock.advance(20)
        assert (await status(c, slow))["status"] == "success"
        # the regulatory one waits until its requirements are given, then completes like any other
        waiting = (await status(c, regulatory))["phone_numbers"][0]
        assert waiting["status"] == "pending" and waiting["requirements_status"] == "requirement-info-pending"
        values = [{"requirement_id": r["requirement_id"], "field_value": "given"}
                  for r in waiting["regulatory_requirements"]]  # fmt: skip
        assert sorted(r["field_type"] for r in waiting["regulatory_requirements"]) == ["address", "document"]
        given = await data(c, "number_orders_update", {"number_order_id": regulatory["id"],
                                                       "regulatory_requirements": values})  # fmt: skip
        assert given["requirements_met"] is True and given["status"] == "pending"
        sb.clock.advance(10)
        assert (await status(c, regulatory))["status"] == "success"
        # always orderable: again, by this account, and it stays on offer
        again = await order(c, o.ORDERABLE)
        sb.clock.advance(10)
        assert (await status(c, again))["status"] == "success"
        offered = await data(c, "available_phone_numbers_list", {"filter": {"phone_number": {"contains": "55501"}}})
        assert {o.ORDERABLE, o.TAKEN, o.SLOW, o.REGULATORY} <= {d["phone_number"] for d in offered}

        # not reservable: refused with Telnyx's 422 naming the number's field; another test number reserves fine
        refused = await c.call_tool(
            "number_reservations_create", {"phone_numbers": [{"phone_number": o.NOT_RESERVABLE}]}
        )
        message = text_of(refused)
        assert refused.is_error and "422" in message and "/phone_numbers/0/phone_number" in message, message
        held = await data(c, "number_reservations_create", {"phone_numbers": [{"phone_number": o.ORDERABLE}]})
        assert held["phone_numbers"][0]["status"] == "success"

        # known carrier: the lookup's answer is fixed
        found = await data(c, "number_lookup_retrieve", {"phone_number": o.KNOWN_CARRIER, "type": "carrier"})
        assert (found["carrier"]["name"], found["carrier"]["type"]) == ("T-Mobile USA", "mobile")
        assert found["portability"]["ported_status"] == "Y"


async def test_the_sandbox_instructions_name_the_test_numbers(tmp_path: Path) -> None:
    """Briefly (the whole guide stays under 1,500 characters): the numbers, each one's outcome, how to find them."""
    async with sandbox_mode(Sandbox(), tmp_path) as c:
        guide = c.instructions or ""
    numbers = "+1312555010x"
    assert all(f.e164.startswith(numbers[:-1]) and f.e164[-1].isdigit() for f in o.TEST_NUMBERS)
    for fact in (
        numbers,
        "0 ok",
        "1 taken",
        "2 slow",
        "3 needs documents",
        "4 not reservable",
        "5 known carrier",
        o.MARKER,
    ):
        assert fact in guide, fact


def test_the_sandbox_page_lists_every_test_number() -> None:
    page = (Path(__file__).resolve().parents[1] / "docs" / "sandbox.md").read_text()
    section = page.split("## Test numbers", 1)[1].split("\n## ", 1)[0]
    rows = {line.split("`")[1]: line for line in section.splitlines() if line.strip().startswith("| `+1")}
    assert list(rows) == [f.e164 for f in o.TEST_NUMBERS]
    for fixed in o.TEST_NUMBERS:  # the page's row starts with what outcomes.py says of the number
        assert fixed.outcome.split(":")[0] in rows[fixed.e164], fixed.e164
    assert o.MARKER in section and "Each API key is an account" in page
