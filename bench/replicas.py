"""Calls per second with 1 and 2 replicas sharing one store, against the sandbox (a short run).

Starts `sandbox-api` as the upstream, then 1 and then 2 `telnyx-numbers-mcp --transport http` processes
sharing one store (SQLite by default; `--store postgresql://...` to use a database you run) and one
--state-secret. Workers are MCP clients (2026-07-28, one client each) spread round-robin over the replicas,
each making calls back to back for a fixed time. Two workloads: a read (`available_phone_numbers_list`)
and an audited write (`sub_number_orders_report_create`: audit records committed to the store before
and after the request).

    python bench/replicas.py                 # ~1 minute; prints a Markdown table
    python bench/replicas.py --seconds 10 --workers 16 --store postgresql://USER@HOST/DB

The machine is shared: compare the two rows of one run, not runs on different machines."""

from __future__ import annotations

import argparse
import contextlib
import os
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import anyio
import httpx
import httpx2
from mcp import Client
from mcp.client.streamable_http import streamable_http_client

SECRET = "Bm7Qz2Lx9Wc4Rv8Tn3Yp6Jk1Hd5Gf0Sa"
TOKEN = "bench-token"
WORKLOADS: dict[str, tuple[str, dict[str, Any]]] = {
    "read": ("available_phone_numbers_list", {"filter": {"country_code": "US", "limit": 2}}),
    "audited write": ("sub_number_orders_report_create", {}),
}


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def wait_ok(url: str, proc: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"{proc.args!r} exited with {proc.returncode}")
        with contextlib.suppress(httpx.HTTPError):
            if httpx.get(url, timeout=2).status_code < 500:
                return
        time.sleep(0.05)
    raise RuntimeError(f"{url} did not answer")


@contextlib.contextmanager
def process(argv: list[str], probe: str, **extra: str) -> Iterator[subprocess.Popen[bytes]]:
    """`extra` environment: secrets go there, never into argv (the server refuses them as flags)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("TELNYX_", "MCP_"))}
    proc = subprocess.Popen(argv, env={**env, "TELNYX_API_KEY": "KEY_bench", **extra}, stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL)  # fmt: skip
    try:
        wait_ok(probe, proc)
        yield proc
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()


ERRORS: list[str] = []


async def load(urls: list[str], workers: int, seconds: float, tool: str, args: dict[str, Any]) -> tuple[int, int]:
    """(successful calls, failed calls) in `seconds`, workers spread round-robin over `urls`."""
    done, failed = 0, 0

    async def worker(url: str) -> None:
        nonlocal done, failed
        http = httpx2.AsyncClient(headers={"Authorization": f"Bearer {TOKEN}"}, timeout=60)
        async with http, Client(streamable_http_client(url, http_client=http)) as client:
            await client.list_tools()
            end = time.monotonic() + seconds
            while time.monotonic() < end:
                result = await client.call_tool(tool, args)
                if result.is_error:
                    failed += 1
                    ERRORS.append(" ".join(getattr(b, "text", "") for b in result.content)[:300])
                else:
                    done += 1

    async with anyio.create_task_group() as tg:
        for i in range(workers):
            tg.start_soon(worker, urls[i % len(urls)])
    return done, failed


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--seconds", type=float, default=8.0, help="length of each measurement (default 8)")
    ap.add_argument("--workers", type=int, default=8, help="concurrent MCP clients (default 8)")
    ap.add_argument("--store", default=None, help="store URL (default: a temporary SQLite file)")
    opts = ap.parse_args()
    exe = [sys.executable, "-m", "telnyx_numbers_mcp"]
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        store = opts.store or f"sqlite://{Path(tmp) / 'state.sqlite3'}"
        upstream_port = free_port()
        with process([*exe, "sandbox-api", "--port", str(upstream_port)], f"http://127.0.0.1:{upstream_port}/v2"):
            for count in (1, 2):
                with contextlib.ExitStack() as stack:
                    urls = []
                    for _ in range(count):
                        port = free_port()
                        argv = [*exe, "--transport", "http", "--port", str(port), "--state-dir", tmp,
                                "--base-url", f"http://127.0.0.1:{upstream_port}/v2"]  # fmt: skip
                        secrets = {
                            "TELNYX_MCP_STORE": store,
                            "TELNYX_MCP_STATE_SECRET": SECRET,
                            "MCP_HTTP_TOKEN": TOKEN,
                        }
                        stack.enter_context(process(argv, f"http://127.0.0.1:{port}/readyz", **secrets))
                        urls.append(f"http://127.0.0.1:{port}/mcp")
                    for name, (tool, args) in WORKLOADS.items():
                        anyio.run(load, urls, opts.workers, 1.0, tool, args)  # warm-up
                        done, failed = anyio.run(load, urls, opts.workers, opts.seconds, tool, args)
                        rows.append((count, name, done / opts.seconds, failed))
    kind = "PostgreSQL" if store.startswith("postgres") else "SQLite"
    print(f"Calls per second, {opts.workers} MCP clients, {opts.seconds:.0f} s each, {kind} store, "
          f"{os.cpu_count()} CPUs shared by server, upstream and clients:\n")  # fmt: skip
    print("| replicas | workload | calls/s | errors |\n|---|---|---|---|")
    for count, name, rate, failed in rows:
        print(f"| {count} | {name} | {rate:.0f} | {failed} |")
    for text in sorted(set(ERRORS))[:5]:
        print(f"\nerror: {text}")


if __name__ == "__main__":
    main()
