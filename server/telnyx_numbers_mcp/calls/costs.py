"""What Telnyx asks for the numbers a purchase names, so the human approves a price and --max-order-cost
can be enforced.

Prices come, in this order, from what this server's own searches returned a moment ago (a bounded cache
with a time limit), from a search for the number itself (with its number type, so a toll-free or mobile
number is found), or, for orders that name no numbers, from a search with the same filters, labelled as
an estimate: the highest price among the numbers it shows (spending limits count an estimate at its top).
Which numbers a purchase prices is in the one per-purchase table (guards/summary.ACTIONS).
A failed look-up only means 'not quoted'.
"""

from __future__ import annotations

import contextlib
import logging
import time
from collections import OrderedDict
from collections.abc import Callable, Mapping
from functools import lru_cache
from typing import Any

import anyio
import phonenumbers

from telnyx_numbers_mcp.calls.http import TelnyxClient
from telnyx_numbers_mcp.catalog import ToolSpec
from telnyx_numbers_mcp.guards.summary import Priced, price_targets
from telnyx_numbers_mcp.request import build

log = logging.getLogger("telnyx_numbers_mcp.costs")
NUMBER_SEARCH = "available_phone_numbers_list"
BLOCK_SEARCH = "available_phone_number_blocks_list"
LOOKUP_TIMEOUT = 10.0
PRICE_TTL = 1800.0  # seconds a searched price is trusted: as long as a reservation holds a number
PRICE_CACHE_SIZE = 10_000
ESTIMATE_SAMPLE = 20  # numbers an estimate looks at: it takes the highest price among them

_NUMBER_TYPES = {
    phonenumbers.PhoneNumberType.MOBILE: "mobile",
    phonenumbers.PhoneNumberType.FIXED_LINE: "local",
    phonenumbers.PhoneNumberType.FIXED_LINE_OR_MOBILE: "local",
    phonenumbers.PhoneNumberType.TOLL_FREE: "toll_free",
    phonenumbers.PhoneNumberType.SHARED_COST: "shared_cost",
}


@lru_cache(maxsize=4096)
def _parsed(e164: str) -> tuple[str, str]:
    """(number type, region) of a number, parsed once: a search answer's numbers are read by the price
    memory, the quote and the renderer, and phonenumbers' parse is the costliest step of a search call.
    Bounded, and a pure function of the string, so caching changes no answer."""
    try:
        number = phonenumbers.parse(e164)
    except phonenumbers.NumberParseException:
        return "", ""
    return _NUMBER_TYPES.get(phonenumbers.number_type(number), ""), phonenumbers.region_code_for_number(number) or ""


def number_type(e164: str) -> str:
    """Telnyx's phone_number_type for a number, from the numbering plan ("" when it cannot tell)."""
    return _parsed(e164)[0]


def searched_type(args: Mapping[str, Any], e164: str) -> str:
    """A searched number's type: the one the search asked for, else the numbering plan's ("" if neither)."""
    raw = args.get("filter")
    flt: Mapping[str, Any] = raw if isinstance(raw, dict) else {}
    return str(flt.get("phone_number_type") or number_type(e164))


def feature_names(item: Mapping[str, Any]) -> tuple[str, ...]:
    """The names of a search row's features (Telnyx sends them as objects, older answers as strings)."""
    feats = item.get("features")
    if not isinstance(feats, list):
        return ()
    return tuple([str(f.get("name")) if isinstance(f, dict) else str(f) for f in feats])


def region_code(e164: str) -> str:
    """The number's ISO country ("" when the numbering plan does not know it)."""
    return _parsed(e164)[1]


class PriceCache:
    """What searches returned (price, type, features), by number or block, for PRICE_TTL seconds; the
    oldest entries go first once PRICE_CACHE_SIZE is reached, so memory stays bounded."""

    def __init__(
        self, ttl: float = PRICE_TTL, size: int = PRICE_CACHE_SIZE, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self.ttl, self.size, self.clock = ttl, size, clock
        self._items: OrderedDict[str, tuple[float, dict[str, str]]] = OrderedDict()

    def put(self, key: str, quote: dict[str, str]) -> None:
        self._items.pop(key, None)
        self._items[key] = (self.clock() + self.ttl, quote)
        while len(self._items) > self.size:
            self._items.popitem(last=False)

    def get(self, key: str) -> dict[str, str] | None:
        found = self._items.get(key)
        if found is None:
            return None
        if found[0] < self.clock():
            del self._items[key]
            return None
        return found[1]

    def __len__(self) -> int:
        return len(self._items)

    def remember(self, tool: str, args: Mapping[str, Any], answer: Any) -> int:
        """Keep every priced row of a number or block search answer; returns how many were kept."""
        if tool not in (NUMBER_SEARCH, BLOCK_SEARCH) or not isinstance(answer, dict):
            return 0
        kept = 0
        for item in answer.get("data") or []:
            if not isinstance(item, dict) or not isinstance(item.get("phone_number"), str):
                continue
            e164 = item["phone_number"]
            quote = _quote(item, searched_type(args, e164))
            if quote is None:
                continue
            self.put(_block_key(e164, item.get("range")) if tool == BLOCK_SEARCH else e164, quote)
            kept += 1
        return kept


def _block_key(start: str, size: Any) -> str:
    return f"block:{start}/{size}"


def _quote(item: Mapping[str, Any], kind: str) -> dict[str, str] | None:
    info = item.get("cost_information")
    if not isinstance(info, dict) or info.get("upfront_cost") is None or info.get("monthly_cost") is None:
        return None
    e164 = str(item.get("phone_number", ""))
    region = region_code(e164)
    return {
        "upfront_cost": str(info.get("upfront_cost")),
        "monthly_cost": str(info.get("monthly_cost")),
        "currency": str(info.get("currency") or ""),
        "country_code": region,
        "phone_number_type": kind,
        "features": ",".join(feature_names(item)),
    }


def _upfront_and_month(quote: dict[str, str]) -> float:
    """What a quote counts (upfront plus one month), for picking the highest; unreadable prices count as 0."""
    total = 0.0
    for key in ("upfront_cost", "monthly_cost"):
        with contextlib.suppress(ValueError):
            total += float(quote.get(key) or 0)
    return total


def _number_query(e164: str) -> dict[str, Any]:
    number = phonenumbers.parse(e164)
    kind = number_type(e164)
    flt: dict[str, Any] = {
        "country_code": phonenumbers.region_code_for_number(number),
        "phone_number": {"starts_with": phonenumbers.national_significant_number(number)},
        "limit": 5,
    }
    if kind:
        flt["phone_number_type"] = kind  # a search without it finds local numbers only
    return {"filter": flt}


def _block_query(start: str) -> dict[str, Any]:
    number = phonenumbers.parse(start)
    national = phonenumbers.national_significant_number(number)
    ndc = national[: phonenumbers.length_of_national_destination_code(number)]
    flt: dict[str, Any] = {"country_code": phonenumbers.region_code_for_number(number)}
    if ndc:
        flt["national_destination_code"] = ndc
    return {"filter": flt}


async def similar_price(
    client: TelnyxClient,
    searches: Mapping[str, ToolSpec],
    cache: PriceCache,
    e164: str,
    *,
    country: Any,
    kind: Any,
) -> dict[str, str] | None:
    """What Telnyx charges for a number like `e164` (same country and type), for a release's summary: its API
    has no price for an owned number. The price this server's searches showed for the number itself comes
    first; else one search row of the same country and type. None when no search finds one."""
    known = cache.get(e164)
    if known is not None:
        return known
    country = country if isinstance(country, str) and country else region_code(e164)
    kind = kind if isinstance(kind, str) and kind else number_type(e164)
    if not country or NUMBER_SEARCH not in searches:
        return None
    flt: dict[str, Any] = {"country_code": country, "limit": 1}
    if kind:
        flt["phone_number_type"] = kind
    with anyio.fail_after(LOOKUP_TIMEOUT):
        answer = await client.send(build(searches[NUMBER_SEARCH], {"filter": flt}), tool=NUMBER_SEARCH)
    rows = answer.json.get("data") if isinstance(answer.json, Mapping) else None
    first = rows[0] if isinstance(rows, list) and rows and isinstance(rows[0], Mapping) else None
    return _quote(first, kind or "local") if first is not None else None


async def lookup_costs(
    client: TelnyxClient,
    searches: Mapping[str, ToolSpec],
    cache: PriceCache,
    tool: str,
    args: Mapping[str, Any],
) -> dict[str, dict[str, str]]:
    """Priced.key -> upfront_cost, monthly_cost, currency, country_code, phone_number_type, features (and
    estimate="yes" for a price from a search with the same filters)."""
    costs: dict[str, dict[str, str]] = {}

    async def search(name: str, query: dict[str, Any]) -> Any:
        if name not in searches:
            return None
        with anyio.fail_after(LOOKUP_TIMEOUT):
            answer = await client.send(build(searches[name], query), tool=name, route=searches[name].path)
        cache.remember(name, query, answer.json)
        return answer.json

    async def one(target: Priced) -> None:
        try:
            if target.kind == "number":
                key = target.number
                if cache.get(key) is None:
                    await search(NUMBER_SEARCH, _number_query(key))
            elif target.kind == "block":
                key = _block_key(target.number, target.size)
                if cache.get(key) is None:
                    await search(BLOCK_SEARCH, _block_query(target.number))
            else:
                found = await search(NUMBER_SEARCH, {"filter": {**target.filters, "limit": ESTIMATE_SAMPLE}})
                rows = found.get("data") if isinstance(found, Mapping) else None
                kind = str(target.filters.get("phone_number_type") or "local")
                listed = rows if isinstance(rows, list) else []
                quotes: list[dict[str, str]] = [
                    q for r in listed if isinstance(r, Mapping) and (q := _quote(r, kind)) is not None
                ]
                if quotes:  # the upper bound of what Telnyx may pick: spending limits count an estimate at it
                    highest = max(quotes, key=_upfront_and_month)
                    costs[target.key] = {**highest, "estimate": "yes"}
                return
        except Exception as exc:
            log.info("cost look-up for %s failed: %s", target.key, type(exc).__name__)
            return
        quote = cache.get(key)
        if quote is not None:
            costs[target.key] = quote

    async with anyio.create_task_group() as tg:
        for target in {t.key: t for t in price_targets(tool, args)}.values():
            tg.start_soon(one, target)
    return costs
