"""The approval model, end to end: a real MCP client (both protocol eras) against the server, with
the sandbox as a recording Telnyx endpoint. Every test counts the requests that reached the
guarded endpoint, never whether the simulated purchase succeeded."""

from __future__ import annotations

import json
import re
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import anyio
import httpx
import mcp_types as types
import pytest
from mcp import Client, MCPError

from helpers import ADDRESS, ALL_CATALOG, GUARDED, Human, audit_records, text_of, tool_data
from telnyx_numbers_mcp.app import build_server
from telnyx_numbers_mcp.config import build_settings
from telnyx_numbers_mcp.sandbox import Sandbox, create_app

pytestmark = pytest.mark.anyio

API_KEY = "KEY_test"
EVERY_TOOL = {t.name: t for t in ALL_CATALOG}  # the opt-in toolsets too
# valid numbers found by the sandbox's number search, one per country
VALID = {
    "US": "+13123709222",
    "GB": "+442072288968",
    "DE": "+493074066244",
    "FR": "+33148667357",
    "AU": "+61292456734",
    "NL": "+31205943382",
}
BAD = ["312-555-0001", "+1 312 555 0001", "13125550001", "+999123", "+0123456789"]


@dataclass
class Env:
    sb: Sandbox
    tmp: Path
    settings: dict[str, Any]

    @property
    def audit(self) -> Path:
        return self.tmp / "audit.jsonl"

    def records(self) -> list[dict[str, Any]]:
        return audit_records(self.audit)

    def sent(self, tool: str) -> int:
        """Requests that reached the endpoint of ``tool``."""
        spec = EVERY_TOOL[tool]
        pattern = re.compile("/v2" + re.sub(r"\{[^}]+\}", "[^/]+", spec.path))
        return sum(1 for r in self.sb.requests if r["method"] == spec.method and pattern.fullmatch(r["path"]))

    @asynccontextmanager
    async def client(
        self, mode: str = "legacy", human: Human | None = None, sb: Sandbox | None = None, **overrides: Any
    ) -> AsyncIterator[Client]:
        flags = {
            "base_url": "http://sandbox.invalid/v2",
            "api_key": API_KEY,
            "audit_log": str(self.audit),
            "state_dir": str(self.tmp / "state"),
            "max_numbers_per_order": 1000,  # block orders come in ranges of 100; the cap has its own tests
            **self.settings,
            **overrides,
        }
        server = build_server(build_settings(flags, {}), transport=httpx.ASGITransport(app=create_app(sb or self.sb)))
        async with Client(server, mode=mode, elicitation_callback=human) as c:
            yield c


@pytest.fixture
def env(tmp_path: Path) -> Env:
    return Env(Sandbox(), tmp_path, {})


async def valid_args(client: Client, tool: str) -> dict[str, Any]:
    """Arguments the real API would accept; numbers come from the sandbox's search."""
    if tool == "number_orders_create":
        found = await tool_data(client, "available_phone_numbers_list", {"filter": {"country_code": "US", "limit": 1}})
        return {"phone_numbers": [{"phone_number": found[0]["phone_number"]}]}
    if tool == "number_block_orders_create":
        found = await tool_data(client, "available_phone_number_blocks_list", {"filter": {"country_code": "US"}})
        return {"starting_number": found[0]["phone_number"], "range": found[0]["range"]}
    if tool == "inexplicit_number_orders_create":
        return {"ordering_groups": [{"country_iso": "US", "count_requested": "1", "phone_number_type": "local"}]}
    if tool == "advanced_orders_create":
        return {"country_code": "US", "quantity": 1, "phone_number_type": "local"}
    if tool == "phone_number_blocks_jobs_delete_block":
        return {"phone_number_block_id": "block-123"}
    if tool == "sub_number_orders_cancel":
        return {"sub_number_order_id": "sub-order-123"}
    raise AssertionError(tool)


def assert_refused(result: types.CallToolResult, *fragments: str) -> None:
    message = text_of(result)
    assert result.is_error, message
    assert "nothing was sent" in message.lower(), message
    for fragment in fragments:
        assert fragment.lower() in message.lower(), message


async def tool_names(client: Client) -> set[str]:
    return {t.name for t in (await client.list_tools()).tools}


# --- elicitation, both eras ---------------------------------------------------------------------


@pytest.mark.parametrize("tool", GUARDED)
async def test_an_approved_guarded_call_sends_exactly_one_request(env: Env, mode: str, tool: str) -> None:
    human = Human()
    async with env.client(mode, human) as c:
        args = await valid_args(c, tool)
        result = await c.call_tool(tool, args)
    assert env.sent(tool) == 1, text_of(result)
    assert len(human.asked) == 1
    assert "Approve?" in human.asked[0]
    assert "confirmation_id" not in (result.structured_content or {})


ANSWERS = {
    "decline": Human("decline", None),
    "cancel": Human("cancel", None),
    "approve-false": Human("accept", {"approve": False}),
    "approve-string": Human("accept", {"approve": "true"}),
    "approve-number": Human("accept", {"approve": 1}),
    "no-content": Human("accept", None),
    "wrong-key": Human("accept", {"confirm": True}),
}


# every tool gets the four kinds of "no"; the other malformed answers are tried on number orders
REFUSALS = [
    (tool, answer)
    for tool in GUARDED
    for answer in ANSWERS
    if tool == "number_orders_create" or answer in ("decline", "cancel", "approve-false", "approve-string")
]


@pytest.mark.parametrize(("tool", "answer"), REFUSALS)
async def test_anything_but_an_explicit_approval_sends_nothing(env: Env, mode: str, tool: str, answer: str) -> None:
    template = ANSWERS[answer]
    human = Human(template.action, template.content)
    async with env.client(mode, human) as c:
        args = await valid_args(c, tool)
        result = await c.call_tool(tool, args)
    assert_refused(result, "not approved")
    assert env.sent(tool) == 0
    assert len(human.asked) == 1


# --- quote + confirm_action (--purchase-policy host-confirm, no elicitation) ----------------------

HOST: dict[str, Any] = {"purchase_policy": "host-confirm"}


async def quote(client: Client, tool: str) -> tuple[str, str]:
    result = await client.call_tool(tool, await valid_args(client, tool))
    assert not result.is_error, text_of(result)
    data = result.structured_content
    assert isinstance(data, dict) and data["status"] == "awaiting_confirmation", data
    assert "NOTHING HAS BEEN SENT" in text_of(result)
    return data["confirmation_id"], data["summary"]


@pytest.mark.parametrize("tool", GUARDED)
async def test_a_client_without_elicitation_gets_a_quote_that_confirm_action_redeems_once(
    env: Env, mode: str, tool: str
) -> None:
    async with env.client(mode, **HOST) as c:
        assert "confirm_action" in await tool_names(c)
        cid, summary = await quote(c, tool)
        assert env.sent(tool) == 0
        first = await c.call_tool("confirm_action", {"confirmation_id": cid, "summary": summary})
        assert env.sent(tool) == 1, text_of(first)
        second = await c.call_tool("confirm_action", {"confirmation_id": cid, "summary": summary})
    assert_refused(second, "already used")
    assert env.sent(tool) == 1


def tampered(cid: str) -> str:
    return cid[:-1] + ("A" if cid[-1] != "A" else "B")


@pytest.mark.parametrize("tool", GUARDED)
async def test_confirm_action_refuses_a_tampered_or_invented_id(env: Env, tool: str) -> None:
    async with env.client(**HOST) as c:
        cid, summary = await quote(c, tool)
        nonce_changed = "cf_" + ("x" if cid[3] != "x" else "y") + cid[4:]  # never the id itself
        for bad in (tampered(cid), nonce_changed, "cf_invented.tag", "not-an-id"):
            result = await c.call_tool("confirm_action", {"confirmation_id": bad, "summary": summary})
            assert_refused(result)
    assert env.sent(tool) == 0


@pytest.mark.parametrize("tool", GUARDED)
async def test_confirm_action_refuses_a_summary_that_differs_from_the_quote(env: Env, tool: str) -> None:
    async with env.client(**HOST) as c:
        cid, summary = await quote(c, tool)
        result = await c.call_tool("confirm_action", {"confirmation_id": cid, "summary": summary + " and more"})
        assert_refused(result, "differs")
        empty = await c.call_tool("confirm_action", {"confirmation_id": cid, "summary": ""})
        assert_refused(empty, "differs")
    assert env.sent(tool) == 0


@pytest.mark.parametrize("tool", GUARDED)
async def test_confirm_action_refuses_an_expired_quote(env: Env, tool: str) -> None:
    async with env.client(confirmation_ttl=0.05, **HOST) as c:
        cid, summary = await quote(c, tool)
        await anyio.sleep(0.1)
        result = await c.call_tool("confirm_action", {"confirmation_id": cid, "summary": summary})
    assert_refused(result, "expired")
    assert env.sent(tool) == 0


@pytest.mark.parametrize("tool", GUARDED)
async def test_confirm_action_refuses_an_id_issued_by_another_server(env: Env, tool: str) -> None:
    other = Sandbox()
    async with env.client(sb=other, **HOST) as first:
        cid, summary = await quote(first, tool)
    async with env.client(**HOST) as second:
        result = await second.call_tool("confirm_action", {"confirmation_id": cid, "summary": summary})
    assert_refused(result, "not issued by this server")
    assert env.sent(tool) == 0
    assert sum(1 for r in other.requests if r["method"] != "GET") == 0


# --- 2026 rounds driven by hand ------------------------------------------------------------------

APPROVE: types.InputResponses = {"approve": types.ElicitResult(action="accept", content={"approve": True})}


async def first_round(c: Client, tool: str, args: dict[str, Any]) -> types.InputRequiredResult:
    first = await c.session.call_tool(tool, args, allow_input_required=True)
    assert isinstance(first, types.InputRequiredResult), first
    assert first.request_state
    assert "approve" in (first.input_requests or {})
    return first


async def refused_or_asked_again(
    c: Client, tool: str, args: dict[str, Any], state: str | None
) -> types.CallToolResult | types.InputRequiredResult | None:
    """None when the server rejected the request outright (MCPError)."""
    try:
        answer = await c.session.call_tool(
            tool, args, input_responses=APPROVE, request_state=state, allow_input_required=True
        )
    except MCPError:
        return None
    assert isinstance(answer, types.InputRequiredResult | types.CallToolResult)
    if isinstance(answer, types.CallToolResult):
        assert answer.is_error, text_of(answer)
    return answer


@pytest.mark.parametrize("tool", GUARDED)
async def test_a_2026_approval_with_the_real_state_sends_one_request(env: Env, tool: str) -> None:
    async with env.client("auto", Human()) as c:
        args = await valid_args(c, tool)
        first = await first_round(c, tool, args)
        assert env.sent(tool) == 0
        done = await c.session.call_tool(
            tool, args, input_responses=APPROVE, request_state=first.request_state, allow_input_required=True
        )
    assert isinstance(done, types.CallToolResult)
    assert env.sent(tool) == 1


@pytest.mark.parametrize("tool", GUARDED)
async def test_a_forged_2026_request_state_is_rejected(env: Env, tool: str) -> None:
    async with env.client("auto", Human()) as c:
        args = await valid_args(c, tool)
        first = await first_round(c, tool, args)
        assert first.request_state is not None
        for forged in ("approve:v1:" + "0" * 32, first.request_state[:-2] + "xx", "v1.forged"):
            await refused_or_asked_again(c, tool, args, forged)
    assert env.sent(tool) == 0


@pytest.mark.parametrize("tool", GUARDED)
async def test_a_2026_state_replayed_with_different_arguments_sends_nothing(env: Env, tool: str) -> None:
    async with env.client("auto", Human()) as c:
        args = await valid_args(c, tool)
        first = await first_round(c, tool, args)
        changed = json.loads(json.dumps(args))
        changed["customer_reference"] = "someone-else"
        if tool == "number_orders_create":
            changed["phone_numbers"] = [{"phone_number": VALID["GB"]}]
        await refused_or_asked_again(c, tool, changed, first.request_state)
    assert env.sent(tool) == 0


@pytest.mark.parametrize("tool", GUARDED)
async def test_a_2026_approval_sent_without_the_state_is_asked_again(env: Env, tool: str) -> None:
    async with env.client("auto", Human()) as c:
        args = await valid_args(c, tool)
        answer = await c.session.call_tool(tool, args, input_responses=APPROVE, allow_input_required=True)
    assert isinstance(answer, types.InputRequiredResult), answer
    assert env.sent(tool) == 0


# --- purchase policies ---------------------------------------------------------------------------


@pytest.mark.parametrize("tool", GUARDED)
async def test_policy_deny_hides_guarded_tools_and_refuses_them_as_unknown(env: Env, mode: str, tool: str) -> None:
    async with env.client(mode, Human(), purchase_policy="deny") as c:
        names = await tool_names(c)
        assert tool not in names and "confirm_action" not in names
        assert "available_phone_numbers_list" in names
        args = await valid_args(c, tool)
        for name, arguments in ((tool, args), ("confirm_action", {"confirmation_id": "cf_x.y", "summary": "s"})):
            with pytest.raises(MCPError, match="Unknown tool"):
                await c.call_tool(name, arguments)
    assert env.sent(tool) == 0


@pytest.mark.parametrize("tool", GUARDED)
async def test_policy_allow_sends_one_request_without_asking(env: Env, mode: str, tool: str) -> None:
    human = Human()
    async with env.client(mode, human, purchase_policy="allow") as c:
        assert "confirm_action" not in await tool_names(c)
        await c.call_tool(tool, await valid_args(c, tool))
    assert env.sent(tool) == 1
    assert human.asked == []
    assert [r["approval"]["how"] for r in env.records() if r["event"] == "request"] == ["policy-allow"]


async def test_policy_elicit_only_shows_guarded_tools_only_to_clients_that_can_ask(env: Env, mode: str) -> None:
    async with env.client(mode, purchase_policy="elicit-only") as blind:
        names = await tool_names(blind)
        assert not names & {*GUARDED, "confirm_action"}
        result = await blind.call_tool("number_orders_create", {"phone_numbers": [{"phone_number": VALID["US"]}]})
        assert result.is_error and "nothing was sent" in text_of(result).lower()
    async with env.client(mode, Human(), purchase_policy="elicit-only") as asking:
        names = await tool_names(asking)
        assert set(GUARDED) <= names and "confirm_action" not in names
    assert env.sent("number_orders_create") == 0


# --- caps ----------------------------------------------------------------------------------------


async def test_an_order_over_the_numbers_cap_is_refused_naming_the_cap(env: Env, mode: str) -> None:
    async with env.client(mode, Human(), max_numbers_per_order=1) as c:
        found = await tool_data(c, "available_phone_numbers_list", {"filter": {"country_code": "US", "limit": 2}})
        args = {"phone_numbers": [{"phone_number": n["phone_number"]} for n in found[:2]]}
        result = await c.call_tool("number_orders_create", args)
    assert_refused(result, "--max-numbers-per-order", "limit of 1")
    assert env.sent("number_orders_create") == 0


async def test_an_order_over_the_cost_cap_is_refused(env: Env, mode: str) -> None:
    human = Human()
    async with env.client(mode, human, max_order_cost=0.5) as c:
        found = await tool_data(c, "available_phone_numbers_list", {"filter": {"country_code": "US", "limit": 1}})
        assert float(found[0]["cost_information"]["upfront_cost"]) > 0.5
        result = await c.call_tool(
            "number_orders_create", {"phone_numbers": [{"phone_number": found[0]["phone_number"]}]}
        )
    assert_refused(result, "--max-order-cost")
    assert env.sent("number_orders_create") == 0
    assert human.asked == []


async def test_a_block_order_is_quoted_from_the_block_search_and_capped_by_its_cost(env: Env, mode: str) -> None:
    human = Human()
    async with env.client(mode, human, max_order_cost=150, max_numbers_per_order=100) as c:
        blocks = await tool_data(
            c,
            "available_phone_number_blocks_list",
            {"filter": {"country_code": "US", "national_destination_code": "312"}},
        )
        first, second = ({"starting_number": b["phone_number"], "range": b["range"]} for b in blocks[:2])
        upfront = float(blocks[0]["cost_information"]["upfront_cost"])
        result = await c.call_tool("number_block_orders_create", first)
    assert not result.is_error, text_of(result)
    assert f"upfront {upfront:.2f} USD" in human.asked[0]
    assert env.sent("number_block_orders_create") == 1
    cap = float(blocks[1]["cost_information"]["upfront_cost"]) / 2
    async with env.client(mode, Human(), max_order_cost=cap, max_numbers_per_order=100) as c:
        refused = await c.call_tool("number_block_orders_create", second)
    assert_refused(refused, "--max-order-cost", f"{cap * 2:.2f} USD upfront")
    assert env.sent("number_block_orders_create") == 1


# --- E.164 ---------------------------------------------------------------------------------------

# tool -> (field path in errors, arguments with the number at that field); covers every ToolSpec.e164
E164_FIELDS: dict[str, list[tuple[str, Any]]] = {
    "numbers_features_create": [("phone_numbers[0]", lambda n: {"phone_numbers": [n]})],
    "number_orders_create": [("phone_numbers[0].phone_number", lambda n: {"phone_numbers": [{"phone_number": n}]})],
    "number_reservations_create": [
        ("phone_numbers[0].phone_number", lambda n: {"phone_numbers": [{"phone_number": n}]})
    ],
    "number_reservations_list": [
        ("filter.phone_numbers_phone_number", lambda n: {"filter": {"phone_numbers_phone_number": n}})
    ],
    "number_block_orders_create": [("starting_number", lambda n: {"starting_number": n, "range": 10})],
    "number_block_orders_list": [
        ("filter.phone_numbers_starting_number", lambda n: {"filter": {"phone_numbers_starting_number": n}})
    ],
    "customer_service_records_create": [
        ("phone_number", lambda n: {"phone_number": n}),
        (
            "additional_data.billing_phone_number",
            lambda n: {"phone_number": VALID["US"], "additional_data": {"billing_phone_number": n}},
        ),
    ],
    "customer_service_records_list": [
        ("filter.phone_number.eq", lambda n: {"filter": {"phone_number": {"eq": n}}}),
        ("filter.phone_number.in[0]", lambda n: {"filter": {"phone_number": {"in": [n]}}}),
    ],
    "customer_service_records_verify_coverage": [("phone_numbers[0]", lambda n: {"phone_numbers": [n]})],
    # opt-in toolsets (issue #13)
    "regulatory_requirements_retrieve": [("filter.phone_number", lambda n: {"filter": {"phone_number": n}})],
    "phone_numbers_regulatory_requirements": [
        ("filter.phone_number", lambda n: {"filter": {"phone_number": f"{VALID['GB']},{n}"}})
    ],
    "addresses_create": [("phone_number", lambda n: {**ADDRESS, "phone_number": n})],
    "phone_numbers_voice_update": [
        ("call_forwarding.forwards_to", lambda n: {"id": "1293384261075731499", "call_forwarding": {"forwards_to": n}})
    ],
    "number_lookup_retrieve": [("phone_number", lambda n: {"phone_number": n})],
}
US_ONLY = {"customer_service_records_create", "customer_service_records_verify_coverage"}
FIELD_CASES = [(tool, path, make) for tool, fields in E164_FIELDS.items() for path, make in fields]


def test_the_e164_cases_cover_every_tool_with_phone_fields() -> None:
    assert set(E164_FIELDS) == {t.name for t in ALL_CATALOG if t.e164}
    for tool, fields in E164_FIELDS.items():
        assert len(fields) == len(EVERY_TOOL[tool].e164), tool


@pytest.mark.parametrize(("tool", "path", "make"), FIELD_CASES, ids=[f"{t}:{p}" for t, p, _ in FIELD_CASES])
async def test_bad_phone_numbers_are_refused_naming_field_and_value(env: Env, tool: str, path: str, make: Any) -> None:
    async with env.client(purchase_policy="allow", toolsets=("all",)) as c:
        for bad in BAD:
            result = await c.call_tool(tool, make(bad))
            assert_refused(result, path, repr(bad))
    assert env.sent(tool) == 0


async def test_a_national_number_with_a_country_code_gets_an_e164_suggestion(env: Env) -> None:
    async with env.client(purchase_policy="allow") as c:
        result = await c.call_tool(
            "number_orders_create", {"phone_numbers": [{"phone_number": "(312) 555-0001"}], "country_code": "US"}
        )
    message = text_of(result)
    assert result.is_error and "+13125550001" in message and "phone_numbers[0].phone_number" in message, message
    assert env.sent("number_orders_create") == 0


@pytest.mark.parametrize(("tool", "path", "make"), FIELD_CASES, ids=[f"{t}:{p}" for t, p, _ in FIELD_CASES])
async def test_valid_numbers_from_several_countries_are_sent(env: Env, tool: str, path: str, make: Any) -> None:
    countries = ["US"] if tool in US_ONLY or path.startswith("additional_data") else list(VALID)
    async with env.client(purchase_policy="allow", toolsets=("all",)) as c:
        for country in countries:
            result = await c.call_tool(tool, make(VALID[country]))
            assert "not E.164" not in text_of(result), text_of(result)
    assert env.sent(tool) == len(countries)


async def test_partial_number_patterns_are_not_mistaken_for_phone_numbers(env: Env) -> None:
    async with env.client() as c:
        result = await c.call_tool(
            "available_phone_numbers_list", {"filter": {"country_code": "US", "phone_number": {"starts_with": "312"}}}
        )
    assert not result.is_error, text_of(result)
    assert env.sent("available_phone_numbers_list") == 1


# --- audit ---------------------------------------------------------------------------------------


async def test_an_approved_purchase_is_audited_before_it_is_sent_and_after_it_answers(env: Env, mode: str) -> None:
    async with env.client(mode, Human()) as c:
        args = await valid_args(c, "number_orders_create")
        result = await c.call_tool("number_orders_create", args)
    assert not result.is_error, text_of(result)
    events = [(r["event"], r["tool"]) for r in env.records()]
    assert events == [("asked", "number_orders_create"), ("decided", "number_orders_create"),
                      ("request", "number_orders_create"), ("outcome", "number_orders_create")]  # fmt: skip
    asked, decided, request, outcome = env.records()
    assert asked["approval_id"] == decided["approval_id"] and asked["channel"] == "elicitation"
    assert decided["channel"] == "elicitation" and decided["approved"] is True
    assert request["approval"]["how"] == "elicitation" and request["approval"]["approved"] is True
    assert request["approval_id"] == decided["approval_id"]
    assert request["args"]["phone_numbers"] == args["phone_numbers"]
    assert request["id"] == outcome["id"] and request["seq"] < outcome["seq"] and outcome["ok"] is True
    assert API_KEY not in env.audit.read_text()


async def test_a_declined_purchase_leaves_a_refused_record_and_no_request_record(env: Env, mode: str) -> None:
    async with env.client(mode, Human("decline", None)) as c:
        await c.call_tool("number_orders_create", await valid_args(c, "number_orders_create"))
    records = env.records()
    assert [r["event"] for r in records] == ["asked", "decided", "refused"]
    assert records[1]["channel"] == "elicitation" and records[1]["approved"] is False
    assert records[2]["approval"] == {"approved": False, "how": "elicitation", "detail": "the user chose 'decline'"}
    assert API_KEY not in env.audit.read_text()


async def test_the_api_key_never_reaches_the_audit_log_even_inside_arguments(env: Env) -> None:
    async with env.client(purchase_policy="allow") as c:
        await c.call_tool(
            "number_orders_create",
            {"phone_numbers": [{"phone_number": VALID["US"]}], "customer_reference": f"ref-{API_KEY}"},
        )
    content = env.audit.read_text()
    assert content and API_KEY not in content
    assert all(r["event"] in ("request", "outcome") for r in env.records())
