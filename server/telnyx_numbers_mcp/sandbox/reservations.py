"""Number reservations: hold numbers for RESERVATION_TTL of sandbox time; extend pushes the expiry out."""

from __future__ import annotations

from typing import Any

from . import numbers as n
from . import pool
from .clock import iso, parse_iso
from .core import RESERVATION_TTL, Call, Sandbox
from .errors import ApiError, invalid
from .query import as_str, body_object, created_window, opt_str, paginate, req_list, sub
from .state import Doc

Reply = tuple[int, Any]


def render(doc: Doc) -> dict[str, Any]:
    out: dict[str, Any] = {
        "id": doc["id"],
        "record_type": "number_reservation",
        "status": "success",
        "created_at": doc["created_at"],
        "updated_at": doc["updated_at"],
        "phone_numbers": [
            {
                "id": x["id"],
                "record_type": "reserved_phone_number",
                "phone_number": x["phone_number"],
                "status": "success",
                "created_at": x["created_at"],
                "updated_at": x["updated_at"],
                "expired_at": x["expired_at"],
            }
            for x in doc["phone_numbers"]
        ],
    }
    if doc.get("customer_reference") is not None:
        out["customer_reference"] = doc["customer_reference"]
    return out


def create(sb: Sandbox, call: Call) -> Reply:
    """Reserve numbers that are in inventory and neither reserved nor ordered."""
    body = body_object(call.body)
    items = req_list(body, "phone_numbers")
    ref = opt_str(body, "customer_reference")
    held = pool.held_numbers(sb)  # every account's holds, this one's too: a number is reserved once
    now = sb.now()
    seen: set[str] = set()
    entries = []
    for i, item in enumerate(items):
        ptr = f"/phone_numbers/{i}/phone_number"
        e164 = n.requested_number(item, f"/phone_numbers/{i}")
        rng = n.find_range(e164)
        if rng is None or e164 in held or e164 in seen:
            raise invalid(
                ptr,
                f"The phone number {e164} is not available for reservation.",
                code="85001",
                title="Phone number not available",
            )
        if not n.is_reservable(e164, rng):
            raise invalid(
                ptr,
                f"{e164} cannot be reserved"
                + ("" if n.COUNTRIES[rng.iso].reservable else f" (numbers in {rng.iso} cannot)")
                + ".",
                code="85002",
                title="Phone number not reservable",
            )
        seen.add(e164)
        entries.append(
            {
                "id": sb.new_id(),
                "phone_number": e164,
                "created_at": iso(now),
                "updated_at": iso(now),
                "expired_at": iso(now + RESERVATION_TTL),
            }
        )
    doc: Doc = {
        "id": sb.new_id(),
        "account": call.account,
        "customer_reference": ref,
        "created_at": iso(now),
        "updated_at": iso(now),
        "phone_numbers": entries,
    }
    sb.store.put("reservations", doc["id"], doc)
    return 200, {"data": render(doc)}


def list_(sb: Sandbox, call: Call) -> Reply:
    flt = sub(call.query, "filter")
    ref = as_str(flt.get("customer_reference"))
    number = as_str(flt.get("phone_numbers.phone_number")) or as_str(sub(flt, "phone_numbers").get("phone_number"))
    status = as_str(flt.get("status"))
    created = created_window(flt)
    out = []
    for doc in sb.mine("reservations", call.account):
        if ref is not None and doc.get("customer_reference") != ref:
            continue
        if number and all(x["phone_number"] != number for x in doc["phone_numbers"]):
            continue
        if status and status != "success":
            continue
        if not created(doc["created_at"]):
            continue
        out.append(render(doc))
    page, meta = paginate(out, call.query)
    return 200, {"data": page, "meta": meta}


def retrieve(sb: Sandbox, call: Call) -> Reply:
    doc = sb.get_or_404("reservations", call.params["number_reservation_id"], "number reservation", call.account)
    return 200, {"data": render(doc)}


def extend(sb: Sandbox, call: Call) -> Reply:
    """Push every still-held number's expiry out by the reservation TTL; fully expired reservations refuse."""
    doc = sb.get_or_404("reservations", call.params["number_reservation_id"], "number reservation", call.account)
    now = sb.now()
    live = [x for x in doc["phone_numbers"] if parse_iso(x["expired_at"]) > now]
    if not live:
        raise ApiError(
            422,
            [
                {
                    "code": "85003",
                    "title": "Reservation expired",
                    "detail": "This reservation has expired and can no longer be extended.",
                    "source": {"parameter": "number_reservation_id"},
                }
            ],
        )
    for x in live:
        x["expired_at"] = iso(parse_iso(x["expired_at"]) + RESERVATION_TTL)
        x["updated_at"] = iso(now)
    doc["updated_at"] = iso(now)
    sb.store.put("reservations", doc["id"], doc)
    return 200, {"data": render(doc)}
