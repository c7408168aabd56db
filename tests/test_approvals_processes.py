"""Approvals across processes: two stdio servers sharing one --state-dir, an operator deciding with the
`approvals` command, and a served sandbox recording what reached Telnyx."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import anyio
import mcp_types as types
import pytest
from mcp import Client, StdioServerParameters

from approval_helpers import NOTIFY, text
from sandbox_helpers import child_env, served
from telnyx_numbers_mcp.sandbox import Sandbox

pytestmark = pytest.mark.anyio
KEY = "KEY_Hq4Zt8Wm2Ry6Pk0Bd3"


def server(base_url: str, tmp: Path, name: str) -> StdioServerParameters:
    args = [
        "-m", "telnyx_numbers_mcp", "--base-url", base_url, "--state-dir", str(tmp / "state"),
        "--audit-log", str(tmp / f"audit-{name}.jsonl"), "--approval-wait", "0",
        "--approval-notify", f"{sys.executable} {NOTIFY} {tmp / 'urls.jsonl'}",
    ]  # fmt: skip
    return StdioServerParameters(command=sys.executable, args=args, env=child_env(TELNYX_API_KEY=KEY))


def approvals(tmp: Path, base_url: str, *args: str) -> subprocess.CompletedProcess[str]:
    """The operator's command, under the servers' mode (their base URL and key)."""
    return subprocess.run(
        [sys.executable, "-m", "telnyx_numbers_mcp", "approvals", *args, "--base-url", base_url,
         "--state-dir", str(tmp / "state"), "--audit-log", str(tmp / "audit-terminal.jsonl")],
        env=child_env(TELNYX_API_KEY=KEY), capture_output=True, text=True, timeout=60, stdin=subprocess.DEVNULL,
    )  # fmt: skip


async def test_two_server_processes_sharing_a_store_send_an_approved_purchase_once(tmp_path: Path) -> None:
    sb = Sandbox()
    with served(sb) as base_url:
        async with (
            Client(server(base_url, tmp_path, "a"), mode="legacy") as a,
            Client(server(base_url, tmp_path, "b"), mode="auto") as b,
        ):
            found = await a.call_tool("available_phone_numbers_list", {"filter": {"country_code": "US", "limit": 1}})
            number = (found.structured_content or {})["data"][0]["phone_number"]
            result = await a.call_tool("number_orders_create", {"phone_numbers": [{"phone_number": number}]})
            data = result.structured_content or {}
            assert data.get("status") == "awaiting_approval", text(result)
            approval_id = data["approval_id"]

            listed = approvals(tmp_path, base_url)
            assert listed.returncode == 0 and approval_id in listed.stdout and number in listed.stdout
            before = await b.call_tool("check_approval", {"approval_id": approval_id})  # the other process
            assert (before.structured_content or {}).get("status") == "awaiting_approval", text(before)
            decided = approvals(tmp_path, base_url, "approve", approval_id, "--yes")
            assert decided.returncode == 0, decided.stderr

            results: list[types.CallToolResult] = []

            async def check(client: Client) -> None:
                results.append(await client.call_tool("check_approval", {"approval_id": approval_id}))

            async with anyio.create_task_group() as tg:
                for _ in range(5):
                    tg.start_soon(check, a)
                    tg.start_soon(check, b)
    orders = [r for r in sb.requests if r["method"] == "POST" and r["path"] == "/v2/number_orders"]
    assert len(orders) == 1
    assert len(results) == 10 and not any(r.is_error for r in results), [text(r) for r in results if r.is_error]
    ids = {(r.structured_content or {})["data"]["id"] for r in results}
    assert len(ids) == 1
    urls = (tmp_path / "urls.jsonl").read_text()
    assert KEY not in urls  # the notify command never gets the Telnyx key
    for r in results:
        assert "?t=" not in r.model_dump_json()
