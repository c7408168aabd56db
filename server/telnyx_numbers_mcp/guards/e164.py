"""E.164 checks for the argument fields a tool marks as full phone numbers.

Telnyx buys exactly the number it is given, so a number typed in national form or with
punctuation must be refused before anything is sent. This module only reports: it never
rewrites a value, it only suggests what the caller probably meant.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator, Mapping
from typing import Any

import phonenumbers

from telnyx_numbers_mcp.errors import E164Problem, PhoneNumberError

# ASCII digits only and the whole string: `\d` would take any Unicode digit (fullwidth, Arabic-Indic) and
# `$` would allow a trailing newline, and Telnyx must receive exactly '+' and 8 to 15 ASCII digits.
E164_PATTERN = re.compile(r"\A\+[1-9][0-9]{7,14}\Z")
_NANP_10 = re.compile(r"\A[2-9][0-9]{2}[2-9][0-9]{6}\Z")
_ASCII_DIGITS = frozenset("0123456789")
_LINE_BREAKS = frozenset("\n\r\v\f\x1c\x1d\x1e\x85\u2028\u2029")
_SEPARATOR_RE = re.compile(r"[\s\-.()/]")

__all__ = ["E164_PATTERN", "check_phone_fields", "check_phone_value", "require_e164"]


def check_phone_fields(args: Mapping[str, Any], paths: Iterable[str]) -> list[E164Problem]:
    """Check every string found at the given field paths; return one problem per bad value.

    Paths look like ``phone_numbers[].phone_number`` or ``filter.phone_number.in[]`` (a trailing ``[,]``
    means a comma-joined list in one string, each number checked); a missing
    key or absent object along the way is not an error, and non-string values are left to the
    schema validator.
    """
    problems: list[E164Problem] = []
    for path in paths:
        joined = path.endswith("[,]")  # one string holding comma-joined numbers: each is checked
        segments = _parse_path(path.removesuffix("[,]"))
        for concrete, value, holder in _walk(args, segments, "", args):
            if not isinstance(value, str):
                continue
            country = _country_hint(holder, args)
            for item in value.split(",") if joined else [value]:
                problem = check_phone_value(concrete, item.strip() if joined else item, country=country)
                if problem is not None:
                    problems.append(problem)
    return problems


def require_e164(tool: str, args: Mapping[str, Any], paths: Iterable[str]) -> None:
    """Raise PhoneNumberError listing every non-E.164 value, so nothing reaches Telnyx."""
    problems = check_phone_fields(args, paths)
    if problems:
        raise PhoneNumberError(tool, problems)


def check_phone_value(path: str, value: str, *, country: str | None = None) -> E164Problem | None:
    """Check one string; ``country`` (ISO code such as "US") is only used to suggest a fix."""
    if E164_PATTERN.fullmatch(value):
        return _check_plausible(path, value)
    reasons = _format_reasons(value)
    message = "is not E.164: " + "; ".join(reasons)
    suggestion, assumption = _suggest(value, country)
    if suggestion is not None and assumption:
        message += f" ({assumption})"
    message += "."
    return E164Problem(path=path, value=value, message=message, suggestion=suggestion)


# --- path walking -------------------------------------------------------------------------------


def _parse_path(path: str) -> list[tuple[str, bool]]:
    """Split ``a[].b`` into [("a", True), ("b", False)]; True means "each element of a list"."""
    segments: list[tuple[str, bool]] = []
    for part in path.split("."):
        if not part:
            raise ValueError(f"empty segment in phone field path {path!r}")
        is_list = part.endswith("[]")
        name = part[:-2] if is_list else part
        if not name or "[" in name or "]" in name:
            raise ValueError(f"bad segment {part!r} in phone field path {path!r}")
        segments.append((name, is_list))
    return segments


def _walk(
    node: Any, segments: list[tuple[str, bool]], prefix: str, holder: Mapping[str, Any]
) -> Iterator[tuple[str, Any, Mapping[str, Any]]]:
    """Yield (concrete path, value, the mapping that holds the value) for every match."""
    if not segments:
        yield prefix, node, holder
        return
    if not isinstance(node, Mapping):
        return
    (name, is_list), rest = segments[0], segments[1:]
    if name not in node:
        return
    child = node[name]
    here = f"{prefix}.{name}" if prefix else name
    if not is_list:
        yield from _walk(child, rest, here, node)
        return
    if not isinstance(child, list):
        return
    for index, item in enumerate(child):
        item_holder = item if isinstance(item, Mapping) and rest else node
        yield from _walk(item, rest, f"{here}[{index}]", item_holder)


def _country_hint(holder: Mapping[str, Any], args: Mapping[str, Any]) -> str | None:
    """A ``country_code`` like "US" next to the number, else at the top level of the arguments."""
    for source in (holder, args):
        code = source.get("country_code")
        if isinstance(code, str) and len(code.strip()) == 2 and code.strip().isalpha():
            return code.strip().upper()
    return None


# --- checks -------------------------------------------------------------------------------------


def _check_plausible(path: str, value: str) -> E164Problem | None:
    """The shape is right; make sure the country code exists and the length fits that country."""
    digits = value[1:]
    calling_code = _leading_calling_code(digits)
    if calling_code is None:
        return E164Problem(
            path=path,
            value=value,
            message=f"has an unknown country code (no country uses +{digits[:3]} or a prefix of it).",
        )
    try:
        number = phonenumbers.parse(value, None)
    except phonenumbers.NumberParseException:
        return E164Problem(path=path, value=value, message=f"cannot be read as a {_where(calling_code)} number.")
    reason = phonenumbers.is_possible_number_with_reason(number)
    if reason == phonenumbers.ValidationResult.IS_POSSIBLE:
        return None
    # is_possible_number() also accepts IS_POSSIBLE_LOCAL_ONLY (e.g. a US number without its area
    # code); a field that must hold a full number cannot, so that counts as not possible here.
    detail = {
        phonenumbers.ValidationResult.TOO_SHORT: " (too short)",
        phonenumbers.ValidationResult.TOO_LONG: " (too long)",
        phonenumbers.ValidationResult.IS_POSSIBLE_LOCAL_ONLY: " (too short: a local number only)",
    }.get(reason, " (wrong length)")
    return E164Problem(
        path=path,
        value=value,
        message=f"is not a possible number for {_where(calling_code)}{detail}.",
    )


def _leading_calling_code(digits: str) -> int | None:
    """E.164 country codes are prefix-free, so at most one of the 1-3 digit prefixes is assigned."""
    for size in (1, 2, 3):
        code = int(digits[:size])
        if code in phonenumbers.COUNTRY_CODE_TO_REGION_CODE:
            return code
    return None


def _where(calling_code: int) -> str:
    region = phonenumbers.region_code_for_country_code(calling_code)
    if region in ("ZZ", "001"):
        return f"+{calling_code}"
    return f"{region} (+{calling_code})"


def _format_reasons(value: str) -> list[str]:
    """Name every way the string breaks ``+[1-9][0-9]{7,14}``, in words a person can act on."""
    stripped = value.strip()
    if not stripped:
        return ["it is empty"]
    reasons: list[str] = []
    found: list[str] = []
    if any(ch in _LINE_BREAKS for ch in value):
        found.append("line breaks")
    if any(ch.isspace() and ch not in _LINE_BREAKS for ch in value):
        found.append("spaces")
    if any(ch.isdigit() and ch not in _ASCII_DIGITS for ch in value):
        found.append("digits that are not ASCII 0-9 (e.g. fullwidth)")
    if "-" in value:
        found.append("dashes")
    if "." in value:
        found.append("dots")
    if any(ch in "()[]" for ch in value):
        found.append("brackets")
    if any(ch.isalpha() for ch in value):
        found.append("letters")
    body = stripped[1:] if stripped.startswith("+") else stripped
    others = sorted({ch for ch in body if not (ch.isdigit() or ch.isalpha() or ch.isspace() or ch in "-.()[]")})
    if others:
        more = f" and {len(others) - 10} more" if len(others) > 10 else ""
        found.append("other characters " + " ".join(repr(ch) for ch in others[:10]) + more)
    if found:
        reasons.append("it contains " + _join(found))
    digits = "".join(ch for ch in value if ch.isdigit())
    if not stripped.startswith("+"):
        if digits.startswith("00"):
            reasons.append("it uses the '00' international prefix instead of '+'")
        else:
            reasons.append("it has no leading '+' and country code")
    elif digits.startswith("0"):
        reasons.append("a country code never starts with 0")
    if any(ch.isalpha() for ch in value):
        pass  # letters make a digit count meaningless
    elif digits and len(digits) < 8:
        reasons.append(f"it is too short ({len(digits)} digits; E.164 needs 8 to 15)")
    elif len(digits) > 15 and not digits.startswith("00"):
        reasons.append(f"it is too long ({len(digits)} digits; E.164 allows at most 15)")
    if not digits:
        reasons.append("it has no digits")
    if not reasons:
        reasons.append("it does not match +<country code><number>")
    return reasons


def _join(items: list[str]) -> str:
    if len(items) == 1:
        return items[0]
    return ", ".join(items[:-1]) + " and " + items[-1]


# --- suggestions --------------------------------------------------------------------------------


def _suggest(value: str, country: str | None) -> tuple[str | None, str | None]:
    """Return (E.164 suggestion, assumption text) only when the input reads one way only."""
    text = value.strip()
    if not text or any(ch.isalpha() for ch in text):
        return None, None  # letters: a typo or a vanity number; guessing would be unsafe
    compact = _SEPARATOR_RE.sub("", text)
    if not compact or not (compact.isdigit() or (compact[0] == "+" and compact[1:].isdigit())):
        return None, None
    if compact.startswith("+"):
        return _possible(compact, None), None
    if compact.startswith("00"):
        return _possible("+" + compact[2:], None), None
    if country is not None:
        suggestion = _possible(compact, country)
        if suggestion is not None:
            return suggestion, f"read as a {country} number, from country_code"
        return None, None
    if _NANP_10.match(compact) or (len(compact) == 11 and compact[0] == "1" and _NANP_10.match(compact[1:])):
        suggestion = _possible(compact, "US")
        if suggestion is not None:
            return suggestion, "if this is a US number; no country_code was given, so that is an assumption"
    return None, None


def _possible(text: str, region: str | None) -> str | None:
    """E.164 form of ``text`` if phonenumbers reads it and deems it possible, else None."""
    try:
        number = phonenumbers.parse(text, region)
    except phonenumbers.NumberParseException:
        return None
    if not phonenumbers.is_possible_number(number):
        return None
    formatted = phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)
    return formatted if E164_PATTERN.fullmatch(formatted) else None
