"""Raw JSON-RPC over a real stdio subprocess, for each handshake-era protocol revision a client may speak:
what a client nobody here wrote sends and receives, down to the elicitation round trip on the wire."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from helpers import DEFAULT_TOOL_NAMES

pytestmark = pytest.mark.slow  # server subprocesses

SECRET = "KEY_never_in_any_output_7f3a"
SEARCH = {"filter": {"country_code": "US", "locality": "Chicago", "limit": 1}}


class Wire:
    """One server subprocess driven by newline-delimited JSON-RPC."""

    def __init__(self, tmp_path: Path, *flags: str) -> None:
        env = {k: os.environ[k] for k in ("HOME", "PATH", "LANG") if k in os.environ}
        env["TELNYX_API_KEY"] = SECRET
        argv = [sys.executable, "-m", "telnyx_numbers_mcp", "--sandbox", "--log-level", "DEBUG"]
        argv += ["--audit-log", str(tmp_path / "audit.jsonl"), "--state-dir", str(tmp_path / "state"), *flags]
        self.proc = subprocess.Popen(
            argv, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env, text=True
        )
        self.next_id = 0
        self.lines: list[str] = []

    def send(self, message: dict[str, Any]) -> None:
        assert self.proc.stdin is not None
        self.proc.stdin.write(json.dumps(message) + "\n")
        self.proc.stdin.flush()

    def read(self) -> dict[str, Any]:
        assert self.proc.stdout is not None
        line = self.proc.stdout.readline()
        assert line, "the server closed stdout"
        self.lines.append(line)
        message: dict[str, Any] = json.loads(line)  # every stdout line is protocol, nothing else
        return message

    def request(self, method: str, params: dict[str, Any]) -> int:
        self.next_id += 1
        self.send({"jsonrpc": "2.0", "id": self.next_id, "method": method, "params": params})
        return self.next_id

    def answer_to(self, request_id: int) -> dict[str, Any]:
        while True:
            message = self.read()
            if message.get("id") == request_id and ("result" in message or "error" in message):
                return message

    def close(self) -> str:
        """End the session the stdio way (close stdin) and return everything the server logged."""
        assert self.proc.stdin is not None
        self.proc.stdin.close()
        self.proc.stdin = None  # communicate() must not flush the closed pipe
        try:
            _, err = self.proc.communicate(timeout=15)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            _, err = self.proc.communicate()
        return err


def handshake(wire: Wire, version: str, capabilities: dict[str, Any]) -> dict[str, Any]:
    rid = wire.request(
        "initialize",
        {"protocolVersion": version, "capabilities": capabilities, "clientInfo": {"name": "raw", "version": "0"}},
    )
    result = wire.answer_to(rid)["result"]
    wire.send({"jsonrpc": "2.0", "method": "notifications/initialized"})
    return result  # type: ignore[no-any-return]


@pytest.mark.parametrize("version", ["2025-03-26", "2025-06-18", "2025-11-25"])
def test_each_handshake_revision_lists_calls_and_awaits_approval_without_elicitation(
    tmp_path: Path, version: str
) -> None:
    wire = Wire(tmp_path, "--approval-wait", "0", "--no-browser")
    try:
        init = handshake(wire, version, {})
        assert init["protocolVersion"] == version
        assert "SANDBOX" in init["instructions"]
        tools = wire.answer_to(wire.request("tools/list", {}))["result"]["tools"]
        assert {t["name"] for t in tools} == DEFAULT_TOOL_NAMES
        assert all(t["inputSchema"]["type"] == "object" for t in tools)
        found = wire.answer_to(
            wire.request("tools/call", {"name": "available_phone_numbers_list", "arguments": SEARCH})
        )
        result = found["result"]
        assert not result.get("isError")
        number = result["structuredContent"]["data"][0]["phone_number"]
        assert result["structuredContent"]["sandbox"] is True  # a read carries no tag in its text
        order = {"phone_numbers": [{"phone_number": number}]}
        quoted = wire.answer_to(wire.request("tools/call", {"name": "number_orders_create", "arguments": order}))
        assert quoted["result"]["structuredContent"]["status"] == "awaiting_approval"
    finally:
        stderr = wire.close()
    assert "HTTP Request: GET" in stderr  # the debug log did describe the call it made with the key
    assert SECRET not in stderr and SECRET not in "".join(wire.lines)
    assert SECRET not in (tmp_path / "audit.jsonl").read_text()


def test_a_2025_06_18_client_is_asked_on_the_wire_and_only_its_accept_buys(tmp_path: Path) -> None:
    wire = Wire(tmp_path)
    try:
        handshake(wire, "2025-06-18", {"elicitation": {}})
        found = wire.answer_to(
            wire.request("tools/call", {"name": "available_phone_numbers_list", "arguments": SEARCH})
        )
        number = found["result"]["structuredContent"]["data"][0]["phone_number"]
        call_id = wire.request("tools/call", {"name": "number_orders_create", "arguments": {
            "phone_numbers": [{"phone_number": number}]}})  # fmt: skip
        question = wire.read()
        while question.get("method") != "elicitation/create":
            question = wire.read()
        assert number in question["params"]["message"]
        assert question["params"]["requestedSchema"]["required"] == ["approve"]
        wire.send(
            {"jsonrpc": "2.0", "id": question["id"], "result": {"action": "accept", "content": {"approve": True}}}
        )
        result = wire.answer_to(call_id)["result"]
        assert not result.get("isError"), result
        assert result["structuredContent"]["data"]["phone_numbers"][0]["phone_number"] == number
    finally:
        stderr = wire.close()
    assert SECRET not in stderr
    events = [json.loads(line)["event"] for line in (tmp_path / "audit.jsonl").read_text().splitlines()]
    assert events == ["asked", "decided", "request", "outcome"]
