"""Argument validation with each tool's prebuilt Draft 2020-12 validator; every bad field is reported."""

from __future__ import annotations

import functools
import re
from collections.abc import Iterator, Mapping
from typing import TYPE_CHECKING, Any, cast

import jsonschema

from telnyx_numbers_mcp.errors import ECHO_LIMIT, ArgumentError, ArgumentProblem, PhoneNumberError, shown
from telnyx_numbers_mcp.guards.e164 import check_phone_fields
from telnyx_numbers_mcp.guards.redaction import bounded
from telnyx_numbers_mcp.guards.summary import count_problems

if TYPE_CHECKING:
    from telnyx_numbers_mcp.catalog import ToolSpec

# Telnyx ids are UUIDs or short tokens; the spec sets no limit, so this one keeps a runaway value out of
# the URL (and the audit trail) and gives a clear refusal instead of a transport failure.
PATH_ID_LIMIT = 256
# Characters of any string argument whose spec sets no maxLength: a megabyte `customer_reference` would
# otherwise be stored with its approval and audited before anyone is asked. The spec's own limits stay.
STRING_LIMIT = 1000
_OUR_LIMIT = "x-telnyx-numbers-mcp-limit"  # marks a maxLength this server added (for the error's wording)


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


def strict(schema: Any) -> Any:
    """A copy of ``schema`` where every object that lists its properties refuses other keys, and every string
    without a maxLength (or an enum or const) gets STRING_LIMIT. Unknown keys in a nested ``filter`` would reach
    the wire as ``filter[key]``, under a name the E.164 guard checks in its SDK spelling only
    (``phone_numbers.phone_number`` vs ``phone_numbers_phone_number``); an unbounded string would be stored with
    its approval and audited before anyone is asked."""
    if isinstance(schema, list):
        return [strict(s) for s in schema]
    if not isinstance(schema, dict):
        return schema
    out = {k: strict(v) if k in _SUBSCHEMAS else v for k, v in schema.items()}
    if "properties" in out:
        out["properties"] = {k: strict(v) for k, v in out["properties"].items()}
        out.setdefault("additionalProperties", False)
    if "string" in _listed(schema.get("type")) and not {"maxLength", "enum", "const"} & set(schema):
        out.update({"maxLength": STRING_LIMIT, _OUR_LIMIT: True})
    return out


_SUBSCHEMAS = {"items", "anyOf", "oneOf", "allOf", "additionalProperties", "not", "prefixItems"}


def make_validator(input_schema: Mapping[str, Any]) -> jsonschema.Draft202012Validator:
    """The call-time validator of a tool: its advertised schema with unknown keys refused at every level
    where the spec lists the properties, patterns applied with ECMA-262 semantics (so "+13125550001\\n" or
    fullwidth digits never pass), and strings the spec leaves unbounded limited to STRING_LIMIT characters
    (before anything is stored). The advertised schema stays compact."""
    validator = StrictValidator({**strict(dict(input_schema)), "additionalProperties": False})
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
    value, limit = shown(error.instance), error.validator_value
    if v == "enum":
        return f"is {value}; expected one of {', '.join(repr(x) for x in _listed(limit))}"
    if v == "type":
        return f"is {type(error.instance).__name__} {value}; expected {limit}"
    if v == "pattern":
        hint = " (E.164: '+', country code and number, e.g. +13125550001)" if "\\+" in str(limit) else ""
        return f"{value} does not match {limit}{hint}"
    # jsonschema's own messages repeat the whole value: say the same with the value bounded
    sized = len(error.instance) if isinstance(error.instance, str | list | dict) else None
    phrases = {
        "maxLength": f"is {sized} characters long; expected at most {limit}"
        + (" (the spec sets no limit; this server takes at most that many)" if schema.get(_OUR_LIMIT) else ""),
        "minLength": f"is {sized} characters long; expected at least {limit}",
        "maxItems": f"has {sized} items; expected at most {limit}",
        "minItems": f"has {sized} items; expected at least {limit}",
        "uniqueItems": "has repeated items; expected each item once",
        "maximum": f"is {value}; expected at most {limit}",
        "minimum": f"is {value}; expected at least {limit}",
        "exclusiveMaximum": f"is {value}; expected less than {limit}",
        "exclusiveMinimum": f"is {value}; expected more than {limit}",
        "const": f"is {value}; expected {shown(limit)}",
        "anyOf": f"is {value}; it matches none of the allowed forms",
        "oneOf": f"is {value}; expected exactly one of the allowed forms",
    }
    return phrases.get(str(v), bounded(error.message, 200))


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
    counts += [
        ArgumentProblem(
            name, f"is {len(value)} characters long; an id in the URL path may have at most {PATH_ID_LIMIT}"
        )
        for name, wire in tool.args.items()
        if wire.location == "path" and isinstance(value := args.get(name), str) and len(value) > PATH_ID_LIMIT
    ]
    if phone and not errors and not counts:
        raise PhoneNumberError(tool.name, phone)
    if not errors and not counts:
        return
    problems = [ArgumentProblem(p.path, p.describe().split(": ", 1)[1]) for p in phone]
    for error in errors:
        if error.validator == "additionalProperties":
            extra = sorted(set(error.instance) - set(error.schema.get("properties", {})))
            base = _path(error)
            known = error.schema.get("properties", {})
            for key in extra:
                key = bounded(key, ECHO_LIMIT)  # a name can be megabytes long too
                where = key if base == "(arguments)" else f"{base}.{key}"
                meant = re.sub(r"[^A-Za-z0-9]+", "_", key)  # the wire spelling of a known key?
                hint = f" (did you mean {meant!r}?)" if meant != key and meant in known else ""
                problems.append(ArgumentProblem(where, f"unknown argument{hint}; {_expected(error)}"))
        else:
            problems.append(ArgumentProblem(_path(error), _expected(error)))
    raise ArgumentError(tool.name, problems + counts)
