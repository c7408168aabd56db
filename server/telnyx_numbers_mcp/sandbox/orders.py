"""Number orders, their sub orders (one per country and number type) and ordered phone numbers.

Statuses are derived on read from the sandbox clock: a number becomes `success` ORDER_PROCESSING after its
requirements are met (immediately at creation for countries without document requirements); the slow test
number takes an hour, the taken one ends in `failure` instead (outcomes.py). Every record is the account's
that ordered it.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from . import numbers as n
from . import outcomes, pool, regulatory, requirement_groups
from .clock import iso, parse_iso
from .comments import add_admin_comment
from .core import ORDER_PROCESSING, Call, Sandbox, user_id
from .errors import ApiError, invalid, missing
from .query import (
    as_bool,
    as_int,
    as_str,
    body_object,
    created_window,
    opt_str,
    paginate,
    req_list,
    sub,
)
from .state import Doc

Reply = tuple[int, Any]


# ---- status derivation ------------------------------------------------------------------------------


def _processing_seconds(num: Doc) -> float:
    """How long an order of this number takes once its requirements are met (the slow test number: an hour)."""
    return outcomes.SLOW_SECONDS if num["phone_number"] == outcomes.SLOW else ORDER_PROCESSING.total_seconds()


def number_status(sb: Sandbox, num: Doc) -> str:
    """pending until processed; then success, or failure for the taken test number (and when cancelled)."""
    if num.get("cancelled"):
        return "failure"
    met_at = num.get("met_at")
    if met_at is None or sb.elapsed(met_at) < _processing_seconds(num):
        return "pending"
    return "failure" if num["phone_number"] == outcomes.TAKEN else "success"


def _requirements_status(sb: Sandbox, num: Doc) -> str:
    if num.get("cancelled"):
        return "cancelled"
    if num.get("met_at") is None:
        return "requirement-info-pending"
    if num["requirements"] and number_status(sb, num) == "pending":
        return "requirement-info-under-review"
    return "approved"


def _number_updated(sb: Sandbox, num: Doc) -> str:
    """Last change time, including the lazy transition out of pending."""
    stamp = parse_iso(num["updated_at"])
    if num.get("met_at") and not num.get("cancelled") and number_status(sb, num) != "pending":
        stamp = max(stamp, parse_iso(num["met_at"]) + timedelta(seconds=_processing_seconds(num)))
    return iso(stamp)


def _aggregate(statuses: list[str]) -> str:
    if any(s == "pending" for s in statuses):
        return "pending"
    if statuses and all(s == "failure" for s in statuses):
        return "failure"
    return "success"


def processed_at(num: Doc) -> str:
    """When the number's order completed (for a number whose status is success)."""
    return iso(parse_iso(num["met_at"]) + timedelta(seconds=_processing_seconds(num)))


def _numbers(sb: Sandbox, ids: list[str]) -> list[Doc]:
    return [doc for i in ids if (doc := sb.store.get("order_numbers", i)) is not None]


# ---- rendering ------------------------------------------------------------------------------------


def _requirements(num: Doc, with_value: bool = True) -> list[dict[str, Any]]:
    out = []
    for req in num["requirements"]:
        item: dict[str, Any] = {
            "requirement_id": req["requirement_id"],
            "field_type": req["field_type"],
            "record_type": "phone_number_regulatory_requirement",
        }
        if with_value and req.get("field_value") is not None:
            item["field_value"] = req["field_value"]
        out.append(item)
    return out


def render_order_number(sb: Sandbox, num: Doc) -> dict[str, Any]:
    """A number as GET /number_order_phone_numbers shows it."""
    return {
        "id": num["id"],
        "record_type": "number_order_phone_number",
        "phone_number": num["phone_number"],
        "phone_number_type": num["phone_number_type"],
        "country_code": num["country_code"],
        "locality": num.get("locality", ""),
        "bundle_id": num.get("bundle_id"),
        "deadline": iso(parse_iso(num["created_at"]) + timedelta(days=30)),
        "is_block_number": False,
        "order_request_id": num["order_id"],
        "sub_number_order_id": num["sub_order_id"],
        "regulatory_requirements": _requirements(num),
        "requirements_met": num.get("met_at") is not None,
        "requirements_status": _requirements_status(sb, num),
        "status": number_status(sb, num),
    }


def _order_phone_number(sb: Sandbox, num: Doc) -> dict[str, Any]:
    """A number inside a number order answer."""
    item: dict[str, Any] = {
        "id": num["id"],
        "record_type": "number_order_phone_number",
        "phone_number": num["phone_number"],
        "phone_number_type": num["phone_number_type"],
        "country_code": num["country_code"],
        "country_iso_alpha2": num["country_code"],
        "regulatory_requirements": _requirements(num),
        "requirements_met": num.get("met_at") is not None,
        "requirements_status": _requirements_status(sb, num),
        "status": number_status(sb, num),
    }
    if num.get("bundle_id"):
        item["bundle_id"] = num["bundle_id"]
    return item


def render_order(sb: Sandbox, order: Doc, *, brief: bool = False) -> dict[str, Any]:
    nums = _numbers(sb, order["number_ids"])
    updated = max([order["updated_at"], *(_number_updated(sb, x) for x in nums)])
    out: dict[str, Any] = {
        "id": order["id"],
        "record_type": "number_order",
        "phone_numbers_count": len(nums),
        "sub_number_orders_ids": list(order["sub_order_ids"]),
        "requirements_met": all(x.get("met_at") is not None for x in nums),
        "status": _aggregate([number_status(sb, x) for x in nums]),
        "created_at": order["created_at"],
        "updated_at": updated,
    }
    for key in ("customer_reference", "connection_id", "messaging_profile_id", "billing_group_id"):
        if order.get(key) is not None:
            out[key] = order[key]
    if brief:
        out["phone_numbers"] = [{"id": x["id"], "phone_number": x["phone_number"]} for x in nums]
    else:
        out["phone_numbers"] = [_order_phone_number(sb, x) for x in nums]
    return out


def render_sub_order(sb: Sandbox, so: Doc, *, include_numbers: bool = False) -> dict[str, Any]:
    nums = _numbers(sb, so["number_ids"])
    reqs: dict[str, dict[str, Any]] = {}
    for x in nums:
        for r in _requirements(x, with_value=False):
            reqs.setdefault(r["requirement_id"], r)
    out: dict[str, Any] = {
        "id": so["id"],
        "record_type": "sub_number_order",
        "order_request_id": so["order_id"],
        "country_code": so["country_code"],
        "phone_number_type": so["phone_number_type"],
        "phone_numbers_count": len(nums),
        "is_block_sub_number_order": False,
        "regulatory_requirements": list(reqs.values()),
        "requirements_met": all(x.get("met_at") is not None for x in nums),
        "status": _aggregate([number_status(sb, x) for x in nums]),
        "user_id": user_id(so["account"]),
        "created_at": so["created_at"],
        "updated_at": max([so["updated_at"], *(_number_updated(sb, x) for x in nums)]),
    }
    if so.get("customer_reference") is not None:
        out["customer_reference"] = so["customer_reference"]
    if include_numbers:
        out["phone_numbers"] = [render_order_number(sb, x) for x in nums[:50]]  # "the first 50", says the spec
    return out


# ---- creation -------------------------------------------------------------------------------------


def validate_orderable(
    sb: Sandbox, items: list[Any], account: str, pointer: str = "/phone_numbers"
) -> list[n.NumberRange]:
    """Each item must name an in-inventory number that nobody has ordered or that another account
    reserved; the ordering account's own reservations are fine, and test numbers always are."""
    held = pool.held_numbers(sb, viewer=account)
    seen: set[str] = set()
    out = []
    for i, item in enumerate(items):
        ptr = f"{pointer}/{i}/phone_number"
        e164 = n.requested_number(item, f"{pointer}/{i}")
        rng = n.find_range(e164)
        if rng is None or held.get(e164) in ("ordered", "reserved") or e164 in seen:
            raise invalid(
                ptr,
                f"The phone number {e164} is not available for purchase.",
                code="85001",
                title="Phone number not available",
            )
        for key in ("requirement_group_id", "bundle_id"):
            if item.get(key) is not None and not isinstance(item[key], str):
                raise invalid(f"{pointer}/{i}/{key}", f"'{key}' must be a string.")
        if item.get("requirement_group_id") is not None:
            group_ptr = f"{pointer}/{i}/requirement_group_id"
            group = requirement_groups.find(sb, item["requirement_group_id"], group_ptr, account)
            needed = regulatory.requirements_for_number(e164, rng.iso, rng.phone_number_type)
            problem = requirement_groups.fit_problem(sb, group, rng.iso, rng.phone_number_type, needed)
            if problem:
                raise invalid(group_ptr, f"{e164}: {problem}.")
        seen.add(e164)
        out.append(rng)
    return out


def create_order(
    sb: Sandbox, items: list[dict[str, Any]], ranges: list[n.NumberRange], attrs: dict[str, Any], account: str
) -> Doc:
    """Store an order of the account, one sub order per (country, type), and one document per number."""
    now = sb.now_iso()
    order_id = sb.new_id()
    order: Doc = {
        "id": order_id,
        "account": account,
        "created_at": now,
        "updated_at": now,
        "sub_order_ids": [],
        "number_ids": [],
        **{k: v for k, v in attrs.items() if v is not None},
    }
    subs: dict[tuple[str, str], Doc] = {}
    for item, rng in zip(items, ranges, strict=True):
        key = (rng.iso, rng.phone_number_type)
        if key not in subs:
            subs[key] = {
                "id": sb.new_id(),
                "account": account,
                "order_id": order_id,
                "country_code": rng.iso,
                "phone_number_type": rng.phone_number_type,
                "customer_reference": attrs.get("customer_reference"),
                "created_at": now,
                "updated_at": now,
                "number_ids": [],
            }
            order["sub_order_ids"].append(subs[key]["id"])
        group = sb.find("requirement_groups", item.get("requirement_group_id") or "", account)
        values = {v["requirement_id"]: v["field_value"] for v in group["values"]} if group else {}
        bundle = item.get("bundle_id")  # bundles are not simulated: one counts as every document
        reqs = [
            {
                "requirement_id": r.id,
                "field_type": r.field_type,
                "field_value": values.get(r.id) or bundle,
            }
            for r in regulatory.requirements_for_number(item["phone_number"], rng.iso, rng.phone_number_type)
        ]
        met_at = now if not reqs or bundle else None
        if group is not None:
            met_at = max(now, requirement_groups.approved_at(group) or now)
        num: Doc = {
            "id": sb.new_id(),
            "account": account,
            "phone_number": item["phone_number"],
            "phone_number_type": rng.phone_number_type,
            "country_code": rng.iso,
            "locality": rng.locality,
            "order_id": order_id,
            "sub_order_id": subs[key]["id"],
            "bundle_id": item.get("bundle_id"),
            "requirement_group_id": item.get("requirement_group_id"),
            "requirements": reqs,
            "met_at": met_at,
            "created_at": now,
            "updated_at": now,
        }
        sb.store.put("order_numbers", num["id"], num)
        subs[key]["number_ids"].append(num["id"])
        order["number_ids"].append(num["id"])
    for so in subs.values():
        sb.store.put("sub_number_orders", so["id"], so)
        _comment_on_new_sub_order(sb, so)
    sb.store.put("number_orders", order_id, order)
    return order


def _comment_on_new_sub_order(sb: Sandbox, so: Doc) -> None:
    """Telnyx staff ask for missing documents at once, and say why when a number could not be had (that
    comment is dated when the order fails, and only shows from then on)."""
    nums = _numbers(sb, so["number_ids"])
    waiting = [x for x in nums if x["met_at"] is None]
    if waiting:
        labels = ", ".join(
            dict.fromkeys(
                r.name
                for x in waiting
                for r in regulatory.requirements_for_number(
                    x["phone_number"], x["country_code"], x["phone_number_type"]
                )
            )
        )
        add_admin_comment(
            sb,
            so,
            f"Please provide the regulatory requirements for this order: {labels}. Attach a requirement "
            "group that holds them, or send their values.",
        )
    for x in nums:
        if x["phone_number"] == outcomes.TAKEN and x["met_at"] is not None:
            add_admin_comment(
                sb,
                so,
                f"The phone number {x['phone_number']} was taken by another customer before this order could be "
                "completed, so the order failed and nothing was charged. Search again and order another number.",
                at=processed_at(x),
            )


def create_number_order(sb: Sandbox, call: Call) -> Reply:
    body = body_object(call.body)
    items = req_list(body, "phone_numbers")
    attrs = {
        k: opt_str(body, k) for k in ("customer_reference", "connection_id", "messaging_profile_id", "billing_group_id")
    }
    ranges = validate_orderable(sb, items, call.account)
    order = create_order(sb, items, ranges, attrs, call.account)
    return 200, {"data": render_order(sb, order)}


def list_number_orders(sb: Sandbox, call: Call) -> Reply:
    flt = sub(call.query, "filter")
    status = as_str(flt.get("status"))
    ref = as_str(flt.get("customer_reference"))
    met = as_bool(flt.get("requirements_met"), "filter[requirements_met]")
    count = as_str(flt.get("phone_numbers_count"))  # a string in the spec: any value, compared as text
    created = created_window(flt)
    out = []
    for order in sb.mine("number_orders", call.account):
        data = render_order(sb, order, brief=True)
        if status and data["status"] != status:
            continue
        if ref is not None and data.get("customer_reference") != ref:
            continue
        if met is not None and data["requirements_met"] != met:
            continue
        if count is not None and str(data["phone_numbers_count"]) != count.strip():
            continue
        if not created(data["created_at"]):
            continue
        out.append(data)
    page, meta = paginate(out, call.query)
    return 200, {"data": page, "meta": meta}


def retrieve_number_order(sb: Sandbox, call: Call) -> Reply:
    order = sb.get_or_404("number_orders", call.params["number_order_id"], "number order", call.account)
    return 200, {"data": render_order(sb, order)}


def _apply_requirements(sb: Sandbox, nums: list[Doc], body: dict[str, Any]) -> None:
    """Fill requirement values on the given numbers; a number whose requirements are all set becomes met."""
    value = body.get("regulatory_requirements")
    if value is None:
        return
    if not isinstance(value, list):
        raise invalid("/regulatory_requirements", "'regulatory_requirements' must be an array.")
    known = {r["requirement_id"] for x in nums for r in x["requirements"]}
    updates: dict[str, str] = {}
    for i, item in enumerate(value):
        if not isinstance(item, dict):
            raise invalid(f"/regulatory_requirements/{i}", "Each requirement must be an object.")
        rid = item.get("requirement_id")
        if rid is None:
            raise missing(f"/regulatory_requirements/{i}/requirement_id")
        if not isinstance(rid, str) or rid not in known:
            raise invalid(
                f"/regulatory_requirements/{i}/requirement_id",
                f"Requirement '{rid}' does not apply to these phone numbers.",
            )
        fv = item.get("field_value")
        if fv is None:
            raise missing(f"/regulatory_requirements/{i}/field_value")
        if not isinstance(fv, str) or not fv.strip():
            raise invalid(f"/regulatory_requirements/{i}/field_value", "'field_value' must be a non-empty string.")
        updates[rid] = fv
    now = sb.now_iso()
    for x in nums:
        if x.get("cancelled"):
            continue
        changed = False
        for r in x["requirements"]:
            if r["requirement_id"] in updates:
                r["field_value"] = updates[r["requirement_id"]]
                changed = True
        if changed:
            if x.get("met_at") is None and all(r.get("field_value") for r in x["requirements"]):
                x["met_at"] = now
            x["updated_at"] = now
            sb.store.put("order_numbers", x["id"], x)


def update_number_order(sb: Sandbox, call: Call) -> Reply:
    order = sb.get_or_404("number_orders", call.params["number_order_id"], "number order", call.account)
    body = body_object(call.body)
    ref = opt_str(body, "customer_reference")
    _apply_requirements(sb, _numbers(sb, order["number_ids"]), body)
    if ref is not None:
        order["customer_reference"] = ref
        for sid in order["sub_order_ids"]:
            so = sb.find("sub_number_orders", sid, call.account)
            if so is not None:
                so["customer_reference"] = ref
                sb.store.put("sub_number_orders", sid, so)
    order["updated_at"] = sb.now_iso()
    sb.store.put("number_orders", order["id"], order)
    return 200, {"data": render_order(sb, order)}


# ---- number order phone numbers -------------------------------------------------------------------


def _order_number(sb: Sandbox, call: Call, number_id: str) -> Doc:
    return sb.get_or_404("order_numbers", number_id, "number order phone number", call.account)


def _sub_order(sb: Sandbox, call: Call, sub_order_id: str) -> Doc:
    return sb.get_or_404("sub_number_orders", sub_order_id, "sub number order", call.account)


def list_order_numbers(sb: Sandbox, call: Call) -> Reply:
    flt = sub(call.query, "filter")
    cc = as_str(flt.get("country_code"))
    out = [
        render_order_number(sb, x)
        for x in sb.mine("order_numbers", call.account)
        if not cc or x["country_code"] == cc.upper()
    ]
    page, meta = paginate(out, call.query)
    return 200, {"data": page, "meta": meta}


def retrieve_order_number(sb: Sandbox, call: Call) -> Reply:
    num = _order_number(sb, call, call.params["number_order_phone_number_id"])
    return 200, {"data": render_order_number(sb, num)}


def update_order_number(sb: Sandbox, call: Call) -> Reply:
    num = _order_number(sb, call, call.params["number_order_phone_number_id"])
    _apply_requirements(sb, [num], body_object(call.body))
    return 200, {"data": render_order_number(sb, num)}


# ---- sub number orders ----------------------------------------------------------------------------


def list_sub_orders(sb: Sandbox, call: Call) -> Reply:
    flt = sub(call.query, "filter")
    wanted = {k: as_str(flt.get(k)) for k in ("country_code", "order_request_id", "phone_number_type", "status")}
    count = as_int(flt.get("phone_numbers_count"), "filter[phone_numbers_count]")
    out = []
    for so in sb.mine("sub_number_orders", call.account):
        data = render_sub_order(sb, so)
        if any(v is not None and str(data.get(k)).lower() != v.lower() for k, v in wanted.items()):
            continue
        if count is not None and data["phone_numbers_count"] != count:
            continue
        out.append(data)
    page, meta = paginate(out, call.query)
    return 200, {"data": page, "meta": meta}


def retrieve_sub_order(sb: Sandbox, call: Call) -> Reply:
    so = _sub_order(sb, call, call.params["sub_number_order_id"])
    include = as_bool(sub(call.query, "filter").get("include_phone_numbers"), "filter[include_phone_numbers]")
    return 200, {"data": render_sub_order(sb, so, include_numbers=bool(include))}


def update_sub_order(sb: Sandbox, call: Call) -> Reply:
    so = _sub_order(sb, call, call.params["sub_number_order_id"])
    _apply_requirements(sb, _numbers(sb, so["number_ids"]), body_object(call.body))
    return 200, {"data": render_sub_order(sb, so)}


def cancel_sub_order(sb: Sandbox, call: Call) -> Reply:
    """Only pending sub orders can be cancelled; their numbers go back to the pool."""
    so = _sub_order(sb, call, call.params["sub_number_order_id"])
    status = render_sub_order(sb, so)["status"]
    if status != "pending":
        raise ApiError(
            422,
            [
                {
                    "code": "10015",
                    "title": "Invalid value",
                    "detail": f"Only pending sub number orders can be cancelled (this one is {status}).",
                    "source": {"parameter": "sub_number_order_id"},
                }
            ],
        )
    now = sb.now_iso()
    for x in _numbers(sb, so["number_ids"]):
        x["cancelled"] = True
        x["updated_at"] = now
        sb.store.put("order_numbers", x["id"], x)
    so["updated_at"] = now
    sb.store.put("sub_number_orders", so["id"], so)
    return 200, {"data": render_sub_order(sb, so)}


# ---- requirement groups attached to ordered numbers ---------------------------------------------


def _attach_group(sb: Sandbox, nums: list[Doc], body: Any, account: str) -> None:
    """Check the group fits every (still pending) number first, then fill their requirements from it; the
    numbers complete ORDER_PROCESSING after the group is approved."""
    data = body_object(body)
    if data.get("requirement_group_id") is None:
        raise missing("/requirement_group_id")
    group = requirement_groups.find(sb, data["requirement_group_id"], "/requirement_group_id", account)
    open_nums = [x for x in nums if not x.get("cancelled") and not x.get("released")]
    for x in open_nums:
        needed = regulatory.requirements_for_number(x["phone_number"], x["country_code"], x["phone_number_type"])
        problem = requirement_groups.fit_problem(sb, group, x["country_code"], x["phone_number_type"], needed)
        if problem:
            raise invalid("/requirement_group_id", f"{x['phone_number']}: {problem}.")
    now = sb.now_iso()
    values = {v["requirement_id"]: v["field_value"] for v in group["values"]}
    ready = max(now, requirement_groups.approved_at(group) or now)
    for x in open_nums:
        for r in x["requirements"]:
            r["field_value"] = values.get(r["requirement_id"], r.get("field_value"))
        x["requirement_group_id"] = group["id"]
        if x.get("met_at") is None:
            x["met_at"] = ready
        x["updated_at"] = now
        sb.store.put("order_numbers", x["id"], x)


def attach_group_to_order_number(sb: Sandbox, call: Call) -> Reply:
    num = _order_number(sb, call, call.params["id"])
    _attach_group(sb, [num], call.body, call.account)
    return 200, {"data": {**render_order_number(sb, num), "regulatory_requirements": _group_requirements(sb, num)}}


def attach_group_to_sub_order(sb: Sandbox, call: Call) -> Reply:
    """The answer is the sub order with its numbers, in the shape this operation's spec gives."""
    so = _sub_order(sb, call, call.params["id"])
    _attach_group(sb, _numbers(sb, so["number_ids"]), call.body, call.account)
    data = render_sub_order(sb, so)
    data.pop("user_id")
    data["phone_numbers"] = [
        {
            "id": x["id"],
            "record_type": "number_order_phone_number",
            "phone_number": x["phone_number"],
            "phone_number_type": x["phone_number_type"],
            "country_code": x["country_code"],
            "bundle_id": x.get("bundle_id"),
            "regulatory_requirements": _group_requirements(sb, x),
            "requirements_met": x.get("met_at") is not None,
            "requirements_status": _requirements_status(sb, x),
            "status": number_status(sb, x),
        }
        for x in _numbers(sb, so["number_ids"])
    ]
    return 200, {"data": data}


def _group_requirements(sb: Sandbox, num: Doc) -> list[dict[str, Any]]:
    """A number's requirements with the review status of their values (the requirement group answers)."""
    group = sb.find("requirement_groups", num.get("requirement_group_id") or "", num["account"])
    if group is not None:
        state = requirement_groups.status(sb, group)
    elif num.get("met_at") is None:
        state = "unapproved"
    else:
        state = "approved" if number_status(sb, num) != "pending" else "pending-approval"
    out = []
    for req in num["requirements"]:
        item = {"requirement_id": req["requirement_id"], "field_type": req["field_type"], "status": state}
        if req.get("field_value") is not None:
            item["field_value"] = req["field_value"]
        out.append(item)
    return out
