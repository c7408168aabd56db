"""Command line: flags + environment -> Settings; subcommands serve (default), tools, call, sandbox-api, demo."""

from __future__ import annotations

import argparse
import json
import logging
import os
import sys
from collections.abc import Mapping
from typing import Any

from telnyx_numbers_mcp import __version__
from telnyx_numbers_mcp.config import Settings, build_settings
from telnyx_numbers_mcp.errors import ConfigError, NumbersMcpError

S = argparse.SUPPRESS  # unset flags stay absent, so the environment can fill them


def _common(parser: argparse.ArgumentParser) -> None:
    g = parser.add_argument_group("server options")
    g.add_argument(
        "--base-url",
        default=S,
        help="Telnyx API base URL (env TELNYX_BASE_URL; default %(prog)s uses https://api.telnyx.com/v2)",
    )
    g.add_argument("--transport", choices=["stdio", "http"], default=S, help="stdio (default) or streamable HTTP")
    g.add_argument("--host", default=S, help="HTTP bind address (default 127.0.0.1)")
    g.add_argument("--port", type=int, default=S, help="HTTP port (default 8765)")
    g.add_argument("--http-token", default=S, help=S)  # refused: see refuse_secret_flags
    g.add_argument("--http-token-file", default=S,
                   help="file holding the bearer token HTTP clients must send (or env MCP_HTTP_TOKEN)")  # fmt: skip
    g.add_argument(
        "--allowed-host",
        dest="allowed_hosts",
        action="append",
        default=S,
        help="a Host name (or host:port) HTTP clients may use besides 127.0.0.1/localhost/[::1]; repeatable or "
        "comma-separated (env MCP_ALLOWED_HOSTS)",
    )
    g.add_argument(
        "--toolsets", default=S, help="comma-separated toolsets to offer, or `all` (default: the number operations)"
    )
    g.add_argument("--tools", default=S, help="comma-separated tool names to offer (default: all)")
    g.add_argument("--read-only", action="store_true", default=S, help="offer only tools that change nothing")
    g.add_argument(
        "--tool-mode",
        choices=["all", "discover"],
        default=S,
        help="all: one tool per operation (default); discover: find_tools, describe_tool and call_tool",
    )
    g.add_argument("--log-level", default=S, help="DEBUG, INFO, WARNING (default) or ERROR; logs go to stderr")
    g.add_argument(
        "--sandbox", action="store_true", default=S, help="use the built-in Telnyx simulator (env TELNYX_SANDBOX=1)"
    )
    g.add_argument("--sandbox-state", default=S, help="SQLite file that keeps sandbox state across restarts")
    g.add_argument(
        "--purchase-policy",
        choices=["confirm", "host-confirm", "elicit-only", "review-only", "deny", "allow"],
        default=S,
        help="how purchases and destructive calls are approved (default confirm: a human, through the client "
        "or the review page)",
    )
    g.add_argument("--state-dir", default=S, help="folder of the approvals store and key (default: user state folder)")
    g.add_argument("--approval-wait", type=float, default=S,
                   help="seconds a purchase waits for the human's decision before answering 'awaiting approval' "
                   "(default 60)")  # fmt: skip
    g.add_argument("--approval-ttl", type=float, default=S, help="seconds an approval stays open (default 900)")
    g.add_argument("--approval-port", type=int, default=S, help="port of the review page on stdio (default: free)")
    g.add_argument("--max-pending-approvals", type=int, default=S,
                   help="approvals that may wait for a human at once; beyond them a guarded call is refused "
                   "(env TELNYX_MCP_MAX_PENDING_APPROVALS; default 10)")  # fmt: skip
    g.add_argument("--no-browser", action="store_true", default=S, help="never open the review page in a browser")
    g.add_argument(
        "--approval-notify", default=S, help="command run with the review URL as its last argument (no shell)"
    )
    g.add_argument("--public-url", default=S, help="base of review links when the HTTP server is behind a proxy")
    g.add_argument(
        "--result-format", choices=["text", "json"], default=S,
        help="text (default): compact lines for the model; json: Telnyx's full JSON as the text too",
    )  # fmt: skip
    g.add_argument("--max-numbers-per-order", type=int, default=S, help="refuse larger orders (default 10)")
    g.add_argument("--max-order-cost", type=float, default=S, help="refuse orders costing more upfront (USD)")
    g.add_argument("--audit-log", default=S, help="JSON Lines audit file (default: the user data folder)")
    g.add_argument("--confirmation-ttl", type=float, default=S, help="seconds a quote stays valid (default 600)")
    g.add_argument(
        "--elicitation-timeout", type=float, default=S, help="seconds to wait for the user's answer (default 300)"
    )
    g.add_argument(
        "--lookup-budget",
        type=int,
        default=S,
        help="number lookups per UTC day (shared by every process on the store) before each needs approval "
        "(default 25)",
    )
    g.add_argument("--spend-limit", default=S, metavar="daily=USD,monthly=USD",
                   help="most that purchases may count per UTC day and/or month, for everyone on the store "
                   "(upfront cost plus the first month; env TELNYX_MCP_SPEND_LIMIT)")  # fmt: skip
    g.add_argument("--spend-limit-per-user", default=S, metavar="daily=USD,monthly=USD",
                   help="the same per signed-in subject (hosted, --auth-issuer; env "
                   "TELNYX_MCP_SPEND_LIMIT_PER_USER)")  # fmt: skip
    g.add_argument("--timeout", type=float, default=S, help="seconds to wait for Telnyx (default 30)")
    g.add_argument("--max-retries", type=int, default=S, help="retries for reads (default 2)")  # fmt: skip
    g.add_argument("--store", default=S, help="postgresql://... or sqlite:///PATH, without a password (env "
                   "TELNYX_MCP_STORE or --store-file may hold one; default: SQLite in the state folder)")  # fmt: skip
    g.add_argument("--store-file", default=S, help="file holding the store URL (e.g. with its password)")
    g.add_argument("--state-secret", default=S, help=S)  # refused: see refuse_secret_flags
    g.add_argument("--state-secret-file", default=S, help="file holding the secret shared by replicas, 32+ random "
                   "characters (or env TELNYX_MCP_STATE_SECRET)")  # fmt: skip
    g.add_argument("--shutdown-grace", type=float, default=S,
                   help="seconds calls in flight may take to finish on SIGTERM (HTTP; default 30)")  # fmt: skip
    h = parser.add_argument_group("hosted for a team (--transport http; see the README's 'Host it for a team')")
    h.add_argument("--auth-issuer", default=S, help="OAuth 2.1 / OpenID issuer URL: clients must send its "
                   "JWT access tokens (scopes numbers:read, numbers:write, numbers:purchase); not with "
                   "--http-token")  # fmt: skip
    h.add_argument("--auth-audience", default=S, help="the resource URL tokens must be issued for (shared by "
                   "replicas behind one name; default: --public-url + /mcp)")  # fmt: skip
    h.add_argument("--approver-client-id", default=S, help="client id of the review page at the issuer: "
                   "approvers sign in there (authorization code with PKCE)")  # fmt: skip
    h.add_argument("--approver-client-secret-file", default=S, help="file holding that client's secret")
    h.add_argument("--approvers", default=S, help="comma-separated subjects or verified e-mails who may approve "
                   "on the review page")  # fmt: skip
    h.add_argument("--approver-claim", default=S, metavar="NAME=VALUE", help="who may approve, by an ID-token "
                   "claim (e.g. groups=telnyx-approvers)")  # fmt: skip


def parser() -> argparse.ArgumentParser:
    common = argparse.ArgumentParser(add_help=False)
    _common(common)
    p = argparse.ArgumentParser(
        prog="telnyx-numbers-mcp", parents=[common],
        description="MCP server for Telnyx phone numbers: search, reserve, buy, with human approval.",
    )  # fmt: skip
    p.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    sub = p.add_subparsers(dest="command")
    sub.add_parser("serve", parents=[common], help="run the MCP server (the default)")
    sub.add_parser("tools", parents=[common], help="list the tools")
    call = sub.add_parser("call", parents=[common], help="call one tool once and print the result")
    call.add_argument("tool")
    call.add_argument("arguments", nargs="?", default="{}", help="JSON object of arguments")
    api = sub.add_parser("sandbox-api", parents=[common], help="serve the Telnyx simulator over HTTP under /v2")
    api.add_argument("--require-auth", action="store_true", help="answer 401 without a bearer key")
    audit = sub.add_parser("audit", parents=[common], help="print the audit trail from the store (JSON Lines), or "
                           "--verify its chain")  # fmt: skip
    audit.add_argument("--after", type=int, default=None, help="only records whose store_id is above this")
    audit.add_argument("--limit", type=int, default=None, help="at most this many records")
    audit.add_argument("--verify", action="store_true", help="walk the whole chain: print `ok N records`, or name the "
                       "first record that was changed, deleted or inserted and exit 1")  # fmt: skip
    ap = sub.add_parser("approvals", parents=[common], help="list pending approvals, or approve/decline one; "
                        "`approvals mandate grant|list|revoke` for mandates")  # fmt: skip
    ap.add_argument("action", nargs="?", default="list", choices=["list", "approve", "decline", "mandate"])
    ap.add_argument("approval_id", nargs="?", help="the approval to decide (after `mandate`: grant, list or revoke)")
    ap.add_argument("mandate_id", nargs="?", help="after `mandate revoke`: the mandate to revoke")
    md = ap.add_argument_group("mandates (`approvals mandate grant`; with `approvals approve ID`, they lower a "
                               "requested mandate's bounds)")  # fmt: skip
    md.add_argument("--max-numbers", type=int, default=None, help="the most numbers it may buy")
    md.add_argument("--max-total", default=None, metavar="USD", help="the most USD its purchases count together "
                    "(upfront plus the first month of each)")  # fmt: skip
    md.add_argument("--countries", default=None, help="comma-separated ISO codes (default: any country)")
    md.add_argument("--types", default=None, help="number types: local,toll_free,mobile,national (default: any)")
    md.add_argument("--purchase-tools", default=None, help="the purchase tools it covers (default: all four)")
    md.add_argument("--for", dest="for_subject", default=None, metavar="SUBJECT",
                    help="hosted: the subject (token sub) it is for (default: the local user)")  # fmt: skip
    md.add_argument("--expires-in", default=None, metavar="DURATION", help="e.g. 90m, 2h, 1d (at most 7d)")
    md.add_argument("--reason", default=None, help="what it is for (shown in the audit trail and mandate list)")
    ap.add_argument(
        "--all-modes",
        action="store_true",
        help="list the approvals of every mode (sandbox or live, base URL, API key), not only this one's",
    )
    ap.add_argument("--yes", action="store_true",
                    help="approve without asking (needed to approve when not at a terminal)")  # fmt: skip
    demo = sub.add_parser("demo", parents=[common], help="a short walk-through against the sandbox")
    demo.add_argument("--yes", action="store_true", help="approve the demo purchase without asking")
    return p


FLAG_KEYS = {
    "base_url", "transport", "host", "port", "http_token", "toolsets", "tools", "read_only", "tool_mode", "log_level",
    "sandbox", "sandbox_state", "purchase_policy", "max_numbers_per_order", "max_order_cost", "audit_log",
    "timeout", "max_retries", "confirmation_ttl", "elicitation_timeout", "result_format", "allowed_hosts",
    "state_dir", "approval_wait", "approval_ttl", "approval_port", "no_browser", "approval_notify", "public_url",
    "lookup_budget", "store", "store_file", "state_secret", "state_secret_file", "http_token_file", "shutdown_grace",
    "auth_issuer", "auth_audience", "approver_client_id", "approver_client_secret_file", "approvers", "approver_claim",
    "max_pending_approvals", "spend_limit", "spend_limit_per_user",
}  # fmt: skip


def refuse_secret_flags(flags: Mapping[str, Any]) -> None:
    """Every local user can read a process's command line (`ps`, /proc/PID/cmdline): a secret given as a flag
    is refused at start, naming where it belongs instead."""
    from telnyx_numbers_mcp.config import SECRET_SOURCES

    for field, (file_flag, var, _) in SECRET_SOURCES.items():
        value = flags.get(field)
        if value is None or (field == "store" and not _has_password(str(value))):
            continue
        what = "a password in --store" if field == "store" else f"--{field.replace('_', '-')}"
        raise ConfigError(
            f"{what} is refused: every user of this machine can read a process's command line. Put it in the "
            f"environment ({var}) or in a file only you can read (--{file_flag.replace('_', '-')} FILE)"
            + (", or let PostgreSQL find it (PGPASSWORD, ~/.pgpass)" if field == "store" else "")
            + "."
        )


def _has_password(url: str) -> bool:
    from urllib.parse import parse_qs, urlsplit

    try:
        parts = urlsplit(url)
        return bool(parts.password) or any(k.lower() == "password" for k in parse_qs(parts.query))
    except ValueError:
        return False


def settings_from(ns: argparse.Namespace, environ: Mapping[str, str] | None = None, **overrides: Any) -> Settings:
    flags = {k: v for k, v in vars(ns).items() if k in FLAG_KEYS}
    refuse_secret_flags(flags)
    flags.update(overrides)
    return build_settings(flags, environ)


def main(argv: list[str] | None = None) -> int:
    ns = parser().parse_args(argv)
    command = ns.command or "serve"
    try:
        settings = settings_from(ns)
    except NumbersMcpError as exc:
        print(f"telnyx-numbers-mcp: {exc}", file=sys.stderr)
        return 2
    logging.basicConfig(level=settings.log_level, stream=sys.stderr,
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")  # fmt: skip
    try:
        if command == "serve":
            return serve(settings)
        if command == "tools":
            return print_tools(settings)
        if command == "audit" and ns.verify:
            if ns.after is not None or ns.limit is not None:
                print("telnyx-numbers-mcp: audit --verify walks the whole chain; drop --after and --limit",
                      file=sys.stderr)  # fmt: skip
                return 2
            return verify_audit(settings)
        if command == "audit":
            return print_audit(settings, after=ns.after or 0, limit=ns.limit)
        if command == "call":
            return call_once(settings, ns.tool, ns.arguments)
        if command == "sandbox-api":
            from telnyx_numbers_mcp.sandbox import Sandbox
            from telnyx_numbers_mcp.sandbox import serve as serve_sandbox

            state = str(settings.sandbox_state) if settings.sandbox_state else None
            port = settings.port if "port" in vars(ns) else 4010
            serve_sandbox(host=settings.host, port=port, sandbox=Sandbox(state_path=state,
                                                                         require_auth=ns.require_auth))  # fmt: skip
            return 0
        if command == "approvals":
            from telnyx_numbers_mcp.approvals.terminal import run as run_approvals
            from telnyx_numbers_mcp.spend.terminal import Options
            from telnyx_numbers_mcp.spend.terminal import run as run_mandates

            options = Options(ns.max_numbers, ns.max_total, ns.countries, ns.types, ns.purchase_tools,
                              ns.for_subject, ns.expires_in, ns.reason)  # fmt: skip
            if ns.action == "mandate":
                return run_mandates(settings, ns.approval_id or "list", ns.mandate_id, options)
            return run_approvals(settings, ns.action, ns.approval_id, all_modes=ns.all_modes, assume_yes=ns.yes,
                                 mandate=options)  # fmt: skip
        if command == "demo":
            from telnyx_numbers_mcp.demo import run_demo

            return run_demo(settings, auto_approve=ns.yes)
    except NumbersMcpError as exc:
        print(f"telnyx-numbers-mcp: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:  # `... | head` closed stdout: not an error worth a traceback
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 0
    return 2


def serve(settings: Settings) -> int:
    import anyio

    from telnyx_numbers_mcp.app import build_app
    from telnyx_numbers_mcp.approvals.review import ReviewListener, routes
    from telnyx_numbers_mcp.runtime import build_runtime
    from telnyx_numbers_mcp.transports import run_http, run_stdio

    rt = build_runtime(settings)
    try:
        server, rt = build_app(settings, runtime=rt)
        if settings.transport == "http":
            token = settings.http_token.get_secret_value() if settings.http_token else None
            review = rt.gate.review = ReviewListener(rt.gate)  # review pages on the same listener
            protect, allowed = None, list(settings.allowed_hosts)
            if settings.auth_issuer:
                from telnyx_numbers_mcp.auth.resource import hosted

                protect, names = hosted(settings, rt.scope_for)
                allowed += names
            run_http(server, host=settings.host, port=settings.port, token=token, log_level=settings.log_level,
                     allowed_hosts=allowed, routes=routes(review), ready=rt.store.ping,
                     shutdown_grace=settings.shutdown_grace, protect=protect,
                     on_bound=review.use_http_transport)  # links name the address it is bound to  # fmt: skip
        else:
            anyio.run(run_stdio, server)
    finally:
        rt.close()
    return 0


def print_audit(settings: Settings, *, after: int, limit: int | None) -> int:
    """The trail as JSON Lines, oldest first, from whichever store is configured (every replica's records)."""
    from telnyx_numbers_mcp.store import open_store

    store = open_store(settings)
    try:
        for record in store.audit(after=after, limit=limit):
            sys.stdout.write(json.dumps(record, sort_keys=True, ensure_ascii=False) + "\n")
    finally:
        store.close()
    sys.stdout.flush()
    return 0


def verify_audit(settings: Settings) -> int:
    """`audit --verify`: 0 and `ok N records`; 1 and the first record changed, deleted or inserted; 2 when the
    state folder has no audit key (never made here: a new key would verify nothing)."""
    import secrets

    from telnyx_numbers_mcp.store import audit_key, audit_key_file, open_store

    path = audit_key_file(settings)
    key = audit_key(settings) if path is None or path.exists() else None
    store = open_store(settings)
    try:
        verdict = store.verify_audit(key or secrets.token_bytes(32))  # no key: only an unchained trail passes
    finally:
        store.close()
    if key is None and not verdict.ok:
        print(f"telnyx-numbers-mcp: the audit trail is chained, but there is no key at {path}: give the --state-dir "
              "the servers use, or their --state-secret", file=sys.stderr)  # fmt: skip
        return 2
    print(verdict.message)
    return 0 if verdict.ok else 1


def print_tools(settings: Settings) -> int:
    from telnyx_numbers_mcp.runtime import build_runtime

    rt = build_runtime(settings)
    for tool in rt.tools.values():
        print(f"{tool.name:<42} {tool.kind:<11} {tool.title}")
    guarded = any(t.may_ask for t in rt.tools.values())
    if guarded and settings.purchase_policy == "host-confirm":
        print(f"{'confirm_action':<42} {'confirm':<11} Confirm a quoted purchase or destructive action")
    if guarded and settings.purchase_policy in ("confirm", "elicit-only", "review-only"):
        print(f"{'check_approval':<42} {'approval':<11} Check a purchase or destructive action awaiting approval")
    buys = any(t.kind == "purchase" for t in rt.tools.values())
    if buys and settings.purchase_policy in ("confirm", "elicit-only", "review-only"):
        print(f"{'request_mandate':<42} {'mandate':<11} Ask a human to approve several purchases ahead of time")
    if buys:
        print(f"{'spending':<42} {'read':<11} Spending, limits and mandates")
    return 0


def awaiting_hint(settings: Settings, approval_id: str, tool: str) -> str:
    """How to approve and then carry out an approval `call` left waiting: commands that work when pasted into
    the same shell (the same store, mode and tools), and that cannot cross into another mode."""
    import shlex

    from telnyx_numbers_mcp.approvals.terminal import environment_note, hint_flags
    from telnyx_numbers_mcp.mode import Mode

    approve = shlex.join(["telnyx-numbers-mcp", "approvals", "approve", approval_id, *hint_flags(settings)])
    check = shlex.join(["telnyx-numbers-mcp", "call", "check_approval", json.dumps({"approval_id": approval_id}),
                        *hint_flags(settings, tool=tool)])  # fmt: skip
    mode = Mode.of(settings)
    note = environment_note(settings, mode)
    # under review-only the terminal is never asked in the call itself
    ask = (
        "Approve"
        if settings.purchase_policy == "review-only"
        else "Run it in a terminal to be asked directly, or approve"
    )
    return (
        f"\nNothing was sent; it was made under {mode.describe()}. {ask} it with\n  {approve}\n"
        f"then carry it out with\n  {check}" + (f"\nRun both{note}." if note else "")
    )


def call_once(settings: Settings, tool: str, arguments: str) -> int:
    """One call through the real server and a real MCP client (in memory); asks on the terminal
    when a purchase needs approval and stdin is a terminal."""
    import anyio

    try:
        args = json.loads(arguments)
    except json.JSONDecodeError as exc:
        print(f"telnyx-numbers-mcp: arguments are not JSON ({exc})", file=sys.stderr)
        return 2
    if not isinstance(args, dict):
        print("telnyx-numbers-mcp: arguments must be a JSON object", file=sys.stderr)
        return 2

    async def run() -> int:
        from mcp import Client, MCPError

        from telnyx_numbers_mcp.app import build_server
        from telnyx_numbers_mcp.terminal import terminal_approval

        callback = terminal_approval if sys.stdin.isatty() else None
        # one shot: no review page outlives this process, so an approval waits in the store for the operator
        once = settings.model_copy(update={"approval_wait": 0.0, "open_browser": False})
        async with Client(build_server(once), mode="legacy", elicitation_callback=callback) as client:
            try:
                result = await client.call_tool(tool, args)
            except MCPError as exc:
                print(f"telnyx-numbers-mcp: {exc}", file=sys.stderr)
                return 2
        data = result.structured_content
        if isinstance(data, dict) and data.get("status") == "awaiting_approval":
            print(data.get("summary", ""))
            hint = awaiting_hint(settings, str(data.get("approval_id")), str(data.get("tool") or tool))
            print(hint, file=sys.stderr)
            return 3
        if isinstance(data, dict) and data.get("status") == "awaiting_confirmation":
            print(data.get("summary", ""))
            print("\nNothing was sent (--purchase-policy host-confirm: confirm_action is the host's).", file=sys.stderr)
            return 3
        if data is not None:
            print(json.dumps(data, indent=2, ensure_ascii=False))
        else:
            for block in result.content:
                print(getattr(block, "text", block))
        if result.is_error:
            return 1
        return 0

    return anyio.run(run)
