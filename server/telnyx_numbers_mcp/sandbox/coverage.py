"""Read-only catalogue answers: country, inventory and network coverage, mobile network operators."""

from __future__ import annotations

import uuid
from typing import Any

from . import numbers as n
from . import pool
from .core import Call, Sandbox
from .errors import invalid_param, not_found
from .query import as_bool, as_int, as_list, as_str, paginate, sub
from .search import select_ranges

Reply = tuple[int, Any]

_NS = uuid.UUID("6d1c1f2e-3f0b-4f61-9f39-6c0c7a8b9e10")

UNSERVED = {
    "AF": "Afghanistan",
    "AX": "Aland Islands",
    "DZ": "Algeria",
    "AQ": "Antarctica",
    "KP": "North Korea",
}
"""Countries listed with no number coverage, as the real endpoint does."""


def _type_block(country: n.Country, number_type: str) -> dict[str, Any]:
    types = {r.phone_number_type for r in n.RANGES if r.iso == country.iso}
    if number_type not in types:
        return {}
    feats = [f for f in country.features if f in ("sms", "mms", "voice", "fax", "emergency")]
    if number_type == "toll_free":
        feats = [f for f in feats if f != "emergency"]
    return {
        "features": feats,
        "full_pstn_replacement": number_type == "local" and "emergency" in feats,
        "international_sms": "international_sms" in country.features,
        "p2p": "sms" in feats,
        "quickship": country.quickship and number_type == "local",
        "reservable": country.reservable,
    }


def country_entry(code: str) -> dict[str, Any] | None:
    country = n.COUNTRIES.get(code)
    if country is None:
        if code not in UNSERVED:
            return None
        return {
            "code": code,
            "features": [],
            "international_sms": False,
            "inventory_coverage": False,
            "local": {},
            "mobile": {},
            "national": {},
            "numbers": False,
            "p2p": False,
            "phone_number_type": [],
            "quickship": False,
            "region": None,
            "reservable": False,
            "shared_cost": {},
            "toll_free": {},
        }
    types = sorted({r.phone_number_type for r in n.RANGES if r.iso == code})
    return {
        "code": code,
        "features": [f for f in country.features if f in ("sms", "mms", "voice", "fax", "emergency")],
        "international_sms": "international_sms" in country.features,
        "inventory_coverage": True,
        "local": _type_block(country, "local"),
        "mobile": _type_block(country, "mobile"),
        "national": {},
        "shared_cost": {},
        "toll_free": _type_block(country, "toll_free"),
        "numbers": True,
        "p2p": "sms" in country.features,
        "phone_number_type": types,
        "quickship": country.quickship,
        "region": country.region,
        "reservable": country.reservable,
    }


def country_coverage(sb: Sandbox, call: Call) -> Reply:
    names = {**{c.iso: c.name for c in n.COUNTRIES.values()}, **UNSERVED}
    data = {names[code]: country_entry(code) for code in sorted(names, key=lambda c: names[c])}
    return 200, {"data": data}


def country_coverage_one(sb: Sandbox, call: Call) -> Reply:
    code = call.params["country_code"].upper()
    entry = country_entry(code)
    if entry is None:
        raise not_found("country", call.params["country_code"])
    return 200, {"data": entry}


def inventory_coverage(sb: Sandbox, call: Call) -> Reply:
    """Groups of available inventory; counts are stable per group minus what any account holds."""
    flt = sub(call.query, "filter")
    iso = (as_str(flt.get("country_code")) or "US").upper()
    number_type = as_str(flt.get("phone_number_type")) or "local"
    group_by = as_str(flt.get("groupBy")) or "national_destination_code"
    if group_by not in ("locality", "npa", "national_destination_code"):
        raise invalid_param("filter[groupBy]", f"Cannot group by '{group_by}'.")
    want_count = as_bool(flt.get("count"), "filter[count]")
    npa = as_int(flt.get("npa"), "filter[npa]")
    as_int(flt.get("nxx"), "filter[nxx]")
    features = set(as_list(flt.get("features")))
    country = n.COUNTRIES.get(iso)
    ranges = select_ranges(iso, number_type, admin=as_str(flt.get("administrative_area")))
    if npa is not None:
        ranges = [r for r in ranges if r.ndc == str(npa)]
    if country is None or not features <= set(country.features):
        ranges = []
    held = pool.held_numbers(sb)
    groups: dict[str, dict[str, Any]] = {}
    for r in ranges:
        key = r.locality if group_by == "locality" else r.ndc
        base = 150 + n._digest("inventory", sb.seed, r.iso, r.ndc, r.locality) % 850
        taken = sum(1 for e in held if e.startswith("+" + n.COUNTRIES[r.iso].dial + r.ndc))
        g = groups.setdefault(
            key,
            {
                "record_type": "inventory_coverage_group",
                "group": key or r.ndc,
                "group_type": group_by,
                "phone_number_type": number_type,
                "number_type": "toll-free" if number_type == "toll_free" else "did",
                "coverage_type": "number",
                "number_range": 1,
                "advance_requirements": bool(country and country.needs_documents),
                "count": 0,
            },
        )
        if r.admin_area:
            g["administrative_area"] = r.admin_area
        g["count"] += max(0, base - taken)
    data = list(groups.values())
    if not want_count:
        for g in data:
            g.pop("count")
    return 200, {"data": data, "meta": {"total_results": len(data)}}


_SITES = [
    ("ch1", "Chicago, IL", "CH1", "AMER", ["cloud_vpn", "private_wireless_gateway", "virtual_cross_connect"]),
    ("ny1", "New York, NY", "NY1", "AMER", ["cloud_vpn", "virtual_cross_connect"]),
    ("dc2", "Ashburn, VA", "DC2", "AMER", ["cloud_vpn", "private_wireless_gateway", "virtual_cross_connect"]),
    ("sv1", "San Jose, CA", "SV1", "AMER", ["cloud_vpn", "virtual_cross_connect"]),
    ("tr1", "Toronto, ON", "TR1", "AMER", ["virtual_cross_connect"]),
    ("ld1", "London, UK", "LD1", "EMEA", ["cloud_vpn", "private_wireless_gateway", "virtual_cross_connect"]),
    ("fr5", "Frankfurt, DE", "FR5", "EMEA", ["cloud_vpn", "virtual_cross_connect"]),
    ("am3", "Amsterdam, NL", "AM3", "EMEA", ["private_wireless_gateway", "virtual_cross_connect"]),
    ("sy4", "Sydney, AU", "SY4", "APAC", ["cloud_vpn", "virtual_cross_connect"]),
    ("sg1", "Singapore, SG", "SG1", "APAC", ["virtual_cross_connect"]),
]


def network_coverage(sb: Sandbox, call: Call) -> Reply:
    flt = sub(call.query, "filter")
    loc = {k[len("location.") :]: as_str(v) for k, v in flt.items() if k.startswith("location.")}
    loc.update({k: as_str(v) for k, v in sub(flt, "location").items()})
    svc_raw = sub(call.query, "filters").get("available_services")
    svc = as_str(svc_raw.get("contains")) if isinstance(svc_raw, dict) else as_str(svc_raw)
    out = []
    for code, name, pop, region, services in _SITES:
        location = {"code": code, "name": name, "pop": pop, "region": region, "site": pop}
        if any(v and str(location.get(k, "")).lower() != v.lower() for k, v in loc.items()):
            continue
        if svc and svc not in services:
            continue
        out.append({"record_type": "network_coverage", "location": location, "available_services": services})
    page, meta = paginate(out, call.query)
    return 200, {"data": page, "meta": meta}


_MNOS = [
    ("US", "AT&T Mobility", "310", "410", "USACG", True),
    ("US", "T-Mobile USA", "310", "260", "USAW6", True),
    ("US", "Verizon Wireless", "311", "480", "USAVZ", False),
    ("CA", "Rogers Wireless", "302", "720", "CANRW", True),
    ("CA", "Bell Mobility", "302", "610", "CANBM", True),
    ("GB", "Vodafone UK", "234", "15", "GBRVF", True),
    ("GB", "EE", "234", "30", "GBRME", True),
    ("DE", "Telekom Deutschland", "262", "01", "DEUD1", True),
    ("DE", "Vodafone Germany", "262", "02", "DEUD2", False),
    ("FR", "Orange France", "208", "01", "FRAF1", True),
    ("FR", "SFR", "208", "10", "FRAF2", True),
    ("AU", "Telstra", "505", "01", "AUSTA", True),
    ("NL", "KPN", "204", "08", "NLDPT", True),
]


def mobile_network_operators(sb: Sandbox, call: Call) -> Reply:
    flt = sub(call.query, "filter")
    exact = {k: as_str(flt.get(k)) for k in ("country_code", "mcc", "mnc", "tadig")}
    name = sub(flt, "name")
    enabled = as_bool(flt.get("network_preferences_enabled"), "filter[network_preferences_enabled]")
    out = []
    for cc, op_name, mcc, mnc, tadig, pref in _MNOS:
        item = {
            "id": str(uuid.uuid5(_NS, tadig)),
            "record_type": "mobile_network_operator",
            "country_code": cc,
            "name": op_name,
            "mcc": mcc,
            "mnc": mnc,
            "tadig": tadig,
            "network_preferences_enabled": pref,
        }
        if any(v and str(item[k]).lower() != v.lower() for k, v in exact.items()):
            continue
        low = op_name.lower()
        if name.get("contains") and str(name["contains"]).lower() not in low:
            continue
        if name.get("starts_with") and not low.startswith(str(name["starts_with"]).lower()):
            continue
        if name.get("ends_with") and not low.endswith(str(name["ends_with"]).lower()):
            continue
        if enabled is not None and pref != enabled:
            continue
        out.append(item)
    page, meta = paginate(out, call.query)
    return 200, {"data": page, "meta": meta}
