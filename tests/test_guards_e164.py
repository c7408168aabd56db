from __future__ import annotations

import pytest

from telnyx_numbers_mcp.errors import PhoneNumberError
from telnyx_numbers_mcp.guards.e164 import check_phone_fields, check_phone_value, require_e164

ORDER_PATH = ["phone_numbers[].phone_number"]

VALID = [
    "+13125550001",  # US
    "+14165550123",  # CA
    "+442079460958",  # GB
    "+4930123456",  # DE
    "+33123456789",  # FR
    "+61291234567",  # AU
    "+31201234567",  # NL
    "+81312345678",  # JP
    "+5511912345678",  # BR
]


def order(*numbers: str) -> dict[str, object]:
    return {"phone_numbers": [{"phone_number": n} for n in numbers]}


@pytest.mark.parametrize("number", VALID)
def test_valid_numbers_from_many_countries_pass(number: str) -> None:
    assert check_phone_fields(order(number), ORDER_PATH) == []


def test_problem_names_the_concrete_array_path_and_the_value() -> None:
    problems = check_phone_fields(order("+13125550001", "312 555 0002"), ORDER_PATH)
    assert len(problems) == 1
    assert problems[0].path == "phone_numbers[1].phone_number"
    assert problems[0].value == "312 555 0002"


@pytest.mark.parametrize(
    ("value", "words", "suggestion"),
    [
        ("+1 312 555 0001", "spaces", "+13125550001"),
        ("+1-312-555-0001", "dashes", "+13125550001"),
        ("+1 (312) 555-0001", "brackets", "+13125550001"),
        ("+1.312.555.0001", "dots", "+13125550001"),
        ("+44 20 7946 0958", "spaces", "+442079460958"),
        ("0049 30 123456", "'00' international prefix", "+4930123456"),
        ("00 44 20 7946 0958", "'00' international prefix", "+442079460958"),
        ("004930123456", "'00' international prefix", "+4930123456"),
    ],
)
def test_readable_numbers_get_their_e164_form_suggested(value: str, words: str, suggestion: str) -> None:
    (problem,) = check_phone_fields(order(value), ORDER_PATH)
    assert words in problem.message
    assert problem.suggestion == suggestion
    assert f"Did you mean {suggestion!r}?" in problem.describe()
    assert "assumption" not in problem.message


@pytest.mark.parametrize("value", ["(312) 555-0001", "3125550001", "312.555.0001", "1 312 555 0001"])
def test_ten_digit_nanp_input_suggests_us_and_says_it_is_an_assumption(value: str) -> None:
    (problem,) = check_phone_fields(order(value), ORDER_PATH)
    assert "no leading '+'" in problem.message
    assert "if this is a US number" in problem.message
    assert "assumption" in problem.message
    assert problem.suggestion == "+13125550001"


def test_national_number_uses_country_code_from_the_same_object() -> None:
    args = {"phone_numbers": [{"phone_number": "030 123456", "country_code": "DE"}]}
    (problem,) = check_phone_fields(args, ORDER_PATH)
    assert problem.suggestion == "+4930123456"
    assert "DE" in problem.message
    assert "if this is a US number" not in problem.message


def test_national_number_uses_country_code_from_the_top_level() -> None:
    args = {"country_code": "GB", "phone_numbers": ["020 7946 0958"]}
    (problem,) = check_phone_fields(args, ["phone_numbers[]"])
    assert problem.path == "phone_numbers[0]"
    assert problem.suggestion == "+442079460958"


def test_national_number_without_country_and_not_nanp_gets_no_suggestion() -> None:
    (problem,) = check_phone_fields(order("030 123456"), ORDER_PATH)
    assert problem.suggestion is None
    assert "no leading '+'" in problem.message


@pytest.mark.parametrize(
    ("value", "words"),
    [
        ("+1312555", "too short (7 digits; E.164 needs 8 to 15)"),
        ("+13125550", "is not a possible number for US (+1) (too short"),
        ("12345", "too short (5 digits; E.164 needs 8 to 15)"),
        ("+1312555000123456", "too long (16 digits; E.164 allows at most 15)"),
        ("+0123456789", "a country code never starts with 0"),
        ("+1 800 FLOWERS", "letters"),
        ("+999123456789", "has an unknown country code"),
        ("+1312555000", "is not a possible number for US (+1)"),
        ("+4420794609581234", "too long"),
        ("", "it is empty"),
        ("+1312#5550001", "other characters '#'"),
        ("+1312555000l", "letters"),
    ],
)
def test_bad_numbers_are_reported_with_the_rule_they_break(value: str, words: str) -> None:
    (problem,) = check_phone_fields(order(value), ORDER_PATH)
    assert words in problem.message
    assert problem.value == value


@pytest.mark.parametrize("value", ["+1 800 FLOWERS", "+999123456789", "+1312555000", "+0123456789"])
def test_ambiguous_or_impossible_input_gets_no_suggestion(value: str) -> None:
    (problem,) = check_phone_fields(order(value), ORDER_PATH)
    assert problem.suggestion is None
    assert "Did you mean" not in problem.describe()


def test_possible_check_names_the_country_for_other_regions() -> None:
    problem = check_phone_value("x", "+44207946")
    assert problem is not None
    assert "is not a possible number for GB (+44)" in problem.message


def test_missing_fields_and_absent_objects_are_not_checked() -> None:
    paths = [
        "starting_number",
        "additional_data.billing_phone_number",
        "filter.phone_number.eq",
        "filter.phone_number.in[]",
        "phone_numbers[].phone_number",
    ]
    assert check_phone_fields({}, paths) == []
    assert check_phone_fields({"filter": {}}, paths) == []
    assert check_phone_fields({"filter": {"phone_number": None}, "additional_data": None}, paths) == []


def test_non_string_values_are_left_to_schema_validation() -> None:
    args = {"starting_number": 13125550001, "phone_numbers": [{"phone_number": None}, 7, "x"]}
    assert check_phone_fields(args, ["starting_number", "phone_numbers[].phone_number"]) == []


def test_nested_and_list_paths_report_concrete_paths() -> None:
    args = {
        "starting_number": "+13125550001",
        "additional_data": {"billing_phone_number": "3125550001"},
        "filter": {
            "phone_numbers_phone_number": "+13125550001",
            "phone_number": {"eq": "+1 312 555 0001", "in": ["+13125550001", "+13125550"]},
        },
        "phone_numbers": ["+13125550001", "+1-312-555-0002"],
    }
    paths = [
        "starting_number",
        "additional_data.billing_phone_number",
        "filter.phone_numbers_phone_number",
        "filter.phone_number.eq",
        "filter.phone_number.in[]",
        "phone_numbers[]",
    ]
    found = {p.path: p.value for p in check_phone_fields(args, paths)}
    assert found == {
        "additional_data.billing_phone_number": "3125550001",
        "filter.phone_number.eq": "+1 312 555 0001",
        "filter.phone_number.in[1]": "+13125550",
        "phone_numbers[1]": "+1-312-555-0002",
    }


def test_require_e164_raises_phone_number_error_listing_every_problem() -> None:
    with pytest.raises(PhoneNumberError) as caught:
        require_e164("number_orders_create", order("+13125550001", "(312) 555-0002", "+999123"), ORDER_PATH)
    error = caught.value
    assert error.tool == "number_orders_create"
    assert [p.path for p in error.problems] == [
        "phone_numbers[1].phone_number",
        "phone_numbers[2].phone_number",
    ]
    text = str(error)
    assert "nothing was sent" in text
    assert "Did you mean '+13125550002'?" in text


def test_require_e164_is_silent_for_valid_arguments() -> None:
    require_e164("number_orders_create", order(*VALID), ORDER_PATH)


def test_the_module_never_rewrites_the_arguments() -> None:
    args = order("(312) 555-0001")
    check_phone_fields(args, ORDER_PATH)
    assert args == order("(312) 555-0001")


def test_malformed_path_is_a_programming_error() -> None:
    with pytest.raises(ValueError):
        check_phone_fields({}, ["phone_numbers..x"])
