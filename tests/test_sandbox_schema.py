"""Every sandbox answer, for every catalog operation and several argument sets each, matches the spec's schema
and carries no field the schema lacks."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from helpers import ADDRESS, ALL_CATALOG
from sandbox_helpers import ResponseValidator, client_for
from sandbox_world import World, build_world
from telnyx_numbers_mcp.sandbox import Sandbox
from telnyx_numbers_mcp.sandbox.app import ROUTES

pytestmark = pytest.mark.anyio


@pytest.fixture(scope="session")
def validator(openapi: dict[str, Any]) -> ResponseValidator:
    return ResponseValidator(openapi)


Case = tuple[str, dict[str, Any]]


def cases(op: tuple[str, str], w: World) -> list[Case]:
    """Argument sets per operation: (concrete path, httpx request kwargs)."""
    i = w.ids
    q = "params"
    table: dict[tuple[str, str], list[Case]] = {
        ("GET", "/available_phone_numbers"): [
            (
                "/available_phone_numbers",
                {
                    q: {
                        "filter[country_code]": "US",
                        "filter[phone_number][starts_with]": "312",
                        "filter[features]": "sms,voice",
                        "filter[limit]": "5",
                    }
                },
            ),
            ("/available_phone_numbers", {q: {"filter[country_code]": "GB", "filter[locality]": "London"}}),
            (
                "/available_phone_numbers",
                {
                    q: {
                        "filter[country_code]": "US",
                        "filter[phone_number_type]": "toll_free",
                        "filter[phone_number][ends_with]": "00",
                    }
                },
            ),
            (
                "/available_phone_numbers",
                {
                    q: {
                        "filter[country_code]": "US",
                        "filter[locality]": "Chicago",
                        "filter[best_effort]": "true",
                        "filter[limit]": "40",
                    }
                },
            ),
            (
                "/available_phone_numbers",
                {
                    q: {
                        "filter[country_code]": "CA",
                        "filter[administrative_area]": "ON",
                        "filter[quickship]": "true",
                        "filter[reservable]": "true",
                    }
                },
            ),
            (
                "/available_phone_numbers",
                {
                    q: [
                        ("filter[country_code]", "AU"),
                        ("filter[phone_number_type]", "mobile"),
                        ("filter[features][]", "voice"),
                        ("filter[features][]", "sms"),
                    ]
                },
            ),
            (
                "/available_phone_numbers",
                {
                    q: {
                        "filter[country_code]": "DE",
                        "filter[national_destination_code]": "30",
                        "filter[phone_number][contains]": "55",
                    }
                },
            ),
            ("/available_phone_numbers", {q: {"filter[country_code]": "ZW"}}),
        ],
        ("GET", "/available_phone_number_blocks"): [
            ("/available_phone_number_blocks", {q: {"filter[country_code]": "US"}}),
            ("/available_phone_number_blocks", {q: {"filter[country_code]": "CA", "filter[locality]": "Toronto"}}),
            (
                "/available_phone_number_blocks",
                {
                    q: {
                        "filter[country_code]": "GB",
                        "filter[phone_number_type]": "local",
                        "filter[national_destination_code]": "20",
                    }
                },
            ),
        ],
        ("POST", "/numbers_features"): [
            ("/numbers_features", {"json": {"phone_numbers": w.spare["US"][:2]}}),
            ("/numbers_features", {"json": {"phone_numbers": ["+442071838750", "+14155552671"]}}),
        ],
        ("POST", "/number_orders"): [
            (
                "/number_orders",
                {
                    "json": {
                        "phone_numbers": [{"phone_number": w.spare["US"][0]}],
                        "connection_id": "1234",
                        "customer_reference": "new",
                    }
                },
            ),
            (
                "/number_orders",
                {"json": {"phone_numbers": [{"phone_number": w.spare["GB"][0]}, {"phone_number": w.spare["FR"][0]}]}},
            ),
            (
                "/number_orders",
                {
                    "json": {
                        "phone_numbers": [{"phone_number": w.spare["DE"][0], "requirement_group_id": i["de_group"]}]
                    }
                },
            ),
        ],
        ("GET", "/number_orders"): [
            ("/number_orders", {}),
            ("/number_orders", {q: {"filter[status]": "success", "page[size]": "1"}}),
            ("/number_orders", {q: {"filter[customer_reference]": "ref-us", "filter[requirements_met]": "true"}}),
            ("/number_orders", {q: {"filter[created_at][gt]": "2000-01-01T00:00:00Z", "page[number]": "2"}}),
        ],
        ("GET", "/number_orders/{number_order_id}"): [
            (f"/number_orders/{i['order']}", {}),
            (f"/number_orders/{i['de_order']}", {}),
        ],
        ("PATCH", "/number_orders/{number_order_id}"): [
            (f"/number_orders/{i['order']}", {"json": {"customer_reference": "renamed"}}),
            (
                f"/number_orders/{i['de_order']}",
                {"json": {"regulatory_requirements": [{"requirement_id": i["de_req"], "field_value": "addr-1"}]}},
            ),
        ],
        ("GET", "/number_order_phone_numbers"): [
            ("/number_order_phone_numbers", {}),
            ("/number_order_phone_numbers", {q: {"filter[country_code]": "DE"}}),
        ],
        ("GET", "/number_order_phone_numbers/{number_order_phone_number_id}"): [
            (f"/number_order_phone_numbers/{i['number']}", {}),
            (f"/number_order_phone_numbers/{i['de_number']}", {}),
        ],
        ("PATCH", "/number_order_phone_numbers/{number_order_phone_number_id}"): [
            (
                f"/number_order_phone_numbers/{i['de_number']}",
                {"json": {"regulatory_requirements": [{"requirement_id": i["de_req2"], "field_value": "doc-1"}]}},
            ),
            (f"/number_order_phone_numbers/{i['number']}", {"json": {}}),
        ],
        ("GET", "/sub_number_orders"): [
            ("/sub_number_orders", {}),
            ("/sub_number_orders", {q: {"filter[country_code]": "US", "filter[status]": "success"}}),
            ("/sub_number_orders", {q: {"filter[order_request_id]": i["order"], "filter[phone_numbers_count]": "2"}}),
        ],
        ("GET", "/sub_number_orders/{sub_number_order_id}"): [
            (f"/sub_number_orders/{i['sub']}", {}),
            (f"/sub_number_orders/{i['de_sub']}", {q: {"filter[include_phone_numbers]": "true"}}),
        ],
        ("PATCH", "/sub_number_orders/{sub_number_order_id}"): [
            (
                f"/sub_number_orders/{i['de_sub']}",
                {"json": {"regulatory_requirements": [{"requirement_id": i["de_req"], "field_value": "addr-2"}]}},
            ),
            (f"/sub_number_orders/{i['sub']}", {"json": {}}),
        ],
        ("PATCH", "/sub_number_orders/{sub_number_order_id}/cancel"): [
            (f"/sub_number_orders/{i['de_sub']}/cancel", {}),
        ],
        ("POST", "/number_reservations"): [
            ("/number_reservations", {"json": {"phone_numbers": [{"phone_number": w.spare["US"][1]}]}}),
            (
                "/number_reservations",
                {
                    "json": {
                        "phone_numbers": [{"phone_number": w.spare["US"][2]}, {"phone_number": w.spare["GB"][1]}],
                        "customer_reference": "hold",
                    }
                },
            ),
        ],
        ("GET", "/number_reservations"): [
            ("/number_reservations", {}),
            ("/number_reservations", {q: {"filter[status]": "success", "page[size]": "1"}}),
            ("/number_reservations", {q: {"filter[phone_numbers.phone_number]": w.spare["US"][1]}}),
        ],
        ("GET", "/number_reservations/{number_reservation_id}"): [
            (f"/number_reservations/{i['reservation']}", {}),
        ],
        ("POST", "/number_reservations/{number_reservation_id}/actions/extend"): [
            (f"/number_reservations/{i['reservation']}/actions/extend", {}),
            (f"/number_reservations/{i['reservation']}/actions/extend", {}),
        ],
        ("GET", "/number_block_orders"): [
            ("/number_block_orders", {}),
            ("/number_block_orders", {q: {"filter[status]": "success"}}),
            ("/number_block_orders", {q: {"filter[phone_numbers.starting_number]": w.spare["blocks"][0]}}),
        ],
        ("POST", "/number_block_orders"): [
            (
                "/number_block_orders",
                {
                    "json": {
                        "starting_number": w.spare["blocks"][2],
                        "range": 100,
                        "connection_id": "c1",
                        "customer_reference": "blk",
                    }
                },
            ),
            ("/number_block_orders", {"json": {"starting_number": w.spare["blocks"][3], "range": 10}}),
        ],
        ("GET", "/number_block_orders/{number_block_order_id}"): [
            (f"/number_block_orders/{i['block']}", {}),
            (f"/number_block_orders/{i['block2']}", {}),
        ],
        ("GET", "/phone_number_blocks/jobs"): [
            ("/phone_number_blocks/jobs", {}),
            (
                "/phone_number_blocks/jobs",
                {q: {"filter[status]": "completed", "filter[type]": "delete_phone_number_block", "sort": "created_at"}},
            ),
        ],
        ("POST", "/phone_number_blocks/jobs/delete_phone_number_block"): [
            ("/phone_number_blocks/jobs/delete_phone_number_block", {"json": {"phone_number_block_id": i["block2"]}}),
        ],
        ("GET", "/phone_number_blocks/jobs/{id}"): [
            (f"/phone_number_blocks/jobs/{i['job']}", {}),
        ],
        ("GET", "/advanced_orders"): [("/advanced_orders", {})],
        ("POST", "/advanced_orders"): [
            ("/advanced_orders", {"json": {}}),
            (
                "/advanced_orders",
                {
                    "json": {
                        "country_code": "GB",
                        "phone_number_type": "mobile",
                        "quantity": 20,
                        "features": ["sms", "voice"],
                        "comments": "Need consecutive numbers",
                    }
                },
            ),
        ],
        ("GET", "/advanced_orders/{order_id}"): [(f"/advanced_orders/{i['advanced']}", {})],
        ("PATCH", "/advanced_orders/{advanced-order-id}/requirement_group"): [
            (
                f"/advanced_orders/{i['advanced']}/requirement_group",
                {"json": {"requirement_group_id": "8ffb3622-7c6b-4ccc-b65f-7a3dc0099576"}},
            ),
        ],
        ("GET", "/inexplicit_number_orders"): [
            ("/inexplicit_number_orders", {}),
            ("/inexplicit_number_orders", {q: {"page_number": "1", "page_size": "5"}}),
        ],
        ("POST", "/inexplicit_number_orders"): [
            (
                "/inexplicit_number_orders",
                {
                    "json": {
                        "ordering_groups": [
                            {
                                "country_iso": "CA",
                                "count_requested": "3",
                                "phone_number_type": "local",
                                "locality": "Toronto",
                                "phone_number": {"starts_with": "416"},
                            }
                        ],
                        "customer_reference": "bulk",
                    }
                },
            ),
            (
                "/inexplicit_number_orders",
                {
                    "json": {
                        "ordering_groups": [
                            {
                                "country_iso": "US",
                                "count_requested": "2",
                                "phone_number_type": "local",
                                "locality": "Nowhere",
                                "strategy": "never",
                            }
                        ]
                    }
                },
            ),
        ],
        ("GET", "/inexplicit_number_orders/{id}"): [(f"/inexplicit_number_orders/{i['inexplicit']}", {})],
        ("GET", "/customer_service_records"): [
            ("/customer_service_records", {}),
            ("/customer_service_records", {q: {"filter[status][eq]": "completed", "sort[value]": "-created_at"}}),
            ("/customer_service_records", {q: {"filter[phone_number][in][]": "+13125550123"}}),
        ],
        ("POST", "/customer_service_records"): [
            (
                "/customer_service_records",
                {
                    "json": {
                        "phone_number": "+14155550134",
                        "webhook_url": "https://x.test/h",
                        "additional_data": {"state": "CA", "zip_code": "94107"},
                    }
                },
            ),
        ],
        ("POST", "/customer_service_records/phone_number_coverages"): [
            (
                "/customer_service_records/phone_number_coverages",
                {"json": {"phone_numbers": ["+13125550123", "+13125550120"]}},
            ),
        ],
        ("GET", "/customer_service_records/{customer_service_record_id}"): [
            (f"/customer_service_records/{i['csr']}", {}),
            (f"/customer_service_records/{i['csr_failed']}", {}),
        ],
        ("GET", "/country_coverage"): [("/country_coverage", {})],
        ("GET", "/country_coverage/countries/{country_code}"): [
            ("/country_coverage/countries/US", {}),
            ("/country_coverage/countries/de", {}),
            ("/country_coverage/countries/AF", {}),
        ],
        ("GET", "/inventory_coverage"): [
            (
                "/inventory_coverage",
                {q: {"filter[country_code]": "US", "filter[groupBy]": "npa", "filter[count]": "true"}},
            ),
            ("/inventory_coverage", {q: {"filter[country_code]": "GB", "filter[groupBy]": "locality"}}),
            (
                "/inventory_coverage",
                {
                    q: {
                        "filter[country_code]": "US",
                        "filter[phone_number_type]": "toll_free",
                        "filter[groupBy]": "national_destination_code",
                        "filter[count]": "true",
                    }
                },
            ),
        ],
        ("GET", "/network_coverage"): [
            ("/network_coverage", {}),
            (
                "/network_coverage",
                {q: {"filter[location.region]": "AMER", "filters[available_services][contains]": "cloud_vpn"}},
            ),
        ],
        ("GET", "/mobile_network_operators"): [
            ("/mobile_network_operators", {}),
            ("/mobile_network_operators", {q: {"filter[country_code]": "US", "filter[name][contains]": "mobil"}}),
        ],
        ("GET", "/comments"): [
            ("/comments", {}),
            (
                "/comments",
                {q: {"filter[comment_record_id]": i["de_sub"], "filter[comment_record_type]": "sub_number_order"}},
            ),
        ],
        ("POST", "/comments"): [
            (
                "/comments",
                {
                    "json": {
                        "body": "Any update?",
                        "comment_record_id": i["sub"],
                        "comment_record_type": "sub_number_order",
                    }
                },
            ),
            (
                "/comments",
                {
                    "json": {
                        "body": "Group note",
                        "comment_record_id": i["gb_group"],
                        "comment_record_type": "requirement_group",
                    }
                },
            ),
        ],
        ("GET", "/comments/{id}"): [(f"/comments/{i['comment']}", {})],
        ("PATCH", "/comments/{id}/read"): [
            (f"/comments/{i['comment']}/read", {}),
            (f"/comments/{i['comment']}/read", {}),
        ],
        ("POST", "/sub_number_orders_report"): [
            ("/sub_number_orders_report", {"json": {}}),
            (
                "/sub_number_orders_report",
                {
                    "json": {
                        "status": "success",
                        "created_at_gt": "2020-01-01T00:00:00Z",
                        "customer_reference": "ref-us",
                    }
                },
            ),
        ],
        ("GET", "/sub_number_orders_report/{report_id}"): [(f"/sub_number_orders_report/{i['report']}", {})],
        ("GET", "/sub_number_orders_report/{report_id}/download"): [
            (f"/sub_number_orders_report/{i['report']}/download", {}),
        ],
        **lifecycle_cases(w),
    }
    return table[op]


def lifecycle_cases(w: World) -> dict[tuple[str, str], list[Case]]:
    """The opt-in toolsets: requirements, requirement groups, addresses, owned numbers, lookup."""
    i = w.ids
    q = "params"
    return {
        ("GET", "/regulatory_requirements"): [
            ("/regulatory_requirements", {q: {"filter[country_code]": "GB", "filter[phone_number_type]": "mobile"}}),
            ("/regulatory_requirements", {q: {"filter[country_code]": "DE"}}),
            ("/regulatory_requirements", {q: {"filter[phone_number]": w.spare["GB"][0]}}),
            ("/regulatory_requirements", {q: {"filter[requirement_group_id]": i["gb_group"]}}),
            ("/regulatory_requirements", {q: {"filter[country_code]": "US", "filter[action]": "ordering"}}),
        ],
        ("GET", "/phone_numbers_regulatory_requirements"): [
            (
                "/phone_numbers_regulatory_requirements",
                {q: {"filter[phone_number]": f"{w.spare['gb_mobile'][0]},{w.spare['DE'][1]},{w.spare['US'][3]}"}},
            ),
        ],
        ("GET", "/requirement_types"): [
            ("/requirement_types", {}),
            ("/requirement_types", {q: {"filter[name][contains]": "address"}}),
        ],
        ("GET", "/requirement_types/{id}"): [(f"/requirement_types/{i['gb_req_type']}", {})],
        ("GET", "/requirements"): [
            ("/requirements", {}),
            (
                "/requirements",
                {q: {"filter[country_code]": "DE", "filter[phone_number_type]": "local", "page[size]": "1"}},
            ),
        ],
        ("GET", "/requirements/{id}"): [
            (f"/requirements/{i['docreq']}", {}),
        ],
        ("GET", "/requirement_groups"): [
            ("/requirement_groups", {}),
            ("/requirement_groups", {q: {"filter[country_code]": "GB", "filter[status]": "approved"}}),
        ],
        ("POST", "/requirement_groups"): [
            (
                "/requirement_groups",
                {"json": {"action": "ordering", "country_code": "FR", "phone_number_type": "local"}},
            ),
            (
                "/requirement_groups",
                {
                    "json": {
                        "action": "ordering",
                        "country_code": "GB",
                        "phone_number_type": "mobile",
                        "customer_reference": "second",
                        "regulatory_requirements": [
                            {"requirement_id": i["gb_req_type"], "field_value": i["gb_address"]}
                        ],
                    }
                },
            ),
        ],
        ("GET", "/requirement_groups/{id}"): [
            (f"/requirement_groups/{i['gb_group']}", {}),
            (f"/requirement_groups/{i['draft_group']}", {}),
        ],
        ("PATCH", "/requirement_groups/{id}"): [
            (f"/requirement_groups/{i['gb_group']}", {"json": {"customer_reference": "renamed"}}),
            (
                f"/requirement_groups/{i['gb_group']}",
                {
                    "json": {
                        "regulatory_requirements": [
                            {"requirement_id": i["gb_req_type"], "field_value": i["gb_address"]}
                        ]
                    }
                },
            ),
        ],
        ("DELETE", "/requirement_groups/{id}"): [(f"/requirement_groups/{i['draft_group']}", {})],
        ("POST", "/requirement_groups/{id}/submit_for_approval"): [
            (f"/requirement_groups/{i['gb_group']}/submit_for_approval", {}),
        ],
        ("POST", "/number_order_phone_numbers/{id}/requirement_group"): [
            (
                f"/number_order_phone_numbers/{i['gb_number']}/requirement_group",
                {"json": {"requirement_group_id": i["gb_group"]}},
            ),
        ],
        ("POST", "/sub_number_orders/{id}/requirement_group"): [
            (f"/sub_number_orders/{i['gb2_sub']}/requirement_group", {"json": {"requirement_group_id": i["gb_group"]}}),
        ],
        ("GET", "/addresses"): [
            ("/addresses", {}),
            ("/addresses", {q: {"filter[street_address][contains]": "linden", "sort": "street_address"}}),
        ],
        ("POST", "/addresses"): [
            ("/addresses", {"json": {**ADDRESS, "postal_code": "EC1A 1BB", "phone_number": "+442071838750"}}),
            ("/addresses", {"json": {**ADDRESS, "country_code": "US", "postal_code": "60601", "address_book": False}}),
        ],
        ("GET", "/addresses/{id}"): [(f"/addresses/{i['gb_address']}", {})],
        ("DELETE", "/addresses/{id}"): [(f"/addresses/{i['spare_address']}", {})],
        ("POST", "/addresses/actions/validate"): [
            (
                "/addresses/actions/validate",
                {"json": {"country_code": "GB", "postal_code": "sw1a 2aa", "street_address": "10 Downing St"}},
            ),
            (
                "/addresses/actions/validate",
                {"json": {"country_code": "US", "postal_code": "ABC", "street_address": "1 Main St"}},
            ),
        ],
        ("GET", "/phone_numbers"): [
            ("/phone_numbers", {}),
            (
                "/phone_numbers",
                {q: {"filter[country_iso_alpha2]": "US", "filter[phone_number]": "312", "sort": "phone_number"}},
            ),
            ("/phone_numbers", {q: {"filter[connection_id]": "nothing", "page[size]": "1"}}),
        ],
        ("GET", "/phone_numbers/slim"): [
            ("/phone_numbers/slim", {}),
            ("/phone_numbers/slim", {q: {"include_tags": "true", "include_connection": "true"}}),
        ],
        ("GET", "/phone_numbers/{id}"): [(f"/phone_numbers/{i['owned']}", {})],
        ("PATCH", "/phone_numbers/{id}"): [
            (f"/phone_numbers/{i['owned']}", {"json": {"connection_id": "1234567890", "tags": ["a", "b"]}}),
            (f"/phone_numbers/{i['owned']}", {"json": {"customer_reference": "x", "hd_voice_enabled": True}}),
        ],
        ("DELETE", "/phone_numbers/{id}"): [(f"/phone_numbers/{i['owned2']}", {})],
        ("GET", "/phone_numbers/{id}/voice"): [(f"/phone_numbers/{i['owned']}/voice", {})],
        ("PATCH", "/phone_numbers/{id}/voice"): [
            (
                f"/phone_numbers/{i['owned']}/voice",
                {
                    "json": {
                        "call_forwarding": {
                            "call_forwarding_enabled": True,
                            "forwarding_type": "always",
                            "forwards_to": "+13125550123",
                        },
                        "usage_payment_method": "channel",
                        "tech_prefix_enabled": True,
                    }
                },
            ),
        ],
        ("GET", "/phone_numbers/{id}/messaging"): [(f"/phone_numbers/{i['owned']}/messaging", {})],
        ("PATCH", "/phone_numbers/{id}/messaging"): [
            (
                f"/phone_numbers/{i['owned']}/messaging",
                {"json": {"messaging_profile_id": "mp-1", "messaging_product": "A2P"}},
            ),
        ],
        ("GET", "/number_lookup/{phone_number}"): [
            ("/number_lookup/+13125550123", {}),
            ("/number_lookup/+442071838750", {q: {"type": "caller-name"}}),
            ("/number_lookup/+4915112345678", {q: {"type": "carrier"}}),
        ],
    }


SPEC_OPS = [(m, p.replace("{advanced_order_id}", "{advanced-order-id}")) for m, p, _ in ROUTES]


def test_routes_cover_every_operation_in_the_catalog() -> None:
    assert len(SPEC_OPS) == len(set(SPEC_OPS))
    assert set(SPEC_OPS) == {(t.method, t.path) for t in ALL_CATALOG}


@pytest.mark.parametrize("op", SPEC_OPS, ids=[f"{m} {p}" for m, p in SPEC_OPS])
async def test_answers_match_spec(op: tuple[str, str], validator: ResponseValidator) -> None:
    sb = Sandbox()
    async with client_for(sb) as client:
        world = World(client, sb)
        await build_world(world)
        arg_sets = cases(op, world)
        for path, kwargs in arg_sets:
            response = await client.request(op[0], path, **kwargs)
            validator.validate(op[0], op[1], response)
        assert arg_sets


def test_validator_rejects_a_wrong_answer(validator: ResponseValidator) -> None:
    """Guard against a validator that accepts everything (e.g. an unresolved $ref)."""
    bad = httpx.Response(
        200, json={"data": {"status": "done", "phone_numbers_count": "1"}}, headers={"x-sandbox": "true"}
    )
    with pytest.raises(AssertionError, match=r"status|phone_numbers_count"):
        validator.validate("GET", "/number_orders/{number_order_id}", bad)


def test_validator_rejects_a_field_the_spec_lacks(validator: ResponseValidator) -> None:
    """The unknown-field check looks into nested objects and array items, through $ref and allOf."""
    data = {"id": "1", "record_type": "voice_settings", "caller_id_name_enabled": True, "call_forwarding": {"x": 1}}
    extra = httpx.Response(200, json={"data": data}, headers={"x-sandbox": "true"})
    with pytest.raises(AssertionError, match=r"'/data/caller_id_name_enabled', '/data/call_forwarding/x'"):
        validator.validate("GET", "/phone_numbers/{id}/voice", extra)
    order = {"id": "1", "phone_numbers": [{"id": "2", "source_type": "number_order"}]}
    nested = httpx.Response(200, json={"data": order}, headers={"x-sandbox": "true"})
    with pytest.raises(AssertionError, match=r"/data/phone_numbers/0/source_type"):
        validator.validate("GET", "/number_orders/{number_order_id}", nested)
