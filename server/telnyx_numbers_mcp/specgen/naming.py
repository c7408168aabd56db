"""Tool and argument names: derived from the official SDK's, checked, never silently cut or suffixed."""

from __future__ import annotations

import re

from telnyx_numbers_mcp.errors import SpecError

TOOL_NAME_RE = re.compile(r"^[a-zA-Z0-9_-]+$")
PROPERTY_KEY_RE = re.compile(r"^[a-zA-Z0-9_.-]{1,64}$")


def tool_name(sdk_method: str, *, override: str | None, max_length: int) -> str:
    """`number_orders.create` -> `number_orders_create`, or the hand-written override; raises if unusable."""
    name = override or sdk_method.replace(".", "_")
    if not TOOL_NAME_RE.match(name):
        raise SpecError(f"tool name {name!r} (from {sdk_method}) has characters outside [a-zA-Z0-9_-]")
    if len(name) > max_length:
        raise SpecError(
            f"tool name {name!r} (from {sdk_method}) is {len(name)} characters, over the limit of "
            f"{max_length}; give it a short `name` in scope.toml"
        )
    return name


def check_unique(names: list[str]) -> None:
    seen: set[str] = set()
    for name in names:
        if name in seen:
            raise SpecError(f"two tools are named {name!r}; give one a distinct `name` in scope.toml")
        seen.add(name)


_CAMEL_RE = re.compile(r"(?<=[a-z0-9])([A-Z])")
_NON_IDENT_RE = re.compile(r"[^a-zA-Z0-9]+")


def arg_name(wire_name: str) -> str:
    """The SDK's keyword for a wire key: `advanced-order-id` -> `advanced_order_id`,
    `location.code` -> `location_code`, `groupBy` -> `group_by` (as Stainless-generated SDKs name them)."""
    snake = _CAMEL_RE.sub(r"_\1", wire_name)
    snake = _NON_IDENT_RE.sub("_", snake).strip("_").lower()
    if not snake or not PROPERTY_KEY_RE.match(snake):
        raise SpecError(f"cannot derive an argument name from wire key {wire_name!r}")
    return snake
