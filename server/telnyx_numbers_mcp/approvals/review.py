"""The review page: a small Starlette app where a human approves or declines one approval. Served by a side
listener on 127.0.0.1 (stdio; a free port on first need, or --approval-port) or by the HTTP transport's own
server. Each approval has its own unguessable URL; a decision is a POST carrying a token bound to that
approval, checked with exact Host and Origin. Works without JavaScript. Hosted (--auth-issuer), the link is
not enough: the approver also signs in at the issuer (auth/approvers.py), must be one of --approvers, and must
not be the person who asked (same subject at the same issuer) unless --allow-self-approval."""

from __future__ import annotations

import contextlib
import html
import json
import logging
import secrets
import socket
import time
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qs, urlsplit

import anyio
import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import HTMLResponse, RedirectResponse, Response
from starlette.routing import Mount, Route

from telnyx_numbers_mcp.approvals import keys
from telnyx_numbers_mcp.approvals.store import Approval
from telnyx_numbers_mcp.connections import KEEP_ALIVE, ConnectionGuard, guarded_http, max_connections
from telnyx_numbers_mcp.errors import ModeMismatch
from telnyx_numbers_mcp.spend.tools import MANDATE_TOOL

if TYPE_CHECKING:
    from telnyx_numbers_mcp.approvals.gate import Gate
    from telnyx_numbers_mcp.auth.approvers import ApproverSignIn
    from telnyx_numbers_mcp.auth.identity import Approver

log = logging.getLogger("telnyx_numbers_mcp.review")
LOCAL_HOSTS = ("127.0.0.1", "localhost")
MAX_BODY = 4096


class _QuietServer(uvicorn.Server):
    """uvicorn inside the MCP server's event loop: signals stay with the MCP server (Ctrl-C ends both)."""

    def install_signal_handlers(self) -> None:  # older uvicorn
        return None

    def capture_signals(self) -> Any:
        import contextlib

        return contextlib.nullcontext()


class ReviewListener:
    """Where review pages are served and which Host/Origin values the decision POST accepts."""

    def __init__(self, gate: Gate) -> None:
        self.gate = gate
        self.base: str | None = None
        self.hosts: set[str] = set()
        self.origins: set[str] = set()
        self._server: _QuietServer | None = None
        settings = gate.rt.settings
        self.hosted = settings.auth_issuer is not None  # deciding needs a signed-in approver, not only the link
        self.signin: ApproverSignIn | None = None  # known before routes() mounts the sign-in pages
        if settings.approver_client_id:
            from telnyx_numbers_mcp.auth.approvers import ApproverSignIn

            self.signin = ApproverSignIn(settings, gate.key)

    def _allow(self, host: str, port: int) -> None:
        public = self.gate.rt.settings.public_url
        for h in {host, *LOCAL_HOSTS} if host in LOCAL_HOSTS else {host}:
            self.hosts.add(f"{h}:{port}")
            self.origins.add(f"http://{h}:{port}")
        if public:
            parts = urlsplit(public)
            self.hosts.add(parts.netloc)
            self.origins.add(f"{parts.scheme}://{parts.netloc}")

    def use_http_transport(self, host: str, port: int) -> None:
        """The HTTP transport serves `routes()` itself: `host` and `port` are the address its listener is bound
        to (not the --host name: `localhost` may resolve to an address another user listens on)."""
        bound = self._bound(host, port)  # accepted as Host and Origin even behind --public-url
        self.base = self.gate.rt.settings.public_url or f"http://{bound}"

    async def ensure_started(self) -> str:
        if self.base is not None and (self._server is None or not self._server.should_exit):
            return self.base
        tg = self.gate.rt.task_group
        if tg is None:
            raise RuntimeError("the review page needs a running server (no task group)")
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind(("127.0.0.1", self.gate.rt.settings.approval_port or 0))
        host, port = sock.getsockname()[:2]
        # bounded and timed-out connections (connections.py): idle ones cannot stop the review page or the server
        config = uvicorn.Config(app(self), log_level="warning", lifespan="off", ws="none", access_log=False,
                                log_config=None, timeout_keep_alive=KEEP_ALIVE,
                                http=guarded_http(ConnectionGuard(max_connections())))  # fmt: skip
        server = _QuietServer(config)
        self._server = server
        tg.start_soon(server.serve, [sock])
        while not server.started:
            if server.should_exit:
                raise RuntimeError("the review page listener did not start")
            await anyio.sleep(0.01)
        self.hosts, self.origins = set(), set()
        bound = self._bound(host, port)  # accepted as Host and Origin even behind --public-url
        self.base = self.gate.rt.settings.public_url or f"http://{bound}"
        log.info("review pages served at %s", self.base)
        return self.base

    def _bound(self, host: str, port: int) -> str:
        """`host:port` of a bound socket as a link names it (a wildcard bind: its loopback address); the
        pages accept it, and the public URL's, as Host and Origin."""
        host = {"0.0.0.0": "127.0.0.1", "": "127.0.0.1", "::": "::1"}.get(host, host)
        shown = f"[{host}]" if ":" in host else host
        self._allow(shown, port)
        return f"{shown}:{port}"

    def stop(self) -> None:
        """Stop the side listener (the HTTP transport's own listener is not ours to stop)."""
        if self._server is not None:
            self._server.should_exit = True
            self._server = None
            self.base = None


def routes(listener: ReviewListener) -> list[Mount]:
    async def page(request: Request) -> Response:
        return await _handle(listener, request)

    async def sign_in(request: Request) -> Response:
        return await _sign_in(listener, request)

    async def signed_in(request: Request) -> Response:
        return await _signed_in(listener, request)

    pages = [Route("/{approval_id}", page, methods=["GET", "POST"])]
    if listener.signin is None:
        return [Mount("/approvals", routes=pages)]
    pages = [Route("/signed-in", signed_in), Route("/{approval_id}/sign-in", sign_in), *pages]
    return [Mount("/approvals", app=Starlette(routes=pages, middleware=[listener.signin.middleware()]))]


def app(listener: ReviewListener) -> Starlette:
    return Starlette(routes=routes(listener))


def _wrong_address(listener: ReviewListener, request: Request, nonce: str) -> Response | None:
    if request.headers.get("host", "") in listener.hosts:
        return None
    return _page("Wrong address", "<p>This page is only served on the address the server gave. "
                 "Nothing was approved and nothing was sent.</p>", nonce, status=421)  # fmt: skip


def _linked(listener: ReviewListener, request: Request, nonce: str) -> tuple[Approval, str] | Response:
    """The approval this link (`t`, its secret) opens on this address, or the page that refuses it."""
    refused = _wrong_address(listener, request, nonce)
    if refused is not None:
        return refused
    gate = listener.gate
    approval_id = request.path_params["approval_id"]
    secret = request.query_params.get("t")
    try:
        approval = gate.current(approval_id) if keys.check(gate.key, "view", approval_id, secret) else None
    except ModeMismatch as exc:  # made under another mode (sandbox/live, base URL, key): never decided here
        return _page("Made under another mode", f"<p>{html.escape(str(exc))}</p>", nonce, status=409)
    if approval is None or secret is None:
        return _page("Link not valid", "<p>This approval link is not valid: it was altered, or it belongs to "
                     "another server. Nothing was approved and nothing was sent.</p>", nonce, status=404)  # fmt: skip
    return approval, secret


async def _sign_in(listener: ReviewListener, request: Request) -> Response:
    """Hosted: from a valid link to the issuer's login, coming back to the same link."""
    nonce = secrets.token_urlsafe(12)
    linked = _linked(listener, request, nonce)
    if isinstance(linked, Response):
        return linked
    approval, secret = linked
    assert listener.signin is not None
    try:
        redirect: Response = await listener.signin.start(request, f"/approvals/{approval.id}?t={secret}")
    except Exception as exc:  # the issuer cannot be reached or described itself wrongly
        log.warning("approver sign-in could not start: %s: %s", type(exc).__name__, exc)
        return _page("Sign-in unavailable", "<p>The sign-in service could not be reached. Nothing was approved "
                     "and nothing was sent; try again in a moment.</p>", nonce, status=502)  # fmt: skip
    return redirect


async def _signed_in(listener: ReviewListener, request: Request) -> Response:
    """Hosted: the issuer's redirect back (authorization code, state); then back to the approval's page."""
    from telnyx_numbers_mcp.auth.approvers import SignInError

    nonce = secrets.token_urlsafe(12)
    refused = _wrong_address(listener, request, nonce)
    if refused is not None:
        return refused
    assert listener.signin is not None
    try:
        approver, back_to = await listener.signin.finish(request)
    except SignInError as exc:
        log.warning("approver sign-in refused: %s", exc)
        return _page("Sign-in failed", f"<p>The sign-in was refused ({html.escape(str(exc))}). Nobody was signed "
                     "in, nothing was approved and nothing was sent. Open the approval link again to sign in "
                     "afresh.</p>", nonce, status=403)  # fmt: skip
    if back_to is None:
        return _page("Signed in", f"<p>Signed in as {html.escape(approver.shown)}. Open the approval link again "
                     "to decide.</p>", nonce)  # fmt: skip
    return RedirectResponse(back_to, status_code=303)


def _approver_gate(listener: ReviewListener, request: Request, approval: Approval, secret: str) -> str | Approver:
    """Hosted: the signed-in approver who may decide, or the HTML that says why this browser may not."""
    from telnyx_numbers_mcp.auth.approvers import signed_in_approver

    if listener.signin is None:
        return ("<p class=note>This server checks who approves (--auth-issuer), but no approver sign-in is set up "
                "(--approver-client-id), so nobody can decide here. The operator can decide at the server with "
                f"<code>telnyx-numbers-mcp approvals approve {html.escape(approval.id)}</code>.</p>")  # fmt: skip
    approver = signed_in_approver(request)
    if approver is None:
        href = f"/approvals/{html.escape(approval.id)}/sign-in?t={html.escape(secret)}"
        return f'<p>Sign in to approve or decline: <a class=sign-in href="{href}">Sign in</a></p>'
    if not listener.signin.may_approve(approver):
        return (f"<p class=note>You are signed in as {html.escape(approver.shown)}, who is not among this server's "
                "approvers (--approvers, --approver-claim). You cannot decide this approval.</p>")  # fmt: skip
    if approver.key == approval.requester and not listener.gate.rt.settings.allow_self_approval:
        return (f"<p class=note>You are signed in as {html.escape(approver.shown)}, who asked for this. The person "
                "who asked cannot approve their own purchase: another approver must decide it (two people; "
                "the server's --allow-self-approval would allow one person to do both).</p>")  # fmt: skip
    return approver


async def _handle(listener: ReviewListener, request: Request) -> Response:
    gate = listener.gate
    nonce = secrets.token_urlsafe(12)
    linked = _linked(listener, request, nonce)
    if isinstance(linked, Response):
        return linked
    approval, secret = linked
    approver: Approver | None = None
    if listener.hosted and approval.status == "pending":
        who = _approver_gate(listener, request, approval, secret)
        if isinstance(who, str):
            if request.method == "POST":
                status = 401 if listener.signin is not None and "Sign in" in who else 403
                return _page("Refused", who + "<p>Nothing was approved and nothing was sent.</p>", nonce,
                             status=status)  # fmt: skip
            return _render(gate, approval, "", nonce, secret, actions=who)
        approver = who
    note = ""
    if request.method == "POST":
        if request.headers.get("origin", "") not in listener.origins:
            return _page("Refused", "<p>This decision did not come from the review page itself (wrong or missing "
                         "Origin), so it was refused. Nothing was approved and nothing was sent.</p>", nonce,
                         status=403)  # fmt: skip
        declared = request.headers.get("content-length", "0")
        if not declared.isdigit() or int(declared) > MAX_BODY:
            return _page("Refused", "<p>This decision was not a plain form. Nothing was approved.</p>", nonce,
                         status=413)  # fmt: skip
        body = await request.body()
        form = parse_qs(body[:MAX_BODY].decode("utf-8", "replace")) if len(body) <= MAX_BODY else {}
        token = (form.get("token") or [""])[0]
        choice = (form.get("decision") or [""])[0]
        if not keys.check(gate.key, "decide", approval.id, token) or choice not in ("approve", "decline"):
            return _page("Refused", "<p>This decision did not carry this approval's token, so it was refused. "
                         "Nothing was approved and nothing was sent.</p>", nonce, status=403)  # fmt: skip
        channel = "url-elicitation" if approval.channel == "url-elicitation" else "review-page"
        granted = None
        if choice == "approve" and approval.tool == MANDATE_TOOL:  # the bounds the human kept or lowered
            try:
                granted = _bounds_posted(approval, form)
            except ValueError as exc:
                why = html.escape(str(exc))
                return _page("Refused", f"<p>{why}. A mandate's bounds can only be lowered, never raised. Nothing "
                             "was approved; go back to change them.</p>", nonce, status=400)  # fmt: skip
        telemetry = gate.rt.telemetry
        decided_by = approver.subject if approver is not None else "the user on the review page"
        with telemetry.decision(approval.id, channel) if telemetry is not None else contextlib.nullcontext():
            approval, note = await _decide(gate, approval, choice == "approve", channel, decided_by, approver, granted)
    signed = f"<p class=who>Signed in as {html.escape(approver.shown)}.</p>" if approver is not None else ""
    return _render(gate, approval, note + signed, nonce, secret)


async def _decide(
    gate: Gate,
    approval: Approval,
    approve: bool,
    channel: str,
    decided_by: str,
    approver: Approver | None,
    granted: dict[str, Any] | None,
) -> tuple[Approval, str]:
    """Record the click (with a mandate's bounds as the human kept or lowered them); an approval the click decided
    is carried out at once (in the decision's span, which links to the call that asked, when telemetry is on)."""
    was = approval.status
    after = gate.decide(approval.id, approve, channel, decided_by, approver, args=granted) or approval
    if was != "pending" or after.status != ("approved" if approve else "declined"):
        return after, f"<p class=note>Your click changed nothing: this approval was already {after.status}.</p>"
    if after.status == "approved" and gate.rt.client is not None:
        await gate.carry_out(after.id)  # buys now; the agent's check_approval gets the same result
        after = gate.store.get(after.id) or after
    return after, ""


def _render(gate: Gate, a: Approval, note: str, nonce: str, secret: str, actions: str | None = None) -> Response:
    from telnyx_numbers_mcp.auth.identity import requester_shown

    summary = f"<pre>{html.escape(a.summary)}</pre>"
    if a.requester is not None:  # hosted: the approver sees who asked
        summary += f"<p class=asker>Asked by {html.escape(requester_shown(a.requester, a.requester_client))}.</p>"
    if a.status == "pending" and actions is not None:
        body = f"<p>An AI agent asks to run <b>{html.escape(a.tool)}</b>. Nothing has been sent yet.</p>{summary}"
        return _page("Approve this action?", note + body + actions, nonce)
    if a.status == "pending":
        left = max(0, int(a.expires_at - time.time()))
        token = keys.tag(gate.key, "decide", a.id)
        action = f"/approvals/{html.escape(a.id)}?t={html.escape(secret)}"
        body = (
            f"<p>An AI agent asks to run <b>{html.escape(a.tool)}</b>. Nothing has been sent yet.</p>{summary}"
            f"<p class=expiry>Expires in <span id=left data-left={left}>{left // 60} min {left % 60:02d} s</span> "
            f"(at {_utc(a.expires_at)}). After that nothing will be sent.</p>"
            f'<form method=post action="{action}"><input type=hidden name=token value="{token}">'
            f"{_bounds_inputs(a) if a.tool == MANDATE_TOOL else ''}"
            "<button name=decision value=approve class=approve>Approve</button> "
            "<button name=decision value=decline class=decline>Decline</button></form>"
            f"<script nonce=\"{nonce}\">(function(){{var e=document.getElementById('left');var n=+e.dataset.left;"
            "setInterval(function(){if(n>0)n--;e.textContent=Math.floor(n/60)+' min '+('0'+n%60).slice(-2)+' s';"
            "},1000);})();</script>"
        )
        return _page("Approve this action?", note + body, nonce)
    sent = "Approved: mandate granted" if a.tool == MANDATE_TOOL else "Approved and sent"
    titles = {"approved": "Approved", "executed": sent, "declined": "Declined", "expired": "Expired"}
    late = "was approved but not carried out before it expired" if a.decided_by else "expired before anyone decided"
    lines = {
        "approved": "<p>Approved. The server sends it as soon as the agent asks for the result.</p>",
        "declined": f"<p>Declined by {html.escape(a.decided_by or 'a human')}. Nothing was sent to Telnyx.</p>",
        "expired": f"<p>This approval {late}. Nothing was sent to Telnyx.</p>",
        "executed": _outcome(a),
    }
    return _page(titles[a.status], note + lines[a.status] + summary, nonce)


_NUMBER_FIELDS = ("max_numbers", "max_total_usd", "expires_in_minutes")
_CHOICE_FIELDS = ("countries", "number_types", "tools")


def _bounds_inputs(a: Approval) -> str:
    """A mandate request's bounds as inputs set to what was asked: the human may lower each before approving."""
    from telnyx_numbers_mcp.spend.mandates import Bounds

    asked = Bounds.from_args(a.args)
    fields = [
        ("max_numbers", "At most this many numbers", str(asked.max_numbers), "1"),
        ("max_total_usd", "At most this many USD in all", str(a.args.get("max_total_usd")), "0.01"),
        ("expires_in_minutes", "Expires this many minutes after approving", str(asked.minutes), "1"),
    ]
    rows = [f'<label>{html.escape(title)} <input type=number name={name} value="{html.escape(value)}" min={low} '
            f'max="{html.escape(value)}" step={low} required></label><br>'
            for name, title, value, low in fields]  # fmt: skip
    choices = (("countries", "Countries", asked.countries), ("number_types", "Number types", asked.number_types),
               ("tools", "Purchase tools", asked.tools))  # fmt: skip
    for name, title, values in choices:
        if values:
            boxes = " ".join(f'<label><input type=checkbox name={name} value="{html.escape(v)}" checked> '
                             f"{html.escape(v)}</label>" for v in values)  # fmt: skip
            rows.append(f"<p>{title}: {boxes}</p>")
    return ("<fieldset><legend>Bounds: lower any of them before approving, if you like (they cannot be raised)"
            "</legend><input type=hidden name=bounds value=1>" + "".join(rows) + "</fieldset>")  # fmt: skip


def _bounds_posted(a: Approval, form: dict[str, list[str]]) -> dict[str, Any] | None:
    """The bounds a decision POST approves (None: exactly those asked, when the form carried none). ValueError, naming
    it, for a bound that was raised or is not valid."""
    from telnyx_numbers_mcp.spend.mandates import Bounds, lower

    if not form.get("bounds"):
        return None
    asked = Bounds.from_args(a.args)
    fields: dict[str, Any] = {}
    for name in _NUMBER_FIELDS:
        value = (form.get(name) or [""])[0].strip()
        if value:
            fields[name] = int(value) if value.isdigit() and name != "max_total_usd" else value
    for name in _CHOICE_FIELDS:
        if getattr(asked, name):  # an unchecked box is not posted: none checked is an empty choice
            fields[name] = form.get(name) or []
    return lower(asked, fields).args()


def _outcome(a: Approval) -> str:
    out = a.outcome
    if out is None:
        return "<p>Approved and sent; the answer has not been recorded yet. Reload this page in a moment.</p>"
    if a.tool == MANDATE_TOOL:  # nothing was sent to Telnyx: the mandate was granted (or could not be)
        text = "\n".join(out.get("texts") or [])[:2000]
        return f"<p>{'Not granted' if out.get('is_error') else 'Approved'}:</p><pre>{html.escape(text)}</pre>"
    if out.get("is_error"):
        text = "\n".join(out.get("texts") or [])[:2000]
        return f"<p>Approved and sent, but it failed:</p><pre>{html.escape(text)}</pre>"
    data = out.get("structured") or {}
    inner = data.get("data") if isinstance(data, dict) else None
    facts = []
    if isinstance(inner, dict):
        for key in ("id", "status", "phone_numbers_count", "customer_reference"):
            if inner.get(key) is not None:
                facts.append(f"<li>{html.escape(key)}: <b>{html.escape(str(inner[key]))}</b></li>")
    if not facts:
        shown = json.dumps(data, indent=2)[:2000]
        return f"<p>Approved and sent. Telnyx answered:</p><pre>{html.escape(shown)}</pre>"
    return "<p>Approved and sent. Telnyx answered:</p><ul class=outcome>" + "".join(facts) + "</ul>"


def _utc(ts: float) -> str:
    return time.strftime("%H:%M:%S UTC", time.gmtime(ts))


STYLE = (
    "body{font:16px system-ui,sans-serif;max-width:46em;margin:2em auto;padding:0 1em;color:#222}"
    "pre{background:#f4f4f4;padding:1em;white-space:pre-wrap;border-radius:6px}"
    "button{font-size:1.1em;padding:.5em 1.5em;margin-right:1em;border-radius:6px;border:1px solid #888}"
    ".approve{background:#1a7f37;color:#fff}.decline{background:#fff}.note{color:#9a6700}"
)


def _page(title: str, body: str, nonce: str, status: int = 200) -> HTMLResponse:
    doc = (
        f"<!doctype html><html lang=en><head><meta charset=utf-8><title>{html.escape(title)} - "
        f"telnyx-numbers-mcp</title><meta name=viewport content='width=device-width'>"
        f"<style>{STYLE}</style></head><body><h1>{html.escape(title)}</h1>{body}</body></html>"
    )
    headers = {
        "Cache-Control": "no-store",
        # the URL carries the secret: never to another site; same-origin keeps the POST's Origin header real
        "Referrer-Policy": "same-origin",
        "X-Frame-Options": "DENY",
        "X-Content-Type-Options": "nosniff",
        "Content-Security-Policy": (
            f"default-src 'none'; style-src 'unsafe-inline'; script-src 'nonce-{nonce}'; "
            "form-action 'self'; frame-ancestors 'none'; base-uri 'none'"
        ),
    }
    return HTMLResponse(doc, status_code=status, headers=headers)
