"""Resumable SSE over streamable HTTP: an in-memory, bounded event store, one scope per session.

With an event store the SDK starts every SSE stream (2025-11-25 clients and later) with a priming event that
has an id and a `retry:` field, and stores each message it sends; a client whose connection dropped reconnects
with `Last-Event-ID` and gets what it missed. Resumption works within one process: the events live in its
memory (a replica that did not send them cannot replay them).

The SDK hands one event store to every session, and its stream ids (JSON-RPC request ids, `_GET_stream`)
repeat across sessions, so a shared store would replay one session's answers to another. Each session's
transport therefore gets its own scope (`EventStore.scope()`, see `scope_each_session`): a replay only ever
sends events stored through the same scope. Event ids are random, so they cannot be guessed either.
"""

from __future__ import annotations

import secrets
from collections import OrderedDict, deque
from dataclasses import dataclass
from typing import Any

import mcp_types as types
from mcp.server.streamable_http import EventCallback, EventMessage, StreamId
from mcp.server.streamable_http import EventStore as SdkEventStore

MAX_EVENTS = 512  # across all sessions; the oldest go first (a client that was away longer starts afresh)
RETRY_MS = 1000  # the `retry:` field: how long a client waits before it reconnects


@dataclass(frozen=True)
class _Event:
    scope: str
    stream: StreamId
    message: types.JSONRPCMessage | None  # None: a priming event (nothing to replay)


class EventStore:
    """The events of every session, in the order they were stored, at most `max_events` of them."""

    def __init__(self, max_events: int = MAX_EVENTS) -> None:
        self.max_events = max_events
        self._events: OrderedDict[str, _Event] = OrderedDict()
        self._streams: dict[tuple[str, StreamId], deque[str]] = {}

    @property
    def count(self) -> int:
        return len(self._events)

    def scope(self) -> ScopedEventStore:
        """A view for one session (the SDK's EventStore interface)."""
        return ScopedEventStore(self, secrets.token_hex(8))

    def add(self, scope: str, stream: StreamId, message: types.JSONRPCMessage | None) -> str:
        event_id = secrets.token_urlsafe(16)
        self._events[event_id] = _Event(scope, stream, message)
        self._streams.setdefault((scope, stream), deque()).append(event_id)
        while len(self._events) > self.max_events:
            _, old = self._events.popitem(last=False)
            ids = self._streams[(old.scope, old.stream)]
            ids.popleft()  # a stream's events are stored in order, so its oldest is the one evicted
            if not ids:
                del self._streams[(old.scope, old.stream)]
        return event_id

    def after(self, scope: str, event_id: str) -> tuple[StreamId, list[tuple[str, types.JSONRPCMessage]]] | None:
        """The stream of `event_id` and its later messages, if that event is still here and was stored in
        `scope`; None otherwise (unknown, evicted, or another session's)."""
        event = self._events.get(event_id)
        if event is None or event.scope != scope:
            return None
        ids = list(self._streams[(scope, event.stream)])
        later = ids[ids.index(event_id) + 1 :]
        return event.stream, [(i, m) for i in later if (m := self._events[i].message) is not None]


class ScopedEventStore(SdkEventStore):
    """One session's view of the store."""

    def __init__(self, store: EventStore, scope: str) -> None:
        self.store = store
        self.scope = scope

    async def store_event(self, stream_id: StreamId, message: types.JSONRPCMessage | None) -> str:
        return self.store.add(self.scope, stream_id, message)

    async def replay_events_after(self, last_event_id: str, send_callback: EventCallback) -> StreamId | None:
        found = self.store.after(self.scope, last_event_id)
        if found is None:
            return None
        stream, events = found
        for event_id, message in events:
            await send_callback(EventMessage(message, event_id))
        return stream


def scope_each_session(manager: Any, store: EventStore) -> None:
    """Give each session the manager opens its own scope of `store`. The SDK (mcp 2.x) passes one store to
    every transport it admits; this wraps its admission to swap in a fresh scope per transport, and fails at
    start-up, not silently, if the SDK no longer works this way."""
    admit = getattr(manager, "_admit_session", None)
    if admit is None:
        raise RuntimeError(
            "mcp's StreamableHTTPSessionManager has no _admit_session: update telnyx_numbers_mcp.resumable"
        )

    def admit_scoped(*args: Any, **kwargs: Any) -> Any:
        transport = admit(*args, **kwargs)
        if transport is not None:
            if not hasattr(transport, "_event_store"):
                raise RuntimeError("mcp's transport has no _event_store: update telnyx_numbers_mcp.resumable")
            transport._event_store = store.scope()
        return transport

    manager._admit_session = admit_scoped
