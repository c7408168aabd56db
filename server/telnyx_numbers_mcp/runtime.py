"""What lives for the server's life: settings, the offered tools, the pooled HTTP client, the guards' state
(audit log, pending quotes) and the approvals gate. Built once from Settings; knows nothing of MCP transports."""

from __future__ import annotations

import hmac
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from functools import cached_property
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

import anyio.abc
import httpx
import mcp_types as types
from mcp.server import ServerRequestContext

from telnyx_numbers_mcp import __version__, discovery
from telnyx_numbers_mcp.approvals import channels as approval
from telnyx_numbers_mcp.approvals.tools import CHECK_TOOL, check_tool
from telnyx_numbers_mcp.auth.identity import current_caller
from telnyx_numbers_mcp.calls.http import TelnyxClient
from telnyx_numbers_mcp.catalog import SCOPE_BY_KIND, ToolSpec, enabled_toolsets, packaged_catalog, select
from telnyx_numbers_mcp.config import Settings
from telnyx_numbers_mcp.guards.audit import AuditLog
from telnyx_numbers_mcp.guards.confirmations import ConfirmationStore, canonical_json
from telnyx_numbers_mcp.guards.redaction import Redactor
from telnyx_numbers_mcp.keyring import LABELS, Keyring, hkdf_sha256
from telnyx_numbers_mcp.mode import Mode
from telnyx_numbers_mcp.offer import Offer
from telnyx_numbers_mcp.spend.tools import MANDATE_TOOL, SPENDING_TOOL, mandate_tool, spending_tool
from telnyx_numbers_mcp.store import Store, open_store

if TYPE_CHECKING:
    from telnyx_numbers_mcp.approvals.gate import Gate
    from telnyx_numbers_mcp.calls.costs import PriceCache
    from telnyx_numbers_mcp.calls.requirements import RequirementBook
    from telnyx_numbers_mcp.discovery import Ranker
    from telnyx_numbers_mcp.spend.meter import Meter
    from telnyx_numbers_mcp.telemetry import Telemetry

CONFIRM_TOOL = "confirm_action"
SERVER_TOOLS = (CONFIRM_TOOL, CHECK_TOOL, MANDATE_TOOL)  # tools of this server itself, not Telnyx operations
SERVER_TOOL_SCOPE = SCOPE_BY_KIND["purchase"]  # they carry out (or approve ahead) purchases and destructive calls
SPENDING_SCOPE = SCOPE_BY_KIND["read"]  # the spending tool only reads
# what the offered tools depend on: (the client can elicit, the token's known scopes or None without a token)
Variant = tuple[bool, frozenset[str] | None]


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
    mode: Mode  # what approvals and quotes made here are bound to
    searches: dict[str, ToolSpec] = field(default_factory=dict)  # cost look-ups, even if search is not offered
    reads: dict[str, ToolSpec] = field(default_factory=dict)  # look-ups before an approval, even if not offered
    # every catalog tool's toolset and the toolsets --toolsets enabled: texts say which toolset a step needs
    toolset_of: dict[str, str] = field(default_factory=dict)
    enabled: frozenset[str] = frozenset()
    full: tuple[ToolSpec, ...] = ()  # the whole catalog: find_tools ranks over it and names toolsets not enabled
    _ranker: Ranker | None = field(default=None, repr=False)
    _prices: PriceCache | None = field(default=None, repr=False)
    _requirements: RequirementBook | None = field(default=None, repr=False)
    transport: httpx.AsyncBaseTransport | None = None
    client: TelnyxClient | None = None
    sessions: int = 0
    confirm: types.Tool = field(default_factory=confirm_tool)
    check: types.Tool = field(default_factory=check_tool)
    mandate: types.Tool = field(default_factory=mandate_tool)
    spending: types.Tool = field(default_factory=spending_tool)
    task_group: anyio.abc.TaskGroup | None = None  # where side work (the review page listener) runs
    _gate: Gate | None = field(default=None, repr=False)
    _spend: Meter | None = field(default=None, repr=False)
    redactor: Redactor = field(default_factory=Redactor)  # masks the API key in all the server writes
    _reference_key: bytes | None = field(default=None, repr=False)
    telemetry: Telemetry | None = None  # OpenTelemetry, only with the otel extra and OTEL_* set

    _listings: dict[Variant, list[types.Tool]] = field(default_factory=dict, repr=False)
    _names: dict[Variant, frozenset[str]] = field(default_factory=dict, repr=False)
    _offers: dict[Variant, Offer] = field(default_factory=dict, repr=False)

    def reference_for(self, tool: str, args: dict[str, Any]) -> str:
        """A customer_reference that stays the same across the rounds of one approval (2026 flow), on every
        replica sharing the state secret and every process sharing the state folder: the same request gets the
        same reference everywhere, so its repeats find its pending approval (one approval per request)."""
        if self._reference_key is None:
            shared = self.keys.shared
            self._reference_key = self.keys.reference if shared else hkdf_sha256(self.gate.key, LABELS["reference"])
        digest = hmac.new(self._reference_key, f"{tool}\n{canonical_json(args)}".encode(), "sha256")
        return f"mcp-{digest.hexdigest()[:12]}"

    def take_lookup(self) -> int | None:
        """Use one unit of today's lookup budget (UTC), kept in the store and shared by every process and
        replica on it under this mode, per requester (hosted: the caller's issuer-scoped subject, so one
        person's lookups never spend another's budget; local calls share one): its number (1-based), or None
        once it is spent. Taken when the call is decided, not when it answers, so concurrent calls never
        overspend the budget."""
        budget = self.settings.lookup_budget
        if budget <= 0:
            return None
        day = datetime.now(UTC).strftime("%Y-%m-%d")
        caller = current_caller()
        requester = caller.key if caller is not None else None
        return self.gate.store.take_lookup(day=day, mode=self.mode.key, budget=budget, requester=requester)

    @property
    def prices(self) -> PriceCache:
        """What searches returned, for quotes and the cost cap. Made on first use: calls/costs.py (and
        phonenumbers behind it) would otherwise load at start-up, before the first tools/list."""
        if self._prices is None:
            from telnyx_numbers_mcp.calls.costs import PriceCache

            self._prices = PriceCache()
        return self._prices

    @property
    def requirements(self) -> RequirementBook:
        """What countries and number types require before ordering, looked up by the server (made on first use)."""
        if self._requirements is None:
            from telnyx_numbers_mcp.calls.requirements import RequirementBook

            self._requirements = RequirementBook(self.spec("regulatory_requirements_retrieve"))
        return self._requirements

    @property
    def ranker(self) -> Ranker:
        """find_tools' ranking over the whole catalog (made on the first find_tools call)."""
        if self._ranker is None:
            from telnyx_numbers_mcp.catalog import packaged_synonyms
            from telnyx_numbers_mcp.discovery import Ranker

            self._ranker = Ranker(self.full, packaged_synonyms())
        return self._ranker

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

    @property
    def spend(self) -> Meter:
        """Spending limits and mandates (spend/), made on first use like the gate."""
        if self._spend is None:
            from telnyx_numbers_mcp.spend.meter import Meter

            self._spend = Meter(self)
        return self._spend

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

    @staticmethod
    def granted() -> frozenset[str] | None:
        """The scopes of the request's access token that this server knows (hosted, --auth-issuer), or
        None when there is no token (stdio, a shared --http-token): then every offered tool is allowed."""
        caller = current_caller()
        return caller.known_scopes if caller is not None else None

    def variant(self, ctx: ServerRequestContext[Any] | None) -> Variant:
        """What the offered tools depend on: whether the client can elicit (under `elicit-only`) and the
        token's scopes (hosted). The cache key of tools/list, of the names a call may use and of the texts."""
        return (ctx is not None and approval.can_elicit(ctx), self.granted())

    def scope_for(self, name: str, args: Mapping[str, Any]) -> str | None:
        """The scope a tools/call needs (the catalog's kind -> scope map, catalog.SCOPE_BY_KIND), from its
        arguments too: a settings change that turns on something Telnyx bills needs numbers:purchase, as it
        needs a human's approval (ToolSpec.scope_for). This server's approval tools carry out purchases; in
        discover mode, find_tools and describe_tool only read and call_tool needs what its target needs. None
        for a name that is no tool here (the call says so). The HTTP ScopeGuard and the handler both ask it."""
        if name in SERVER_TOOLS:
            return SERVER_TOOL_SCOPE
        if name == SPENDING_TOOL:
            return SPENDING_SCOPE
        if self.discover and name in (discovery.FIND, discovery.DESCRIBE):
            return SCOPE_BY_KIND["read"]
        if self.discover and name == discovery.CALL:
            target, inner = args.get("name"), args.get("arguments")
            tool = self.tools.get(target) if isinstance(target, str) else None
            if tool is None:
                return SCOPE_BY_KIND["read"]
            return tool.scope_for(inner if isinstance(inner, Mapping) else {})
        tool = self.tools.get(name)
        return tool.scope_for(args) if tool is not None and not self.discover else None

    def offered(self, ctx: ServerRequestContext[Any] | None) -> list[ToolSpec]:
        """Catalog tools this session may see and call: `elicit-only` hides guarded tools from
        clients that cannot ask the human; a hosted server hides tools beyond the token's scopes."""
        return self._offered(self.variant(ctx))

    def _offered(self, key: Variant) -> list[ToolSpec]:
        elicit, granted = key
        tools = list(self.tools.values())
        if self.settings.purchase_policy == "elicit-only" and not elicit:
            tools = [t for t in tools if not t.guarded]
        return tools if granted is None else [t for t in tools if t.scope in granted]

    def visible(self, ctx: ServerRequestContext[Any] | None) -> list[types.Tool]:
        """The tools/list answer, built once per offered set (`variant`) and reused: rebuilding 48 tools on
        every list was most of a warm tools/list."""
        return self._visible(self.variant(ctx))

    def _visible(self, key: Variant) -> list[types.Tool]:
        cached = self._listings.get(key)
        if cached is None:
            offered = self._offered(key)
            every = set(self.toolset_of.values())
            listed = discovery.tools(offered, every) if self.discover else [t.mcp_tool for t in offered]
            policy = self.settings.purchase_policy
            granted = key[1]
            approvals = granted is None or SERVER_TOOL_SCOPE in granted
            if any(t.may_ask for t in offered) and policy == "host-confirm" and approvals:
                listed.append(self.confirm)  # the host's approval prompt on this tool is the human's approval
            if any(t.may_ask for t in offered) and policy in ("confirm", "elicit-only", "review-only") and approvals:
                listed.append(self.check)  # approval tools stay direct in every mode: clients gate them by name
            buys = any(t.kind == "purchase" for t in offered)
            if buys and policy in ("confirm", "elicit-only", "review-only") and approvals:
                listed.append(self.mandate)  # a human approves several purchases ahead, through the same channels
            if buys and (granted is None or SPENDING_SCOPE in granted):
                listed.append(self.spending)
            cached = self._listings[key] = listed
        return cached

    def callable_names(self, ctx: ServerRequestContext[Any] | None) -> frozenset[str]:
        """Names a call may use: the listed tools, plus (in `all` mode) selected tools that `elicit-only`
        hides, so that calling one explains why instead of answering "unknown tool"."""
        key = self.variant(ctx)
        names = self._names.get(key)
        if names is None:
            hidden = () if self.discover else self.tools
            names = self._names[key] = frozenset({*(t.name for t in self._visible(key)), *hidden})
        return names

    def offer(self, ctx: ServerRequestContext[Any] | None) -> Offer:
        """What this session may name in a text (see offer.py)."""
        return self._offer(self.variant(ctx))

    def offer_for(self, *, elicit: bool) -> Offer:
        """The same, for a session without a token, by whether the client can ask the user."""
        return self._offer((elicit, None))

    def _offer(self, key: Variant) -> Offer:
        found = self._offers.get(key)
        if found is None:
            names = {t.name for t in self._offered(key)} | {t.name for t in self._visible(key)}
            found = self._offers[key] = Offer(
                names=frozenset(names), enabled=self.enabled, toolset_of=self.toolset_of,
                selection=self.settings.toolsets, discover=self.discover,
            )  # fmt: skip
        return found

    def spec(self, name: str) -> ToolSpec | None:
        """Any catalog tool, offered or not: the server calls some reads itself (requirements, coverage)."""
        return self._full_by_name.get(name)

    @cached_property
    def _full_by_name(self) -> dict[str, ToolSpec]:
        return {t.name: t for t in self.full}

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
    mode = Mode.of(settings)
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
        confirmations=ConfirmationStore(
            secret=keys.confirmation, ttl_seconds=settings.confirmation_ttl, book=store, mode=mode
        ),
        store=store,
        keys=keys,
        mode=mode,
        searches={t.name: t for t in full if t.toolset == "search"},  # costs.py picks its searches by name
        reads={t.name: t for t in full if t.kind == "read"},  # calls/lookups.py picks its reads by name
        toolset_of={t.name: t.toolset for t in full},
        full=tuple(full),
        enabled=enabled_toolsets(full, settings.toolsets, settings.tools),
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
