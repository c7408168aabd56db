"""Number block orders and phone-number-block deletion jobs.

A block is identified by its block order id: that is the `phone_number_block_id` a deletion job takes.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from . import numbers as n
from . import pool
from .clock import iso, parse_iso
from .core import ORDER_PROCESSING, Call, Sandbox
from .errors import ApiError, invalid, missing
from .query import as_str, body_object, created_window, opt_int, opt_str, paginate, req_str, sub
from .state import Doc

Reply = tuple[int, Any]

BLOCK_SIZES = (10, 100, 1000)


def _block_status(sb: Sandbox, b: Doc) -> str:
    return "success" if sb.elapsed(b["created_at"]) >= ORDER_PROCESSING.total_seconds() else "pending"


def render_block(sb: Sandbox, b: Doc) -> dict[str, Any]:
    status = _block_status(sb, b)
    updated = b["updated_at"]
    if status == "success":
        updated = max(updated, iso(parse_iso(b["created_at"]) + ORDER_PROCESSING))
    out: dict[str, Any] = {
        "id": b["id"],
        "record_type": "number_block_order",
        "starting_number": b["starting_number"],
        "range": b["range"],
        "phone_numbers_count": b["range"],
        "requirements_met": True,
        "status": status,
        "created_at": b["created_at"],
        "updated_at": updated,
    }
    for key in ("connection_id", "messaging_profile_id", "customer_reference"):
        if b.get(key) is not None:
            out[key] = b[key]
    return out


def create_block_order(sb: Sandbox, call: Call) -> Reply:
    body = body_object(call.body)
    start = req_str(body, "starting_number")
    size = opt_int(body, "range")
    if size is None:
        raise missing("/range")
    if size not in BLOCK_SIZES:
        raise invalid("/range", f"'range' must be one of {', '.join(map(str, BLOCK_SIZES))}.")
    if not n.is_valid(start):
        raise invalid(
            "/starting_number",
            f"'{start}' is not a valid E.164 phone number.",
            code="10016",
            title="Phone number must be in +E.164 format",
        )
    zeros = len(str(size)) - 1
    if not start.endswith("0" * zeros):
        raise invalid("/starting_number", f"A block of {size} must start on a number ending in {'0' * zeros}.")
    numbers = n.block_numbers(start, size)
    rng = n.find_range(start)
    held = pool.held_numbers(sb)
    if rng is None or any(x in held for x in numbers) or n.find_range(numbers[-1]) != rng:
        raise invalid(
            "/starting_number",
            f"The block starting at {start} is not available.",
            code="85001",
            title="Phone number not available",
        )
    now = sb.now_iso()
    doc: Doc = {
        "id": sb.new_id(),
        "account": call.account,
        "starting_number": start,
        "range": size,
        "created_at": now,
        "updated_at": now,
    }
    for key in ("connection_id", "messaging_profile_id", "customer_reference"):
        doc[key] = opt_str(body, key)
    sb.store.put("block_orders", doc["id"], doc)
    return 200, {"data": render_block(sb, doc)}


def list_block_orders(sb: Sandbox, call: Call) -> Reply:
    flt = sub(call.query, "filter")
    status = as_str(flt.get("status"))
    start = as_str(flt.get("phone_numbers.starting_number")) or as_str(sub(flt, "phone_numbers").get("starting_number"))
    created = created_window(flt)
    out = []
    for b in sb.mine("block_orders", call.account):
        data = render_block(sb, b)
        if status and data["status"] != status:
            continue
        if start and data["starting_number"] != start:
            continue
        if not created(data["created_at"]):
            continue
        out.append(data)
    page, meta = paginate(out, call.query)
    return 200, {"data": page, "meta": meta}


def retrieve_block_order(sb: Sandbox, call: Call) -> Reply:
    b = sb.get_or_404("block_orders", call.params["number_block_order_id"], "number block order", call.account)
    return 200, {"data": render_block(sb, b)}


def render_job(sb: Sandbox, job: Doc) -> dict[str, Any]:
    status = pool.job_status(sb, job)
    created = parse_iso(job["created_at"])
    if status == "completed":
        updated = created + pool.JOB_DURATION
    elif status == "in_progress":
        updated = created + timedelta(seconds=2)
    else:
        updated = created
    block = sb.store.get("block_orders", job["block_id"])
    numbers = n.block_numbers(block["starting_number"], block["range"]) if block else []
    return {
        "id": job["id"],
        "record_type": "phone_numbers_job",
        "type": "delete_phone_number_block",
        "status": status,
        "etc": iso(created + pool.JOB_DURATION),
        "created_at": job["created_at"],
        "updated_at": iso(updated),
        "successful_operations": (
            [{"id": job["block_id"], "phone_number": x} for x in numbers] if status == "completed" else []
        ),
        "failed_operations": [],
    }


def create_deletion_job(sb: Sandbox, call: Call) -> Reply:
    body = body_object(call.body)
    block_id = req_str(body, "phone_number_block_id")
    block = sb.find("block_orders", block_id, call.account)
    if block is None or pool.block_deleted(sb, block_id):
        raise invalid(
            "/phone_number_block_id",
            f"Phone number block '{block_id}' was not found.",
            code="10005",
            title="Resource not found",
        )
    if _block_status(sb, block) != "success":
        raise invalid("/phone_number_block_id", "The block order has not completed yet.")
    if any(j["block_id"] == block_id for j in sb.store.all("block_jobs")):
        raise ApiError(
            422,
            [
                {
                    "code": "10015",
                    "title": "Invalid value",
                    "detail": "A deletion job for this block is already running.",
                    "source": {"pointer": "/phone_number_block_id"},
                }
            ],
        )
    job: Doc = {"id": sb.new_id(), "account": call.account, "block_id": block_id, "created_at": sb.now_iso()}
    sb.store.put("block_jobs", job["id"], job)
    return 202, {"data": render_job(sb, job)}


def list_jobs(sb: Sandbox, call: Call) -> Reply:
    flt = sub(call.query, "filter")
    status = as_str(flt.get("status"))
    jtype = as_str(flt.get("type"))
    if jtype and jtype != "delete_phone_number_block":
        raise ApiError(
            422,
            [
                {
                    "code": "10015",
                    "title": "Invalid value",
                    "detail": f"Unknown job type '{jtype}'.",
                    "source": {"parameter": "filter[type]"},
                }
            ],
        )
    out = [render_job(sb, j) for j in sb.mine("block_jobs", call.account)]
    out = [j for j in out if not status or j["status"] == status]
    if as_str(call.query.get("sort")) == "created_at":
        out.sort(key=lambda j: j["created_at"])
    page, meta = paginate(out, call.query)
    return 200, {"data": page, "meta": meta}


def retrieve_job(sb: Sandbox, call: Call) -> Reply:
    job = sb.get_or_404("block_jobs", call.params["id"], "phone numbers job", call.account)
    return 200, {"data": render_job(sb, job)}
