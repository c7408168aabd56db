"""Inexplicit number orders: criteria instead of numbers, filled at once from the search."""

from __future__ import annotations

from typing import Any

from .core import Call, Sandbox
from .errors import invalid, missing
from .orders import create_order
from .query import body_object, opt_bool, opt_str, paginate, req_list
from .search import pattern_digits, search_numbers
from .state import Doc

Reply = tuple[int, Any]


def _group_filter(group: dict[str, Any], i: int) -> tuple[dict[str, Any], int]:
    """Validate one ordering group and turn it into a search filter plus the requested count."""
    ptr = f"/ordering_groups/{i}"
    for key in ("country_iso", "count_requested", "phone_number_type"):
        if group.get(key) in (None, ""):
            raise missing(f"{ptr}/{key}")
    if group["country_iso"] not in ("US", "CA"):
        raise invalid(f"{ptr}/country_iso", "'country_iso' must be US or CA.")
    raw = group["count_requested"]
    try:
        count = int(raw) if not isinstance(raw, bool) else -1
    except (TypeError, ValueError):
        count = -1
    if count < 1 or count > 1000:
        raise invalid(f"{ptr}/count_requested", "'count_requested' must be a whole number from 1 to 1000.")
    strategy = group.get("strategy", "always")
    if strategy not in ("always", "never"):
        raise invalid(f"{ptr}/strategy", "'strategy' must be 'always' or 'never'.")
    for key in ("quickship", "exclude_held_numbers"):
        opt_bool(group, key, f"{ptr}/{key}")
    features = group.get("features")
    if features is not None and not (isinstance(features, list) and all(isinstance(f, str) for f in features)):
        raise invalid(f"{ptr}/features", "'features' must be an array of strings.")
    pattern = group.get("phone_number") or {}
    if not isinstance(pattern, dict):
        raise invalid(f"{ptr}/phone_number", "'phone_number' must be an object.")
    for key, value in pattern.items():
        if not isinstance(value, str) or pattern_digits(value, "1") is None:
            raise invalid(f"{ptr}/phone_number/{key}", f"'{key}' must be a digit pattern such as \"312\".")
    flt: dict[str, Any] = {
        "country_code": group["country_iso"],
        "phone_number_type": group["phone_number_type"],
        "limit": str(count),
        "phone_number": {k: v for k, v in pattern.items() if k in ("starts_with", "contains", "ends_with")},
    }
    for key in ("administrative_area", "national_destination_code", "locality"):
        if group.get(key) is not None:
            flt[key] = opt_str(group, key, f"{ptr}/{key}")
    if group.get("quickship") is not None:
        flt["quickship"] = "true" if group["quickship"] else "false"
    if features:
        flt["features"] = features
    return flt, count


def create_inexplicit(sb: Sandbox, call: Call) -> Reply:
    body = body_object(call.body)
    groups = req_list(body, "ordering_groups")
    attrs = {
        k: opt_str(body, k) for k in ("customer_reference", "connection_id", "messaging_profile_id", "billing_group_id")
    }
    plans = []
    for i, group in enumerate(groups):
        if not isinstance(group, dict):
            raise invalid(f"/ordering_groups/{i}", "Each ordering group must be an object.")
        plans.append((group, *_group_filter(group, i)))
    now = sb.now_iso()
    rendered = []
    for group, flt, count in plans:
        found, _ = search_numbers(sb, flt, default_limit=count, account=call.account)
        strategy = group.get("strategy", "always")
        out: dict[str, Any] = {
            "country_iso": group["country_iso"],
            "phone_number_type": group["phone_number_type"],
            "count_requested": count,
            "strategy": strategy,
            "created_at": now,
            "updated_at": now,
            "orders": [],
        }
        for key in ("administrative_area", "national_destination_code", "quickship", "exclude_held_numbers"):
            if group.get(key) is not None:
                out[key] = group[key]
        for key, value in (group.get("phone_number") or {}).items():
            out[f"phone_number[{key}]"] = value
        if found and (len(found) >= count or strategy == "always"):
            items = [{"phone_number": c.e164} for c in found]
            order = create_order(sb, items, [c.range for c in found], attrs, call.account)
            out["orders"] = [{"number_order_id": order["id"], "sub_number_order_ids": order["sub_order_ids"]}]
            out["count_allocated"] = len(found)
            out["status"] = "success" if len(found) >= count else "partial_success"
            if len(found) < count:
                out["error_reason"] = f"Only {len(found)} of {count} matching numbers were available."
        else:
            out["count_allocated"] = 0
            out["status"] = "failed"
            out["error_reason"] = "Not enough numbers match these criteria."
        rendered.append(out)
    doc: Doc = {
        "id": sb.new_id(),
        "account": call.account,
        "created_at": now,
        "updated_at": now,
        "ordering_groups": rendered,
        **{k: v for k, v in attrs.items() if v is not None},
    }
    sb.store.put("inexplicit_orders", doc["id"], doc)
    return 200, {"data": _render(doc)}


def _render(doc: Doc) -> dict[str, Any]:
    return {k: v for k, v in doc.items() if k != "account"}


def list_inexplicit(sb: Sandbox, call: Call) -> Reply:
    page, meta = paginate([_render(d) for d in sb.mine("inexplicit_orders", call.account)], call.query, flat=True)
    return 200, {"data": page, "meta": meta}


def retrieve_inexplicit(sb: Sandbox, call: Call) -> Reply:
    doc = sb.get_or_404("inexplicit_orders", call.params["id"], "inexplicit number order", call.account)
    return 200, {"data": _render(doc)}
