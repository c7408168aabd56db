"""What one session is offered, and how every text the server writes names a tool. A hint, an error, the
instructions and the prompts name only tools this session can call; where the next step needs a toolset that
is not enabled, the text says which one and the exact flag the operator adds (`--toolsets default,NAME`);
a tool held back otherwise (`--tools`, `--read-only`, the purchase policy) is not named at all."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from telnyx_numbers_mcp.catalog import DEFAULT_TOOLSETS


@dataclass(frozen=True)
class Offer:
    """The tools one session may name (direct tools, or reached through call_tool in discover mode), the
    toolsets --toolsets enabled, every catalog tool's toolset, and --toolsets as the operator gave it."""

    names: frozenset[str]
    enabled: frozenset[str]
    toolset_of: Mapping[str, str]
    selection: tuple[str, ...] = ()  # --toolsets as given; () = the default toolsets
    discover: bool = False

    def has(self, name: str) -> bool:
        return name in self.names

    def offered(self, names: Iterable[str]) -> list[str]:
        return [n for n in names if n in self.names]

    def flag(self, toolset: str) -> str:
        """The --toolsets value that adds `toolset` to what is enabled now."""
        current = [s for s in self.selection if s != toolset] or [DEFAULT_TOOLSETS]
        return "--toolsets " + ",".join([*current, toolset])

    def enable(self, toolset: str) -> str:
        """`toolset requirements is not enabled; the operator enables it with --toolsets default,requirements`."""
        return f"toolset {toolset} is not enabled; the operator enables it with {self.flag(toolset)}"

    def missing(self, name: str) -> str | None:
        """Why `name` cannot be called, when the reason is a toolset the operator could enable; else None."""
        if name in self.names:
            return None
        toolset = self.toolset_of.get(name)
        return self.enable(toolset) if toolset is not None and toolset not in self.enabled else None

    def step(self, name: str, doing: str) -> str | None:
        """One step of a how-to: "`doing` with NAME" when offered; "`doing` (toolset X is not enabled; the
        operator enables it with ...)" when its toolset is off; None when it is held back otherwise."""
        if name in self.names:
            return f"{doing} with {name}"
        why = self.missing(name)
        return f"{doing} ({why})" if why else None
