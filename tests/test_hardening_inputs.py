"""Issue #16, bad input: E.164 lookalikes, numeric-string counts, unknown filter keys, over-long path ids.
Every case goes through a real MCP client (both protocol eras) to the server, with the sandbox as a
recording Telnyx endpoint, and must be refused naming the field with 0 upstream requests."""

from __future__ import annotations

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
    for part in path.split("."):
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


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
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
