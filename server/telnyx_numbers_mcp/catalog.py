"""Load tool_specs/ into ToolSpec objects (validators built once) and filter them in one documented order."""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from functools import cache, cached_property
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

import mcp_types as types

from telnyx_numbers_mcp.errors import ConfigError, SpecError
from telnyx_numbers_mcp.guards.settings import SettingsGuard

if TYPE_CHECKING:
    import jsonschema

TOOL_SPECS_DIR = Path(__file__).with_name("tool_specs")
Kind = Literal["read", "write", "purchase", "destructive", "billed"]
GUARDED_KINDS = ("purchase", "destructive")
# OAuth scopes of a hosted server (--auth-issuer), one per kind of tool; the one place tools map to scopes.
# numbers:purchase covers everything that spends money or destroys (still behind a human's approval).
SCOPES = ("numbers:read", "numbers:write", "numbers:purchase")
SCOPE_BY_KIND: dict[str, str] = {
    "read": "numbers:read",
    "write": "numbers:write",
    "purchase": "numbers:purchase",
    "destructive": "numbers:purchase",
    "billed": "numbers:purchase",
}
ALL_TOOLSETS = "all"
DEFAULT_TOOLSETS = "default"  # in --toolsets: the toolsets a default install offers (`default,requirements`)


@dataclass(frozen=True)
class WireArg:
    location: Literal["path", "query", "body"]
    name: str
    renames: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class Lookup:
    """The read that names what a guarded call acts on, sent before the human is asked (calls/lookups.py):
    `tool` is a read tool, `args` maps its arguments to this tool's ones, `fixed` adds constant ones (e.g. a
    filter that includes the numbers), `what` names the resource."""

    tool: str
    args: dict[str, str]
    what: str
    fixed: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Lookup:
        return cls(tool=data["tool"], args=dict(data["args"]), what=data["what"], fixed=dict(data.get("fixed", {})))

    def query(self, args: dict[str, Any]) -> dict[str, Any]:
        return {**self.fixed, **{read_arg: args.get(own) for read_arg, own in self.args.items()}}


@dataclass(frozen=True)
class ToolSpec:
    """One tool: what tools/list sends, plus how to turn its arguments into an HTTP request."""

    name: str
    title: str
    description: str
    input_schema: dict[str, Any]
    output_schema: dict[str, Any] | None
    annotations: dict[str, Any]
    meta: dict[str, Any]
    method: str
    path: str
    sdk_method: str
    kind: Kind
    toolset: str
    e164: tuple[str, ...]
    args: dict[str, WireArg]
    response_media_type: str
    opt_in: bool = False  # offered only when --toolsets names its toolset (or `all`)
    lookup: Lookup | None = None  # read before asking a human, so the approval names the resource
    billed_settings: SettingsGuard | None = None  # settings that start a charge: turning one on needs approval
    use: str = ""  # the curated sentence saying when to use it (the description starts with it)

    @property
    def guarded(self) -> bool:
        return self.kind in GUARDED_KINDS

    @property
    def billed(self) -> bool:
        """Telnyx charges per call: audited, and past the lookup budget each call needs approval."""
        return self.kind == "billed"

    @property
    def may_ask(self) -> bool:
        """Some of its calls need a human's approval: purchases, destructive calls, billed lookups (past the
        budget) and settings changes that turn on something Telnyx bills."""
        return self.guarded or self.billed or self.billed_settings is not None

    @property
    def scope(self) -> str:
        """The OAuth scope a token needs to see and call this tool (hosted, --auth-issuer)."""
        return SCOPE_BY_KIND[self.kind]

    def asks_approval(self, args: Mapping[str, Any]) -> bool:
        """This call needs a human's approval whatever the budget: a purchase or destructive call, or a settings
        change that turns on something Telnyx bills (guards/settings.py, decided from the arguments alone)."""
        return self.guarded or (self.billed_settings is not None and bool(self.billed_settings.charges(args)))

    def scope_for(self, args: Mapping[str, Any]) -> str:
        """The scope this call needs: its tool's, except that a settings change turning on something Telnyx
        bills is a purchase (numbers:purchase), as it is for the approvals gate."""
        return SCOPE_BY_KIND["purchase"] if self.asks_approval(args) else self.scope

    @property
    def read_only(self) -> bool:
        return bool(self.annotations.get("readOnlyHint"))

    @cached_property
    def validator(self) -> jsonschema.Draft202012Validator:
        # Unknown arguments are refused at call time; the advertised schema stays compact.
        # imported on the first call, not at start-up: jsonschema and its deps cost ~50 ms to import
        from telnyx_numbers_mcp.calls.validate import make_validator  # calls/ builds on the catalog

        return make_validator(self.input_schema)

    @cached_property
    def mcp_tool(self) -> types.Tool:
        return types.Tool(
            name=self.name,
            title=self.title,
            description=self.description,
            input_schema=self.input_schema,
            output_schema=self.output_schema,
            annotations=types.ToolAnnotations.model_validate(self.annotations),
            _meta=self.meta,
        )

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> ToolSpec:
        x = data["x-telnyx"]
        if data["inputSchema"].get("type") != "object":
            raise SpecError(f"{data['name']}: inputSchema must be an object schema")
        return cls(
            name=data["name"],
            title=data["title"],
            description=data["description"],
            input_schema=data["inputSchema"],
            output_schema=data.get("outputSchema"),
            annotations=data["annotations"],
            meta=data["_meta"],
            method=x["method"],
            path=x["path"],
            sdk_method=x["sdk_method"],
            kind=x["kind"],
            toolset=x["toolset"],
            e164=tuple(x["e164"]),
            args={
                k: WireArg(location=v["in"], name=v["name"], renames=v.get("renames", {})) for k, v in x["args"].items()
            },
            response_media_type=x["response"]["media_type"],
            opt_in=bool(x.get("opt_in", False)),
            lookup=Lookup.from_json(x["lookup"]) if "lookup" in x else None,
            billed_settings=SettingsGuard.from_json(x["billed_settings"]) if x.get("billed_settings") else None,
            use=str(x.get("use") or ""),
        )


def load_catalog(directory: Path = TOOL_SPECS_DIR) -> list[ToolSpec]:
    """All tools in index order. Reads JSON only: the OpenAPI spec is never parsed at run time."""
    try:
        index = json.loads((directory / "index.json").read_text())
        return [ToolSpec.from_json(json.loads((directory / f"{n}.json").read_text())) for n in index["tools"]]
    except (OSError, KeyError, ValueError) as exc:
        raise SpecError(f"cannot load tool specs from {directory}: {exc}") from exc


@cache
def packaged_catalog() -> tuple[ToolSpec, ...]:
    """The installed tool_specs/, read once per process: they never change while it runs, and every server
    built in it (one per HTTP session, or per test) then shares the parsed specs and their compiled validators."""
    return tuple(load_catalog())


@cache
def packaged_synonyms() -> tuple[tuple[str, ...], ...]:
    """Groups of words users say for the same thing (scope.toml's [discovery]), for find_tools' ranking."""
    try:
        index = json.loads((TOOL_SPECS_DIR / "index.json").read_text())
    except (OSError, ValueError) as exc:
        raise SpecError(f"cannot load tool specs from {TOOL_SPECS_DIR}: {exc}") from exc
    return tuple(tuple(group) for group in index.get("synonyms", ()))


def toolsets(catalog: Iterable[ToolSpec]) -> list[str]:
    return sorted({t.toolset for t in catalog})


def enabled_toolsets(
    catalog: Iterable[ToolSpec], toolsets_wanted: Iterable[str] = (), tools_wanted: Iterable[str] = ()
) -> frozenset[str]:
    """The toolsets --toolsets selects: the named ones (`all`: every one; `default`: those a default install
    offers), or without it every toolset that is not opt-in (plus the toolset of an opt-in tool --tools names).
    Unknown names are a ConfigError, so a typo never silently yields no tools."""
    catalog = list(catalog)
    wanted, named_tools = set(toolsets_wanted), set(tools_wanted)
    known = set(toolsets(catalog))
    defaults = {t.toolset for t in catalog if not t.opt_in}
    if ALL_TOOLSETS in wanted:
        return frozenset(known)
    if not wanted:
        return frozenset(defaults | {t.toolset for t in catalog if t.name in named_tools})
    if DEFAULT_TOOLSETS in wanted:
        wanted = (wanted - {DEFAULT_TOOLSETS}) | defaults
    if wanted - known:
        raise ConfigError(
            f"unknown toolset(s): {', '.join(sorted(wanted - known))}; "
            f"known: {', '.join(sorted(known))} (or {ALL_TOOLSETS}, or {DEFAULT_TOOLSETS} for the default ones)"
        )
    return frozenset(wanted)


def select(
    catalog: list[ToolSpec],
    *,
    toolsets_wanted: Iterable[str] = (),
    tools_wanted: Iterable[str] = (),
    read_only: bool = False,
    hide_guarded: bool = False,
) -> list[ToolSpec]:
    """Filters, in this order: --toolsets (see enabled_toolsets), then --tools (both: a tool must pass each
    given one), then --read-only, then the purchase policy (`deny` hides purchase and destructive tools).
    Without --toolsets, opt-in toolsets are left out (a default install lists the number operations only).
    --tools may name an opt-in tool without naming its toolset. Unknown tool names are a ConfigError."""
    wanted_sets = enabled_toolsets(catalog, toolsets_wanted, tools_wanted)
    wanted_tools, known_tools = set(tools_wanted), {t.name for t in catalog}
    if wanted_tools - known_tools:
        raise ConfigError(f"unknown tool(s): {', '.join(sorted(wanted_tools - known_tools))}")
    selected = [t for t in catalog if t.toolset in wanted_sets]
    selected = [t for t in selected if not wanted_tools or t.name in wanted_tools]
    if read_only:
        selected = [t for t in selected if t.read_only]
    if hide_guarded:
        selected = [t for t in selected if not t.guarded]
    return selected
