"""What a country and number type require before a number works (Telnyx's regulatory requirements), looked up
by the server itself so that an agent with the default tools learns it before ordering: the coverage answer
lists it per number type, a purchase's summary lists what the order will wait for (the human reads it before
approving), and an order waiting for its requirements names each one beside its id.

One GET /regulatory_requirements per country and number type, kept for REQUIREMENTS_TTL seconds in a bounded
cache. A failed look-up is said as such, never taken for "nothing required".
"""

from __future__ import annotations

import logging
import re
import time
import unicodedata
from collections import OrderedDict
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any

import anyio

from telnyx_numbers_mcp.calls.costs import LOOKUP_TIMEOUT, number_type, region_code
from telnyx_numbers_mcp.calls.http import TelnyxClient
from telnyx_numbers_mcp.catalog import ToolSpec
from telnyx_numbers_mcp.guards.summary import BLOCK_KEY, Costs, price_targets
from telnyx_numbers_mcp.request import build

log = logging.getLogger("telnyx_numbers_mcp.requirements")
REQUIREMENTS_TOOL = "regulatory_requirements_retrieve"  # its spec builds the request, offered or not
COVERAGE_TOOL = "country_coverage_retrieve_country"
REQUIREMENTS_TTL = 1800.0
REQUIREMENTS_CACHE_SIZE = 512
TEXT_LIMIT = 120  # characters of one name or limit shown (Telnyx's text, shown in a summary a human approves)

Pair = tuple[str, str]  # (ISO country, number type)
_LABEL = re.compile(r"(?i)(total|cost)( ?)[:\uff1a\ufe55\ufe13]")  # as in the summary: no text spells its labels


@dataclass(frozen=True)
class Requirement:
    """One thing to supply for numbers of a country and type: an address, a document or a text value."""

    id: str
    name: str
    field_type: str
    limits: str  # from acceptance_criteria, in words ("2 to 200 characters"); "" when none

    def text(self, *, with_id: bool = False) -> str:
        """`End user name (textual: 2 to 200 characters)`, with `; requirement_id ...` inside when asked."""
        inner = f"{self.field_type}: {self.limits}" if self.limits else self.field_type
        return f"{self.name} ({inner}; requirement_id {self.id})" if with_id else f"{self.name} ({inner})"


def _plain(value: Any) -> str:
    """Telnyx's text on one line: control, format and separator characters become spaces; bounded."""
    chars = [" " if unicodedata.category(c) in ("Cc", "Cf", "Zl", "Zp") else c for c in str(value)]
    text = _LABEL.sub(r"\1\2\\x3a", " ".join("".join(chars).split()))
    return text if len(text) <= TEXT_LIMIT else text[: TEXT_LIMIT - 1] + "…"


def limits(criteria: Any) -> str:
    """Acceptance criteria in words: lengths, locality, age, allowed values, characters, pattern."""
    if not isinstance(criteria, dict):
        return ""
    low, high = criteria.get("min_length"), criteria.get("max_length")
    parts = []
    if low not in (None, "") and high not in (None, ""):
        parts.append(f"{_plain(low)} to {_plain(high)} characters")
    elif high not in (None, ""):
        parts.append(f"at most {_plain(high)} characters")
    elif low not in (None, ""):
        parts.append(f"at least {_plain(low)} characters")
    for key in ("locality_limit", "time_limit", "acceptable_characters"):
        if criteria.get(key):
            parts.append(_plain(criteria[key]))
    values = criteria.get("acceptable_values")
    if isinstance(values, list) and values:
        parts.append("one of " + ", ".join(_plain(v) for v in values[:10]) + (", ..." if len(values) > 10 else ""))
    if criteria.get("regex"):
        parts.append(f"matching {_plain(criteria['regex'])}")
    return "; ".join(parts)


def parse(answer: Any, number_type: str) -> list[Requirement]:
    """The requirements for `number_type` in a GET /regulatory_requirements answer."""
    entries = answer.get("data") if isinstance(answer, dict) else None
    found: list[Requirement] = []
    for entry in entries if isinstance(entries, list) else []:
        if not isinstance(entry, dict) or entry.get("phone_number_type") not in (None, number_type):
            continue
        for item in entry.get("regulatory_requirements") or []:
            if isinstance(item, dict):
                name = _plain(item.get("name") or item.get("label") or item.get("description") or "unnamed")
                kind = _plain(item.get("field_type") or "value")
                found.append(
                    Requirement(str(item.get("id") or ""), name, kind, limits(item.get("acceptance_criteria")))
                )
    return found


class RequirementBook:
    """Requirements by (country, number type), for REQUIREMENTS_TTL seconds; the oldest go first once
    REQUIREMENTS_CACHE_SIZE pairs are kept, so memory stays bounded."""

    def __init__(
        self,
        tool: ToolSpec | None,
        ttl: float = REQUIREMENTS_TTL,
        size: int = REQUIREMENTS_CACHE_SIZE,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.tool, self.ttl, self.size, self.clock = tool, ttl, size, clock
        self._items: OrderedDict[Pair, tuple[float, list[Requirement]]] = OrderedDict()

    def get(self, pair: Pair) -> list[Requirement] | None:
        found = self._items.get(pair)
        if found is None or found[0] < self.clock():
            self._items.pop(pair, None)
            return None
        return found[1]

    def put(self, pair: Pair, requirements: list[Requirement]) -> None:
        self._items.pop(pair, None)
        self._items[pair] = (self.clock() + self.ttl, requirements)
        while len(self._items) > self.size:
            self._items.popitem(last=False)

    async def lookup(self, client: TelnyxClient, pairs: Iterable[Pair]) -> dict[Pair, list[Requirement] | None]:
        """Each pair's requirements ([] when none), None where the look-up failed; one request per pair not
        already known, all at once."""
        out: dict[Pair, list[Requirement] | None] = {}

        async def one(pair: Pair) -> None:
            known = self.get(pair)
            if known is not None:
                out[pair] = known
                return
            out[pair] = None
            if self.tool is None:
                return
            query = {"filter": {"country_code": pair[0], "phone_number_type": pair[1], "action": "ordering"}}
            try:
                with anyio.fail_after(LOOKUP_TIMEOUT):
                    answer = await client.send(build(self.tool, query), tool=self.tool.name)
            except Exception as exc:  # a failed look-up only means "not known"; the call itself goes on
                log.info("requirements look-up for %s %s failed: %s", *pair, type(exc).__name__)
                return
            found = parse(answer.json, pair[1])
            self.put(pair, found)
            out[pair] = found

        async with anyio.create_task_group() as tg:
            for pair in dict.fromkeys(p for p in pairs if p[0] and p[1]):
                tg.start_soon(one, pair)
        return out


def _listing(found: list[Requirement] | None) -> str:
    if found is None:
        return "could not be looked up just now (ask again later)"
    return "; ".join(r.text() for r in found) if found else "none"


def coverage_lines(found: Mapping[Pair, list[Requirement] | None]) -> list[str]:
    """The coverage answer's addition: each number type's requirements before ordering."""
    if not found:
        return []
    parts = [f"{kind}: {_listing(reqs)}" for (_country, kind), reqs in found.items()]
    lines = ["Regulatory requirements before ordering, by number type: " + " · ".join(parts)]
    if any(found.values()):
        lines.append("An order of a type with requirements waits until the user provides them.")
    return lines


def coverage_pairs(args: Mapping[str, Any], answer: Any) -> list[Pair]:
    """(country, type) for each number type a country coverage answer lists."""
    data = answer.get("data") if isinstance(answer, dict) else None
    if not isinstance(data, dict):
        return []
    country = str(data.get("code") or args.get("country_code") or "").upper()
    kinds = data.get("phone_number_type")
    return [(country, str(k)) for k in kinds if isinstance(k, str)] if isinstance(kinds, list) else []


def purchase_pairs(tool: str, args: Mapping[str, Any], costs: Costs) -> list[Pair]:
    """(country, type) of what a purchase buys: from its quotes, else from the numbering plan or its filters."""
    pairs = []
    for target in price_targets(tool, args):
        quote = costs.get(target.key) or {}
        country, kind = quote.get("country_code", ""), quote.get("phone_number_type", "")
        if target.kind in ("number", "block") and target.number.startswith("+"):
            country = country or region_code(target.number)
            kind = kind or number_type(target.number)
        elif target.kind == "estimate":
            country = country or str(target.filters.get("country_code") or "")
            kind = kind or str(target.filters.get("phone_number_type") or "local")
        if target.key == BLOCK_KEY and not kind:
            kind = "local"
        pairs.append((country.upper(), kind))
    return pairs


def summary_lines(found: Mapping[Pair, list[Requirement] | None]) -> list[str]:
    """What the order will wait for and what the user will have to provide, for the purchase's summary."""
    needed = {pair: reqs for pair, reqs in found.items() if reqs}
    unknown = [f"{c} {k}" for (c, k), reqs in found.items() if reqs is None]
    lines = []
    if needed:
        lines.append("Regulatory requirements: the order waits until the user provides, for")
        lines.extend(f"  {c} {k}: " + "; ".join(r.text() for r in reqs) for (c, k), reqs in needed.items())
    if unknown:
        lines.append(f"Regulatory requirements of {', '.join(unknown)}: could not be looked up.")
    return lines


def order_pairs(answer: Any) -> list[Pair]:
    """(country, type) of every ordered number in an order-like answer that waits for requirements."""
    data = answer.get("data") if isinstance(answer, dict) else None
    items = data if isinstance(data, list) else [data] if isinstance(data, dict) else []
    pairs = []
    for item in items:
        if not isinstance(item, dict) or item.get("requirements_met") is not False:
            continue
        numbers = item.get("phone_numbers")
        for n in [item, *(numbers if isinstance(numbers, list) else [])]:
            if isinstance(n, dict) and n.get("country_code") and n.get("phone_number_type"):
                pairs.append((str(n["country_code"]).upper(), str(n["phone_number_type"])))
    return pairs


def named(found: Mapping[Pair, list[Requirement] | None]) -> dict[str, str]:
    """Requirement id -> its words (with the id), for the hint of an order that waits for them."""
    return {r.id: r.text(with_id=True) for reqs in found.values() for r in reqs or [] if r.id}
