from __future__ import annotations

from typing import Any

import pytest

from telnyx_numbers_mcp.guards.summary import count_numbers, describe_action, total_cost


def cost(upfront: str = "1.00", monthly: str = "1.00", currency: str = "USD") -> dict[str, str]:
    return {
        "upfront_cost": upfront,
        "monthly_cost": monthly,
        "currency": currency,
        "country_code": "US",
        "phone_number_type": "local",
    }


ORDER: dict[str, Any] = {
    "phone_numbers": [{"phone_number": "+13125550001"}, {"phone_number": "+13125550002"}],
    "connection_id": "1234",
    "customer_reference": "mcp-3f2a",
}
COSTS = {"+13125550001": cost(), "+13125550002": cost()}


def test_number_order_with_known_costs_reads_like_the_example() -> None:
    text = describe_action("number_orders_create", ORDER, kind="purchase", costs=COSTS)
    assert text == (
        "BUY 2 phone numbers from Telnyx (real charges):\n"
        "  +13125550001  US local  upfront 1.00 USD, monthly 1.00 USD\n"
        "  +13125550002  US local  upfront 1.00 USD, monthly 1.00 USD\n"
        "Connection: 1234 · Messaging profile: (none) · Billing group: (none)\n"
        "Customer reference: mcp-3f2a\n"
        "Total: upfront 2.00 USD, then 2.00 USD per month."
    )


def test_a_single_number_is_singular() -> None:
    args = {"phone_numbers": [{"phone_number": "+13125550001"}]}
    text = describe_action("number_orders_create", args, kind="purchase", costs=COSTS)
    assert text.startswith("BUY 1 phone number from Telnyx (real charges):")
    assert "Total: upfront 1.00 USD, then 1.00 USD per month." in text


def test_unknown_costs_are_said_plainly_and_the_total_is_not_guessed() -> None:
    costs = {"+13125550001": cost("0.50", "1.25")}
    text = describe_action("number_orders_create", ORDER, kind="purchase", costs=costs)
    assert "  +13125550001  US local  upfront 0.50 USD, monthly 1.25 USD" in text
    assert "  +13125550002  cost: not quoted by Telnyx" in text
    assert "Total: not known (Telnyx quoted no cost for 1 of 2 numbers)." in text


def test_sandbox_marks_the_first_line_instead_of_real_charges() -> None:
    text = describe_action("number_orders_create", ORDER, kind="purchase", costs=COSTS, sandbox=True)
    first = text.splitlines()[0]
    assert first == "SANDBOX (simulated, nothing is bought): BUY 2 phone numbers from Telnyx:"
    assert "real charges" not in text


def test_number_order_shows_bundles_groups_and_every_other_setting() -> None:
    args = {
        "phone_numbers": [
            {"phone_number": "+442079460958", "bundle_id": "bun-1", "requirement_group_id": "rg-9"},
        ],
        "messaging_profile_id": "mp-7",
        "billing_group_id": "bg-3",
        "webhook_url": "https://example.test/hook",
    }
    text = describe_action("number_orders_create", args, kind="purchase")
    assert "+442079460958  cost: not quoted by Telnyx  (bundle bun-1, requirement group rg-9)" in text
    assert "Connection: (none) · Messaging profile: mp-7 · Billing group: bg-3" in text
    assert "Customer reference: (none)" in text
    assert "Other settings: webhook_url=https://example.test/hook" in text


def test_totals_add_exactly_and_keep_currencies_apart() -> None:
    args = {"phone_numbers": [{"phone_number": n} for n in ("+1", "+2", "+3", "+4")]}
    costs = {
        "+1": cost("0.10", "0.20"),
        "+2": cost("0.20", "0.10"),
        "+3": cost("1", "2", "EUR"),
        "+4": cost("0.005", "0", "EUR"),
    }
    text = describe_action("number_orders_create", args, kind="purchase", costs=costs)
    assert "Total: upfront 1.005 EUR + 0.30 USD, then 2.00 EUR + 0.30 USD per month." in text


def test_block_order_names_the_range_and_the_connection() -> None:
    args = {"starting_number": "+13125550000", "range": 10, "connection_id": "c-1", "customer_reference": "r"}
    text = describe_action("number_block_orders_create", args, kind="purchase")
    assert text == (
        "BUY a block of 10 phone numbers from Telnyx (real charges):\n"
        "  +13125550000 to +13125550009  cost: not quoted by Telnyx\n"
        "Connection: c-1 · Messaging profile: (none)\n"
        "Customer reference: r\n"
        "Total: not known (Telnyx quoted no price for this block)."
    )


def test_block_order_shows_a_quoted_block_cost_and_its_total_for_the_whole_block() -> None:
    args = {"starting_number": "+13125550000", "range": 10}
    text = describe_action("number_block_orders_create", args, kind="purchase", costs={"block": cost("10.00", "5.00")})
    assert "upfront 10.00 USD, monthly 5.00 USD for the whole block" in text
    assert text.splitlines()[-1] == "Total: upfront 10.00 USD, then 5.00 USD per month, for the whole block."
    assert total_cost("number_block_orders_create", args, {"block": cost("10.00", "5.00")}) == pytest.approx(10.0)


def test_inexplicit_order_lists_each_group_with_place_and_features() -> None:
    args = {
        "ordering_groups": [
            {
                "count_requested": 3,
                "country_iso": "US",
                "phone_number_type": "local",
                "administrative_area": "IL",
                "locality": "Chicago",
                "national_destination_code": "312",
                "features": ["sms", "voice"],
            },
            {"count_requested": 2, "country_iso": "GB", "phone_number_type": "mobile", "quickship": True},
        ],
        "billing_group_id": "bg-1",
    }
    text = describe_action("inexplicit_number_orders_create", args, kind="purchase")
    lines = text.splitlines()
    assert lines[0] == "BUY 5 phone numbers chosen by Telnyx (real charges):"
    assert lines[1] == "  3 x US local in Chicago, IL, area code 312, with sms, voice"
    assert lines[3] == "  2 x GB mobile (quickship=true)"
    assert "no search gave an estimate for every group" in text
    assert "Connection: (none) · Messaging profile: (none) · Billing group: bg-1" in lines


def test_advanced_order_states_quantity_country_type_and_comments() -> None:
    args = {
        "quantity": 5,
        "country_code": "US",
        "phone_number_type": "toll_free",
        "area_code": "800",
        "features": ["voice"],
        "requirement_group_id": "rg-1",
        "comments": "for the support line",
        "customer_reference": "ref-1",
    }
    text = describe_action("advanced_orders_create", args, kind="purchase")
    assert text.startswith("BUY 5 phone numbers from Telnyx by advanced order (real charges):")
    assert "  5 x US toll_free, area code 800, with voice" in text
    assert "Requirement group: rg-1" in text
    assert "Comments: for the support line" in text
    assert "Customer reference: ref-1" in text


def test_deleting_a_block_says_it_cannot_be_undone() -> None:
    text = describe_action(
        "phone_number_blocks_jobs_delete_block", {"phone_number_block_id": "blk-42"}, kind="destructive"
    )
    assert text == "DELETE all numbers in phone number block blk-42 (cannot be undone)."


def test_cancelling_a_sub_number_order_names_it() -> None:
    text = describe_action("sub_number_orders_cancel", {"sub_number_order_id": "so-7"}, kind="destructive")
    assert text == "CANCEL sub number order so-7."


def test_destructive_actions_in_the_sandbox_are_marked_simulated() -> None:
    text = describe_action(
        "sub_number_orders_cancel", {"sub_number_order_id": "so-7"}, kind="destructive", sandbox=True
    )
    assert text == "SANDBOX (simulated, nothing is changed): CANCEL sub number order so-7."


def test_other_tools_get_a_generic_summary_of_every_argument() -> None:
    text = describe_action("porting_orders_create", {"a": 1, "b": "x", "c": [1]}, kind="destructive")
    assert text.splitlines() == ["Run porting_orders_create with: a=1, b=x, c=[1]", "This cannot be undone."]
    purchase = describe_action("some_purchase", {"n": 2}, kind="purchase")
    assert purchase.splitlines()[0] == "Run some_purchase with: n=2 (real charges)"


def test_unknown_kind_is_a_programming_error() -> None:
    with pytest.raises(ValueError):
        describe_action("number_orders_create", ORDER, kind="maybe")


def test_total_cost_is_the_upfront_sum_in_usd_when_every_number_is_quoted() -> None:
    assert total_cost("number_orders_create", ORDER, COSTS) == pytest.approx(2.0)
    assert total_cost(
        "number_orders_create", ORDER, {"+13125550001": cost("0.75"), "+13125550002": cost("1.25")}
    ) == pytest.approx(2.0)


@pytest.mark.parametrize(
    "costs",
    [
        None,
        {},
        {"+13125550001": cost()},
        {"+13125550001": cost(), "+13125550002": cost(currency="EUR")},
        {"+13125550001": cost(), "+13125550002": cost(upfront="n/a")},
    ],
)
def test_total_cost_is_none_unless_every_number_has_a_usd_quote(costs: Any) -> None:
    assert total_cost("number_orders_create", ORDER, costs) is None


def test_total_cost_of_nothing_is_none() -> None:
    assert total_cost("number_orders_create", {"phone_numbers": []}, COSTS) is None
    assert total_cost("number_block_orders_create", {"starting_number": "+13125550000", "range": 10}, COSTS) is None


def test_an_estimate_is_labelled_and_never_counts_as_a_firm_total() -> None:
    args = {"ordering_groups": [{"count_requested": 3, "country_iso": "GB", "phone_number_type": "mobile"}]}
    costs = {"group:0": {**cost("2.00", "5.00"), "estimate": "yes"}}
    text = describe_action("inexplicit_number_orders_create", args, kind="purchase", costs=costs)
    assert "    estimate: upfront 2.00 USD, monthly 5.00 USD per number (from a search with the same filters)" in text
    assert "ESTIMATED total: upfront 6.00 USD, then 15.00 USD per month (an estimate" in text
    assert total_cost("inexplicit_number_orders_create", args, costs) is None  # the cost cap fails closed


@pytest.mark.parametrize(
    ("tool", "args", "expected"),
    [
        ("number_orders_create", ORDER, 2),
        ("number_orders_create", {}, 0),
        ("number_block_orders_create", {"starting_number": "+13125550000", "range": 100}, 100),
        (
            "inexplicit_number_orders_create",
            {"ordering_groups": [{"count_requested": 3}, {"count_requested": 4}]},
            7,
        ),
        ("advanced_orders_create", {"quantity": 12}, 12),
        ("advanced_orders_create", {}, 1),
        ("sub_number_orders_cancel", {"sub_number_order_id": "x"}, 0),
        ("available_phone_numbers_list", {"filter": {"limit": 50}}, 0),
    ],
)
def test_count_numbers_counts_what_each_tool_would_buy(tool: str, args: Any, expected: int) -> None:
    assert count_numbers(tool, args) == expected
