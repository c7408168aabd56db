"""The numbers the account owns: every number of a successful order, until it is released.

An owned number is derived from its order's number document (so it appears exactly when the order completes)
plus a settings document holding what was changed since (connection, tags, voice and messaging settings).
Releasing marks the order's number `released`: it leaves the owned numbers and goes back to the pool.
"""

from __future__ import annotations

import copy
import uuid
from typing import Any

import phonenumbers

from . import numbers as n
from .core import Call, Sandbox
from .errors import invalid, invalid_param, not_found
from .orders import number_status, processed_at
from .query import as_bool, as_list, as_str, body_object, opt_bool, opt_str, paginate, sub
from .state import Doc

Reply = tuple[int, Any]

FORWARDING_TYPES = ("always", "on-failure")
PAYMENT_METHODS = ("pay-per-minute", "channel")
SCREENING = ("disabled", "reject_calls", "flag_calls")
SORTS = ("purchased_at", "phone_number", "connection_name", "usage_payment_method")


def _drop_none(value: Any) -> Any:
    """Unset settings are left out where the spec does not allow null (slim list, release, voice)."""
    if isinstance(value, dict):
        return {k: _drop_none(v) for k, v in value.items() if v is not None}
    return value


def owned_id(num: Doc) -> str:
    """Telnyx phone number ids are large integers (as strings); derived from the order number's uuid."""
    return str(uuid.UUID(num["id"]).int % 10**19)


def _purchased_at(num: Doc) -> str:
    return processed_at(num)


def _settings(sb: Sandbox, num: Doc) -> Doc:
    """The number's settings, starting from what its order set."""
    pid = owned_id(num)
    doc = sb.store.get("phone_number_settings", pid)
    if doc is not None:
        return doc
    order = sb.find("number_orders", num["order_id"], num["account"]) or {}
    return {
        "id": pid,
        "connection_id": order.get("connection_id"),
        "messaging_profile_id": order.get("messaging_profile_id"),
        "billing_group_id": order.get("billing_group_id"),
        "customer_reference": order.get("customer_reference"),
        "address_id": None,
        "external_pin": None,
        "hd_voice_enabled": False,
        "tags": [],
        "voice": {
            "call_forwarding": {"call_forwarding_enabled": False, "forwarding_type": None, "forwards_to": None},
            "call_recording": {
                "inbound_call_recording_enabled": False,
                "inbound_call_recording_channels": "single",
                "inbound_call_recording_format": "wav",
            },
            "cnam_listing": {"cnam_listing_enabled": False, "cnam_listing_details": None},
            "media_features": {
                "accept_any_rtp_packets_enabled": False,
                "rtp_auto_adjust_enabled": True,
                "t38_fax_gateway_enabled": False,
            },
            "caller_id_name_enabled": False,
            "tech_prefix_enabled": False,
            "translated_number": None,
            "usage_payment_method": "pay-per-minute",
            "inbound_call_screening": "disabled",
        },
        "messaging_product": "P2P",
        "updated_at": _purchased_at(num),
    }


def _save(sb: Sandbox, settings: Doc) -> None:
    settings["updated_at"] = sb.now_iso()
    sb.store.put("phone_number_settings", settings["id"], settings)


def owned(sb: Sandbox, account: str) -> list[Doc]:
    """Order numbers that are the account's: completed, not released."""
    return [
        x
        for x in sb.mine("order_numbers", account)
        if not x.get("released") and not x.get("cancelled") and number_status(sb, x) == "success"
    ]


def _find(sb: Sandbox, call: Call) -> Doc:
    pid = call.params["id"]
    for x in owned(sb, call.account):
        if owned_id(x) == pid:
            return x
    raise not_found("phone number", pid)


def render(sb: Sandbox, num: Doc, *, slim: bool = False) -> dict[str, Any]:
    s = _settings(sb, num)
    voice = s["voice"]
    out: dict[str, Any] = {
        "id": s["id"],
        "record_type": "phone_number",
        "phone_number": num["phone_number"],
        "phone_number_type": num["phone_number_type"],
        "country_iso_alpha2": num["country_code"],
        "status": "active",
        "connection_id": s["connection_id"],
        "customer_reference": s["customer_reference"],
        "billing_group_id": s["billing_group_id"],
        "external_pin": s["external_pin"],
        "emergency_enabled": False,
        "emergency_address_id": None,
        "emergency_status": "disabled",
        "call_forwarding_enabled": bool(voice["call_forwarding"]["call_forwarding_enabled"]),
        "call_recording_enabled": bool(voice["call_recording"]["inbound_call_recording_enabled"]),
        "cnam_listing_enabled": bool(voice["cnam_listing"]["cnam_listing_enabled"]),
        "caller_id_name_enabled": bool(voice["caller_id_name_enabled"]),
        "t38_fax_gateway_enabled": bool(voice["media_features"]["t38_fax_gateway_enabled"]),
        "hd_voice_enabled": bool(s["hd_voice_enabled"]),
        "inbound_call_screening": voice["inbound_call_screening"],
        "purchased_at": _purchased_at(num),
        "activated_at": _purchased_at(num),
        "created_at": num["created_at"],
        "updated_at": max(s["updated_at"], _purchased_at(num)),
    }
    if not slim:
        out.update(
            tags=list(s["tags"]),
            connection_name=f"connection-{s['connection_id']}" if s["connection_id"] else None,
            messaging_profile_id=s["messaging_profile_id"],
            messaging_profile_name=f"profile-{s['messaging_profile_id']}" if s["messaging_profile_id"] else None,
            deletion_lock_enabled=False,
            source_type="number_order",
        )
        return out
    return _drop_none(out)  # type: ignore[no-any-return]


# ---- list / retrieve / update / release -----------------------------------------------------------


def _matches(sb: Sandbox, num: Doc, data: dict[str, Any], flt: dict[str, Any]) -> bool:
    digits = as_str(flt.get("phone_number"))
    if digits is not None:
        wanted = "".join(ch for ch in digits if ch.isdigit())
        if len(wanted) < 3 or wanted not in num["phone_number"]:
            return False
    countries = {c.upper() for c in as_list(flt.get("country_iso_alpha2"))}
    if countries and data["country_iso_alpha2"] not in countries:
        return False
    for key in ("connection_id", "customer_reference", "billing_group_id"):
        value = as_str(flt.get(key))
        if value is not None and str(data.get(key)) != value:
            return False
    state = as_str(flt.get("status"))
    if state is not None and state != data["status"]:
        return False
    tag = as_str(flt.get("tag"))
    if tag is not None and tag not in _settings(sb, num)["tags"]:
        return False
    number_type = as_str(sub(flt, "number_type").get("eq"))
    return number_type is None or data["phone_number_type"] == number_type


def _list(sb: Sandbox, call: Call, *, slim: bool) -> Reply:
    flt = sub(call.query, "filter")
    sort = as_str(call.query.get("sort"))
    if sort is not None and sort not in SORTS:
        raise invalid_param("sort", f"'sort' must be one of {', '.join(SORTS)}.")
    out = []
    for num in owned(sb, call.account):
        data = render(sb, num, slim=slim)
        if _matches(sb, num, data, flt):
            if slim and as_bool(call.query.get("include_tags"), "include_tags"):
                data["tags"] = list(_settings(sb, num)["tags"])
            out.append(data)
    if sort:
        out.sort(key=lambda d: str(d.get(sort) or ""))
    else:
        out.sort(key=lambda d: d["created_at"], reverse=True)
    page, meta = paginate(out, call.query)
    return 200, {"data": page, "meta": meta}


def list_(sb: Sandbox, call: Call) -> Reply:
    return _list(sb, call, slim=False)


def slim_list(sb: Sandbox, call: Call) -> Reply:
    return _list(sb, call, slim=True)


def retrieve(sb: Sandbox, call: Call) -> Reply:
    return 200, {"data": render(sb, _find(sb, call))}


def _opt_str_or_null(body: dict[str, Any], key: str) -> tuple[bool, str | None]:
    """(present, value): JSON null clears a setting, a missing key keeps it."""
    if key not in body:
        return False, None
    return True, opt_str(body, key)


def _tags(tags: Any) -> list[str]:
    """A tags array as given, duplicates dropped in order; anything but an array of strings is refused."""
    if not isinstance(tags, list) or not all(isinstance(t, str) for t in tags):
        raise invalid("/tags", "'tags' must be an array of strings.")
    return list(dict.fromkeys(tags))


def update(sb: Sandbox, call: Call) -> Reply:
    num = _find(sb, call)
    body = body_object(call.body)
    s = copy.deepcopy(_settings(sb, num))
    for key in ("connection_id", "billing_group_id", "customer_reference", "external_pin", "address_id"):
        present, value = _opt_str_or_null(body, key)
        if present:
            s[key] = value
    if s.get("address_id") and sb.find("addresses", s["address_id"], call.account) is None:
        raise invalid("/address_id", f"Address '{s['address_id']}' was not found.")
    hd = opt_bool(body, "hd_voice_enabled")
    if hd is not None:
        s["hd_voice_enabled"] = hd
    if "tags" in body:
        s["tags"] = _tags(body["tags"])
    _save(sb, s)
    return 200, {"data": render(sb, num)}


def release(sb: Sandbox, call: Call) -> Reply:
    """Release the number: it stops being the account's and goes back to the pool."""
    num = _find(sb, call)
    data = render(sb, num)
    num["released"] = True
    num["updated_at"] = sb.now_iso()
    sb.store.put("order_numbers", num["id"], num)
    sb.store.delete("phone_number_settings", data["id"])
    data.update(status="deleted", updated_at=num["updated_at"])
    # the release answer's schema is narrower than the phone number's
    for key in ("inbound_call_screening", "activated_at", "country_iso_alpha2", "emergency_status", "source_type"):
        data.pop(key, None)
    return 200, {"data": _drop_none(data)}


# ---- voice settings -------------------------------------------------------------------------------


def _render_voice(sb: Sandbox, num: Doc) -> dict[str, Any]:
    s = _settings(sb, num)
    voice: dict[str, Any] = {
        "id": s["id"],
        "record_type": "voice_settings",
        "phone_number": num["phone_number"],
        "connection_id": s["connection_id"],
        "customer_reference": s["customer_reference"],
        "emergency": {"emergency_enabled": False, "emergency_address_id": None, "emergency_status": "disabled"},
        **copy.deepcopy(s["voice"]),
    }
    voice.pop("caller_id_name_enabled")  # kept (the phone number answer shows it), but not a voice setting field
    return _drop_none(voice)  # type: ignore[no-any-return]


def _merge_object(target: dict[str, Any], value: Any, pointer: str, allowed: dict[str, type]) -> None:
    if not isinstance(value, dict):
        raise invalid(pointer, f"'{pointer.rsplit('/', 1)[-1]}' must be an object.")
    for key, sub_value in value.items():
        kind = allowed.get(key)
        if kind is None:
            raise invalid(f"{pointer}/{key}", f"'{key}' is not a setting here; known: {', '.join(allowed)}.")
        if sub_value is not None and not isinstance(sub_value, kind):
            raise invalid(f"{pointer}/{key}", f"'{key}' must be a {kind.__name__}.")
        target[key] = sub_value


def voice_retrieve(sb: Sandbox, call: Call) -> Reply:
    return 200, {"data": _render_voice(sb, _find(sb, call))}


def voice_update(sb: Sandbox, call: Call) -> Reply:
    num = _find(sb, call)
    body = body_object(call.body)
    s = copy.deepcopy(_settings(sb, num))
    voice = s["voice"]
    if "call_forwarding" in body:
        fwd = voice["call_forwarding"]
        _merge_object(
            fwd,
            body["call_forwarding"],
            "/call_forwarding",
            {"call_forwarding_enabled": bool, "forwarding_type": str, "forwards_to": str},
        )
        if fwd.get("forwarding_type") not in (None, *FORWARDING_TYPES):
            raise invalid("/call_forwarding/forwarding_type", f"Must be one of {', '.join(FORWARDING_TYPES)}.")
        if fwd.get("forwards_to") is not None and not n.is_valid(fwd["forwards_to"]):
            raise invalid(
                "/call_forwarding/forwards_to",
                f"'{fwd['forwards_to']}' is not a valid E.164 phone number.",
                code="10016",
                title="Phone number must be in +E.164 format",
            )
    if "call_recording" in body:
        _merge_object(
            voice["call_recording"],
            body["call_recording"],
            "/call_recording",
            {
                "inbound_call_recording_enabled": bool,
                "inbound_call_recording_channels": str,
                "inbound_call_recording_format": str,
            },
        )
    if "cnam_listing" in body:
        _merge_object(
            voice["cnam_listing"],
            body["cnam_listing"],
            "/cnam_listing",
            {"cnam_listing_enabled": bool, "cnam_listing_details": str},
        )
    if "media_features" in body:
        _merge_object(
            voice["media_features"],
            body["media_features"],
            "/media_features",
            {"accept_any_rtp_packets_enabled": bool, "rtp_auto_adjust_enabled": bool, "t38_fax_gateway_enabled": bool},
        )
    for key in ("caller_id_name_enabled", "tech_prefix_enabled"):
        value = opt_bool(body, key)
        if value is not None:
            voice[key] = value
    for key, choices in (("usage_payment_method", PAYMENT_METHODS), ("inbound_call_screening", SCREENING)):
        choice = opt_str(body, key)
        if choice is not None:
            if choice not in choices:
                raise invalid(f"/{key}", f"'{key}' must be one of {', '.join(choices)}.")
            voice[key] = choice
    present, translated = _opt_str_or_null(body, "translated_number")
    if present:
        voice["translated_number"] = translated
    _save(sb, s)
    return 200, {"data": _render_voice(sb, num)}


# ---- messaging settings ---------------------------------------------------------------------------


def _eligible(num: Doc) -> list[str]:
    return ["A2P", "P2P"] if num["country_code"] in ("US", "CA") else ["P2P"]


def _render_messaging(sb: Sandbox, num: Doc) -> dict[str, Any]:
    s = _settings(sb, num)
    rng = n.find_range(num["phone_number"])
    sms = rng is not None and "sms" in n.features_of(num["phone_number"], rng)
    parsed = phonenumbers.parse(num["phone_number"])
    kind = phonenumbers.number_type(parsed)
    return {
        "id": s["id"],
        "record_type": "messaging_settings",
        "phone_number": num["phone_number"],
        "country_code": num["country_code"],
        "messaging_profile_id": s["messaging_profile_id"],
        "messaging_product": s["messaging_product"],
        "eligible_messaging_products": _eligible(num),
        "traffic_type": s["messaging_product"],
        "type": "tollfree" if kind == phonenumbers.PhoneNumberType.TOLL_FREE else "longcode",
        "features": {
            "sms": {"domestic_two_way": True, "international_inbound": True, "international_outbound": True}
            if sms
            else None,
            "mms": None,
        },
        "created_at": _purchased_at(num),
        "updated_at": s["updated_at"],
    }


def messaging_retrieve(sb: Sandbox, call: Call) -> Reply:
    return 200, {"data": _render_messaging(sb, _find(sb, call))}


def messaging_update(sb: Sandbox, call: Call) -> Reply:
    num = _find(sb, call)
    body = body_object(call.body)
    s = copy.deepcopy(_settings(sb, num))
    present, profile = _opt_str_or_null(body, "messaging_profile_id")
    if present:
        s["messaging_profile_id"] = profile or None
    product = opt_str(body, "messaging_product")
    if product is not None:
        if product not in _eligible(num):
            raise invalid(
                "/messaging_product",
                f"'{product}' is not available for {num['phone_number']}; eligible: {', '.join(_eligible(num))}.",
            )
        s["messaging_product"] = product
    if "tags" in body:
        s["tags"] = _tags(body["tags"])
    _save(sb, s)
    return 200, {"data": _render_messaging(sb, num)}
