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

from telnyx_numbers_mcp.health import Drain, HealthMiddleware

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


def http_app(
    server: Server[Any],
    *,
    host: str,
    token: str | None,
    routes: list[Any] | None = None,
    ready: Callable[[], bool] | None = None,
    drain: Drain | None = None,
) -> Any:
    app: Any = server.streamable_http_app(streamable_http_path="/mcp", host=host, custom_starlette_routes=routes)
    if token:
        app = BearerTokenMiddleware(app, token, open_prefix="/approvals/" if routes else None)
    if drain is not None:
        app = drain.middleware(app)
    return HealthMiddleware(app, ready or (lambda: True), drain)


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
    """Serve until SIGINT/SIGTERM; then drain (health.py): calls in flight finish, up to `shutdown_grace`
    seconds, before the listener and the open event streams close."""
    import uvicorn

    from telnyx_numbers_mcp.health import DrainingServer

    if not token and host not in ("127.0.0.1", "localhost", "::1"):
        log.warning("serving on %s without --http-token: anyone who can reach it can use your Telnyx key", host)
    drain = Drain()
    app = http_app(server, host=host, token=token, routes=routes, ready=ready, drain=drain)
    config = uvicorn.Config(app, host=host, port=port, log_level=log_level.lower(), lifespan="on",
                            timeout_graceful_shutdown=math.ceil(shutdown_grace) + 5)  # fmt: skip
    anyio.run(DrainingServer(config, drain, shutdown_grace).serve)
