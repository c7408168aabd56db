"""Plain-words summaries of purchases and destructive calls, for a human to approve.

The summary is what the human actually reads before money is spent, so it names every number,
every cost Telnyx quoted, the totals, and every setting that will be sent; nothing is hidden.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from typing import Any, Literal

__all__ = ["ACTIONS", "Action", "Costs", "Priced", "count_numbers", "describe_action", "price_targets", "total_cost"]

Costs = dict[str, dict[str, str]]  # Priced.key -> upfront_cost, monthly_cost, currency, ... (estimate="yes")

_NONE = "(none)"
_NOT_QUOTED = "cost: not quoted by Telnyx"
_KINDS = ("purchase", "destructive")


def describe_action(
    tool: str,
    args: Mapping[str, Any],
    *,
    kind: str,
    costs: Costs | None = None,
    sandbox: bool = False,
) -> str:
    """Multi-line text saying what ``tool`` will do with ``args``; ``kind`` is purchase or destructive."""
    if kind not in _KINDS:
        raise ValueError(f"kind must be one of {_KINDS}, not {kind!r}")
    costs = costs or {}
    action = ACTIONS.get(tool)
    lines = action.lines(args, costs) if action else _generic(tool, args, kind)
    return _mark(lines, kind=kind, sandbox=sandbox)


def count_numbers(tool: str, args: Mapping[str, Any]) -> int:
    """How many numbers the call would buy; 0 for tools that buy none. Used by the numbers cap."""
    action = ACTIONS.get(tool)
    return action.count(args) if action else 0


def price_targets(tool: str, args: Mapping[str, Any]) -> list[Priced]:
    """What must be priced for the human's summary and the cost cap (calls/costs.py looks them up)."""
    action = ACTIONS.get(tool)
    return action.prices(args) if action else []


def total_cost(tool: str, args: Mapping[str, Any], costs: Costs | None) -> float | None:
    """Upfront total in USD; None unless every priced target has a firm USD quote (an estimate is not one).

    None is also returned when there is nothing to price, so a cost cap can fail closed.
    """
    costs = costs or {}
    targets = price_targets(tool, args)
    if not targets or any((costs.get(t.key) or {}).get("estimate") for t in targets):
        return None
    totals = _totals([t.key for t in targets], costs)
    if totals is None:
        return None
    upfront, _monthly = totals
    if set(upfront) - {"USD"} or "USD" not in upfront:
        return None
    return float(upfront["USD"])


# --- per-tool text ------------------------------------------------------------------------------


def _number_order(args: Mapping[str, Any], costs: Costs) -> list[str]:
    numbers = _numbers(args)
    entries = [n for n in args.get("phone_numbers") or [] if isinstance(n, Mapping)]
    lines = [f"BUY {_plural(len(numbers), 'phone number')} from Telnyx:"]
    width = max((len(n) for n in numbers), default=0)
    for number, entry in zip(numbers, entries, strict=False):
        line = f"  {number.ljust(width)}  {_cost_text(costs.get(number))}"
        extra = []
        if entry.get("bundle_id") is not None:
            extra.append(f"bundle {_text(entry['bundle_id'])}")
        if entry.get("requirement_group_id") is not None:
            extra.append(f"requirement group {_text(entry['requirement_group_id'])}")
        extra.extend(
            _pair(k, v) for k, v in entry.items() if k not in ("phone_number", "bundle_id", "requirement_group_id")
        )
        if extra:
            line += "  (" + ", ".join(extra) + ")"
        lines.append(line)
    lines.append(_total_line(numbers, costs))
    return [*lines, *_order_footer(args, "phone_numbers")]


def _order_footer(args: Mapping[str, Any], numbers_key: str) -> list[str]:
    """Where the numbers go, the reference to find the order by, and every other argument sent."""
    settings = ("connection_id", "messaging_profile_id", "billing_group_id")
    return [
        _settings(args, settings),
        f"Customer reference: {_text(args.get('customer_reference'))}",
        *_others(args, {numbers_key, *settings, "customer_reference"}),
    ]


def _block_order(args: Mapping[str, Any], costs: Costs) -> list[str]:
    count = count_numbers("number_block_orders_create", args)
    start = args.get("starting_number")
    lines = [f"BUY a block of {_plural(count, 'phone number')} from Telnyx:"]
    last = _block_end(start, count)
    span = f"{_text(start)} to {last}" if last else f"starting at {_text(start)}"
    quote = costs.get(BLOCK_KEY)
    if quote is not None:
        lines.append(f"  {span}  {_cost_text(quote)} for the whole block")
        lines.append(_total_line([BLOCK_KEY], costs).replace(" per month.", " per month, for the whole block."))
    else:
        lines.append(f"  {span}  {_NOT_QUOTED}")
        lines.append("Total: not known (Telnyx quoted no price for this block).")
    lines.append(_settings(args, ("connection_id", "messaging_profile_id")))
    lines.append(f"Customer reference: {_text(args.get('customer_reference'))}")
    known = {"starting_number", "range", "connection_id", "messaging_profile_id", "customer_reference"}
    lines.extend(_others(args, known))
    return lines


def _inexplicit_order(args: Mapping[str, Any], costs: Costs) -> list[str]:
    count = count_numbers("inexplicit_number_orders_create", args)
    lines = [f"BUY {_plural(count, 'phone number')} chosen by Telnyx:"]
    groups = args.get("ordering_groups")
    for index, group in enumerate(groups if isinstance(groups, list) else []):
        if not isinstance(group, Mapping):
            continue
        place = [_text(group[key]) for key in ("locality", "administrative_area") if group.get(key) not in (None, "")]
        what = f"  {_text(group.get('count_requested'))} x {_text(group.get('country_iso'))}"
        what += f" {_text(group.get('phone_number_type'))}"
        if place:
            what += " in " + ", ".join(place)
        if group.get("national_destination_code") not in (None, ""):
            what += f", area code {_text(group['national_destination_code'])}"
        if group.get("features"):
            what += f", with {_text(group['features'])}"
        used = {
            "count_requested",
            "country_iso",
            "phone_number_type",
            "locality",
            "administrative_area",
            "national_destination_code",
            "features",
        }
        rest = [_pair(k, v) for k, v in group.items() if k not in used]
        if rest:
            what += " (" + ", ".join(rest) + ")"
        lines.append(what)
        lines.append(f"    {_estimate_text(costs.get(f'group:{index}'))}")
    lines.append(_estimate_total(price_targets("inexplicit_number_orders_create", args), costs))
    return [*lines, *_order_footer(args, "ordering_groups")]


def _advanced_order(args: Mapping[str, Any], costs: Costs) -> list[str]:
    count = count_numbers("advanced_orders_create", args)
    lines = [f"BUY {_plural(count, 'phone number')} from Telnyx by advanced order:"]
    what = f"  {count} x {_text(args.get('country_code'))} {_text(args.get('phone_number_type'))}"
    if args.get("area_code") not in (None, ""):
        what += f", area code {_text(args['area_code'])}"
    if args.get("features"):
        what += f", with {_text(args['features'])}"
    lines.append(what)
    lines.append(f"    {_estimate_text(costs.get('advanced'))}")
    lines.append("Telnyx staff fulfil advanced orders and choose the numbers.")
    lines.append(_estimate_total(price_targets("advanced_orders_create", args), costs))
    if args.get("requirement_group_id") is not None:
        lines.append(f"Requirement group: {_text(args['requirement_group_id'])}")
    if args.get("comments") not in (None, ""):
        lines.append(f"Comments: {_text(args['comments'])}")
    lines.append(f"Customer reference: {_text(args.get('customer_reference'))}")
    known = {
        "quantity",
        "country_code",
        "phone_number_type",
        "area_code",
        "features",
        "customer_reference",
        "requirement_group_id",
        "comments",
    }
    lines.extend(_others(args, known))
    return lines


def _delete_block(args: Mapping[str, Any], costs: Costs) -> list[str]:
    return [
        f"DELETE all numbers in phone number block {_text(args.get('phone_number_block_id'))} (cannot be undone).",
        *_others(args, {"phone_number_block_id"}),
    ]


def _cancel_sub_order(args: Mapping[str, Any], costs: Costs) -> list[str]:
    return [
        f"CANCEL sub number order {_text(args.get('sub_number_order_id'))}.",
        *_others(args, {"sub_number_order_id"}),
    ]


def _estimate_text(quote: Mapping[str, str] | None) -> str:
    if not quote:
        return "estimate: none (no search with the same filters returned a price)"
    up, month = _money(quote.get("upfront_cost")), _money(quote.get("monthly_cost"))
    if up is None or month is None:
        return "estimate: none (the search with the same filters gave no usable price)"
    cur = _text(quote.get("currency")) if quote.get("currency") else "(currency not given)"
    return (f"estimate: upfront {_fmt(up)} {cur}, monthly {_fmt(month)} {cur} per number "
            "(from a search with the same filters)")  # fmt: skip


def _estimate_total(targets: list[Priced], costs: Costs) -> str:
    """The total of an order whose numbers Telnyx picks: count x the searched price, labelled ESTIMATE."""
    upfront: dict[str, Decimal] = {}
    monthly: dict[str, Decimal] = {}
    for target in targets:
        quote = costs.get(target.key) or {}
        up, month, cur = _money(quote.get("upfront_cost")), _money(quote.get("monthly_cost")), quote.get("currency")
        if up is None or month is None or not cur:
            return "Cost: not quoted by Telnyx (Telnyx picks the numbers; no search gave an estimate for every group)."
        upfront[cur] = upfront.get(cur, Decimal(0)) + up * target.size
        monthly[cur] = monthly.get(cur, Decimal(0)) + month * target.size
    if not targets:
        return "Cost: not quoted by Telnyx (Telnyx picks the numbers)."
    up_text = " + ".join(f"{_fmt(v)} {c}" for c, v in sorted(upfront.items()))
    month_text = " + ".join(f"{_fmt(v)} {c}" for c, v in sorted(monthly.items()))
    return (f"ESTIMATED total: upfront {up_text}, then {month_text} per month (an estimate: Telnyx picks the "
            "numbers, and their price may differ).")  # fmt: skip


# --- the one table of per-purchase knowledge ------------------------------------------------------


@dataclass(frozen=True)
class Priced:
    """One thing to price: a number, a block (start + size), or an estimate from a search's filters for
    `size` numbers that Telnyx will pick."""

    key: str  # the key of its quote in Costs
    kind: Literal["number", "block", "estimate"]
    number: str = ""
    size: int = 1
    filters: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Action:
    """What the server knows about one guarded tool: how many numbers it buys (the numbers cap), what to
    price (the summary and the cost cap) and how to say it to the human."""

    lines: Callable[[Mapping[str, Any], Costs], list[str]]
    count: Callable[[Mapping[str, Any]], int] = lambda args: 0
    prices: Callable[[Mapping[str, Any]], list[Priced]] = lambda args: []


BLOCK_KEY = "block"


def _order_count(args: Mapping[str, Any]) -> int:
    numbers = args.get("phone_numbers")
    return len(numbers) if isinstance(numbers, list) else 0


def _order_prices(args: Mapping[str, Any]) -> list[Priced]:
    return [Priced(n, "number", number=n) for n in _numbers(args) if n.startswith("+")]


def _block_prices(args: Mapping[str, Any]) -> list[Priced]:
    start = args.get("starting_number")
    return [Priced(BLOCK_KEY, "block", number=start, size=_int(args.get("range")))] if isinstance(start, str) else []


def _group_count(args: Mapping[str, Any]) -> int:
    groups = args.get("ordering_groups")
    if not isinstance(groups, list):
        return 0
    return sum(_int(g.get("count_requested")) for g in groups if isinstance(g, Mapping))


def _group_prices(args: Mapping[str, Any]) -> list[Priced]:
    """One estimate per ordering group, from a number search with the group's own filters."""
    groups = args.get("ordering_groups")
    out = []
    for index, g in enumerate(groups if isinstance(groups, list) else []):
        if not isinstance(g, Mapping):
            continue
        filters: dict[str, Any] = {
            "country_code": g.get("country_iso"),
            "phone_number_type": g.get("phone_number_type"),
        }
        for key in ("locality", "administrative_area", "national_destination_code", "features"):
            if g.get(key) not in (None, "", []):
                filters[key] = g[key]
        clean = {k: v for k, v in filters.items() if v not in (None, "")}
        out.append(Priced(f"group:{index}", "estimate", size=_int(g.get("count_requested")), filters=clean))
    return out


def _advanced_prices(args: Mapping[str, Any]) -> list[Priced]:
    filters: dict[str, Any] = {
        "country_code": args.get("country_code"),
        "phone_number_type": args.get("phone_number_type"),
    }
    if args.get("area_code") not in (None, ""):
        filters["national_destination_code"] = args["area_code"]
    if args.get("features"):
        filters["features"] = args["features"]
    clean = {k: v for k, v in filters.items() if v not in (None, "")}
    return [Priced("advanced", "estimate", size=_int(args.get("quantity", 1)), filters=clean)]


ACTIONS: dict[str, Action] = {
    "number_orders_create": Action(_number_order, _order_count, _order_prices),
    "number_block_orders_create": Action(_block_order, lambda args: _int(args.get("range")), _block_prices),
    "inexplicit_number_orders_create": Action(_inexplicit_order, _group_count, _group_prices),
    "advanced_orders_create": Action(_advanced_order, lambda args: _int(args.get("quantity", 1)), _advanced_prices),
    "phone_number_blocks_jobs_delete_block": Action(_delete_block),
    "sub_number_orders_cancel": Action(_cancel_sub_order),
}


def _generic(tool: str, args: Mapping[str, Any], kind: str) -> list[str]:
    pairs = ", ".join(_pair(k, v) for k, v in args.items())
    lines = [f"Run {tool} with: {pairs}" if pairs else f"Run {tool} with no arguments."]
    if kind == "purchase":
        lines.append("This may buy phone numbers or services.")
    else:
        lines.append("This cannot be undone.")
    return lines


def _mark(lines: list[str], *, kind: str, sandbox: bool) -> str:
    """Put the real-or-simulated marker on the first line, where nobody can miss it."""
    first = lines[0]
    if sandbox:
        changed = "bought" if kind == "purchase" else "changed"
        first = f"SANDBOX (simulated, nothing is {changed}): {first}"
    elif kind == "purchase":
        first = first[:-1] + " (real charges):" if first.endswith(":") else first + " (real charges)"
    return "\n".join([first, *lines[1:]])


# --- helpers ------------------------------------------------------------------------------------


def _numbers(args: Mapping[str, Any]) -> list[str]:
    entries = args.get("phone_numbers")
    if not isinstance(entries, list):
        return []
    return [_text(e.get("phone_number")) if isinstance(e, Mapping) else _text(e) for e in entries]


def _money(value: Any) -> Decimal | None:
    if isinstance(value, bool) or value is None:
        return None
    try:
        amount = Decimal(str(value))
    except InvalidOperation:
        return None
    return amount if amount.is_finite() else None


def _fmt(amount: Decimal) -> str:
    exponent = amount.as_tuple().exponent
    if isinstance(exponent, int) and exponent >= -2:
        return str(amount.quantize(Decimal("0.01")))
    return str(amount)


def _cost_text(quote: Mapping[str, str] | None) -> str:
    if not quote:
        return _NOT_QUOTED
    where = " ".join(str(quote[k]) for k in ("country_code", "phone_number_type") if quote.get(k))
    upfront, monthly = _money(quote.get("upfront_cost")), _money(quote.get("monthly_cost"))
    currency = quote.get("currency") or "(currency not given)"
    if upfront is None or monthly is None:
        return f"{where}  {_NOT_QUOTED}".strip()
    text = f"{where}  upfront {_fmt(upfront)} {currency}, monthly {_fmt(monthly)} {currency}".strip()
    return text + (f"  ({_text(quote['features'].split(','))})" if quote.get("features") else "")


def _totals(numbers: list[str], costs: Costs) -> tuple[dict[str, Decimal], dict[str, Decimal]] | None:
    """Upfront and monthly sums per currency, or None if any number lacks a usable quote."""
    if not numbers:
        return None
    upfront: dict[str, Decimal] = {}
    monthly: dict[str, Decimal] = {}
    for number in numbers:
        quote = costs.get(number)
        if not quote:
            return None
        up, month, currency = (
            _money(quote.get("upfront_cost")),
            _money(quote.get("monthly_cost")),
            quote.get("currency"),
        )
        if up is None or month is None or not currency:
            return None
        upfront[currency] = upfront.get(currency, Decimal(0)) + up
        monthly[currency] = monthly.get(currency, Decimal(0)) + month
    return upfront, monthly


def _total_line(numbers: list[str], costs: Costs) -> str:
    totals = _totals(numbers, costs)
    if totals is None:
        missing = sum(1 for n in numbers if _totals([n], costs) is None)
        return f"Total: not known (Telnyx quoted no cost for {missing} of {_plural(len(numbers), 'number')})."
    upfront, monthly = totals
    up = " + ".join(f"{_fmt(v)} {c}" for c, v in sorted(upfront.items()))
    month = " + ".join(f"{_fmt(v)} {c}" for c, v in sorted(monthly.items()))
    return f"Total: upfront {up}, then {month} per month."


def _settings(args: Mapping[str, Any], keys: tuple[str, ...]) -> str:
    labels = {
        "connection_id": "Connection",
        "messaging_profile_id": "Messaging profile",
        "billing_group_id": "Billing group",
    }
    return " · ".join(f"{labels[k]}: {_text(args.get(k))}" for k in keys)


def _others(args: Mapping[str, Any], known: set[str]) -> list[str]:
    """Arguments the template does not name are still shown: the human approves all of it."""
    rest = [_pair(k, v) for k, v in args.items() if k not in known]
    return [f"Other settings: {', '.join(rest)}"] if rest else []


def _block_end(start: Any, count: int) -> str | None:
    if not isinstance(start, str) or not start.startswith("+") or not start[1:].isdigit() or count < 1:
        return None
    end = str(int(start[1:]) + count - 1)
    if len(end) != len(start) - 1:
        return None
    return "+" + end


def _plural(count: int, noun: str) -> str:
    return f"{count} {noun}" if count == 1 else f"{count} {noun}s"


def _int(value: Any) -> int:
    """Counts as sent; anything non-integral counts 0 (schema validation rejects it first)."""
    if isinstance(value, bool):
        return 0
    if isinstance(value, int):
        return value
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, str) and value.strip().isdigit():
        return int(value.strip())
    return 0


def _text(value: Any) -> str:
    if value is None or value == "":
        return _NONE
    if isinstance(value, str):
        return value
    if isinstance(value, list):
        return ", ".join(_text(v) for v in value)
    return json.dumps(value, sort_keys=True, default=str)


def _pair(key: str, value: Any) -> str:
    shown = value if isinstance(value, str) else json.dumps(value, sort_keys=True, default=str)
    return f"{key}={shown}"
