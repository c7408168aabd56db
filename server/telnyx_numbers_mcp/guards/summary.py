"""Plain-words summaries of purchases, destructive calls and billed settings changes, for a human to approve.

The summary is what the human actually reads before money is spent, so it names every number,
every cost Telnyx quoted, the totals, and every setting that will be sent; nothing is hidden. What a call
acts on is named as Telnyx knows it (a look-up before asking: the number, its type and price, an address's
lines), or the summary says plainly that the look-up failed.
The model writes the arguments (and, through earlier calls, some of what Telnyx answers), so every value is
shown inert: on one line after one of our labels, control, format and separator characters escaped, length
bounded; the real total is the last line.
"""

from __future__ import annotations

import json
import re
import unicodedata
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from typing import Any, Literal

from telnyx_numbers_mcp.errors import ArgumentError, ArgumentProblem, shown
from telnyx_numbers_mcp.guards.settings import SettingsGuard, place, value_at

__all__ = [
    "ACTIONS",
    "Action",
    "Costs",
    "Facts",
    "Found",
    "Priced",
    "count_numbers",
    "count_problems",
    "describe_action",
    "inert",
    "parse_money",
    "plain_count",
    "price_targets",
    "total_cost",
]

Costs = Mapping[str, Mapping[str, str]]  # Priced.key -> upfront_cost, monthly_cost, currency, ... (estimate="yes")

_NONE = "(none)"
VALUE_LIMIT = 120  # characters of one argument shown; the approval still covers the whole value
_MAX_MARKS = 3  # combining marks in a row (more would let "Zalgo" text paint over neighbouring lines)
_LABEL = re.compile(r"(?i)(total|cost)( ?)([:\uff1a\ufe55\ufe13])")
_ESCAPES = {"\n": "\\n", "\r": "\\r", "\t": "\\t", "\\": "\\\\"}
_NOT_QUOTED = "cost: not quoted by Telnyx"
_KINDS = ("purchase", "destructive", "billed", "settings")


@dataclass(frozen=True)
class Found:
    """What a read sent before asking learned (calls/lookups.py): Telnyx's record, or why there is none."""

    record: Mapping[str, Any] | None = None
    error: str = ""  # "Telnyx answered HTTP 404 Not Found ...", "no answer within 10 s"


# "subject": the resource the call acts on; "price": what a number like it costs (a release); "current": the
# settings it has now (where calls go when a call only switches forwarding on)
Facts = Mapping[str, Found]


def describe_action(
    tool: str,
    args: Mapping[str, Any],
    *,
    kind: str,
    costs: Costs | None = None,
    facts: Facts | None = None,
    guard: SettingsGuard | None = None,
    sandbox: bool = False,
) -> str:
    """Multi-line text saying what ``tool`` will do with ``args``; ``kind`` is purchase, destructive, billed or
    settings (a settings change that turns on what ``guard`` lists as billed)."""
    if kind not in _KINDS:
        raise ValueError(f"kind must be one of {_KINDS}, not {kind!r}")
    costs, facts = costs or {}, facts or {}
    action = ACTIONS.get(tool)
    if kind == "settings":
        lines = _settings_change(args, guard or SettingsGuard(()), facts)
    elif action:
        lines = action.lines(args, costs, facts)
    else:
        lines = _generic(tool, args, kind)
    return _mark(lines, kind=kind, sandbox=sandbox)


# A count the cap uses must be read the way Telnyx reads it: a JSON integer, or (count_requested is a
# string in the spec) ASCII digits only. "+100", "100.0", "1e2", "1_000", "0x64", "-5", 0 and 100.0 are
# refused rather than guessed at, so the number the human approves is the number Telnyx buys.
_PLAIN_COUNT = re.compile(r"\A[1-9][0-9]{0,17}\Z")
_COUNT_EXPECTED = (
    "expected a plain positive whole number such as 5 (ASCII digits only: no sign, decimal point, exponent, "
    "separators or hex), as Telnyx reads a count"
)


def plain_count(value: Any) -> int | None:
    """The count ``value`` stands for if it is a positive JSON integer or a string of ASCII digits; else None."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value if value >= 1 else None
    if isinstance(value, str) and _PLAIN_COUNT.match(value):
        return int(value)
    return None


def _count_fields(tool: str, args: Mapping[str, Any]) -> list[tuple[str, Any]]:
    """(field path, value) of every count in ``args`` that says how many numbers ``tool`` buys."""
    action = ACTIONS.get(tool)
    return action.count_fields(args) if action else []


def count_problems(tool: str, args: Mapping[str, Any]) -> list[ArgumentProblem]:
    """One problem per count that is not a plain positive integer (called with the schema checks)."""
    problems = []
    for path, value in _count_fields(tool, args):
        if plain_count(value) is None:
            what = shown(value) if isinstance(value, str) else f"{type(value).__name__} {shown(value)}"
            problems.append(ArgumentProblem(path, f"is {what}; {_COUNT_EXPECTED}"))
    return problems


def count_numbers(tool: str, args: Mapping[str, Any]) -> int:
    """How many numbers the call would buy; 0 for tools that buy none. Used by the numbers cap.
    Raises ArgumentError for a count that is not a plain positive integer (never counts it as 0)."""
    action = ACTIONS.get(tool)
    if action is None:
        return 0
    problems = count_problems(tool, args)
    if problems:
        raise ArgumentError(tool, problems)
    return action.listed(args) + sum(plain_count(value) or 0 for _, value in _count_fields(tool, args))


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


def _number_order(args: Mapping[str, Any], costs: Costs, facts: Facts) -> list[str]:
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
    return [*lines, *_order_footer(args, "phone_numbers"), _total_line(numbers, costs)]


def _order_footer(args: Mapping[str, Any], numbers_key: str) -> list[str]:
    """Where the numbers go, the reference to find the order by, and every other argument sent."""
    settings = ("connection_id", "messaging_profile_id", "billing_group_id")
    return [
        _settings(args, settings),
        f"Customer reference: {_text(args.get('customer_reference'))}",
        *_others(args, {numbers_key, *settings, "customer_reference"}),
    ]


def _block_order(args: Mapping[str, Any], costs: Costs, facts: Facts) -> list[str]:
    count = count_numbers("number_block_orders_create", args)
    start = args.get("starting_number")
    lines = [f"BUY a block of {_plural(count, 'phone number')} from Telnyx:"]
    last = _block_end(start, count)
    span = f"{_text(start)} to {last}" if last else f"starting at {_text(start)}"
    quote = costs.get(BLOCK_KEY)
    if quote is not None:
        lines.append(f"  {span}  {_cost_text(quote)} for the whole block")
    else:
        lines.append(f"  {span}  {_NOT_QUOTED}")
    lines.append(_settings(args, ("connection_id", "messaging_profile_id")))
    lines.append(f"Customer reference: {_text(args.get('customer_reference'))}")
    known = {"starting_number", "range", "connection_id", "messaging_profile_id", "customer_reference"}
    lines.extend(_others(args, known))
    if _totals([BLOCK_KEY], costs) is None:
        lines.append("Total: not known (Telnyx quoted no price for this block).")
    else:
        lines.append(_total_line([BLOCK_KEY], costs)[:-1] + ", for the whole block.")
    return lines


def _inexplicit_order(args: Mapping[str, Any], costs: Costs, facts: Facts) -> list[str]:
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
    total = _estimate_total(price_targets("inexplicit_number_orders_create", args), costs)
    return [*lines, *_order_footer(args, "ordering_groups"), total]


def _advanced_order(args: Mapping[str, Any], costs: Costs, facts: Facts) -> list[str]:
    count = count_numbers("advanced_orders_create", args)
    lines = [f"BUY {_plural(count, 'phone number')} from Telnyx by advanced order:"]
    what = f"  {count} x {_text(args.get('country_code'))} {_text(args.get('phone_number_type'))}"
    if args.get("area_code") not in (None, ""):
        what += f", area code {_text(args['area_code'])}"
    if args.get("features"):
        what += f", with {_text(args['features'])}"
    lines.append(what)
    lines.append(f"    {_estimate_text(costs.get('advanced'))}")
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
    lines.append("Telnyx staff fulfil advanced orders and choose the numbers.")
    lines.append(_estimate_total(price_targets("advanced_orders_create", args), costs))
    return lines


def _named(
    noun: str, arg: str, head: str, details: Callable[[Mapping[str, Any]], list[str]]
) -> Callable[[Mapping[str, Any], Costs, Facts], list[str]]:
    """The text of a call that acts on the resource named by `arg`: `head` (with the id), then what the look-up
    found about it (or that it could not be looked up), then any other argument."""

    def lines(args: Mapping[str, Any], costs: Costs, facts: Facts) -> list[str]:
        ident = args.get(arg)
        found = [head.format(_text(ident))]
        record = _subject(facts, found, noun, ident)
        return [*found, *(details(record) if record is not None else []), *_others(args, {arg})]

    return lines


def _release_number(args: Mapping[str, Any], costs: Costs, facts: Facts) -> list[str]:
    ident = args.get("id")
    after = "from the account (it stops working and may not come back; cannot be undone)."
    lines: list[str] = []
    number = _subject(facts, lines, "phone number", ident)
    if number is None:
        return [f"RELEASE phone number {_text(ident)} {after}", *lines, *_others(args, {"id"})]
    kind = _kind_text(number.get("country_iso_alpha2"), number.get("phone_number_type"))
    head = f"RELEASE phone number {_text(number.get('phone_number'))} ({kind}, id {_text(ident)}) {after}"
    return [head, f"  Monthly cost: {_monthly(facts.get('price'), kind)}", *_others(args, {"id"})]


# --- what a look-up found, in words --------------------------------------------------------------


def _block_facts(block: Mapping[str, Any]) -> list[str]:
    start, size = block.get("starting_number"), plain_count(block.get("range")) or 0
    last = _block_end(start, size)
    span = f"{_text(start)} to {last}" if last else f"starting at {_text(start)}"
    return [_facts_line(span, _plural(size, "number") if size else None, _labelled("status", block.get("status")))]


def _sub_order_facts(order: Mapping[str, Any]) -> list[str]:
    count = order.get("phone_numbers_count")
    what = " ".join(_inert(str(order[k]), 20) for k in ("country_code", "phone_number_type") if order.get(k))
    numbers = [n.get("phone_number") for n in order.get("phone_numbers") or [] if isinstance(n, Mapping)]
    shown_numbers = f": {_text([n for n in numbers if isinstance(n, str)])}" if numbers else ""
    noun = f"{what} number".strip()
    amount = _plural(count, noun) if isinstance(count, int) and not isinstance(count, bool) else noun + "s"
    return [_facts_line(f"{amount}{shown_numbers}", _labelled("status", order.get("status")),
                        _labelled("requirements met", order.get("requirements_met")))]  # fmt: skip


def _address_lines(address: Mapping[str, Any]) -> list[str]:
    name = " ".join(_parts(address, "first_name", "last_name"))
    lines = (
        [*_parts(address, "business_name"), *([name] if name else [])],
        _parts(address, "street_address", "extended_address"),
        [*_parts(address, "locality", "administrative_area", "postal_code"), *_parts(address, "country_code")],
    )
    return ["  " + ", ".join(parts) for parts in lines if parts]


def _group_facts(group: Mapping[str, Any]) -> list[str]:
    values = group.get("regulatory_requirements")
    kind = _kind_text(group.get("country_code"), group.get("phone_number_type"))
    return [_facts_line(
        f"for {kind} numbers" + (f" ({_text(group['action'])})" if group.get("action") else ""),
        _labelled("status", group.get("status")),
        _plural(len(values), "value") if isinstance(values, list) else None,
        _labelled("customer reference", group.get("customer_reference")),
    )]  # fmt: skip


def _subject(facts: Facts, lines: list[str], noun: str, ident: Any) -> Mapping[str, Any] | None:
    """The looked-up record of what the call acts on; when the look-up failed, a line that says so."""
    found = facts.get("subject")
    if found is None:
        return None  # no look-up was made (no HTTP client): the id alone, as before
    if found.record is None:
        lines.append(f"  Could not look up {noun} {_text(ident)}: {_inert(found.error or 'no record in the answer')}")
    return found.record


def _facts_line(*parts: str | None) -> str:
    return "  " + " · ".join(p for p in parts if p)


def _labelled(label: str, value: Any) -> str | None:
    if value is None or value == "":
        return None
    if isinstance(value, bool):
        value = "yes" if value else "no"
    return f"{label} {_text(value)}"


def _parts(record: Mapping[str, Any], *keys: str) -> list[str]:
    return [_text(record[k]) for k in keys if isinstance(record.get(k), str | int) and str(record[k]).strip()]


def _kind_text(country: Any, number_type: Any) -> str:
    """ "GB mobile" from Telnyx's answer (made inert: the answer is shown too)."""
    words = [_inert(str(v), 20) for v in (country, number_type) if isinstance(v, str) and v]
    return " ".join(words) or "type not given"


def _monthly(found: Found | None, kind: str) -> str:
    """What the number costs per month: Telnyx's API has no price for an owned number, so it is the price of a
    number like it (same country and type), from the server's searches or one made for the purpose."""
    why = "Telnyx's API does not report what an owned number costs"
    if found is None:
        return f"not known ({why})"
    if found.error:
        return f"not known (could not look up the price of a {kind} number: {_inert(found.error)})"
    quote = found.record or {}
    month, currency = parse_money(quote.get("monthly_cost")), quote.get("currency")
    if month is None or not currency:
        return f"not known ({why}, and no search found a {kind} number to compare)"
    return f"{_fmt(month)} {_inert(str(currency), 20)} (Telnyx's price for a {kind} number; {why})"


# --- a settings change that turns on what Telnyx bills ---------------------------------------------


def _settings_change(args: Mapping[str, Any], guard: SettingsGuard, facts: Facts) -> list[str]:
    ident = args.get("id")
    found: list[str] = []
    number = _subject(facts, found, "phone number", ident)
    if number is not None:
        kind = _kind_text(number.get("country_iso_alpha2"), number.get("phone_number_type"))
        name = f"phone number {_text(number.get('phone_number'))} ({kind}, id {_text(ident)})"
    else:
        name = f"phone number {_text(ident)}"
    lines = [f"CHANGE the settings of {name}, turning on what Telnyx bills:", *found]
    home = _home(number)
    for charge in guard.charges(args):
        lines.append(f"  Starts costing: {_inert(charge.billed.name)}: {_inert(charge.billed.price, 400)}")
        if charge.billed.forwards:
            lines.append("  " + _destination(args, charge.billed.forwards, charge.value, home, facts.get("current")))
    lines.append(f"All settings sent: {', '.join(_pair(k, v) for k, v in args.items())}")
    lines.append("Telnyx bills these from the moment the change is made, until they are turned off again.")
    return lines


def _home(number: Mapping[str, Any] | None) -> str | None:
    """The ISO country of the number whose calls are forwarded: Telnyx's, else read from the number itself."""
    if number is None:
        return None
    country = number.get("country_iso_alpha2")
    if isinstance(country, str) and len(country) == 2 and country.isalpha():
        return country.upper()
    e164 = number.get("phone_number")
    return place(e164, None).region or None if isinstance(e164, str) else None


def _destination(args: Mapping[str, Any], forwards: str, to: Any, home: str | None, current: Found | None) -> str:
    """Where forwarded calls will go, and whether that is outside the number's own country."""
    _, how = value_at(args, forwards.rsplit(".", 1)[0] + ".forwarding_type") if "." in forwards else (False, None)
    when = f" ({_text(how)})" if isinstance(how, str) and how else ""
    if not isinstance(to, str):  # switched on: the destination already set on the number
        settings = current.record if current is not None else None
        _, to = value_at(settings or {}, forwards)
        if not isinstance(to, str) or not to:
            if current is not None and current.error:
                return f"Calls will go{when} to the destination already set on it (could not look up its settings: " \
                    f"{_inert(current.error)})"  # fmt: skip
            return f"Calls will go{when} to the destination already set on it (none is set yet)"
        return f"Calls will go{when} to {_text(to)}, the destination already set on it: {_where(to, home)}"
    return f"Calls will go{when} to {_text(to)}: {_where(to, home)}"


def _where(to: str, home: str | None) -> str:
    spot = place(to, home)
    if spot.outside is True:
        own = f"this number's country ({home})" if home else "this number's country"
        return f"{spot.label}, OUTSIDE {own}; each forwarded minute is billed at Telnyx's rate for that destination"
    if spot.outside is False:
        return f"{spot.label}, this number's own country"
    return f"{spot.label}; whether that is outside this number's country is not known (it could not be looked up)"


def _lookup(args: Mapping[str, Any], costs: Costs, facts: Facts) -> list[str]:
    return [
        f"LOOK UP {_text(args.get('phone_number'))} ({_text(args.get('type') or 'carrier')}).",
        "Telnyx bills each lookup, and this server's lookup budget (--lookup-budget) is used up.",
    ]


def _estimate_text(quote: Mapping[str, str] | None) -> str:
    if not quote:
        return "estimate: none (no search with the same filters returned a price)"
    up, month = parse_money(quote.get("upfront_cost")), parse_money(quote.get("monthly_cost"))
    if up is None or month is None:
        return "estimate: none (the search with the same filters gave no usable price)"
    cur = _inert(str(quote.get("currency") or "(currency not given)"), 20)
    return (f"estimate: upfront {_fmt(up)} {cur}, monthly {_fmt(month)} {cur} per number "
            "(from a search with the same filters)")  # fmt: skip


def _estimate_total(targets: list[Priced], costs: Costs) -> str:
    """The total of an order whose numbers Telnyx picks: count x the searched price, labelled ESTIMATED."""
    if not targets:
        return "Cost: not quoted by Telnyx (Telnyx picks the numbers)."
    upfront: dict[str, Decimal] = {}
    monthly: dict[str, Decimal] = {}
    for target in targets:
        quote = costs.get(target.key) or {}
        up, month, cur = (
            parse_money(quote.get("upfront_cost")),
            parse_money(quote.get("monthly_cost")),
            quote.get("currency"),
        )
        if up is None or month is None or not cur:
            return "Cost: not quoted by Telnyx (Telnyx picks the numbers; no search gave an estimate for every group)."
        upfront[cur] = upfront.get(cur, Decimal(0)) + up * target.size
        monthly[cur] = monthly.get(cur, Decimal(0)) + month * target.size
    up_text = " + ".join(f"{_fmt(v)} {_inert(c, 20)}" for c, v in sorted(upfront.items()))
    month_text = " + ".join(f"{_fmt(v)} {_inert(c, 20)}" for c, v in sorted(monthly.items()))
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


def _none(args: Mapping[str, Any]) -> list[Any]:
    return []


def _zero(args: Mapping[str, Any]) -> int:
    return 0


@dataclass(frozen=True)
class Action:
    """What the server knows about one guarded tool: how many numbers it buys (listed ones plus the counts
    in count_fields; the numbers cap), what to price (the summary and the cost cap) and how to say it."""

    lines: Callable[[Mapping[str, Any], Costs, Facts], list[str]]
    listed: Callable[[Mapping[str, Any]], int] = _zero
    count_fields: Callable[[Mapping[str, Any]], list[tuple[str, Any]]] = _none
    prices: Callable[[Mapping[str, Any]], list[Priced]] = _none


BLOCK_KEY = "block"


def _listed(args: Mapping[str, Any]) -> int:
    numbers = args.get("phone_numbers")
    return len(numbers) if isinstance(numbers, list) else 0


def _order_prices(args: Mapping[str, Any]) -> list[Priced]:
    return [Priced(n, "number", number=n) for n in _numbers(args) if n.startswith("+")]


def _block_prices(args: Mapping[str, Any]) -> list[Priced]:
    start, size = args.get("starting_number"), plain_count(args.get("range")) or 0
    return [Priced(BLOCK_KEY, "block", number=start, size=size)] if isinstance(start, str) else []


def _groups(args: Mapping[str, Any]) -> list[tuple[int, Mapping[str, Any]]]:
    groups = args.get("ordering_groups")
    return [(i, g) for i, g in enumerate(groups if isinstance(groups, list) else []) if isinstance(g, Mapping)]


def _group_counts(args: Mapping[str, Any]) -> list[tuple[str, Any]]:
    return [(f"ordering_groups[{i}].count_requested", g.get("count_requested")) for i, g in _groups(args)]


def _search_filters(country: Any, kind: Any, extra: Mapping[str, Any]) -> dict[str, Any]:
    filters = {"country_code": country, "phone_number_type": kind, **extra}
    return {k: v for k, v in filters.items() if v not in (None, "", [])}


def _group_prices(args: Mapping[str, Any]) -> list[Priced]:
    """One estimate per ordering group, from a number search with the group's own filters."""
    keys = ("locality", "administrative_area", "national_destination_code", "features")
    return [
        Priced(
            f"group:{i}",
            "estimate",
            size=plain_count(g.get("count_requested")) or 0,
            filters=_search_filters(g.get("country_iso"), g.get("phone_number_type"), {k: g.get(k) for k in keys}),
        )
        for i, g in _groups(args)
    ]


def _advanced_prices(args: Mapping[str, Any]) -> list[Priced]:
    extra = {"national_destination_code": args.get("area_code"), "features": args.get("features")}
    filters = _search_filters(args.get("country_code"), args.get("phone_number_type"), extra)
    return [Priced("advanced", "estimate", size=plain_count(args.get("quantity", 1)) or 0, filters=filters)]


_BLOCK_HEAD = "DELETE all numbers in phone number block {} (cannot be undone)."
ACTIONS: dict[str, Action] = {
    "number_orders_create": Action(_number_order, listed=_listed, prices=_order_prices),
    "number_block_orders_create": Action(
        _block_order, count_fields=lambda args: [("range", args.get("range"))], prices=_block_prices
    ),
    "inexplicit_number_orders_create": Action(_inexplicit_order, count_fields=_group_counts, prices=_group_prices),
    "advanced_orders_create": Action(
        _advanced_order, count_fields=lambda args: [("quantity", args.get("quantity", 1))], prices=_advanced_prices
    ),
    "phone_number_blocks_jobs_delete_block": Action(
        _named("phone number block", "phone_number_block_id", _BLOCK_HEAD, _block_facts)
    ),
    "sub_number_orders_cancel": Action(
        _named("sub number order", "sub_number_order_id", "CANCEL sub number order {}.", _sub_order_facts)
    ),
    "phone_numbers_delete": Action(_release_number),
    "addresses_delete": Action(_named("address", "id", "DELETE address {} (cannot be undone).", _address_lines)),
    "requirement_groups_delete": Action(
        _named("requirement group", "id", "DELETE requirement group {} (cannot be undone).", _group_facts)
    ),
    "number_lookup_retrieve": Action(_lookup),
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
        changed = {"purchase": "bought", "billed": "billed", "settings": "changed or billed"}.get(kind, "changed")
        first = f"SANDBOX (simulated, nothing is {changed}): {first}"
    elif kind in ("purchase", "settings"):
        first = first[:-1] + " (real charges):" if first.endswith(":") else first + " (real charges)"
    return "\n".join([first, *lines[1:]])


# --- helpers ------------------------------------------------------------------------------------


def _numbers(args: Mapping[str, Any]) -> list[str]:
    entries = args.get("phone_numbers")
    if not isinstance(entries, list):
        return []
    return [_text(e.get("phone_number")) if isinstance(e, Mapping) else _text(e) for e in entries]


def parse_money(value: Any) -> Decimal | None:
    """An amount as Telnyx sends it ("1.00", 1.5) as a Decimal; None when it is no finite, sane number."""
    if isinstance(value, bool) or value is None:
        return None
    try:
        amount = Decimal(str(value))
    except InvalidOperation:
        return None
    return amount if amount.is_finite() and abs(amount) < 10**12 else None


def _fmt(amount: Decimal) -> str:
    exponent = amount.as_tuple().exponent
    if isinstance(exponent, int) and exponent >= -2:
        return str(amount.quantize(Decimal("0.01")))
    return str(amount)


def _cost_text(quote: Mapping[str, str] | None) -> str:
    if not quote:
        return _NOT_QUOTED
    # Telnyx's answer is shown too, so it is made inert like the arguments
    where = " ".join(_inert(str(quote[k]), 20) for k in ("country_code", "phone_number_type") if quote.get(k))
    upfront, monthly = parse_money(quote.get("upfront_cost")), parse_money(quote.get("monthly_cost"))
    currency = _inert(str(quote.get("currency") or "(currency not given)"), 20)
    if upfront is None or monthly is None:
        return f"{where}  {_NOT_QUOTED}".strip()
    text = f"{where}  upfront {_fmt(upfront)} {currency}, monthly {_fmt(monthly)} {currency}".strip()
    return text + (f"  ({_inert(quote['features'].replace(',', ', '))})" if quote.get("features") else "")


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
            parse_money(quote.get("upfront_cost")),
            parse_money(quote.get("monthly_cost")),
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
    up = " + ".join(f"{_fmt(v)} {_inert(c, 20)}" for c, v in sorted(upfront.items()))
    month = " + ".join(f"{_fmt(v)} {_inert(c, 20)}" for c, v in sorted(monthly.items()))
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


def _text(value: Any) -> str:
    if value is None or value == "":
        return _NONE
    if isinstance(value, str) and not value.strip():  # blanks shown quoted: a human sees they are there
        return _inert(repr(value))
    if isinstance(value, str):
        return _inert(value)
    if isinstance(value, list) and all(isinstance(v, str) for v in value):
        return _inert(", ".join(value))
    return _inert(json.dumps(value, sort_keys=True, default=str))


def _pair(key: str, value: Any) -> str:
    shown = value if isinstance(value, str) else json.dumps(value, sort_keys=True, default=str)
    return f"{_inert(str(key), 40)}={_inert(shown)}"


def _inert(text: str, limit: int = VALUE_LIMIT) -> str:
    """``text`` as one inert line: nothing in it can start a line, move a terminal's cursor, reorder what
    is shown (bidi overrides), hide characters or pad text onto a line of its own; at most ``limit``
    characters of it are shown, then its length."""
    out: list[str] = []
    marks = 0
    previous = ""
    for ch in text[:limit]:
        category = unicodedata.category(ch)
        if category in ("Mn", "Me"):
            marks += 1
        else:
            marks = 0
        if ch == " " and previous != " ":
            out.append(ch)
        elif category[0] in "CZ" or marks > _MAX_MARKS or ch == "\\":
            # controls (C0, C1, ESC), format (bidi, zero-width), surrogates, private use, unassigned,
            # line/paragraph separators, spaces other than one plain space; backslash, so escapes stay readable
            out.append(_escape(ch))
        else:
            out.append(ch)
        previous = ch
    # our own total and cost labels cannot appear inside a value, even where a narrow window wraps it
    shown = _LABEL.sub(lambda m: f"{m.group(1)}{m.group(2)}{_escape(m.group(3))}", "".join(out))
    return shown if len(text) <= limit else f"{shown}… ({len(text)} chars)"


def inert(text: str, limit: int = VALUE_LIMIT) -> str:
    """What an agent wrote, made inert for a summary a human approves (a mandate's reason, spend/mandates.py)."""
    return _inert(text, limit)


def _escape(ch: str) -> str:
    if ch in _ESCAPES:
        return _ESCAPES[ch]
    code = ord(ch)
    if code < 0x100:
        return f"\\x{code:02x}"
    return f"\\u{code:04x}" if code < 0x10000 else f"\\U{code:08x}"
