"""Comments on sub number orders, customer service records (CSRs) and the sub-number-orders CSV report."""

from __future__ import annotations

import csv
import io
import re
from datetime import timedelta
from typing import Any

from . import numbers as n
from .clock import iso, parse_iso
from .core import USER_ID, Call, Sandbox
from .errors import ApiError, invalid, invalid_param
from .orders import render_sub_order
from .query import as_list, as_str, body_object, in_window, opt_str, paginate, req_list, req_str, sub
from .state import Doc

Reply = tuple[int, Any]

CSR_SECONDS = 30.0
REPORT_SECONDS = 5.0
COMMENT_TYPES = ("sub_number_order", "requirement_group")
_US = re.compile(r"^\+1\d{10}$")


# ---- comments -------------------------------------------------------------------------------------


def _render_comment(doc: Doc) -> dict[str, Any]:
    return {k: v for k, v in doc.items() if v is not None}


def add_admin_comment(sb: Sandbox, sub_order_id: str, body: str) -> None:
    """Telnyx staff leave comments on orders that wait for documents."""
    now = sb.now_iso()
    doc: Doc = {
        "id": sb.new_id(),
        "body": body,
        "comment_record_id": sub_order_id,
        "comment_record_type": "sub_number_order",
        "commenter": "support@telnyx.com",
        "commenter_type": "admin",
        "created_at": now,
        "updated_at": now,
        "read_at": None,
    }
    sb.store.put("comments", doc["id"], doc)


def create_comment(sb: Sandbox, call: Call) -> Reply:
    body = body_object(call.body)
    text = req_str(body, "body")
    record_id = req_str(body, "comment_record_id")
    record_type = req_str(body, "comment_record_type")
    if record_type not in COMMENT_TYPES:
        raise invalid("/comment_record_type", f"'comment_record_type' must be one of {', '.join(COMMENT_TYPES)}.")
    if record_type == "sub_number_order" and sb.store.get("sub_number_orders", record_id) is None:
        raise invalid(
            "/comment_record_id",
            f"Sub number order '{record_id}' was not found.",
            code="10005",
            title="Resource not found",
        )
    now = sb.now_iso()
    doc: Doc = {
        "id": sb.new_id(),
        "body": text,
        "comment_record_id": record_id,
        "comment_record_type": record_type,
        "commenter": "user@example.com",
        "commenter_type": "user",
        "created_at": now,
        "updated_at": now,
        "read_at": None,
    }
    sb.store.put("comments", doc["id"], doc)
    return 200, {"data": _render_comment(doc)}


def list_comments(sb: Sandbox, call: Call) -> Reply:
    flt = sub(call.query, "filter")
    record_id = as_str(flt.get("comment_record_id"))
    record_type = as_str(flt.get("comment_record_type"))
    if record_type and record_type not in COMMENT_TYPES:
        raise invalid_param("filter[comment_record_type]", f"Unknown record type '{record_type}'.")
    out = [
        _render_comment(c)
        for c in sb.store.all("comments")
        if (not record_id or c["comment_record_id"] == record_id)
        and (not record_type or c["comment_record_type"] == record_type)
    ]
    page, meta = paginate(out, call.query)
    return 200, {"data": page, "meta": meta}


def retrieve_comment(sb: Sandbox, call: Call) -> Reply:
    return 200, {"data": _render_comment(sb.get_or_404("comments", call.params["id"], "comment"))}


def mark_comment_read(sb: Sandbox, call: Call) -> Reply:
    doc = sb.get_or_404("comments", call.params["id"], "comment")
    if doc.get("read_at") is None:
        doc["read_at"] = doc["updated_at"] = sb.now_iso()
        sb.store.put("comments", doc["id"], doc)
    return 200, {"data": _render_comment(doc)}


# ---- customer service records ---------------------------------------------------------------------

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
    created = sub(flt, "created_at")
    out = []
    for doc in sb.store.all("csrs"):
        data = render_csr(sb, doc)
        if numbers and data["phone_number"] not in numbers:
            continue
        if statuses and data["status"] not in statuses:
            continue
        if not in_window(data["created_at"], created):
            continue
        out.append(data)
    if as_str(sub(call.query, "sort").get("value")) == "-created_at":
        out.reverse()
    page, meta = paginate(out, call.query)
    return 200, {"data": page, "meta": meta}


def retrieve_csr(sb: Sandbox, call: Call) -> Reply:
    """The spec documents 201 for this GET; the simulator follows the spec."""
    doc = sb.get_or_404("csrs", call.params["customer_service_record_id"], "customer service record")
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


# ---- sub number orders report ---------------------------------------------------------------------

_REPORT_FILTERS = (
    "country_code",
    "created_at_gt",
    "created_at_lt",
    "customer_reference",
    "order_request_id",
    "status",
)
_CSV_HEADER = [
    "id",
    "order_request_id",
    "is_block_sub_number_order",
    "status",
    "phone_number_type",
    "requirements_met",
    "phone_numbers_count",
    "country_code",
    "user_id",
    "customer_reference",
    "created_at",
    "updated_at",
]


def _report_status(sb: Sandbox, doc: Doc) -> str:
    return "success" if sb.elapsed(doc["created_at"]) >= REPORT_SECONDS else "pending"


def render_report(sb: Sandbox, doc: Doc) -> dict[str, Any]:
    status = _report_status(sb, doc)
    updated = doc["created_at"]
    if status == "success":
        updated = iso(parse_iso(doc["created_at"]) + timedelta(seconds=REPORT_SECONDS))
    return {
        "id": doc["id"],
        "order_type": "sub_number_order",
        "status": status,
        "filters": doc["filters"],
        "user_id": USER_ID,
        "created_at": doc["created_at"],
        "updated_at": updated,
    }


def create_report(sb: Sandbox, call: Call) -> Reply:
    body = body_object(call.body) if call.body is not None else {}
    filters: dict[str, Any] = {}
    for key in _REPORT_FILTERS:
        value = opt_str(body, key)
        if value is None:
            continue
        if key.startswith("created_at"):
            try:
                parse_iso(value)
            except ValueError:
                raise invalid(f"/{key}", f"'{key}' must be an ISO 8601 date-time.") from None
        if key == "status" and value not in ("pending", "success", "failure"):
            raise invalid("/status", "'status' must be pending, success or failure.")
        filters[key] = value
    doc: Doc = {"id": sb.new_id(), "filters": filters, "created_at": sb.now_iso()}
    sb.store.put("reports", doc["id"], doc)
    return 202, {"data": render_report(sb, doc)}


def retrieve_report(sb: Sandbox, call: Call) -> Reply:
    return 200, {"data": render_report(sb, sb.get_or_404("reports", call.params["report_id"], "report"))}


def _csv_time(stamp: str) -> str:
    return parse_iso(stamp).strftime("%Y-%m-%d %H:%M:%S.%f")


def download_report(sb: Sandbox, call: Call) -> tuple[int, str]:
    """CSV of the sub orders that match the report's filters and existed when it was requested."""
    doc = sb.get_or_404("reports", call.params["report_id"], "report")
    if _report_status(sb, doc) != "success":
        raise ApiError(
            422,
            [
                {
                    "code": "10015",
                    "title": "Report not ready",
                    "detail": "The report is still being generated; try again shortly.",
                    "source": {"parameter": "report_id"},
                }
            ],
        )
    f = doc["filters"]
    cutoff = parse_iso(doc["created_at"])
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\n")
    writer.writerow(_CSV_HEADER)
    for so in sb.store.all("sub_number_orders"):
        row = render_sub_order(sb, so)
        created = parse_iso(row["created_at"])
        if created > cutoff:
            continue
        if f.get("country_code") and row["country_code"] != f["country_code"].upper():
            continue
        if f.get("status") and row["status"] != f["status"]:
            continue
        if f.get("customer_reference") and row.get("customer_reference") != f["customer_reference"]:
            continue
        if f.get("order_request_id") and row["order_request_id"] != f["order_request_id"]:
            continue
        if f.get("created_at_gt") and created <= parse_iso(f["created_at_gt"]):
            continue
        if f.get("created_at_lt") and created >= parse_iso(f["created_at_lt"]):
            continue
        writer.writerow(
            [
                row["id"],
                row["order_request_id"],
                str(row["is_block_sub_number_order"]),
                row["status"],
                row["phone_number_type"],
                str(row["requirements_met"]),
                row["phone_numbers_count"],
                row["country_code"],
                row["user_id"],
                row.get("customer_reference", ""),
                _csv_time(row["created_at"]),
                _csv_time(row["updated_at"]),
            ]
        )
    return 200, buf.getvalue()
