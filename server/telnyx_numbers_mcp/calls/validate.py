"""Argument validation with each tool's prebuilt Draft 2020-12 validator; every bad field is reported."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import jsonschema

from telnyx_numbers_mcp.catalog import ToolSpec
from telnyx_numbers_mcp.errors import ArgumentError, ArgumentProblem, PhoneNumberError
from telnyx_numbers_mcp.guards.e164 import check_phone_fields


def _path(error: jsonschema.ValidationError) -> str:
    out = ""
    for part in error.absolute_path:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out or "(arguments)"


def _listed(value: Any) -> list[Any]:
    return list(value) if isinstance(value, list | tuple) else [value]


def _expected(error: jsonschema.ValidationError) -> str:
    v, schema = error.validator, error.schema if isinstance(error.schema, dict) else {}
    if v == "additionalProperties":
        allowed = sorted((schema.get("properties") or {}).keys())
        return f"is not allowed here; allowed: {', '.join(allowed) or 'none'}"
    if v == "required":
        return error.message
    if v == "enum":
        return f"is {error.instance!r}; expected one of {', '.join(repr(x) for x in _listed(error.validator_value))}"
    if v == "type":
        return f"is {type(error.instance).__name__} {error.instance!r:.60}; expected {error.validator_value}"
    if v == "pattern":
        hint = (
            " (E.164: '+', country code and number, e.g. +13125550001)" if "\\+" in str(error.validator_value) else ""
        )
        return f"{error.instance!r} does not match {error.validator_value}{hint}"
    return error.message


def validate(tool: ToolSpec, args: Mapping[str, Any]) -> None:
    """Raise ArgumentError naming every bad field (path, what is wrong, what is expected).
    Full phone numbers are judged by the E.164 guard, whose errors suggest the number meant."""
    phone = check_phone_fields(args, tool.e164)
    phone_paths = {p.path for p in phone}
    errors = sorted(tool.validator.iter_errors(dict(args)), key=lambda e: list(map(str, e.absolute_path)))
    errors = [e for e in errors if not (e.validator == "pattern" and _path(e) in phone_paths)]
    if phone and not errors:
        raise PhoneNumberError(tool.name, phone)
    if not errors:
        return
    problems = [ArgumentProblem(p.path, p.describe().split(": ", 1)[1]) for p in phone]
    for error in errors:
        if error.validator == "additionalProperties":
            extra = sorted(set(error.instance) - set(error.schema.get("properties", {})))
            base = _path(error)
            for key in extra:
                where = key if base == "(arguments)" else f"{base}.{key}"
                problems.append(ArgumentProblem(where, f"unknown argument; {_expected(error)}"))
        else:
            problems.append(ArgumentProblem(_path(error), _expected(error)))
    raise ArgumentError(tool.name, problems)
