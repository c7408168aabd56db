"""What keeps the human from being flooded, and an approval from outliving its time: one approval per request
(repeats, even concurrent ones in several processes, get the pending one back and notify no one), at most
--max-pending-approvals waiting, long strings refused before anything is stored, an approved approval that
expires before it is carried out sends nothing, and `approvals approve` shows the whole summary and asks first.
Real MCP clients against the recording sandbox; the --approval-notify recorder counts notifications."""

from __future__ import annotations

import os
import pty
import re
import sqlite3
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import anyio
import httpx
import mcp_types as types
import pytest
from mcp import Client

from approval_helpers import API_KEY, Flow, text, us_number
from sandbox_helpers import child_env
from telnyx_numbers_mcp.app import build_server
from telnyx_numbers_mcp.calls.validate import STRING_LIMIT
from telnyx_numbers_mcp.catalog import load_catalog
from telnyx_numbers_mcp.cli import main as cli_main
from telnyx_numbers_mcp.config import build_settings
from telnyx_numbers_mcp.sandbox import Sandbox, create_app

pytestmark = pytest.mark.anyio
ORDER = "number_orders_create"


@pytest.fixture
def flow(tmp_path: Path) -> Flow:
    return Flow(Sandbox(), tmp_path)


def notifications(flow: Flow) -> int:
    return len(flow.urls_file.read_text().splitlines()) if flow.urls_file.exists() else 0


def stored_approvals(flow: Flow) -> list[tuple[str, str]]:
    """(id, status) of every approval in the flow's store, read straight from the SQLite file."""
    with sqlite3.connect(flow.state / "state.sqlite3") as db:
        return [(str(i), str(s)) for i, s in db.execute("SELECT id, status FROM approvals ORDER BY created_at")]


async def order_args(c: Client, reference: str | None = None) -> dict[str, Any]:
    args: dict[str, Any] = {"phone_numbers": [{"phone_number": (await us_number(c))["phone_number"]}]}
    if reference is not None:
        args["customer_reference"] = reference
    return args


def awaiting_id(result: types.CallToolResult) -> str:
    data = result.structured_content
    assert isinstance(data, dict) and data["status"] == "awaiting_approval", text(result)
    return str(data["approval_id"])


# --- one approval per request ----------------------------------------------------------------------


async def test_twenty_identical_concurrent_requests_make_one_approval_and_one_notification(flow: Flow) -> None:
    async with flow.client("legacy") as c:
        args = await order_args(c)
        results: list[types.CallToolResult] = []

        async def ask() -> None:
            results.append(await flow.call(c, ORDER, args))

        async with anyio.create_task_group() as tg:
            for _ in range(20):
                tg.start_soon(ask)
        assert len({awaiting_id(r) for r in results}) == 1  # every repeat got the same awaiting answer
        approval_id = awaiting_id(results[0])
        flow.url()  # the one notification arrived
        await anyio.sleep(0.5)  # a second one would have been started by now
        assert notifications(flow) == 1
        assert stored_approvals(flow) == [(approval_id, "pending")]
        asked = [r for r in flow.audit() if r["event"] == "asked"]
        assert [r["approval_id"] for r in asked] == [approval_id]
    assert flow.sent(ORDER) == 0


async def test_identical_requests_in_two_server_processes_on_one_store_make_one_approval(flow: Flow) -> None:
    """Two servers (two runtimes, two connections to one SQLite file, as two processes): still one approval."""
    async with flow.client("legacy") as a, flow.client("auto") as b:
        args = await order_args(a)
        results: list[types.CallToolResult] = []

        async def ask(c: Client) -> None:
            results.append(await flow.call(c, ORDER, args))

        async with anyio.create_task_group() as tg:
            for i in range(20):
                tg.start_soon(ask, a if i % 2 else b)
    assert len({awaiting_id(r) for r in results}) == 1
    assert len(stored_approvals(flow)) == 1
    flow.url()
    await anyio.sleep(0.5)
    assert notifications(flow) == 1


async def test_a_repeat_after_a_decision_is_a_new_request(flow: Flow, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TELNYX_API_KEY", API_KEY)
    async with flow.client("legacy") as c:
        args = await order_args(c, "decline-then-ask-again")
        first = awaiting_id(await flow.call(c, ORDER, args))
        assert cli_main(["approvals", "decline", first, *flow.cli_flags()]) == 0
        second = awaiting_id(await flow.call(c, ORDER, args))
        flow.url(count=2)  # its human is told again: a new approval
    assert second != first and notifications(flow) == 2
    assert stored_approvals(flow) == [(first, "declined"), (second, "pending")]


async def test_a_2026_repeat_gets_the_same_question_back_and_one_answer_buys_once(flow: Flow) -> None:
    from helpers import Human

    approve: types.InputResponses = {"approve": types.ElicitResult(action="accept", content={"approve": True})}
    async with flow.client("auto", elicitation_callback=Human()) as c:
        args = await order_args(c)
        first = await c.session.call_tool(ORDER, args, allow_input_required=True)
        again = await c.session.call_tool(ORDER, args, allow_input_required=True)
        assert isinstance(first, types.InputRequiredResult) and isinstance(again, types.InputRequiredResult)
        assert len(stored_approvals(flow)) == 1
        done = await c.session.call_tool(
            ORDER, args, input_responses=approve, request_state=again.request_state, allow_input_required=True
        )
        replay = await c.session.call_tool(
            ORDER, args, input_responses=approve, request_state=first.request_state, allow_input_required=True
        )
    assert isinstance(done, types.CallToolResult) and not done.is_error, done
    assert isinstance(replay, types.CallToolResult) and replay.is_error  # the same approval, answered once
    assert flow.sent(ORDER) == 1


# --- floods ----------------------------------------------------------------------------------------


async def test_three_hundred_guarded_calls_leave_at_most_ten_pending_and_the_rest_name_them(flow: Flow) -> None:
    async with flow.client("legacy") as c:
        base = await order_args(c)
        results: dict[int, types.CallToolResult] = {}

        async def ask(i: int) -> None:
            results[i] = await flow.call(c, ORDER, {**base, "customer_reference": f"flood-{i}"})

        for batch in range(0, 300, 50):  # 50 in flight at a time
            async with anyio.create_task_group() as tg:
                for i in range(batch, batch + 50):
                    tg.start_soon(ask, i)
        listed = await anyio.to_thread.run_sync(lambda: _approvals_command(flow))
    waiting = [awaiting_id(r) for r in results.values() if not r.is_error]
    refused = [text(r) for r in results.values() if r.is_error]
    assert len(waiting) == 10 and len(refused) == 290
    assert [s for _, s in stored_approvals(flow)] == ["pending"] * 10  # nothing else was stored
    for message in refused:
        assert "--max-pending-approvals 10" in message and "nothing was stored, sent or shown" in message
        assert set(re.findall(r"ap_[0-9a-f]{20}", message)) == set(waiting)  # names every pending one
        assert ORDER in message and "expires" in message
    assert notifications(flow) == 10
    assert flow.sent(ORDER) == 0
    assert all(approval_id in listed.stdout for approval_id in waiting), listed.stdout
    assert len([r for r in flow.audit() if r["event"] == "asked"]) == 10


async def test_the_limit_is_a_setting_and_the_list_shows_every_pending_approval(
    flow: Flow, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("TELNYX_API_KEY", API_KEY)
    monkeypatch.setenv("TELNYX_MCP_MAX_PENDING_APPROVALS", "102")  # the environment sets it too
    assert build_settings({}, None).max_pending_approvals == 102
    settings = build_settings({**flow.flags(), "approval_notify": None, "no_browser": True}, None)
    server = build_server(settings, transport=httpx.ASGITransport(app=create_app(flow.sb)))
    async with Client(server, mode="legacy") as c:
        base = await order_args(c)
        made = [awaiting_id(await c.call_tool(ORDER, {**base, "customer_reference": f"r-{i}"})) for i in range(102)]
        over = await c.call_tool(ORDER, {**base, "customer_reference": "one-too-many"})
    assert over.is_error and "--max-pending-approvals 102" in text(over) and "and 82 more" in text(over)
    capsys.readouterr()
    assert cli_main(["approvals", *flow.cli_flags()]) == 0
    listed = capsys.readouterr().out
    assert all(approval_id in listed for approval_id in made)  # no cap at 100: the oldest one too
    assert listed.index(made[0]) < listed.index(made[-1])  # oldest first


async def test_long_strings_are_refused_per_field_before_anything_is_stored(flow: Flow) -> None:
    async with flow.client("legacy") as c:
        args = await order_args(c)
        huge = await flow.call(c, ORDER, {**args, "customer_reference": "x" * 5_000_000})
        over = await flow.call(c, ORDER, {**args, "customer_reference": "y" * (STRING_LIMIT + 1)})
        at_limit = await flow.call(c, ORDER, {**args, "customer_reference": "z" * STRING_LIMIT})
        spec_limited = await flow.call(c, "advanced_orders_create", {"comments": "c" * 256, "quantity": 1})
    for refused in (huge, over):
        message = text(refused)
        assert refused.is_error and "customer_reference: is" in message and "expected at most 1000" in message
        assert "the spec sets no limit" in message and len(message) < 2000
    assert "5000000 characters long" in text(huge)
    assert spec_limited.is_error and "comments: is 256 characters long; expected at most 255" in text(spec_limited)
    assert "spec sets no limit" not in text(spec_limited)  # the spec's own maxLength
    awaiting_id(at_limit)  # exactly 1,000 characters are fine
    assert len(stored_approvals(flow)) == 1 and notifications(flow) <= 1
    assert "x" * 1000 not in flow.tmp.joinpath("audit.jsonl").read_text()
    assert flow.sent(ORDER) == 0 and flow.sent("advanced_orders_create") == 0


def test_every_string_a_tool_takes_has_a_limit_where_arguments_are_validated() -> None:
    """The spec's maxLength where it has one (it survives the lean schemas in tool_specs/), else STRING_LIMIT."""
    from telnyx_numbers_mcp.calls.validate import make_validator

    spec_limits = 0

    def walk(node: Any, path: str) -> None:
        nonlocal spec_limits
        if isinstance(node, list):
            for item in node:
                walk(item, path)
            return
        if not isinstance(node, dict):
            return
        kind = node.get("type")
        kinds = kind if isinstance(kind, list) else [kind]
        if "string" in kinds and "enum" not in node and "const" not in node:
            assert isinstance(node.get("maxLength"), int), path
            spec_limits += "x-telnyx-numbers-mcp-limit" not in node
        for key, value in node.items():
            if key == "properties":
                for name, sub in value.items():
                    walk(sub, f"{path}.{name}")
            elif isinstance(value, dict | list):
                walk(value, path)

    for tool in load_catalog():
        walk(make_validator(tool.input_schema).schema, tool.name)
    assert spec_limits == 8  # the spec's own limits (advanced orders, customer service records) are kept


# --- an approval's time -----------------------------------------------------------------------------


async def test_an_approval_approved_but_not_carried_out_before_it_expires_sends_nothing(
    flow: Flow, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("TELNYX_API_KEY", API_KEY)
    async with flow.client("legacy", approval_ttl=5) as c:
        approval_id = awaiting_id(await flow.call(c, ORDER, await order_args(c)))
        assert cli_main(["approvals", "approve", approval_id, "--yes", *flow.cli_flags()]) == 0
        while time.time() < (await anyio.to_thread.run_sync(lambda: _expires_at(flow, approval_id))):
            await anyio.sleep(0.1)  # waiting for its expiry, which is the point of the test
        late = await flow.call(c, "check_approval", {"approval_id": approval_id})
        again = await flow.call(c, "check_approval", {"approval_id": approval_id})
    assert late.is_error and "was approved but not carried out before it expired" in text(late), text(late)
    assert again.is_error and "nothing was sent" in text(again)
    assert flow.sent(ORDER) == 0
    assert stored_approvals(flow) == [(approval_id, "expired")]
    assert not [r for r in flow.audit() if r["event"] == "request"]


def _approvals_command(flow: Flow) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "telnyx_numbers_mcp", "approvals", *flow.cli_flags()],
        env=child_env(TELNYX_API_KEY=API_KEY), capture_output=True, text=True, timeout=60,
    )  # fmt: skip


def _expires_at(flow: Flow, approval_id: str) -> float:
    with sqlite3.connect(flow.state / "state.sqlite3") as db:
        return float(db.execute("SELECT expires_at FROM approvals WHERE id = ?", (approval_id,)).fetchone()[0])


# --- `approvals approve` shows everything, then asks ------------------------------------------------


async def test_approvals_approve_without_a_terminal_needs_yes_and_decides_nothing_without_it(
    flow: Flow, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("TELNYX_API_KEY", API_KEY)
    async with flow.client("legacy") as c:
        args = await order_args(c)
        approval_id = awaiting_id(await flow.call(c, ORDER, args))
        capsys.readouterr()
        assert cli_main(["approvals", "approve", approval_id, *flow.cli_flags()]) == 1
        shown = capsys.readouterr()
        assert args["phone_numbers"][0]["phone_number"] in shown.out and "Total: upfront" in shown.out
        assert "--yes" in shown.err and "Nothing was decided" in shown.err
        assert stored_approvals(flow) == [(approval_id, "pending")]
        assert not [r for r in flow.audit() if r["event"] == "decided"]
        pending = await flow.call(c, "check_approval", {"approval_id": approval_id})
        assert (pending.structured_content or {})["status"] == "awaiting_approval"
    assert flow.sent(ORDER) == 0


@pytest.mark.slow
@pytest.mark.parametrize(("answer", "approved"), [("n", False), ("yes", True), ("", False), ("y", True)])
async def test_approvals_approve_on_a_terminal_shows_the_summary_then_asks_once(
    flow: Flow, answer: str, approved: bool
) -> None:
    async with flow.client("legacy") as c:
        args = await order_args(c)
        approval_id = awaiting_id(await flow.call(c, ORDER, args))
        output, code = await anyio.to_thread.run_sync(lambda: _on_a_terminal(flow, approval_id, answer))
        assert args["phone_numbers"][0]["phone_number"] in output and "Total: upfront" in output
        assert output.index("Total: upfront") < output.index("Type y or yes to approve")  # the summary first
        assert output.count("Type y or yes to approve") == 1  # asked once
        assert code == (0 if approved else 1), output
        assert stored_approvals(flow) == [(approval_id, "approved" if approved else "pending")]
        if approved:
            assert not (await flow.call(c, "check_approval", {"approval_id": approval_id})).is_error
    assert flow.sent(ORDER) == (1 if approved else 0)


def _on_a_terminal(flow: Flow, approval_id: str, answer: str) -> tuple[str, int]:
    """`approvals approve ID` with a pseudo-terminal as stdin, stdout and stderr; types `answer` once asked."""
    leader, follower = pty.openpty()
    proc = subprocess.Popen(
        [sys.executable, "-m", "telnyx_numbers_mcp", "approvals", "approve", approval_id, *flow.cli_flags()],
        stdin=follower, stdout=follower, stderr=follower, env=child_env(TELNYX_API_KEY=API_KEY), close_fds=True,
    )  # fmt: skip
    os.close(follower)
    output = b""
    deadline = time.monotonic() + 60
    while b"to approve: " not in output and time.monotonic() < deadline and proc.poll() is None:
        output += _read(leader)
    os.write(leader, answer.encode() + b"\n")
    code = proc.wait(timeout=60)
    while chunk := _read(leader):
        output += chunk
    os.close(leader)
    return output.decode(errors="replace"), code


def _read(fd: int) -> bytes:
    try:
        return os.read(fd, 4096)
    except OSError:  # the terminal's other side has closed
        return b""
