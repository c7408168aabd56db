"""The official telnyx SDK, pointed at the sandbox served by uvicorn, calls every catalog method and parses them."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pydantic
import pytest
import telnyx

from helpers import CATALOG
from sandbox_helpers import served
from telnyx_numbers_mcp.sandbox import Sandbox

pytestmark = pytest.mark.slow  # uvicorn in a thread and the official SDK (slow to import)


def extra_fields(answer: Any, path: str = "") -> list[str]:
    """Where an SDK answer holds fields its model does not declare (pydantic keeps them as extras)."""
    if isinstance(answer, pydantic.BaseModel):
        if path == "/meta":  # the SDK's pagination pages model two of the spec's four meta fields
            return []
        out = [f"{path}/{key}" for key in answer.model_extra or {}]
        for name in type(answer).model_fields:
            out += extra_fields(getattr(answer, name), f"{path}/{name}")
        return out
    if isinstance(answer, list | tuple):
        return [p for i, item in enumerate(answer) for p in extra_fields(item, f"{path}/{i}")]
    if isinstance(answer, dict):
        return [p for key, item in answer.items() for p in extra_fields(item, f"{path}/{key}")]
    return []


@pytest.fixture
def sdk() -> Iterator[tuple[telnyx.Telnyx, Sandbox]]:
    sb = Sandbox(require_auth=True)
    with served(sb) as base_url:
        client = telnyx.Telnyx(api_key="KEY", base_url=base_url, max_retries=0)
        try:
            yield client, sb
        finally:
            client.close()


def test_sdk_calls_every_method_in_the_catalog(sdk: tuple[telnyx.Telnyx, Sandbox]) -> None:
    c, sb = sdk
    called: set[str] = set()
    unknown: dict[str, list[str]] = {}

    def call(name: str, fn: Any, *args: Any, **kwargs: Any) -> Any:
        called.add(name)
        answer = fn(*args, **kwargs)
        unknown[name] = extra_fields(answer)
        return answer

    found = call(
        "available_phone_numbers.list",
        c.available_phone_numbers.list,
        filter={"country_code": "US", "features": ["sms", "voice"], "limit": 6, "phone_number": {"starts_with": "312"}},
    )
    nums = [d.phone_number for d in found.data or []]
    assert len(nums) == 6 and all(n and n.startswith("+1312") for n in nums)
    blocks = call(
        "available_phone_number_blocks.list", c.available_phone_number_blocks.list, filter={"country_code": "US"}
    )
    assert blocks.data and blocks.data[0].range in (10, 100)
    feats = call("numbers_features.create", c.numbers_features.create, phone_numbers=[nums[0]])
    assert feats.data and feats.data[0].phone_number == nums[0]

    res = call(
        "number_reservations.create",
        c.number_reservations.create,
        phone_numbers=[{"phone_number": nums[0]}],
        customer_reference="sdk",
    )
    assert res.data and res.data.id
    call("number_reservations.list", c.number_reservations.list)
    call("number_reservations.retrieve", c.number_reservations.retrieve, res.data.id)
    ext = call("number_reservations.actions.extend", c.number_reservations.actions.extend, res.data.id)
    assert ext.data and ext.data.phone_numbers

    order = call(
        "number_orders.create",
        c.number_orders.create,
        phone_numbers=[{"phone_number": nums[1]}],
        customer_reference="sdk",
    )
    assert order.data and order.data.status == "pending" and order.data.id
    listed = call("number_orders.list", c.number_orders.list, filter={"customer_reference": "sdk"})
    assert [o.id for o in listed.data] == [order.data.id]
    call("number_orders.retrieve", c.number_orders.retrieve, order.data.id)
    call("number_orders.update", c.number_orders.update, order.data.id, customer_reference="sdk-2")

    de = c.available_phone_numbers.list(filter={"country_code": "DE", "limit": 1}).data or []
    assert de and de[0].phone_number
    de_order = c.number_orders.create(phone_numbers=[{"phone_number": de[0].phone_number}])
    assert de_order.data and de_order.data.phone_numbers
    de_num = de_order.data.phone_numbers[0]
    reqs = [r.requirement_id for r in de_num.regulatory_requirements or []]
    nopn = call("number_order_phone_numbers.list", c.number_order_phone_numbers.list, filter={"country_code": "DE"})
    assert nopn.data and nopn.data[0].id == de_num.id
    call("number_order_phone_numbers.retrieve", c.number_order_phone_numbers.retrieve, de_num.id)
    call(
        "number_order_phone_numbers.update_requirements",
        c.number_order_phone_numbers.update_requirements,
        de_num.id,
        regulatory_requirements=[{"requirement_id": reqs[0], "field_value": "addr"}],
    )

    de_sub = (de_order.data.sub_number_orders_ids or [])[0]
    call("sub_number_orders.list", c.sub_number_orders.list, filter={"country_code": "DE"})
    call("sub_number_orders.retrieve", c.sub_number_orders.retrieve, de_sub)
    upd = call(
        "sub_number_orders.update",
        c.sub_number_orders.update,
        de_sub,
        regulatory_requirements=[{"requirement_id": reqs[1], "field_value": "doc"}],
    )
    assert upd.data and upd.data.requirements_met is True

    extra = c.number_orders.create(phone_numbers=[{"phone_number": nums[2]}])
    assert extra.data
    cancelled = call(
        "sub_number_orders.cancel", c.sub_number_orders.cancel, (extra.data.sub_number_orders_ids or [])[0]
    )
    assert cancelled.data and cancelled.data.status == "failure"

    comment = call(
        "comments.create",
        c.comments.create,
        body="hello",
        comment_record_id=de_sub,
        comment_record_type="sub_number_order",
    )
    assert comment.data and comment.data.id
    comments = call("comments.list", c.comments.list, filter={"comment_record_id": de_sub})
    assert comments.data and len(comments.data) == 2  # the admin's request for documents, and ours
    call("comments.retrieve", c.comments.retrieve, comment.data.id)
    read = call("comments.mark_as_read", c.comments.mark_as_read, comment.data.id)
    assert read.data and read.data.read_at

    block_order = call(
        "number_block_orders.create",
        c.number_block_orders.create,
        starting_number=blocks.data[0].phone_number,
        range=10,
    )
    assert block_order.data and block_order.data.id
    call("number_block_orders.list", c.number_block_orders.list)
    call("number_block_orders.retrieve", c.number_block_orders.retrieve, block_order.data.id)
    sb.clock.advance(11)
    job = call(
        "phone_number_blocks.jobs.delete_phone_number_block",
        c.phone_number_blocks.jobs.delete_phone_number_block,
        phone_number_block_id=block_order.data.id,
    )
    assert job.data and job.data.id
    call("phone_number_blocks.jobs.list", c.phone_number_blocks.jobs.list)
    call("phone_number_blocks.jobs.retrieve", c.phone_number_blocks.jobs.retrieve, job.data.id)

    adv = call("advanced_orders.create", c.advanced_orders.create, country_code="US", quantity=3, area_code="312")
    assert adv.id
    call("advanced_orders.list", c.advanced_orders.list)
    call("advanced_orders.retrieve", c.advanced_orders.retrieve, adv.id)
    call(
        "advanced_orders.update_requirement_group",
        c.advanced_orders.update_requirement_group,
        adv.id,
        requirement_group_id="8ffb3622-7c6b-4ccc-b65f-7a3dc0099576",
    )

    inex = call(
        "inexplicit_number_orders.create",
        c.inexplicit_number_orders.create,
        ordering_groups=[{"country_iso": "US", "count_requested": "2", "phone_number_type": "local"}],
    )
    assert inex.data and inex.data.id
    call("inexplicit_number_orders.list", c.inexplicit_number_orders.list)
    call("inexplicit_number_orders.retrieve", c.inexplicit_number_orders.retrieve, inex.data.id)

    csr = call("customer_service_records.create", c.customer_service_records.create, phone_number="+13125550123")
    assert csr.data and csr.data.id
    call("customer_service_records.list", c.customer_service_records.list)
    call("customer_service_records.retrieve", c.customer_service_records.retrieve, csr.data.id)
    call(
        "customer_service_records.verify_phone_number_coverage",
        c.customer_service_records.verify_phone_number_coverage,
        phone_numbers=["+13125550123"],
    )

    cov = call("country_coverage.retrieve", c.country_coverage.retrieve)
    assert cov.data and "United States" in cov.data
    call("country_coverage.retrieve_country", c.country_coverage.retrieve_country, "US")
    call("inventory_coverage.list", c.inventory_coverage.list, filter={"country_code": "US", "groupBy": "npa"})
    call("network_coverage.list", c.network_coverage.list)
    call("mobile_network_operators.list", c.mobile_network_operators.list)

    report = call("sub_number_orders_report.create", c.sub_number_orders_report.create, country_code="US")
    assert report.data and report.data.id
    sb.clock.advance(6)
    call("sub_number_orders_report.retrieve", c.sub_number_orders_report.retrieve, report.data.id)
    csv_text = call("sub_number_orders_report.download", c.sub_number_orders_report.download, report.data.id)
    csv_lines = str(csv_text).strip().splitlines()
    assert csv_lines[0].startswith("id,order_request_id,is_block_sub_number_order,status")
    assert len(csv_lines) >= 2 and all(line.count(",") == csv_lines[0].count(",") for line in csv_lines), csv_lines

    assert called == {t.sdk_method for t in CATALOG}, sorted(called)
    assert {k: v for k, v in unknown.items() if v} == {}  # every answer field is one the SDK's models know
    assert all(r["headers"]["authorization"] == "Bearer ***" for r in sb.requests)


def test_sdk_sees_telnyx_errors(sdk: tuple[telnyx.Telnyx, Sandbox]) -> None:
    c, _sb = sdk
    with pytest.raises(telnyx.NotFoundError):
        c.number_orders.retrieve("00000000-0000-0000-0000-000000000000")
    with pytest.raises(telnyx.UnprocessableEntityError) as err:
        c.number_orders.create(phone_numbers=[{"phone_number": "+15555550100"}])
    assert err.value.body["errors"][0]["source"]["pointer"] == "/phone_numbers/0/phone_number"  # type: ignore[index]


def test_sdk_retries_a_429_and_gets_through(sdk: tuple[telnyx.Telnyx, Sandbox]) -> None:
    c, sb = sdk
    sb.faults.add(429, path_prefix="/number_orders", retry_after=0)
    retrying = c.with_options(max_retries=2)
    assert retrying.number_orders.list().data == []
    assert [r["path"] for r in sb.requests] == ["/v2/number_orders", "/v2/number_orders"]


def test_dropped_connection_over_http(sdk: tuple[telnyx.Telnyx, Sandbox]) -> None:
    c, sb = sdk
    sb.faults.add(500, drop=True, method="GET")
    with pytest.raises(telnyx.APIConnectionError):
        c.comments.list()
    assert c.comments.list().data == []


def test_sdk_calls_the_29_lifecycle_methods(sdk: tuple[telnyx.Telnyx, Sandbox]) -> None:
    """The opt-in toolsets' operations: the SDK sends them to the sandbox and parses every answer."""
    c, sb = sdk
    called: set[str] = set()
    unknown: dict[str, list[str]] = {}

    def call(name: str, fn: Any, *args: Any, **kwargs: Any) -> Any:
        called.add(name)
        answer = fn(*args, **kwargs)
        unknown[name] = extra_fields(answer)
        return answer

    mobile = c.available_phone_numbers.list(filter={"country_code": "GB", "phone_number_type": "mobile", "limit": 2})
    numbers = [d.phone_number for d in mobile.data or [] if d.phone_number]
    reqs = call(
        "regulatory_requirements.retrieve",
        c.regulatory_requirements.retrieve,
        filter={"country_code": "GB", "phone_number_type": "mobile"},
    )
    by_type = {r.field_type: r.id for r in (reqs.data or [])[0].regulatory_requirements or []}
    assert set(by_type) == {"address", "textual"}
    per_number = call(
        "phone_numbers_regulatory_requirements.retrieve",
        c.phone_numbers_regulatory_requirements.retrieve,
        filter={"phone_number": ",".join(numbers)},
    )
    assert len(per_number.data or []) == 2
    types_ = call("requirement_types.list", c.requirement_types.list)
    assert types_.data
    call("requirement_types.retrieve", c.requirement_types.retrieve, by_type["address"])
    docreqs = call("requirements.list", c.requirements.list, filter={"country_code": "DE"})
    assert docreqs.data and docreqs.data[0].requirement_types
    call("requirements.retrieve", c.requirements.retrieve, docreqs.data[0].id)

    valid = call(
        "addresses.actions.validate",
        c.addresses.actions.validate,
        country_code="GB",
        postal_code="sw1a 2aa",
        street_address="10 Downing Street",
    )
    assert valid.data and valid.data.result == "valid"
    address = call(
        "addresses.create",
        c.addresses.create,
        business_name="Example Ltd",
        first_name="Ada",
        last_name="Lovelace",
        street_address="10 Downing Street",
        locality="London",
        postal_code="SW1A 2AA",
        country_code="GB",
    )
    assert address.data and address.data.id
    call("addresses.list", c.addresses.list)
    call("addresses.retrieve", c.addresses.retrieve, address.data.id)
    spare = c.addresses.create(
        business_name="Spare", first_name="A", last_name="B", street_address="1 High St", locality="Leeds",
        country_code="GB",
    )  # fmt: skip
    assert spare.data and spare.data.id
    call("addresses.delete", c.addresses.delete, spare.data.id)

    group = call(
        "requirement_groups.create",
        c.requirement_groups.create,
        action="ordering",
        country_code="GB",
        phone_number_type="mobile",
        regulatory_requirements=[{"requirement_id": by_type["address"], "field_value": address.data.id}],
    )
    assert group.id and group.status == "unapproved"
    call(
        "requirement_groups.update",
        c.requirement_groups.update,
        group.id,
        regulatory_requirements=[{"requirement_id": by_type["textual"], "field_value": "Example Ltd"}],
    )
    submitted = call("requirement_groups.submit_for_approval", c.requirement_groups.submit_for_approval, group.id)
    assert submitted.status == "pending-approval"
    assert any(g.id == group.id for g in call("requirement_groups.list", c.requirement_groups.list))
    call("requirement_groups.retrieve", c.requirement_groups.retrieve, group.id)
    draft = c.requirement_groups.create(action="ordering", country_code="DE", phone_number_type="local")
    call("requirement_groups.delete", c.requirement_groups.delete, draft.id)

    first = c.number_orders.create(phone_numbers=[{"phone_number": numbers[0]}], connection_id="conn-1")
    second = c.number_orders.create(phone_numbers=[{"phone_number": numbers[1]}])
    assert first.data and second.data and first.data.requirements_met is False
    nopn = call(
        "number_order_phone_numbers.update_requirement_group",
        c.number_order_phone_numbers.update_requirement_group,
        (first.data.phone_numbers or [])[0].id,
        requirement_group_id=group.id,
    )
    assert nopn.data and nopn.data.requirements_met is True
    sub = call(
        "sub_number_orders.update_requirement_group",
        c.sub_number_orders.update_requirement_group,
        (second.data.sub_number_orders_ids or [])[0],
        requirement_group_id=group.id,
    )
    assert sub.data and sub.data.requirements_met is True
    sb.clock.advance(45)

    owned = call("phone_numbers.list", c.phone_numbers.list)
    assert sorted(p.phone_number or "" for p in owned.data) == sorted(numbers)
    call("phone_numbers.slim_list", c.phone_numbers.slim_list)
    pid = next(p.id for p in owned.data if p.phone_number == numbers[0])
    assert call("phone_numbers.retrieve", c.phone_numbers.retrieve, pid).data.connection_id == "conn-1"
    updated = call("phone_numbers.update", c.phone_numbers.update, pid, connection_id="conn-2", tags=["uk"])
    assert updated.data and updated.data.connection_id == "conn-2" and updated.data.tags == ["uk"]
    call("phone_numbers.voice.retrieve", c.phone_numbers.voice.retrieve, pid)
    voice = call(
        "phone_numbers.voice.update",
        c.phone_numbers.voice.update,
        pid,
        call_forwarding={"call_forwarding_enabled": True, "forwards_to": "+442071838750", "forwarding_type": "always"},
    )
    assert voice.data and voice.data.call_forwarding and voice.data.call_forwarding.forwards_to == "+442071838750"
    call("phone_numbers.messaging.retrieve", c.phone_numbers.messaging.retrieve, pid)
    messaging = call("phone_numbers.messaging.update", c.phone_numbers.messaging.update, pid, messaging_profile_id="mp")
    assert messaging.data and messaging.data.messaging_profile_id == "mp"
    released = call("phone_numbers.delete", c.phone_numbers.delete, pid)
    assert released.data and released.data.status == "deleted"
    assert [p.phone_number for p in c.phone_numbers.list().data] == [numbers[1]]

    found = call("number_lookup.retrieve", c.number_lookup.retrieve, "+442071838750", type="carrier")
    assert found.data and found.data.phone_number == "+442071838750" and found.data.carrier

    assert len(called) == 29, sorted(called)
    assert {k: v for k, v in unknown.items() if v} == {}  # every answer field is one the SDK's models know


def _refusal(err: pytest.ExceptionInfo[telnyx.APIStatusError]) -> dict[str, Any]:
    body = err.value.body
    assert isinstance(body, dict)
    first: dict[str, Any] = body["errors"][0]
    return first


def test_spec_valid_requests_are_answered(sdk: tuple[telnyx.Telnyx, Sandbox]) -> None:
    """Issue 25: requests the spec allows, which the sandbox used to refuse with a 422."""
    c, _sb = sdk
    # filter[limit] has no minimum in the spec: 0 asks for the default count
    assert len(c.available_phone_numbers.list(filter={"country_code": "US", "limit": 0}).data or []) == 20
    # the spec's own example numbers (Swiss) have requirements to ask about, though the sandbox sells none
    swiss = ["+41215470622", "+41215470633"]
    per_number = c.phone_numbers_regulatory_requirements.retrieve(filter={"phone_number": ",".join(swiss)})
    assert [d.phone_number for d in per_number.data or []] == swiss
    assert all(r.region_name == "CH" for d in per_number.data or [] for r in d.region_information or [])
    by_number = c.regulatory_requirements.retrieve(filter={"phone_number": swiss[0]})
    assert [(d.country_code, d.phone_number_type) for d in by_number.data or []] == [("CH", "local")]
    # a country the sandbox sells nothing in: as for a number search there, an answer, not a refusal
    assert c.available_phone_numbers.list(filter={"country_code": "CH"}).data == []
    by_country = c.regulatory_requirements.retrieve(filter={"country_code": "CH"})
    assert by_country.data and all(d.country_code == "CH" and d.regulatory_requirements == [] for d in by_country.data)
    assert c.requirement_groups.create(action="ordering", country_code="CH", phone_number_type="local").id
    # filter[phone_numbers_count] is a string in the spec: compared as text, anything else matches nothing
    number = (c.available_phone_numbers.list(filter={"country_code": "US", "limit": 1}).data or [])[0].phone_number
    order = c.number_orders.create(phone_numbers=[{"phone_number": number or ""}])
    assert order.data
    assert c.number_orders.list(filter={"phone_numbers_count": "abc"}).data == []
    assert [o.id for o in c.number_orders.list(filter={"phone_numbers_count": "1"}).data] == [order.data.id]
    # no filter is required on either requirements operation
    assert c.regulatory_requirements.retrieve().data
    assert c.phone_numbers_regulatory_requirements.retrieve().data == []


def test_refusals_name_the_field_the_way_the_spec_says(sdk: tuple[telnyx.Telnyx, Sandbox]) -> None:
    """Issue 25: a bad body field is a JSON pointer, a bad query parameter is named, and the status is the one
    the operation documents."""
    c, _sb = sdk
    group = {"country_iso": "US", "count_requested": "1", "phone_number_type": "local"}
    with pytest.raises(telnyx.UnprocessableEntityError) as err:
        c.inexplicit_number_orders.create(ordering_groups=[{**group, "phone_number": {"starts_with": "abc"}}])  # type: ignore[typeddict-item]
    assert _refusal(err)["source"] == {"pointer": "/ordering_groups/0/phone_number/starts_with"}
    with pytest.raises(telnyx.BadRequestError) as bad:  # GET /addresses documents 400, and no 422
        c.addresses.list(page_number=0)
    assert _refusal(bad)["source"] == {"parameter": "page[number]"}
    with pytest.raises(telnyx.UnprocessableEntityError) as unprocessable:  # the others document 422
        c.number_orders.list(page_number=0)
    assert _refusal(unprocessable)["source"] == {"parameter": "page[number]"}
    with pytest.raises(telnyx.UnprocessableEntityError) as not_a_date:
        c.number_orders.list(filter={"created_at": {"gt": "yesterday"}})
    assert _refusal(not_a_date)["source"] == {"parameter": "filter[created_at][gt]"}
    with pytest.raises(telnyx.UnprocessableEntityError) as not_a_number:
        c.regulatory_requirements.retrieve(filter={"phone_number": "0215470622"})
    assert _refusal(not_a_number)["source"] == {"parameter": "filter[phone_number]"}


def test_answers_drop_the_fields_the_spec_lacks(sdk: tuple[telnyx.Telnyx, Sandbox]) -> None:
    """Issue 25's examples, read raw: a released number has no source_type, voice settings no
    caller_id_name_enabled (the phone number itself still shows it), validation errors a description."""
    c, sb = sdk
    number = (c.available_phone_numbers.list(filter={"country_code": "US", "limit": 1}).data or [])[0].phone_number
    c.number_orders.create(phone_numbers=[{"phone_number": number or ""}])
    sb.clock.advance(11)
    pid = c.phone_numbers.list().data[0].id or ""

    def raw(response: Any) -> dict[str, Any]:
        data: dict[str, Any] = response.json()["data"]
        return data

    assert "caller_id_name_enabled" in raw(c.phone_numbers.with_raw_response.retrieve(pid))
    voice = raw(c.phone_numbers.voice.with_raw_response.update(pid, caller_id_name_enabled=True))
    assert "caller_id_name_enabled" not in voice and voice["phone_number"] == number
    assert "caller_id_name_enabled" not in raw(c.phone_numbers.voice.with_raw_response.retrieve(pid))
    kept = c.phone_numbers.retrieve(pid).data
    assert kept is not None and kept.caller_id_name_enabled is True  # kept, shown where the spec has it
    released = raw(c.phone_numbers.with_raw_response.delete(pid))
    assert released["status"] == "deleted" and "source_type" not in released
    validated = raw(c.addresses.actions.with_raw_response.validate(country_code="US", postal_code="ABC",
                                                                    street_address="1 Main St"))  # fmt: skip
    assert set(validated["errors"][0]) == {"code", "title", "description", "source"}


def test_a_second_key_sees_nothing_of_the_first(sdk: tuple[telnyx.Telnyx, Sandbox]) -> None:
    """Issue 25: each API key is an account, through the SDK: the second key's lists are empty, the first's ids
    are 404s for it, and the pool they share no longer offers what the first one bought."""
    alice, sb = sdk
    bob = alice.with_options(api_key="KEY_bob")
    numbers = [n.phone_number or "" for n in alice.available_phone_numbers.list(filter={"limit": 3}).data or []]
    order = alice.number_orders.create(phone_numbers=[{"phone_number": numbers[0]}]).data
    reservation = alice.number_reservations.create(phone_numbers=[{"phone_number": numbers[1]}]).data
    assert order and order.id and order.phone_numbers and order.sub_number_orders_ids
    assert reservation and reservation.id
    address = alice.addresses.create(business_name="A", first_name="A", last_name="B", street_address="1 Main St",
                                     locality="Chicago", country_code="US").data  # fmt: skip
    group = alice.requirement_groups.create(action="ordering", country_code="US", phone_number_type="local")
    sub_id, ordered_number = order.sub_number_orders_ids[0], order.phone_numbers[0].id or ""
    comment = alice.comments.create(body="hi", comment_record_id=sub_id, comment_record_type="sub_number_order").data
    assert address and address.id and group.id and comment and comment.id
    sb.clock.advance(11)
    owned = alice.phone_numbers.list().data
    assert [p.phone_number for p in owned] == [numbers[0]]
    lists: dict[str, Any] = {
        "number_orders": bob.number_orders.list().data,
        "sub_number_orders": bob.sub_number_orders.list().data,
        "number_order_phone_numbers": bob.number_order_phone_numbers.list().data,
        "number_reservations": bob.number_reservations.list().data,
        "addresses": bob.addresses.list().data,
        "requirement_groups": bob.requirement_groups.list(),
        "comments": bob.comments.list().data,
        "phone_numbers": bob.phone_numbers.list().data,
    }
    assert {name: list(found or []) for name, found in lists.items()} == {name: [] for name in lists}
    reads: list[Callable[[], Any]] = [
        lambda: bob.number_orders.retrieve(order.id or ""),
        lambda: bob.sub_number_orders.retrieve(sub_id),
        lambda: bob.number_order_phone_numbers.retrieve(ordered_number),
        lambda: bob.number_reservations.retrieve(reservation.id or ""),
        lambda: bob.addresses.retrieve(address.id or ""),
        lambda: bob.requirement_groups.retrieve(group.id or ""),
        lambda: bob.comments.retrieve(comment.id or ""),
        lambda: bob.phone_numbers.retrieve(owned[0].id or ""),
        lambda: bob.phone_numbers.delete(owned[0].id or ""),
    ]
    for read in reads:
        with pytest.raises(telnyx.NotFoundError):
            read()
    assert alice.phone_numbers.retrieve(owned[0].id or "").data  # still Alice's
    offered = [n.phone_number for n in bob.available_phone_numbers.list(filter={"limit": 3}).data or []]
    assert numbers[0] not in offered and numbers[1] not in offered
