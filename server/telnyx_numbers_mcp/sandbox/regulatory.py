"""The regulatory-requirements catalogue: what a country and number type demand before a number is activated,
and the read-only endpoints that describe it (regulatory requirements, requirement types, requirements).

Requirements are keyed by (country, number type); "*" is every type of that country. Ids are stable uuid5s,
so the same requirement has the same id in every answer and across restarts.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Any

from . import numbers as n
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


def requirements_for(iso: str, number_type: str) -> list[Requirement]:
    """What numbers of this country and type need; [] when nothing is needed."""
    iso = iso.upper()
    return [r for r in CATALOGUE if r.iso == iso and r.number_type in ("*", number_type)]


def by_id(requirement_id: str) -> Requirement | None:
    return next((r for r in CATALOGUE if r.id == requirement_id), None)


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


def _regulatory_entry(iso: str, number_type: str) -> dict[str, Any]:
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
            for r in requirements_for(iso, number_type)
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


def _number_range(value: str, parameter: str) -> n.NumberRange:
    rng = n.find_range(value) if n.is_valid(value) else None
    if rng is None:
        raise invalid_param(parameter, f"'{value}' is not a phone number this account can order (E.164 expected).")
    return rng


def regulatory_requirements(sb: Sandbox, call: Call) -> Reply:
    """By phone number, by requirement group, or by country and number type."""
    flt = sub(call.query, "filter")
    phone = as_str(flt.get("phone_number"))
    group_id = as_str(flt.get("requirement_group_id"))
    iso = as_str(flt.get("country_code"))
    number_type = as_str(flt.get("phone_number_type"))
    action = as_str(flt.get("action"))
    if action and action != "ordering":
        return 200, {"data": []}  # the simulator knows ordering requirements only
    if phone:
        rng = _number_range(phone, "filter[phone_number]")
        iso, number_type = rng.iso, rng.phone_number_type
    elif group_id:
        group = sb.store.get("requirement_groups", group_id)
        if group is None:
            raise invalid_param("filter[requirement_group_id]", f"Requirement group '{group_id}' was not found.")
        iso, number_type = group["country_code"], group["phone_number_type"]
    if not iso:
        raise invalid_param(
            "filter[country_code]",
            "Give filter[phone_number], filter[requirement_group_id], or filter[country_code] (with "
            "filter[phone_number_type] for one type).",
        )
    iso = iso.upper()
    if iso not in n.COUNTRIES:
        raise invalid_param("filter[country_code]", f"'{iso}' is not a country the simulator sells numbers in.")
    types = [number_type] if number_type else _types_of(iso)
    return 200, {"data": [_regulatory_entry(iso, t) for t in types]}


def phone_numbers_regulatory_requirements(sb: Sandbox, call: Call) -> Reply:
    """One entry per number of a comma-joined filter[phone_number]."""
    phones = as_list(sub(call.query, "filter").get("phone_number"))
    if not phones:
        raise invalid_param("filter[phone_number]", "filter[phone_number] is required (comma-separated E.164).")
    data = []
    for phone in phones:
        rng = _number_range(phone, "filter[phone_number]")
        data.append(
            {
                "phone_number": phone,
                "phone_number_type": rng.phone_number_type,
                "record_type": "phone_number_regulatory_requirements",
                "region_information": n.region_information(rng),
                "regulatory_requirements": [
                    {
                        "requirement_id": r.id,
                        "field_type": r.field_type,
                        "label": r.name,
                        "acceptance_criteria": {"field_type": r.field_type, **r.acceptance_criteria()},
                    }
                    for r in requirements_for(rng.iso, rng.phone_number_type)
                ],
            }
        )
    page, meta = paginate(data, call.query)
    return 200, {"data": page, "meta": meta}


def list_requirement_types(sb: Sandbox, call: Call) -> Reply:
    contains = as_str(sub(sub(call.query, "filter"), "name").get("contains"))
    out = [render_requirement_type(r) for r in CATALOGUE if not contains or contains.lower() in r.name.lower()]
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
