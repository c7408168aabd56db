"""The server as a real stdio subprocess, against its built-in sandbox and against a served sandbox."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx
import pytest
from mcp import Client, StdioServerParameters

from sdk_oracle import sdk_request
from telnyx_numbers_mcp.catalog import load_catalog

pytestmark = pytest.mark.anyio

CATALOG = {t.name: t for t in load_catalog()}
KEY = "KEY_stdio_test_secret"


def child_env(**extra: str) -> dict[str, str]:
    env = {k: os.environ[k] for k in ("HOME", "PATH", "LANG") if k in os.environ}
    env.update(extra)
    return env


def stdio(*args: str, **env: str) -> StdioServerParameters:
    return StdioServerParameters(command=sys.executable, args=["-m", "telnyx_numbers_mcp", *args], env=child_env(**env))


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def wait_for_port(port: int, proc: subprocess.Popen[bytes], timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"subprocess exited with {proc.returncode}")
        with socket.socket() as s:
            if s.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.05)  # waiting for a TCP listener, not for server state
    raise RuntimeError(f"port {port} did not open")


@contextmanager
def sandbox_api() -> Iterator[int]:
    port = free_port()
    proc = subprocess.Popen(
        [sys.executable, "-m", "telnyx_numbers_mcp", "sandbox-api", "--port", str(port)],
        env=child_env(),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        wait_for_port(port, proc)
        yield port
    finally:
        proc.kill()
        proc.wait(timeout=10)


@pytest.mark.parametrize("mode", ["legacy", "auto"])
async def test_stdio_lists_48_tools_and_a_search_works(tmp_path: Path, mode: str) -> None:
    params = stdio("--sandbox", "--audit-log", str(tmp_path / "audit.jsonl"))
    async with Client(params, mode=mode) as client:  # type: ignore[arg-type]
        tools = (await client.list_tools()).tools
        names = {t.name for t in tools}
        assert len(tools) == 48
        assert names == set(CATALOG) | {"confirm_action"}
        result = await client.call_tool("available_phone_numbers_list", {"filter": {"country_code": "US", "limit": 2}})
    assert not result.is_error
    assert result.structured_content is not None
    assert 0 < len(result.structured_content["data"]) <= 2


async def test_stdio_read_only_lists_no_write_tool(tmp_path: Path) -> None:
    async with Client(stdio("--sandbox", "--read-only", "--audit-log", str(tmp_path / "a.jsonl"))) as client:
        names = {t.name for t in (await client.list_tools()).tools}
    assert names == {n for n, t in CATALOG.items() if t.read_only}
    assert len(names) < 48 and "confirm_action" not in names


async def test_stdio_against_a_served_sandbox_sends_what_the_sdk_sends(tmp_path: Path) -> None:
    calls: list[tuple[str, dict[str, Any]]] = [
        ("available_phone_numbers_list", {"filter": {"country_code": "US", "limit": 2}}),
        ("number_reservations_create", {"phone_numbers": [{"phone_number": "+13125550001"}]}),
        ("number_orders_list", {"page_number": 1, "page_size": 5}),
        ("comments_list", {"filter": {"comment_record_type": "sub_number_order", "comment_record_id": "x"}}),
    ]
    with sandbox_api() as port:
        params = stdio(
            "--base-url",
            f"http://127.0.0.1:{port}/v2",
            "--audit-log",
            str(tmp_path / "audit.jsonl"),
            TELNYX_API_KEY=KEY,
        )
        async with Client(params) as client:
            for name, args in calls:
                result = await client.call_tool(name, args)
                assert KEY not in str(result.content)
        async with httpx.AsyncClient() as http:
            recorded = (await http.get(f"http://127.0.0.1:{port}/_sandbox/requests")).json()["data"]
    assert len(recorded) == len(calls)
    for (name, args), req in zip(calls, recorded, strict=True):
        sdk = sdk_request(CATALOG[name].sdk_method, args)
        assert req["method"] == sdk.method, name
        assert req["path"] == "/v2" + sdk.path, name
        assert sorted(map(tuple, req["query_pairs"])) == sorted(sdk.query), name
        assert req["json"] == sdk.json, name
        assert req["headers"]["authorization"] == "Bearer ***"  # a key was sent (the sandbox redacts it)
