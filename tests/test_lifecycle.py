"""A number's whole life through a real MCP client against the sandbox (issue #13): requirements, a pending
order completed by a requirement group, the owned number configured and released with approval; bad input
that changes nothing; the lookup budget."""

from __future__ import annotations

import ast
import json
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import mcp_types as types
import pytest
from mcp import Client

from helpers import ADDRESS, Human, text_of
from telnyx_numbers_mcp.app import build_server
from telnyx_numbers_mcp.config import build_settings
from telnyx_numbers_mcp.sandbox import Sandbox, create_app

pytestmark = pytest.mark.anyio

API_KEY = "KEY_lifecycle"
NO_ID = "00000000-0000-0000-0000-000000000000"
SANDBOX_DIR = Path(__file__).resolve().parents[1] / "server" / "telnyx_numbers_mcp" / "sandbox"
UK_ADDRESS = {**ADDRESS, "postal_code": "SW1A 2AA"}


@dataclass
class Env:
    sb: Sandbox
    tmp: Path

    @property
    def audit(self) -> list[dict[str, Any]]:
        path = self.tmp / "audit.jsonl"
        return [json.loads(line) for line in path.read_text().splitlines()] if path.exists() else []

    def sent(self, method: str, prefix: str) -> int:
        return sum(1 for r in self.sb.requests if r["method"] == method and r["path"].startswith("/v2" + prefix))

    @asynccontextmanager
    async def client(self, human: Human | None = None, mode: str = "legacy", **flags: Any) -> AsyncIterator[Client]:
        settings = build_settings(
            {
                "base_url": "http://sandbox.invalid/v2",
                "api_key": API_KEY,
                "audit_log": str(self.tmp / "audit.jsonl"),
                "toolsets": "search,orders,requirements,numbers,lookup",
                **flags,
            },
            {},
        )
        server = build_server(settings, transport=httpx.ASGITransport(app=create_app(self.sb)))
        async with Client(server, mode=mode, elicitation_callback=human) as c:
            yield c


@pytest.fixture
def env(tmp_path: Path) -> Env:
    return Env(Sandbox(), tmp_path)


async def ok(c: Client, tool: str, args: dict[str, Any]) -> Any:
    result = await c.call_tool(tool, args)
    assert isinstance(result, types.CallToolResult)
    assert not result.is_error, (tool, text_of(result))
    assert isinstance(result.structured_content, dict), (tool, text_of(result))
    return result.structured_content["data"]


async def refused(c: Client, tool: str, args: dict[str, Any], *fragments: str) -> str:
    result = await c.call_tool(tool, args)
    assert isinstance(result, types.CallToolResult)
    message = text_of(result)
    assert result.is_error, (tool, message)
    for fragment in fragments:
        assert fragment in message, (fragment, message)
    return message


async def gb_requirement_group(c: Client, address_id: str, *, submit: bool = True) -> dict[str, Any]:
    """What an agent does after reading the requirements: one value per requirement, then submit."""
    reqs = (
        await ok(
            c, "regulatory_requirements_retrieve", {"filter": {"country_code": "GB", "phone_number_type": "mobile"}}
        )
    )[0]["regulatory_requirements"]
    values = {"address": address_id, "textual": "Example Ltd"}
    group = await c.call_tool(
        "requirement_groups_create",
        {
            "action": "ordering",
            "country_code": "GB",
            "phone_number_type": "mobile",
            "regulatory_requirements": [
                {"requirement_id": r["id"], "field_value": values[r["field_type"]]} for r in reqs
            ],
        },
    )
    assert not group.is_error and isinstance(group.structured_content, dict), text_of(group)
    data = dict(group.structured_content)
    if submit:
        result = await c.call_tool("requirement_groups_submit_for_approval", {"id": data["id"]})
        assert not result.is_error and isinstance(result.structured_content, dict), text_of(result)
        data = dict(result.structured_content)
    return data


async def order_gb_mobile(c: Client) -> tuple[str, dict[str, Any]]:
    found = await ok(
        c, "available_phone_numbers_list", {"filter": {"country_code": "GB", "phone_number_type": "mobile", "limit": 1}}
    )
    number = found[0]["phone_number"]
    order = await ok(c, "number_orders_create", {"phone_numbers": [{"phone_number": number}]})
    return number, order


@pytest.mark.parametrize("mode", ["legacy", "auto"])
async def test_the_uk_story(env: Env, mode: str) -> None:
    human = Human()
    async with env.client(human, mode=mode) as c:
        # an agent asked for "a UK mobile number" searches, then asks what it must provide
        found = await ok(
            c,
            "available_phone_numbers_list",
            {"filter": {"country_code": "GB", "phone_number_type": "mobile", "limit": 1}},
        )
        number = found[0]["phone_number"]
        assert number.startswith("+447")
        needs = await ok(c, "phone_numbers_regulatory_requirements", {"filter": {"phone_number": number}})
        labels = {r["field_type"]: r["label"] for r in needs[0]["regulatory_requirements"]}
        assert set(labels) == {"address", "textual"}, labels

        # the order needs a human's approval, then waits for the requirements
        order = await ok(c, "number_orders_create", {"phone_numbers": [{"phone_number": number}]})
        assert len(human.asked) == 1 and number in human.asked[0]
        assert order["status"] == "pending" and order["requirements_met"] is False
        env.sb.clock.advance(120)
        still = await ok(c, "number_orders_retrieve", {"number_order_id": order["id"]})
        assert still["status"] == "pending" and still["requirements_met"] is False
        assert still["phone_numbers"][0]["requirements_status"] == "requirement-info-pending"
        read = text_of(await c.call_tool("number_orders_retrieve", {"number_order_id": order["id"]}))
        assert "sub_number_orders_update_group" in read  # the hint points the agent at requirement groups

        # an address, a requirement group holding it, submitted for review and attached to the sub order
        address = await ok(c, "addresses_create", UK_ADDRESS)
        group = await gb_requirement_group(c, address["id"])
        assert group["status"] == "pending-approval"
        review = text_of(await c.call_tool("requirement_groups_retrieve", {"id": group["id"]}))
        assert "Hint: still in progress" in review and "requirement_groups_retrieve" in review
        sub_id = order["sub_number_orders_ids"][0]
        attached = await ok(c, "sub_number_orders_update_group", {"id": sub_id, "requirement_group_id": group["id"]})
        assert attached["requirements_met"] is True and attached["status"] == "pending"

        # once the group is approved and the order processed, the order completes
        env.sb.clock.advance(45)
        done = await ok(c, "number_orders_retrieve", {"number_order_id": order["id"]})
        assert done["status"] == "success" and done["requirements_met"] is True
        group_now = await c.call_tool("requirement_groups_retrieve", {"id": group["id"]})
        assert isinstance(group_now.structured_content, dict) and group_now.structured_content["status"] == "approved"

        # the number is now among the account's numbers; point it at a connection
        owned = await ok(c, "phone_numbers_list", {"filter": {"phone_number": number[1:]}})
        assert [o["phone_number"] for o in owned] == [number]
        pid = owned[0]["id"]
        updated = await ok(c, "phone_numbers_update", {"phone_number_id": pid, "connection_id": "1684641123236054244"})
        assert updated["connection_id"] == "1684641123236054244"
        voice = await ok(c, "phone_numbers_voice_retrieve", {"id": pid})
        assert voice["connection_id"] == "1684641123236054244"

        # releasing it is destructive: asked first, then gone (and back in the pool)
        released = await ok(c, "phone_numbers_delete", {"id": pid})
        assert released["status"] == "deleted"
        assert len(human.asked) == 2 and "RELEASE" in human.asked[1] and pid in human.asked[1]
        assert await ok(c, "phone_numbers_list", {}) == []
        await refused(c, "phone_numbers_retrieve", {"id": pid}, "404")
        again = await ok(
            c, "available_phone_numbers_list", {"filter": {"country_code": "GB", "phone_number_type": "mobile"}}
        )
        assert number in [a["phone_number"] for a in again]
    approvals = [r["approval"]["how"] for r in env.audit if r.get("event") == "request" and r["tool"] in (
        "number_orders_create", "phone_numbers_delete")]  # fmt: skip
    assert approvals == ["elicitation", "elicitation"]


async def test_a_declined_release_keeps_the_number(env: Env) -> None:
    async with env.client(Human()) as c:
        number, order = await order_gb_mobile(c)
        address = await ok(c, "addresses_create", UK_ADDRESS)
        group = await gb_requirement_group(c, address["id"])
        await ok(c, "number_order_phone_numbers_update_group", {
            "id": order["phone_numbers"][0]["id"], "requirement_group_id": group["id"]})  # fmt: skip
        env.sb.clock.advance(45)
        pid = (await ok(c, "phone_numbers_list", {}))[0]["id"]
    async with env.client(Human(action="decline", content=None)) as c:
        await refused(c, "phone_numbers_delete", {"id": pid}, "Not approved")
        assert [o["phone_number"] for o in await ok(c, "phone_numbers_list", {})] == [number]
    assert env.sent("DELETE", "/phone_numbers") == 0


async def test_a_requirement_group_that_does_not_fit_is_refused_and_changes_nothing(env: Env) -> None:
    async with env.client(Human()) as c:
        number, order = await order_gb_mobile(c)
        sub_id = order["sub_number_orders_ids"][0]
        gb_address = await ok(c, "addresses_create", UK_ADDRESS)
        de_address = await ok(
            c, "addresses_create", {**UK_ADDRESS, "country_code": "DE", "postal_code": "10117", "locality": "Berlin"}
        )

        # a group for another country and type
        de_reqs = (
            await ok(
                c, "regulatory_requirements_retrieve", {"filter": {"country_code": "DE", "phone_number_type": "local"}}
            )
        )[0]["regulatory_requirements"]
        de_values = {"address": de_address["id"], "document": "doc-1"}
        de_group = await c.call_tool("requirement_groups_create", {
            "action": "ordering", "country_code": "DE", "phone_number_type": "local",
            "regulatory_requirements": [{"requirement_id": r["id"], "field_value": de_values[r["field_type"]]}
                                        for r in de_reqs]})  # fmt: skip
        assert isinstance(de_group.structured_content, dict)
        de_id = de_group.structured_content["id"]
        await c.call_tool("requirement_groups_submit_for_approval", {"id": de_id})
        await refused(
            c,
            "sub_number_orders_update_group",
            {"id": sub_id, "requirement_group_id": de_id},
            "422",
            "requirement_group_id",
            "is for DE local numbers, not GB mobile",
        )
        # a GB group that was never submitted
        draft = await gb_requirement_group(c, gb_address["id"], submit=False)
        await refused(
            c,
            "sub_number_orders_update_group",
            {"id": sub_id, "requirement_group_id": draft["id"]},
            "not been submitted",
        )
        # a GB group without the address cannot even be submitted
        partial = await c.call_tool(
            "requirement_groups_create", {"action": "ordering", "country_code": "GB", "phone_number_type": "mobile"}
        )
        assert isinstance(partial.structured_content, dict)
        await refused(
            c,
            "requirement_groups_submit_for_approval",
            {"id": partial.structured_content["id"]},
            "Address in the United Kingdom",
            "/regulatory_requirements",
        )
        # a value that is not an address in GB points at the field
        reqs = (await ok(c, "phone_numbers_regulatory_requirements", {"filter": {"phone_number": number}}))[0]
        address_req = next(r for r in reqs["regulatory_requirements"] if r["field_type"] == "address")
        await refused(
            c,
            "requirement_groups_update",
            {"id": draft["id"], "regulatory_requirements": [
                {"requirement_id": address_req["id"], "field_value": de_address["id"]}]},
            "/regulatory_requirements/0/field_value",
            "is in DE",
        )  # fmt: skip
        # an unknown group id is named as such
        await refused(
            c,
            "sub_number_orders_update_group",
            {"id": sub_id, "requirement_group_id": "00000000-0000-0000-0000-000000000000"},
            "was not found",
            "requirement_group_id",
        )
        # nothing changed: the order is still waiting, no number is owned
        env.sb.clock.advance(120)
        still = await ok(c, "number_orders_retrieve", {"number_order_id": order["id"]})
        assert still["status"] == "pending" and still["requirements_met"] is False
        assert all(r.get("field_value") is None for r in still["phone_numbers"][0]["regulatory_requirements"])
        assert await ok(c, "phone_numbers_list", {}) == []


async def test_unknown_ids_get_a_clear_error_and_change_nothing(env: Env) -> None:
    async with env.client(Human()) as c:
        cases: list[tuple[str, dict[str, Any]]] = [
            ("phone_numbers_retrieve", {"id": "1234567890123456789"}),
            ("phone_numbers_update", {"phone_number_id": "1234567890123456789", "connection_id": "c1"}),
            ("phone_numbers_voice_update", {"id": "1234567890123456789", "tech_prefix_enabled": True}),
            ("phone_numbers_messaging_update", {"id": "1234567890123456789", "messaging_profile_id": "mp"}),
            ("requirement_groups_retrieve", {"id": "00000000-0000-0000-0000-000000000000"}),
            ("addresses_retrieve", {"id": "42"}),
            ("requirement_types_retrieve", {"id": "00000000-0000-0000-0000-000000000000"}),
            ("number_order_phone_numbers_update_group", {"id": NO_ID, "requirement_group_id": NO_ID}),
        ]
        for tool, args in cases:
            await refused(c, tool, args, "404", "not found")
        assert await ok(c, "phone_numbers_list", {}) == []
        assert (await c.call_tool("requirement_groups_list", {})).structured_content == {"data": []}


async def test_lookups_within_the_budget_run_unasked_and_are_audited_then_need_approval(env: Env) -> None:
    async with env.client(None, lookup_budget=2, purchase_policy="host-confirm") as c:  # cannot be asked: quotes
        for number in ("+13125550123", "+442071838750"):
            data = await ok(c, "number_lookup_retrieve", {"phone_number": number})
            assert data["phone_number"] == number and data["carrier"]["name"]
        third = await c.call_tool("number_lookup_retrieve", {"phone_number": "+4915112345678"})
        assert not third.is_error and isinstance(third.structured_content, dict), text_of(third)
        assert third.structured_content["status"] == "awaiting_confirmation"
        assert "LOOK UP +4915112345678" in third.structured_content["summary"]
        assert env.sent("GET", "/number_lookup") == 2
        confirmed = await c.call_tool(
            "confirm_action",
            {
                "confirmation_id": third.structured_content["confirmation_id"],
                "summary": third.structured_content["summary"],
            },
        )
        assert not confirmed.is_error and isinstance(confirmed.structured_content, dict), text_of(confirmed)
        assert confirmed.structured_content["data"]["phone_number"] == "+4915112345678"
    assert env.sent("GET", "/number_lookup") == 3
    requests = [r for r in env.audit if r.get("event") == "request" and r["tool"] == "number_lookup_retrieve"]
    assert [r["approval"]["how"] for r in requests] == ["lookup-budget", "lookup-budget", "confirm_action"]
    assert [r["approval"]["detail"] for r in requests[:2]] == [
        "lookup 1 of 2 today (UTC; --lookup-budget)",
        "lookup 2 of 2 today (UTC; --lookup-budget)",
    ]


async def test_lookup_answers_are_deterministic_and_a_declined_lookup_is_not_sent(env: Env) -> None:
    async with env.client(Human(action="decline", content=None), lookup_budget=1) as c:
        first = await ok(c, "number_lookup_retrieve", {"phone_number": "+442071838750"})
        await refused(c, "number_lookup_retrieve", {"phone_number": "+442071838750"}, "Not approved")
    async with env.client(Human(), lookup_budget=5) as c:
        assert await ok(c, "number_lookup_retrieve", {"phone_number": "+442071838750"}) == first
    assert env.sent("GET", "/number_lookup") == 2


def test_the_sandbox_modules_import_no_cycle() -> None:
    """Each resource module may use shared ones (core, pool, query, ...) but no two import each other."""
    graph: dict[str, set[str]] = {}
    for path in SANDBOX_DIR.glob("*.py"):
        deps: set[str] = set()
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.ImportFrom) and node.level == 1:
                deps |= {node.module.split(".")[0]} if node.module else {a.name for a in node.names}
        graph[path.stem] = deps
    assert {"comments", "csrs", "reports", "advanced_orders", "inexplicit_orders", "owned_numbers"} <= set(graph)
    assert "records" not in graph and "bulk_orders" not in graph

    def reaches(start: str, goal: str) -> bool:
        seen, todo = set(), list(graph.get(start, ()))
        while todo:
            module = todo.pop()
            if module == goal:
                return True
            if module not in seen:
                seen.add(module)
                todo.extend(graph.get(module, ()))
        return False

    cycles = sorted(m for m in graph if m != "__init__" and reaches(m, m))
    assert cycles == []


async def test_a_failed_lookup_is_not_retried_so_it_is_never_billed_twice(env: Env) -> None:
    env.sb.faults.add(503, path_prefix="/v2/number_lookup", count=1)
    async with env.client(None, max_retries=2) as c:
        await refused(c, "number_lookup_retrieve", {"phone_number": "+442071838750"}, "503")
        assert env.sent("GET", "/number_lookup") == 1
        assert not (await c.call_tool("phone_numbers_list", {})).is_error  # other reads still retry as before
    outcome = [r for r in env.audit if r.get("event") == "outcome" and r["tool"] == "number_lookup_retrieve"]
    assert [r["ok"] for r in outcome] == [False]


async def test_discover_mode_finds_the_opt_in_tools_and_keeps_the_lookup_budget(env: Env) -> None:
    async with env.client(
        None, tool_mode="discover", toolsets="numbers,lookup", lookup_budget=1, purchase_policy="host-confirm"
    ) as c:
        found = await c.call_tool("find_tools", {"query": "release"})
        assert isinstance(found.structured_content, dict), text_of(found)
        assert "phone_numbers_delete" in [t["name"] for t in found.structured_content["tools"]]
        first = await c.call_tool(
            "call_tool", {"name": "number_lookup_retrieve", "arguments": {"phone_number": "+442071838750"}}
        )
        assert not first.is_error and isinstance(first.structured_content, dict), text_of(first)
        assert first.structured_content["data"]["phone_number"] == "+442071838750"
        second = await c.call_tool(
            "call_tool", {"name": "number_lookup_retrieve", "arguments": {"phone_number": "+442071838750"}}
        )
        assert isinstance(second.structured_content, dict), text_of(second)
        assert second.structured_content["status"] == "awaiting_confirmation"
    assert env.sent("GET", "/number_lookup") == 1


async def test_discovery_says_a_billed_lookup_needs_approval_beyond_the_budget(env: Env) -> None:
    async with env.client(None, tool_mode="discover", lookup_budget=3) as c:
        found = await c.call_tool("find_tools", {"query": "lookup"})
        described = await c.call_tool("describe_tool", {"name": "number_lookup_retrieve"})
    assert isinstance(found.structured_content, dict) and isinstance(described.structured_content, dict)
    row = {t["name"]: t for t in found.structured_content["tools"]}["number_lookup_retrieve"]
    assert row["needs_approval"] == "beyond the lookup budget (3 per UTC day)"
    assert "number_lookup_retrieve: " in text_of(found)
    assert "(needs approval beyond the lookup budget (3 per UTC day))" in text_of(found)
    assert described.structured_content["needs_approval"] == "beyond the lookup budget (3 per UTC day)"
    async with env.client(None, tool_mode="discover", lookup_budget=0) as c:
        none_free = await c.call_tool("describe_tool", {"name": "number_lookup_retrieve"})
    assert isinstance(none_free.structured_content, dict) and none_free.structured_content["needs_approval"] is True
