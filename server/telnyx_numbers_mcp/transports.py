"""stdio and streamable HTTP (127.0.0.1 by default, optional bearer token); knows nothing of Telnyx."""

from __future__ import annotations

import hmac
import json
import logging
import math
from collections.abc import Callable
from typing import Any

import anyio
from mcp.server import Server
from mcp.server.stdio import stdio_server

log = logging.getLogger("telnyx_numbers_mcp.transport")


async def run_stdio(server: Server[Any]) -> None:
    async with stdio_server() as (read, write):
        await server.run(read, write, server.create_initialization_options())


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


class HealthMiddleware:
    """`GET /healthz` (the process answers) and `GET /readyz` (its store answers: 200, else 503), before any
    token check so a load balancer needs no secret; the bodies say nothing beyond ok / not ready."""

    def __init__(self, app: Any, ready: Callable[[], bool]) -> None:
        self.app = app
        self.ready = ready

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        path = scope.get("path") if scope["type"] == "http" else None
        if path in ("/healthz", "/readyz"):
            if scope.get("method") not in ("GET", "HEAD"):
                status, body = 405, b'{"status":"method not allowed"}\n'
            elif path == "/healthz":
                status, body = 200, b'{"status":"ok"}\n'
            else:
                status, body = 503, b'{"status":"not ready"}\n'
                with anyio.move_on_after(10):  # a hung database is "not ready", not a hung probe
                    if await anyio.to_thread.run_sync(self.ready, abandon_on_cancel=True):
                        status, body = 200, b'{"status":"ready"}\n'
            headers = [(b"content-type", b"application/json"), (b"cache-control", b"no-store")]
            await send({"type": "http.response.start", "status": status, "headers": headers})
            await send({"type": "http.response.body", "body": body if scope.get("method") != "HEAD" else b""})
            return
        await self.app(scope, receive, send)


def http_app(
    server: Server[Any],
    *,
    host: str,
    token: str | None,
    routes: list[Any] | None = None,
    ready: Callable[[], bool] | None = None,
) -> Any:
    app: Any = server.streamable_http_app(streamable_http_path="/mcp", host=host, custom_starlette_routes=routes)
    if token:
        app = BearerTokenMiddleware(app, token, open_prefix="/approvals/" if routes else None)
    return HealthMiddleware(app, ready or (lambda: True))


def run_http(
    server: Server[Any],
    *,
    host: str,
    port: int,
    token: str | None,
    log_level: str,
    routes: list[Any] | None = None,
    ready: Callable[[], bool] | None = None,
    shutdown_grace: float = 30.0,
) -> None:
    """Serve until SIGINT/SIGTERM; then stop accepting, let calls in flight finish (up to `shutdown_grace`
    seconds, after which open streams are closed), and only then stop the MCP session manager."""
    import uvicorn

    if not token and host not in ("127.0.0.1", "localhost", "::1"):
        log.warning("serving on %s without --http-token: anyone who can reach it can use your Telnyx key", host)
    config = uvicorn.Config(http_app(server, host=host, token=token, routes=routes, ready=ready), host=host,
                            port=port, log_level=log_level.lower(), lifespan="on",
                            timeout_graceful_shutdown=math.ceil(shutdown_grace))  # fmt: skip
    anyio.run(uvicorn.Server(config).serve)
