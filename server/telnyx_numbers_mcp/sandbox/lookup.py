"""Number lookup: carrier, line type and portability for any valid number, derived from the number itself so
the same number always gets the same answer."""

from __future__ import annotations

import hashlib
from typing import Any

import phonenumbers
from phonenumbers import PhoneNumberType

from . import outcomes
from .core import Call, Sandbox
from .errors import invalid_param
from .query import as_str

Reply = tuple[int, Any]

LOOKUP_TYPES = ("carrier", "caller-name")
KNOWN_CARRIER = ("T-Mobile USA", "mobile", True, "310", "260")
"""(carrier, line type, ported, MCC, MNC) that a lookup of the known-carrier test number always shows."""
_CARRIERS = ("Telnyx", "Verizon Wireless", "AT&T Mobility", "Vodafone", "Deutsche Telekom", "Orange", "EE")
_LINE_TYPES = {
    PhoneNumberType.MOBILE: "mobile",
    PhoneNumberType.FIXED_LINE: "fixed line",
    PhoneNumberType.FIXED_LINE_OR_MOBILE: "fixed line or mobile",
    PhoneNumberType.TOLL_FREE: "toll free",
    PhoneNumberType.PREMIUM_RATE: "premium rate",
    PhoneNumberType.SHARED_COST: "shared cost",
    PhoneNumberType.VOIP: "voip",
    PhoneNumberType.PERSONAL_NUMBER: "personal number",
    PhoneNumberType.PAGER: "pager",
    PhoneNumberType.UAN: "uan",
    PhoneNumberType.VOICEMAIL: "voicemail",
}


def _digest(e164: str) -> int:
    return int.from_bytes(hashlib.sha256(f"lookup/{e164}".encode()).digest()[:4], "big")


def retrieve(sb: Sandbox, call: Call) -> Reply:
    e164 = call.params["phone_number"]
    kind = as_str(call.query.get("type"))
    if kind is not None and kind not in LOOKUP_TYPES:
        raise invalid_param("type", f"'type' must be one of {', '.join(LOOKUP_TYPES)}.")
    try:
        parsed = phonenumbers.parse(e164)
    except phonenumbers.NumberParseException:
        parsed = None
    if parsed is None or not e164.startswith("+") or not phonenumbers.is_valid_number(parsed):
        raise invalid_param("phone_number", f"'{e164}' is not a valid E.164 phone number.")
    digest = _digest(e164)
    region = phonenumbers.region_code_for_number(parsed) or ""
    line = _LINE_TYPES.get(phonenumbers.number_type(parsed), "unknown")
    carrier = _CARRIERS[digest % len(_CARRIERS)]
    ported = digest % 4 == 0
    mcc, mnc = str(310 + digest % 10), f"{digest % 1000:03d}"
    if e164 == outcomes.KNOWN_CARRIER:  # the test number with a documented answer
        carrier, line, ported, mcc, mnc = KNOWN_CARRIER
    data: dict[str, Any] = {
        "record_type": "number_lookup",
        "phone_number": e164,
        "country_code": region,
        "national_format": phonenumbers.format_number(parsed, phonenumbers.PhoneNumberFormat.NATIONAL),
        "fraud": None,
        "carrier": {
            "name": carrier,
            "normalized_carrier": carrier,
            "type": line,
            "mobile_country_code": mcc,
            "mobile_network_code": mnc,
            "error_code": None,
        },
        "portability": {
            "lrn": e164[-10:],
            "ported_status": "Y" if ported else "N",
            "ported_date": "2021-06-01" if ported else "",
            "ocn": f"{digest % 10000:04d}",
            "line_type": line,
            "spid": f"{digest % 9000 + 1000}",
            "spid_carrier_name": carrier,
            "spid_carrier_type": "3",
            "altspid": "",
            "altspid_carrier_name": "",
            "altspid_carrier_type": "",
            "city": "",
            "state": "",
        },
    }
    if kind == "caller-name":
        data["caller_name"] = {"caller_name": f"SANDBOX {region} {e164[-4:]}", "error_code": ""}
    return 200, {"data": data}
