"""Issue #16 item 4: the model cannot write into the text a human approves. Every argument is shown as
one inert line after one of our labels, and the real total is the last line. Through a real MCP client
(both eras, elicitation and quote + confirm_action) with the sandbox as a recording endpoint, plus a
property test of the rendering with arbitrary Unicode."""

from __future__ import annotations

import re
import unicodedata
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import mcp_types as types
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from mcp import Client

from helpers import Human
from telnyx_numbers_mcp.app import build_server
from telnyx_numbers_mcp.approvals.channels import QUESTION_FOOTER
from telnyx_numbers_mcp.catalog import packaged_catalog
from telnyx_numbers_mcp.config import build_settings
from telnyx_numbers_mcp.guards.summary import VALUE_LIMIT, Found, describe_action
from telnyx_numbers_mcp.sandbox import Sandbox, create_app

pytestmark = pytest.mark.anyio

FORGED_TOTAL = "Total: upfront 0.00 USD, then 0.00 USD per month."
# a newline and a forged total, cursor up + erase line, bidi override, Unicode line/paragraph separators,
# NEL (a C1 control), a carriage return, zero-width space and a run of padding spaces
HOSTILE = (
    f"ref\n{FORGED_TOTAL}\x1b[1A\x1b[2K\u202eUSD 00.0\u2028{FORGED_TOTAL}\u2029\x85\r{FORGED_TOTAL}"
    f"\u200b{' ' * 90}{FORGED_TOTAL}"
)


def inert(text: str) -> None:
    """No character in ``text`` but '\\n' can break a line, steer a terminal or reorder what is shown."""
    bad = [
        ch
        for ch in text
        if ch != "\n" and (unicodedata.category(ch)[0] == "C" or unicodedata.category(ch) in ("Zl", "Zp"))
    ]
    assert not bad, bad
    assert "  " * 2 not in text.replace("\n  ", "\n"), "a run of padding spaces survived"


@dataclass
class Env:
    sb: Sandbox
    tmp: Path

    @asynccontextmanager
    async def client(self, mode: str, human: Human | None, **extra: Any) -> AsyncIterator[Client]:
        flags = {
            "base_url": "http://sandbox.invalid/v2",
            "api_key": "KEY_summary_test",
            "audit_log": str(self.tmp / "a"),
            **extra,
        }
        server = build_server(build_settings(flags, {}), transport=httpx.ASGITransport(app=create_app(self.sb)))
        async with Client(server, mode=mode, elicitation_callback=human) as c:
            yield c

    def orders(self) -> list[dict[str, Any]]:
        return [r for r in self.sb.requests if r["method"] == "POST" and r["path"] == "/v2/number_orders"]


@pytest.fixture
def env(tmp_path: Path) -> Env:
    return Env(Sandbox(), tmp_path)


async def order_args(c: Client, n: int = 1) -> dict[str, Any]:
    found = await c.call_tool("available_phone_numbers_list", {"filter": {"country_code": "US", "limit": n}})
    assert isinstance(found.structured_content, dict)
    numbers = [{"phone_number": e["phone_number"]} for e in found.structured_content["data"]]
    return {"phone_numbers": numbers, "customer_reference": HOSTILE, "connection_id": HOSTILE[::-1]}


def check_summary(summary: str, args: dict[str, Any]) -> None:
    inert(summary)
    lines = summary.splitlines()
    assert lines == summary.split("\n")
    totals = [line for line in lines if line.startswith("Total:")]
    assert totals == [lines[-1]] and lines[-1] != FORGED_TOTAL, lines
    assert lines[-1].startswith("Total: upfront ") and "0.00 USD, then 0.00" not in lines[-1], lines[-1]
    # each line is ours: the headline, one line per number, the settings, the reference, the total
    assert len(lines) == 1 + len(args["phone_numbers"]) + 3, lines
    assert lines[-2].startswith("Customer reference: ref\\nTotal\\x3a upfront 0.00") and "… (" in lines[-2]


async def test_an_elicited_question_shows_hostile_arguments_inert_and_the_real_total_last(env: Env, mode: str) -> None:
    human = Human()
    async with env.client(mode, human) as c:
        args = await order_args(c, 2)
        result = await c.call_tool("number_orders_create", args)
    assert not result.is_error, result
    [question] = human.asked
    assert question.endswith(QUESTION_FOOTER)
    check_summary(question.removesuffix(QUESTION_FOOTER), args)
    [sent] = env.orders()
    assert sent["json"]["customer_reference"] == HOSTILE  # what was approved is sent exactly


async def test_a_quote_shows_hostile_arguments_inert_and_confirm_action_still_redeems_it(env: Env) -> None:
    async with env.client("legacy", None, purchase_policy="host-confirm") as c:
        args = await order_args(c)
        quote = await c.call_tool("number_orders_create", args)
        assert isinstance(quote.structured_content, dict), quote
        summary = quote.structured_content["summary"]
        check_summary(summary, args)
        inert("\n".join(b.text for b in quote.content if isinstance(b, types.TextContent)))
        assert env.orders() == []
        done = await c.call_tool(
            "confirm_action", {"confirmation_id": quote.structured_content["confirmation_id"], "summary": summary}
        )
    assert not done.is_error, done
    [sent] = env.orders()
    assert sent["json"]["customer_reference"] == HOSTILE


# --- property: no argument can add a line --------------------------------------------------------------

COSTS = {"+13125550001": {"upfront_cost": "1.00", "monthly_cost": "2.00", "currency": "USD"}}
TEMPLATES: dict[str, tuple[str, dict[str, Any]]] = {
    "number_orders_create": ("purchase", {"phone_numbers": [{"phone_number": "+13125550001"}]}),
    "number_block_orders_create": ("purchase", {"starting_number": "+13125550001", "range": 10}),
    "inexplicit_number_orders_create": (
        "purchase",
        {"ordering_groups": [{"count_requested": "2", "country_iso": "US", "phone_number_type": "local"}]},
    ),
    "advanced_orders_create": ("purchase", {"quantity": 2, "country_code": "US"}),
    "phone_number_blocks_jobs_delete_block": ("destructive", {"phone_number_block_id": "blk-1"}),
    "sub_number_orders_cancel": ("destructive", {"sub_number_order_id": "so-1"}),
    "phone_numbers_delete": ("destructive", {"id": "pn-1"}),
    "addresses_delete": ("destructive", {"id": "ad-1"}),
    "requirement_groups_delete": ("destructive", {"id": "rg-1"}),
    "some_other_tool": ("destructive", {}),
    # a settings change that turns on everything Telnyx bills (issue #21 item 6), with a destination ...
    "phone_numbers_voice_update": ("settings", {
        "id": "pn-1", "call_forwarding": {"forwards_to": "+8823421234", "forwarding_type": "always"},
        "cnam_listing": {"cnam_listing_enabled": True}, "caller_id_name_enabled": True,
        "call_recording": {"inbound_call_recording_enabled": True}, "inbound_call_screening": "flag_calls"}),
    # ... and one that switches forwarding on to the destination Telnyx already has (shown from a look-up)
    "voice_switch_on": ("settings", {"id": "pn-1", "call_forwarding": {"call_forwarding_enabled": True}}),
}  # fmt: skip
TOOL_OF = {"voice_switch_on": "phone_numbers_voice_update"}
GUARD = {t.name: t for t in packaged_catalog()}["phone_numbers_voice_update"].billed_settings
FREE_TEXT = [
    "customer_reference", "connection_id", "messaging_profile_id", "billing_group_id", "comments", "area_code",
    "requirement_group_id", "phone_number_block_id", "sub_number_order_id", "phone_number_type", "country_code",
    "id",
]  # fmt: skip
# what Telnyx answers a look-up is shown too, and the model wrote some of it (an address, a reference)
RECORD_TEXT = [
    "phone_number", "phone_number_type", "country_iso_alpha2", "business_name", "first_name", "last_name",
    "street_address", "extended_address", "locality", "administrative_area", "postal_code", "country_code",
    "action", "status", "customer_reference", "starting_number",
]  # fmt: skip


def facts(value: str, failed: bool) -> dict[str, Found]:
    """Look-up results carrying `value` in every field the summaries show, or failures whose reason is `value`."""
    if failed:
        return {name: Found(error=value) for name in ("subject", "price", "current")}
    record: dict[str, Any] = {k: value for k in RECORD_TEXT}
    record.update(phone_numbers=[{"phone_number": value}], regulatory_requirements=[], range=10,
                  phone_numbers_count=1, requirements_met=False)  # fmt: skip
    return {
        "subject": Found(record=record),
        "price": Found(record={"monthly_cost": "1.00", "currency": value}),
        "current": Found(record={"call_forwarding": {"forwards_to": value}}),
    }


def fill(tool: str, value: str, key: str) -> dict[str, Any]:
    base = TEMPLATES[tool][1]
    key = "x" + key  # any unknown key, never one the template uses
    args: dict[str, Any] = {**base, **{name: value for name in FREE_TEXT}, key: value}
    if tool == "number_orders_create":
        args["phone_numbers"] = [{"phone_number": "+13125550001", "bundle_id": value, key: value}]
    if tool == "inexplicit_number_orders_create":
        group = {**base["ordering_groups"][0], "locality": value, "features": [value], key: value}
        args["ordering_groups"] = [group]
    return args


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    tool=st.sampled_from(sorted(TEMPLATES)),
    value=st.one_of(
        st.text(st.characters(codec=None), max_size=300),
        st.builds(lambda a, b: f"{a}\n{FORGED_TOTAL}{b}", st.text(max_size=80), st.text(max_size=80)),
    ),
    key=st.text(st.characters(codec=None), min_size=1, max_size=60),
    failed=st.booleans(),
)
def test_property_no_unicode_argument_can_add_a_line_or_move_the_total(
    tool: str, value: str, key: str, failed: bool
) -> None:
    kind = TEMPLATES[tool][0]
    name = TOOL_OF.get(tool, tool)
    plain = describe_action(name, fill(tool, "x", "k"), kind=kind, costs=COSTS, facts=facts("x", failed), guard=GUARD)
    hostile = describe_action(
        name, fill(tool, value, key), kind=kind, costs=COSTS, facts=facts(value, failed), guard=GUARD
    )
    inert(hostile)
    labels = re.compile(r"(?i)(total|cost) ?[:\uff1a\ufe55\ufe13]")  # the labels of the last line
    assert len(labels.findall(hostile)) == len(labels.findall(plain)), hostile
    # an empty value may leave its line out; nothing may add one
    assert len(hostile.splitlines()) == len(hostile.split("\n")) <= len(plain.split("\n")), hostile
    assert hostile.split("\n")[-1] == plain.split("\n")[-1] or kind == "destructive", hostile
    # every value (arguments and looked-up fields) is cut to VALUE_LIMIT characters, each escaped in at most 10
    values = 2 * (len(FREE_TEXT) + 2) + len(RECORD_TEXT) + 4
    assert len(hostile) <= len(plain) + values * (10 * VALUE_LIMIT + 20)
