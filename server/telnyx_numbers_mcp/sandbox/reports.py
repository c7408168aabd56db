"""The sub-number-orders report: requested, generated after REPORT_SECONDS, downloaded as CSV."""

from __future__ import annotations

import csv
import io
from datetime import timedelta
from typing import Any

from .clock import iso, parse_iso
from .core import Call, Sandbox, user_id
from .errors import ApiError, invalid
from .orders import render_sub_order
from .query import body_object, opt_str
from .state import Doc

Reply = tuple[int, Any]

REPORT_SECONDS = 5.0

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
        "user_id": user_id(doc["account"]),
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
    doc: Doc = {"id": sb.new_id(), "account": call.account, "filters": filters, "created_at": sb.now_iso()}
    sb.store.put("reports", doc["id"], doc)
    return 202, {"data": render_report(sb, doc)}


def retrieve_report(sb: Sandbox, call: Call) -> Reply:
    return 200, {"data": render_report(sb, sb.get_or_404("reports", call.params["report_id"], "report", call.account))}


def _csv_time(stamp: str) -> str:
    return parse_iso(stamp).strftime("%Y-%m-%d %H:%M:%S.%f")


def download_report(sb: Sandbox, call: Call) -> tuple[int, str]:
    """CSV of the sub orders that match the report's filters and existed when it was requested."""
    doc = sb.get_or_404("reports", call.params["report_id"], "report", call.account)
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
    for so in sb.mine("sub_number_orders", call.account):
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
