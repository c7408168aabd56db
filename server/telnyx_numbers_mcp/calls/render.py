"""Compact text for the model: one line per number, block, order or record, the pagination line, and a
hint where work is slow (pending orders, CSRs, reports, block jobs, reservations that expire).

The model reads this text; programs read structuredContent, which keeps Telnyx's full JSON. Every number,
price, status and id of an answer stays in the text; what goes is JSON syntax, repeated keys and
timestamps nobody acts on. Unknown shapes fall back to a generic `key=value` line, so nothing is lost
when Telnyx adds fields or record types.

Answers are parsed JSON, so objects are checked as `dict` (an ABC `Mapping` check costs several times more,
and a search answer makes hundreds of them per call).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from telnyx_numbers_mcp.calls.costs import feature_names, searched_type
from telnyx_numbers_mcp.offer import Offer

Item = Mapping[str, Any]
_SKIP = {"record_type", "updated_at"}  # noise for the model: every item has them


def render(
    tool: str,
    args: Mapping[str, Any],
    answer: Mapping[str, Any],
    *,
    offer: Offer,
    notes: list[str] | None = None,
    requirements: Mapping[str, str] | None = None,
) -> str:
    """The whole text of one successful JSON answer of `tool` called with `args`; hints name only what
    `offer` offers. `notes`: lines the server adds (e.g. a country's requirements); `requirements`: words for
    the requirement ids an order waits for."""
    data = answer.get("data") if "data" in answer else {k: v for k, v in answer.items() if k != "meta"}
    items = data if isinstance(data, list) else [data] if data not in (None, {}) else []
    lines: list[str] = []
    ctx = _shared(args, items)
    if ctx.header:
        lines.append(f"Every row: {ctx.header} (rows show only what differs)")
    for item in items:
        lines.extend(_item(ctx, item) if isinstance(item, dict) else [_value(item)])
    if not items:
        lines.append("No results." if isinstance(data, list) else "Done (Telnyx returned no data).")
    meta = answer.get("meta")
    if isinstance(meta, dict):
        lines.append(_pagination(meta, len(items)))
    lines.extend(notes or [])
    lines.extend(hints(tool, [i for i in items if isinstance(i, dict)], offer, requirements or {}))
    return "\n".join(lines)


# --- one item ---------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Facts:
    """A search row's columns, read once per answer: the header and the row both use them."""

    region: str
    type: str
    price: str
    features: tuple[str, ...]


@dataclass(frozen=True)
class Ctx:
    """What a row needs beyond itself: the call's arguments and the features every row shares."""

    args: Mapping[str, Any]
    common: frozenset[str] = frozenset()  # features every row has
    same: frozenset[str] = frozenset()  # columns (region, type, price) equal on every row
    header: str = ""  # what every row shares, said once
    facts: Mapping[int, Facts] = field(default_factory=dict)  # id(row) -> its columns, for search rows


def _item(ctx: Ctx, item: Item) -> list[str]:
    kind = item.get("record_type")
    renderer = _RENDERERS.get(str(kind)) if kind else None
    return renderer(ctx, item) if renderer else [_generic(item)]


def _facts(ctx: Ctx, item: Item) -> Facts:
    found = ctx.facts.get(id(item))
    if found is not None:
        return found
    return Facts(_region(item), _kind(ctx, item), _row_price(item), feature_names(item))


_SEARCHED = ("available_phone_number", "available_phone_number_block")


def _shared(args: Mapping[str, Any], items: list[Any]) -> Ctx:
    """What every row of a search answer has in common (place, type, price, features), said once in a
    header instead of on every row."""
    rows = [i for i in items if isinstance(i, dict) and i.get("record_type") in _SEARCHED]
    if len(rows) < 2 or len(rows) != len(items):
        return Ctx(args)
    plain = Ctx(args)
    facts = {id(r): _facts(plain, r) for r in rows}
    every = list(facts.values())
    same, header = set(), []
    for name in ("region", "type", "price"):
        values = {getattr(f, name) for f in every}
        if len(values) == 1 and "" not in values:
            same.add(name)
            header.append(values.pop())
    shared = set(every[0].features).intersection(*(f.features for f in every[1:]))
    common = [f for f in every[0].features if f in shared]
    if common:
        header.append("features " + ",".join(common))
    return Ctx(args, frozenset(common), frozenset(same), " · ".join(header), facts)


def _kind(ctx: Ctx, item: Item) -> str:
    """A number's type: as searched for, else from the numbering plan; a block's is not shown."""
    if item.get("record_type") != "available_phone_number":
        return ""
    return searched_type(ctx.args, str(item.get("phone_number"))) or "type unknown"


def _row_price(item: Item) -> str:
    price = _price(item.get("cost_information"))
    return f"whole block: {price}" if item.get("record_type") == "available_phone_number_block" else price


def _unless(ctx: Ctx, column: str, value: str) -> str:
    return "" if column in ctx.same else value


def _number(ctx: Ctx, item: Item) -> list[str]:
    facts = _facts(ctx, item)
    flags = [f for f in ("reservable", "quickship", "best_effort") if item.get(f)]
    parts = [
        str(item.get("phone_number")),
        _unless(ctx, "region", facts.region),
        _unless(ctx, "type", facts.type),
        _features(ctx, facts.features),
        _unless(ctx, "price", facts.price),
    ]
    if item.get("vanity_format"):
        parts.append(f"vanity {item['vanity_format']}")
    parts.append(", ".join(flags).replace("best_effort", "best-effort match") or "not reservable")
    return [" · ".join(p for p in parts if p)]


def _block(ctx: Ctx, item: Item) -> list[str]:
    facts = _facts(ctx, item)
    start, size = str(item.get("phone_number")), item.get("range")
    span = f"{start} +{size}" if size is not None else start
    if isinstance(size, int) and start[1:].isdigit() and size > 0:
        span += f" (to +{int(start[1:]) + size - 1:0{len(start) - 1}d})"
    parts = [span, _unless(ctx, "region", facts.region), _features(ctx, facts.features),
             _unless(ctx, "price", facts.price)]  # fmt: skip
    return [" · ".join(p for p in parts if p)]


def _reservation(ctx: Ctx, item: Item) -> list[str]:
    head = f"reservation {item.get('id')} · {item.get('status')}"
    rest = _generic(item, skip={"id", "status", "phone_numbers", "created_at"})
    lines = [f"{head} · {rest}" if rest else head]
    for n in item.get("phone_numbers") or []:
        if isinstance(n, dict):
            lines.append(
                f"  {n.get('phone_number')} · {n.get('status')} · expires {n.get('expired_at')} · id {n.get('id')}"
            )
    return lines


def _order(ctx: Ctx, item: Item) -> list[str]:
    count = item.get("phone_numbers_count")
    parts = [f"order {item.get('id')}", str(item.get("status")), f"{count} number(s)" if count is not None else ""]
    parts.append("requirements met" if item.get("requirements_met") else "requirements NOT met")
    if item.get("customer_reference"):
        parts.append(f"ref {item['customer_reference']}")
    known = {"id", "status", "phone_numbers_count", "requirements_met", "customer_reference", "phone_numbers",
             "sub_number_orders_ids", "created_at"}  # fmt: skip
    rest = _generic(item, skip=known)
    lines = [" · ".join(p for p in [*parts, rest] if p)]
    for n in item.get("phone_numbers") or []:
        if isinstance(n, dict):
            lines.append("  " + _generic(n, skip={"phone_number", "id", "country_iso_alpha2"}, lead=_lead(n)))
    subs = item.get("sub_number_orders_ids")
    if subs:
        lines.append("  sub-orders: " + ", ".join(map(str, subs)))
    return lines


def _lead(n: Item) -> str:
    return f"{n.get('phone_number')} (id {n.get('id')})" if n.get("id") else str(n.get("phone_number"))


def _order_number(ctx: Ctx, item: Item) -> list[str]:
    return [_generic(item, skip={"phone_number", "id", "country_iso_alpha2"}, lead=_lead(item))]


def _sub_order(ctx: Ctx, item: Item) -> list[str]:
    lead = f"sub-order {item.get('id')} · {item.get('status')}"
    return [_generic(item, skip={"id", "status", "created_at"}, lead=lead)]


_RENDERERS: dict[str, Callable[[Ctx, Item], list[str]]] = {
    "available_phone_number": _number,
    "available_phone_number_block": _block,
    "number_reservation": _reservation,
    "number_order": _order,
    "number_order_phone_number": _order_number,
    "sub_number_order": _sub_order,
}


# --- pieces -----------------------------------------------------------------------------------------


def _region(item: Item) -> str:
    regions = item.get("region_information")
    if not isinstance(regions, list):
        return ""
    return ", ".join(str(r.get("region_name")) for r in regions if isinstance(r, dict) and r.get("region_name"))


def _features(ctx: Ctx, names: tuple[str, ...]) -> str:
    if not ctx.common:
        return ",".join(names)
    extra = [n for n in names if n not in ctx.common]
    return "+" + ",".join(extra) if extra else ""


def _price(info: Any) -> str:
    if not isinstance(info, dict) or not info:
        return "price not given"
    cur = info.get("currency") or ""
    return f"{info.get('upfront_cost')} upfront, {info.get('monthly_cost')}/mo {cur}".strip()


def _value(value: Any) -> str:
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, list):
        return ",".join(_value(v) for v in value) if all(not isinstance(v, dict) for v in value) else str(value)
    return str(value)


def _generic(item: Item, *, skip: set[str] | frozenset[str] = frozenset(), lead: str = "") -> str:
    """Every non-empty field as `key=value` (nested objects as `key.sub=value`), in Telnyx's order."""
    parts = [lead] if lead else []

    def walk(obj: Item, prefix: str) -> None:
        for key, value in obj.items():
            if key in _SKIP or (not prefix and key in skip) or value in (None, "", [], {}):
                continue
            if isinstance(value, dict) and not prefix:
                inner = _generic(value)
                if inner:
                    parts.append(f"{key}: ({inner.replace(' · ', ', ')})")
            elif isinstance(value, dict):
                walk(value, f"{prefix}{key}.")
            elif isinstance(value, list) and any(isinstance(v, dict) for v in value):
                for i, v in enumerate(value):
                    if isinstance(v, dict):
                        walk(v, f"{prefix}{key}[{i}].")
                    else:
                        parts.append(f"{prefix}{key}[{i}]={_value(v)}")
            else:
                parts.append(f"{prefix}{key}={_value(value)}")

    walk(item, "")
    return " · ".join(parts)


def _pagination(meta: Mapping[str, Any], shown: int) -> str:
    total, page, pages = meta.get("total_results"), meta.get("page_number"), meta.get("total_pages")
    line = f"{total if total is not None else shown} result(s)"
    if page is not None:
        line += f", page {page} of {pages if pages is not None else '?'}"
        if isinstance(pages, int) and isinstance(page, int) and page < pages:
            line += f" (more: page_number={page + 1})"
    rest = [f"{k}={_value(v)}" for k, v in meta.items() if k not in ("total_results", "page_number", "total_pages")]
    return line + (f" · {' · '.join(rest)}" if rest else "")


# --- hints for slow work ----------------------------------------------------------------------------


@dataclass(frozen=True)
class FollowUp:
    """Where a slow job's state is read again, and roughly when it is worth looking."""

    tool: str
    id_arg: str
    waiting: frozenset[str]
    when: str


_PENDING = frozenset({"pending"})
FOLLOW_UPS: dict[str, FollowUp] = {
    "number_orders": FollowUp("number_orders_retrieve", "number_order_id", _PENDING, "in about a minute"),
    "number_order_phone_numbers": FollowUp(
        "number_order_phone_numbers_retrieve", "number_order_phone_number_id", _PENDING, "in about a minute"
    ),
    "sub_number_orders": FollowUp(
        "sub_number_orders_retrieve", "sub_number_order_id", frozenset({"pending"}), "in about a minute"
    ),
    "number_block_orders": FollowUp(
        "number_block_orders_retrieve", "number_block_order_id", frozenset({"pending"}), "in about a minute"
    ),
    "phone_number_blocks_jobs": FollowUp(
        "phone_number_blocks_jobs_retrieve", "id", frozenset({"pending", "in_progress"}), "in about a minute"
    ),
    "inexplicit_number_orders": FollowUp(
        "inexplicit_number_orders_retrieve", "id", frozenset({"pending", "processing"}), "in about a minute"
    ),
    "advanced_orders": FollowUp(
        "advanced_orders_retrieve", "order_id", frozenset({"pending", "processing"}),
        "in a few hours (Telnyx staff fulfil it)",
    ),
    "customer_service_records": FollowUp(
        "customer_service_records_retrieve", "customer_service_record_id", frozenset({"pending"}),
        "in a few minutes (the carrier answers it)",
    ),
    "requirement_groups": FollowUp(
        "requirement_groups_retrieve", "id", frozenset({"pending-approval"}), "later (Telnyx reviews it)"
    ),
    "sub_number_orders_report": FollowUp(
        "sub_number_orders_report_retrieve", "report_id", frozenset({"pending"}), "in about 30 seconds"
    ),
}  # fmt: skip


def _family(tool: str) -> FollowUp | None:
    """The longest FOLLOW_UPS key the tool name starts with (sub_number_orders_report before sub_number_orders)."""
    best = max((k for k in FOLLOW_UPS if tool.startswith(k + "_")), key=len, default=None)
    return FOLLOW_UPS[best] if best else None


def _statuses(item: Item) -> set[str]:
    status = item.get("status")
    return {str(s) for s in status} if isinstance(status, list) else {str(status)} if status is not None else set()


def utc(stamp: str) -> str:
    """A Telnyx timestamp as `2026-12-02 16:31:00 UTC` (as given when it is not ISO 8601)."""
    try:
        moment = datetime.fromisoformat(stamp.replace("Z", "+00:00"))
    except ValueError:
        return stamp
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S UTC")


def _sentence(parts: list[str | None]) -> str:
    """Steps joined as a sentence: "a", "a or b", "a, b or c" (steps not offered are left out)."""
    steps = [p for p in parts if p]
    return steps[0] if len(steps) == 1 else ", ".join(steps[:-1]) + " or " + steps[-1] if steps else ""


def hints(tool: str, items: Sequence[Item], offer: Offer, requirements: Mapping[str, str]) -> list[str]:
    """What to do next about slow work in this answer: when to look again and with which offered tool."""
    out: list[str] = []
    follow = _family(tool)
    if follow is not None:
        # an order that waits for its regulatory requirements waits for the user, not for the clock
        waiting = [
            str(i.get("id"))
            for i in items
            if _statuses(i) & follow.waiting and i.get("id") and i.get("requirements_met") is not False
        ]
        if waiting:
            shown = ", ".join(waiting[:5]) + (f" and {len(waiting) - 5} more" if len(waiting) > 5 else "")
            why = offer.missing(follow.tool)
            how = f" with {follow.tool} ({follow.id_arg}=...)" if offer.has(follow.tool) else f" ({why})" if why else ""
            out.append(f"Hint: still in progress ({shown}); check again {follow.when}{how}.")
        if any(i.get("requirements_met") is False for i in items):
            out.extend(_requirement_hints(items, offer, requirements))
        if follow.tool == "sub_number_orders_report_retrieve" and any("success" in _statuses(i) for i in items):
            download = offer.step("sub_number_orders_report_download", "download it")
            if download:
                out.append(f"Hint: the report is ready; {download} (report_id=...).")
    expiries = [
        str(n.get("expired_at"))
        for i in items
        if i.get("record_type") == "number_reservation"
        for n in i.get("phone_numbers") or []
        if isinstance(n, dict) and n.get("expired_at")
    ]
    if expiries:
        then = _sentence([offer.step("number_reservations_actions_extend", "extend them"),
                          offer.step("number_orders_create", "order them")])  # fmt: skip
        held = f"Hint: reserved numbers are held until {utc(min(expiries))}"
        out.append(f"{held}; {then} before then." if then else f"{held}.")
    return out


def _requirement_ids(items: Sequence[Item]) -> list[str]:
    ids: list[str] = []
    for item in items:
        numbers = item.get("phone_numbers")
        for n in [item, *(numbers if isinstance(numbers, list) else [])]:
            reqs = n.get("regulatory_requirements") if isinstance(n, dict) else None
            for r in reqs if isinstance(reqs, list) else []:
                if isinstance(r, dict) and r.get("requirement_id"):
                    ids.append(str(r["requirement_id"]))
    return list(dict.fromkeys(ids))


def _requirement_hints(items: Sequence[Item], offer: Offer, requirements: Mapping[str, str]) -> list[str]:
    """What an order waiting for its regulatory requirements waits for, and how to provide it."""
    out = []
    known = [requirements[i] for i in _requirement_ids(items) if i in requirements]
    if known:
        out.append("Hint: the order waits for the user to provide: " + "; ".join(known) + ".")
    answer = " or ".join(offer.offered(["sub_number_orders_update", "number_order_phone_numbers_update"]))
    how = _sentence([
        f"answer them with {answer} (requirement_id and field_value)" if answer else None,
        offer.step("sub_number_orders_update_group", "attach an approved requirement group"),
    ])  # fmt: skip
    out.append("Hint: regulatory requirements are missing" + (f"; {how}." if how else "."))
    return out
