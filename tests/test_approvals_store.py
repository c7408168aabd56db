"""The approvals store's transitions (pure, against SQLite files), the approval settings, and the review
link's base (--public-url, --approval-port) through a real MCP client."""

from __future__ import annotations

import threading
from pathlib import Path

import httpx
import pytest

from approval_helpers import Flow, decide, text, us_number
from sandbox_helpers import free_port
from telnyx_numbers_mcp.approvals.store import SqliteApprovalStore
from telnyx_numbers_mcp.config import build_settings
from telnyx_numbers_mcp.mode import Mode
from telnyx_numbers_mcp.sandbox import Sandbox

MODE = Mode(sandbox=True, base_url="http://sandbox.invalid/v2", key_fingerprint=None).key


def make(store: SqliteApprovalStore, ttl: float = 60, digest: str = "d") -> str:
    created, fresh = store.open(
        tool="number_orders_create", args={"a": 1}, args_digest=digest, summary="BUY", channel="review-page",
        ttl=ttl, mode=MODE,
    )  # fmt: skip
    assert fresh
    return created.id


def test_a_decision_is_taken_once_and_execution_claimed_once(tmp_path: Path) -> None:
    store = SqliteApprovalStore(tmp_path / "a.sqlite3")
    approval_id = make(store)
    assert not store.transition(approval_id, from_status="approved", to_status="executed")  # not approved yet
    assert store.transition(approval_id, from_status="pending", to_status="approved", channel="terminal",
                            decided_by="ops")  # fmt: skip
    assert not store.transition(approval_id, from_status="pending", to_status="declined")
    approval = store.get(approval_id)
    assert approval is not None and approval.status == "approved" and approval.channel == "terminal"
    assert approval.decided_by == "ops" and approval.decided_at is not None
    assert store.record_outcome(approval_id, {"x": 1}) is False  # only an executed approval has an outcome
    assert store.transition(approval_id, from_status="approved", to_status="executed")
    assert store.record_outcome(approval_id, {"x": 1}) and not store.record_outcome(approval_id, {"x": 2})
    assert (store.get(approval_id) or approval).outcome == {"x": 1}


def test_a_pending_approval_past_its_expiry_cannot_be_approved(tmp_path: Path) -> None:
    store = SqliteApprovalStore(tmp_path / "a.sqlite3")
    approval_id = make(store, ttl=0.001)
    threading.Event().wait(0.01)
    assert not store.transition(approval_id, from_status="pending", to_status="approved")
    assert store.transition(approval_id, from_status="pending", to_status="expired")
    assert [a.id for a in store.list("expired")] == [approval_id] and store.list("pending") == []


def test_twenty_threads_on_two_connections_claim_an_execution_once(tmp_path: Path) -> None:
    path = tmp_path / "shared.sqlite3"
    stores = [SqliteApprovalStore(path), SqliteApprovalStore(path)]  # as two processes would
    approval_id = make(stores[0])
    assert stores[1].transition(approval_id, from_status="pending", to_status="approved")
    wins: list[bool] = []
    start = threading.Barrier(20)

    def claim(i: int) -> None:
        start.wait()
        wins.append(stores[i % 2].transition(approval_id, from_status="approved", to_status="executed"))

    threads = [threading.Thread(target=claim, args=(i,)) for i in range(20)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(wins) == [False] * 19 + [True]


@pytest.mark.parametrize(
    ("flags", "env", "opens"),
    [({}, {}, False), ({}, {"DISPLAY": ":0"}, True), ({"no_browser": True}, {"DISPLAY": ":0"}, False),
     ({}, {"WAYLAND_DISPLAY": "wayland-0"}, True)],
)  # fmt: skip
def test_the_review_page_opens_in_a_browser_only_on_a_desktop(
    flags: dict[str, bool], env: dict[str, str], opens: bool
) -> None:
    assert build_settings(flags, env).open_browser is opens


def test_the_notify_command_and_browser_environment_leaves_out_the_secrets(tmp_path: Path) -> None:
    (tmp_path / "secret").write_text("Zq8vK2pWx7LmN4rT9yB3cH6jD1fG5sQ0aE\n")
    (tmp_path / "store").write_text(f"sqlite:///{tmp_path}/s.sqlite3\n")
    secrets = {"TELNYX_API_KEY": "KEY_x", "MCP_HTTP_TOKEN": "tok", "PGPASSWORD": "pg", "PGPASSFILE": "/p",
               "TELNYX_MCP_STATE_SECRET_FILE": str(tmp_path / "secret"),
               "TELNYX_MCP_STORE_FILE": str(tmp_path / "store")}  # fmt: skip
    env = {**secrets, "PATH": "/bin", "SLACK_WEBHOOK": "https://hooks", "DISPLAY": ":0", "BROWSER": "firefox"}
    for flags in ({"approval_notify": "notify-send"}, {}):  # the browser opens: DISPLAY is set
        settings = build_settings(flags, env)
        assert dict(settings.child_environ) == {"PATH": "/bin", "SLACK_WEBHOOK": "https://hooks", "DISPLAY": ":0",
                                                "BROWSER": "firefox"}  # fmt: skip
        assert "KEY_x" not in repr(settings)


@pytest.mark.anyio
async def test_public_url_and_a_pinned_port_shape_the_review_link(tmp_path: Path) -> None:
    flow = Flow(Sandbox(), tmp_path)
    port = free_port()
    async with flow.client("legacy", approval_port=port, public_url="https://approvals.example.com/") as c:
        args = {"phone_numbers": [{"phone_number": (await us_number(c))["phone_number"]}]}
        result = await flow.call(c, "number_orders_create", args)
        assert (result.structured_content or {})["status"] == "awaiting_approval", text(result)
        url = flow.url()
        assert url.startswith("https://approvals.example.com/approvals/ap_")
        local = url.replace("https://approvals.example.com", f"http://127.0.0.1:{port}")
        async with httpx.AsyncClient() as http:  # as the proxy forwards it: the public Host
            page = await http.get(local, headers={"Host": "approvals.example.com"})
            assert page.status_code == 200 and "Approve" in page.text
        done = await decide(local, "approve", origin_header="https://approvals.example.com")
        assert done.status_code == 200 and "Approved and sent" in done.text
    assert flow.sent("number_orders_create") == 1


def test_the_execution_claim_holds_only_under_its_own_mode_and_before_its_expiry(tmp_path: Path) -> None:
    store = SqliteApprovalStore(tmp_path / "a.sqlite3")
    approval_id = make(store)
    assert store.transition(approval_id, from_status="pending", to_status="approved", mode=MODE)
    live = Mode(sandbox=False, base_url="http://sandbox.invalid/v2", key_fingerprint="key-0123456789abcdef").key
    assert not store.transition(approval_id, from_status="approved", to_status="executed", mode=live)
    short = make(store, ttl=0.05, digest="e")
    assert store.transition(short, from_status="pending", to_status="approved", mode=MODE)
    threading.Event().wait(0.1)  # past its expiry
    assert not store.transition(short, from_status="approved", to_status="executed", mode=MODE)
    assert store.transition(short, from_status="approved", to_status="expired")
    assert store.transition(approval_id, from_status="approved", to_status="executed", mode=MODE)


def test_approvals_made_before_modes_were_recorded_are_expired_by_the_migration(tmp_path: Path) -> None:
    import sqlite3

    from telnyx_numbers_mcp.store.base import MIGRATIONS
    from telnyx_numbers_mcp.store.sqlite import SqliteStore

    path = tmp_path / "old.sqlite3"
    with sqlite3.connect(path) as db:  # a store as version 2 left it, with open approvals
        db.execute("CREATE TABLE schema_migrations (version INTEGER PRIMARY KEY)")
        for version, statements in MIGRATIONS[:2]:
            for sql in statements:
                db.execute(sql.format(serial="INTEGER", real="REAL"))
            db.execute("INSERT INTO schema_migrations (version) VALUES (?)", (version,))
        for i, status in enumerate(("pending", "approved", "executed")):
            db.execute(
                "INSERT INTO approvals (id, tool, args_digest, args_json, summary, status, channel, created_at, "
                "expires_at) VALUES (?, 'number_orders_create', 'd', '{}', 'BUY', ?, 'review-page', 0, 4e9)",
                (f"ap_{i:020d}", status),
            )
    SqliteStore(path, audit_key=bytes(32)).close()
    store = SqliteApprovalStore(path)
    assert sorted((a.id, a.status, a.mode) for a in store.list()) == [
        ("ap_00000000000000000000", "expired", None), ("ap_00000000000000000001", "expired", None),
        ("ap_00000000000000000002", "executed", None)]  # fmt: skip
