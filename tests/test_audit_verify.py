"""`telnyx-numbers-mcp audit --verify` on SQLite and on a real PostgreSQL (pgserver): a trail written by real
purchases through an MCP client verifies; an UPDATE, DELETE or INSERT made with SQL on the database is named by
store id, with a non-zero exit; processes and replicas appending at once keep one chain; records
from before the upgrade are counted; the key is never in the store or in what the commands print."""

from __future__ import annotations

import base64
import itertools
import json
import sqlite3
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import anyio
import httpx
import pytest

from approval_helpers import Flow, us_number
from helpers import Human, text_of
from replica_helpers import SECRET, Replica, connect, new_database, start_replica
from sandbox_helpers import child_env, sandbox_api_process
from telnyx_numbers_mcp.app import build_server
from telnyx_numbers_mcp.config import build_settings
from telnyx_numbers_mcp.keyring import Keyring
from telnyx_numbers_mcp.runtime import build_runtime
from telnyx_numbers_mcp.sandbox import Sandbox, create_app
from telnyx_numbers_mcp.store.base import MIGRATIONS

pytestmark = [pytest.mark.anyio, pytest.mark.slow]  # PostgreSQL, CLI and server processes
ORDER = "number_orders_create"


@dataclass
class Trail:
    """One store (a SQLite file, by default without --state-secret, so its key is the state folder's audit.key; or a
    PostgreSQL database with the replicas' secret) and the state folder beside it."""

    kind: str
    url: str
    tmp: Path
    secret: str | None

    @property
    def state(self) -> Path:
        return self.tmp / "state"  # Flow's state folder too

    def flags(self) -> dict[str, Any]:
        return {"store": self.url, **({"state_secret": self.secret} if self.secret else {})}

    def key(self) -> bytes:
        if self.secret:
            return Keyring.from_secret(self.secret).derive("audit-chain")
        return (self.state / "audit.key").read_bytes()

    def cli(self, *args: str, state: Path | None = None, secret: str | None = None) -> subprocess.CompletedProcess[str]:
        """The command as an operator runs it, with the store, state folder and secret the servers use."""
        secret = secret or self.secret
        extra = {"TELNYX_MCP_STATE_SECRET": secret} if secret else {}
        return subprocess.run(
            [sys.executable, "-m", "telnyx_numbers_mcp", *args, "--store", self.url, "--state-dir",
             str(state or self.state)], env=child_env(**extra), capture_output=True, text=True, timeout=120,
        )  # fmt: skip

    def verify(self) -> subprocess.CompletedProcess[str]:
        return self.cli("audit", "--verify")

    def records(self) -> list[dict[str, Any]]:
        out = self.cli("audit")
        assert out.returncode == 0, out.stderr
        return [json.loads(line) for line in out.stdout.splitlines()]

    def sql(self, statement: str, params: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
        """One statement straight on the database, as someone with access to it would run it."""
        if self.kind == "sqlite":
            with sqlite3.connect(self.url[len("sqlite://") :]) as db:
                return db.execute(statement, params).fetchall()
        import psycopg

        with psycopg.connect(self.url, autocommit=True) as conn:
            cursor = conn.execute(statement.replace("?", "%s").encode(), params)
            return cursor.fetchall() if cursor.description else []


@pytest.fixture(params=["sqlite", "postgresql"])
def trail(request: pytest.FixtureRequest, tmp_path: Path) -> Trail:
    if request.param == "postgresql":
        return Trail("postgresql", new_database(request.getfixturevalue("pg_admin")), tmp_path, SECRET)
    return Trail("sqlite", f"sqlite://{tmp_path / 'store' / 'state.sqlite3'}", tmp_path, None)


async def buy(trail: Trail, count: int = 2) -> Flow:
    """`count` real purchases, each approved by the human through elicitation, the first in the 2025 protocol era
    and the rest in the 2026 one; the sandbox records what was sent."""
    flow = Flow(Sandbox(), trail.tmp)
    settings = build_settings(flow.flags(**trail.flags()), {})
    rt = build_runtime(settings, transport=httpx.ASGITransport(app=create_app(flow.sb)))
    try:
        for i in range(count):
            server = build_server(settings, runtime=rt)
            async with flow.client("legacy" if i == 0 else "auto", server=server, elicitation_callback=Human()) as c:
                number = (await us_number(c))["phone_number"]
                result = await c.call_tool(ORDER, {"phone_numbers": [{"phone_number": number}]})
            assert not result.is_error and (result.structured_content or {}).get("data"), text_of(result)
    finally:
        rt.close()
    assert flow.sent(ORDER) == count
    return flow


def named(out: subprocess.CompletedProcess[str], store_id: int, what: str) -> None:
    assert out.returncode == 1, (out.stdout, out.stderr)
    assert out.stdout.startswith(f"TAMPERED: store id {store_id}: {what}"), out.stdout


def first_request(trail: Trail) -> int:
    return int(trail.sql("SELECT min(id) FROM audit_events WHERE record LIKE ?", ('%"event": "request"%',))[0][0])


async def test_a_trail_written_by_real_purchases_verifies(trail: Trail) -> None:
    flow = await buy(trail)
    records = trail.records()
    assert [r["event"] for r in records] == ["asked", "decided", "request", "outcome"] * 2
    out = trail.verify()
    assert (out.returncode, out.stdout, out.stderr) == (0, "ok 8 records\n", "")
    assert [r["event_id"] for r in flow.audit()] == [r["event_id"] for r in records]  # the file is a copy


async def test_a_record_changed_with_sql_is_named(trail: Trail) -> None:
    await buy(trail)
    target = first_request(trail)
    [(record,)] = trail.sql("SELECT record FROM audit_events WHERE id = ?", (target,))
    number = json.loads(record)["args"]["phone_numbers"][0]["phone_number"]
    trail.sql("UPDATE audit_events SET record = replace(record, ?, ?) WHERE id = ?", (number, "+13125550199", target))
    named(trail.verify(), target, "changed: its content or chain fields no longer match its MAC")


async def test_a_record_deleted_with_sql_is_named(trail: Trail) -> None:
    await buy(trail)
    target = first_request(trail)
    trail.sql("DELETE FROM audit_events WHERE id = ?", (target,))
    named(trail.verify(), target, f"deleted: it is missing after store id {target - 1}, before store id {target + 1}")


async def test_the_newest_record_deleted_with_sql_is_named(trail: Trail) -> None:
    await buy(trail)
    [(newest,)] = trail.sql("SELECT max(id) FROM audit_events")
    trail.sql("DELETE FROM audit_events WHERE id = ?", (newest,))
    named(trail.verify(), newest, "deleted: the newest record is missing")


async def test_a_record_inserted_with_sql_is_named(trail: Trail) -> None:
    await buy(trail)
    [(forged,)] = trail.sql(
        "INSERT INTO audit_events (event_id, ts, record) VALUES (?, ?, ?) RETURNING id",
        ("f" * 32, "2026-01-01T00:00:00.000Z", json.dumps({"event": "request", "tool": ORDER, "args": {}})),
    )
    named(trail.verify(), forged, "inserted: it has no MAC")
    trail.sql("DELETE FROM audit_events WHERE id = ?", (forged,))
    assert trail.verify().returncode == 0  # removing the forgery restores the chain
    # a forgery that copies the chain columns of a real record (under a new position) is not part of the chain either
    [(copied,)] = trail.sql(
        "INSERT INTO audit_events (event_id, ts, record, chain_seq, prev_id, prev_mac, mac)"
        " SELECT 'e' || event_id, ts, record, chain_seq + 100, prev_id, prev_mac, mac FROM audit_events"
        " WHERE id = (SELECT max(id) FROM audit_events) RETURNING id"
    )
    named(trail.verify(), copied, "inserted: it is not part of the chain")


async def test_the_key_never_appears_in_the_store_or_in_what_the_commands_print(trail: Trail) -> None:
    flow = await buy(trail, 1)
    outputs = [trail.verify(), trail.cli("audit")]
    trail.sql("UPDATE audit_events SET ts = 'x' WHERE id = (SELECT min(id) FROM audit_events)")
    outputs.append(trail.verify())
    key = trail.key()
    forms = [key, key.hex().encode(), base64.b64encode(key).rstrip(b"="), base64.urlsafe_b64encode(key).rstrip(b"=")]
    forms.append(SECRET.encode())
    if trail.kind == "sqlite":
        assert (trail.state / "audit.key").stat().st_mode & 0o777 == 0o600
        folder = trail.state.parent / "store"
        stored = b"".join(p.read_bytes() for p in folder.iterdir())  # the database, its WAL and its index
    else:
        tables = [t for (t,) in trail.sql("SELECT tablename FROM pg_tables WHERE schemaname = 'public'")]
        assert {"audit_events", "audit_chain"} <= set(tables)
        stored = "\n".join(str(r) for t in tables for r in trail.sql(f"SELECT * FROM {t}")).encode()
    printed = "".join(o.stdout + o.stderr for o in outputs).encode()
    assert outputs[0].stdout == "ok 4 records\n" and outputs[2].returncode == 1
    copy = (flow.tmp / "audit.jsonl").read_bytes()
    for form in forms:
        for where, data in (("store", stored), ("output", printed), ("audit file", copy)):
            assert form not in data and form.lower() not in data.lower(), f"the key is in the {where}"


async def test_records_from_before_the_upgrade_are_counted_and_the_chain_starts_after_them(trail: Trail) -> None:
    """A store made before the chain (migrations below 5) with three records, opened by today's server."""
    if trail.kind == "sqlite":
        Path(trail.url[len("sqlite://") :]).parent.mkdir(parents=True)
    serial, real = ("INTEGER", "REAL") if trail.kind == "sqlite" else ("BIGSERIAL", "DOUBLE PRECISION")
    trail.sql("CREATE TABLE schema_migrations (version INTEGER PRIMARY KEY)")
    for version, statements in (m for m in MIGRATIONS if m[0] < 5):
        for statement in statements:
            trail.sql(statement.format(serial=serial, real=real))
        trail.sql("INSERT INTO schema_migrations (version) VALUES (?)", (version,))
    for i in range(3):
        trail.sql("INSERT INTO audit_events (event_id, ts, record) VALUES (?, ?, ?)",
                  (f"old{i}", "2025-01-01T00:00:00.000Z", json.dumps({"event": "request", "old": i})))  # fmt: skip
    await buy(trail, 1)
    out = trail.verify()
    assert out.returncode == 0, out.stdout
    assert out.stdout == ("ok 4 records\n3 older records (up to store id 3) predate the chain: written before the "
                          "upgrade that added it, they are counted but not covered\n")  # fmt: skip
    trail.sql("DELETE FROM audit_events WHERE id = 2")
    gone = trail.verify()
    assert gone.returncode == 1 and gone.stdout.startswith(
        "TAMPERED: the records older than the chain: deleted: the chain began after 3 older records (up to store id 3)"
        ", and 2 are there now"), gone.stdout  # fmt: skip


async def test_verify_without_the_servers_key_says_so_and_makes_no_key(trail: Trail) -> None:
    assert trail.verify().stdout == "ok 0 records\n"  # a new store: nothing to check, no key needed
    await buy(trail, 1)
    if trail.kind == "sqlite":
        elsewhere = trail.tmp / "another-state-folder"
        out = trail.cli("audit", "--verify", state=elsewhere)
        assert out.returncode == 2 and f"no key at {elsewhere / 'audit.key'}" in out.stderr, out.stderr
        assert not (elsewhere / "audit.key").exists()
    else:
        out = trail.cli("audit", "--verify", secret="Xw3nR8tY2uI7oP4aS9dF6gH1jK5lZ0xCv")
        assert out.returncode == 1 and "the key is not the one the servers used" in out.stdout, out.stdout
    both = trail.cli("audit", "--verify", "--after", "2")
    assert both.returncode == 2 and "drop --after and --limit" in both.stderr


WRITER = """
import os, sys, time
from pathlib import Path
from telnyx_numbers_mcp.config import build_settings
from telnyx_numbers_mcp.guards.audit import AuditLog
from telnyx_numbers_mcp.store import open_store
store, state, secret, count, barrier, writers = sys.argv[1:]
flags = {"store": store, "state_dir": state, **({"state_secret": secret} if secret else {})}
opened = open_store(build_settings(flags, {}))
log = AuditLog(None, store=opened)
Path(barrier, str(os.getpid())).touch()
while len(os.listdir(barrier)) < int(writers):
    time.sleep(0.01)  # every writer has opened the store: they begin together
for i in range(int(count)):
    log.append({"event": "request", "tool": "number_orders_create", "i": i})
    time.sleep(0.003)  # as a server does between calls: the other writers take the lock in between
opened.close()
"""


def test_three_processes_appending_at_once_keep_one_chain(trail: Trail) -> None:
    """On a fresh state folder (SQLite without a secret: every process makes or reads audit.key at once), three
    writers append 150 records each at the same time; the chain still verifies and holds them all, interleaved."""
    barrier = trail.tmp / "barrier"
    barrier.mkdir()
    argv = [sys.executable, "-c", WRITER, trail.url, str(trail.state), trail.secret or "", "150", str(barrier), "3"]
    writers = [subprocess.Popen(argv, env=child_env(), stderr=subprocess.PIPE, text=True) for _ in range(3)]
    for w in writers:
        _, err = w.communicate(timeout=300)
        assert w.returncode == 0, err[-2000:]
    out = trail.verify()
    assert (out.returncode, out.stdout) == (0, "ok 450 records\n"), out.stdout + out.stderr
    by = [r["replica"] for r in trail.records()]
    assert len(set(by)) == 3 and {by.count(r) for r in by} == {150}
    assert sum(a != b for a, b in itertools.pairwise(by)) > 2  # they did append at the same time


@pytest.fixture(scope="module")
def upstream() -> Iterator[str]:
    with sandbox_api_process() as base:
        yield base


async def test_two_replicas_buying_at_once_keep_one_chain(trail: Trail, upstream: str) -> None:
    """Two server processes on one store (PostgreSQL, or one SQLite file) and one --state-secret buy 12 numbers at
    once, through MCP clients over HTTP (--purchase-policy allow: no one to ask)."""
    trail.secret = SECRET  # start_replica gives every replica this secret
    replicas = [start_replica(trail.url, upstream, trail.tmp, "--purchase-policy", "allow") for _ in range(2)]
    try:
        async with connect(replicas[0].url) as c:
            found = await c.call_tool("available_phone_numbers_list", {"filter": {"country_code": "US", "limit": 12}})
        numbers = [n["phone_number"] for n in (found.structured_content or {})["data"]]
        assert len(numbers) == 12, text_of(found)
        failures: list[str] = []

        async def purchase(replica: Replica, number: str) -> None:
            async with connect(replica.url, "auto") as c:
                result = await c.call_tool(ORDER, {"phone_numbers": [{"phone_number": number}]})
            if result.is_error:
                failures.append(text_of(result))

        async with anyio.create_task_group() as tg:
            for i, number in enumerate(numbers):
                tg.start_soon(purchase, replicas[i % 2], number)
    finally:
        for replica in replicas:
            replica.stop()
    assert failures == []
    out = trail.verify()
    assert (out.returncode, out.stdout) == (0, "ok 24 records\n"), out.stdout + out.stderr
    records = trail.records()
    assert len({r["replica"] for r in records}) == 2
    bought = [r["args"]["phone_numbers"][0]["phone_number"] for r in records if r["event"] == "request"]
    assert sorted(bought) == sorted(numbers)
