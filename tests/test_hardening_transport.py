"""Issue #16 item 9, transports: Host/Origin checks match whole host names and stay on for non-local binds
(--allowed-host), and stdio answers input its JSON parser cannot take with a JSON-RPC parse error and goes
on serving. Real servers: uvicorn in-process and the CLI as a subprocess (HTTP and stdio)."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager, contextmanager
from pathlib import Path
from typing import Any

import anyio
import httpx
import pytest
import uvicorn

from sandbox_helpers import child_env, free_port, wait_for_port
from telnyx_numbers_mcp.app import build_server
from telnyx_numbers_mcp.config import build_settings
from telnyx_numbers_mcp.sandbox import Sandbox, create_app
from telnyx_numbers_mcp.transports import http_app

pytestmark = pytest.mark.anyio

INIT = {
    "jsonrpc": "2.0",
    "id": 1,
    "method": "initialize",
    "params": {"protocolVersion": "2025-11-25", "capabilities": {}, "clientInfo": {"name": "t", "version": "1"}},
}
ACCEPT = {"Accept": "application/json, text/event-stream", "Content-Type": "application/json"}


@asynccontextmanager
async def serving(tmp_path: Path, bind_as: str, allowed: tuple[str, ...] = ()) -> AsyncIterator[int]:
    """The app as `--host bind_as` builds it, listening on 127.0.0.1 (tests send only to loopback)."""
    flags = {"base_url": "http://sandbox.invalid/v2", "api_key": "KEY_http_hosts", "audit_log": str(tmp_path / "a")}
    server = build_server(build_settings(flags, {}), transport=httpx.ASGITransport(app=create_app(Sandbox())))
    port = free_port()
    app = http_app(server, host=bind_as, token=None, allowed_hosts=allowed)
    web = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    async with anyio.create_task_group() as tg:
        tg.start_soon(web.serve)
        with anyio.fail_after(10):
            while not web.started:
                await anyio.sleep(0.01)  # waiting for the listener
        try:
            yield port
        finally:
            web.should_exit = True


async def status(port: int, host: str, origin: str | None = None) -> int:
    headers = {**ACCEPT, "Host": host, **({"Origin": origin} if origin else {})}
    async with httpx.AsyncClient() as http:
        answer = await http.post(f"http://127.0.0.1:{port}/mcp", json=INIT, headers=headers)
    return answer.status_code


async def test_a_local_bind_accepts_only_the_localhost_names_exactly(tmp_path: Path) -> None:
    async with serving(tmp_path, "127.0.0.1") as port:
        for good in (f"127.0.0.1:{port}", "127.0.0.1", f"localhost:{port}", f"[::1]:{port}", f"LOCALHOST:{port}"):
            assert await status(port, good) == 200, good
        for bad in (
            f"127.0.0.1:{port}.evil.com",
            "127.0.0.1:8813.evil.com",
            f"localhost.evil.com:{port}",
            f"evil.com:{port}",
            f"127.0.0.1.nip.io:{port}",
            f"127.0.0.1:{port}@evil.com",
            "",
        ):
            assert await status(port, bad) == 421, bad
        assert await status(port, f"127.0.0.1:{port}", f"http://127.0.0.1:{port}") == 200
        for bad_origin in (
            f"http://127.0.0.1:{port}.evil.com",
            "http://evil.com",
            "null",
            f"http://a@127.0.0.1:{port}",
        ):
            assert await status(port, f"127.0.0.1:{port}", bad_origin) == 403, bad_origin
        assert await status(port, f"127.0.0.1:{port}") == 200  # still serving


async def test_a_non_local_bind_keeps_the_check_on_with_allowed_hosts(tmp_path: Path) -> None:
    async with serving(tmp_path, "0.0.0.0") as port:  # no --allowed-host: localhost names only
        assert await status(port, f"mcp.example.com:{port}") == 421
        assert await status(port, f"localhost:{port}") == 200
    async with serving(tmp_path, "0.0.0.0", ("mcp.example.com", "other.example:8443")) as port:
        assert await status(port, f"mcp.example.com:{port}", "https://mcp.example.com") == 200
        assert await status(port, "other.example:8443") == 200
        assert await status(port, "other.example:9999") == 421  # an entry with a port allows that port only
        assert await status(port, f"mcp.example.com.evil.com:{port}") == 421
        assert await status(port, f"evil-mcp.example.com:{port}") == 421
        assert await status(port, f"mcp.example.com:{port}", "https://evil.com") == 403


@contextmanager
def cli_http(*flags: str) -> Iterator[int]:
    port = free_port()
    proc = subprocess.Popen(
        [sys.executable, "-m", "telnyx_numbers_mcp", "--transport", "http", "--port", str(port), "--sandbox", *flags],
        env=child_env(),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        wait_for_port(port, proc)
        yield port
    finally:
        proc.terminate()
        proc.wait(timeout=10)


@pytest.mark.slow  # the CLI as a subprocess
async def test_the_cli_flag_allows_named_hosts_on_a_wildcard_bind(tmp_path: Path) -> None:
    with cli_http("--host", "0.0.0.0", "--allowed-host", "mcp.example.com", "--allowed-host", "a.test,b.test") as port:
        assert await status(port, f"mcp.example.com:{port}") == 200
        assert await status(port, f"b.test:{port}") == 200
        assert await status(port, f"127.0.0.1:{port}") == 200
        assert await status(port, f"mcp.example.com.evil.com:{port}") == 421
        assert await status(port, f"127.0.0.1:{port}.evil.com") == 421


# --- stdio: unreadable input gets a JSON-RPC error, and the server keeps serving -----------------------


class StdioPeer:
    """The CLI over stdio as a subprocess, spoken to in raw JSON-RPC lines."""

    def __init__(self, tmp_path: Path) -> None:
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "telnyx_numbers_mcp", "--sandbox", "--audit-log", str(tmp_path / "audit.jsonl")],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            env=child_env(),
        )

    def send(self, line: str | bytes) -> None:
        assert self.proc.stdin is not None
        self.proc.stdin.write((line.encode() if isinstance(line, str) else line) + b"\n")
        self.proc.stdin.flush()

    def reply(self) -> dict[str, Any]:
        import select

        assert self.proc.stdout is not None
        ready, _, _ = select.select([self.proc.stdout], [], [], 60)  # a guard against hanging, not a measure
        assert ready, "no reply from the server"
        answer: dict[str, Any] = json.loads(self.proc.stdout.readline())
        return answer

    def close(self) -> None:
        self.proc.kill()
        self.proc.wait(timeout=10)


UNREADABLE = {
    "not JSON": "{not json",
    "nesting 100000 deep": '{"jsonrpc":"2.0","id":2,"method":"ping","params":{"a":'
    + "[" * 100_000
    + "]" * 100_000
    + "}}",
    "an integer of 5000 digits": '{"jsonrpc":"2.0","id":3,"method":"ping","params":{"x":' + "9" * 5000 + "}}",
    "a lone surrogate escape": '{"jsonrpc":"2.0","id":4,"method":"ping","params":{"x":"\\ud800"}}',
    "a cut-off line": '{"jsonrpc":"2.0","id":5,"method":"pi',
}


@pytest.fixture
def peer(tmp_path: Path) -> Iterator[StdioPeer]:
    p = StdioPeer(tmp_path)
    yield p
    p.close()


@pytest.mark.slow  # the CLI as a subprocess
def test_stdio_answers_unreadable_lines_with_parse_errors_and_keeps_serving(peer: StdioPeer) -> None:
    peer.send("{garbage before the handshake")
    message = "Parse error: Invalid JSON: key must be a string at line 1 column 2"
    assert peer.reply() == {"jsonrpc": "2.0", "id": None, "error": {"code": -32700, "message": message}}
    peer.send(json.dumps(INIT))
    assert peer.reply()["result"]["serverInfo"]["name"] == "telnyx-numbers-mcp"
    peer.send(json.dumps({"jsonrpc": "2.0", "method": "notifications/initialized"}))
    for name, line in UNREADABLE.items():
        peer.send(line)
        answer = peer.reply()
        assert answer["id"] is None and answer["error"]["code"] == -32700, (name, answer)
        assert answer["error"]["message"].startswith("Parse error: ") and len(answer["error"]["message"]) < 300
        peer.send(json.dumps({"jsonrpc": "2.0", "id": f"after {name}", "method": "ping"}))
        assert peer.reply() == {"jsonrpc": "2.0", "id": f"after {name}", "result": {}}, name
    peer.send(json.dumps({"jsonrpc": "2.0", "id": 7, "foo": 1}))
    assert peer.reply() == {
        "jsonrpc": "2.0",
        "id": 7,
        "error": {"code": -32600, "message": "Invalid Request: not a JSON-RPC 2.0 message"},
    }
    peer.send(json.dumps({"jsonrpc": "2.0", "id": 8, "method": "tools/list"}))
    assert len(peer.reply()["result"]["tools"]) > 40
