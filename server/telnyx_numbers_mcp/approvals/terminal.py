"""`telnyx-numbers-mcp approvals`: the operator's face on the approvals store, at a shell. Lists pending
approvals; `approve ID` / `decline ID` decide one (the waiting server, or the agent's check_approval, sends it)."""

from __future__ import annotations

import getpass
import sys

from telnyx_numbers_mcp.approvals.gate import ID_PATTERN, when
from telnyx_numbers_mcp.approvals.store import Approval
from telnyx_numbers_mcp.config import Settings
from telnyx_numbers_mcp.guards.audit import AuditLog
from telnyx_numbers_mcp.store import Store, open_store


def _line(a: Approval) -> str:
    summary = "".join(f"\n    {line}" for line in a.summary.splitlines())
    return f"{a.id}  {a.status}, expires {when(a.expires_at)}  {a.tool}{summary}\n"


def run(settings: Settings, action: str, approval_id: str | None) -> int:
    """Works on whichever store --store names, so an operator can decide for any replica."""
    server_store = open_store(settings)
    store = server_store.approvals()
    try:
        if action == "list":
            pending = [a for a in store.list("pending") if not a.expired() and a.channel != "elicitation"]
            if not pending:
                print("No approvals are waiting.")
            for a in pending:
                print(_line(a))
            return 0
        if not approval_id or not ID_PATTERN.fullmatch(approval_id):
            print(f"telnyx-numbers-mcp: approvals {action} needs an approval id like ap_0123... "
                  f"(see `telnyx-numbers-mcp approvals`); got {approval_id!r}", file=sys.stderr)  # fmt: skip
            return 2
        return _decide(settings, store, action == "approve", approval_id, server_store)
    finally:
        store.close()
        server_store.close()


def _decide(settings: Settings, store: object, approve: bool, approval_id: str, server_store: Store) -> int:
    from telnyx_numbers_mcp.approvals.store import ApprovalStore

    assert isinstance(store, ApprovalStore)
    approval = store.get(approval_id)
    if approval is None:
        print(f"telnyx-numbers-mcp: no approval {approval_id} in this store", file=sys.stderr)
        return 1
    if approval.channel == "elicitation":
        print(f"telnyx-numbers-mcp: {approval_id} is being asked in the MCP client; answer it there", file=sys.stderr)
        return 1
    if approval.expired():
        store.transition(approval_id, from_status="pending", to_status="expired")
    who = f"{getpass.getuser()} at the terminal"
    won = store.transition(
        approval_id, from_status="pending", to_status="approved" if approve else "declined",
        channel="terminal", decided_by=who,
    )  # fmt: skip
    current = store.get(approval_id) or approval
    if not won:
        print(f"telnyx-numbers-mcp: {approval_id} was not changed: it is already {current.status}", file=sys.stderr)
        return 1
    api_key = settings.api_key.get_secret_value() if settings.api_key else None
    audit = AuditLog(settings.audit_log, secrets=[api_key] if api_key else [], store=server_store)
    audit.append({"event": "decided", "approval_id": approval_id, "tool": approval.tool, "approved": approve,
                  "channel": "terminal", "decided_by": who})  # fmt: skip
    if not approve:
        audit.append({"event": "refused", "approval_id": approval_id, "tool": approval.tool, "args": approval.args,
                      "approval": {"approved": False, "how": "terminal", "detail": f"declined by {who}"}})  # fmt: skip
    print(approval.summary)
    if approve:
        print(f"\nApproved {approval_id}. The server sends it now if the agent is waiting, or when the agent "
              "calls check_approval.")  # fmt: skip
    else:
        print(f"\nDeclined {approval_id}. Nothing will be sent.")
    return 0
