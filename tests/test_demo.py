"""`telnyx-numbers-mcp demo` as a person would run it: a subprocess, no key, no network, stdin closed."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import mcp_types as types
import pytest

from telnyx_numbers_mcp.config import Settings


@pytest.mark.slow  # a subprocess
def test_demo_runs_the_walk_through_without_a_terminal(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("TELNYX_", "MCP_"))}
    env["TELNYX_MCP_AUDIT_LOG"] = str(tmp_path / "audit.jsonl")
    env["TELNYX_MCP_STATE_DIR"] = str(tmp_path / "state")
    env["HTTPS_PROXY"] = env["HTTP_PROXY"] = "http://127.0.0.1:9"  # any real network use would fail
    proc = subprocess.run(
        [sys.executable, "-m", "telnyx_numbers_mcp", "demo"],
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        env=env,
        timeout=60,
    )
    out = proc.stdout
    assert proc.returncode == 0, out + proc.stderr
    assert "available_phone_numbers_list" in out and "Chicago" in out
    assert "Reservation" in out and "number_reservations_create" in out
    assert "BUY 1 phone number" in out and "Approve?" in out
    # the reserved number is still quoted to the account that holds it: the human sees its cost and type
    assert re.search(r"\+1\d{10}  US local  upfront 1\.00 USD, monthly 1\.00 USD", out), out
    assert "Answering 'yes' automatically (stdin is not a terminal)" in out
    assert "Order status: " in out
    # the sandbox story ends with a mandate: asked once, then a purchase under it without a question
    assert "GRANT A MANDATE" in out and "Spending cap: at most 5.00 USD in all." in out
    assert re.search(r"Paid under mandate md_[0-9a-f]{20} .*: 1 of 2 numbers and 3\.00 of 5\.00 USD left", out), out
    assert out.count("Approve?") == 2, "the purchase under the mandate was asked about"
    assert len(out.splitlines()) < 50, out
    assert "{" not in out, "no raw JSON in the walk-through"
    audit = (tmp_path / "audit.jsonl").read_text()
    assert "number_orders_create" in audit


@pytest.mark.slow  # a subprocess
def test_demo_yes_flag_says_so() -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("TELNYX_", "MCP_"))}
    proc = subprocess.run(
        [sys.executable, "-m", "telnyx_numbers_mcp", "demo", "--yes"],
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        env=env,
        timeout=60,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "Answering 'yes' automatically (--yes was given)" in proc.stdout


@pytest.mark.parametrize(("answer", "expected"), [("yes", "placed: pending"), ("no", "Not approved")])
def test_demo_asks_a_person_at_a_terminal(
    answer: str, expected: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    from telnyx_numbers_mcp import demo, terminal

    asked: list[str] = []

    async def person(context: Any, params: types.ElicitRequestParams) -> types.ElicitResult:
        asked.append(params.message)
        if answer == "yes":
            return types.ElicitResult(action="accept", content={"approve": True})
        return types.ElicitResult(action="decline")

    monkeypatch.setattr(demo, "_interactive", lambda: True)
    monkeypatch.setattr(terminal, "terminal_approval", person)
    assert demo.run_demo(Settings(audit_log=tmp_path / "audit.jsonl"), auto_approve=False) == 0
    out = capsys.readouterr().out
    assert "BUY 1 phone number" in asked[0]
    assert len(asked) == (2 if answer == "yes" else 1)  # then the mandate, asked once for the last purchase
    assert answer == "no" or ("GRANT A MANDATE" in asked[1] and "Paid under mandate" in out)
    assert "Answering 'yes' automatically" not in out
    assert expected in out
