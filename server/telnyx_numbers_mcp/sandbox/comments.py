"""Comments on sub number orders and requirement groups, including the ones Telnyx staff leave."""

from __future__ import annotations

from typing import Any

from .core import Call, Sandbox
from .errors import invalid, invalid_param
from .query import as_str, body_object, paginate, req_str, sub
from .state import Doc

Reply = tuple[int, Any]

COMMENT_TYPES = ("sub_number_order", "requirement_group")


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
