"""Approvals and quotes are bound to the mode they were made under: sandbox or live, the base URL, and the API
key (by its fingerprint). Servers under different modes share one state folder (as a sandbox and a live server
sharing the default one do) and one recording upstream; whatever another mode tries, nothing reaches it, and the
matching server sends exactly one request. Real MCP clients, the review page over HTTP, the `approvals` command."""

from __future__ import annotations

import json
import shlex
from pathlib import Path
from typing import Any

import httpx
import mcp_types as types
import pytest
from mcp import Client

from approval_helpers import API_KEY, Flow, decide, text, us_number
from helpers import Human
from telnyx_numbers_mcp.cli import main as cli_main
from telnyx_numbers_mcp.mode import Mode, fingerprint
from telnyx_numbers_mcp.sandbox import Sandbox

pytestmark = pytest.mark.anyio
ORDER = "number_orders_create"
OTHER_KEY = "KEY_Vb7Nq2Lx9Tz4Wc1Ry6"
SECRET = "Mz4Qw8Er2Ty6Ui0Op3As7Df1Gh5Jk9Lx"  # shared by the servers: only the mode tells them apart
LIVE: dict[str, Any] = {"sandbox": False}
SANDBOX: dict[str, Any] = {"sandbox": True}
# (asked under, then checked under): sandbox and live both ways, another key, another base URL
MISMATCHES: dict[str, tuple[dict[str, Any], dict[str, Any]]] = {
    "sandbox->live": (SANDBOX, LIVE),
    "live->sandbox": (LIVE, SANDBOX),
    "another key": (LIVE, {"api_key": OTHER_KEY}),
    "another base URL": (LIVE, {"base_url": "http://other-endpoint.invalid/v2"}),
}


@pytest.fixture
def flow(tmp_path: Path) -> Flow:
    return Flow(Sandbox(), tmp_path)


async def awaiting(flow: Flow, c: Client) -> tuple[str, dict[str, Any]]:
    args = {"phone_numbers": [{"phone_number": (await us_number(c))["phone_number"]}]}
    result = await flow.call(c, ORDER, args)
    data = result.structured_content
    assert isinstance(data, dict) and data["status"] == "awaiting_approval", text(result)
    return str(data["approval_id"]), args


def approve_at_the_terminal(flow: Flow, monkeypatch: pytest.MonkeyPatch, approval_id: str, **mode: Any) -> int:
    """`approvals approve ID --yes` run by the operator under `mode` (flags and environment as a shell gives)."""
    flags = flow.cli_flags()
    if mode.get("sandbox"):
        flags.append("--sandbox")
    if "base_url" in mode:
        flags[flags.index("--base-url") + 1] = mode["base_url"]
    monkeypatch.setenv("TELNYX_API_KEY", mode.get("api_key", API_KEY))
    return cli_main(["approvals", "approve", approval_id, "--yes", *flags])


@pytest.mark.parametrize("case", MISMATCHES)
async def test_check_approval_under_another_mode_sends_nothing_and_the_matching_server_sends_once(
    flow: Flow, monkeypatch: pytest.MonkeyPatch, case: str
) -> None:
    asked_under, checked_under = MISMATCHES[case]
    async with flow.client("legacy", **asked_under) as asker:
        approval_id, args = await awaiting(flow, asker)
        assert approve_at_the_terminal(flow, monkeypatch, approval_id, **asked_under) == 0
        async with flow.client("auto", **checked_under) as other:
            refused = await flow.call(other, "check_approval", {"approval_id": approval_id})
        assert refused.is_error and flow.sent(ORDER) == 0, text(refused)
        message = text(refused)
        assert "was made under" in message and "nothing was sent to Telnyx" in message
        made = "the sandbox" if asked_under.get("sandbox") else "live Telnyx"
        assert message.index(made) < message.index("this process runs under"), message
        bought = await flow.call(asker, "check_approval", {"approval_id": approval_id})
    assert not bought.is_error, text(bought)
    assert flow.sent(ORDER) == 1
    ordered = (bought.structured_content or {})["data"]["phone_numbers"]
    assert [n["phone_number"] for n in ordered] == [n["phone_number"] for n in args["phone_numbers"]]


async def test_the_issues_reproduction_a_sandbox_approval_never_buys_for_real(
    flow: Flow, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Issue 21, item 1: asked and approved in a --sandbox process, then `check_approval` on a live process
    sharing the state folder. The live process refuses; the audit record says which mode sent the one order."""
    async with flow.client("legacy", sandbox=True) as sandboxed:
        approval_id, _ = await awaiting(flow, sandboxed)
        assert approve_at_the_terminal(flow, monkeypatch, approval_id, sandbox=True) == 0
        async with flow.client("legacy") as live:
            for _ in range(3):
                refused = await flow.call(live, "check_approval", {"approval_id": approval_id})
                assert refused.is_error and "the sandbox (simulated" in text(refused)
        assert flow.sent(ORDER) == 0
        assert not (await flow.call(sandboxed, "check_approval", {"approval_id": approval_id})).is_error
    assert flow.sent(ORDER) == 1
    [request] = [r for r in flow.audit() if r["event"] == "request"]
    assert (request["sandbox"], request["base_url"], request["key_fingerprint"]) == (
        True, "http://sandbox.invalid/v2", None)  # fmt: skip
    asked = next(r for r in flow.audit() if r["event"] == "asked")
    assert asked["sandbox"] is True and asked["approval_id"] == approval_id


async def test_the_audit_names_the_live_mode_by_its_key_fingerprint_never_the_key(
    flow: Flow, monkeypatch: pytest.MonkeyPatch
) -> None:
    async with flow.client("legacy") as c:
        approval_id, _ = await awaiting(flow, c)
        assert approve_at_the_terminal(flow, monkeypatch, approval_id) == 0
        assert not (await flow.call(c, "check_approval", {"approval_id": approval_id})).is_error
    records = [r for r in flow.audit() if r["event"] in ("asked", "decided", "request")]
    assert [r["event"] for r in records] == ["asked", "decided", "request"]
    for record in records:
        assert (record["sandbox"], record["base_url"]) == (False, "http://sandbox.invalid/v2")
        assert record["key_fingerprint"] == fingerprint(API_KEY) != fingerprint(OTHER_KEY)
    assert API_KEY not in flow.tmp.joinpath("audit.jsonl").read_text()


async def test_a_2026_answer_brought_to_a_server_under_another_mode_sends_nothing(flow: Flow) -> None:
    async with flow.client("auto", elicitation_callback=Human(), sandbox=True, state_secret=SECRET) as asker:
        args = {"phone_numbers": [{"phone_number": (await us_number(asker))["phone_number"]}]}
        first = await asker.session.call_tool(ORDER, args, allow_input_required=True)
    assert isinstance(first, types.InputRequiredResult) and first.request_state
    approve: types.InputResponses = {"approve": types.ElicitResult(action="accept", content={"approve": True})}
    async with flow.client("auto", elicitation_callback=Human(), state_secret=SECRET) as live:
        answer = await live.session.call_tool(
            ORDER, args, input_responses=approve, request_state=first.request_state, allow_input_required=True
        )
    assert isinstance(answer, types.CallToolResult) and answer.is_error, answer
    assert "was made under the sandbox" in text(answer)
    assert flow.sent(ORDER) == 0
    async with flow.client("auto", elicitation_callback=Human(), sandbox=True, state_secret=SECRET) as again:
        done = await again.session.call_tool(
            ORDER, args, input_responses=approve, request_state=first.request_state, allow_input_required=True
        )
    assert isinstance(done, types.CallToolResult) and not done.is_error, done
    assert flow.sent(ORDER) == 1


async def test_the_review_page_of_a_server_under_another_mode_decides_nothing(flow: Flow) -> None:
    async with flow.client("legacy", sandbox=True) as sandboxed, flow.client("legacy") as live:
        sandbox_id, _ = await awaiting(flow, sandboxed)
        sandbox_url = flow.url()
        await awaiting(flow, live)  # starts the live server's review page (a link for its own approval)
        live_base = flow.url(count=2).split("/approvals/")[0]
        foreign = f"{live_base}/approvals/{sandbox_url.split('/approvals/')[1]}"  # a valid link, another server
        async with httpx.AsyncClient() as http:
            page = await http.get(foreign)
        assert page.status_code == 409 and "made under the sandbox" in page.text and "Approve" not in page.text
        posted = await decide(foreign, "approve", token="0" * 43)
        assert posted.status_code == 409 and flow.sent(ORDER) == 0
        done = await decide(sandbox_url, "approve")  # its own server's page
        assert done.status_code == 200 and "Approved and sent" in done.text, done.text
        assert not (await flow.call(sandboxed, "check_approval", {"approval_id": sandbox_id})).is_error
    assert flow.sent(ORDER) == 1


@pytest.mark.parametrize("case", MISMATCHES)
async def test_the_approvals_command_under_another_mode_decides_nothing_and_its_hint_works(
    flow: Flow, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], case: str
) -> None:
    asked_under, operator_under = MISMATCHES[case]
    async with flow.client("legacy", **asked_under) as asker:
        approval_id, _ = await awaiting(flow, asker)
        capsys.readouterr()
        assert approve_at_the_terminal(flow, monkeypatch, approval_id, **operator_under) == 1
        err = capsys.readouterr().err
        assert "nothing was decided" in err and "To decide it, run under that mode:" in err, err
        hint = err.split("run under that mode: ")[1].splitlines()[0]
        if asked_under.get("sandbox"):
            assert "--sandbox" in shlex.split(hint)
        else:
            assert f"the key whose fingerprint is {fingerprint(API_KEY)}" in hint and "--sandbox" not in hint
        early = await flow.call(asker, "check_approval", {"approval_id": approval_id})
        assert (early.structured_content or {}).get("status") == "awaiting_approval", text(early)
        # the operator pastes the hint, with the key it names
        monkeypatch.setenv("TELNYX_API_KEY", API_KEY)
        command = shlex.split(hint.split(" (with ")[0])
        assert command[:4] == ["telnyx-numbers-mcp", "approvals", "approve", approval_id]
        assert cli_main([*command[1:], "--yes", "--audit-log", str(flow.tmp / "audit.jsonl")]) == 0
        bought = await flow.call(asker, "check_approval", {"approval_id": approval_id})
    assert not bought.is_error, text(bought)
    assert flow.sent(ORDER) == 1


async def test_the_approvals_command_lists_its_own_modes_approvals_unless_told_all_modes(
    flow: Flow, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("TELNYX_API_KEY", API_KEY)
    async with flow.client("legacy", sandbox=True) as sandboxed, flow.client("legacy") as live:
        sandbox_id, _ = await awaiting(flow, sandboxed)
        live_id, _ = await awaiting(flow, live)
    capsys.readouterr()
    assert cli_main(["approvals", *flow.cli_flags()]) == 0
    own = capsys.readouterr()
    assert live_id in own.out and sandbox_id not in own.out
    assert "1 more waiting under other modes" in own.err and "--all-modes" in own.err
    assert cli_main(["approvals", "--sandbox", *flow.cli_flags()]) == 0
    sandboxed_list = capsys.readouterr().out
    assert sandbox_id in sandboxed_list and live_id not in sandboxed_list
    assert cli_main(["approvals", "--all-modes", *flow.cli_flags()]) == 0
    every = capsys.readouterr().out
    assert sandbox_id in every and live_id in every
    assert "made under the sandbox" in every and f"with the API key {fingerprint(API_KEY)}" in every
    assert f"decide it under that mode: telnyx-numbers-mcp approvals approve {sandbox_id} --sandbox" in every


@pytest.mark.parametrize("case", MISMATCHES)
async def test_a_quote_redeemed_under_another_mode_sends_nothing(flow: Flow, case: str) -> None:
    """--purchase-policy host-confirm: quotes live in the shared store and carry their mode too."""
    asked_under, confirmed_under = MISMATCHES[case]
    host = {"purchase_policy": "host-confirm", "state_secret": SECRET}
    async with flow.client("legacy", **host, **asked_under) as asker:
        args = {"phone_numbers": [{"phone_number": (await us_number(asker))["phone_number"]}]}
        quoted = await flow.call(asker, ORDER, args)
        data = quoted.structured_content
        assert isinstance(data, dict) and data["status"] == "awaiting_confirmation", text(quoted)
        confirm = {"confirmation_id": data["confirmation_id"], "summary": data["summary"]}
        async with flow.client("legacy", **host, **confirmed_under) as other:
            refused = await flow.call(other, "confirm_action", confirm)
        assert refused.is_error and "was made under" in text(refused) and flow.sent(ORDER) == 0, text(refused)
        done = await flow.call(asker, "confirm_action", confirm)
    assert not done.is_error, text(done)
    assert flow.sent(ORDER) == 1
    [refusal] = [r for r in flow.audit() if r["event"] == "confirm_refused"]
    assert "was made under" in refusal["reason"]


def test_a_mode_is_named_by_what_it_runs_against_and_never_holds_the_key() -> None:
    from telnyx_numbers_mcp.config import build_settings

    live = Mode.of(build_settings({"api_key": API_KEY}, {}))
    assert live == Mode(False, "https://api.telnyx.com/v2", fingerprint(API_KEY))
    assert API_KEY not in live.key and API_KEY not in live.describe() and live.flags() == []
    assert Mode.from_key(live.key) == live and Mode.from_key(None) is None and Mode.from_key("[1]") is None
    sandboxed = Mode.of(build_settings({"sandbox": True, "api_key": API_KEY}, {}))
    assert sandboxed == Mode(True, "http://sandbox.invalid/v2", None) and sandboxed.flags() == ["--sandbox"]
    other = Mode.of(build_settings({"api_key": API_KEY, "base_url": "https://proxy.example/v2/"}, {}))
    assert other.flags() == ["--base-url", "https://proxy.example/v2"] and other.key != live.key
    assert len({fingerprint(API_KEY), fingerprint(OTHER_KEY), fingerprint(API_KEY + " ")}) == 3
    assert json.loads(live.key) == live.record()
