"""One account per API key: every record belongs to the key that made it, another key neither lists, reads,
changes nor refers to it; the pool of available numbers is shared; --sandbox-state keeps the separation."""

from __future__ import annotations

import json
import sqlite3
import subprocess
import sys
from pathlib import Path
from typing import Any

import httpx
import pytest

from helpers import ADDRESS, sandbox_numbers
from sandbox_helpers import child_env, client_for, free_port, wait_for_port
from sandbox_world import World, build_world
from telnyx_numbers_mcp.sandbox import Sandbox

pytestmark = pytest.mark.anyio

ALICE, BOB = "KEY_alice", "KEY_bob"

LISTS = [
    "/number_orders",
    "/sub_number_orders",
    "/number_order_phone_numbers",
    "/number_reservations",
    "/number_block_orders",
    "/phone_number_blocks/jobs",
    "/advanced_orders",
    "/inexplicit_number_orders",
    "/customer_service_records",
    "/comments",
    "/requirement_groups",
    "/addresses",
    "/phone_numbers",
    "/phone_numbers/slim",
]


def retrievals(ids: dict[str, str]) -> list[str]:
    return [
        f"/number_orders/{ids['order']}",
        f"/sub_number_orders/{ids['sub']}",
        f"/number_order_phone_numbers/{ids['number']}",
        f"/number_reservations/{ids['reservation']}",
        f"/number_block_orders/{ids['block']}",
        f"/phone_number_blocks/jobs/{ids['job']}",
        f"/advanced_orders/{ids['advanced']}",
        f"/inexplicit_number_orders/{ids['inexplicit']}",
        f"/customer_service_records/{ids['csr']}",
        f"/comments/{ids['comment']}",
        f"/requirement_groups/{ids['gb_group']}",
        f"/addresses/{ids['gb_address']}",
        f"/phone_numbers/{ids['owned']}",
        f"/phone_numbers/{ids['owned']}/voice",
        f"/phone_numbers/{ids['owned']}/messaging",
        f"/sub_number_orders_report/{ids['report']}",
        f"/sub_number_orders_report/{ids['report']}/download",
    ]


def items(body: object) -> list[object]:
    """The records of a list answer (requirement groups come as a bare array, the others under data)."""
    if isinstance(body, list):
        return body
    assert isinstance(body, dict)
    return list(body["data"])


async def assert_separate(alice: httpx.AsyncClient, bob: httpx.AsyncClient, ids: dict[str, str]) -> None:
    """Alice sees her records in every list and by id; Bob sees none of them: empty lists, 404 by id."""
    for path in LISTS:
        mine, theirs = await alice.get(path), await bob.get(path)
        assert mine.status_code == theirs.status_code == 200, (path, theirs.text)
        assert items(mine.json()), path
        assert items(theirs.json()) == [], path
    for path in retrievals(ids):
        assert (await alice.get(path)).is_success, path
        other = await bob.get(path)
        assert other.status_code == 404, (path, other.text)
        assert other.json()["errors"][0]["code"] == "10005", path


async def test_a_second_key_sees_none_of_the_first_keys_records() -> None:
    sb = Sandbox()
    async with client_for(sb, ALICE) as alice, client_for(sb, BOB) as bob:
        world = World(alice, sb)
        await build_world(world)
        assert len(LISTS) + len(retrievals(world.ids)) >= 20
        await assert_separate(alice, bob, world.ids)
        # the report Bob asks for lists his sub orders only: none
        report = (await bob.post("/sub_number_orders_report", json={})).json()["data"]["id"]
        sb.clock.advance(6)
        csv_lines = (await bob.get(f"/sub_number_orders_report/{report}/download")).text.strip().splitlines()
        assert len(csv_lines) == 1, csv_lines


async def test_a_second_key_cannot_change_or_use_the_first_keys_records() -> None:
    sb = Sandbox()
    async with client_for(sb, ALICE) as alice, client_for(sb, BOB) as bob:
        world = World(alice, sb)
        await build_world(world)
        i = world.ids
        before = {path: (await alice.get(path)).text for path in retrievals(i)}
        changes: list[tuple[str, str, dict[str, Any] | None]] = [
            ("PATCH", f"/number_orders/{i['order']}", {"customer_reference": "bob"}),
            ("PATCH", f"/sub_number_orders/{i['pending_sub']}/cancel", None),
            ("PATCH", f"/number_order_phone_numbers/{i['de_number']}", {"regulatory_requirements": []}),
            ("POST", f"/number_reservations/{i['reservation']}/actions/extend", None),
            ("PATCH", f"/comments/{i['comment']}/read", None),
            ("PATCH", f"/requirement_groups/{i['gb_group']}", {"customer_reference": "bob"}),
            ("POST", f"/requirement_groups/{i['draft_group']}/submit_for_approval", None),
            ("DELETE", f"/requirement_groups/{i['draft_group']}", None),
            ("DELETE", f"/addresses/{i['spare_address']}", None),
            ("PATCH", f"/phone_numbers/{i['owned']}", {"connection_id": "bob"}),
            ("PATCH", f"/phone_numbers/{i['owned']}/voice", {"tech_prefix_enabled": True}),
            ("DELETE", f"/phone_numbers/{i['owned']}", None),
            ("PATCH", f"/advanced_orders/{i['advanced']}/requirement_group", {"requirement_group_id": "x"}),
            ("POST", f"/sub_number_orders/{i['gb_sub']}/requirement_group", {"requirement_group_id": i["gb_group"]}),
        ]
        for method, path, body in changes:
            r = await bob.request(method, path, json=body)
            assert r.status_code == 404, (method, path, r.text)
        # references to Alice's records in Bob's bodies are unknown to him: 422 on the field that names them
        de = (await sandbox_numbers(bob, country_code="DE", limit="1"))[0]
        refs: list[tuple[str, dict[str, Any], str]] = [
            ("/number_orders", {"phone_numbers": [{"phone_number": de, "requirement_group_id": i["de_group"]}]},
             "/phone_numbers/0/requirement_group_id"),
            ("/comments", {"body": "hi", "comment_record_id": i["sub"], "comment_record_type": "sub_number_order"},
             "/comment_record_id"),
            ("/phone_number_blocks/jobs/delete_phone_number_block", {"phone_number_block_id": i["block2"]},
             "/phone_number_block_id"),
        ]  # fmt: skip
        for path, body, pointer in refs:
            r = await bob.post(path, json=body)
            assert r.status_code == 422, (path, r.text)
            assert r.json()["errors"][0]["source"] == {"pointer": pointer}, r.text
        gb_mobile = {"country_code": "GB", "phone_number_type": "mobile"}
        group = (await bob.post("/requirement_groups", json={"action": "ordering", **gb_mobile})).json()
        reqs = await bob.get("/regulatory_requirements", params={f"filter[{k}]": v for k, v in gb_mobile.items()})
        address_req = next(r for r in reqs.json()["data"][0]["regulatory_requirements"] if r["field_type"] == "address")
        r = await bob.patch(f"/requirement_groups/{group['id']}", json={"regulatory_requirements": [
            {"requirement_id": address_req["id"], "field_value": i["gb_address"]}]})  # fmt: skip
        assert r.status_code == 422 and "was not found" in r.json()["errors"][0]["detail"], r.text
        # nothing of Alice's changed
        assert {path: (await alice.get(path)).text for path in retrievals(i)} == before


async def test_the_pool_of_available_numbers_is_shared() -> None:
    sb = Sandbox()
    async with client_for(sb, ALICE) as alice, client_for(sb, BOB) as bob:
        pool = await sandbox_numbers(alice, country_code="US", national_destination_code="415", limit="4")
        assert pool == await sandbox_numbers(bob, country_code="US", national_destination_code="415", limit="4")
        reserved, bought = pool[0], pool[1]
        assert (
            await alice.post("/number_reservations", json={"phone_numbers": [{"phone_number": reserved}]})
        ).is_success
        assert (await alice.post("/number_orders", json={"phone_numbers": [{"phone_number": bought}]})).is_success
        seen_by_bob = await sandbox_numbers(bob, country_code="US", national_destination_code="415", limit="4")
        assert reserved not in seen_by_bob and bought not in seen_by_bob
        for path in ("/number_orders", "/number_reservations"):
            for number in (reserved, bought):
                r = await bob.post(path, json={"phone_numbers": [{"phone_number": number}]})
                assert r.status_code == 422 and r.json()["errors"][0]["code"] == "85001", (path, number, r.text)
        # a number Alice holds is not offered to her either once she excludes held numbers; bought is gone
        mine = await sandbox_numbers(alice, country_code="US", national_destination_code="415", limit="4",
                                     exclude_held_numbers="true")  # fmt: skip
        assert reserved not in mine and bought not in mine
        # blocks: a block Bob buys is out of Alice's block search and cannot be bought twice
        start = (await bob.get("/available_phone_number_blocks", params={"filter[country_code]": "NL"})).json()
        first = start["data"][0]["phone_number"]
        assert (await bob.post("/number_block_orders", json={"starting_number": first, "range": 10})).is_success
        again = await alice.post("/number_block_orders", json={"starting_number": first, "range": 10})
        assert again.status_code == 422
        later = (await alice.get("/available_phone_number_blocks", params={"filter[country_code]": "NL"})).json()
        assert first not in [b["phone_number"] for b in later["data"]]


def _serve(state: Path, port: int) -> subprocess.Popen[bytes]:
    command = [sys.executable, "-m", "telnyx_numbers_mcp", "sandbox-api", "--port", str(port), "--sandbox-state",
               str(state)]  # fmt: skip
    proc = subprocess.Popen(command, env=child_env(), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    wait_for_port(port, proc)
    return proc


@pytest.mark.slow
async def test_sandbox_state_keeps_the_accounts_apart_across_a_restart(tmp_path: Path) -> None:
    """`sandbox-api --sandbox-state FILE`, stopped (SIGKILL, as a crash) and started again on the same file."""
    state, port = tmp_path / "sandbox.sqlite3", free_port()
    base = f"http://127.0.0.1:{port}/v2"
    proc = _serve(state, port)
    try:
        async with httpx.AsyncClient(base_url=base, headers={"Authorization": f"Bearer {ALICE}"}) as alice:
            number = (await sandbox_numbers(alice, country_code="US", limit="1"))[0]
            order = (await alice.post("/number_orders", json={"phone_numbers": [{"phone_number": number}]})).json()
            address = (await alice.post("/addresses", json={**ADDRESS, "country_code": "US"})).json()
            ids = {"order": order["data"]["id"], "address": address["data"]["id"], "number": number}
    finally:
        proc.kill()
        proc.wait(timeout=10)
    proc = _serve(state, port)
    try:
        async with httpx.AsyncClient(base_url=base, headers={"Authorization": f"Bearer {ALICE}"}) as alice, \
                httpx.AsyncClient(base_url=base, headers={"Authorization": f"Bearer {BOB}"}) as bob:  # fmt: skip
            for path in (f"/number_orders/{ids['order']}", f"/addresses/{ids['address']}"):
                assert (await alice.get(path)).status_code == 200, path
                assert (await bob.get(path)).status_code == 404, path
            for path in ("/number_orders", "/addresses", "/number_order_phone_numbers"):
                assert len(items((await alice.get(path)).json())) == 1, path
                assert items((await bob.get(path)).json()) == [], path
            assert ids["number"] not in await sandbox_numbers(bob, country_code="US", limit="1")
    finally:
        proc.kill()
        proc.wait(timeout=10)


async def test_state_from_before_accounts_belongs_to_the_key_sandbox_mode_sends(tmp_path: Path) -> None:
    """A --sandbox-state file written before records had owners: `--sandbox` mode (key "sandbox") keeps it."""
    db = tmp_path / "old.sqlite3"
    first = Sandbox(state_path=str(db))
    async with client_for(first, "KEY_then") as then:
        number = (await sandbox_numbers(then, country_code="US", limit="1"))[0]
        order = (await then.post("/number_orders", json={"phone_numbers": [{"phone_number": number}]})).json()
    first.close()
    with sqlite3.connect(db) as con:  # as the old sandbox wrote them: no account
        for collection, doc_id, body in con.execute("SELECT collection, id, body FROM documents").fetchall():
            doc = json.loads(body)
            doc.pop("account", None)
            con.execute(
                "UPDATE documents SET body=? WHERE collection=? AND id=?", (json.dumps(doc), collection, doc_id)
            )
    con.close()
    second = Sandbox(state_path=str(db))
    async with client_for(second, "sandbox") as sandbox_mode, client_for(second, "KEY_then") as then:
        assert (await sandbox_mode.get(f"/number_orders/{order['data']['id']}")).status_code == 200
        assert (await then.get(f"/number_orders/{order['data']['id']}")).status_code == 404
    second.close()
