"""Addresses: the account's address book (requirement groups point at them) and address validation."""

from __future__ import annotations

import re
import uuid
from typing import Any

from . import numbers as n
from .core import Call, Sandbox
from .errors import ApiError, invalid, missing
from .query import as_str, body_object, opt_bool, opt_str, paginate, req_str, sub
from .state import Doc

Reply = tuple[int, Any]

REQUIRED = ("business_name", "first_name", "last_name", "street_address", "locality", "country_code")
OPTIONAL = ("administrative_area", "borough", "customer_reference", "extended_address", "neighborhood", "postal_code")
POSTAL_CODES = {
    "US": re.compile(r"^\d{5}(-\d{4})?$"),
    "CA": re.compile(r"^[A-Z]\d[A-Z] ?\d[A-Z]\d$"),
    "GB": re.compile(r"^[A-Z]{1,2}\d[A-Z\d]? ?\d[A-Z]{2}$"),
    "DE": re.compile(r"^\d{5}$"),
    "FR": re.compile(r"^\d{5}$"),
    "AU": re.compile(r"^\d{4}$"),
}


def _country(body: dict[str, Any], required: bool = True) -> str:
    value = req_str(body, "country_code") if required else (opt_str(body, "country_code") or "")
    if len(value) != 2 or not value.isalpha():
        raise invalid("/country_code", "'country_code' must be an ISO 3166-1 alpha-2 code, e.g. GB.")
    return value.upper()


def _postal_problem(country: str, postal: str | None) -> str | None:
    pattern = POSTAL_CODES.get(country)
    if postal is None or pattern is None or pattern.match(postal.strip().upper()):
        return None
    return f"'{postal}' is not a valid postal code in {country}."


def create(sb: Sandbox, call: Call) -> Reply:
    body = body_object(call.body)
    doc: Doc = {key: req_str(body, key) for key in REQUIRED}
    doc["country_code"] = _country(body)
    for key in OPTIONAL:
        doc[key] = opt_str(body, key)
    phone = opt_str(body, "phone_number")
    if phone is not None and not n.is_valid(phone):
        raise invalid(
            "/phone_number",
            f"'{phone}' is not a valid E.164 phone number.",
            code="10016",
            title="Phone number must be in +E.164 format",
        )
    doc["phone_number"] = phone
    validate = opt_bool(body, "validate_address")
    if validate is not False:
        problem = _postal_problem(doc["country_code"], doc.get("postal_code"))
        if problem:
            raise invalid("/postal_code", problem, code="20208", title="Invalid postal code")
    book = opt_bool(body, "address_book")
    now = sb.now_iso()
    doc.update(
        id=str(uuid.UUID(sb.new_id()).int % 10**19),
        account=call.account,
        record_type="address",
        address_book=True if book is None else book,
        validate_address=validate is not False,
        created_at=now,
        updated_at=now,
    )
    sb.store.put("addresses", doc["id"], doc)
    return 200, {"data": _render(doc)}


def _render(doc: Doc) -> dict[str, Any]:
    return {k: v for k, v in doc.items() if v is not None and k != "account"}


def list_(sb: Sandbox, call: Call) -> Reply:
    flt = sub(call.query, "filter")
    ref = as_str(flt.get("customer_reference"))
    street = as_str(sub(flt, "street_address").get("contains"))
    out = [
        _render(a)
        for a in sb.mine("addresses", call.account)
        if (ref is None or a.get("customer_reference") == ref)
        and (not street or street.lower() in a["street_address"].lower())
    ]
    sort = as_str(call.query.get("sort"))
    if sort:
        key = sort.lstrip("-")
        out.sort(key=lambda a: str(a.get(key, "")), reverse=sort.startswith("-"))
    page, meta = paginate(out, call.query, status=400)  # GET /addresses documents 400, not 422
    return 200, {"data": page, "meta": meta}


def retrieve(sb: Sandbox, call: Call) -> Reply:
    return 200, {"data": _render(sb.get_or_404("addresses", call.params["id"], "address", call.account))}


def delete(sb: Sandbox, call: Call) -> Reply:
    """An address that a requirement group relies on cannot be deleted."""
    doc = sb.get_or_404("addresses", call.params["id"], "address", call.account)
    users = [
        g["id"]
        for g in sb.mine("requirement_groups", call.account)
        if any(v.get("field_value") == doc["id"] for v in g.get("values", []))
    ]
    if users:
        raise ApiError(
            422,
            [
                {
                    "code": "10015",
                    "title": "Invalid value",
                    "detail": f"Address '{doc['id']}' is used by requirement group(s) {', '.join(users)}.",
                    "source": {"parameter": "id"},
                }
            ],
        )
    sb.store.delete("addresses", doc["id"])
    return 200, {"data": _render(doc)}


def validate(sb: Sandbox, call: Call) -> Reply:
    """`valid` when the postal code fits the country; the suggestion is the normalised address."""
    body = body_object(call.body)
    for key in ("street_address", "postal_code"):
        if not body.get(key):
            raise missing(f"/{key}")
    country = _country(body)
    suggested = {
        "street_address": req_str(body, "street_address").strip(),
        "postal_code": req_str(body, "postal_code").strip().upper(),
        "country_code": country,
    }
    for key in ("extended_address", "locality", "administrative_area"):
        value = opt_str(body, key)
        if value:
            suggested[key] = value.strip()
    problem = _postal_problem(country, suggested["postal_code"])
    data: dict[str, Any] = {"record_type": "address_validation", "result": "invalid" if problem else "valid"}
    data["suggested"] = suggested
    if problem:  # the spec's error items here carry a description, not a detail
        data["errors"] = [
            {
                "code": "20208",
                "title": "Invalid postal code",
                "description": problem,
                "source": {"pointer": "/postal_code"},
            }
        ]
    return 200, {"data": data}
