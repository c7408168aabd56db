"""Issue #21 item 6: settings that cost money get a human's approval. Through a real MCP client (both eras) with
the sandbox as the recording upstream: a settings change that turns on what Telnyx bills (every billed setting
listed in scope.toml, call forwarding abroad and to +881/+882 included) waits for approval with 0 PATCH sent,
then exactly 1; a plain change goes out without asking; a bad forwarding number is refused naming the field,
with nothing sent at all."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from approval_helpers import API_KEY, Flow
from helpers import ALL_CATALOG, Human, text_of
from sandbox_helpers import client_for
from telnyx_numbers_mcp.guards.settings import Billed
from telnyx_numbers_mcp.sandbox import Sandbox

pytestmark = pytest.mark.anyio

VOICE = "phone_numbers_voice_update"
BILLED: list[Billed] = list(next(t for t in ALL_CATALOG if t.name == VOICE).billed_settings.billed)  # type: ignore[union-attr]
SATELLITE = "+881612345678"  # +881: global mobile satellite system
NETWORKS = "+8823421234"  # +882: international networks
UK_MOBILE = "+447400123456"
JAMAICA = "+18762101234"  # +1 like the US, but another country: the classic NANP toll-fraud destination
CHICAGO = "+13125550123"


@dataclass
class Env(Flow):
    """The recording sandbox (Flow counts what reached it per tool) and the number the account owns."""

    pid: str = ""
    number: str = ""

    def flags(self, **overrides: Any) -> dict[str, Any]:
        return super().flags(**{"toolsets": "numbers", **overrides})

    def person(self, approve: bool = True) -> Human:
        """The human at the client, who also notes how many voice PATCHes had gone out when asked."""
        answer = {} if approve else {"action": "decline", "content": None}
        return Human(**answer, count=lambda: self.sent(VOICE))  # type: ignore[arg-type]


@pytest.fixture
async def env(tmp_path: Path) -> Env:
    """A sandbox account that owns one US local number (bought straight from the sandbox, not under test)."""
    sb = Sandbox()
    async with client_for(sb, API_KEY) as http:
        found = (await http.get("/available_phone_numbers", params={"filter[country_code]": "US"})).json()["data"]
        number = found[0]["phone_number"]
        order = await http.post("/number_orders", json={"phone_numbers": [{"phone_number": number}]})
        assert order.status_code == 200, order.text
        sb.clock.advance(60)
        owned = (await http.get("/phone_numbers")).json()["data"]
    assert [o["phone_number"] for o in owned] == [number]
    sb.reset_requests()
    return Env(sb, tmp_path, pid=owned[0]["id"], number=number)


def turning_on(billed: Billed, pid: str) -> dict[str, Any]:
    """Arguments that turn `billed` on, from scope.toml's own description of it."""
    if billed.forwards:
        return nest({"id": pid}, billed.forwards, SATELLITE)
    return nest({"id": pid}, billed.path, billed.on[0])


def nest(args: dict[str, Any], path: str, value: Any) -> dict[str, Any]:
    node = args
    *parents, last = path.split(".")
    for step in parents:
        node = node.setdefault(step, {})
    node[last] = value
    return args


def test_the_billed_settings_are_the_researched_ones() -> None:
    """What Telnyx bills among the voice settings, each with a price or 'billed by Telnyx' and a source."""
    assert {b.name for b in BILLED} == {
        "call forwarding",
        "CNAM listing",
        "caller ID name on inbound calls",
        "recording of every inbound call",
        "inbound call screening",
    }
    for billed in BILLED:
        assert billed.source.startswith(("http", "issue", "the Telnyx OpenAPI spec")), billed
        assert "billed by Telnyx" in billed.price or "USD" in billed.price, billed
    # only the voice settings hold billed ones; the other update tools are ordinary writes
    assert [t.name for t in ALL_CATALOG if t.billed_settings is not None] == [VOICE]


@pytest.mark.parametrize("billed", BILLED, ids=[b.name for b in BILLED])
async def test_turning_on_a_billed_setting_waits_for_approval(env: Env, mode: str, billed: Billed) -> None:
    person = env.person()
    args = turning_on(billed, env.pid)
    async with env.client(mode, elicitation_callback=person) as c:
        result = await c.call_tool(VOICE, args)
    assert not result.is_error, text_of(result)
    [question] = person.asked
    assert person.counted == [0]  # nothing was changed before the human said yes
    assert env.sent(VOICE) == 1  # and exactly once after
    assert f"CHANGE the settings of phone number {env.number} (US local, id {env.pid})" in question
    assert f"Starts costing: {billed.name}: {billed.price}" in question
    assert env.sent("phone_numbers_retrieve") >= 1  # the number was looked up to name it


@pytest.mark.parametrize(
    ("destination", "where"),
    [
        (SATELLITE, "+881: global mobile satellite system) that belongs to no country, OUTSIDE this number's country"),
        (NETWORKS, "+882: international networks) that belongs to no country, OUTSIDE this number's country"),
        (UK_MOBILE, "in GB, OUTSIDE this number's country (US)"),
        (JAMAICA, "in JM, OUTSIDE this number's country (US)"),
        (CHICAGO, "in US, this number's own country"),
    ],
)
async def test_forwarding_says_where_calls_will_go_and_waits_for_approval(
    env: Env, mode: str, destination: str, where: str
) -> None:
    person = env.person()
    args = {"id": env.pid, "call_forwarding": {"forwards_to": destination, "forwarding_type": "always"}}
    async with env.client(mode, elicitation_callback=person) as c:
        result = await c.call_tool(VOICE, args)
    assert not result.is_error, text_of(result)
    [question] = person.asked
    assert person.counted == [0] and env.sent(VOICE) == 1
    assert f"Calls will go (always) to {destination}: " in question and where in question, question
    assert "Starts costing: call forwarding: billed by Telnyx" in question
    assert isinstance(result.structured_content, dict)
    assert result.structured_content["data"]["call_forwarding"]["forwards_to"] == destination


async def test_a_declined_billed_change_sends_nothing(env: Env, mode: str) -> None:
    person = env.person(approve=False)
    async with env.client(mode, elicitation_callback=person) as c:
        result = await c.call_tool(VOICE, {"id": env.pid, "call_forwarding": {"forwards_to": NETWORKS}})
    assert result.is_error and "Not approved" in text_of(result)
    assert len(person.asked) == 1 and env.sent(VOICE) == 0


async def test_switching_forwarding_on_names_the_destination_already_set(env: Env, mode: str) -> None:
    """A destination stored while forwarding is off costs nothing yet; switching it on later is billed, and the
    human sees where calls would go although the call itself names no destination."""
    person = env.person()
    async with env.client(mode, elicitation_callback=person) as c:
        stored = await c.call_tool(
            VOICE, {"id": env.pid, "call_forwarding": {"forwards_to": NETWORKS, "call_forwarding_enabled": False}}
        )
        assert not stored.is_error and person.asked == [] and env.sent(VOICE) == 1
        switched = await c.call_tool(VOICE, {"id": env.pid, "call_forwarding": {"call_forwarding_enabled": True}})
    assert not switched.is_error, text_of(switched)
    [question] = person.asked
    assert person.counted == [1] and env.sent(VOICE) == 2
    assert f"to {NETWORKS}, the destination already set on it: an international number (+882" in question
    assert env.sent("phone_numbers_voice_retrieve") == 1


@pytest.mark.parametrize(
    ("tool", "change"),
    [
        ("phone_numbers_update", {"tags": ["support"]}),
        ("phone_numbers_update", {"connection_id": "1684641123236054244", "hd_voice_enabled": True}),
        ("phone_numbers_messaging_update", {"messaging_profile_id": "4001767e-ce0f-4cae-9d5f-0d5e636e7809"}),
        (VOICE, {"tech_prefix_enabled": True, "media_features": {"t38_fax_gateway_enabled": True}}),
        (VOICE, {"usage_payment_method": "channel", "translated_number": "+13125550199"}),
        (VOICE, {"cnam_listing": {"cnam_listing_enabled": False}, "caller_id_name_enabled": False}),
        (VOICE, {"call_forwarding": {"call_forwarding_enabled": False}, "inbound_call_screening": "disabled"}),
    ],
)
async def test_a_plain_settings_change_goes_out_without_approval(
    env: Env, mode: str, tool: str, change: dict[str, Any]
) -> None:
    person = env.person()
    key = "phone_number_id" if tool == "phone_numbers_update" else "id"
    async with env.client(mode, elicitation_callback=person) as c:
        result = await c.call_tool(tool, {key: env.pid, **change})
    assert not result.is_error, text_of(result)
    assert person.asked == []
    assert env.sent(tool) == 1 and {r["method"] for r in env.sb.requests} == {"PATCH"}  # no look-up either


@pytest.mark.parametrize(
    ("bad", "why"),
    [
        ("0044 7400 123456", "'00' international prefix"),
        ("+1 312 555 0123", "spaces"),
        ("8823421234", "no leading '+'"),
        ("+88", "too short"),
        ("+13125550123\n", "line breaks"),
    ],
)
async def test_a_bad_forwarding_number_is_refused_naming_the_field(env: Env, mode: str, bad: str, why: str) -> None:
    person = env.person()
    async with env.client(mode, elicitation_callback=person) as c:
        result = await c.call_tool(
            VOICE,
            {"id": env.pid, "call_forwarding": {"forwards_to": bad}, "cnam_listing": {"cnam_listing_enabled": True}},
        )
    message = text_of(result)
    assert result.is_error and "call_forwarding.forwards_to" in message and why in message, message
    assert "nothing was sent" in message
    assert person.asked == [] and env.sb.requests == []  # refused before any look-up or change


async def test_under_host_confirm_a_billed_change_is_quoted_and_confirm_action_sends_it_once(env: Env) -> None:
    async with env.client("legacy", purchase_policy="host-confirm", tools=VOICE) as c:
        names = {t.name for t in (await c.list_tools()).tools}
        assert names == {VOICE, "confirm_action"}  # the only tool can ask, so the confirming tool is offered
        quote = await c.call_tool(VOICE, {"id": env.pid, "caller_id_name_enabled": True})
        assert isinstance(quote.structured_content, dict) and env.sent(VOICE) == 0, text_of(quote)
        summary = quote.structured_content["summary"]
        assert "caller ID name on inbound calls: 0.40 USD per month" in summary
        done = await c.call_tool(
            "confirm_action", {"confirmation_id": quote.structured_content["confirmation_id"], "summary": summary}
        )
    assert not done.is_error, text_of(done)
    assert env.sent(VOICE) == 1


async def test_with_only_the_settings_tool_check_approval_is_offered(env: Env) -> None:
    async with env.client("legacy", tools=VOICE, approval_wait=0) as c:
        names = {t.name for t in (await c.list_tools()).tools}
        assert names == {VOICE, "check_approval"}
        pending = await c.call_tool(VOICE, {"id": env.pid, "call_recording": {"inbound_call_recording_enabled": True}})
    assert isinstance(pending.structured_content, dict), text_of(pending)
    assert pending.structured_content["status"] == "awaiting_approval"
    assert "check_approval" in text_of(pending) and env.sent(VOICE) == 0


async def test_deny_refuses_a_billed_change_but_keeps_plain_ones(env: Env) -> None:
    async with env.client("legacy", purchase_policy="deny") as c:
        refused = await c.call_tool(VOICE, {"id": env.pid, "inbound_call_screening": "reject_calls"})
        plain = await c.call_tool(VOICE, {"id": env.pid, "tech_prefix_enabled": True})
    assert refused.is_error and "turns on what Telnyx bills" in text_of(refused), text_of(refused)
    assert not plain.is_error and env.sent(VOICE) == 1


async def test_the_tool_says_when_it_needs_approval(env: Env) -> None:
    async with env.client() as c:
        tool = next(t for t in (await c.list_tools()).tools if t.name == VOICE)
    assert tool.description is not None
    assert "BILLED when it turns on call forwarding, CNAM listing" in tool.description
    assert "needs human approval" in tool.description
    assert tool.annotations is not None and tool.annotations.destructive_hint is False  # it destroys nothing
    async with env.client(tool_mode="discover") as c:
        described = await c.call_tool("describe_tool", {"name": VOICE})
    assert isinstance(described.structured_content, dict)
    assert described.structured_content["needs_approval"].startswith("when it turns on call forwarding")
