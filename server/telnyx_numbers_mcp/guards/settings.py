"""Settings that cost money: which change of an owned number's settings starts a Telnyx charge, and where
forwarded calls would go.

The billed settings, each with the price Telnyx publishes (or "billed by Telnyx") and where we learned it,
are hand-written in scope.toml (`[[tool.billed]]` under the tool they belong to) and travel in the tool
spec's x-telnyx. From the arguments alone, this module says whether a call turns one of them on; such a call
is guarded like a purchase (calls/pipeline.py asks the approvals gate), every other settings change stays an
ordinary write. Pure: no I/O; phonenumbers is imported only when a destination is judged.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

__all__ = ["NON_GEOGRAPHIC", "Billed", "Charge", "Forward", "Place", "SettingsGuard", "place", "value_at"]

# ITU-T country codes that belong to no country (E.164 "global services"): a call forwarded to one of them is
# always outside the number's own country, and +881/+882/+883 are the classic toll-fraud destinations.
NON_GEOGRAPHIC = {
    800: "international freephone",
    808: "international shared cost service",
    870: "Inmarsat satellite",
    878: "universal personal telecommunications",
    881: "global mobile satellite system",
    882: "international networks",
    883: "international networks",
    888: "international humanitarian (OCHA)",
    979: "international premium rate",
}


@dataclass(frozen=True)
class Billed:
    """One billed setting from scope.toml. A plain setting is on when the value at `path` is one of `on`;
    call forwarding (`forwards`, the destination field, and `switch`, the field that turns it on or off) is
    on when a destination is set and not switched off, or when it is switched on."""

    name: str  # short, plain words: "call forwarding"
    price: str  # Telnyx's published price, else "billed by Telnyx" with what is billed
    source: str  # where that is written (a Telnyx page, the spec)
    path: str = ""
    on: tuple[Any, ...] = ()
    forwards: str = ""
    switch: str = ""
    current: str = ""  # the read tool that shows the current destination (when a call only switches it on)

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Billed:
        return cls(
            name=str(data["name"]),
            price=str(data["price"]),
            source=str(data["source"]),
            path=str(data.get("path", "")),
            on=tuple(data.get("on", ())),
            forwards=str(data.get("forwards", "")),
            switch=str(data.get("switch", "")),
            current=str(data.get("current", "")),
        )

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {"name": self.name, "price": self.price, "source": self.source}
        if self.forwards:
            out.update(forwards=self.forwards, switch=self.switch)
            if self.current:
                out["current"] = self.current
        else:
            out.update(path=self.path, on=list(self.on))
        return out


@dataclass(frozen=True)
class Charge:
    """A billed setting this call turns on, and the value it sets."""

    billed: Billed
    value: Any


@dataclass(frozen=True)
class Forward:
    """Call forwarding this call turns on: the destination it sets (None: it switches forwarding on and the
    destination already set on the number stays)."""

    billed: Billed
    to: str | None


@dataclass(frozen=True)
class SettingsGuard:
    """The billed settings of one tool."""

    billed: tuple[Billed, ...]

    @classmethod
    def from_json(cls, data: Sequence[Mapping[str, Any]]) -> SettingsGuard:
        return cls(tuple(Billed.from_json(item) for item in data))

    def charges(self, args: Mapping[str, Any]) -> list[Charge]:
        """Every billed setting the call turns on (forwarding included); empty for a change that costs nothing."""
        found = []
        for billed in self.billed:
            if billed.forwards:
                forward = _forward(billed, args)
                if forward is not None:
                    found.append(Charge(billed, forward.to))
                continue
            present, value = value_at(args, billed.path)
            if present and _one_of(value, billed.on):
                found.append(Charge(billed, value))
        return found

    def forward(self, args: Mapping[str, Any]) -> Forward | None:
        """The call forwarding this call turns on, if it does."""
        for billed in self.billed:
            if billed.forwards and (forward := _forward(billed, args)) is not None:
                return forward
        return None

    @property
    def names(self) -> list[str]:
        return [b.name for b in self.billed]


def _forward(billed: Billed, args: Mapping[str, Any]) -> Forward | None:
    has_to, to = value_at(args, billed.forwards)
    has_switch, switch = value_at(args, billed.switch)
    if has_switch and switch is False:
        return None  # a destination stored while forwarding stays off costs nothing yet
    if has_to and isinstance(to, str) and to:
        return Forward(billed, to)
    if has_switch and switch is True:
        return Forward(billed, None)
    return None


def value_at(args: Mapping[str, Any], path: str) -> tuple[bool, Any]:
    """(present, value) at a dotted path of the arguments."""
    node: Any = args
    for step in path.split("."):
        if not isinstance(node, Mapping) or step not in node:
            return False, None
        node = node[step]
    return True, node


def _one_of(value: Any, choices: tuple[Any, ...]) -> bool:
    # True == 1 in Python: a boolean setting is on only for the JSON value true, never for 1
    return any(type(value) is type(choice) and value == choice for choice in choices)


# --- where forwarded calls go ------------------------------------------------------------------------


@dataclass(frozen=True)
class Place:
    """Where a destination number is, judged against the forwarding number's own country."""

    region: str  # ISO country of the destination, "" when it belongs to none or cannot be told
    label: str  # plain words: "in GB", "an international network number (+882: international networks)"
    outside: bool | None  # None: the number's own country is not known


def place(destination: str, home: str | None) -> Place:
    """Judge `destination` (E.164, already checked) against `home`, the ISO country of the number whose
    calls are forwarded (None when it could not be looked up). Non-geographic codes are always outside."""
    import phonenumbers

    try:
        number = phonenumbers.parse(destination, None)
    except phonenumbers.NumberParseException:
        return Place("", "a number whose country cannot be told", True)
    code = number.country_code
    if code in NON_GEOGRAPHIC or code in phonenumbers.COUNTRY_CODES_FOR_NON_GEO_REGIONS:
        what = NON_GEOGRAPHIC.get(code, "a non-geographic service")
        return Place("", f"an international number (+{code}: {what}) that belongs to no country", True)
    region = phonenumbers.region_code_for_number(number) or ""
    if not region:
        return Place("", f"a +{code} number whose country cannot be told", True)
    if home is None:
        return Place(region, f"in {region}", None)
    return Place(region, f"in {region}", region != home.upper())
