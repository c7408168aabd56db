"""Issue #21 item 7: a delete's approval names the resource, not an opaque id. Before asking, the server looks
the resource up (a read through its pooled client) and shows it: a phone number in E.164 with its type and
monthly cost, an address's lines, a requirement group's country and type, a block's range, a sub-order's
numbers. A failed look-up (404, 5xx, timeout) is said plainly, and the approval still works. Through a real MCP
client (both eras) with the sandbox as the recording upstream: the delete itself is never sent before the
human approves, and exactly once after."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import mcp_types as types
import pytest

from approval_helpers import API_KEY, Flow
from helpers import ADDRESS, ALL_CATALOG, Human, text_of
from sandbox_helpers import client_for
from telnyx_numbers_mcp.catalog import ToolSpec
from telnyx_numbers_mcp.sandbox import Sandbox

pytestmark = pytest.mark.anyio

UK_ADDRESS = {**ADDRESS, "postal_code": "SW1A 2AA", "extended_address": "Flat 1", "phone_number": "+442071838750"}
TOOLS: dict[str, ToolSpec] = {t.name: t for t in ALL_CATALOG}


@dataclass
class Env(Flow):
    """The recording sandbox (Flow counts what reached it per tool) and the resources the account has."""

    ids: dict[str, str] = field(default_factory=dict)

    def flags(self, **overrides: Any) -> dict[str, Any]:
        return super().flags(**{"toolsets": "all", **overrides})

    async def ask(self, mode: str, tool: str, args: dict[str, Any], **flags: Any) -> tuple[str, types.CallToolResult]:
        """Call `tool` as an agent would; the human approves. Returns the question and the result."""
        person = Human(count=lambda: self.sent(tool))
        async with self.client(mode, elicitation_callback=person, **flags) as c:
            result = await c.call_tool(tool, args)
        [question] = person.asked
        assert person.counted == [0], f"{tool} reached Telnyx before the human answered"
        assert self.sent(tool) == 1, f"{tool} was not sent exactly once after approval"
        return question, result


@pytest.fixture
async def env(tmp_path: Path) -> Env:
    """An account with an owned US number, an address, a requirement group, a pending GB sub-order and a block
    (made straight in the sandbox: not under test)."""
    sb = Sandbox()
    ids: dict[str, str] = {}
    async with client_for(sb, API_KEY) as http:

        async def ok(method: str, path: str, **kw: Any) -> Any:
            answer = await http.request(method, path, **kw)
            assert answer.status_code == 200, answer.text
            body = answer.json()
            return body.get("data", body)

        us = await ok("GET", "/available_phone_numbers", params={"filter[country_code]": "US"})
        ids["number"] = us[0]["phone_number"]
        await ok("POST", "/number_orders", json={"phone_numbers": [{"phone_number": ids["number"]}]})
        gb_mobile = {"filter[country_code]": "GB", "filter[phone_number_type]": "mobile"}
        gb = await ok("GET", "/available_phone_numbers", params=gb_mobile)
        ids["gb_number"] = gb[0]["phone_number"]
        pending = await ok("POST", "/number_orders", json={"phone_numbers": [{"phone_number": ids["gb_number"]}]})
        ids["sub_order"] = pending["sub_number_orders_ids"][0]
        blocks = await ok("GET", "/available_phone_number_blocks", params={"filter[country_code]": "US"})
        ids["block_start"] = blocks[0]["phone_number"]
        block = await ok("POST", "/number_block_orders", json={"starting_number": ids["block_start"], "range": 10})
        ids["block"] = block["id"]
        ids["address"] = (await ok("POST", "/addresses", json=UK_ADDRESS))["id"]
        group_args = {"action": "ordering", "country_code": "GB", "phone_number_type": "mobile"}
        group = await ok("POST", "/requirement_groups", json=group_args)
        ids["group"] = group["id"]
        sb.clock.advance(60)
        owned = await ok("GET", "/phone_numbers")
    ids["pid"] = next(o["id"] for o in owned if o["phone_number"] == ids["number"])
    sb.reset_requests()
    return Env(sb, tmp_path, ids=ids)


def test_every_destructive_tool_looks_up_what_it_acts_on() -> None:
    destructive = [t for t in ALL_CATALOG if t.kind == "destructive"]
    assert len(destructive) == 5
    for tool in destructive:
        assert tool.lookup is not None, f"{tool.name}: its approval would name only an id"
        assert TOOLS[tool.lookup.tool].kind == "read"  # a look-up is never billed and changes nothing


async def test_releasing_a_number_shows_it_in_e164_with_type_and_monthly_cost(env: Env, mode: str) -> None:
    pid, number = env.ids["pid"], env.ids["number"]
    question, result = await env.ask(mode, "phone_numbers_delete", {"id": pid})
    assert not result.is_error, text_of(result)
    assert f"RELEASE phone number {number} (US local, id {pid}) from the account" in question
    assert "Monthly cost: 1.00 USD (Telnyx's price for a US local number;" in question
    assert env.sent("phone_numbers_retrieve") == 1


async def test_a_declined_release_sends_only_the_look_up(env: Env, mode: str) -> None:
    person = Human(action="decline", content=None)
    async with env.client(mode, elicitation_callback=person) as c:
        result = await c.call_tool("phone_numbers_delete", {"id": env.ids["pid"]})
    assert result.is_error and "Not approved" in text_of(result)
    assert env.ids["number"] in person.asked[0] and env.sent("phone_numbers_delete") == 0
    assert {r["method"] for r in env.sb.requests} == {"GET"}  # reads only


async def test_deleting_an_address_shows_its_lines(env: Env, mode: str) -> None:
    question, result = await env.ask(mode, "addresses_delete", {"id": env.ids["address"]})
    assert not result.is_error, text_of(result)
    lines = question.splitlines()
    assert lines[0] == f"DELETE address {env.ids['address']} (cannot be undone)." or lines[0].endswith(
        f"DELETE address {env.ids['address']} (cannot be undone)."
    )
    assert "  Example Ltd, Ada Lovelace" in lines
    assert "  10 Downing Street, Flat 1" in lines
    assert "  London, SW1A 2AA, GB" in lines
    assert env.sent("addresses_retrieve") == 1 and env.sent("available_phone_numbers_list") == 0  # one read


async def test_deleting_a_requirement_group_shows_country_and_type(env: Env, mode: str) -> None:
    question, result = await env.ask(mode, "requirement_groups_delete", {"id": env.ids["group"]})
    assert not result.is_error, text_of(result)
    assert f"DELETE requirement group {env.ids['group']} (cannot be undone)." in question
    assert "  for GB mobile numbers (ordering) · status unapproved · 0 values" in question


async def test_cancelling_a_sub_order_shows_its_numbers(env: Env, mode: str) -> None:
    question, result = await env.ask(mode, "sub_number_orders_cancel", {"sub_number_order_id": env.ids["sub_order"]})
    assert not result.is_error, text_of(result)
    assert f"  1 GB mobile number: {env.ids['gb_number']} · status pending · requirements met no" in question


async def test_deleting_a_block_shows_its_range(env: Env, mode: str) -> None:
    start = env.ids["block_start"]
    last = f"+{int(start[1:]) + 9}"
    args = {"phone_number_block_id": env.ids["block"]}
    question, result = await env.ask(mode, "phone_number_blocks_jobs_delete_block", args)
    assert not result.is_error, text_of(result)
    assert f"  {start} to {last} · 10 numbers · status success" in question


@pytest.mark.parametrize(
    ("fault", "reason"),
    [
        (None, "Telnyx answered HTTP 404 Not Found to phone_numbers_retrieve."),
        ({"status": 503}, "Telnyx answered HTTP 503 Service Unavailable to phone_numbers_retrieve."),
        ({"status": 200, "delay": 2.0}, "Telnyx did not answer in time (no complete answer within --timeout 0.5 s)"),
    ],
    ids=["404", "503", "timeout"],
)
async def test_a_failed_look_up_says_so_and_the_approval_still_works(
    env: Env, mode: str, fault: dict[str, Any] | None, reason: str
) -> None:
    pid = env.ids["pid"] if fault else "1293384261075731499"
    if fault:
        env.sb.faults.add(path_prefix=f"/phone_numbers/{pid}", method="GET", **fault)
    question, result = await env.ask(mode, "phone_numbers_delete", {"id": pid}, timeout=0.5, max_retries=0)
    assert f"RELEASE phone number {pid} from the account" in question
    assert f"  Could not look up phone number {pid}: {reason}" in question, question
    if fault:  # approved: the number is released
        assert not result.is_error, text_of(result)
        assert isinstance(result.structured_content, dict)
        assert result.structured_content["data"]["phone_number"] == env.ids["number"]
    else:  # approved, and Telnyx says what the look-up already said
        assert "404" in text_of(result)


async def test_under_host_confirm_the_quote_names_the_number_and_confirm_action_releases_it(env: Env) -> None:
    async with env.client("legacy", purchase_policy="host-confirm") as c:
        quote = await c.call_tool("phone_numbers_delete", {"id": env.ids["pid"]})
        assert isinstance(quote.structured_content, dict), text_of(quote)
        summary = quote.structured_content["summary"]
        assert env.ids["number"] in summary and "US local" in summary
        assert env.sent("phone_numbers_delete") == 0
        done = await c.call_tool(
            "confirm_action", {"confirmation_id": quote.structured_content["confirmation_id"], "summary": summary}
        )
    assert not done.is_error, text_of(done)
    assert env.sent("phone_numbers_delete") == 1
