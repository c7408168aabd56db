"""Spending limits (issue 23): --spend-limit daily=USD,monthly=USD through a real MCP client (both protocol eras)
against the sandbox as the recording upstream. A purchase counts its upfront cost plus its first month; one over the
limit is refused before anyone is asked; the amount is held just before sending, spent when Telnyx accepts it (or may
have), released when Telnyx refuses it; the spending tool agrees with what reached the upstream."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from mcp import Client

from approval_helpers import Flow, decide
from helpers import Human, text_of
from telnyx_numbers_mcp.config import build_settings
from telnyx_numbers_mcp.errors import ConfigError
from telnyx_numbers_mcp.sandbox import Sandbox
from telnyx_numbers_mcp.spend.amount import purchase_of
from telnyx_numbers_mcp.spend.book import Limits, Refusal, SpendBook
from telnyx_numbers_mcp.spend.limits import SpendLimit
from telnyx_numbers_mcp.spend.money import next_day, parse_usd, utc
from telnyx_numbers_mcp.store import open_store

pytestmark = pytest.mark.anyio
ORDERS = "/v2/number_orders"
UNSEARCHED = "+13123709222"  # a number the sandbox sells, priced only by a search this session has not made


@pytest.fixture
def flow(tmp_path: Path) -> Flow:
    return Flow(Sandbox(), tmp_path)


@asynccontextmanager
async def client(flow: Flow, mode: str = "legacy", human: Human | None = None, **flags: Any) -> AsyncIterator[Client]:
    async with flow.client(mode, elicitation_callback=human, **flags) as c:
        yield c


async def us_local(c: Client, count: int) -> list[str]:
    """`count` US local numbers from the sandbox's search, checking their price: 1.00 upfront and 1.00 a month."""
    search = {"filter": {"country_code": "US", "phone_number_type": "local", "limit": count}}
    found = await c.call_tool("available_phone_numbers_list", search)
    assert not found.is_error, text_of(found)
    rows = (found.structured_content or {})["data"]
    for row in rows:
        cost = row["cost_information"]
        assert (cost["upfront_cost"], cost["monthly_cost"], cost["currency"]) == ("1.00", "1.00", "USD"), cost
    return [row["phone_number"] for row in rows]


def ordered(flow: Flow) -> list[str]:
    """Every number the upstream received an order for."""
    return [n["phone_number"] for r in flow.sb.requests if r["method"] == "POST" and r["path"] == ORDERS
            for n in (r["json"] or {}).get("phone_numbers", [])]  # fmt: skip


async def buy(c: Client, number: str) -> Any:
    return await c.call_tool("number_orders_create", {"phone_numbers": [{"phone_number": number}]})


# ---- the flags ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "words"),
    [
        ("daily=-5", "must be more than 0"),
        ("daily=0", "must be more than 0"),
        ("monthly=NaN", "NaN is not an amount"),
        ("daily=inf", "infinite"),
        ("daily=1e12", "takes for a mistake"),
        ("daily=50000000", "takes for a mistake"),
        ("weekly=5", "unknown period 'weekly'"),
        ("daily=5 EUR", "the currency EUR is not supported"),
        ("daily=GBP5", "the currency GBP is not supported"),
        ("daily=5,daily=6", "daily is given twice"),
        ("daily", "is not PERIOD=USD"),
        ("daily=five", "is not an amount"),
        ("", "is empty"),
        ("daily=1.0000001", "more than 6 decimal places"),
    ],
)
def test_bad_limits_are_refused_at_start_naming_the_part(value: str, words: str) -> None:
    with pytest.raises(ConfigError) as caught:
        build_settings({"spend_limit": value}, {})
    assert words in str(caught.value) and "--spend-limit" in str(caught.value)


def test_good_limits_read_the_way_operators_write_them() -> None:
    cases = {
        "daily=5": SpendLimit(daily=5_000_000),
        "daily=5 USD,monthly=100": SpendLimit(daily=5_000_000, monthly=100_000_000),
        "monthly=$20.50": SpendLimit(monthly=20_500_000),
        " Daily = 0.035USD ": SpendLimit(daily=35_000),
    }
    for text, limit in cases.items():
        assert build_settings({"spend_limit": text}, {}).spend_limit == limit, text
    env = build_settings({}, {"TELNYX_MCP_SPEND_LIMIT": "daily=7"})
    assert env.spend_limit == SpendLimit(daily=7_000_000) and env.spend_limit.flag() == "daily=7.00"


def test_a_per_user_limit_needs_signed_in_callers() -> None:
    with pytest.raises(ConfigError, match="--spend-limit-per-user needs --auth-issuer"):
        build_settings({"spend_limit_per_user": "daily=5"}, {})


def test_amounts_are_exact() -> None:
    assert parse_usd("0.10", "x") * 3 == parse_usd("0.30", "x")  # no float sums decide a limit
    bad_values: list[Any] = [True, None, [], float("nan"), float("inf"), -1, 0]
    for bad in bad_values:
        with pytest.raises(ValueError):
            parse_usd(bad, "x")


# ---- the Done-when story: daily=5, 2.00 counted each -------------------------------------------------------


async def test_the_third_number_is_refused_before_anyone_is_asked(flow: Flow, mode: str) -> None:
    human = Human()
    async with client(flow, mode, human, spend_limit="daily=5") as c:
        first, second, third = await us_local(c, 3)
        assert not (await buy(c, first)).is_error and not (await buy(c, second)).is_error
        assert len(human.asked) == 2 and ordered(flow) == [first, second]
        refused = await buy(c, third)
    text = text_of(refused)
    assert refused.is_error and len(human.asked) == 2, "the third was asked about"
    assert ordered(flow) == [first, second], "the third reached the upstream"
    assert "would count 2.00 USD (upfront plus the first month)" in text
    assert "4.00 of 5.00 USD is spent or held today (UTC), so 1.00 USD is left" in text
    assert f"it resets at {utc(next_day(time.time()))}" in text and "nobody was asked" in text
    assert not [a for a in flow.audit() if a["event"] == "asked" and a["args"]["phone_numbers"][0]["phone_number"]
                == third]  # fmt: skip


async def test_the_spending_tool_agrees_with_what_reached_the_upstream(flow: Flow, mode: str) -> None:
    async with client(flow, mode, Human(), spend_limit="daily=9,monthly=50") as c:
        numbers = await us_local(c, 3)
        for number in numbers:
            assert not (await buy(c, number)).is_error
        block = await c.call_tool("number_orders_create", {"phone_numbers": [{"phone_number": n} for n in
                                                                             (await us_local(c, 5))[3:5]]})  # fmt: skip
        assert block.is_error and "over the daily spending limit" in text_of(block)  # 4.00 more than the 3.00 left
        report = await c.call_tool("spending", {})
    sent = ordered(flow)
    spent = Decimal(2) * len(sent)  # each US local number: 1.00 upfront + 1.00 for its first month
    data = report.structured_content or {}
    today, month = data["everyone"]["daily"], data["everyone"]["monthly"]
    assert Decimal(today["spent_usd"]) == Decimal(month["spent_usd"]) == spent == Decimal("6.00")
    assert today["held_usd"] == "0.00" and today["limit_usd"] == "9.00" and today["left_usd"] == "3.00"
    assert month["limit_usd"] == "50.00" and month["left_usd"] == "44.00"
    text = text_of(report)
    assert "today 6.00 USD spent and 0.00 held of the daily limit 9.00 (3.00 left" in text
    assert "this month 6.00 USD spent" in text and "Approvals waiting for a human: 0." in text


async def test_a_purchase_of_unknown_cost_is_refused_while_a_limit_is_set(flow: Flow) -> None:
    """Fail closed: the price look-up fails (Telnyx answers 503), so the limit cannot be checked."""
    human = Human()
    async with client(flow, "legacy", human, spend_limit="monthly=100") as c:
        flow.sb.faults.add(503, path_prefix="/available_phone_numbers", count=20)
        result = await buy(c, UNSEARCHED)
    assert result.is_error and "its cost could not be determined" in text_of(result), text_of(result)
    assert human.asked == [] and ordered(flow) == []


async def test_without_a_limit_a_purchase_of_unknown_cost_is_asked_about(flow: Flow) -> None:
    human = Human(action="decline")
    async with client(flow, "legacy", human) as c:
        flow.sb.faults.add(503, path_prefix="/available_phone_numbers", count=20)
        result = await buy(c, UNSEARCHED)
    assert result.is_error and "Not approved" in text_of(result) and len(human.asked) == 1
    assert "cost: not quoted by Telnyx" in human.asked[0]


# ---- holds: spent, released, kept ----------------------------------------------------------------------


async def spending(c: Client) -> dict[str, Any]:
    data = (await c.call_tool("spending", {})).structured_content or {}
    return dict(data["everyone"]["daily"])


async def test_an_order_telnyx_refuses_is_released(flow: Flow) -> None:
    async with client(flow, "legacy", Human(), spend_limit="daily=5") as c:
        number = (await us_local(c, 1))[0]
        flow.sb.faults.add(422, path_prefix="/number_orders", method="POST")
        refused = await buy(c, number)
        assert refused.is_error and "422" in text_of(refused)
        day = await spending(c)
        assert day["spent_usd"] == "0.00" and day["held_usd"] == "0.00" and day["left_usd"] == "5.00"
    outcome = [r for r in flow.audit() if r["event"] == "outcome"][-1]
    assert outcome["spend"] == "released" and outcome["status"] == 422


async def test_a_timeout_after_sending_keeps_the_money_spent(flow: Flow) -> None:
    """The order may have gone through: the limit keeps counting it, so a retry cannot spend it twice."""
    async with client(flow, "legacy", Human(), spend_limit="daily=3", timeout=0.5) as c:
        first, second = await us_local(c, 2)
        flow.sb.faults.add(200, path_prefix="/number_orders", method="POST", delay=3.0)
        timed_out = await buy(c, first)
        assert timed_out.is_error and "DO NOT order again" in text_of(timed_out)
        assert (await spending(c))["spent_usd"] == "2.00"
        again = await buy(c, second)
    assert again.is_error and "1.00 USD is left" in text_of(again)
    outcome = [r for r in flow.audit() if r["event"] == "outcome"][-1]
    assert outcome["spend"] == "spent" and outcome["may_have_reached"] is True


async def test_the_request_record_carries_the_hold(flow: Flow) -> None:
    async with client(flow, "legacy", Human(), spend_limit="daily=5") as c:
        number = (await us_local(c, 1))[0]
        assert not (await buy(c, number)).is_error
    request = next(r for r in flow.audit() if r["event"] == "request")
    assert request["spend"]["amount_usd"] == "2.00" and request["spend"]["ledger_id"].startswith("sp_")
    assert [r["spend"] for r in flow.audit() if r["event"] == "outcome"] == ["spent"]


async def test_an_approval_carried_out_after_the_limit_filled_up_sends_nothing(flow: Flow) -> None:
    """Asked while there was room; by the time the human approves, other purchases took it: nothing is sent."""
    async with client(flow, "legacy", None, spend_limit="daily=3") as blind, \
            client(flow, "legacy", Human(), spend_limit="daily=3") as asking:  # fmt: skip
        first, second = await us_local(blind, 2)
        waiting = await buy(blind, first)  # no elicitation: an approval waits on the review page
        approval_id = (waiting.structured_content or {})["approval_id"]
        assert not (await buy(asking, second)).is_error  # 2.00 of 3.00 now spent
        assert (await decide(flow.url(), "approve")).status_code == 200  # the review page carries it out now
        checked = await blind.call_tool("check_approval", {"approval_id": approval_id})
    assert checked.is_error and "over the daily spending limit" in text_of(checked)
    assert "nothing was sent" in text_of(checked) and ordered(flow) == [second]


# ---- the store: one transaction per hold, per subject ------------------------------------------------------


def test_per_user_limits_count_each_subject_apart_and_the_store_limit_counts_everyone(tmp_path: Path) -> None:
    store = open_store(build_settings({"state_dir": str(tmp_path)}, {}))
    approvals = store.approvals()
    try:
        book = SpendBook(approvals)
        quote = {"upfront_cost": "1.00", "monthly_cost": "1.00", "currency": "USD"}
        args = {"phone_numbers": [{"phone_number": UNSEARCHED}]}
        purchase = purchase_of("number_orders_create", args, {UNSEARCHED: quote})
        limits = Limits(store=SpendLimit(daily=7_000_000), per_user=SpendLimit(daily=4_000_000))
        held = [book.hold("mode-1", who, purchase, limits) for who in ("alice", "alice", "alice", "bob", "bob")]
        refused = held[2]
        assert isinstance(refused, Refusal) and refused.whose == "user" and refused.used == 4_000_000
        assert not isinstance(held[3], Refusal)
        everyone = held[4]  # bob has room, but everyone together does not: 6.00 of 7.00
        assert isinstance(everyone, Refusal) and everyone.whose == "store" and everyone.used == 6_000_000
        other_mode = book.hold("mode-2", "bob", purchase, limits)  # another account's money counts apart
        assert not isinstance(other_mode, Refusal)
    finally:
        approvals.close()
        store.close()
