"""The regulatory-requirements catalogue: what a country and number type demand before a number is activated,
and the read-only endpoints that describe it (regulatory requirements, requirement types, requirements).

Requirements are keyed by (country, number type); "*" is every type of that country. Ids are stable uuid5s,
so the same requirement has the same id in every answer and across restarts.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Any

import phonenumbers
from phonenumbers import PhoneNumberType

from . import numbers as n
from . import outcomes
from .core import Call, Sandbox
from .errors import invalid_param, not_found
from .query import as_list, as_str, paginate, sub

Reply = tuple[int, Any]

_NS = uuid.UUID("0f6a4d1e-6a53-4c1e-9d4b-2b1e6c1f7a00")
CATALOGUE_DATE = "2024-01-01T00:00:00.000000Z"
FIELD_TYPES = ("address", "document", "textual")
_DOC_TYPES = ("local", "national", "toll_free")  # the /requirements spec knows no other number types


@dataclass(frozen=True)
class Requirement:
    """One thing to supply (an address, a document, a text value) for numbers of a country and type."""

    iso: str
    number_type: str  # "*" = every type of the country
    field_type: str  # address | document | textual
    name: str
    description: str
    example: str

    @property
    def id(self) -> str:
        # country-wide ids keep the form they always had, so existing orders keep their requirement ids
        key = (
            f"{self.iso}/{self.field_type}"
            if self.number_type == "*"
            else f"{self.iso}/{self.number_type}/{self.field_type}"
        )
        return str(uuid.uuid5(_NS, key))

    def acceptance_criteria(self) -> dict[str, Any]:
        if self.field_type == "address":
            return {"locality_limit": f"An address in {n.COUNTRIES[self.iso].name}"}
        if self.field_type == "textual":
            return {"min_length": 2, "max_length": 200}
        return {"time_limit": "Issued within the last 6 months"}


CATALOGUE: tuple[Requirement, ...] = (
    Requirement("DE", "*", "address", "Address in Germany", "A street address in Germany.", "Unter den Linden 1"),
    Requirement("DE", "*", "document", "Proof of address", "A utility bill or lease for that address.", "doc-id"),
    Requirement("FR", "*", "address", "Address in France", "A street address in France.", "1 Rue de Rivoli"),
    Requirement("FR", "*", "document", "Proof of identity", "A passport or national ID card.", "doc-id"),
    Requirement("AU", "*", "address", "Address in Australia", "A street address in Australia.", "1 George St"),
    Requirement("AU", "*", "textual", "Australian Business Number", "The end user's ABN.", "51824753556"),
    Requirement("GB", "mobile", "address", "Address in the United Kingdom", "The end user's UK address.", "address-id"),
    Requirement("GB", "mobile", "textual", "End user name", "The person or company using the number.", "Ada Ltd"),
)


TEST_NUMBER_REQUIREMENTS: tuple[Requirement, ...] = (
    Requirement("US", "local", "address", "Address in the United States", "The end user's US address.", "address-id"),
    Requirement("US", "local", "document", "Proof of address", "A utility bill or lease for that address.", "doc-id"),
)
"""What the regulatory test number (outcomes.REGULATORY) needs; no other US number needs anything."""


def requirements_for(iso: str, number_type: str) -> list[Requirement]:
    """What numbers of this country and type need; [] when nothing is needed."""
    iso = iso.upper()
    return [r for r in CATALOGUE if r.iso == iso and r.number_type in ("*", number_type)]


def requirements_for_number(e164: str, iso: str, number_type: str) -> list[Requirement]:
    """What this number needs: its country's and type's requirements, or the test number's own."""
    return list(TEST_NUMBER_REQUIREMENTS) if e164 == outcomes.REGULATORY else requirements_for(iso, number_type)


def groupable(iso: str, number_type: str) -> list[Requirement]:
    """Requirements a group for this country and type may hold values for (US local groups may also hold
    the test number's, so a group can satisfy it)."""
    extra = [r for r in TEST_NUMBER_REQUIREMENTS if (r.iso, r.number_type) == (iso.upper(), number_type)]
    return requirements_for(iso, number_type) + extra


def by_id(requirement_id: str) -> Requirement | None:
    return next((r for r in (*CATALOGUE, *TEST_NUMBER_REQUIREMENTS) if r.id == requirement_id), None)


def _types_of(iso: str) -> list[str]:
    return sorted({r.phone_number_type for r in n.RANGES if r.iso == iso})


# ---- rendering ------------------------------------------------------------------------------------


def render_requirement_type(req: Requirement) -> dict[str, Any]:
    return {
        "id": req.id,
        "record_type": "requirement_type",
        "name": req.name,
        "type": req.field_type,
        "description": req.description,
        "example": req.example,
        "acceptance_criteria": req.acceptance_criteria(),
        "created_at": CATALOGUE_DATE,
        "updated_at": CATALOGUE_DATE,
    }


def _regulatory_entry(iso: str, number_type: str, reqs: list[Requirement]) -> dict[str, Any]:
    return {
        "action": "ordering",
        "country_code": iso,
        "phone_number_type": number_type,
        "regulatory_requirements": [
            {
                "id": r.id,
                "name": r.name,
                "field_type": r.field_type,
                "description": r.description,
                "example": r.example,
                "acceptance_criteria": {k: str(v) for k, v in r.acceptance_criteria().items()},
            }
            for r in reqs
        ],
    }


def _docreq_id(iso: str, number_type: str) -> str:
    return str(uuid.uuid5(_NS, f"requirements/{iso}/{number_type}"))


def _docreqs() -> list[dict[str, Any]]:
    """The /requirements list: one record per country and type that has requirements."""
    out = []
    for iso in sorted({r.iso for r in CATALOGUE}):
        for number_type in _types_of(iso):
            reqs = requirements_for(iso, number_type)
            if not reqs or number_type not in _DOC_TYPES:
                continue
            out.append(
                {
                    "id": _docreq_id(iso, number_type),
                    "record_type": "requirement",
                    "action": "ordering",
                    "country_code": iso,
                    "phone_number_type": number_type,
                    "locality": "",
                    "version": 1,
                    "effective_start_at": CATALOGUE_DATE,
                    "effective_end_at": None,
                    "requirement_types": [render_requirement_type(r) for r in reqs],
                    "created_at": CATALOGUE_DATE,
                    "updated_at": CATALOGUE_DATE,
                }
            )
    return out


# ---- handlers -------------------------------------------------------------------------------------


_NUMBER_TYPES = {
    PhoneNumberType.MOBILE: "mobile",
    PhoneNumberType.TOLL_FREE: "toll_free",
    PhoneNumberType.SHARED_COST: "shared_cost",
    PhoneNumberType.UAN: "national",
    PhoneNumberType.PERSONAL_NUMBER: "national",
}


def number_facts(value: str, parameter: str) -> tuple[str, str, list[dict[str, str]]]:
    """(country, number type, region information) of any valid E.164 number: the inventory's facts for the
    numbers the sandbox sells, libphonenumber's for the rest (e.g. the spec's Swiss examples)."""
    if not (value.startswith("+") and value[1:].isascii() and value[1:].isdigit() and n.is_valid(value)):
        raise invalid_param(parameter, f"'{value}' is not a valid E.164 phone number.")
    rng = n.find_range(value)
    if rng is not None:
        return rng.iso, rng.phone_number_type, n.region_information(rng)
    parsed = phonenumbers.parse(value)
    iso = phonenumbers.region_code_for_number(parsed) or ""
    return (
        iso,
        _NUMBER_TYPES.get(phonenumbers.number_type(parsed), "local"),
        [{"region_type": "country_code", "region_name": iso}],
    )


def regulatory_requirements(sb: Sandbox, call: Call) -> Reply:
    """By phone number, by requirement group, or by country and number type. Countries the sandbox does not
    sell in need nothing it knows of: their entries list no requirements."""
    flt = sub(call.query, "filter")
    phone = as_str(flt.get("phone_number"))
    group_id = as_str(flt.get("requirement_group_id"))
    iso = as_str(flt.get("country_code"))
    number_type = as_str(flt.get("phone_number_type"))
    action = as_str(flt.get("action"))
    if action and action != "ordering":
        return 200, {"data": []}  # the simulator knows ordering requirements only
    if phone:
        iso, number_type, _ = number_facts(phone, "filter[phone_number]")
        return 200, {"data": [_regulatory_entry(iso, number_type, requirements_for_number(phone, iso, number_type))]}
    if group_id:
        group = sb.find("requirement_groups", group_id, call.account)
        if group is None:
            raise invalid_param("filter[requirement_group_id]", f"Requirement group '{group_id}' was not found.")
        iso, number_type = group["country_code"], group["phone_number_type"]
    if not iso:  # no filter is required: every country and number type with requirements
        every = [(r.iso, t) for r in CATALOGUE for t in _types_of(r.iso) if r.number_type in ("*", t)]
        wanted = [(c, t) for c, t in dict.fromkeys(every) if not number_type or t == number_type]
        return 200, {"data": [_regulatory_entry(c, t, requirements_for(c, t)) for c, t in wanted]}
    if len(iso) != 2 or not iso.isascii() or not iso.isalpha():
        raise invalid_param("filter[country_code]", f"'{iso}' is not an ISO 3166-1 alpha-2 country code.")
    iso = iso.upper()
    types = [number_type] if number_type else (_types_of(iso) or ["local", "mobile", "toll_free"])
    return 200, {"data": [_regulatory_entry(iso, t, requirements_for(iso, t)) for t in types]}


def _number_requirement(r: Requirement) -> dict[str, Any]:
    criteria: dict[str, Any] = {"field_type": r.field_type}
    if r.field_type == "address":
        criteria["locality_limit"] = r.acceptance_criteria()["locality_limit"]
    return {
        "id": r.id,
        "record_type": "regulatory_requirement",
        "label": r.name,
        "field_type": r.field_type,
        "description": r.description,
        "example": r.example,
        "acceptance_criteria": criteria,
    }


def phone_numbers_regulatory_requirements(sb: Sandbox, call: Call) -> Reply:
    """One entry per number of a comma-joined filter[phone_number] (not required: none, no entries)."""
    phones = as_list(sub(call.query, "filter").get("phone_number"))
    data = []
    for phone in phones:
        iso, number_type, region = number_facts(phone, "filter[phone_number]")
        data.append(
            {
                "phone_number": phone,
                "phone_number_type": number_type,
                "record_type": "phone_number_regulatory_requirements",
                "region_information": region,
                "regulatory_requirements": [
                    _number_requirement(r) for r in requirements_for_number(phone, iso, number_type)
                ],
            }
        )
    page, meta = paginate(data, call.query)
    return 200, {"data": page, "meta": meta}


def list_requirement_types(sb: Sandbox, call: Call) -> Reply:
    contains = as_str(sub(sub(call.query, "filter"), "name").get("contains"))
    known = (*CATALOGUE, *TEST_NUMBER_REQUIREMENTS)
    out = [render_requirement_type(r) for r in known if not contains or contains.lower() in r.name.lower()]
    return 200, {
        "data": out,
        "meta": {"page_number": 1, "page_size": len(out), "total_pages": 1, "total_results": len(out)},
    }


def retrieve_requirement_type(sb: Sandbox, call: Call) -> Reply:
    req = by_id(call.params["id"])
    if req is None:
        raise not_found("requirement type", call.params["id"])
    return 200, {"data": render_requirement_type(req)}


def list_requirements(sb: Sandbox, call: Call) -> Reply:
    flt = sub(call.query, "filter")
    iso = (as_str(flt.get("country_code")) or "").upper()
    number_type = as_str(flt.get("phone_number_type"))
    action = as_str(flt.get("action"))
    out = [
        d
        for d in _docreqs()
        if (not iso or d["country_code"] == iso)
        and (not number_type or d["phone_number_type"] == number_type)
        and (not action or d["action"] == action)
    ]
    page, meta = paginate(out, call.query)
    return 200, {"data": page, "meta": meta}


def retrieve_requirement(sb: Sandbox, call: Call) -> Reply:
    found = next((d for d in _docreqs() if d["id"] == call.params["id"]), None)
    if found is None:
        raise not_found("requirement", call.params["id"])
    return 200, {"data": found}
