"""A sandbox full of records of every kind, made through its API with one key (for the schema and the
accounts tests)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import httpx

from helpers import ADDRESS, sandbox_numbers
from telnyx_numbers_mcp.sandbox import Sandbox


@dataclass
class World:
    """Ids of records created up front so every operation has something to act on."""

    client: httpx.AsyncClient
    sb: Sandbox
    ids: dict[str, str] = field(default_factory=dict)
    spare: dict[str, list[str]] = field(default_factory=dict)

    async def ok(self, method: str, path: str, **kw: Any) -> dict[str, Any]:
        r = await self.client.request(method, path, **kw)
        assert r.status_code < 300, r.text
        return r.json()  # type: ignore[no-any-return]


async def build_world(w: World) -> None:
    us = await sandbox_numbers(w.client, country_code="US", limit="12")
    de = await sandbox_numbers(w.client, country_code="DE", limit="4")
    w.spare = {
        "US": us[4:],
        "DE": de[2:],
        "GB": await sandbox_numbers(w.client, country_code="GB", limit="4"),
        "FR": await sandbox_numbers(w.client, country_code="FR", limit="3"),
    }
    res = await w.ok("POST", "/number_reservations", json={"phone_numbers": [{"phone_number": us[0]}]})
    w.ids["reservation"] = res["data"]["id"]
    order = await w.ok(
        "POST",
        "/number_orders",
        json={"phone_numbers": [{"phone_number": us[1]}, {"phone_number": us[2]}], "customer_reference": "ref-us"},
    )
    w.ids["order"] = order["data"]["id"]
    w.ids["sub"] = order["data"]["sub_number_orders_ids"][0]
    w.ids["number"] = order["data"]["phone_numbers"][0]["id"]
    de_order = await w.ok("POST", "/number_orders", json={"phone_numbers": [{"phone_number": de[0]}]})
    w.ids["de_order"] = de_order["data"]["id"]
    w.ids["de_sub"] = de_order["data"]["sub_number_orders_ids"][0]
    w.ids["de_number"] = de_order["data"]["phone_numbers"][0]["id"]
    w.ids["de_req"] = de_order["data"]["phone_numbers"][0]["regulatory_requirements"][0]["requirement_id"]
    w.ids["de_req2"] = de_order["data"]["phone_numbers"][0]["regulatory_requirements"][1]["requirement_id"]
    pend = await w.ok("POST", "/number_orders", json={"phone_numbers": [{"phone_number": us[3]}]})
    w.ids["pending_sub"] = pend["data"]["sub_number_orders_ids"][0]
    blocks = (await w.ok("GET", "/available_phone_number_blocks", params={"filter[country_code]": "US"}))["data"]
    w.spare["blocks"] = [b["phone_number"] for b in blocks]
    block = await w.ok("POST", "/number_block_orders", json={"starting_number": blocks[0]["phone_number"], "range": 10})
    w.ids["block"] = block["data"]["id"]
    block2 = await w.ok(
        "POST", "/number_block_orders", json={"starting_number": blocks[1]["phone_number"], "range": 10}
    )
    w.ids["block2"] = block2["data"]["id"]
    w.sb.clock.advance(11)
    job = await w.ok(
        "POST", "/phone_number_blocks/jobs/delete_phone_number_block", json={"phone_number_block_id": w.ids["block"]}
    )
    w.ids["job"] = job["data"]["id"]
    comment = await w.ok(
        "POST",
        "/comments",
        json={"body": "Docs attached", "comment_record_id": w.ids["de_sub"], "comment_record_type": "sub_number_order"},
    )
    w.ids["comment"] = comment["data"]["id"]
    csr = await w.ok("POST", "/customer_service_records", json={"phone_number": "+13125550123"})
    w.ids["csr"] = csr["data"]["id"]
    csr2 = await w.ok("POST", "/customer_service_records", json={"phone_number": "+13125550120"})
    w.ids["csr_failed"] = csr2["data"]["id"]
    report = await w.ok("POST", "/sub_number_orders_report", json={"country_code": "US"})
    w.ids["report"] = report["data"]["id"]
    inex = await w.ok(
        "POST",
        "/inexplicit_number_orders",
        json={
            "ordering_groups": [
                {
                    "country_iso": "US",
                    "count_requested": "2",
                    "phone_number_type": "local",
                    "national_destination_code": "415",
                }
            ]
        },
    )
    w.ids["inexplicit"] = inex["data"]["id"]
    adv = await w.ok("POST", "/advanced_orders", json={"country_code": "US", "quantity": 5, "area_code": "312"})
    w.ids["advanced"] = adv["id"]
    await build_lifecycle(w)
    w.sb.clock.advance(40)
    owned = (await w.ok("GET", "/phone_numbers"))["data"]
    w.ids["owned"], w.ids["owned2"] = owned[0]["id"], owned[1]["id"]


async def build_lifecycle(w: World) -> None:
    """Addresses, submitted requirement groups (approved by the final clock advance), pending GB mobile orders."""
    gb_address = await w.ok("POST", "/addresses", json={**ADDRESS, "country_code": "GB", "postal_code": "SW1A 2AA"})
    w.ids["gb_address"] = gb_address["data"]["id"]
    de_address = await w.ok(
        "POST",
        "/addresses",
        json={**ADDRESS, "street_address": "Unter den Linden 1", "locality": "Berlin", "country_code": "DE"},
    )
    w.ids["de_address"] = de_address["data"]["id"]
    w.ids["spare_address"] = (await w.ok("POST", "/addresses", json=ADDRESS))["data"]["id"]
    gb_reqs = (
        await w.ok(
            "GET",
            "/regulatory_requirements",
            params={"filter[country_code]": "GB", "filter[phone_number_type]": "mobile"},
        )
    )["data"][0]["regulatory_requirements"]
    values = {"address": w.ids["gb_address"], "textual": "Ada Ltd", "document": "doc-1"}
    w.ids["gb_req_type"] = gb_reqs[0]["id"]
    w.ids["docreq"] = (await w.ok("GET", "/requirements"))["data"][0]["id"]
    gb_group = await w.ok(
        "POST",
        "/requirement_groups",
        json={
            "action": "ordering",
            "country_code": "GB",
            "phone_number_type": "mobile",
            "customer_reference": "uk",
            "regulatory_requirements": [
                {"requirement_id": r["id"], "field_value": values[r["field_type"]]} for r in gb_reqs
            ],
        },
    )
    w.ids["gb_group"] = gb_group["id"]
    await w.ok("POST", f"/requirement_groups/{gb_group['id']}/submit_for_approval")
    de_reqs = (
        await w.ok(
            "GET",
            "/regulatory_requirements",
            params={"filter[country_code]": "DE", "filter[phone_number_type]": "local"},
        )
    )["data"][0]["regulatory_requirements"]
    values["address"] = w.ids["de_address"]
    de_group = await w.ok(
        "POST",
        "/requirement_groups",
        json={
            "action": "ordering",
            "country_code": "DE",
            "phone_number_type": "local",
            "regulatory_requirements": [
                {"requirement_id": r["id"], "field_value": values[r["field_type"]]} for r in de_reqs
            ],
        },
    )
    w.ids["de_group"] = de_group["id"]
    await w.ok("POST", f"/requirement_groups/{de_group['id']}/submit_for_approval")
    w.ids["draft_group"] = (
        await w.ok(
            "POST",
            "/requirement_groups",
            json={"action": "ordering", "country_code": "DE", "phone_number_type": "local"},
        )
    )["id"]
    gb_mobile = await sandbox_numbers(w.client, country_code="GB", phone_number_type="mobile", limit="2")
    for key, number in zip(("gb", "gb2"), gb_mobile, strict=True):
        order = await w.ok("POST", "/number_orders", json={"phone_numbers": [{"phone_number": number}]})
        w.ids[f"{key}_number"] = order["data"]["phone_numbers"][0]["id"]
        w.ids[f"{key}_sub"] = order["data"]["sub_number_orders_ids"][0]
        w.spare[f"{key}_mobile"] = [number]
