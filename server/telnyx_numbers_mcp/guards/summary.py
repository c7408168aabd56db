"""Plain-words summaries of purchases and destructive calls, for a human to approve.

The summary is what the human actually reads before money is spent, so it names every number,
every cost Telnyx quoted, the totals, and every setting that will be sent; nothing is hidden.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from decimal import Decimal, InvalidOperation
from typing import Any

__all__ = ["count_numbers", "describe_action", "total_cost"]

Costs = Mapping[str, Mapping[str, str]]

_NONE = "(none)"
_NOT_QUOTED = "cost: not quoted by Telnyx"
_KINDS = ("purchase", "destructive", "billed")


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
    if tool == "number_orders_create":
        lines = _number_order(args, costs)
    elif tool == "number_block_orders_create":
        lines = _block_order(args, costs)
    elif tool == "inexplicit_number_orders_create":
        lines = _inexplicit_order(args)
    elif tool == "advanced_orders_create":
        lines = _advanced_order(args)
    elif tool == "phone_number_blocks_jobs_delete_block":
        lines = [
            f"DELETE all numbers in phone number block {_text(args.get('phone_number_block_id'))} (cannot be undone).",
            *_others(args, {"phone_number_block_id"}),
        ]
    elif tool == "phone_numbers_delete":
        lines = [
            f"RELEASE phone number {_text(args.get('id'))} from the account (it stops working and may not come "
            "back; cannot be undone).",
            *_others(args, {"id"}),
        ]
    elif tool == "number_lookup_retrieve":
        lines = [
            f"LOOK UP {_text(args.get('phone_number'))} ({_text(args.get('type') or 'carrier')}).",
            "Telnyx bills each lookup, and this server's lookup budget (--lookup-budget) is used up.",
        ]
    elif tool == "sub_number_orders_cancel":
        lines = [
            f"CANCEL sub number order {_text(args.get('sub_number_order_id'))}.",
            *_others(args, {"sub_number_order_id"}),
        ]
    else:
        lines = _generic(tool, args, kind)
    return _mark(lines, kind=kind, sandbox=sandbox)


def count_numbers(tool: str, args: Mapping[str, Any]) -> int:
    """How many numbers the call would buy; 0 for tools that buy none. Used by the numbers cap."""
    if tool == "number_orders_create":
        numbers = args.get("phone_numbers")
        return len(numbers) if isinstance(numbers, list) else 0
    if tool == "number_block_orders_create":
        return _int(args.get("range"))
    if tool == "inexplicit_number_orders_create":
        groups = args.get("ordering_groups")
        if not isinstance(groups, list):
            return 0
        return sum(_int(g.get("count_requested")) for g in groups if isinstance(g, Mapping))
    if tool == "advanced_orders_create":
        return _int(args.get("quantity", 1))
    return 0


def total_cost(args: Mapping[str, Any], costs: Costs | None) -> float | None:
    """Upfront total in USD for ``args["phone_numbers"]`` (or a block's ``starting_number``); None unless
    every number has a USD quote.

    None is also returned when there are no numbers to price, so a cost cap can fail closed.
    """
    # a block order is priced by the quote for its starting number (Telnyx quotes the block as a whole)
    start = args.get("starting_number")
    numbers = _numbers(args) or ([start] if isinstance(start, str) and "phone_numbers" not in args else [])
    totals = _totals(numbers, costs or {})
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
    quote = costs.get(start) if isinstance(start, str) else None
    if quote is not None:
        lines.append(f"  {span}  {_cost_text(quote)} (as quoted by Telnyx for this block)")
    else:
        lines.append(f"  {span}  {_NOT_QUOTED}")
    lines.append(_settings(args, ("connection_id", "messaging_profile_id")))
    lines.append(f"Customer reference: {_text(args.get('customer_reference'))}")
    known = {"starting_number", "range", "connection_id", "messaging_profile_id", "customer_reference"}
    lines.extend(_others(args, known))
    return lines


def _inexplicit_order(args: Mapping[str, Any]) -> list[str]:
    count = count_numbers("inexplicit_number_orders_create", args)
    lines = [f"BUY {_plural(count, 'phone number')} chosen by Telnyx:"]
    groups = args.get("ordering_groups")
    for group in groups if isinstance(groups, list) else []:
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
    lines.append("Cost: not quoted by Telnyx (Telnyx picks the numbers).")
    return [*lines, *_order_footer(args, "ordering_groups")]


def _advanced_order(args: Mapping[str, Any]) -> list[str]:
    count = count_numbers("advanced_orders_create", args)
    lines = [f"BUY {_plural(count, 'phone number')} from Telnyx by advanced order:"]
    what = f"  {count} x {_text(args.get('country_code'))} {_text(args.get('phone_number_type'))}"
    if args.get("area_code") not in (None, ""):
        what += f", area code {_text(args['area_code'])}"
    if args.get("features"):
        what += f", with {_text(args['features'])}"
    lines.append(what)
    lines.append("Telnyx staff fulfil advanced orders and choose the numbers. Cost: not quoted by Telnyx.")
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
        changed = {"purchase": "bought", "billed": "billed"}.get(kind, "changed")
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
    return f"{where}  upfront {_fmt(upfront)} {currency}, monthly {_fmt(monthly)} {currency}".strip()


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
