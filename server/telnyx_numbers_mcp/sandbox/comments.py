"""Comments on sub number orders and requirement groups, including the ones Telnyx staff leave."""

from __future__ import annotations

from typing import Any

from .clock import parse_iso
from .core import Call, Sandbox
from .errors import invalid, invalid_param, not_found
from .query import as_str, body_object, paginate, req_str, sub
from .state import Doc

Reply = tuple[int, Any]

COMMENT_TYPES = ("sub_number_order", "requirement_group")
RECORDS = {
    "sub_number_order": ("sub_number_orders", "sub number order"),
    "requirement_group": ("requirement_groups", "requirement group"),
}


def _render_comment(doc: Doc) -> dict[str, Any]:
    return {k: v for k, v in doc.items() if v is not None and k != "account"}


def _visible(sb: Sandbox, doc: Doc) -> bool:
    """A comment dated in the sandbox's future (staff explaining a failure yet to happen) is not there yet."""
    return parse_iso(doc["created_at"]) <= sb.now()


def add_admin_comment(sb: Sandbox, sub_order: Doc, body: str, at: str | None = None) -> None:
    """Telnyx staff leave comments on orders that wait for documents or failed; `at` dates it (default now)."""
    now = at or sb.now_iso()
    doc: Doc = {
        "id": sb.new_id(),
        "account": sub_order["account"],
        "body": body,
        "comment_record_id": sub_order["id"],
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
    collection, what = RECORDS[record_type]
    if sb.find(collection, record_id, call.account) is None:
        raise invalid(
            "/comment_record_id",
            f"{what.capitalize()} '{record_id}' was not found.",
            code="10005",
            title="Resource not found",
        )
    now = sb.now_iso()
    doc: Doc = {
        "id": sb.new_id(),
        "account": call.account,
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
        for c in sb.mine("comments", call.account)
        if _visible(sb, c)
        and (not record_id or c["comment_record_id"] == record_id)
        and (not record_type or c["comment_record_type"] == record_type)
    ]
    page, meta = paginate(out, call.query)
    return 200, {"data": page, "meta": meta}


def _comment(sb: Sandbox, call: Call) -> Doc:
    doc = sb.find("comments", call.params["id"], call.account)
    if doc is None or not _visible(sb, doc):
        raise not_found("comment", call.params["id"])
    return doc


def retrieve_comment(sb: Sandbox, call: Call) -> Reply:
    return 200, {"data": _render_comment(_comment(sb, call))}


def mark_comment_read(sb: Sandbox, call: Call) -> Reply:
    doc = _comment(sb, call)
    if doc.get("read_at") is None:
        doc["read_at"] = doc["updated_at"] = sb.now_iso()
        sb.store.put("comments", doc["id"], doc)
    return 200, {"data": _render_comment(doc)}
