"""The telnyx-numbers-mcp command line: tools, call, and its exit codes."""

from __future__ import annotations

import json
import os
import shlex
import subprocess
import sys
from pathlib import Path

import pytest

from helpers import CATALOG, DEFAULT_TOOL_NAMES

pytestmark = pytest.mark.slow  # the command line as a subprocess

SCRIPT = Path(sys.executable).parent / "telnyx-numbers-mcp"


def run(*args: str, tmp_path: Path) -> subprocess.CompletedProcess[str]:
    env = {k: os.environ[k] for k in ("HOME", "PATH", "LANG") if k in os.environ}
    env["TELNYX_MCP_AUDIT_LOG"] = str(tmp_path / "audit.jsonl")
    env["TELNYX_MCP_STATE_DIR"] = str(tmp_path / "state")
    command = [str(SCRIPT)] if SCRIPT.exists() else [sys.executable, "-m", "telnyx_numbers_mcp"]
    return subprocess.run(
        [*command, *args], env=env, capture_output=True, text=True, timeout=60, stdin=subprocess.DEVNULL
    )


def test_tools_prints_a_line_with_its_kind_per_tool(tmp_path: Path) -> None:
    done = run("tools", tmp_path=tmp_path)
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    assert len(lines) == len(DEFAULT_TOOL_NAMES)
    kinds = {t.name: t.kind for t in CATALOG} | {"check_approval": "approval", "request_mandate": "mandate",
                                                 "spending": "read"}  # fmt: skip
    for line in lines:
        name, kind = line.split()[:2]
        assert kinds.pop(name) == kind, line
    assert kinds == {}


def test_call_in_the_sandbox_prints_json_with_data(tmp_path: Path) -> None:
    args = json.dumps({"filter": {"country_code": "US", "limit": 2}})
    done = run("--sandbox", "call", "available_phone_numbers_list", args, tmp_path=tmp_path)
    assert done.returncode == 0, done.stderr
    out = json.loads(done.stdout)
    assert 0 < len(out["data"]) <= 2
    assert all(n["phone_number"].startswith("+1") for n in out["data"])


def test_call_with_bad_arguments_exits_1_naming_the_field(tmp_path: Path) -> None:
    args = json.dumps({"filter": {"country_code": "US", "limit": "lots"}})
    done = run("--sandbox", "call", "available_phone_numbers_list", args, tmp_path=tmp_path)
    assert done.returncode == 1
    assert "limit" in done.stdout + done.stderr


@pytest.mark.parametrize("arguments", ["{not json", "[1, 2]"])
def test_call_with_arguments_that_are_not_a_json_object_exits_2(tmp_path: Path, arguments: str) -> None:
    done = run("--sandbox", "call", "available_phone_numbers_list", arguments, tmp_path=tmp_path)
    assert done.returncode == 2
    assert "JSON" in done.stderr
    assert done.stdout == ""


def test_call_of_an_unknown_tool_exits_2(tmp_path: Path) -> None:
    done = run("--sandbox", "call", "no_such_tool", "{}", tmp_path=tmp_path)
    assert done.returncode == 2
    assert "no_such_tool" in done.stderr


def pasted(stderr: str) -> tuple[list[str], list[str]]:
    """The two commands `call` printed for the operator (approve, then carry out), as arguments to `run`."""
    lines = [line.strip() for line in stderr.splitlines() if line.startswith("  telnyx-numbers-mcp ")]
    assert len(lines) == 2, stderr
    approve, carry = (shlex.split(line)[1:] for line in lines)
    return approve, carry


def test_a_purchase_without_a_terminal_waits_for_the_operator_then_the_pasted_hints_buy_it(tmp_path: Path) -> None:
    state = str(tmp_path / "sandbox.sqlite3")
    found = run("--sandbox", "--sandbox-state", state, "call", "available_phone_numbers_list",
                json.dumps({"filter": {"country_code": "US", "limit": 1}}), tmp_path=tmp_path)  # fmt: skip
    number = json.loads(found.stdout)["data"][0]["phone_number"]
    args = json.dumps({"phone_numbers": [{"phone_number": number}]})
    done = run("--sandbox", "--sandbox-state", state, "call", "number_orders_create", args, tmp_path=tmp_path)
    assert done.returncode == 3, done.stderr
    assert "BUY 1 phone number" in done.stdout and number in done.stdout
    assert "Nothing was sent" in done.stderr
    approve, carry = pasted(done.stderr)
    assert approve[:2] == ["approvals", "approve"] and carry[:2] == ["call", "check_approval"]
    assert "--sandbox" in approve and "--sandbox" in carry and state in carry  # the hints cannot cross modes
    early = run(*carry, tmp_path=tmp_path)
    assert early.returncode == 3  # still waiting: nothing sent
    unsure = run(*approve, tmp_path=tmp_path)  # no terminal to confirm on, and no --yes
    assert unsure.returncode == 1 and "--yes" in unsure.stderr and "Nothing was decided" in unsure.stderr
    assert number in unsure.stdout and "Total:" in unsure.stdout  # the whole summary came first
    assert run(*approve, "--yes", tmp_path=tmp_path).returncode == 0
    bought = run(*carry, tmp_path=tmp_path)
    assert bought.returncode == 0, bought.stderr
    assert json.loads(bought.stdout)["data"]["phone_numbers"][0]["phone_number"] == number
    audit = [json.loads(line) for line in (tmp_path / "audit.jsonl").read_text().splitlines()]
    assert [r["event"] for r in audit] == ["asked", "decided", "request", "outcome"]
    assert audit[0]["channel"] == "review-page" and audit[1]["channel"] == "terminal"


def _order_at_a_terminal(answer: str, tmp_path: Path) -> tuple[subprocess.CompletedProcess[str], str]:
    """`call number_orders_create` with stdin a terminal (a pty) where the person types `answer`."""
    state = str(tmp_path / "sandbox.sqlite3")
    found = run("--sandbox", "--sandbox-state", state, "call", "available_phone_numbers_list",
                json.dumps({"filter": {"country_code": "US", "limit": 1}}), tmp_path=tmp_path)  # fmt: skip
    number = json.loads(found.stdout)["data"][0]["phone_number"]
    env = {k: os.environ[k] for k in ("HOME", "PATH", "LANG") if k in os.environ}
    env |= {"TELNYX_MCP_AUDIT_LOG": str(tmp_path / "audit.jsonl"), "TELNYX_MCP_STATE_DIR": str(tmp_path / "state")}
    controller, terminal = os.openpty()
    try:
        proc = subprocess.Popen(
            [sys.executable, "-m", "telnyx_numbers_mcp", "--sandbox", "--sandbox-state", state, "call",
             "number_orders_create", json.dumps({"phone_numbers": [{"phone_number": number}]})],
            stdin=terminal, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env,
        )  # fmt: skip
        os.write(controller, f"{answer}\n".encode())  # typed ahead: the terminal keeps the line until it is read
        out, err = proc.communicate(timeout=60)
    finally:
        os.close(terminal)
        os.close(controller)
    return subprocess.CompletedProcess(proc.args, proc.returncode, out, err), number


@pytest.mark.parametrize(("answer", "bought"), [("y", True), ("YES", True), ("n", False), ("", False)])
def test_a_purchase_at_a_terminal_asks_once_and_y_or_yes_approves(tmp_path: Path, answer: str, bought: bool) -> None:
    done, number = _order_at_a_terminal(answer, tmp_path)
    shown = done.stdout + done.stderr  # all the person sees
    assert shown.count("Approve?") == 1, shown  # the question is asked once
    assert "BUY 1 phone number" in done.stderr and number in done.stderr
    orders = run("--sandbox", "--sandbox-state", str(tmp_path / "sandbox.sqlite3"), "call", "number_orders_list",
                 "{}", tmp_path=tmp_path)  # fmt: skip
    placed = json.loads(orders.stdout)["data"]
    if bought:
        assert done.returncode == 0, done.stdout + done.stderr
        assert json.loads(done.stdout)["data"]["phone_numbers"][0]["phone_number"] == number
        assert len(placed) == 1
    else:
        assert done.returncode == 1, done.stdout + done.stderr
        assert "Not approved" in done.stdout and placed == []


def test_the_pasted_carry_out_command_holds_under_the_same_spending_limit(tmp_path: Path) -> None:
    """Two purchases asked while each fitted daily=3 alone: the second one carried out finds the limit reached."""
    state = str(tmp_path / "sandbox.sqlite3")
    common = ["--sandbox", "--sandbox-state", state, "--spend-limit", "daily=3"]
    found = run(*common, "call", "available_phone_numbers_list",
                json.dumps({"filter": {"country_code": "US", "limit": 2}}), tmp_path=tmp_path)  # fmt: skip
    hints = []
    for row in json.loads(found.stdout)["data"]:
        args = json.dumps({"phone_numbers": [{"phone_number": row["phone_number"]}]})
        asked = run(*common, "call", "number_orders_create", args, tmp_path=tmp_path)
        assert asked.returncode == 3, asked.stderr
        hints.append(pasted(asked.stderr))
    for approve, carry in hints:
        assert "--spend-limit" in carry and carry[carry.index("--spend-limit") + 1] == "daily=3.00"
        assert run(*approve, "--yes", tmp_path=tmp_path).returncode == 0
    first = run(*hints[0][1], tmp_path=tmp_path)
    assert first.returncode == 0, first.stderr
    second = run(*hints[1][1], tmp_path=tmp_path)
    assert second.returncode == 1 and "over the daily spending limit" in second.stdout + second.stderr
    assert "nothing was sent" in second.stdout + second.stderr
