"""What one purchase counts against limits and mandates, and where its numbers are.

A purchase counts its upfront cost plus its first month's recurring cost, from the same quotes the human's summary
shows (calls/costs.py looks them up; guards/summary.py says what each purchase tool prices). An estimate (Telnyx picks
the numbers) counts at its upper bound: the highest price a search with the same filters showed, times the count. An
amount that is not known (no quote, a price in another currency) is None, and a limit then refuses the purchase."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from telnyx_numbers_mcp.calls.costs import number_type, region_code
from telnyx_numbers_mcp.guards.summary import Costs, count_numbers, price_targets
from telnyx_numbers_mcp.spend.money import CURRENCY, to_micros

Place = tuple[str, str, int]  # (ISO country, number type, how many numbers); "" where it is not known


@dataclass(frozen=True)
class Purchase:
    """One purchase as limits and mandates see it."""

    tool: str
    count: int  # numbers it buys
    amount: int | None  # micro-dollars it counts; None: not known
    places: tuple[Place, ...]
    estimate: bool = False  # Telnyx picks the numbers: `amount` is the upper bound of an estimate

    @property
    def countries(self) -> set[str]:
        return {country for country, _, _ in self.places}

    @property
    def number_types(self) -> set[str]:
        return {kind for _, kind, _ in self.places}


def _quoted(quote: Mapping[str, str] | None) -> int | None:
    """Upfront plus one month, in micro-dollars, of a USD quote; None otherwise."""
    if not quote or str(quote.get("currency") or "").upper() != CURRENCY:
        return None
    upfront, monthly = to_micros(quote.get("upfront_cost")), to_micros(quote.get("monthly_cost"))
    return None if upfront is None or monthly is None else upfront + monthly


def purchase_of(tool: str, args: Mapping[str, Any], costs: Costs) -> Purchase:
    """The count, the amount and the places of `tool` called with `args`, priced by `costs` (Priced.key -> quote)."""
    places: list[Place] = []
    amount: int | None = 0
    estimate = False
    for target in price_targets(tool, args):
        quote = costs.get(target.key)
        each = _quoted(quote)
        if target.kind == "estimate":
            estimate = True
            filters = target.filters
            country, kind = str(filters.get("country_code") or ""), str(filters.get("phone_number_type") or "")
            places.append((country.upper(), kind, target.size))
            each = None if each is None else each * target.size
        else:  # a number, or a whole block (its quote is for the block)
            kind = str((quote or {}).get("phone_number_type") or number_type(target.number))
            places.append((region_code(target.number), kind, target.size))
        amount = None if amount is None or each is None else amount + each
    if not places:
        amount = None
    return Purchase(tool, count_numbers(tool, args), amount, tuple(places), estimate)
