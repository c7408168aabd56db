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
from telnyx_numbers_mcp.config import ENV_VARS, Settings, build_settings, shown_default
from telnyx_numbers_mcp.errors import ConfigError, NumbersMcpError

S = argparse.SUPPRESS  # unset flags stay absent, so the environment can fill them
SANDBOX_API_PORT = 4010  # `sandbox-api` listens here unless --port (or TELNYX_MCP_PORT) says otherwise


def _h(text: str, name: str, default: str | None = None) -> str:
    """A flag's help: what it does, then its environment variable and its real default (from the Settings
    model, config.shown_default); tests/test_config.py holds every flag to this form."""
    shown = (default if default is not None else shown_default(name)).replace("%", "%%")
    return f"{text} (env {ENV_VARS[name]}; default: {shown})"


def _common(parser: argparse.ArgumentParser, *, port_default: str | None = None) -> None:
    g = parser.add_argument_group("server options")
    add = g.add_argument
    add("--base-url", default=S, help=_h("Telnyx API base URL, e.g. a `sandbox-api` on 127.0.0.1", "base_url"))
    add("--transport", choices=["stdio", "http"], default=S, help=_h("stdio or streamable HTTP", "transport"))
    add("--host", default=S, help=_h("HTTP bind address", "host"))
    add("--port", type=int, default=S, help=_h("HTTP port", "port", port_default))
    add("--http-token", default=S, help=S)  # refused: see refuse_secret_flags
    add("--http-token-file", default=S,
        help=_h("file holding the bearer token HTTP clients must send (or env MCP_HTTP_TOKEN)",
                "http_token_file"))  # fmt: skip
    add("--allowed-host", dest="allowed_hosts", action="append", default=S,
        help=_h("a Host name (or host:port) HTTP clients may use besides 127.0.0.1/localhost/[::1]; repeatable "
                "or comma-separated", "allowed_hosts"))  # fmt: skip
    add("--toolsets", default=S,
        help=_h("comma-separated toolsets to offer, `default` for the default ones, or `all`", "toolsets"))  # fmt: skip
    add("--tools", default=S, help=_h("comma-separated tool names to offer", "tools"))
    add("--read-only", action="store_true", default=S, help=_h("offer only tools that change nothing", "read_only"))
    add(
        "--tool-mode",
        choices=["all", "discover"],
        default=S,
        help=_h("all: one tool per operation; discover: find_tools, describe_tool and call_tool", "tool_mode"),
    )
    add("--log-level", default=S, help=_h("DEBUG, INFO, WARNING or ERROR; logs go to stderr", "log_level"))
    add("--sandbox", action="store_true", default=S,
        help=_h("use the built-in Telnyx simulator: no key, no network, nothing bought", "sandbox"))  # fmt: skip
    add("--sandbox-state", default=S, help=_h("SQLite file that keeps sandbox state across restarts", "sandbox_state"))
    add("--purchase-policy", choices=["confirm", "host-confirm", "elicit-only", "review-only", "deny", "allow"],
        default=S, help=_h("how purchases and destructive calls are approved (confirm: a human, through the client "
                           "or the review page; review-only: only the review page and the `approvals` command)",
                           "purchase_policy"))  # fmt: skip
    add("--state-dir", default=S, help=_h("folder of the approvals store and its key", "state_dir"))
    add("--approval-wait", type=float, default=S,
        help=_h("seconds a purchase waits for the human's decision before answering 'awaiting approval'",
                "approval_wait"))  # fmt: skip
    add("--approval-ttl", type=float, default=S, help=_h("seconds an approval stays open", "approval_ttl"))
    add("--approval-port", type=int, default=S, help=_h("port of the review page on stdio", "approval_port"))
    add("--max-pending-approvals", type=int, default=S,
        help=_h("approvals that may wait for a human at once (per requester); beyond them a guarded call is "
                "refused", "max_pending_approvals"))  # fmt: skip
    add(
        "--no-browser", action="store_true", default=S, help=_h("never open the review page in a browser", "no_browser")
    )
    add("--approval-notify", default=S,
        help=_h("command run (no shell) when a human must approve; the review link is in its environment "
                "(TELNYX_MCP_APPROVAL_URL) and on its standard input, never in its arguments",
                "approval_notify"))  # fmt: skip
    add("--public-url", default=S,
        help=_h("base of review links when the HTTP server is behind a proxy", "public_url"))  # fmt: skip
    add(
        "--result-format",
        choices=["text", "json"],
        default=S,
        help=_h("text: compact lines for the model; json: Telnyx's full JSON as the text too", "result_format"),
    )
    add("--max-numbers-per-order", type=int, default=S, help=_h("refuse larger orders", "max_numbers_per_order"))
    add(
        "--max-order-cost",
        type=float,
        default=S,
        help=_h("refuse orders whose upfront cost (USD) is higher, unknown or only an estimate", "max_order_cost"),
    )
    add("--audit-log", default=S, help=_h("also append the audit trail to this JSON Lines file", "audit_log"))
    add("--confirmation-ttl", type=float, default=S,
        help=_h("seconds a quote for confirm_action stays valid (host-confirm)", "confirmation_ttl"))  # fmt: skip
    add("--elicitation-timeout", type=float, default=S,
        help=_h("seconds to wait for the user's answer to an approval question", "elicitation_timeout"))  # fmt: skip
    add("--lookup-budget", type=int, default=S,
        help=_h("billed number lookups per UTC day (shared by every process on the store) before each needs "
                "approval", "lookup_budget"))  # fmt: skip
    add("--spend-limit", default=S, metavar="daily=USD,monthly=USD",
        help=_h("most that purchases may count per UTC day and/or month, for everyone on the store (upfront cost "
                "plus the first month)", "spend_limit"))  # fmt: skip
    add("--spend-limit-per-user", default=S, metavar="daily=USD,monthly=USD",
        help=_h("the same per signed-in subject (hosted, --auth-issuer)", "spend_limit_per_user"))  # fmt: skip
    add("--timeout", type=float, default=S, help=_h("seconds one request to Telnyx may take in all", "timeout"))
    add("--max-retries", type=int, default=S,
        help=_h("retries for reads (GET) on 429, 5xx and connection errors", "max_retries"))  # fmt: skip
    add("--store", default=S,
        help=_h("postgresql://... or sqlite:///PATH, without a password (the environment variable or "
                "--store-file may hold one)", "store"))  # fmt: skip
    add("--store-file", default=S, help=_h("file holding the store URL (e.g. with its password)", "store_file"))
    add("--state-secret", default=S, help=S)  # refused: see refuse_secret_flags
    add("--state-secret-file", default=S,
        help=_h("file holding the secret shared by replicas, 32+ random characters (or env "
                "TELNYX_MCP_STATE_SECRET)", "state_secret_file"))  # fmt: skip
    add("--otel-include-arguments", action="store_true", default=S,
        help=_h("with OpenTelemetry on (the otel extra and OTEL_* set), put each call's arguments on its span "
                "(they can hold phone numbers)", "otel_include_arguments"))  # fmt: skip
    add("--shutdown-grace", type=float, default=S,
        help=_h("seconds calls in flight may take to finish on SIGTERM (HTTP)", "shutdown_grace"))  # fmt: skip
    h = parser.add_argument_group("hosted for a team (--transport http; see docs/hosting.md, 'Host it for a team')")
    add = h.add_argument
    add("--auth-issuer", default=S,
        help=_h("OAuth 2.1 / OpenID issuer URL: clients must send its JWT access tokens (scopes numbers:read, "
                "numbers:write, numbers:purchase); not with an HTTP token", "auth_issuer"))  # fmt: skip
    add("--auth-audience", default=S,
        help=_h("the resource URL tokens must be issued for (shared by replicas behind one name)",
                "auth_audience"))  # fmt: skip
    add("--approver-client-id", default=S,
        help=_h("client id of the review page at the issuer: approvers sign in there (authorization code with "
                "PKCE)", "approver_client_id"))  # fmt: skip
    add("--approver-client-secret-file", default=S,
        help=_h("file holding that client's secret (or env TELNYX_MCP_APPROVER_CLIENT_SECRET)",
                "approver_client_secret_file"))  # fmt: skip
    add("--approvers", default=S,
        help=_h("comma-separated subjects or verified e-mails who may approve on the review page",
                "approvers"))  # fmt: skip
    add("--approver-claim", default=S, metavar="NAME=VALUE",
        help=_h("who may approve, by an ID-token claim (e.g. groups=telnyx-approvers)", "approver_claim"))  # fmt: skip
    add("--allow-self-approval", action="store_true", default=S,
        help=_h("single-user behaviour: the person who asked may approve their own purchase (on the review page, "
                "or in their own client: elicitation, host-confirm); without it a second person, an approver, "
                "must decide", "allow_self_approval"))  # fmt: skip


def parser() -> argparse.ArgumentParser:
    common = argparse.ArgumentParser(add_help=False)
    _common(common)
    sandbox_common = argparse.ArgumentParser(add_help=False)  # the same flags; only --port's default differs
    _common(sandbox_common, port_default=str(SANDBOX_API_PORT))
    p = argparse.ArgumentParser(
        prog="telnyx-numbers-mcp", parents=[common],
        description="MCP server for Telnyx phone numbers: search, reserve, buy, with human approval. Every flag "
        "can also be set by the environment variable its help names; a flag wins over the variable.",
    )  # fmt: skip
    p.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    sub = p.add_subparsers(dest="command")
    sub.add_parser("serve", parents=[common], help="run the MCP server (the default)")
    sub.add_parser("tools", parents=[common], help="list the tools the server offers with these settings")
    call = sub.add_parser("call", parents=[common], help="call one tool once and print the result")
    call.add_argument("tool")
    call.add_argument("arguments", nargs="?", default="{}", help="JSON object of arguments (default: {})")
    api = sub.add_parser("sandbox-api", parents=[sandbox_common], help="serve the Telnyx simulator over HTTP under /v2")
    api.add_argument("--require-auth", action="store_true", help="answer 401 without a bearer key (default: off)")
    audit = sub.add_parser("audit", parents=[common], help="print the audit trail from the store (JSON Lines), or "
                           "--verify its chain")  # fmt: skip
    audit.add_argument("--after", type=int, default=None, help="only records whose store_id is above this (default: 0)")
    audit.add_argument("--limit", type=int, default=None, help="at most this many records (default: all)")
    audit.add_argument("--verify", action="store_true", help="walk the whole chain: print `ok N records`, or name the "
                       "first record that was changed, deleted or inserted and exit 1 (default: off)")  # fmt: skip
    ap = sub.add_parser("approvals", parents=[common], help="list pending approvals, or approve/decline one; "
                        "`approvals mandate grant|list|revoke` for mandates")  # fmt: skip
    ap.add_argument("action", nargs="?", default="list", choices=["list", "approve", "decline", "mandate"])
    ap.add_argument(
        "approval_id", nargs="?", help="the approval to decide (after `mandate`: grant, list or revoke; default: none)"
    )
    ap.add_argument("mandate_id", nargs="?", help="after `mandate revoke`: the mandate to revoke (default: none)")
    md = ap.add_argument_group("mandates (`approvals mandate grant`; with `approvals approve ID`, they lower a "
                               "requested mandate's bounds)")  # fmt: skip
    md.add_argument("--max-numbers", type=int, default=None, help="the most numbers it may buy (default: none)")
    md.add_argument("--max-total", default=None, metavar="USD", help="the most USD its purchases count together "
                    "(upfront plus the first month of each; default: none)")  # fmt: skip
    md.add_argument("--countries", default=None, help="comma-separated ISO codes (default: any country)")
    md.add_argument("--types", default=None, help="number types: local,toll_free,mobile,national (default: any)")
    md.add_argument("--purchase-tools", default=None, help="the purchase tools it covers (default: all four)")
    md.add_argument("--for", dest="for_subject", default=None, metavar="SUBJECT",
                    help="hosted: the subject (token sub) it is for (default: the local user)")  # fmt: skip
    md.add_argument(
        "--expires-in", default=None, metavar="DURATION", help="e.g. 90m, 2h, 1d (at most 7d; default: none)"
    )
    md.add_argument(
        "--reason", default=None, help="what it is for (shown in the audit trail and mandate list; default: none)"
    )
    ap.add_argument(
        "--all-modes",
        action="store_true",
        help="list the approvals of every mode (sandbox or live, base URL, API key), not only this one's "
        "(default: off)",
    )
    ap.add_argument("--yes", action="store_true",
                    help="approve without asking (needed to approve when not at a terminal; default: off)")  # fmt: skip
    demo = sub.add_parser("demo", parents=[common], help="a short walk-through against the sandbox")
    demo.add_argument("--yes", action="store_true", help="approve the demo purchase without asking (default: off)")
    return p


FLAG_KEYS = frozenset(ENV_VARS) - {"api_key"}  # every setting but the key has a flag (a key in argv is visible in ps)
# flags that exist only to be refused with a pointer to the environment or a file (refuse_secret_flags)
REFUSED_FLAGS = frozenset({"http_token", "state_secret"})


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
            port = settings.port if "port" in settings.model_fields_set else SANDBOX_API_PORT
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
    """Exactly what tools/list offers with these settings (in discover mode, the three discovery tools), for a
    client that cannot ask the human (under elicit-only such a client is not offered the guarded tools)."""
    from telnyx_numbers_mcp.runtime import build_runtime

    rt = build_runtime(settings)
    try:
        kinds = {
            "confirm_action": "confirm",
            "check_approval": "approval",
            "request_mandate": "mandate",
            "spending": "read",
        }
        for tool in rt.visible(None):
            spec = rt.tools.get(tool.name)
            kind = spec.kind if spec else kinds.get(tool.name, "discovery")
            print(f"{tool.name:<42} {kind:<11} {tool.title or ''}")
    finally:
        rt.close()
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
