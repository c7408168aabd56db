"""Customer service records (CSRs): the losing carrier's record of a number, fetched asynchronously."""

from __future__ import annotations

import re
from datetime import timedelta
from typing import Any

from . import numbers as n
from .clock import iso, parse_iso
from .core import Call, Sandbox
from .errors import invalid
from .query import as_list, as_str, body_object, created_window, opt_str, paginate, req_list, req_str, sub
from .state import Doc

Reply = tuple[int, Any]

CSR_SECONDS = 30.0
_US = re.compile(r"^\+1\d{10}$")

_CARRIERS = ("Verizon Wireless", "AT&T Mobility", "Lumen Technologies", "Bandwidth.com CLEC", "Frontier")


def _covered(e164: str) -> bool:
    """Deterministic: a CSR can be fetched for most US/CA numbers; one in five carriers does not answer."""
    return bool(_US.match(e164)) and n.is_valid(e164) and int(e164[-4:]) % 5 != 0


def _carrier(e164: str) -> str:
    return _CARRIERS[int(e164[-3:]) % len(_CARRIERS)]


def render_csr(sb: Sandbox, doc: Doc) -> dict[str, Any]:
    done = sb.elapsed(doc["created_at"]) >= CSR_SECONDS
    phone = doc["phone_number"]
    out: dict[str, Any] = {
        "id": doc["id"],
        "record_type": "customer_service_record",
        "phone_number": phone,
        "status": "pending",
        "result": None,
        "error_message": None,
        "created_at": doc["created_at"],
        "updated_at": doc["created_at"],
    }
    if doc.get("webhook_url"):
        out["webhook_url"] = doc["webhook_url"]
    if not done:
        return out
    out["updated_at"] = iso(parse_iso(doc["created_at"]) + timedelta(seconds=CSR_SECONDS))
    if not _covered(phone):
        out.update(status="failed", error_message="The losing carrier did not return a customer service record.")
        return out
    extra = doc.get("additional_data") or {}
    rng = n.find_range(phone)
    city = extra.get("city") or (rng.locality if rng else "Springfield")
    state = extra.get("state") or (rng.admin_area if rng else "IL")
    zip_code = extra.get("zip_code") or f"{60601 + int(phone[-2:]):05d}"
    street = extra.get("address_line_1") or f"{100 + int(phone[-3:])} Main St"
    out["status"] = "completed"
    out["result"] = {
        "carrier_name": _carrier(phone),
        "admin": {
            "name": extra.get("name") or "Example Holdings LLC",
            "account_number": extra.get("account_number") or f"ACCT{phone[-6:]}",
            "authorized_person_name": extra.get("authorized_person_name") or "Jordan Smith",
            "billing_phone_number": extra.get("billing_phone_number") or phone,
        },
        "address": {
            "street_address": street,
            "locality": city,
            "administrative_area": state,
            "postal_code": zip_code,
            "full_address": f"{street}, {city}, {state} {zip_code}",
        },
        "associated_phone_numbers": [phone],
    }
    return out


_ADDITIONAL = {
    "billing_phone_number": _US,
    "state": re.compile(r"^[A-Z]{2}$"),
    "zip_code": re.compile(r"^\d{5}$"),
}


def create_csr(sb: Sandbox, call: Call) -> Reply:
    body = body_object(call.body)
    phone = req_str(body, "phone_number")
    if not _US.match(phone):
        raise invalid(
            "/phone_number",
            "'phone_number' must be a +1 E.164 number.",
            code="10016",
            title="Phone number must be in +E.164 format",
        )
    extra = body.get("additional_data")
    if extra is not None:
        if not isinstance(extra, dict):
            raise invalid("/additional_data", "'additional_data' must be an object.")
        for key, value in extra.items():
            ptr = f"/additional_data/{key}"
            if not isinstance(value, str):
                raise invalid(ptr, f"'{key}' must be a string.")
            pattern = _ADDITIONAL.get(key)
            if pattern and not pattern.match(value):
                raise invalid(ptr, f"'{key}' has an invalid format.")
    now = sb.now_iso()
    doc: Doc = {
        "id": sb.new_id(),
        "account": call.account,
        "phone_number": phone,
        "additional_data": extra,
        "webhook_url": opt_str(body, "webhook_url"),
        "created_at": now,
    }
    sb.store.put("csrs", doc["id"], doc)
    return 201, {"data": render_csr(sb, doc)}


def list_csrs(sb: Sandbox, call: Call) -> Reply:
    flt = sub(call.query, "filter")
    pn = sub(flt, "phone_number")
    st = sub(flt, "status")
    numbers = set(as_list(pn.get("in"))) | ({as_str(pn["eq"]) or ""} if pn.get("eq") else set())
    statuses = set(as_list(st.get("in"))) | ({as_str(st["eq"]) or ""} if st.get("eq") else set())
    created = created_window(flt)
    out = []
    for doc in sb.mine("csrs", call.account):
        data = render_csr(sb, doc)
        if numbers and data["phone_number"] not in numbers:
            continue
        if statuses and data["status"] not in statuses:
            continue
        if not created(data["created_at"]):
            continue
        out.append(data)
    if as_str(sub(call.query, "sort").get("value")) == "-created_at":
        out.reverse()
    page, meta = paginate(out, call.query)
    return 200, {"data": page, "meta": meta}


def retrieve_csr(sb: Sandbox, call: Call) -> Reply:
    """The spec documents 201 for this GET; the simulator follows the spec."""
    doc = sb.get_or_404("csrs", call.params["customer_service_record_id"], "customer service record", call.account)
    return 201, {"data": render_csr(sb, doc)}


def verify_coverage(sb: Sandbox, call: Call) -> Reply:
    body = body_object(call.body)
    phones = req_list(body, "phone_numbers")
    data = []
    for i, phone in enumerate(phones):
        if not isinstance(phone, str) or not _US.match(phone):
            raise invalid(
                f"/phone_numbers/{i}",
                f"'{phone}' must be a +1 E.164 number.",
                code="10016",
                title="Phone number must be in +E.164 format",
            )
        item: dict[str, Any] = {
            "phone_number": phone,
            "record_type": "customer_service_record_phone_number_coverage",
        }
        if _covered(phone):
            carrier = _carrier(phone)
            item["has_csr_coverage"] = True
            item["additional_data_required"] = ["account_number", "pin"] if "Wireless" in carrier else []
        else:
            item["has_csr_coverage"] = False
            item["reason"] = "The carrier of this number does not provide customer service records."
            item["additional_data_required"] = []
        data.append(item)
    return 201, {"data": data}
