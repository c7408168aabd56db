"""stdio and streamable HTTP (127.0.0.1 by default, optional bearer token); knows nothing of Telnyx."""

from __future__ import annotations

import hmac
import json
import logging
import math
import re
from collections.abc import Callable, Iterable
from typing import Any, Self
from urllib.parse import urlsplit

import anyio
import mcp_types as types
from mcp.server import Server
from mcp.server.stdio import stdio_server
from mcp.server.transport_security import TransportSecuritySettings
from mcp.shared.message import SessionMessage
from pydantic import ValidationError

from telnyx_numbers_mcp.guards.redaction import bounded
from telnyx_numbers_mcp.health import Drain, HealthMiddleware

log = logging.getLogger("telnyx_numbers_mcp.transport")


async def run_stdio(server: Server[Any]) -> None:
    async with stdio_server() as (read, write):
        await server.run(ParseErrorReplies(read, write), write, server.create_initialization_options())


def error_reply(exc: Exception) -> SessionMessage:
    """The JSON-RPC answer to a line the transport could not turn into a message: -32700 when it is not
    JSON this parser takes (syntax, nesting beyond its limit, integers over 4,300 digits, lone surrogates),
    -32600 when it is JSON but no JSON-RPC message (with its id when one can be read)."""
    problems = exc.errors() if isinstance(exc, ValidationError) else []
    if not problems or any(str(p.get("type", "")).startswith("json") for p in problems):
        detail = problems[0].get("msg", "") if problems else f"{type(exc).__name__}"
        code, message = types.PARSE_ERROR, f"Parse error: {bounded(str(detail), 200)}"
        return SessionMessage(
            types.JSONRPCError(jsonrpc="2.0", id=None, error=types.ErrorData(code=code, message=message))
        )
    given = problems[0].get("input")
    request_id = given.get("id") if isinstance(given, dict) else None
    if isinstance(request_id, bool) or not isinstance(request_id, int | str) or len(str(request_id)) > 200:
        request_id = None
    error = types.ErrorData(code=types.INVALID_REQUEST, message="Invalid Request: not a JSON-RPC 2.0 message")
    return SessionMessage(types.JSONRPCError(jsonrpc="2.0", id=request_id, error=error))


class ParseErrorReplies:
    """The stdio read stream, answering each line it could not parse instead of dropping it (the SDK only
    logs it, and the client waits forever); the server goes on serving."""

    def __init__(self, inner: Any, write: Any) -> None:
        self.inner = inner
        self.write = write

    @property
    def last_context(self) -> Any:
        return getattr(self.inner, "last_context", None)

    async def receive(self) -> SessionMessage:
        while True:
            item = await self.inner.receive()
            if not isinstance(item, Exception):
                return item  # type: ignore[no-any-return]
            reply = error_reply(item)
            assert isinstance(reply.message, types.JSONRPCError)
            log.warning("answered an unreadable message with %s", reply.message.error.message)
            await self.write.send(reply)

    async def aclose(self) -> None:
        await self.inner.aclose()

    def __aiter__(self) -> ParseErrorReplies:
        return self

    async def __anext__(self) -> SessionMessage:
        try:
            return await self.receive()
        except anyio.EndOfStream:
            raise StopAsyncIteration from None

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.aclose()


class BearerTokenMiddleware:
    """Refuses HTTP requests without `Authorization: Bearer <token>` (constant-time comparison). Paths under
    `open_prefix` (the review pages, opened in a browser) carry their own per-approval secret instead."""

    def __init__(self, app: Any, token: str, open_prefix: str | None = None) -> None:
        self.app = app
        self.expected = f"Bearer {token}".encode()
        self.open_prefix = open_prefix

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] == "http" and not (self.open_prefix and scope.get("path", "").startswith(self.open_prefix)):
            given = dict(scope.get("headers") or []).get(b"authorization", b"")
            if not hmac.compare_digest(given, self.expected):
                body = json.dumps({"error": "unauthorized", "detail": "missing or wrong bearer token"}).encode()
                await send({"type": "http.response.start", "status": 401, "headers": [
                    (b"content-type", b"application/json"), (b"www-authenticate", b"Bearer")]})  # fmt: skip
                await send({"type": "http.response.body", "body": body})
                return
        await self.app(scope, receive, send)


LOCAL_NAMES = ("127.0.0.1", "localhost", "[::1]")
_HOST_RE = re.compile(r"\A(?P<name>\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9._-]+)(?::(?P<port>[0-9]{1,5}))?\Z")


def split_host(value: str) -> tuple[str, str | None] | None:
    """("name", "port" or None) of a Host header or an allowed-host entry; None if it is not one."""
    match = _HOST_RE.match(value.strip())
    return (match["name"].lower(), match["port"]) if match else None


class HostOriginGuard:
    """DNS-rebinding protection that matches whole host names: a request's Host (and Origin, when sent)
    must name 127.0.0.1, localhost, [::1] or one of ``allowed_hosts`` exactly, with any port unless the
    entry names one. The SDK's own check matches by prefix (``127.0.0.1:8813.evil.com`` passed) and is
    off for non-local binds; this one is always on."""

    def __init__(self, app: Any, allowed_hosts: Iterable[str] = ()) -> None:
        self.app = app
        self.names: set[str] = set(LOCAL_NAMES)
        self.exact: set[tuple[str, str]] = set()
        for entry in allowed_hosts:
            parsed = split_host(entry)
            if parsed is None:
                raise ValueError(f"--allowed-host {entry!r} is not a host name, address or host:port")
            name, port = parsed
            if port is None:
                self.names.add(name)
            else:
                self.exact.add((name, port))

    def allows(self, host: str) -> bool:
        parsed = split_host(host)
        return parsed is not None and (parsed[0] in self.names or (parsed[0], parsed[1] or "") in self.exact)

    def allows_origin(self, origin: str) -> bool:
        parts = urlsplit(origin)
        clean = parts.scheme in ("http", "https") and not (parts.path or parts.query or parts.fragment)
        return clean and "@" not in parts.netloc and self.allows(parts.netloc)

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] in ("http", "websocket"):
            headers = {k.lower(): v for k, v in scope.get("headers") or []}
            host = headers.get(b"host", b"").decode("latin-1")
            origin = headers.get(b"origin")
            if not self.allows(host):
                await _refuse(send, 421, "host not allowed", "the Host header names no allowed host (--allowed-host)")
                return
            if origin is not None and not self.allows_origin(origin.decode("latin-1")):
                await _refuse(send, 403, "origin not allowed", "the Origin header names no allowed host")
                return
        await self.app(scope, receive, send)


async def _refuse(send: Any, status: int, error: str, detail: str) -> None:
    body = json.dumps({"error": error, "detail": detail}).encode()
    await send({"type": "http.response.start", "status": status, "headers": [(b"content-type", b"application/json")]})
    await send({"type": "http.response.body", "body": body})


def http_app(
    server: Server[Any],
    *,
    host: str,
    token: str | None,
    allowed_hosts: Iterable[str] = (),
    routes: list[Any] | None = None,
    ready: Callable[[], bool] | None = None,
    drain: Drain | None = None,
    protect: Callable[[Any], Any] | None = None,
) -> Any:
    """Streamable HTTP at /mcp behind the Host/Origin guard, then the bearer token when one is set, or
    `protect` (OAuth: auth/resource.py); `routes` (the review pages) are served beside it without the token.
    /healthz and /readyz come first: a load balancer probes by address and without a token, and they reveal
    nothing."""
    from telnyx_numbers_mcp.resumable import RETRY_MS, EventStore, scope_each_session

    # the SDK's prefix-matching check is replaced by HostOriginGuard, for every bind address
    off = TransportSecuritySettings(enable_dns_rebinding_protection=False)
    # resumable SSE: streams start with a priming event (an id and `retry:`); Last-Event-ID resumes them
    events = EventStore()
    app: Any = server.streamable_http_app(
        streamable_http_path="/mcp", host=host, transport_security=off, custom_starlette_routes=routes,
        event_store=events.scope(), retry_interval=RETRY_MS,
    )  # fmt: skip
    scope_each_session(server.session_manager, events)
    if token:
        app = BearerTokenMiddleware(app, token, open_prefix="/approvals/" if routes else None)
    if protect is not None:
        app = protect(app)
    if drain is not None:
        app = drain.middleware(app)
    return HealthMiddleware(HostOriginGuard(app, allowed_hosts), ready or (lambda: True), drain)


def run_http(
    server: Server[Any],
    *,
    host: str,
    port: int,
    token: str | None,
    log_level: str,
    allowed_hosts: Iterable[str] = (),
    routes: list[Any] | None = None,
    ready: Callable[[], bool] | None = None,
    shutdown_grace: float = 30.0,
    protect: Callable[[Any], Any] | None = None,
    on_bound: Callable[[str, int], None] | None = None,
) -> None:
    """Serve until SIGINT/SIGTERM; then drain (health.py): calls in flight finish, up to `shutdown_grace`
    seconds, before the listener and the open event streams close. `on_bound(host, port)` is told the address
    the listener is actually bound to (with `localhost`, an IPv4 one when it has one), before any request.
    Connections are bounded and timed out (connections.py), so idle ones cannot stop the server."""
    import uvicorn

    from telnyx_numbers_mcp.connections import KEEP_ALIVE, ConnectionGuard, guarded_http, max_connections
    from telnyx_numbers_mcp.health import DrainingServer

    class BoundServer(DrainingServer):
        async def startup(self, sockets: list[Any] | None = None) -> None:
            await super().startup(sockets)
            names = [s.getsockname() for server in getattr(self, "servers", []) for s in server.sockets or ()]
            if on_bound is not None and names:
                host, port = next((n for n in names if len(n) == 2), names[0])[:2]
                on_bound(str(host), int(port))

    allowed = list(allowed_hosts)
    if not token and protect is None and host not in ("127.0.0.1", "localhost", "::1"):
        log.warning("serving on %s without an HTTP token (MCP_HTTP_TOKEN or --http-token-file): anyone who can "
                    "reach it can use your Telnyx key", host)  # fmt: skip
    if host not in ("127.0.0.1", "localhost", "::1") and not allowed:
        log.warning(
            "serving on %s with no --allowed-host: only requests whose Host is 127.0.0.1, localhost or [::1] "
            "are answered (e.g. through an SSH tunnel); add --allowed-host NAME for the name clients use",
            host,
        )
    drain = Drain()
    app = http_app(server, host=host, token=token, allowed_hosts=allowed, routes=routes, ready=ready, drain=drain,
                   protect=protect)  # fmt: skip
    # log_config=None: uvicorn's records (its access log names every path, a review link's secret included) go to
    # the root handlers on stderr, through the filters that mask secrets, instead of handlers of its own
    config = uvicorn.Config(app, host=host, port=port, log_level=log_level.lower(), lifespan="on", log_config=None,
                            timeout_graceful_shutdown=math.ceil(shutdown_grace) + 5, timeout_keep_alive=KEEP_ALIVE,
                            http=guarded_http(ConnectionGuard(max_connections())))  # fmt: skip
    anyio.run(BoundServer(config, drain, shutdown_grace).serve)
