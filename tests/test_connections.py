"""Issue 21 items 8 and 11, through real server processes. Item 8: 1,100 idle connections (no token needed) to the
HTTP transport, or to the review page's side listener over stdio, do not stop the server: a real client's
tools/list, /healthz and a review page are answered within 5 s, the idle connections are closed once their
request head is late, and stderr grows by under 5 MB. Item 11: with `--host localhost` the review link names
the address the listener is bound to (127.0.0.1), not `localhost`."""

from __future__ import annotations

import resource
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import asynccontextmanager, contextmanager
from pathlib import Path

import httpx
import httpx2
import pytest
from mcp import Client, StdioServerParameters
from mcp.client.stdio import stdio_client
from mcp.client.streamable_http import streamable_http_client

from approval_helpers import NOTIFY, decide, notified, text
from sandbox_helpers import child_env, free_port, served, wait_for_port
from telnyx_numbers_mcp.connections import HEADER_TIMEOUT, ConnectionGuard
from telnyx_numbers_mcp.sandbox import Sandbox

pytestmark = [pytest.mark.anyio, pytest.mark.slow]
TOKEN = "http-token-Zq8vK2pWx7LmN4rT9y"
IDLE = 1100
ANSWER_WITHIN = 5.0  # seconds; the bound for a client's answer while the idle connections are held
MB = 1 << 20

# Holds IDLE idle connections in a process of its own (its own open-files limit), says when they are open, and on
# a line from the test reports how many the server closed within 3 header timeouts.
HOLDER = """
import resource, select, socket, sys, time
count, port = int(sys.argv[1]), int(sys.argv[2])
soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
if soft < count + 64:
    resource.setrlimit(resource.RLIMIT_NOFILE, (min(hard, count + 64), hard))
held = {}
for _ in range(count):
    s = socket.create_connection(("127.0.0.1", port), timeout=30)
    held[s.fileno()] = s
print("open", len(held), flush=True)
sys.stdin.readline()
poll = select.poll()
for fd in held:
    poll.register(fd, select.POLLIN | select.POLLHUP | select.POLLERR)
deadline, closed = time.monotonic() + float(sys.argv[3]), set()
while len(closed) < len(held) and time.monotonic() < deadline:
    for fd, _ in poll.poll(500):
        try:
            gone = held[fd].recv(1) == b""
        except OSError:
            gone = True
        if gone:
            closed.add(fd)
            poll.unregister(fd)
print("closed", len(closed), flush=True)
"""


@contextmanager
def idle_connections(port: int) -> Iterator[subprocess.Popen[str]]:
    holder = subprocess.Popen(
        [sys.executable, "-c", HOLDER, str(IDLE), str(port), str(3 * HEADER_TIMEOUT + 10)],
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True,
    )  # fmt: skip
    try:
        assert holder.stdout is not None
        line = holder.stdout.readline()
        assert line.strip() == f"open {IDLE}", f"could not open {IDLE} connections: {line!r}"
        yield holder
    finally:
        holder.kill()
        holder.wait(timeout=20)


def closed_by_server(holder: subprocess.Popen[str]) -> int:
    assert holder.stdin is not None and holder.stdout is not None
    holder.stdin.write("check\n")
    holder.stdin.flush()
    return int(holder.stdout.readline().split()[1])


def open_files(soft: int, hard: int) -> Callable[[], None]:
    """For preexec_fn: the server starts with these open-file limits (1024 is a common default)."""
    return lambda: resource.setrlimit(resource.RLIMIT_NOFILE, (soft, hard))


@contextmanager
def http_server(
    tmp: Path, base_url: str, *extra: str, limits: tuple[int, int] = (1024, 4096)
) -> Iterator[tuple[str, int, Path]]:
    port = free_port()
    stderr = tmp / "stderr.log"
    with stderr.open("w") as err:
        proc = subprocess.Popen(
            [sys.executable, "-m", "telnyx_numbers_mcp", "--transport", "http", "--port", str(port), "--base-url",
             base_url, "--state-dir", str(tmp / "state"), "--approval-wait", "0", "--log-level", "DEBUG",
             "--approval-notify", f"{sys.executable} {NOTIFY} {tmp / 'notify.jsonl'}", *extra],
            env=child_env(TELNYX_API_KEY="KEY_Tp4Vw9Xc2Bn6", MCP_HTTP_TOKEN=TOKEN), stdout=subprocess.DEVNULL,
            stderr=err, preexec_fn=open_files(*limits),
        )  # fmt: skip
    try:
        wait_for_port(port, proc)
        yield f"http://127.0.0.1:{port}", port, stderr
    finally:
        proc.terminate()
        proc.wait(timeout=30)


@asynccontextmanager
async def http_client(base: str) -> AsyncIterator[Client]:
    http = httpx2.AsyncClient(headers={"Authorization": f"Bearer {TOKEN}"}, timeout=30)
    async with http, Client(streamable_http_client(f"{base}/mcp", http_client=http), mode="legacy") as client:
        yield client


@pytest.mark.parametrize(
    "limits", [(1024, 1024), (1024, 8192)], ids=["open files capped at 1024: the idlest pushed out", "limit raised"]
)
async def test_idle_connections_to_the_http_transport_do_not_stop_it(tmp_path: Path, limits: tuple[int, int]) -> None:
    sb = Sandbox()
    with served(sb) as base_url, http_server(tmp_path, base_url, limits=limits) as (base, port, stderr):
        async with http_client(base) as c:
            assert len((await c.list_tools()).tools) > 40  # warm: what follows measures the flood, not a cold start
        before = stderr.stat().st_size
        with idle_connections(port) as holder:
            started = time.monotonic()
            async with http_client(base) as c:
                listed = await c.list_tools()
                async with httpx.AsyncClient(timeout=30) as http:
                    health = await http.get(f"{base}/healthz")
            took = time.monotonic() - started
            assert len(listed.tools) > 40 and health.status_code == 200
            assert took < ANSWER_WITHIN, f"tools/list and /healthz took {took:.1f} s with {IDLE} idle connections"
            closed = closed_by_server(holder)
            assert closed >= IDLE - 5, f"only {closed} of {IDLE} idle connections were closed by the server"
        async with http_client(base) as c:  # and it goes on serving
            assert len((await c.list_tools()).tools) > 40
        grew = stderr.stat().st_size - before
    assert grew < 5 * MB, f"stderr grew by {grew / MB:.1f} MB"


async def test_idle_connections_to_the_review_page_listener_do_not_stop_it(tmp_path: Path) -> None:
    sb = Sandbox()
    port = free_port()
    stderr = tmp_path / "stderr.log"
    with served(sb) as base_url, stderr.open("w") as errlog:
        args = ["-m", "telnyx_numbers_mcp", "--base-url", base_url, "--state-dir", str(tmp_path / "state"),
                "--approval-wait", "0", "--approval-port", str(port), "--log-level", "DEBUG",
                "--approval-notify", f"{sys.executable} {NOTIFY} {tmp_path / 'notify.jsonl'}"]  # fmt: skip
        # at most 1024 open files, as on many desktops: the listener must push out idle connections
        args = ["-c", "import resource, runpy, sys; resource.setrlimit(resource.RLIMIT_NOFILE, (1024, 1024)); "
                "sys.argv = ['telnyx-numbers-mcp', *sys.argv[1:]]; runpy.run_module('telnyx_numbers_mcp', "
                "run_name='__main__')", *args[2:]]  # fmt: skip
        params = StdioServerParameters(command=sys.executable, args=args, env=child_env(TELNYX_API_KEY="KEY_Tp4Vw9"))
        async with Client(stdio_client(params, errlog=errlog), mode="legacy") as c:
            found = await c.call_tool("available_phone_numbers_list", {"filter": {"country_code": "US", "limit": 1}})
            number = (found.structured_content or {})["data"][0]["phone_number"]
            asked = await c.call_tool("number_orders_create", {"phone_numbers": [{"phone_number": number}]})
            assert (asked.structured_content or {}).get("status") == "awaiting_approval", text(asked)
            url = notified(tmp_path / "notify.jsonl")
            assert url.startswith(f"http://127.0.0.1:{port}/approvals/")
            errlog.flush()
            before = stderr.stat().st_size
            with idle_connections(port) as holder:
                started = time.monotonic()
                async with httpx.AsyncClient(timeout=30) as http:
                    page = await http.get(url)
                listed = await c.list_tools()
                took = time.monotonic() - started
                assert page.status_code == 200 and "Approve" in page.text and len(listed.tools) > 40
                assert took < ANSWER_WITHIN, f"the review page took {took:.1f} s with {IDLE} idle connections"
                closed = closed_by_server(holder)
                assert closed >= IDLE - 5, f"only {closed} of {IDLE} idle connections were closed by the listener"
            done = await decide(url, "approve")
            assert done.status_code == 200 and "Approved and sent" in done.text, done.text
    grew = stderr.stat().st_size - before
    assert grew < 5 * MB, f"stderr grew by {grew / MB:.1f} MB"
    assert sum(1 for r in sb.requests if r["method"] == "POST" and r["path"] == "/v2/number_orders") == 1


async def test_with_host_localhost_the_review_link_names_the_bound_address(tmp_path: Path) -> None:
    """`localhost` may resolve to [::1] first, where another user could listen on the same port."""
    sb = Sandbox()
    with served(sb) as base_url, http_server(tmp_path, base_url, "--host", "localhost") as (base, port, _):
        async with http_client(base) as c:
            found = await c.call_tool("available_phone_numbers_list", {"filter": {"country_code": "US", "limit": 1}})
            number = (found.structured_content or {})["data"][0]["phone_number"]
            asked = await c.call_tool("number_orders_create", {"phone_numbers": [{"phone_number": number}]})
            approval_id = (asked.structured_content or {})["approval_id"]
            url = notified(tmp_path / "notify.jsonl")
            assert url.startswith(f"http://127.0.0.1:{port}/approvals/{approval_id}?t="), url
            assert "localhost" not in url
            done = await decide(url, "approve")
            assert done.status_code == 200 and "Approved and sent" in done.text, done.text
    assert sum(1 for r in sb.requests if r["method"] == "POST" and r["path"] == "/v2/number_orders") == 1


class Conn:
    def __init__(self) -> None:
        self.closed = False
        self.transport = self

    def close(self) -> None:
        self.closed = True


def test_at_the_limit_a_new_connection_pushes_out_the_one_idle_longest_and_busy_ones_stay() -> None:
    guard = ConnectionGuard(limit=2)
    a, b, c, d = Conn(), Conn(), Conn(), Conn()
    assert guard.admit(a) and guard.admit(b)
    guard.waiting[a] = guard.waiting[b] = None  # both wait for a request's head, a the longest
    assert guard.admit(c) and a.closed and not b.closed
    guard.waiting.pop(b)  # b is busy with a request, c has not waited yet
    assert not guard.admit(d) and not b.closed and not c.closed and d not in guard.open


def test_a_flood_of_one_log_line_is_cut_to_a_few_and_says_how_many_were_dropped() -> None:
    import io
    import logging

    from telnyx_numbers_mcp.logs import RepeatLimiter

    out = io.StringIO()
    handler = logging.StreamHandler(out)
    handler.addFilter(RepeatLimiter(burst=20, window=0.5))
    log = logging.getLogger("tests.connections.flood")
    log.addHandler(handler)
    log.setLevel(logging.DEBUG)
    log.propagate = False

    def refuse(i: int) -> None:
        log.warning("connection %d refused", i)  # one call site

    try:
        for i in range(10_000):
            refuse(i)
        log.error("another line")  # another call site is not held back
        time.sleep(0.6)
        refuse(10_000)
        for i in range(50):
            log.debug("debug %d", i)  # asked for: everything
    finally:
        log.removeHandler(handler)
    lines = out.getvalue().splitlines()
    assert len(lines) == 20 + 1 + 1 + 50, lines[:25]
    assert lines[21] == "connection 10000 refused (9980 more like this were not logged)"
