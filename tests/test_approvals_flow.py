"""The human-approval flow for clients that cannot elicit (the default policy): a real MCP client in both
protocol eras, the sandbox as the recording Telnyx endpoint, and the review page driven over real HTTP.
Every test counts the purchase requests that reached the endpoint."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import anyio
import httpx
import mcp_types as types
import pytest
from mcp import Client, MCPError

from approval_helpers import API_KEY, Flow, decide, form_token, origin, text, us_number
from helpers import Human
from telnyx_numbers_mcp.cli import main as cli_main
from telnyx_numbers_mcp.sandbox import Sandbox

pytestmark = pytest.mark.anyio
ORDER = "number_orders_create"


@pytest.fixture
def flow(tmp_path: Path) -> Flow:
    return Flow(Sandbox(), tmp_path)


@pytest.fixture(params=["legacy", "auto"])
def mode(request: pytest.FixtureRequest) -> str:
    return str(request.param)


async def awaiting(flow: Flow, c: Client, args: dict[str, Any] | None = None) -> tuple[str, dict[str, Any]]:
    """Order one number; without elicitation and with --approval-wait 0 it comes back awaiting approval."""
    if args is None:
        args = {"phone_numbers": [{"phone_number": (await us_number(c))["phone_number"]}]}
    result = await flow.call(c, ORDER, args)
    assert not result.is_error, text(result)
    data = result.structured_content
    assert isinstance(data, dict) and data["status"] == "awaiting_approval", data
    assert "NOTHING HAS BEEN SENT" in text(result) and "check_approval" in text(result)
    return str(data["approval_id"]), args


async def check(flow: Flow, c: Client, approval_id: str) -> types.CallToolResult:
    return await flow.call(c, "check_approval", {"approval_id": approval_id})


async def test_the_default_policy_offers_check_approval_not_confirm_action(flow: Flow, mode: str) -> None:
    async with flow.client(mode) as c:
        names = {t.name for t in (await c.list_tools()).tools}
    assert "check_approval" in names and "confirm_action" not in names
    async with flow.client(mode, purchase_policy="host-confirm") as c:
        names = {t.name for t in (await c.list_tools()).tools}
    assert "confirm_action" in names and "check_approval" not in names


async def test_approve_on_the_review_page_sends_one_order_and_check_approval_returns_it(flow: Flow, mode: str) -> None:
    async with flow.client(mode) as c:
        approval_id, args = await awaiting(flow, c)
        url = flow.url()
        before = await check(flow, c, approval_id)  # before the decision: pending, nothing sent
        assert not before.is_error and (before.structured_content or {})["status"] == "awaiting_approval"
        assert flow.sent(ORDER) == 0
        async with httpx.AsyncClient() as http:
            page = await http.get(url)
        assert page.status_code == 200
        assert args["phone_numbers"][0]["phone_number"] in page.text and "USD" in page.text
        assert "Approve" in page.text and "Decline" in page.text and "Expires in" in page.text
        done = await decide(url, "approve")
        assert done.status_code == 200 and "Approved and sent" in done.text, done.text
        assert flow.sent(ORDER) == 1
        first = await check(flow, c, approval_id)
        again = await check(flow, c, approval_id)
    assert not first.is_error, text(first)
    order = (first.structured_content or {})["data"]
    assert order["id"] in done.text and order["status"] in done.text  # the page shows what happened
    assert again.structured_content == first.structured_content
    assert flow.sent(ORDER) == 1
    flow.assert_secret_never_seen()
    decided = [r for r in flow.audit() if r["event"] == "decided"]
    assert [(r["channel"], r["approved"]) for r in decided] == [("review-page", True)]
    request = next(r for r in flow.audit() if r["event"] == "request")
    assert request["approval"]["how"] == "review-page" and request["approval_id"] == approval_id


async def test_a_purchase_waiting_for_the_decision_returns_the_order_itself(flow: Flow) -> None:
    seen_progress: list[float] = []

    async def on_progress(progress: float, total: float | None, message: str | None) -> None:
        seen_progress.append(progress)

    async with flow.client("legacy", approval_wait=30) as c:
        number = (await us_number(c))["phone_number"]
        results: list[types.CallToolResult] = []

        async def buy() -> None:
            results.append(
                await c.call_tool(ORDER, {"phone_numbers": [{"phone_number": number}]}, progress_callback=on_progress)
            )

        async with anyio.create_task_group() as tg:
            tg.start_soon(buy)
            url = await anyio.to_thread.run_sync(flow.url)
            while not seen_progress:  # the call is waiting (and says so) before the human decides
                await anyio.sleep(0.05)
            await decide(url, "approve")
    [result] = results
    assert not result.is_error, text(result)
    assert (result.structured_content or {})["data"]["phone_numbers"][0]["phone_number"] == number
    assert flow.sent(ORDER) == 1


async def test_decline_on_the_page_sends_nothing(flow: Flow, mode: str) -> None:
    async with flow.client(mode) as c:
        approval_id, _ = await awaiting(flow, c)
        async with httpx.AsyncClient() as http:
            token = form_token((await http.get(flow.url())).text)
        done = await decide(flow.url(), "decline")
        assert done.status_code == 200 and "Declined" in done.text and "Nothing was sent" in done.text
        result = await check(flow, c, approval_id)
        late = await decide(flow.url(), "approve", token=token)  # approving a declined one changes nothing
    assert result.is_error and "declined" in text(result).lower() and "nothing was sent" in text(result).lower()
    assert "changed nothing" in late.text
    assert flow.sent(ORDER) == 0
    flow.assert_secret_never_seen()


async def test_an_expired_approval_sends_nothing(flow: Flow) -> None:
    async with flow.client("legacy", approval_ttl=3) as c:  # long enough to load the page on a busy machine
        approval_id, _ = await awaiting(flow, c)
        url = flow.url()
        async with httpx.AsyncClient() as http:
            token = form_token((await http.get(url)).text)
        await anyio.sleep(3.2)
        done = await decide(url, "approve", token=token)
        result = await check(flow, c, approval_id)
    assert "Expired" in done.text and "Nothing was sent" in done.text
    assert result.is_error and "expired" in text(result)
    assert flow.sent(ORDER) == 0


async def test_forged_or_altered_links_and_tokens_change_nothing(flow: Flow) -> None:
    async with flow.client("legacy") as c:
        first_id, args = await awaiting(flow, c)
        url = flow.url()
        other_id, _ = await awaiting(flow, c, {**args, "customer_reference": "another-request"})
        other_url = flow.url(count=2)
        assert other_url != url
        base, secret = url.split("?t=")
        altered = [
            f"{base}?t={secret[:-1]}{'0' if secret[-1] != '0' else '1'}",
            f"{base}?t=",
            base,
            url.replace(first_id, other_id),  # another approval's id with this one's secret
        ]
        async with httpx.AsyncClient() as http:
            token = form_token((await http.get(url)).text)
            other_token = form_token((await http.get(other_url)).text)
            for bad in altered:
                page = await http.get(bad)
                assert page.status_code == 404 and "not valid" in page.text
                post = await http.post(
                    bad, data={"token": token, "decision": "approve"}, headers={"Origin": origin(url)}
                )
                assert post.status_code == 404 and "Nothing was approved" in post.text
            for bad_token in ("", token[:-1] + "x", other_token):  # the token is bound to this approval
                post = await http.post(url, data={"token": bad_token, "decision": "approve"},
                                       headers={"Origin": origin(url)})  # fmt: skip
                assert post.status_code == 403 and "Nothing was approved" in post.text
            for bad_origin in ("http://evil.example", "null", origin(url) + ".evil.example", ""):
                post = await http.post(url, data={"token": token, "decision": "approve"},
                                       headers={"Origin": bad_origin} if bad_origin else {})  # fmt: skip
                assert post.status_code == 403 and "Origin" in post.text
            wrong_host = await http.get(url, headers={"Host": "attacker.example"})
            assert wrong_host.status_code == 421
        pending = await check(flow, c, first_id)
    assert (pending.structured_content or {})["status"] == "awaiting_approval"
    assert flow.sent(ORDER) == 0


async def test_check_approval_refuses_bad_and_unknown_ids_naming_the_field(flow: Flow) -> None:
    async with flow.client("legacy") as c:
        await awaiting(flow, c)
        bad = await check(flow, c, "ap_../../etc")
        unknown = await check(flow, c, "ap_" + "0" * 20)
    assert bad.is_error and "approval_id" in text(bad) and "nothing was sent" in text(bad).lower()
    assert unknown.is_error and "No approval" in text(unknown)
    assert flow.sent(ORDER) == 0


async def test_twenty_concurrent_check_approval_calls_send_one_order(
    flow: Flow, mode: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("TELNYX_API_KEY", API_KEY)  # the operator's command runs under the server's mode
    async with flow.client(mode) as c:
        approval_id, _ = await awaiting(flow, c)
        assert cli_main(["approvals", "approve", approval_id, "--yes", *flow.cli_flags()]) == 0
        assert flow.sent(ORDER) == 0  # the terminal decides; the server sends
        results: list[types.CallToolResult] = []

        async def one() -> None:
            results.append(await check(flow, c, approval_id))

        async with anyio.create_task_group() as tg:
            for _ in range(20):
                tg.start_soon(one)
    assert flow.sent(ORDER) == 1
    assert len(results) == 20 and not any(r.is_error for r in results), [text(r) for r in results if r.is_error]
    assert len({json.dumps(r.structured_content, sort_keys=True) for r in results}) == 1


async def test_the_terminal_lists_approves_and_declines(
    flow: Flow, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("TELNYX_API_KEY", API_KEY)
    state = flow.cli_flags()
    async with flow.client("legacy") as c:
        first, args = await awaiting(flow, c)
        second, _ = await awaiting(flow, c, {**args, "customer_reference": "second-request"})
        capsys.readouterr()
        assert cli_main(["approvals", *state]) == 0
        listed = capsys.readouterr().out
        assert first in listed and second in listed and args["phone_numbers"][0]["phone_number"] in listed
        assert cli_main(["approvals", "decline", second, *state]) == 0
        assert cli_main(["approvals", "approve", second, "--yes", *state]) == 1  # decided once
        assert "already declined" in capsys.readouterr().err
        assert cli_main(["approvals", "approve", "nonsense", *state]) == 2
        assert cli_main(["approvals", "approve", first, "--yes", *state]) == 0
        capsys.readouterr()
        assert cli_main(["approvals", *state]) == 0
        assert "No approvals are waiting" in capsys.readouterr().out
        declined = await check(flow, c, second)
        approved = await check(flow, c, first)
    assert declined.is_error and "terminal" in text(declined)
    assert not approved.is_error, text(approved)
    assert flow.sent(ORDER) == 1
    channels = [(r["approval_id"], r["channel"], r["approved"]) for r in flow.audit() if r["event"] == "decided"]
    assert channels == [(second, "terminal", False), (first, "terminal", True)]


async def test_changed_arguments_need_a_new_approval(flow: Flow) -> None:
    async with flow.client("legacy") as c:
        approval_id, args = await awaiting(flow, c)
        await decide(flow.url(), "approve")
        assert flow.sent(ORDER) == 1
        changed = json.loads(json.dumps(args))
        changed["customer_reference"] = "another-order"
        again, _ = await awaiting(flow, c, changed)
    assert again != approval_id
    assert flow.sent(ORDER) == 1


async def test_the_notify_command_gets_no_secret_from_the_environment(flow: Flow) -> None:
    """The URL reaches --approval-notify, the Telnyx key does not (checked in Flow.url)."""
    server = flow.server()
    async with flow.client("legacy", server=server) as c:
        await awaiting(flow, c)
    assert flow.url().startswith("http://127.0.0.1:")
    assert API_KEY not in flow.urls_file.read_text()


# --- URL elicitation (2025-11-25 mode "url") -------------------------------------------------------------


@pytest.fixture
def url_only_client(monkeypatch: pytest.MonkeyPatch) -> None:
    """The SDK's client declares form and URL elicitation together; a client like VS Code's may declare URL
    mode alone, so the capability advert is narrowed to URL mode."""
    from mcp.client.session import ClientSession

    original = ClientSession._build_capabilities

    def url_only(self: ClientSession, version: str) -> types.ClientCapabilities:
        caps = original(self, version)
        if caps.elicitation is not None:
            caps = caps.model_copy(
                update={"elicitation": types.ElicitationCapability(url=types.UrlElicitationCapability())}
            )
        return caps

    monkeypatch.setattr(ClientSession, "_build_capabilities", url_only)


async def test_url_elicitation_hands_the_page_to_the_client_which_approves_there(
    flow: Flow, mode: str, url_only_client: None
) -> None:
    shown: list[str] = []

    async def user(context: Any, params: types.ElicitRequestParams) -> types.ElicitResult:
        assert isinstance(params, types.ElicitRequestURLParams), params
        shown.append(params.url)
        done = await decide(params.url, "approve")  # the user opens the page and clicks Approve
        assert done.status_code == 200, done.text
        return types.ElicitResult(action="accept")

    async with flow.client(mode, elicitation_callback=user, approval_wait=30) as c:
        number = (await us_number(c))["phone_number"]
        result = await flow.call(c, ORDER, {"phone_numbers": [{"phone_number": number}]})
    assert not result.is_error, text(result)
    assert (result.structured_content or {})["data"]["phone_numbers"][0]["phone_number"] == number
    assert len(shown) == 1 and "?t=" in shown[0]
    assert flow.sent(ORDER) == 1
    for seen in flow.seen:
        assert shown[0] not in seen and shown[0].split("?t=")[1] not in seen
    decided = [r for r in flow.audit() if r["event"] == "decided"]
    assert [(r["channel"], r["approved"]) for r in decided] == [("url-elicitation", True)]


async def test_url_elicitation_declined_by_the_user_sends_nothing(flow: Flow, mode: str, url_only_client: None) -> None:
    async def user(context: Any, params: types.ElicitRequestParams) -> types.ElicitResult:
        return types.ElicitResult(action="decline")

    async with flow.client(mode, elicitation_callback=user) as c:
        result = await flow.call(c, ORDER, {"phone_numbers": [{"phone_number": (await us_number(c))["phone_number"]}]})
    assert result.is_error and "nothing was sent" in text(result).lower()
    assert flow.sent(ORDER) == 0


# --- the 2026-07-28 replay (#16 item 1) ------------------------------------------------------------------

APPROVE: dict[str, types.InputResponse] = {"approve": types.ElicitResult(action="accept", content={"approve": True})}


async def ask(c: Client, args: dict[str, Any]) -> str:
    first = await c.session.call_tool(ORDER, args, allow_input_required=True)
    assert isinstance(first, types.InputRequiredResult) and first.request_state
    return first.request_state


async def answer(c: Client, args: dict[str, Any], state: str) -> types.CallToolResult | None:
    try:
        result = await c.session.call_tool(
            ORDER, args, input_responses=APPROVE, request_state=state, allow_input_required=True
        )
    except MCPError:
        return None  # refused outright
    assert isinstance(result, types.CallToolResult)
    return result


async def answer_together(
    c: Client, args: dict[str, Any], state: str, count: int = 20
) -> list[types.CallToolResult | None]:
    """The same 2026 answer sent `count` times at once, as a replaying client would."""
    replies: list[types.CallToolResult | None] = []

    async def one() -> None:
        replies.append(await answer(c, args, state))

    async with anyio.create_task_group() as tg:
        for _ in range(count):
            tg.start_soon(one)
    return replies


async def human(context: Any, params: types.ElicitRequestParams) -> types.ElicitResult:
    return types.ElicitResult(action="accept", content={"approve": True})


async def test_a_replayed_2026_approval_is_refused_sequentially_concurrently_and_from_a_new_session(
    flow: Flow,
) -> None:
    server = flow.server()
    async with flow.client("auto", server=server, elicitation_callback=human) as c:
        args = {"phone_numbers": [{"phone_number": (await us_number(c))["phone_number"]}]}
        state = await ask(c, args)
        first = await answer(c, args, state)
        assert first is not None and not first.is_error, first
        assert flow.sent(ORDER) == 1
        for _ in range(5):
            replay = await answer(c, args, state)
            assert replay is not None and replay.is_error and "replay" in text(replay), replay
        replies = await answer_together(c, args, state)
        assert all(r is None or r.is_error for r in replies)
    assert flow.sent(ORDER) == 1
    async with flow.client("auto", server=server, elicitation_callback=human) as fresh:  # a new session
        replay = await answer(fresh, args, state)
    assert replay is None or (replay.is_error and "nothing was sent" in text(replay).lower())
    assert flow.sent(ORDER) == 1


async def test_twenty_concurrent_answers_to_one_2026_question_send_one_order(flow: Flow) -> None:
    async with flow.client("auto", elicitation_callback=human) as c:
        args = {"phone_numbers": [{"phone_number": (await us_number(c))["phone_number"]}]}
        state = await ask(c, args)
        replies = await answer_together(c, args, state)
    assert flow.sent(ORDER) == 1
    assert sum(1 for r in replies if r is not None and not r.is_error) == 1


# --- review-only: no MCP client can approve, not even one an agent runs itself --------------------------


async def test_review_only_never_asks_through_the_client_and_an_answer_brought_by_a_client_approves_nothing(
    flow: Flow, mode: str
) -> None:
    human = Human()  # a client that would approve anything it is asked, as an agent's own client would
    async with flow.client(mode, elicitation_callback=human, purchase_policy="review-only") as c:
        names = {t.name for t in (await c.list_tools()).tools}
        args = {"phone_numbers": [{"phone_number": (await us_number(c))["phone_number"]}]}
        result = await c.session.call_tool(ORDER, args, allow_input_required=True)
        assert isinstance(result, types.CallToolResult), result  # no question for the client to answer
        data = result.structured_content or {}
        assert data.get("status") == "awaiting_approval", text(result)
        assert human.asked == [] and flow.sent(ORDER) == 0
        done = await decide(flow.url(), "approve")  # the human, on the review page
        assert done.status_code == 200 and "Approved and sent" in done.text
    assert "check_approval" in names
    assert flow.sent(ORDER) == 1


async def test_under_review_only_an_answer_to_a_question_another_server_asked_approves_nothing(flow: Flow) -> None:
    """A server with another policy (sharing the store and secret) asked in the client; the review-only server
    takes no answer from a client: the approval goes to the review page, and only the human there decides."""
    secret = {"state_secret": "Nc5Vb8Mx2Lz7Kq4Wr9Ty3Ui6Op1As0Df"}
    async with flow.client("auto", elicitation_callback=Human(), **secret) as asker:
        args = {"phone_numbers": [{"phone_number": (await us_number(asker))["phone_number"]}]}
        state = await ask(asker, args)
    async with flow.client("auto", elicitation_callback=Human(), purchase_policy="review-only", **secret) as c:
        brought = await c.session.call_tool(
            ORDER, args, input_responses=APPROVE, request_state=state, allow_input_required=True
        )
        assert isinstance(brought, types.CallToolResult), brought
        assert (brought.structured_content or {}).get("status") == "awaiting_approval", text(brought)
        assert flow.sent(ORDER) == 0
        done = await decide(flow.url(), "approve")  # moved to the review page, announced once
        assert done.status_code == 200 and "Approved and sent" in done.text, done.text
    assert flow.sent(ORDER) == 1
