"""Advanced orders: requests fulfilled by Telnyx staff, so the simulator only moves them from pending to
processing after ADVANCED_REVIEW_SECONDS."""

from __future__ import annotations

from typing import Any

from .core import Call, Sandbox
from .errors import invalid
from .query import body_object, opt_str
from .state import Doc

Reply = tuple[int, Any]

ADVANCED_REVIEW_SECONDS = 60.0
ADVANCED_TYPES = ("local", "mobile", "toll_free", "shared_cost", "national", "landline")
ADVANCED_FEATURES = ("sms", "mms", "voice", "fax", "emergency")


def _advanced_fields(body: dict[str, Any], doc: Doc) -> None:
    """Validate the AdvancedOrder fields present in body and copy them onto doc."""
    if "area_code" in body:
        v = opt_str(body, "area_code") or ""
        if len(v) > 3:
            raise invalid("/area_code", "'area_code' must be at most 3 characters.")
        doc["area_code"] = v
    if "comments" in body:
        v = opt_str(body, "comments") or ""
        if len(v) > 255:
            raise invalid("/comments", "'comments' must be at most 255 characters.")
        doc["comments"] = v
    if "country_code" in body:
        v = opt_str(body, "country_code") or ""
        if len(v) != 2 or not v.isalpha():
            raise invalid("/country_code", "'country_code' must be an ISO 3166-1 alpha-2 code.")
        doc["country_code"] = v.upper()
    if "customer_reference" in body:
        doc["customer_reference"] = opt_str(body, "customer_reference") or ""
    if "features" in body:
        v = body["features"]
        if not isinstance(v, list) or any(f not in ADVANCED_FEATURES for f in v) or len(set(v)) != len(v):
            raise invalid("/features", f"'features' must be distinct values from {', '.join(ADVANCED_FEATURES)}.")
        doc["features"] = v
    if "phone_number_type" in body:
        v = body["phone_number_type"]
        if v not in ADVANCED_TYPES:
            raise invalid("/phone_number_type", f"'phone_number_type' must be one of {', '.join(ADVANCED_TYPES)}.")
        doc["phone_number_type"] = v
    if "quantity" in body:
        v = body["quantity"]
        if isinstance(v, bool) or not isinstance(v, int) or not 1 <= v <= 10000:
            raise invalid("/quantity", "'quantity' must be an integer from 1 to 10000.")
        doc["quantity"] = v
    if "requirement_group_id" in body:
        doc["requirement_group_id"] = opt_str(body, "requirement_group_id")


def render_advanced(sb: Sandbox, doc: Doc) -> dict[str, Any]:
    out = {k: v for k, v in doc.items() if k not in ("created_at", "account") and v is not None}
    out["phone_number_type"] = [doc["phone_number_type"]]
    review = sb.elapsed(doc["created_at"]) >= ADVANCED_REVIEW_SECONDS
    out["status"] = ["processing" if review else "pending"]
    return out


def create_advanced(sb: Sandbox, call: Call) -> Reply:
    body = body_object(call.body)
    doc: Doc = {
        "id": sb.new_id(),
        "account": call.account,
        "area_code": "",
        "comments": "",
        "country_code": "US",
        "customer_reference": "",
        "features": [],
        "orders": [],
        "phone_number_type": "local",
        "quantity": 1,
        "created_at": sb.now_iso(),
    }
    _advanced_fields(body, doc)
    sb.store.put("advanced_orders", doc["id"], doc)
    return 200, render_advanced(sb, doc)


def list_advanced(sb: Sandbox, call: Call) -> Reply:
    return 200, {"data": [render_advanced(sb, d) for d in sb.mine("advanced_orders", call.account)]}


def retrieve_advanced(sb: Sandbox, call: Call) -> Reply:
    return 200, render_advanced(
        sb, sb.get_or_404("advanced_orders", call.params["order_id"], "advanced order", call.account)
    )


def update_advanced_requirement_group(sb: Sandbox, call: Call) -> Reply:
    """Every field is optional in the spec, the group too: an empty body changes nothing."""
    doc = sb.get_or_404("advanced_orders", call.params["advanced_order_id"], "advanced order", call.account)
    _advanced_fields(body_object(call.body), doc)
    sb.store.put("advanced_orders", doc["id"], doc)
    return 200, render_advanced(sb, doc)
