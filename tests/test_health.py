"""The HTTP transport's health endpoints and shutdown, on real server processes: /readyz follows the store
(a PostgreSQL database that goes away makes it 503, while /healthz stays 200), and SIGTERM lets a call in
flight finish before the process exits."""

from __future__ import annotations

import contextlib
import signal
from pathlib import Path
from urllib.parse import urlsplit

import anyio
import httpx
import psycopg
import pytest

from replica_helpers import Upstream, connect, new_database, start_replica
from sandbox_helpers import sandbox_api_process

pytestmark = [pytest.mark.anyio, pytest.mark.slow]  # starts server processes and PostgreSQL


async def test_readyz_turns_503_when_the_database_goes_away_and_healthz_stays_200(
    pg_admin: str, tmp_path: Path
) -> None:
    store = new_database(pg_admin)
    with sandbox_api_process() as upstream:
        replica = start_replica(store, upstream, tmp_path)
        try:
            before = httpx.get(f"{replica.base}/readyz", timeout=30)
            name = urlsplit(store).path.lstrip("/")
            with psycopg.connect(pg_admin, autocommit=True) as admin:
                admin.execute(f"DROP DATABASE {name} WITH (FORCE)".encode())  # also ends the replica's connections
            after = httpx.get(f"{replica.base}/readyz", timeout=30)
            alive = httpx.get(f"{replica.base}/healthz", timeout=30)
        finally:
            replica.stop()
    assert (before.status_code, before.json()) == (200, {"status": "ready"})
    assert (after.status_code, after.json()) == (503, {"status": "not ready"})
    assert (alive.status_code, alive.json()) == (200, {"status": "ok"})
    assert "postgres" not in after.text and "/tmp" not in after.text


async def test_sigterm_lets_a_call_in_flight_finish_then_the_process_exits(tmp_path: Path) -> None:
    with sandbox_api_process() as base:
        up = Upstream(base)
        replica = start_replica(f"sqlite://{tmp_path / 'state.sqlite3'}", base, tmp_path, "--shutdown-grace", "20")
        try:
            up.delay_searches(2)
            result = None

            async def search() -> None:
                nonlocal result
                # the client's own goodbye after the answer finds the listener closed: that is shutdown working
                with contextlib.suppress(Exception):
                    async with connect(replica.url, "auto") as c:
                        await c.list_tools()  # the client checks results against the schemas: fetch them now
                        result = await c.call_tool(
                            "available_phone_numbers_list", {"filter": {"country_code": "US", "limit": 1}}
                        )

            async with anyio.create_task_group() as tg:
                tg.start_soon(search)
                with anyio.fail_after(30):
                    while not httpx.get(f"{base}/_sandbox/requests", timeout=10).json()["data"]:
                        await anyio.sleep(0.05)  # waiting for the call to reach the (slow) upstream
                replica.proc.send_signal(signal.SIGTERM)
            code = await anyio.to_thread.run_sync(lambda: replica.proc.wait(timeout=30))
        finally:
            replica.kill()
    assert result is not None and not result.is_error, result
    assert result.structured_content is not None and result.structured_content["data"]
    assert code == 0, replica.stderr()[-2000:]
