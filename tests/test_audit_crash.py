"""Real processes: the sandbox served over HTTP, the MCP server over stdio. A purchase's audit record
is on disk before the request is answered, so a server killed mid-purchase still leaves a trace;
a purchase that times out is not retried and tells the agent how to find it."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import anyio
import httpx
import pytest
from anyio.streams.buffered import BufferedByteReceiveStream
from mcp import Client

from helpers import audit_records
from sandbox_helpers import child_env, sandbox_api_process
from telnyx_numbers_mcp.app import build_server
from telnyx_numbers_mcp.config import build_settings

# One xdist worker runs this file, so the module-scoped sandbox process starts once.
pytestmark = [pytest.mark.anyio, pytest.mark.slow, pytest.mark.xdist_group("audit_crash")]  # server subprocesses

API_KEY = "KEY_crash_0123456789"
NUMBER = "+13123709222"


@pytest.fixture(scope="module")
def sandbox_url() -> Iterator[str]:
    with sandbox_api_process() as url:
        yield url


async def arm_delay(base: str, delay: float) -> None:
    """A delay-only fault: status 200 passes through to the real handler after `delay` seconds."""
    async with httpx.AsyncClient() as http:
        answer = await http.post(
            f"{base}/_sandbox/faults",
            json={"status": 200, "path_prefix": "/v2/number_orders", "method": "POST", "delay": delay},
        )
        assert answer.status_code == 201, answer.text


async def orders_received(base: str) -> int:
    async with httpx.AsyncClient() as http:
        data = (await http.get(f"{base}/_sandbox/requests")).json()["data"]
    return sum(1 for r in data if r["method"] == "POST" and r["path"] == "/v2/number_orders")


async def test_a_purchase_is_on_disk_in_the_audit_log_even_if_the_server_is_killed_mid_request(
    sandbox_url: str, tmp_path: Path
) -> None:
    audit = tmp_path / "audit.jsonl"
    await arm_delay(sandbox_url, 30)
    before = await orders_received(sandbox_url)
    command = [
        sys.executable, "-m", "telnyx_numbers_mcp", "--base-url", f"{sandbox_url}/v2",
        "--purchase-policy", "allow", "--audit-log", str(audit),
    ]  # fmt: skip
    proc = await anyio.open_process(command, env=child_env(TELNYX_API_KEY=API_KEY), stderr=subprocess.DEVNULL)
    try:
        assert proc.stdin is not None and proc.stdout is not None
        stdout = BufferedByteReceiveStream(proc.stdout)

        async def send(message: dict[str, Any]) -> None:
            await proc.stdin.send((json.dumps({"jsonrpc": "2.0", **message}) + "\n").encode())  # type: ignore[union-attr]

        client_info = {"name": "crash-test", "version": "0"}
        hello = {"protocolVersion": "2025-11-25", "capabilities": {}, "clientInfo": client_info}
        await send({"id": 1, "method": "initialize", "params": hello})
        with anyio.fail_after(15):
            assert json.loads(await stdout.receive_until(b"\n", 1 << 20))["id"] == 1
        await send({"method": "notifications/initialized"})
        args = {"phone_numbers": [{"phone_number": NUMBER}], "customer_reference": "crash-1"}
        await send({"id": 2, "method": "tools/call", "params": {"name": "number_orders_create", "arguments": args}})

        with anyio.fail_after(10):
            while not any(r["event"] == "request" for r in audit_records(audit)):
                await anyio.sleep(0.02)
        with anyio.fail_after(5):
            while await orders_received(sandbox_url) == before:  # the order is in flight at the sandbox
                await anyio.sleep(0.02)
        proc.kill()  # SIGKILL: no cleanup, no final write
        await proc.wait()
    finally:
        if proc.returncode is None:
            proc.kill()
            await proc.wait()
        await proc.aclose()

    records = audit_records(audit)
    assert [r["event"] for r in records] == ["request"]
    assert records[0]["tool"] == "number_orders_create"
    assert records[0]["args"] == args
    assert records[0]["approval"]["how"] == "policy-allow"
    assert API_KEY not in audit.read_text()


async def test_a_purchase_that_times_out_is_not_retried_and_says_how_to_find_it(
    sandbox_url: str, tmp_path: Path
) -> None:
    await arm_delay(sandbox_url, 3)
    before = await orders_received(sandbox_url)
    settings = build_settings(
        {
            "base_url": f"{sandbox_url}/v2",
            "api_key": API_KEY,
            "audit_log": str(tmp_path / "audit.jsonl"),
            "purchase_policy": "allow",
            "timeout": 1.0,
            "max_retries": 3,
        },
        {},
    )
    async with Client(build_server(settings), mode="legacy") as client:
        result = await client.call_tool(
            "number_orders_create", {"phone_numbers": [{"phone_number": NUMBER}], "customer_reference": "slow-1"}
        )
    message = result.content[0].text  # type: ignore[union-attr]
    assert result.is_error, message
    assert "DO NOT order again" in message and "customer_reference" in message and "'slow-1'" in message
    assert await orders_received(sandbox_url) - before == 1
    outcome = [r for r in audit_records(tmp_path / "audit.jsonl") if r["event"] == "outcome"]
    assert len(outcome) == 1 and outcome[0]["ok"] is False and outcome[0]["may_have_reached"] is True
