"""`telnyx-numbers-mcp approvals`: the operator's face on the approvals store, at a shell. Lists every pending
approval made under this command's mode (`--all-modes`: every mode's); `approve ID` prints the whole summary and
asks for confirmation on a terminal (elsewhere it needs `--yes`); `decline ID` declines. The waiting server, or
the agent's check_approval, sends an approved one. An approval made under another mode (sandbox or live, base
URL, API key: mode.py) is refused, naming the flags a command needs to decide it. The decision records the
operator, the OS user running the command (`os:alice`), as the approver; an approval asked on a hosted server
(by a signed-in person) may be decided here too, since the operator holds that server's store, and the record
says so."""

from __future__ import annotations

import getpass
import shlex
import sys
from urllib.parse import urlsplit

from telnyx_numbers_mcp.approvals.gate import ID_PATTERN, when
from telnyx_numbers_mcp.approvals.store import Approval, ApprovalStore
from telnyx_numbers_mcp.auth.identity import requester_record, requester_shown
from telnyx_numbers_mcp.config import Settings
from telnyx_numbers_mcp.guards.audit import AuditLog
from telnyx_numbers_mcp.mode import Mode, refusal
from telnyx_numbers_mcp.spend.terminal import Options, grant_approved, lowered
from telnyx_numbers_mcp.spend.tools import MANDATE_TOOL
from telnyx_numbers_mcp.store import Store, open_store

PROG = "telnyx-numbers-mcp"


def hint_flags(settings: Settings, mode: Mode | None = None, *, tool: str | None = None) -> list[str]:
    """The flags a pasted command needs to reach the same store under `mode` (default: this process's own),
    so that it works and cannot cross modes. With `tool` (for `call check_approval`): also what carrying out
    that tool's approval needs (the tool offered, even from an opt-in toolset; the same sandbox state, audit
    file and spending limit)."""
    own = Mode.of(settings)
    mode = mode or own
    flags = mode.flags()
    if tool is not None:
        flags += ["--tools", tool]
        if mode == own and settings.sandbox and settings.sandbox_state:
            flags += ["--sandbox-state", str(settings.sandbox_state)]
        if settings.audit_log:
            flags += ["--audit-log", str(settings.audit_log)]
        if settings.spend_limit is not None:  # carrying out a purchase holds its amount under the same limit
            flags += ["--spend-limit", settings.spend_limit.flag()]
    if settings.state_dir:
        flags += ["--state-dir", str(settings.state_dir)]
    store = settings.store.get_secret_value() if settings.store else None
    if store and urlsplit(store).password is None:  # a password is never printed: it stays in the environment
        flags += ["--store", store]
    return flags


def environment_note(settings: Settings, mode: Mode) -> str:
    """What a pasted command needs from the environment besides its flags ('' when nothing)."""
    needs = []
    if not mode.sandbox and mode.key_fingerprint:
        same = mode == Mode.of(settings)
        needs.append("TELNYX_API_KEY set as now" if same else
                     f"TELNYX_API_KEY set to the key whose fingerprint is {mode.key_fingerprint}")  # fmt: skip
    if settings.store and urlsplit(settings.store.get_secret_value()).password is not None:
        needs.append("TELNYX_MCP_STORE set as now")
    return f" (with {' and '.join(needs)})" if needs else ""


def operator() -> str:
    """Who decides at the terminal: the OS user running this command."""
    return f"os:{getpass.getuser()}"


def asked_by(a: Approval) -> str:
    """Who asked for an approval on a hosted server ('' for a local one)."""
    return requester_shown(a.requester, a.requester_client)


def _line(a: Approval, settings: Settings, *, with_mode: bool) -> str:
    summary = "".join(f"\n    {line}" for line in a.summary.splitlines())
    asked = "  (being asked in the MCP client: answer it there)" if a.channel == "elicitation" else ""
    if a.requester is not None:
        asked += f"\n    asked by {asked_by(a)}"
    made = Mode.from_key(a.mode)
    under = ""
    if with_mode:
        under = f"\n    made under {made.describe() if made else 'an unknown mode'}"
        if made is not None and made != Mode.of(settings):
            command = shlex.join([PROG, "approvals", "approve", a.id, *hint_flags(settings, made)])
            under += f"; decide it under that mode: {command}{environment_note(settings, made)}"
    return f"{a.id}  {a.status}, expires {when(a.expires_at)}  {a.tool}{asked}{under}{summary}\n"


def run(
    settings: Settings,
    action: str,
    approval_id: str | None,
    *,
    all_modes: bool = False,
    assume_yes: bool = False,
    mandate: Options | None = None,
) -> int:
    """Works on whichever store --store names, so an operator can decide for any replica. `mandate`: the mandate
    options (bounds that lower a requested mandate when approving it)."""
    mandate = mandate or Options()
    if mandate.any and action != "approve":
        print(f"{PROG}: the mandate options (--max-numbers, --max-total, ...) go with `approvals approve ID` (to lower "
              "a requested mandate) or `approvals mandate grant`", file=sys.stderr)  # fmt: skip
        return 2
    server_store = open_store(settings)
    store = server_store.approvals()
    try:
        if action == "list":
            return _list(store, settings, all_modes=all_modes)
        if not approval_id or not ID_PATTERN.fullmatch(approval_id):
            print(f"{PROG}: approvals {action} needs an approval id like ap_0123... "
                  f"(see `{PROG} approvals`); got {approval_id!r}", file=sys.stderr)  # fmt: skip
            return 2
        return _decide(settings, store, server_store, action, approval_id, assume_yes=assume_yes, mandate=mandate)
    finally:
        store.close()
        server_store.close()


def _list(store: ApprovalStore, settings: Settings, *, all_modes: bool) -> int:
    """Every pending approval (no limit), oldest first: this mode's, or every mode's."""
    here = Mode.of(settings)
    pending = [a for a in reversed(store.list("pending")) if not a.expired()]
    own = [a for a in pending if a.mode == here.key]
    shown = pending if all_modes else own
    if not shown:
        print("No approvals are waiting." if all_modes else f"No approvals are waiting under {here.describe()}.")
    for a in shown:
        print(_line(a, settings, with_mode=all_modes))
    if len(pending) > len(own) and not all_modes:
        print(f"{len(pending) - len(own)} more waiting under other modes than this command's ({here.describe()}); "
              "`--all-modes` lists them.", file=sys.stderr)  # fmt: skip
    return 0


def _decide(
    settings: Settings,
    store: ApprovalStore,
    server_store: Store,
    action: str,
    approval_id: str,
    *,
    assume_yes: bool,
    mandate: Options,
) -> int:
    approve = action == "approve"
    here = Mode.of(settings)
    approval = store.get(approval_id)
    if approval is None:
        print(f"{PROG}: no approval {approval_id} in this store ({server_store.describe()}). Give this command "
              "the --state-dir DIR or --store URL the server that asked for it was started with.",
              file=sys.stderr)  # fmt: skip
        return 1
    if approval.mode != here.key:
        made = Mode.from_key(approval.mode)
        print(f"{PROG}: {refusal(approval_id, made, here)}", file=sys.stderr)
        if made is not None:
            command = shlex.join([PROG, "approvals", action, approval_id, *hint_flags(settings, made)])
            print(f"To decide it, run under that mode: {command}{environment_note(settings, made)}", file=sys.stderr)
        return 1
    if approval.channel == "elicitation":
        print(f"{PROG}: {approval_id} is being asked in the MCP client; answer it there", file=sys.stderr)
        return 1
    if approval.expired():
        store.transition(approval_id, from_status=approval.status, to_status="expired")
        approval = store.get(approval_id) or approval
    if approval.status != "pending":
        print(f"{PROG}: {approval_id} was not changed: it is already {approval.status}", file=sys.stderr)
        return 1
    who = operator()
    hosted = approval.requester is not None
    granted = None
    if approval.tool == MANDATE_TOOL and approve:  # the operator may lower a requested mandate's bounds
        try:
            granted = lowered(approval, mandate)
        except ValueError as exc:
            print(f"{PROG}: {approval_id} was not approved: {exc} (a mandate's bounds can only be lowered)",
                  file=sys.stderr)  # fmt: skip
            return 2
    elif mandate.any:
        print(f"{PROG}: {approval_id} is no mandate request ({approval.tool}); the mandate options do not apply to it",
              file=sys.stderr)  # fmt: skip
        return 2
    print(approval.summary)  # the whole of what is decided, before anything is
    if granted is not None:
        from telnyx_numbers_mcp.spend.mandates import Bounds, summary

        print("\nLowered by you to:\n" + summary(Bounds.from_args(granted), sandbox=here.sandbox))
    print(f"\n{approval_id}: expires {when(approval.expires_at)}; made under {here.describe()}.", flush=True)
    if hosted:
        print(f"Asked on a hosted server by {asked_by(approval)}. You decide it as the operator ({who}) at the "
              "server's store, not as a signed-in approver; the audit trail records it so.", flush=True)  # fmt: skip
    if approve and not assume_yes and not _confirmed():
        return 1
    won = store.transition(
        approval_id, from_status="pending", to_status="approved" if approve else "declined",
        channel="terminal", decided_by=who, mode=here.key, args=granted,
    )  # fmt: skip
    if not won:
        current = store.get(approval_id) or approval
        print(f"{PROG}: {approval_id} was not changed: it is already {current.status}", file=sys.stderr)
        return 1
    api_key = settings.api_key.get_secret_value() if settings.api_key else None
    audit = AuditLog(settings.audit_log, secrets=[api_key] if api_key else [], store=server_store)
    requester = requester_record(approval.requester, approval.requester_client)
    asked = {"requester": requester} if requester is not None else {}
    approver = {"operator": who, **({"hosted": "decided at the server's store, not signed in on the review page"}
                                    if hosted else {})}  # fmt: skip
    audit.append({"event": "decided", "approval_id": approval_id, "tool": approval.tool, "approved": approve,
                  "channel": "terminal", "decided_by": who, "approver": approver, **asked,
                  **({"granted": granted} if granted else {}),
                  **here.record()})  # fmt: skip
    if not approve:
        audit.append({"event": "refused", "approval_id": approval_id, "tool": approval.tool, "args": approval.args,
                      "approval": {"approved": False, "how": "terminal", "detail": f"declined by {who}"},
                      **asked})  # fmt: skip
        print(f"\nDeclined {approval_id}. Nothing will be sent.")
        return 0
    if approval.tool == MANDATE_TOOL:  # nothing goes to Telnyx: the mandate is granted now
        text = grant_approved(settings, store, server_store, approval_id)
        print(f"\nApproved {approval_id}. {text or 'It was already granted.'}")
        return 0
    if hosted:  # only the person who asked may carry it out: a local `call check_approval` would be refused
        print(f"\nApproved {approval_id}. The server sends it now if the agent is waiting, or when the person who "
              f"asked ({asked_by(approval)}) calls check_approval before it expires.")  # fmt: skip
        return 0
    carry = shlex.join([PROG, "call", "check_approval", f'{{"approval_id": "{approval_id}"}}',
                        *hint_flags(settings, tool=approval.tool)])  # fmt: skip
    print(f"\nApproved {approval_id}. The server sends it now if the agent is waiting, or when the agent calls "
          f"check_approval before it expires (or: {carry}{environment_note(settings, here)}).")  # fmt: skip
    return 0


def _confirmed() -> bool:
    """Ask once, on a terminal: only `y` or `yes` approves. Without a terminal, approving needs --yes."""
    if not sys.stdin.isatty():
        print(f"{PROG}: not approved: no terminal to confirm on; read the summary above and add --yes to approve "
              "it. Nothing was decided.", file=sys.stderr)  # fmt: skip
        return False
    print("Approve exactly this? Type y or yes to approve: ", end="", file=sys.stderr, flush=True)
    answer = sys.stdin.readline().strip().lower()
    if answer in ("y", "yes"):
        return True
    print(f"{PROG}: not approved (answer {answer!r}); nothing was decided.", file=sys.stderr)
    return False
