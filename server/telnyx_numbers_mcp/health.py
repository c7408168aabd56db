"""Running behind a load balancer: `GET /healthz` and `GET /readyz`, and a shutdown that drains.

On SIGTERM/SIGINT the server first drains: /readyz answers 503 (the balancer stops sending), new requests get
503, and calls already in flight run to their end (up to --shutdown-grace seconds). Only then is uvicorn told
to exit, which closes the long-lived event streams. Without this, uvicorn's own shutdown ends every SSE
response at once (sse-starlette hooks the signal), cutting off a purchase's answer mid-way."""

from __future__ import annotations

import contextlib
import logging
import threading
import time
from collections.abc import Callable, Iterator
from types import FrameType
from typing import Any

import anyio
import uvicorn

log = logging.getLogger("telnyx_numbers_mcp.transport")

_JSON = [(b"content-type", b"application/json"), (b"cache-control", b"no-store")]


async def _answer(send: Any, status: int, body: bytes, *, head: bool = False) -> None:
    await send({"type": "http.response.start", "status": status, "headers": _JSON})
    await send({"type": "http.response.body", "body": b"" if head else body})


class Drain:
    """Counts requests in flight (not the endless GET event streams) and says whether we are draining."""

    def __init__(self) -> None:
        self.draining = False
        self._inflight = 0
        self._lock = threading.Lock()

    @property
    def inflight(self) -> int:
        with self._lock:
            return self._inflight

    def wait_idle(self, grace: float) -> bool:
        """Block until no request is in flight or `grace` seconds passed; True if idle."""
        deadline = time.monotonic() + grace
        while self.inflight and time.monotonic() < deadline:
            time.sleep(0.05)  # polling a counter from the signal's helper thread
        return self.inflight == 0

    def middleware(self, app: Any) -> Any:
        async def counted(scope: dict[str, Any], receive: Any, send: Any) -> None:
            if scope["type"] != "http" or scope.get("method") == "GET":  # GET /mcp streams never end by themselves
                await app(scope, receive, send)
                return
            if self.draining:
                await _answer(send, 503, b'{"status":"shutting down"}\n')
                return
            with self._lock:
                self._inflight += 1
            try:
                await app(scope, receive, send)
            finally:
                with self._lock:
                    self._inflight -= 1

        return counted


class HealthMiddleware:
    """`GET /healthz` (the process answers) and `GET /readyz` (its store answers and it is not draining: 200,
    else 503), before any token check so a load balancer needs no secret; the bodies say nothing more."""

    def __init__(self, app: Any, ready: Callable[[], bool], drain: Drain | None = None) -> None:
        self.app = app
        self.ready = ready
        self.drain = drain

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        path = scope.get("path") if scope["type"] == "http" else None
        if path not in ("/healthz", "/readyz"):
            await self.app(scope, receive, send)
            return
        method = scope.get("method")
        head = method == "HEAD"
        if method not in ("GET", "HEAD"):
            await _answer(send, 405, b'{"status":"method not allowed"}\n')
        elif path == "/healthz":
            await _answer(send, 200, b'{"status":"ok"}\n', head=head)
        else:
            ok = False
            if not (self.drain and self.drain.draining):
                with anyio.move_on_after(10):  # a hung database is "not ready", not a hung probe
                    ok = await anyio.to_thread.run_sync(self.ready, abandon_on_cancel=True)
            body = b'{"status":"ready"}\n' if ok else b'{"status":"not ready"}\n'
            await _answer(send, 200 if ok else 503, body, head=head)


class DrainingServer(uvicorn.Server):
    """uvicorn, except that the first SIGTERM/SIGINT drains before exiting; a second one exits at once."""

    def __init__(self, config: uvicorn.Config, drain: Drain, grace: float) -> None:
        super().__init__(config)
        self.drain = drain
        self.grace = grace

    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        """A drained shutdown is a normal exit (status 0, cleanup runs), so uvicorn must not re-raise the
        signal at the end."""
        with super().capture_signals():
            yield
            self._captured_signals.clear()

    def handle_exit(self, sig: int, frame: FrameType | None) -> None:
        if self.drain.draining:
            super().handle_exit(sig, frame)
            return
        self.drain.draining = True
        log.warning("shutting down: finishing %d call(s) in flight (up to %.0f s)", self.drain.inflight, self.grace)

        def finish() -> None:
            if not self.drain.wait_idle(self.grace):
                log.warning("shutdown grace over with %d call(s) still in flight", self.drain.inflight)
            super(DrainingServer, self).handle_exit(sig, frame)

        threading.Thread(target=finish, name="drain", daemon=True).start()
