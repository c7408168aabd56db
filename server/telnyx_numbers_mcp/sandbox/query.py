"""Request-input helpers: deepObject query parsing, typed field access, page[number]/page[size] slicing."""

from __future__ import annotations

import math
import re
from collections.abc import Callable
from datetime import datetime
from typing import Any
from urllib.parse import parse_qsl

from .clock import parse_iso
from .errors import invalid, invalid_param, missing

_KEY = re.compile(r"([^\[\]]+)|\[([^\[\]]*)\]")


def parse_query(raw: str) -> tuple[list[list[str]], dict[str, Any]]:
    """Decode `filter[a][b]=1&x=2` into ordered pairs and a nested dict; repeats and `[]` become lists."""
    pairs = [[k, v] for k, v in parse_qsl(raw, keep_blank_values=True)]
    nested: dict[str, Any] = {}
    for key, value in pairs:
        is_list = key.endswith("[]")
        parts = [m.group(1) if m.group(1) is not None else m.group(2) for m in _KEY.finditer(key)]
        parts = [p for p in parts if p != ""]
        if not parts:
            continue
        node = nested
        for part in parts[:-1]:
            child = node.get(part)
            if not isinstance(child, dict):
                child = {}
                node[part] = child
            node = child
        last = parts[-1]
        if last in node:
            existing = node[last]
            node[last] = [*existing, value] if isinstance(existing, list) else [existing, value]
        else:
            node[last] = [value] if is_list else value
    return pairs, nested


def sub(q: dict[str, Any], name: str) -> dict[str, Any]:
    value = q.get(name)
    return value if isinstance(value, dict) else {}


def as_list(value: Any) -> list[str]:
    """Arrays may arrive repeated, bracketed, or comma-joined."""
    if value is None:
        return []
    items = value if isinstance(value, list) else [value]
    return [part.strip() for item in items for part in str(item).split(",") if part.strip()]


def as_bool(value: Any, parameter: str) -> bool | None:
    if value is None or value == "":
        return None
    text = str(value[-1] if isinstance(value, list) else value).lower()
    if text in ("true", "1"):
        return True
    if text in ("false", "0"):
        return False
    raise invalid_param(parameter, f"'{text}' is not a boolean.")


def as_int(
    value: Any,
    parameter: str,
    *,
    default: int | None = None,
    lo: int | None = None,
    hi: int | None = None,
    status: int = 422,
) -> int | None:
    if value is None or value == "":
        return default
    text = str(value[-1] if isinstance(value, list) else value)
    try:
        number = int(text)
    except ValueError:
        raise invalid_param(parameter, f"'{text}' is not an integer.", status=status) from None
    if (lo is not None and number < lo) or (hi is not None and number > hi):
        bounds = f"at least {lo}" if hi is None else f"from {lo} to {hi}"
        raise invalid_param(parameter, f"{number} is out of range: it must be {bounds}.", status=status)
    return number


def as_str(value: Any) -> str | None:
    if value is None:
        return None
    return str(value[-1] if isinstance(value, list) else value)


def paginate(
    items: list[Any], q: dict[str, Any], *, flat: bool = False, status: int = 422
) -> tuple[list[Any], dict[str, int]]:
    """Slice by page[number]/page[size] (page_number/page_size when flat); build Telnyx pagination meta. The
    spec's bounds (number at least 1, size 1 to 250) are enforced with `status`, what the operation documents."""
    page = sub(q, "page")
    flat = flat or (not page and ("page_number" in q or "page_size" in q))
    if flat:
        number = as_int(q.get("page_number"), "page_number", default=1, lo=1, status=status)
        size = as_int(q.get("page_size"), "page_size", default=20, lo=1, hi=250, status=status)
    else:
        number = as_int(page.get("number"), "page[number]", default=1, lo=1, status=status)
        size = as_int(page.get("size"), "page[size]", default=20, lo=1, hi=250, status=status)
    assert number is not None and size is not None
    total = len(items)
    meta = {
        "page_number": number,
        "page_size": size,
        "total_pages": max(1, math.ceil(total / size)),
        "total_results": total,
    }
    return items[(number - 1) * size : number * size], meta


def created_window(flt: dict[str, Any]) -> Callable[[str], bool]:
    """filter[created_at][gt|lt] as a test on a record's created_at; checked at once, so a value that is not
    a date is a 422 naming its parameter even when there is nothing to filter."""
    window = sub(flt, "created_at")
    bounds: list[tuple[datetime, bool]] = []
    for key, after in (("gt", True), ("lt", False)):
        text = as_str(window.get(key))
        if not text:
            continue
        try:
            bounds.append((parse_iso(text), after))
        except ValueError:
            raise invalid_param(
                f"filter[created_at][{key}]", f"'{text}' is not an ISO 8601 date-time (e.g. 2024-01-01T00:00:00Z)."
            ) from None

    def inside(created_at: str) -> bool:
        stamp = parse_iso(created_at)
        return all(stamp > bound if after else stamp < bound for bound, after in bounds)

    return inside


# ---- JSON body helpers -------------------------------------------------------------------------------


def body_object(body: Any) -> dict[str, Any]:
    if not isinstance(body, dict):
        raise invalid("/", "The request body must be a JSON object.")
    return body


def opt_str(body: dict[str, Any], key: str, pointer: str | None = None) -> str | None:
    value = body.get(key)
    if value is None:
        return None
    if not isinstance(value, str):
        raise invalid(pointer or f"/{key}", f"'{key}' must be a string.")
    return value


def req_str(body: dict[str, Any], key: str, pointer: str | None = None) -> str:
    value = opt_str(body, key, pointer)
    if value is None or value == "":
        raise missing(pointer or f"/{key}")
    return value


def opt_bool(body: dict[str, Any], key: str, pointer: str | None = None) -> bool | None:
    value = body.get(key)
    if value is not None and not isinstance(value, bool):
        raise invalid(pointer or f"/{key}", f"'{key}' must be a boolean.")
    return value


def opt_int(body: dict[str, Any], key: str, pointer: str | None = None) -> int | None:
    value = body.get(key)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int):
        raise invalid(pointer or f"/{key}", f"'{key}' must be an integer.")
    return value


def req_list(body: dict[str, Any], key: str, pointer: str | None = None) -> list[Any]:
    value = body.get(key)
    if value is None:
        raise missing(pointer or f"/{key}")
    if not isinstance(value, list):
        raise invalid(pointer or f"/{key}", f"'{key}' must be an array.")
    if not value:
        raise invalid(pointer or f"/{key}", f"'{key}' must not be empty.")
    return value
