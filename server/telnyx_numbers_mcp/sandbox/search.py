"""GET /available_phone_numbers, GET /available_phone_number_blocks and POST /numbers_features."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from . import numbers as n
from . import outcomes, pool
from .core import Call, Sandbox
from .errors import invalid, invalid_param
from .query import as_bool, as_int, as_list, as_str, body_object, req_list, sub

Reply = tuple[int, Any]

PHONE_NUMBER_TYPES = ("local", "toll_free", "mobile", "national", "shared_cost")
MAX_LIMIT = 1000


def pattern_digits(pattern: str | None, dial: str) -> str | None:
    """Normalise a pattern filter; a leading +<country code> is dropped so it matches the national number.
    None when it is not a digit pattern (Telnyx refuses those; the caller names the field)."""
    if not pattern:
        return ""
    text = pattern.strip()
    if text.startswith("+"):
        text = text[1:]
        if text.startswith(dial):
            text = text[len(dial) :]
    digits = "".join(ch for ch in text if ch.isascii() and ch.isdigit())
    return digits if digits == text.replace(" ", "").replace("-", "") else None


def _digits(pattern: str | None, dial: str, key: str) -> str:
    digits = pattern_digits(pattern, dial)
    if digits is None:
        raise invalid_param(f"filter[phone_number][{key}]", f"'{pattern}' is not a digit pattern.")
    return digits


def select_ranges(
    iso: str, number_type: str, ndc: str | None = None, locality: str | None = None, admin: str | None = None
) -> list[n.NumberRange]:
    """Inventory ranges matching the location filters (case-insensitive)."""
    out = []
    for r in n.RANGES:
        if r.iso != iso or r.phone_number_type != number_type:
            continue
        if ndc and r.ndc != ndc:
            continue
        if locality and r.locality.lower() != locality.strip().lower():
            continue
        if admin and r.admin_area.lower() != admin.strip().lower():
            continue
        out.append(r)
    return out


def render_number(c: n.Candidate, best_effort: bool) -> dict[str, Any]:
    upfront, monthly = n.costs_of(c.range)
    return {
        "record_type": "available_phone_number",
        "phone_number": c.e164,
        "vanity_format": "",
        "best_effort": best_effort,
        "quickship": n.is_quickship(c.e164, c.range),
        "reservable": n.is_reservable(c.e164, c.range),
        "region_information": n.region_information(c.range),
        "cost_information": {"upfront_cost": upfront, "monthly_cost": monthly, "currency": "USD"},
        "features": [{"name": f} for f in n.features_of(c.e164, c.range)],
    }


def search_numbers(
    sb: Sandbox, flt: dict[str, Any], default_limit: int = 20, *, account: str | None = None
) -> tuple[list[n.Candidate], int]:
    """Run the number search; returns (candidates, how many of them are best-effort extras)."""
    iso = (as_str(flt.get("country_code")) or "US").upper()
    number_type = as_str(flt.get("phone_number_type")) or "local"
    if number_type not in PHONE_NUMBER_TYPES:
        raise invalid_param("filter[phone_number_type]", f"'{number_type}' is not a phone number type.")
    features = as_list(flt.get("features"))
    bad = [f for f in features if f not in n.ALL_FEATURES]
    if bad:
        raise invalid_param("filter[features]", f"Unknown feature '{bad[0]}'.")
    # the spec sets no bounds: 0 or less is the default, more than the simulator makes is all it makes
    limit = as_int(flt.get("limit"), "filter[limit]", default=default_limit)
    assert limit is not None
    limit = min(limit, MAX_LIMIT) if limit > 0 else default_limit
    reservable = as_bool(flt.get("reservable"), "filter[reservable]")
    quickship = as_bool(flt.get("quickship"), "filter[quickship]")
    best_effort = as_bool(flt.get("best_effort"), "filter[best_effort]")
    exclude_held = as_bool(flt.get("exclude_held_numbers"), "filter[exclude_held_numbers]")
    ndc = as_str(flt.get("national_destination_code"))
    locality = as_str(flt.get("locality"))
    admin = as_str(flt.get("administrative_area"))
    country = n.COUNTRIES.get(iso)
    if country is None:
        return [], 0
    pat_in = sub(flt, "phone_number")
    pattern = n.Pattern(
        **{key: _digits(as_str(pat_in.get(key)), country.dial, key) for key in ("starts_with", "contains", "ends_with")}
    )
    held = pool.held_numbers(sb, viewer=account)

    def accept(c: n.Candidate) -> bool:
        # a number this account reserved is still offered to it, unless exclude_held_numbers
        if c.e164 in held and not (held[c.e164] == "own_reserved" and not exclude_held):
            return False
        if reservable is not None and n.is_reservable(c.e164, c.range) != reservable:
            return False
        if quickship is not None and n.is_quickship(c.e164, c.range) != quickship:
            return False
        return set(features) <= set(n.features_of(c.e164, c.range))

    ranges = select_ranges(iso, number_type, ndc, locality, admin)
    found = _test_numbers(ranges, pattern, bool(ndc), accept)[:limit]  # first, when the search aims at them
    if len(found) < limit:
        found += n.generate(sb.seed, ranges, pattern, bool(ndc), accept, limit - len(found))
    extra = 0
    if best_effort and len(found) < limit and (ndc or locality):
        seen = {c.e164 for c in found}
        wider = [r for r in select_ranges(iso, number_type, None, None, admin) if r not in ranges]
        wider = wider or [r for r in select_ranges(iso, number_type) if r not in ranges]
        more = n.generate(
            sb.seed, wider, pattern, False, lambda c: accept(c) and c.e164 not in seen, limit - len(found)
        )
        extras = list(more)
        extra = len(extras)
        found.extend(extras)
    return found, extra


def _test_numbers(
    ranges: list[n.NumberRange], pattern: n.Pattern, sub_only: bool, accept: Callable[[n.Candidate], bool]
) -> list[n.Candidate]:
    """The test numbers a search matches: only when its pattern aims at them (it includes 55501)."""
    if not any(outcomes.MARKER in part for part in (pattern.starts_with, pattern.contains, pattern.ends_with)):
        return []
    out = []
    for fixed in outcomes.TEST_NUMBERS:
        rng = n.find_range(fixed.e164)
        if rng is None or rng not in ranges:
            continue
        cand = n.Candidate(fixed.e164, fixed.e164[1 + len(n.COUNTRIES[rng.iso].dial) :], rng)
        if n.matches(cand.national, rng, pattern, sub_only) and accept(cand):
            out.append(cand)
    return out


def list_available_numbers(sb: Sandbox, call: Call) -> Reply:
    found, extra = search_numbers(sb, sub(call.query, "filter"), account=call.account)
    data = [render_number(c, i >= len(found) - extra) for i, c in enumerate(found)]
    return 200, {"data": data, "meta": {"total_results": len(data), "best_effort_results": extra}}


def list_available_blocks(sb: Sandbox, call: Call) -> Reply:
    """Blocks start on a number ending in 00 and span 10 or 100 numbers, all of them free."""
    flt = sub(call.query, "filter")
    iso = (as_str(flt.get("country_code")) or "US").upper()
    number_type = as_str(flt.get("phone_number_type")) or "local"
    if number_type not in PHONE_NUMBER_TYPES:
        raise invalid_param("filter[phone_number_type]", f"'{number_type}' is not a phone number type.")
    ndc = as_str(flt.get("national_destination_code"))
    ranges = select_ranges(iso, number_type, ndc, as_str(flt.get("locality")))
    held = pool.held_numbers(sb)
    data: list[dict[str, Any]] = []

    def free_block(c: n.Candidate) -> bool:
        return all(e not in held for e in n.block_numbers(c.e164, 100)) and n.is_valid(n.block_numbers(c.e164, 100)[-1])

    for c in n.generate(sb.seed + 7, ranges, n.Pattern(ends_with="00"), False, free_block, 10):
        size = 100 if int(c.e164[-3]) % 2 == 0 else 10  # a start always begins the same block, whatever the query
        upfront, monthly = n.costs_of(c.range)
        data.append(
            {
                "record_type": "available_phone_number_block",
                "phone_number": c.e164,
                "range": size,
                "region_information": n.region_information(c.range),
                "cost_information": {
                    "upfront_cost": f"{float(upfront) * size:.2f}",
                    "monthly_cost": f"{float(monthly) * size:.2f}",
                    "currency": "USD",
                },
                "features": [{"name": f} for f in n.features_of(c.e164, c.range)],
            }
        )
    return 200, {"data": data, "meta": {"total_results": len(data), "best_effort_results": 0}}


def numbers_features(sb: Sandbox, call: Call) -> Reply:
    body = body_object(call.body)
    items = req_list(body, "phone_numbers")
    data = []
    for i, e164 in enumerate(items):
        if not isinstance(e164, str) or not n.is_valid(e164):
            raise invalid(
                f"/phone_numbers/{i}",
                f"'{e164}' is not a valid E.164 phone number.",
                code="10016",
                title="Phone number must be in +E.164 format",
            )
        rng = n.find_range(e164)
        data.append({"phone_number": e164, "features": n.features_of(e164, rng) if rng else ["voice"]})
    return 200, {"data": data}
