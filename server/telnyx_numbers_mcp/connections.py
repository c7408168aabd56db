"""Listeners that idle or half-open connections cannot stop (the HTTP transport and the review page's side
listener). uvicorn times out an idle keep-alive connection but not a slow or missing request head, and accepts
connections until the process runs out of open files; then every Telnyx call, store write and log line fails.
So each listener counts its connections (at most `max_connections()`; at the limit a new one pushes out the
connection that has waited longest for a request, and only if every one is busy is the new one closed), gives
each connection HEADER_TIMEOUT seconds to send a request's head (after connecting and after each response),
and the process's soft limit of open files is raised toward the hard one."""

from __future__ import annotations

import asyncio
import logging
from collections import OrderedDict
from typing import Any

log = logging.getLogger("telnyx_numbers_mcp.transport")

__all__ = ["HEADER_TIMEOUT", "KEEP_ALIVE", "ConnectionGuard", "guarded_protocol", "max_connections", "raise_open_files"]

HEADER_TIMEOUT = 10.0  # seconds to send a request's head, after connecting or after the previous response
KEEP_ALIVE = 5  # seconds an idle keep-alive connection stays open (uvicorn's own timer)
RESERVED_FILES = 256  # open files kept for the store, the Telnyx client, subprocesses and logs
MAX_CONNECTIONS = 4096
_raised: int | None = None


def raise_open_files() -> int:
    """Raise the soft RLIMIT_NOFILE to the hard limit (at most 65536), once; the soft limit now in force."""
    global _raised
    if _raised is not None:
        return _raised
    try:
        import resource
    except ImportError:  # Windows: no such limit to raise
        _raised = 8192
        return _raised
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    wanted = 65536 if hard == resource.RLIM_INFINITY else min(hard, 65536)
    if soft != resource.RLIM_INFINITY and soft < wanted:
        try:
            resource.setrlimit(resource.RLIMIT_NOFILE, (wanted, hard))
            soft = wanted
        except (ValueError, OSError) as exc:
            log.info("could not raise the open-files limit from %d to %d: %s", soft, wanted, exc)
    _raised = 65536 if soft == resource.RLIM_INFINITY else soft
    return _raised


def max_connections(open_files: int | None = None) -> int:
    """Connections one listener keeps open: half of what the open-files limit leaves after the reserve (two
    listeners at most: the HTTP transport, or stdio's review page), between 32 and MAX_CONNECTIONS."""
    files = raise_open_files() if open_files is None else open_files
    return max(32, min(MAX_CONNECTIONS, (files - RESERVED_FILES) // 2))


class ConnectionGuard:
    """One listener's connections: all of them, and those waiting for a request's head, oldest first."""

    def __init__(self, limit: int, header_timeout: float = HEADER_TIMEOUT) -> None:
        self.limit = limit
        self.header_timeout = header_timeout
        self.open: set[Any] = set()
        self.waiting: OrderedDict[Any, None] = OrderedDict()
        self.pushed_out = 0
        self.timed_out = 0

    def admit(self, conn: Any) -> bool:
        """Count a new connection; at the limit, push out the longest-waiting one. False: close `conn` itself."""
        self.open.add(conn)
        if len(self.open) <= self.limit:
            return True
        if self.waiting:
            oldest = next(iter(self.waiting))
            self.forget(oldest)
            oldest.transport.close()
            self.pushed_out += 1
            log.warning("connection limit (%d) reached: closed the connection idle longest", self.limit)
            return True
        log.warning("connection limit (%d) reached and every connection is busy: refused a new one", self.limit)
        self.forget(conn)
        return False

    def forget(self, conn: Any) -> None:
        self.open.discard(conn)
        self.waiting.pop(conn, None)


def guarded_protocol(base: type[asyncio.Protocol], guard: ConnectionGuard) -> type[asyncio.Protocol]:
    """`base` (uvicorn's HTTP protocol class: h11 or httptools) with `guard`'s limit and head timeout. A request's
    head has arrived when uvicorn starts a new request cycle (`self.cycle`), whichever parser it uses."""

    class Guarded(base):  # type: ignore[misc, valid-type]
        _head_timer: asyncio.TimerHandle | None = None
        _seen_cycle: Any = None

        def connection_made(self, transport: Any) -> None:
            super().connection_made(transport)
            if guard.admit(self):
                self._await_head()
            else:
                transport.close()

        def data_received(self, data: bytes) -> None:
            super().data_received(data)
            self._check_head()

        def on_response_complete(self) -> None:
            super().on_response_complete()
            if not self._check_head() and not self.transport.is_closing():
                self._await_head()  # keep-alive: the next request's head has HEADER_TIMEOUT seconds too

        def connection_lost(self, exc: Exception | None) -> None:
            self._stop_timer()
            guard.forget(self)
            super().connection_lost(exc)

        def _check_head(self) -> bool:
            """True if a request's head arrived since we last looked: the connection is busy now."""
            if self.cycle is None or self.cycle is self._seen_cycle:
                return False
            self._seen_cycle = self.cycle
            self._stop_timer()
            guard.waiting.pop(self, None)
            return True

        def _await_head(self) -> None:
            self._stop_timer()
            guard.waiting[self] = None
            guard.waiting.move_to_end(self)
            self._head_timer = self.loop.call_later(guard.header_timeout, self._head_late)

        def _head_late(self) -> None:
            if self in guard.waiting:
                guard.timed_out += 1
                guard.forget(self)
                self.transport.close()

        def _stop_timer(self) -> None:
            if self._head_timer is not None:
                self._head_timer.cancel()
                self._head_timer = None

    Guarded.__name__ = Guarded.__qualname__ = f"Guarded{base.__name__}"
    return Guarded


def guarded_http(guard: ConnectionGuard) -> type[asyncio.Protocol]:
    """uvicorn's own choice of HTTP protocol (httptools when installed, else h11), guarded."""
    from uvicorn.protocols.http.auto import AutoHTTPProtocol

    return guarded_protocol(AutoHTTPProtocol, guard)
