"""Stateful behaviour of the sandbox: holds, expiries, order lifecycles, errors, faults, persistence."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import httpx
import phonenumbers
import pytest

from helpers import sandbox_numbers, sandbox_search
from sandbox_helpers import client_for
from telnyx_numbers_mcp.sandbox import Sandbox, create_app

pytestmark = pytest.mark.anyio


# ---- search -------------------------------------------------------------------------------------------


@pytest.mark.parametrize("country", ["US", "CA", "GB", "DE", "FR", "AU", "NL", "IE", "ES", "SE", "BE", "PL"])
async def test_search_gives_valid_numbers_for_the_country(country: str) -> None:
    async with client_for(Sandbox()) as client:
        data = await sandbox_search(client, country_code=country, limit="8")
    assert len(data) == 8
    for item in data:
        parsed = phonenumbers.parse(item["phone_number"])
        assert phonenumbers.is_possible_number(parsed) and phonenumbers.is_valid_number(parsed)
        assert phonenumbers.region_code_for_number(parsed) == country
        assert item["cost_information"]["currency"] == "USD"
        assert {"region_type": "country_code", "region_name": country} in item["region_information"]


async def test_search_filters_are_honoured() -> None:
    async with client_for(Sandbox()) as client:
        chicago = await sandbox_search(client, country_code="US", locality="Chicago", limit="10")
        assert all(d["phone_number"][2:5] in ("312", "773") for d in chicago)
        starts = await sandbox_numbers(client, country_code="US", **{"phone_number][starts_with": "31255"})
        assert starts and all(n.startswith("+131255") for n in starts)
        after_ndc = await sandbox_numbers(
            client, country_code="US", national_destination_code="415", **{"phone_number][starts_with": "77"}
        )
        assert after_ndc and all(n.startswith("+141577") for n in after_ndc)
        ends = await sandbox_numbers(client, country_code="GB", **{"phone_number][ends_with": "1234"})
        assert ends and all(n.endswith("1234") for n in ends)
        contains = await sandbox_numbers(client, country_code="NL", **{"phone_number][contains": "999"})
        assert contains and all("999" in n[3:] for n in contains)
        mms = await sandbox_search(client, country_code="US", features="sms,mms", limit="15")
        assert len(mms) == 15 and all({"mms", "sms"} <= {f["name"] for f in d["features"]} for d in mms)
        quick = await sandbox_search(client, country_code="US", quickship="true", limit="5")
        assert quick and all(d["quickship"] for d in quick)
        toll = await sandbox_numbers(client, country_code="US", phone_number_type="toll_free", limit="5")
        assert all(n[2:5] in ("888", "877", "833") for n in toll)
        assert await sandbox_search(client, country_code="US", locality="Atlantis") == []
        r = await client.get(
            "/available_phone_numbers",
            params={
                "filter[country_code]": "US",
                "filter[locality]": "Chicago",
                "filter[best_effort]": "true",
                "filter[limit]": "5",
                "filter[phone_number][starts_with]": "206",
            },
        )
        body = r.json()
        assert body["meta"]["best_effort_results"] == len(body["data"]) > 0
        assert all(d["best_effort"] for d in body["data"])


async def test_search_is_deterministic_per_seed() -> None:
    async with client_for(Sandbox(seed=1)) as a, client_for(Sandbox(seed=1)) as b, client_for(Sandbox(seed=2)) as c:
        first = await sandbox_numbers(a, country_code="GB", limit="5")
        assert first == await sandbox_numbers(b, country_code="GB", limit="5")
        assert first != await sandbox_numbers(c, country_code="GB", limit="5")


# ---- reservations ---------------------------------------------------------------------------------


async def test_reservation_hides_number_from_others_then_expires_after_30_minutes() -> None:
    sb = Sandbox()
    async with client_for(sb, "KEY_alice") as client, client_for(sb, "KEY_bob") as other:
        pool = await sandbox_numbers(client, country_code="US", limit="5")
        r = await client.post("/number_reservations", json={"phone_numbers": [{"phone_number": pool[0]}]})
        assert r.status_code == 200
        entry = r.json()["data"]["phone_numbers"][0]
        assert entry["status"] == "success"
        assert pool[0] not in await sandbox_numbers(other, country_code="US", limit="5")
        # as on Telnyx, the reserving account still sees its held number unless it excludes held numbers
        assert pool[0] in await sandbox_numbers(client, country_code="US", limit="5")
        assert pool[0] not in await sandbox_numbers(client, country_code="US", limit="5", exclude_held_numbers="true")
        again = await other.post("/number_reservations", json={"phone_numbers": [{"phone_number": pool[0]}]})
        assert again.status_code == 422
        assert again.json()["errors"][0]["source"] == {"pointer": "/phone_numbers/0/phone_number"}
        taken = await other.post("/number_orders", json={"phone_numbers": [{"phone_number": pool[0]}]})
        assert taken.status_code == 422
        sb.clock.advance(29 * 60)
        assert pool[0] not in await sandbox_numbers(other, country_code="US", limit="5")
        sb.clock.advance(61)
        assert pool[0] in await sandbox_numbers(other, country_code="US", limit="5")


async def test_extend_pushes_expiry_by_30_minutes() -> None:
    sb = Sandbox()
    async with client_for(sb) as client:
        pool = await sandbox_numbers(client, country_code="CA", limit="3")
        res = (await client.post("/number_reservations", json={"phone_numbers": [{"phone_number": pool[0]}]})).json()
        rid = res["data"]["id"]
        before = res["data"]["phone_numbers"][0]["expired_at"]
        sb.clock.advance(20 * 60)
        ext = (await client.post(f"/number_reservations/{rid}/actions/extend")).json()
        after = ext["data"]["phone_numbers"][0]["expired_at"]
        from telnyx_numbers_mcp.sandbox.clock import parse_iso

        assert (parse_iso(after) - parse_iso(before)).total_seconds() == 30 * 60
        sb.clock.advance(35 * 60)  # 55 minutes in: still held thanks to the extension
        assert pool[0] not in await sandbox_numbers(client, country_code="CA", limit="3", exclude_held_numbers="true")
        sb.clock.advance(6 * 60)
        assert pool[0] in await sandbox_numbers(client, country_code="CA", limit="3")
        expired = await client.post(f"/number_reservations/{rid}/actions/extend")
        assert expired.status_code == 422


# ---- orders -------------------------------------------------------------------------------------


async def test_order_goes_pending_to_success_and_leaves_the_pool() -> None:
    sb = Sandbox()
    async with client_for(sb) as client:
        pool = await sandbox_numbers(client, country_code="US", limit="3")
        r = await client.post(
            "/number_orders", json={"phone_numbers": [{"phone_number": pool[0]}], "customer_reference": "acme"}
        )
        order = r.json()["data"]
        assert order["status"] == "pending" and order["requirements_met"] is True
        assert pool[0] not in await sandbox_numbers(client, country_code="US", limit="3")
        listed = (await client.get("/number_orders", params={"filter[status]": "pending"})).json()
        assert [o["id"] for o in listed["data"]] == [order["id"]]
        sb.clock.advance(10)
        got = (await client.get(f"/number_orders/{order['id']}")).json()["data"]
        assert got["status"] == "success" and got["phone_numbers"][0]["status"] == "success"
        assert got["updated_at"] > got["created_at"]
        by_ref = (await client.get("/number_orders", params={"filter[customer_reference]": "acme"})).json()
        assert by_ref["meta"]["total_results"] == 1
        none = (await client.get("/number_orders", params={"filter[customer_reference]": "other"})).json()
        assert none["data"] == []
        subs = (await client.get("/sub_number_orders", params={"filter[status]": "success"})).json()["data"]
        assert [s["order_request_id"] for s in subs] == [order["id"]]
        taken = await client.post("/number_orders", json={"phone_numbers": [{"phone_number": pool[0]}]})
        assert taken.status_code == 422
        assert taken.json()["errors"][0]["source"]["pointer"] == "/phone_numbers/0/phone_number"


async def test_german_order_waits_for_requirements() -> None:
    sb = Sandbox()
    async with client_for(sb) as client:
        de = await sandbox_numbers(client, country_code="DE", limit="1")
        us = await sandbox_numbers(client, country_code="US", limit="1")
        r = await client.post(
            "/number_orders", json={"phone_numbers": [{"phone_number": de[0]}, {"phone_number": us[0]}]}
        )
        order = r.json()["data"]
        assert len(order["sub_number_orders_ids"]) == 2 and order["requirements_met"] is False
        sb.clock.advance(3600)
        got = (await client.get(f"/number_orders/{order['id']}")).json()["data"]
        assert got["status"] == "pending"
        de_num = next(p for p in got["phone_numbers"] if p["country_code"] == "DE")
        us_num = next(p for p in got["phone_numbers"] if p["country_code"] == "US")
        assert de_num["status"] == "pending" and us_num["status"] == "success"
        reqs = [x["requirement_id"] for x in de_num["regulatory_requirements"]]
        bad = await client.patch(
            f"/number_orders/{order['id']}",
            json={
                "regulatory_requirements": [
                    {"requirement_id": "8ffb3622-7c6b-4ccc-b65f-7a3dc0099576", "field_value": "x"}
                ]
            },
        )
        assert bad.status_code == 422
        assert bad.json()["errors"][0]["source"]["pointer"] == "/regulatory_requirements/0/requirement_id"
        await client.patch(
            f"/number_orders/{order['id']}",
            json={
                "regulatory_requirements": [{"requirement_id": reqs[0], "field_value": "Unter den Linden 1, Berlin"}]
            },
        )
        assert (await client.get(f"/number_orders/{order['id']}")).json()["data"]["requirements_met"] is False
        nopn = (
            await client.patch(
                f"/number_order_phone_numbers/{de_num['id']}",
                json={"regulatory_requirements": [{"requirement_id": reqs[1], "field_value": "doc-123"}]},
            )
        ).json()["data"]
        assert nopn["requirements_met"] is True and nopn["status"] == "pending"
        assert nopn["requirements_status"] == "requirement-info-under-review"
        sb.clock.advance(10)
        got = (await client.get(f"/number_orders/{order['id']}")).json()["data"]
        assert got["status"] == "success" and got["requirements_met"] is True
        comments = await client.get("/comments", params={"filter[comment_record_id]": nopn["sub_number_order_id"]})
        assert comments.json()["data"][0]["commenter_type"] == "admin"


async def approved_group(client: httpx.AsyncClient, sb: Sandbox, country: str, number_type: str) -> str:
    """A requirement group with an address in `country` and a document, submitted and reviewed."""
    address = await client.post(
        "/addresses",
        json={
            "business_name": "Example SARL",
            "first_name": "Ada",
            "last_name": "Lovelace",
            "street_address": "1 Rue de Rivoli",
            "locality": "Paris",
            "country_code": country,
        },
    )
    reqs = (
        await client.get(
            "/regulatory_requirements",
            params={"filter[country_code]": country, "filter[phone_number_type]": number_type},
        )
    ).json()["data"][0]["regulatory_requirements"]
    values = {"address": address.json()["data"]["id"], "document": "doc-1", "textual": "Example SARL"}
    group = await client.post(
        "/requirement_groups",
        json={
            "action": "ordering",
            "country_code": country,
            "phone_number_type": number_type,
            "regulatory_requirements": [
                {"requirement_id": r["id"], "field_value": values[r["field_type"]]} for r in reqs
            ],
        },
    )
    group_id: str = group.json()["id"]
    assert (await client.post(f"/requirement_groups/{group_id}/submit_for_approval")).status_code == 200
    sb.clock.advance(30)
    return group_id


async def test_requirement_group_satisfies_documents_and_cancel_frees_numbers() -> None:
    sb = Sandbox()
    async with client_for(sb) as client:
        fr = await sandbox_numbers(client, country_code="FR", limit="2")
        group = await approved_group(client, sb, "FR", "local")
        r = await client.post(
            "/number_orders",
            json={"phone_numbers": [{"phone_number": fr[0], "requirement_group_id": group}]},
        )
        assert r.json()["data"]["requirements_met"] is True
        pending = (await client.post("/number_orders", json={"phone_numbers": [{"phone_number": fr[1]}]})).json()
        sub_id = pending["data"]["sub_number_orders_ids"][0]
        assert fr[1] not in await sandbox_numbers(client, country_code="FR", limit="2")
        cancelled = (await client.patch(f"/sub_number_orders/{sub_id}/cancel")).json()["data"]
        assert cancelled["status"] == "failure"
        assert fr[1] in await sandbox_numbers(client, country_code="FR", limit="2")
        sb.clock.advance(10)
        done = (await client.get(f"/sub_number_orders/{r.json()['data']['sub_number_orders_ids'][0]}")).json()
        again = await client.patch(f"/sub_number_orders/{done['data']['id']}/cancel")
        assert again.status_code == 422


async def test_inexplicit_order_allocates_numbers() -> None:
    async with client_for(Sandbox()) as client:
        r = await client.post(
            "/inexplicit_number_orders",
            json={
                "ordering_groups": [
                    {
                        "country_iso": "US",
                        "count_requested": "3",
                        "phone_number_type": "local",
                        "national_destination_code": "206",
                    }
                ]
            },
        )
        group = r.json()["data"]["ordering_groups"][0]
        assert group["status"] == "success" and group["count_allocated"] == 3
        order_id = group["orders"][0]["number_order_id"]
        order = (await client.get(f"/number_orders/{order_id}")).json()["data"]
        ordered = {p["phone_number"] for p in order["phone_numbers"]}
        assert all(n.startswith("+1206") for n in ordered)
        assert not ordered & set(await sandbox_numbers(client, country_code="US", national_destination_code="206"))


async def test_block_order_and_deletion_job() -> None:
    sb = Sandbox()
    async with client_for(sb) as client:
        blocks = (await client.get("/available_phone_number_blocks", params={"filter[country_code]": "NL"})).json()
        start = blocks["data"][0]["phone_number"]
        bo = (await client.post("/number_block_orders", json={"starting_number": start, "range": 10})).json()["data"]
        assert bo["status"] == "pending" and bo["phone_numbers_count"] == 10
        early = await client.post(
            "/phone_number_blocks/jobs/delete_phone_number_block", json={"phone_number_block_id": bo["id"]}
        )
        assert early.status_code == 422
        sb.clock.advance(10)
        job = (
            await client.post(
                "/phone_number_blocks/jobs/delete_phone_number_block", json={"phone_number_block_id": bo["id"]}
            )
        ).json()["data"]
        assert job["status"] == "pending" and job["successful_operations"] == []
        sb.clock.advance(10)
        done = (await client.get(f"/phone_number_blocks/jobs/{job['id']}")).json()["data"]
        assert done["status"] == "completed" and len(done["successful_operations"]) == 10


async def test_report_csv_lists_sub_orders() -> None:
    sb = Sandbox()
    async with client_for(sb) as client:
        us = await sandbox_numbers(client, country_code="US", limit="1")
        order = (
            await client.post(
                "/number_orders", json={"phone_numbers": [{"phone_number": us[0]}], "customer_reference": "csv"}
            )
        ).json()["data"]
        sb.clock.advance(10)
        rep = (await client.post("/sub_number_orders_report", json={"customer_reference": "csv"})).json()["data"]
        assert rep["status"] == "pending"
        assert (await client.get(f"/sub_number_orders_report/{rep['id']}/download")).status_code == 422
        sb.clock.advance(5)
        assert (await client.get(f"/sub_number_orders_report/{rep['id']}")).json()["data"]["status"] == "success"
        dl = await client.get(f"/sub_number_orders_report/{rep['id']}/download")
        assert dl.headers["content-type"].startswith("text/csv")
        lines = dl.text.strip().splitlines()
        assert lines[0] == (
            "id,order_request_id,is_block_sub_number_order,status,phone_number_type,requirements_met,"
            "phone_numbers_count,country_code,user_id,customer_reference,created_at,updated_at"
        )
        assert len(lines) == 2 and order["id"] in lines[1] and ",False,success,local,True,1,US," in lines[1]


# ---- error shapes -------------------------------------------------------------------------------


async def test_404_and_422_shapes() -> None:
    async with client_for(Sandbox()) as client:
        r = await client.get("/number_orders/12ade33a-21c0-473b-b055-b3c836e1c292")
        assert r.status_code == 404
        err = r.json()["errors"][0]
        assert err["code"] == "10005" and err["title"] == "Resource not found" and err["detail"]
        for path in (
            "/comments/x",
            "/sub_number_orders/x",
            "/number_reservations/x",
            "/advanced_orders/x",
            "/customer_service_records/x",
            "/sub_number_orders_report/x",
            "/phone_number_blocks/jobs/x",
            "/country_coverage/countries/ZZ",
            "/inexplicit_number_orders/x",
        ):
            assert (await client.get(path)).status_code == 404, path
        cases: list[tuple[Any, str]] = [
            ({"phone_numbers": [{}]}, "/phone_numbers/0/phone_number"),
            ({"phone_numbers": [{"phone_number": 13125550100}]}, "/phone_numbers/0/phone_number"),
            ({"phone_numbers": [{"phone_number": "+15555550100"}]}, "/phone_numbers/0/phone_number"),
            ({"phone_numbers": "nope"}, "/phone_numbers"),
            ({}, "/phone_numbers"),
        ]
        for body, pointer in cases:
            r = await client.post("/number_orders", json=body)
            assert r.status_code == 422, body
            assert r.json()["errors"][0]["source"] == {"pointer": pointer}, body
        r = await client.post("/number_block_orders", json={"starting_number": "+13125550100"})
        assert r.json()["errors"][0]["source"] == {"pointer": "/range"}
        r = await client.post(
            "/comments", json={"body": "x", "comment_record_type": "sub_number_order", "comment_record_id": "nope"}
        )
        assert r.status_code == 422 and r.json()["errors"][0]["source"] == {"pointer": "/comment_record_id"}
        r = await client.post("/number_orders", content=b"{not json", headers={"content-type": "application/json"})
        assert r.status_code == 400


async def test_auth_required_only_when_asked() -> None:
    async with client_for(Sandbox(require_auth=True)) as client:
        r = await client.get("/number_orders")
        assert r.status_code == 401
        assert r.json() == {
            "errors": [
                {
                    "code": "10009",
                    "title": "Authentication failed",
                    "detail": "Could not understand the provided credentials.",
                }
            ]
        }
        assert (await client.get("/number_orders", headers={"Authorization": "Bearer "})).status_code == 401
        assert (await client.get("/number_orders", headers={"Authorization": "Bearer k"})).status_code == 200
    async with client_for(Sandbox()) as client:
        assert (await client.get("/number_orders")).status_code == 200


# ---- faults -------------------------------------------------------------------------------------


async def test_fault_injection() -> None:
    sb = Sandbox()
    async with client_for(sb) as client:
        sb.faults.add(429, path_prefix="/number_orders", retry_after=2)
        r = await client.get("/number_orders")
        assert r.status_code == 429 and r.headers["retry-after"] == "2"
        assert r.json()["errors"][0]["code"] == "10011" and r.headers["x-sandbox"] == "true"
        assert (await client.get("/number_orders")).status_code == 200
        sb.faults.add(503, method="POST", count=2)
        assert (await client.get("/comments")).status_code == 200
        assert (await client.post("/numbers_features", json={"phone_numbers": []})).status_code == 503
        assert (await client.post("/numbers_features", json={"phone_numbers": []})).status_code == 503
        assert (await client.post("/numbers_features", json={"phone_numbers": ["+13125550100"]})).status_code == 200
        sb.faults.add(200, path_prefix="/v2/comments", delay=0.2)
        start = time.monotonic()
        assert (await client.get("/comments")).status_code == 200
        assert time.monotonic() - start >= 0.2
        sb.faults.add(500, drop=True)
        with pytest.raises(httpx.RemoteProtocolError):
            await client.get("/comments")
        assert (await client.get("/comments")).status_code == 200


async def test_http_controls() -> None:
    sb = Sandbox()
    transport = httpx.ASGITransport(app=create_app(sb))
    async with httpx.AsyncClient(transport=transport, base_url="http://sandbox.invalid") as client:
        r = await client.post("/_sandbox/faults", json={"status": 503, "path_prefix": "/comments", "count": 1})
        assert r.status_code == 201
        assert (await client.get("/v2/comments")).status_code == 503
        await client.post("/_sandbox/faults", json={"status": 429, "retry_after": 1})
        assert (await client.delete("/_sandbox/faults")).status_code == 200
        assert (await client.get("/v2/comments")).status_code == 200
        before = sb.clock.now()
        r = await client.post("/_sandbox/clock/advance", json={"seconds": 120})
        assert r.status_code == 200 and (sb.clock.now() - before).total_seconds() >= 120
        assert (await client.post("/_sandbox/clock/advance", json={"seconds": -1})).status_code == 422
        recorded = (await client.get("/_sandbox/requests")).json()["data"]
        assert [x["path"] for x in recorded] == ["/v2/comments", "/v2/comments"]
        await client.delete("/_sandbox/requests")
        assert (await client.get("/_sandbox/requests")).json()["data"] == []


async def test_requests_are_recorded_verbatim() -> None:
    sb = Sandbox()
    async with client_for(sb) as client:
        raw = "filter%5Bcountry_code%5D=US&filter[features]=sms&filter[features]=voice&page[size]=2"
        await client.get(f"/available_phone_numbers?{raw}", headers={"Authorization": "Bearer secret"})
        await client.post("/comments", json={"body": "hi"})
    first, second = sb.requests
    assert first["method"] == "GET" and first["path"] == "/v2/available_phone_numbers"
    assert first["query"] == raw
    assert first["query_pairs"] == [
        ["filter[country_code]", "US"],
        ["filter[features]", "sms"],
        ["filter[features]", "voice"],
        ["page[size]", "2"],
    ]
    assert first["headers"]["authorization"] == "Bearer ***" and first["json"] is None
    assert second["json"] == {"body": "hi"} and second["body"] == '{"body":"hi"}'
    sb.reset_requests()
    assert sb.requests == []


async def test_owned_number_tags_are_deduplicated_and_a_bad_tags_value_changes_nothing() -> None:
    sb = Sandbox()
    async with client_for(sb) as client:
        pool = await sandbox_numbers(client, country_code="US", limit="1")
        await client.post("/number_orders", json={"phone_numbers": [{"phone_number": pool[0]}]})
        sb.clock.advance(40)
        owned = (await client.get("/phone_numbers")).json()["data"][0]["id"]
        number = f"/phone_numbers/{owned}"
        for path, tags in ((number, ["b", "a", "b"]), (f"{number}/messaging", ["c", "c", "d"])):
            ok = await client.patch(path, json={"tags": tags})
            assert ok.status_code == 200
            kept = (await client.get(number)).json()["data"]
            assert kept["tags"] == list(dict.fromkeys(tags))
            for bad in ("a", ["a", 1]):
                r = await client.patch(path, json={"tags": bad, "customer_reference": "changed"})
                assert r.status_code == 422
                assert r.json()["errors"][0]["source"]["pointer"] == "/tags"
                assert "array of strings" in r.json()["errors"][0]["detail"]
            assert (await client.get(number)).json()["data"] == kept


# ---- persistence ----------------------------------------------------------------------------------


async def test_sqlite_state_survives_restart(tmp_path: Path) -> None:
    db = str(tmp_path / "sandbox.sqlite3")
    first = Sandbox(state_path=db)
    async with client_for(first) as client:
        pool = await sandbox_numbers(client, country_code="US", limit="3")
        order = (await client.post("/number_orders", json={"phone_numbers": [{"phone_number": pool[0]}]})).json()
        await client.post("/number_reservations", json={"phone_numbers": [{"phone_number": pool[1]}]})
        first.clock.advance(10)
    # no close(): state must already be on disk, as after a crash
    second = Sandbox(state_path=db)
    async with client_for(second) as client:
        got = (await client.get(f"/number_orders/{order['data']['id']}")).json()["data"]
        assert got["status"] == "success"
        remaining = await sandbox_numbers(client, country_code="US", limit="3", exclude_held_numbers="true")
        assert pool[0] not in remaining and pool[1] not in remaining
        assert (await client.get("/number_reservations")).json()["meta"]["total_results"] == 1
    second.close()
    first.close()
