"""Issue 21 item 2: the review link's secret reaches the human and no one else. Real server processes (stdio and
HTTP, at --log-level DEBUG), a real MCP client that cannot elicit, the sandbox as the recording Telnyx endpoint:
the --approval-notify command gets the link in its environment and on stdin, not in its arguments; the browser
(a BROWSER program that records its arguments and environment, with DISPLAY set) is started on a 0600
redirect file, not on the link; neither gets TELNYX_API_KEY; stderr never carries the secret, from asking to
buying; the redirect file goes once the approval is decided or expired, or at the next start."""

from __future__ import annotations

import json
import os
import stat
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager, contextmanager
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit

import httpx2
import pytest
from mcp import Client, StdioServerParameters
from mcp.client.stdio import stdio_client
from mcp.client.streamable_http import streamable_http_client

from approval_helpers import NOTIFY, decide, notified, text
from sandbox_helpers import child_env, free_port, served, wait_for_port
from telnyx_numbers_mcp.sandbox import Sandbox

pytestmark = pytest.mark.anyio
KEY = "KEY_Rw3Jd8Nq5Tx1Vb7Lm2"
TOKEN = "http-token-Zq8vK2pWx7LmN4rT9y"
BROWSER = Path(__file__).with_name("browser_recorder.py")
ORDERS = "/v2/number_orders"


def orders(sb: Sandbox) -> int:
    return sum(1 for r in sb.requests if r["method"] == "POST" and r["path"] == ORDERS)


def flags(tmp: Path, base_url: str) -> list[str]:
    return ["--base-url", base_url, "--state-dir", str(tmp / "state"), "--audit-log", str(tmp / "audit.jsonl"),
            "--approval-wait", "0", "--log-level", "DEBUG",
            "--approval-notify", f"{sys.executable} {NOTIFY} {tmp / 'notify.jsonl'}"]  # fmt: skip


def desktop(tmp: Path, **extra: str) -> dict[str, str]:
    """A desktop session's environment: DISPLAY set, BROWSER the recorder, the key and a token to leave out."""
    return child_env(TELNYX_API_KEY=KEY, MCP_HTTP_TOKEN=TOKEN, DISPLAY=":99",
                     BROWSER=f"{sys.executable} {BROWSER} {tmp / 'browser.jsonl'}", **extra)  # fmt: skip


def browser_runs(tmp: Path, count: int = 1) -> list[dict[str, Any]]:
    path = tmp / "browser.jsonl"
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        runs = [json.loads(line) for line in path.read_text().splitlines()] if path.exists() else []
        if len(runs) >= count:
            return runs
        time.sleep(0.05)
    raise AssertionError("the browser was not started")


async def order(c: Client) -> str:
    found = await c.call_tool("available_phone_numbers_list", {"filter": {"country_code": "US", "limit": 1}})
    number = (found.structured_content or {})["data"][0]["phone_number"]
    result = await c.call_tool("number_orders_create", {"phone_numbers": [{"phone_number": number}]})
    data = result.structured_content or {}
    assert data.get("status") == "awaiting_approval", text(result)
    return str(data["approval_id"])


def gone(path: Path, within: float = 20) -> bool:
    deadline = time.monotonic() + within
    while path.exists() and time.monotonic() < deadline:
        time.sleep(0.05)
    return not path.exists()


async def test_the_link_reaches_notify_and_browser_without_argv_or_secrets_and_never_the_log(tmp_path: Path) -> None:
    sb = Sandbox()
    stderr = tmp_path / "stderr.log"
    with served(sb) as base_url, stderr.open("w") as errlog:
        args = ["-m", "telnyx_numbers_mcp", *flags(tmp_path, base_url)]
        params = StdioServerParameters(command=sys.executable, args=args, env=desktop(tmp_path))
        async with Client(stdio_client(params, errlog=errlog), mode="legacy") as c:
            approval_id = await order(c)
            url = notified(tmp_path / "notify.jsonl")  # env == stdin, not in argv, no secret variables
            secret = parse_qs(urlsplit(url).query)["t"][0]

            (run,) = browser_runs(tmp_path)
            assert secret not in json.dumps(run["argv"]) and "/approvals/" not in json.dumps(run["argv"])
            assert "TELNYX_API_KEY" not in run["env"] and "MCP_HTTP_TOKEN" not in run["env"]
            assert run["env"]["DISPLAY"] == ":99" and KEY not in json.dumps(run["env"])
            page = Path(unquote(urlsplit(run["argv"][-1]).path))
            assert (
                run["argv"][-1].startswith("file://") and page == tmp_path / "state" / "links" / f"{approval_id}.html"
            )
            assert stat.S_IMODE(page.stat().st_mode) == 0o600
            assert f'content="0;url={url}"' in page.read_text()  # the page sends the browser on to the link

            done = await decide(url, "approve")  # what the browser does there
            assert done.status_code == 200 and "Approved and sent" in done.text, done.text
            checked = await c.call_tool("check_approval", {"approval_id": approval_id})
            assert not checked.is_error, text(checked)
            assert gone(page), "the redirect file must go once the approval is decided"
    assert orders(sb) == 1
    logged = stderr.read_text()
    assert " DEBUG " in logged and approval_id in logged and page.as_uri() in logged
    assert secret not in logged and "?t=" not in logged, [line for line in logged.splitlines() if "t=" in line]


@contextmanager
def http_server(tmp: Path, base_url: str, stderr: Path) -> Iterator[str]:
    port = free_port()
    with stderr.open("w") as err:
        proc = subprocess.Popen(
            [sys.executable, "-m", "telnyx_numbers_mcp", "--transport", "http", "--port", str(port),
             *flags(tmp, base_url)],
            env=desktop(tmp), stdout=subprocess.DEVNULL, stderr=err,
        )  # fmt: skip
    try:
        wait_for_port(port, proc)
        yield f"http://127.0.0.1:{port}"
    finally:
        proc.terminate()
        proc.wait(timeout=20)


@asynccontextmanager
async def http_client(base: str) -> AsyncIterator[Client]:
    http = httpx2.AsyncClient(headers={"Authorization": f"Bearer {TOKEN}"})
    async with http, Client(streamable_http_client(f"{base}/mcp", http_client=http), mode="legacy") as client:
        yield client


async def test_over_http_the_access_log_at_debug_never_carries_the_secret(tmp_path: Path) -> None:
    """The review page is served on the HTTP listener, whose access log names every request path."""
    sb = Sandbox()
    stderr = tmp_path / "stderr.log"
    with served(sb) as base_url, http_server(tmp_path, base_url, stderr) as base:
        async with http_client(base) as c:
            approval_id = await order(c)
            url = notified(tmp_path / "notify.jsonl")
            assert url.startswith(f"{base}/approvals/{approval_id}?t=")
            done = await decide(url, "approve")
            assert done.status_code == 200, done.text
            checked = await c.call_tool("check_approval", {"approval_id": approval_id})
            assert not checked.is_error, text(checked)
    assert orders(sb) == 1
    secret = parse_qs(urlsplit(url).query)["t"][0]
    logged = stderr.read_text()
    assert f"/approvals/{approval_id}?t=***" in logged, logged[-3000:]  # the access log line, masked
    assert secret not in logged and KEY not in logged and TOKEN not in logged


async def test_a_redirect_file_goes_when_its_approval_expires_and_a_leftover_at_the_next_start(tmp_path: Path) -> None:
    sb = Sandbox()
    with served(sb) as base_url:
        args = ["-m", "telnyx_numbers_mcp", *flags(tmp_path, base_url), "--approval-ttl", "2"]
        params = StdioServerParameters(command=sys.executable, args=args, env=desktop(tmp_path))
        with open(os.devnull, "w") as quiet:
            async with Client(stdio_client(params, errlog=quiet), mode="legacy") as c:
                approval_id = await order(c)
                page = tmp_path / "state" / "links" / f"{approval_id}.html"
                assert page.exists()
                assert gone(page), "the redirect file must go once the approval expires"
    assert orders(sb) == 0
    leftover = tmp_path / "state" / "links" / "ap_00000000000000000000.html"
    leftover.write_text("<meta http-equiv=refresh content='0;url=http://127.0.0.1:1/approvals/x?t=y'>")
    os.utime(leftover, (time.time() - 5, time.time() - 5))  # its approval expired 5 s ago
    pending = tmp_path / "state" / "links" / "ap_11111111111111111111.html"
    pending.write_text("still pending elsewhere")
    os.utime(pending, (time.time() + 600, time.time() + 600))
    done = subprocess.run([sys.executable, "-m", "telnyx_numbers_mcp", "audit", "--state-dir", str(tmp_path / "state")],
                          env=child_env(), capture_output=True, text=True, timeout=60)  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert not leftover.exists() and pending.exists()


def test_browser_commands_honour_browser_like_pythons_webbrowser() -> None:
    from telnyx_numbers_mcp.approvals.handoff import browser_commands

    target = "file:///state/links/ap_1.html"
    got = browser_commands(target, {"BROWSER": f"firefox --new-tab{os.pathsep}my-open '%s' --now{os.pathsep}"})
    assert got[:2] == [["firefox", "--new-tab", target], ["my-open", target, "--now"]]
    assert got[2:] in ([["xdg-open", target]], [["open", target]], [])
    assert browser_commands(target, {})[:1] in ([["xdg-open", target]], [["open", target]], [])
