"""tools/list answered once per offered tool set: the handler's answer, serialized and checked by the SDK
(its per-version "sieve"), is kept and handed out again, so a warm tools/list costs a dict copy instead
of rebuilding and re-validating ~90 KB of tool definitions on every request."""

from __future__ import annotations

from collections.abc import Callable, Hashable, Mapping
from typing import Any

from mcp.server import ServerRequestContext
from mcp.server.context import CallNext, HandlerResult

LIST_TOOLS = "tools/list"


class ToolListCache:
    """Server middleware. `variant(ctx)` names what the answer depends on besides the protocol version
    (whether the client can elicit, under `elicit-only`; the access token's scopes, hosted: Runtime.variant).
    A paginated request, or one from a session that has not told us its capabilities yet, goes through the
    handler as usual (and through the SDK's checks, such as refusing a tools/list before `initialize`)."""

    def __init__(self, variant: Callable[[ServerRequestContext[Any, Any]], Hashable]) -> None:
        self._variant = variant
        self._answers: dict[tuple[str | None, Hashable], dict[str, Any]] = {}

    async def __call__(self, ctx: ServerRequestContext[Any, Any], call_next: CallNext) -> HandlerResult:
        params = ctx.params if isinstance(ctx.params, Mapping) else {}
        if ctx.method != LIST_TOOLS or params.get("cursor") or ctx.session.client_capabilities is None:
            return await call_next(ctx)
        key = (ctx.protocol_version, self._variant(ctx))
        cached = self._answers.get(key)
        if cached is not None:
            return dict(cached)  # the runner copies too; callers own the top level, tools are read-only
        result = await call_next(ctx)  # the wire form: serialized, sieved and stamped by the SDK
        if isinstance(result, dict):
            self._answers[key] = dict(result)
        return result
