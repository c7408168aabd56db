"""What lives for the server's life: settings, the offered tools, the pooled HTTP client, the guards' state
(audit log, pending quotes) and the approvals gate. Built once from Settings; knows nothing of MCP transports."""

from __future__ import annotations

import hmac
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

import anyio.abc
import httpx
import mcp_types as types
from mcp.server import ServerRequestContext

from telnyx_numbers_mcp import __version__, discovery
from telnyx_numbers_mcp.approvals import channels as approval
from telnyx_numbers_mcp.approvals.tools import CHECK_TOOL, check_tool
from telnyx_numbers_mcp.calls.http import TelnyxClient
from telnyx_numbers_mcp.catalog import ToolSpec, packaged_catalog, select
from telnyx_numbers_mcp.config import Settings
from telnyx_numbers_mcp.guards.audit import AuditLog
from telnyx_numbers_mcp.guards.confirmations import ConfirmationStore, canonical_json
from telnyx_numbers_mcp.guards.redaction import Redactor
from telnyx_numbers_mcp.keyring import Keyring
from telnyx_numbers_mcp.store import Store, open_store

if TYPE_CHECKING:
    from telnyx_numbers_mcp.approvals.gate import Gate
    from telnyx_numbers_mcp.calls.costs import PriceCache
    from telnyx_numbers_mcp.telemetry import Telemetry

CONFIRM_TOOL = "confirm_action"
SERVER_TOOLS = (CONFIRM_TOOL, CHECK_TOOL)  # tools of this server itself, not Telnyx operations


def confirm_tool() -> types.Tool:
    return types.Tool(
        name=CONFIRM_TOOL,
        title="Confirm a quoted purchase or destructive action",
        description=(
            "Carries out a purchase or destructive action that a tool quoted, after a HUMAN approved the "
            "quote's summary in the host's own approval prompt for this call. Pass the quote's confirmation_id "
            "and its exact summary text. Single-use; expires; never call it without the user's explicit approval."
        ),
        input_schema={
            "type": "object",
            "properties": {
                "confirmation_id": {"type": "string", "description": "From the quote."},
                "summary": {"type": "string", "description": "The quote's summary text, exactly."},
            },
            "required": ["confirmation_id", "summary"],
        },
        annotations=types.ToolAnnotations(
            read_only_hint=False, destructive_hint=True, idempotent_hint=False, open_world_hint=True
        ),
        _meta={"telnyx-numbers-mcp/kind": "confirmation"},
    )


@dataclass
class Runtime:
    """What lives for the server's life: settings, tools, the pooled HTTP client and the guards' state."""

    settings: Settings
    tools: dict[str, ToolSpec]
    audit: AuditLog
    confirmations: ConfirmationStore
    store: Store
    keys: Keyring
    searches: dict[str, ToolSpec] = field(default_factory=dict)  # cost look-ups, even if search is not offered
    _prices: PriceCache | None = field(default=None, repr=False)
    transport: httpx.AsyncBaseTransport | None = None
    client: TelnyxClient | None = None
    sessions: int = 0
    confirm: types.Tool = field(default_factory=confirm_tool)
    check: types.Tool = field(default_factory=check_tool)
    task_group: anyio.abc.TaskGroup | None = None  # where side work (the review page listener) runs
    _gate: Gate | None = field(default=None, repr=False)
    redactor: Redactor = field(default_factory=Redactor)  # masks the API key in all the server writes
    lookups_used: int = 0  # billed calls sent without approval in this server run (--lookup-budget)
    telemetry: Telemetry | None = None  # OpenTelemetry, only with the otel extra and OTEL_* set

    _listings: dict[bool, list[types.Tool]] = field(default_factory=dict, repr=False)
    _names: dict[bool, frozenset[str]] = field(default_factory=dict, repr=False)

    def reference_for(self, tool: str, args: dict[str, Any]) -> str:
        """A customer_reference that stays the same across the rounds of one approval (2026 flow), on
        every replica sharing the state secret."""
        digest = hmac.new(self.keys.reference, f"{tool}\n{canonical_json(args)}".encode(), "sha256")
        return f"mcp-{digest.hexdigest()[:12]}"

    def take_lookup(self) -> int | None:
        """Use one unit of the lookup budget: its number (1-based), or None once it is spent. Taken when the
        call is decided, not when it answers, so concurrent calls never overspend the budget."""
        if self.lookups_used >= self.settings.lookup_budget:
            return None
        self.lookups_used += 1
        return self.lookups_used

    @property
    def prices(self) -> PriceCache:
        """What searches returned, for quotes and the cost cap. Made on first use: calls/costs.py (and
        phonenumbers behind it) would otherwise load at start-up, before the first tools/list."""
        if self._prices is None:
            from telnyx_numbers_mcp.calls.costs import PriceCache

            self._prices = PriceCache()
        return self._prices

    def close(self) -> None:
        """At process exit: release the store's connections."""
        self.store.close()

    @property
    def gate(self) -> Gate:
        """The approvals gate, built on the first guarded call (listing tools never loads it)."""
        if self._gate is None:
            from telnyx_numbers_mcp.approvals.gate import Gate
            from telnyx_numbers_mcp.calls.pipeline import execute

            self._gate = Gate(self, send=lambda tool, args, decision: execute(self, tool, args, decision))
        return self._gate

    def close_gate(self) -> None:
        """The last session ended: stop the side listener and close the store (reopened on need)."""
        if self._gate is not None:
            if self._gate.review is not None:
                self._gate.review.stop()
            self._gate.close()

    def redact(self, text: str) -> str:
        return self.redactor.text(text)

    @property
    def sandbox(self) -> bool:
        return self.settings.sandbox

    def offered(self, ctx: ServerRequestContext[Any] | None) -> list[ToolSpec]:
        """Catalog tools this session may see and call: `elicit-only` hides guarded tools from
        clients that cannot ask the human."""
        if self.settings.purchase_policy != "elicit-only" or (ctx is not None and approval.can_elicit(ctx)):
            return list(self.tools.values())
        return [t for t in self.tools.values() if not t.guarded]

    def visible(self, ctx: ServerRequestContext[Any] | None) -> list[types.Tool]:
        """The tools/list answer, built once per offered set (it only depends on whether the client can
        elicit) and reused: rebuilding 48 tools on every list was most of a warm tools/list."""
        elicit = ctx is not None and approval.can_elicit(ctx)
        cached = self._listings.get(elicit)
        if cached is None:
            offered = self.offered(ctx)
            listed = discovery.tools(offered) if self.discover else [t.mcp_tool for t in offered]
            policy = self.settings.purchase_policy
            if any(t.guarded or t.billed for t in offered) and policy == "host-confirm":
                listed.append(self.confirm)  # the host's approval prompt on this tool is the human's approval
            if any(t.guarded or t.billed for t in offered) and policy in ("confirm", "elicit-only"):
                listed.append(self.check)  # approval tools stay direct in every mode: clients gate them by name
            cached = self._listings[elicit] = listed
        return cached

    def callable_names(self, ctx: ServerRequestContext[Any] | None) -> frozenset[str]:
        """Names a call may use: the listed tools, plus (in `all` mode) selected tools that `elicit-only`
        hides, so that calling one explains why instead of answering "unknown tool"."""
        elicit = ctx is not None and approval.can_elicit(ctx)
        names = self._names.get(elicit)
        if names is None:
            hidden = () if self.discover else self.tools
            names = self._names[elicit] = frozenset({*(t.name for t in self.visible(ctx)), *hidden})
        return names

    @property
    def discover(self) -> bool:
        return self.settings.tool_mode == "discover"


class LazySandbox(httpx.AsyncBaseTransport):
    """The built-in simulator as a transport. In memory it is imported and built on the first request, so
    `--sandbox` starts as fast as without; a state file is opened at once, so a bad path fails at start-up."""

    def __init__(self, state_path: str | None) -> None:
        self._state_path = state_path
        self._inner: httpx.ASGITransport | None = None
        if state_path is not None:
            self._build()

    def _build(self) -> httpx.ASGITransport:
        from telnyx_numbers_mcp.sandbox import Sandbox, create_app

        self._inner = httpx.ASGITransport(app=create_app(Sandbox(state_path=self._state_path)))
        return self._inner

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        inner = self._inner or self._build()
        return await inner.handle_async_request(request)


def build_runtime(
    settings: Settings, *, transport: httpx.AsyncBaseTransport | None = None, store: Store | None = None
) -> Runtime:
    full = list(packaged_catalog())
    catalog = select(
        full,
        toolsets_wanted=settings.toolsets,
        tools_wanted=settings.tools,
        read_only=settings.read_only,
        hide_guarded=settings.purchase_policy == "deny",
    )
    if transport is None and settings.sandbox:
        transport = LazySandbox(str(settings.sandbox_state) if settings.sandbox_state else None)
    keys = Keyring.from_secret(settings.state_secret.get_secret_value() if settings.state_secret else None)
    store = store if store is not None else open_store(settings)
    # masked in everything the server writes: the key, the state secret, a password in the store URL
    hidden = [v.get_secret_value() for v in (settings.api_key, settings.state_secret) if v]
    if settings.store is not None and (password := urlsplit(settings.store.get_secret_value()).password):
        hidden.append(password)
    telemetry = None
    if settings.otel:  # loaded only then: without OTEL_* nothing of OpenTelemetry's SDK is imported
        from telnyx_numbers_mcp.telemetry import start

        telemetry = start(settings)
    return Runtime(
        telemetry=telemetry,
        settings=settings,
        tools={t.name: t for t in catalog},
        audit=AuditLog(settings.audit_log, secrets=hidden, store=store),
        confirmations=ConfirmationStore(secret=keys.confirmation, ttl_seconds=settings.confirmation_ttl, book=store),
        store=store,
        keys=keys,
        searches={t.name: t for t in full if t.toolset == "search"},  # costs.py picks its searches by name
        transport=transport,
        redactor=Redactor(hidden),
    )


def make_client(rt: Runtime) -> TelnyxClient:
    s = rt.settings
    api_key = s.api_key.get_secret_value() if s.api_key else ("sandbox" if s.sandbox else None)
    return TelnyxClient(
        base_url=s.effective_base_url,
        api_key=api_key,
        timeout=s.timeout,
        max_retries=s.max_retries,
        retry_backoff=s.retry_backoff,
        retry_max_wait=s.retry_max_wait,
        transport=rt.transport,
        user_agent=f"telnyx-numbers-mcp/{__version__}",
        redactor=rt.redactor,
        telemetry=rt.telemetry,
    )
