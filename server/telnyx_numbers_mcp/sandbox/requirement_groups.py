"""Requirement groups: the values (an address id, a document id, a text) that satisfy a country's and number
type's regulatory requirements, reviewed once and then attached to orders.

Lifecycle: `unapproved` when created or changed; `pending-approval` once submitted (only when every
requirement has a valid value); `approved` GROUP_REVIEW_SECONDS of sandbox time later.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from . import regulatory
from .clock import iso, parse_iso
from .core import Call, Sandbox
from .errors import ApiError, invalid, missing
from .query import as_str, body_object, opt_str, req_str, sub
from .state import Doc

Reply = tuple[int, Any]

GROUP_REVIEW_SECONDS = 30.0
ACTIONS = ("ordering", "porting")
NUMBER_TYPES = ("local", "toll_free", "mobile", "national", "shared_cost")


def approved_at(group: Doc) -> str | None:
    """When the review ends (or ended); None if the group was never submitted."""
    if not group.get("submitted_at"):
        return None
    return iso(parse_iso(group["submitted_at"]) + timedelta(seconds=GROUP_REVIEW_SECONDS))


def status(sb: Sandbox, group: Doc) -> str:
    at = approved_at(group)
    if at is None:
        return "unapproved"
    return "approved" if sb.now() >= parse_iso(at) else "pending-approval"


def render(sb: Sandbox, group: Doc) -> dict[str, Any]:
    state = status(sb, group)
    updated = group["updated_at"]
    at = approved_at(group)
    if state == "approved" and at is not None:
        updated = max(updated, at)
    return {
        "id": group["id"],
        "record_type": "requirement_group",
        "action": group["action"],
        "country_code": group["country_code"],
        "phone_number_type": group["phone_number_type"],
        "customer_reference": group.get("customer_reference") or "",
        "status": state,
        "regulatory_requirements": [
            {
                "requirement_id": v["requirement_id"],
                "field_type": v["field_type"],
                "field_value": v["field_value"],
                "status": state,
                "created_at": v["created_at"],
                "updated_at": v["updated_at"],
                "expires_at": iso(parse_iso(v["created_at"]) + timedelta(days=365)),
            }
            for v in group["values"]
        ],
        "created_at": group["created_at"],
        "updated_at": updated,
    }


def _check_value(sb: Sandbox, group: Doc, req: regulatory.Requirement, value: Any, ptr: str) -> str:
    """A value fit for the requirement: an address id must name an address in the group's country."""
    if not isinstance(value, str) or not value.strip():
        raise invalid(ptr, "'field_value' must be a non-empty string.")
    if req.field_type == "address":
        address = sb.find("addresses", value, group["account"])
        if address is None:
            raise invalid(ptr, f"Address '{value}' was not found; create it with POST /addresses first.")
        if address["country_code"] != group["country_code"]:
            raise invalid(
                ptr,
                f"'{req.name}' needs an address in {group['country_code']}; address '{value}' is in "
                f"{address['country_code']}.",
            )
    elif req.field_type == "textual" and len(value.strip()) < 2:
        raise invalid(ptr, f"'{req.name}' must be at least 2 characters.")
    return value


def _set_values(sb: Sandbox, group: Doc, items: Any) -> None:
    """Validate every item first, then merge them into the group's values (by requirement id)."""
    if not isinstance(items, list):
        raise invalid("/regulatory_requirements", "'regulatory_requirements' must be an array.")
    applicable = {r.id: r for r in regulatory.groupable(group["country_code"], group["phone_number_type"])}
    updates: dict[str, str] = {}
    for i, item in enumerate(items):
        ptr = f"/regulatory_requirements/{i}"
        if not isinstance(item, dict):
            raise invalid(ptr, "Each requirement must be an object.")
        rid = item.get("requirement_id")
        if rid is None:
            raise missing(f"{ptr}/requirement_id")
        if rid not in applicable:
            raise invalid(
                f"{ptr}/requirement_id",
                f"Requirement '{rid}' does not apply to {group['country_code']} {group['phone_number_type']} numbers; "
                "GET /regulatory_requirements lists the ones that do.",
            )
        if item.get("field_value") is None:
            raise missing(f"{ptr}/field_value")
        updates[rid] = _check_value(sb, group, applicable[rid], item["field_value"], f"{ptr}/field_value")
    now = sb.now_iso()
    by_id = {v["requirement_id"]: v for v in group["values"]}
    for rid, value in updates.items():
        if rid in by_id:
            by_id[rid].update(field_value=value, updated_at=now)
        else:
            group["values"].append(
                {
                    "requirement_id": rid,
                    "field_type": applicable[rid].field_type,
                    "field_value": value,
                    "created_at": now,
                    "updated_at": now,
                }
            )


def missing_requirements(
    group: Doc, needed: list[regulatory.Requirement] | None = None
) -> list[regulatory.Requirement]:
    """What the group lacks of `needed` (by default what its country and number type need)."""
    have = {v["requirement_id"] for v in group["values"] if v.get("field_value")}
    if needed is None:
        needed = regulatory.requirements_for(group["country_code"], group["phone_number_type"])
    return [r for r in needed if r.id not in have]


def fit_problem(
    sb: Sandbox, group: Doc, country: str, number_type: str, needed: list[regulatory.Requirement] | None = None
) -> str | None:
    """Why this group cannot satisfy a number of `country` and `number_type` that needs `needed` (by default
    what that country and type need); None when it can."""
    label = f"{country} {number_type}"
    if group["action"] != "ordering":
        return f"requirement group '{group['id']}' is for {group['action']}, not ordering"
    if (group["country_code"], group["phone_number_type"]) != (country, number_type):
        return (
            f"requirement group '{group['id']}' is for {group['country_code']} {group['phone_number_type']} numbers, "
            f"not {label}"
        )
    lacking = missing_requirements(group, needed)
    if lacking:
        return f"requirement group '{group['id']}' lacks: {', '.join(r.name for r in lacking)}"
    if status(sb, group) == "unapproved":
        return f"requirement group '{group['id']}' has not been submitted for approval"
    return None


def find(sb: Sandbox, group_id: Any, pointer: str, account: str) -> Doc:
    """A group of the account named in a request body: unknown ids are a 422 on that field."""
    if not isinstance(group_id, str) or not group_id:
        raise invalid(pointer, "'requirement_group_id' must be a requirement group id.")
    group = sb.find("requirement_groups", group_id, account)
    if group is None:
        raise invalid(
            pointer, f"Requirement group '{group_id}' was not found.", code="10005", title="Resource not found"
        )
    return group


# ---- handlers -------------------------------------------------------------------------------------


def create(sb: Sandbox, call: Call) -> Reply:
    body = body_object(call.body)
    action = req_str(body, "action")
    if action not in ACTIONS:
        raise invalid("/action", f"'action' must be one of {', '.join(ACTIONS)}.")
    country = req_str(body, "country_code").upper()
    if len(country) != 2 or not country.isascii() or not country.isalpha():
        raise invalid("/country_code", f"'{country}' is not an ISO 3166-1 alpha-2 country code.")
    number_type = req_str(body, "phone_number_type")
    if number_type not in NUMBER_TYPES:
        raise invalid("/phone_number_type", f"'phone_number_type' must be one of {', '.join(NUMBER_TYPES)}.")
    now = sb.now_iso()
    group: Doc = {
        "id": sb.new_id(),
        "account": call.account,
        "action": action,
        "country_code": country,
        "phone_number_type": number_type,
        "customer_reference": opt_str(body, "customer_reference"),
        "values": [],
        "submitted_at": None,
        "created_at": now,
        "updated_at": now,
    }
    if body.get("regulatory_requirements") is not None:
        _set_values(sb, group, body["regulatory_requirements"])
    sb.store.put("requirement_groups", group["id"], group)
    return 200, render(sb, group)


def list_(sb: Sandbox, call: Call) -> Reply:
    flt = sub(call.query, "filter")
    wanted = {k: as_str(flt.get(k)) for k in ("country_code", "phone_number_type", "action", "customer_reference")}
    state = as_str(flt.get("status"))
    out = []
    for group in sb.mine("requirement_groups", call.account):
        data = render(sb, group)
        if any(v is not None and str(data.get(k)).lower() != v.lower() for k, v in wanted.items()):
            continue
        if state and data["status"] != state:
            continue
        out.append(data)
    return 200, out


def retrieve(sb: Sandbox, call: Call) -> Reply:
    return 200, render(sb, sb.get_or_404("requirement_groups", call.params["id"], "requirement group", call.account))


def update(sb: Sandbox, call: Call) -> Reply:
    """Changed values need a new review: the group goes back to `unapproved`."""
    group = sb.get_or_404("requirement_groups", call.params["id"], "requirement group", call.account)
    body = body_object(call.body)
    ref = opt_str(body, "customer_reference")
    if body.get("regulatory_requirements") is not None:
        _set_values(sb, group, body["regulatory_requirements"])
        group["submitted_at"] = None
    if ref is not None:
        group["customer_reference"] = ref
    group["updated_at"] = sb.now_iso()
    sb.store.put("requirement_groups", group["id"], group)
    return 200, render(sb, group)


def delete(sb: Sandbox, call: Call) -> Reply:
    group = sb.get_or_404("requirement_groups", call.params["id"], "requirement group", call.account)
    in_use = [x for x in sb.mine("order_numbers", call.account) if x.get("requirement_group_id") == group["id"]]
    if any(not x.get("cancelled") and not x.get("released") for x in in_use):
        raise ApiError(
            422,
            [
                {
                    "code": "10015",
                    "title": "Invalid value",
                    "detail": f"Requirement group '{group['id']}' is attached to ordered numbers.",
                    "source": {"parameter": "id"},
                }
            ],
        )
    data = render(sb, group)
    sb.store.delete("requirement_groups", group["id"])
    return 200, data


def submit_for_approval(sb: Sandbox, call: Call) -> Reply:
    group = sb.get_or_404("requirement_groups", call.params["id"], "requirement group", call.account)
    lacking = missing_requirements(group)
    if lacking:
        first = lacking[0]
        raise ApiError(
            422,
            [
                {
                    "code": "10004",
                    "title": "Missing required parameter",
                    "detail": f"The group lacks {', '.join(r.name for r in lacking)}: add "
                    f"regulatory_requirements with requirement_id {first.id} ({first.field_type}) first.",
                    "source": {"pointer": "/regulatory_requirements"},
                }
            ],
        )
    if group.get("submitted_at") is None:
        group["submitted_at"] = group["updated_at"] = sb.now_iso()
        sb.store.put("requirement_groups", group["id"], group)
    return 200, render(sb, group)
