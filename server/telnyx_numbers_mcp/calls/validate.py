"""Argument validation with each tool's prebuilt Draft 2020-12 validator; every bad field is reported."""

from __future__ import annotations

import functools
import re
from collections.abc import Iterator, Mapping
from typing import TYPE_CHECKING, Any, cast

import jsonschema

from telnyx_numbers_mcp.errors import ArgumentError, ArgumentProblem, PhoneNumberError
from telnyx_numbers_mcp.guards.e164 import check_phone_fields
from telnyx_numbers_mcp.guards.summary import count_problems

if TYPE_CHECKING:
    from telnyx_numbers_mcp.catalog import ToolSpec


@functools.lru_cache(maxsize=256)
def ecma_regex(pattern: str) -> re.Pattern[str]:
    """Compile a JSON-Schema (ECMA-262) `pattern` so Python applies it as ECMA does: `$` outside a
    character class is the end of the input (Python's `$` also matches before a final newline), and
    `\\d`/`\\w`/`\\b` are ASCII (Python's take any Unicode digit or letter)."""
    out: list[str] = []
    in_class = False
    i = 0
    while i < len(pattern):
        ch = pattern[i]
        if ch == "\\" and i + 1 < len(pattern):
            out.append(pattern[i : i + 2])
            i += 2
            continue
        if in_class:
            in_class = ch != "]"
        elif ch == "[":
            in_class = True
        elif ch == "$":
            ch = r"\Z"
        out.append(ch)
        i += 1
    return re.compile("".join(out), re.ASCII)


def _ecma_pattern(
    validator: jsonschema.protocols.Validator, pattern: str, instance: Any, schema: Any
) -> Iterator[jsonschema.ValidationError]:
    if validator.is_type(instance, "string") and not ecma_regex(pattern).search(instance):
        yield jsonschema.ValidationError(f"{instance!r} does not match {pattern!r}")


StrictValidator = jsonschema.validators.extend(  # type: ignore[no-untyped-call]
    jsonschema.Draft202012Validator, {"pattern": _ecma_pattern}
)


def make_validator(input_schema: Mapping[str, Any]) -> jsonschema.Draft202012Validator:
    """The call-time validator of a tool: its advertised schema, unknown arguments refused, patterns
    applied with ECMA-262 semantics (so "+13125550001\\n" or fullwidth digits never pass)."""
    validator = StrictValidator({**input_schema, "additionalProperties": False})
    return cast(jsonschema.Draft202012Validator, validator)  # a Draft 2020-12 validator with one keyword swapped


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
    Full phone numbers are judged by the E.164 guard, whose errors suggest the number meant; counts
    of numbers to buy must be plain positive integers (the numbers cap relies on them)."""
    phone = check_phone_fields(args, tool.e164)
    phone_paths = {p.path for p in phone}
    errors = sorted(tool.validator.iter_errors(dict(args)), key=lambda e: list(map(str, e.absolute_path)))
    errors = [e for e in errors if not (e.validator == "pattern" and _path(e) in phone_paths)]
    schema_paths = {_path(e) for e in errors}
    counts = [p for p in count_problems(tool.name, args) if p.path not in schema_paths]
    if phone and not errors and not counts:
        raise PhoneNumberError(tool.name, phone)
    if not errors and not counts:
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
    raise ArgumentError(tool.name, problems + counts)
