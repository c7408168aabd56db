"""Issue #16, bad input: E.164 lookalikes, numeric-string counts, unknown filter keys, over-long path ids.
Every case goes through a real MCP client (both protocol eras) to the server, with the sandbox as a
recording Telnyx endpoint, and must be refused naming the field with 0 upstream requests."""

from __future__ import annotations

import json
import re
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

from helpers import TOOLS, Human, audit_records, text_of
from telnyx_numbers_mcp.app import build_server
from telnyx_numbers_mcp.calls.validate import ecma_regex
from telnyx_numbers_mcp.config import build_settings
from telnyx_numbers_mcp.guards.e164 import check_phone_value
from telnyx_numbers_mcp.sandbox import Sandbox, create_app

pytestmark = pytest.mark.anyio

ASCII_E164 = re.compile(r"\+[1-9][0-9]{7,14}")
# "+13125550001" spelled with other characters that Python's `\d` or `$` let through
LOOKALIKES = {
    "trailing newline": "+13125550001\n",
    "fullwidth digits": "+1３１２５５５０００１",
    "Arabic-Indic digits": "+١٣١٢٥٥٥٠٠٠١",
    "Devanagari digits": "+१३१२५५५०००१",
    "trailing CRLF": "+13125550001\r\n",
    "leading newline": "\n+13125550001",
}


@dataclass
class Env:
    sb: Sandbox
    tmp: Path

    @asynccontextmanager
    async def client(self, mode: str = "legacy", human: Human | None = None, **flags: Any) -> AsyncIterator[Client]:
        settings = build_settings(
            {
                "base_url": "http://sandbox.invalid/v2",
                "api_key": "KEY_hardening_test",
                "audit_log": str(self.tmp / "audit.jsonl"),
                "purchase_policy": "allow",  # refusals here must come before any approval
                "max_numbers_per_order": 1000,
                "toolsets": "all",  # every E.164 field, the opt-in toolsets' too
                **flags,
            },
            {},
        )
        server = build_server(settings, transport=httpx.ASGITransport(app=create_app(self.sb)))
        async with Client(server, mode=mode, elicitation_callback=human) as c:
            yield c

    def audit(self) -> list[dict[str, Any]]:
        return audit_records(self.tmp / "audit.jsonl")


@pytest.fixture
def env(tmp_path: Path) -> Env:
    return Env(Sandbox(), tmp_path)


def assert_refused(result: types.CallToolResult, *fragments: str) -> str:
    message = text_of(result)
    assert result.is_error, message
    assert "nothing was sent" in message.lower(), message
    for fragment in fragments:
        assert fragment in message, (fragment, message)
    return message


def args_at(path: str, value: Any) -> tuple[dict[str, Any], str]:
    """Arguments holding ``value`` at an E.164 field path such as ``filter.phone_number.in[]``, and
    the concrete path an error names (``filter.phone_number.in[0]``)."""
    path = path.removesuffix("[,]")  # a comma-joined list: one number is a list too
    parts = path.split(".")
    node: Any = value
    for part in reversed(parts):
        node = {part[:-2]: [node]} if part.endswith("[]") else {part: node}
    return node, path.replace("[]", "[0]")


E164_CASES = [(tool.name, path) for tool in TOOLS.values() for path in tool.e164]


# --- item 2: E.164 is '+' and ASCII digits, the whole string ----------------------------------------


@pytest.mark.parametrize(("tool", "path"), E164_CASES, ids=[f"{t}:{p}" for t, p in E164_CASES])
async def test_unicode_digits_and_trailing_newlines_are_refused_in_every_e164_field(
    env: Env, mode: str, tool: str, path: str
) -> None:
    async with env.client(mode) as c:
        for name, bad in LOOKALIKES.items():
            args, where = args_at(path, bad)
            result = await c.call_tool(tool, args)
            message = assert_refused(result, where)
            assert repr(bad) in message and "E.164" in message, (name, message)
    assert env.sb.requests == []


async def test_a_fullwidth_number_is_explained_and_the_ascii_form_suggested(env: Env) -> None:
    async with env.client() as c:
        args = {"phone_numbers": [{"phone_number": "+1３１２５５５０００１"}]}
        result = await c.call_tool("number_orders_create", args)
    message = assert_refused(result, "phone_numbers[0].phone_number", "not ASCII 0-9", "'+13125550001'")
    assert "Did you mean" in message
    assert env.sb.requests == []


@pytest.mark.parametrize(("tool", "path"), E164_CASES, ids=[f"{t}:{p}" for t, p in E164_CASES])
def test_the_generated_schema_pattern_is_ascii_and_refuses_lookalikes(tool: str, path: str) -> None:
    spec = TOOLS[tool]
    node: Any = spec.input_schema
    for part in path.removesuffix("[,]").split("."):
        node = node["properties"][part.removesuffix("[]")]
        if part.endswith("[]"):
            node = node["items"]
    pattern = node["pattern"]
    assert "\\d" not in pattern and pattern.startswith("^\\+") and pattern.endswith("$"), pattern
    for bad in LOOKALIKES.values():
        args, where = args_at(path, bad)
        errors = [e for e in spec.validator.iter_errors(args) if e.validator == "pattern"]
        assert errors, (where, bad)
    good, _ = args_at(path, "+13125550001")
    assert not [e for e in spec.validator.iter_errors(good) if e.validator == "pattern"]


def test_schema_patterns_are_applied_as_json_schema_says_not_as_python_re_would() -> None:
    assert re.search(r"^a$", "a\n") and not ecma_regex(r"^a$").search("a\n")
    assert re.search(r"^\d$", "３") and not ecma_regex(r"^\d$").search("３")
    assert ecma_regex(r"^[$]x$").search("$x") and not ecma_regex(r"^[$]x$").search("$x\n")
    assert ecma_regex(r"^\$$").search("$")


# anything: arbitrary text, ASCII-valid numbers, and valid numbers with one character changed or added
_valid = st.from_regex(r"\+[1-9][0-9]{7,14}", fullmatch=True)
_near = st.tuples(_valid, st.integers(0, 16), st.characters()).map(lambda t: t[0][: t[1]] + t[2] + t[0][t[1] :])
_swapped = st.tuples(_valid, st.integers(1, 15), st.characters(categories=["Nd"])).map(
    lambda t: t[0][: t[1]] + t[2] + t[0][t[1] + 1 :]
)


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.one_of(st.text(), _valid, _near, _swapped, _valid.map(lambda v: v + "\n")))
def test_property_only_plus_and_8_to_15_ascii_digits_pass_e164(value: str) -> None:
    accepted = check_phone_value("phone_number", value) is None
    if accepted:
        assert ASCII_E164.fullmatch(value), repr(value)
    tool = TOOLS["number_orders_create"]
    schema_ok = not list(tool.validator.iter_errors({"phone_numbers": [{"phone_number": value}]}))
    assert schema_ok == bool(ASCII_E164.fullmatch(value)), repr(value)


# --- item 3: counts are plain positive integers, read as Telnyx reads them -----------------------------

BAD_COUNT_STRINGS = ["+100", "100.0", "1e2", "1_000", "0x64", "-5", "0", " 5", "5\n", "٥", "", "007"]
BAD_COUNT_NUMBERS: list[Any] = [0, -5, 100.0, 1e2, True]


def inexplicit(count: Any) -> dict[str, Any]:
    return {"ordering_groups": [{"country_iso": "US", "count_requested": count, "phone_number_type": "local"}]}


async def test_a_count_requested_that_is_not_plain_digits_is_refused_before_anyone_is_asked(
    env: Env, mode: str
) -> None:
    human = Human()
    async with env.client(mode, human, purchase_policy="confirm") as c:
        for bad in BAD_COUNT_STRINGS:
            result = await c.call_tool("inexplicit_number_orders_create", inexplicit(bad))
            assert_refused(result, "ordering_groups[0].count_requested", repr(bad), "plain positive whole number")
    assert human.asked == [] and env.sb.requests == []
    assert not [r for r in env.audit() if r["event"] in ("request", "quoted")]


async def test_counts_that_are_not_positive_json_integers_are_refused(env: Env, mode: str) -> None:
    human = Human()
    async with env.client(mode, human, purchase_policy="confirm") as c:
        for bad in BAD_COUNT_NUMBERS:
            result = await c.call_tool("number_block_orders_create", {"starting_number": "+13125550000", "range": bad})
            assert_refused(result, "range")
            result = await c.call_tool("advanced_orders_create", {"country_code": "US", "quantity": bad})
            assert_refused(result, "quantity")
    assert human.asked == [] and env.sb.requests == []


async def test_each_bad_group_is_named_and_the_cap_counts_the_plain_ones(env: Env, mode: str) -> None:
    async with env.client(mode, max_numbers_per_order=10) as c:
        two = inexplicit("6")
        two["ordering_groups"].append({**two["ordering_groups"][0], "count_requested": "1e2"})
        message = assert_refused(await c.call_tool("inexplicit_number_orders_create", two))
        assert "ordering_groups[1].count_requested" in message and "ordering_groups[0]" not in message
        over = inexplicit("6")
        over["ordering_groups"].append({**over["ordering_groups"][0], "count_requested": "5"})
        assert_refused(await c.call_tool("inexplicit_number_orders_create", over), "11 numbers", "limit of 10")
    assert env.sb.requests == []


async def test_a_plain_count_is_sent_as_given(env: Env, mode: str) -> None:
    human = Human()
    async with env.client(mode, human, purchase_policy="confirm") as c:
        result = await c.call_tool("inexplicit_number_orders_create", inexplicit("2"))
    assert not result.is_error, text_of(result)
    assert len(human.asked) == 1 and "BUY 2 phone numbers" in human.asked[0]
    [sent] = [r for r in env.sb.requests if r["path"] == "/v2/inexplicit_number_orders"]  # not the estimate's search
    assert sent["json"]["ordering_groups"][0]["count_requested"] == "2"


@settings(max_examples=300, deadline=None)
@given(st.one_of(st.text(), st.integers(), st.floats(), st.booleans(), st.none()))
def test_property_a_count_is_taken_only_when_it_is_a_plain_positive_integer(value: Any) -> None:
    from telnyx_numbers_mcp.guards.summary import plain_count

    count = plain_count(value)
    if isinstance(value, str):
        assert (count is not None) == bool(re.fullmatch(r"[1-9][0-9]{0,17}", value, re.ASCII)), repr(value)
    elif count is not None:
        assert type(value) is int and value >= 1 and count == value


# --- item 7: nested objects refuse keys the spec does not list --------------------------------------


async def test_a_filter_key_in_wire_spelling_cannot_bypass_the_e164_check(env: Env, mode: str) -> None:
    async with env.client(mode) as c:
        result = await c.call_tool("number_reservations_list", {"filter": {"phone_numbers.phone_number": "3125550001"}})
        assert_refused(result, "filter.phone_numbers.phone_number", "unknown argument", "'phone_numbers_phone_number'")
        result = await c.call_tool(
            "number_block_orders_list", {"filter": {"phone_numbers.starting_number": "3125550000"}}
        )
        assert_refused(result, "filter.phone_numbers.starting_number", "'phone_numbers_starting_number'")
        result = await c.call_tool(
            "customer_service_records_list", {"filter": {"phone_number": {"eq": "+13125550001", "like": "312"}}}
        )
        assert_refused(result, "filter.phone_number.like")
    assert env.sb.requests == []


def nested_objects(schema: dict[str, Any], prefix: str = "") -> list[str]:
    """Paths of every object in ``schema`` that lists its properties (arrays as [0])."""
    found = []
    for key, sub in schema.get("properties", {}).items():
        path = f"{prefix}{key}"
        if sub.get("type") == "object" and sub.get("properties"):
            found += [path, *nested_objects(sub, path + ".")]
        if sub.get("type") == "array" and isinstance(sub.get("items"), dict) and sub["items"].get("properties"):
            found += [f"{path}[0]", *nested_objects(sub["items"], f"{path}[0].")]
    return found


NESTED = [(t.name, p) for t in TOOLS.values() for p in nested_objects(t.input_schema)]


def with_unknown_key(path: str) -> dict[str, Any]:
    node: Any = {"zz_unknown": "1"}
    for part in reversed(path.split(".")):
        node = {part[:-3]: [node]} if part.endswith("[0]") else {part: node}
    return dict(node)


async def test_every_nested_object_refuses_an_unknown_key_and_sends_nothing(env: Env, mode: str) -> None:
    assert len(NESTED) > 20  # filters, phone number entries, ordering groups, ...
    async with env.client(mode) as c:
        for tool, path in NESTED:
            result = await c.call_tool(tool, with_unknown_key(path))
            assert_refused(result, f"{path}.zz_unknown: unknown argument")
    assert env.sb.requests == []


# --- item 8: over-long path ids are refused before anything is audited ---------------------------------


async def test_an_over_long_path_id_is_refused_before_any_question_or_audit_record(env: Env, mode: str) -> None:
    human = Human()
    long_id = "a" * 100_000
    async with env.client(mode, human, purchase_policy="confirm") as c:
        cancel = await c.call_tool("sub_number_orders_cancel", {"sub_number_order_id": long_id})
        update = await c.call_tool("number_orders_update", {"number_order_id": long_id, "customer_reference": "x"})
        read = await c.call_tool("number_orders_retrieve", {"number_order_id": long_id})
        just_right = await c.call_tool("number_orders_retrieve", {"number_order_id": "b" * 256})
    for result, field_name in ((cancel, "sub_number_order_id"), (update, "number_order_id"), (read, "number_order_id")):
        message = assert_refused(result, f"{field_name}: is 100000 characters long", "at most 256")
        assert len(message) < 2000, len(message)
    assert "nothing was sent" not in text_of(just_right).lower()  # 256 is allowed (the sandbox answers 404)
    assert human.asked == [] and len(env.sb.requests) == 1 and env.audit() == []


async def test_a_query_too_long_for_a_url_is_refused_clearly_not_as_an_internal_error(env: Env, mode: str) -> None:
    # every value within the 1,000 characters a string may have, but 12 characters each once URL-encoded
    wide = "\U0001d11e" * 1000
    fields = {k: wide for k in ("administrative_area", "country_code", "locality", "national_destination_code",
                                "rate_center")}  # fmt: skip
    async with env.client(mode) as c:
        result = await c.call_tool("available_phone_numbers_list", {"filter": {**fields, "phone_number": {
            "starts_with": wide, "contains": wide, "ends_with": wide}}})  # fmt: skip
    message = assert_refused(result, "no valid HTTP request", "shorten them")
    assert "Internal error" not in message and len(message) < 2000
    assert env.sb.requests == []


# --- item 9: echoed values are bounded; refused confirmations are audited -------------------------------

BIG = "Z" * 1_000_000


@pytest.mark.parametrize(
    ("tool", "args", "field_name"),
    [
        ("number_orders_list", {BIG: 1}, "ZZZZ"),
        ("number_orders_list", {"filter": {BIG: 1}}, "filter.ZZZZ"),
        ("number_orders_create", {"phone_numbers": [{"phone_number": BIG}]}, "phone_numbers[0].phone_number"),
        ("advanced_orders_create", {"comments": BIG}, "comments: is 1000000 characters long; expected at most 255"),
        ("advanced_orders_create", {"phone_number_type": BIG}, "phone_number_type"),
        ("number_orders_list", {"page_size": BIG}, "page_size: is str"),
        ("numbers_features_create", {"phone_numbers": [f"+1312555{i:04d}x" for i in range(2000)]}, "more problems"),
        (
            "number_orders_create",
            {"phone_numbers": [{"phone_number": "+1" + "".join(map(chr, range(0x2190, 0x2400)))}]},
            "more",
        ),
    ],
    ids=["unknown name", "unknown nested name", "phone number", "maxLength", "enum", "type", "many", "many chars"],
)
async def test_errors_echo_at_most_a_bounded_piece_of_a_huge_input(
    env: Env, mode: str, tool: str, args: dict[str, Any], field_name: str
) -> None:
    async with env.client(mode) as c:
        result = await c.call_tool(tool, args)
    message = assert_refused(result, field_name)
    assert len(message) < 10_000, len(message)
    assert env.sb.requests == []


async def test_an_unknown_tool_with_a_huge_name_gets_a_bounded_protocol_error(env: Env, mode: str) -> None:
    from mcp import MCPError

    async with env.client(mode) as c:
        with pytest.raises(MCPError) as raised:
            await c.call_tool(BIG, {})
    assert "Unknown tool" in str(raised.value) and len(str(raised.value)) < 500


async def test_every_refused_confirm_action_is_audited_and_bounded(env: Env, mode: str) -> None:
    async with env.client(mode, None, purchase_policy="host-confirm") as c:  # no elicitation: quotes
        found = await c.call_tool("available_phone_numbers_list", {"filter": {"country_code": "US", "limit": 1}})
        assert isinstance(found.structured_content, dict)
        number = found.structured_content["data"][0]["phone_number"]
        quote = await c.call_tool("number_orders_create", {"phone_numbers": [{"phone_number": number}]})
        assert isinstance(quote.structured_content, dict), text_of(quote)
        cid, summary = quote.structured_content["confirmation_id"], quote.structured_content["summary"]
        attempts = [
            {"confirmation_id": "cf_" + BIG, "summary": summary},  # huge
            {"confirmation_id": "cf_invented.tag", "summary": summary},  # forged
            {"confirmation_id": cid[:-3] + "abc", "summary": summary},  # altered signature
            {"confirmation_id": cid, "summary": summary + "\nTotal: 0.00 USD"},  # another summary
            {"confirmation_id": 7, "summary": summary},  # not a string
        ]
        for bad in attempts:
            result = await c.call_tool("confirm_action", bad)
            message = assert_refused(result)
            assert len(message) < 1000, len(message)
        ok = await c.call_tool("confirm_action", {"confirmation_id": cid, "summary": summary})
        assert not ok.is_error, text_of(ok)
        again = await c.call_tool("confirm_action", {"confirmation_id": cid, "summary": summary})  # reused
        assert_refused(again, "already used")
    refused = [r for r in env.audit() if r["event"] == "confirm_refused"]
    assert len(refused) == len(attempts) + 1
    assert all(len(json.dumps(r)) < 2000 and r["reason"] for r in refused)
    assert "already used" in refused[-1]["reason"] and refused[0]["confirmation_id"].endswith("chars)")
    orders = [r for r in env.sb.requests if r["path"] == "/v2/number_orders" and r["method"] == "POST"]
    assert len(orders) == 1


async def test_discovery_mode_echoes_a_huge_name_or_query_bounded(env: Env, mode: str) -> None:
    async with env.client(mode, tool_mode="discover") as c:
        called = await c.call_tool("call_tool", {"name": BIG, "arguments": {}})
        found = await c.call_tool("find_tools", {"query": BIG})
        described = await c.call_tool("describe_tool", {"name": "x", BIG: 1})
    for result in (called, found, described):
        assert len(text_of(result)) < 2000, len(text_of(result))
    assert called.is_error and "chars)" in text_of(called)
    assert env.sb.requests == []
