"""Reads sent before a human is asked, so an approval names what the call acts on: the phone number (in E.164,
with its type and what a number like it costs per month), the address's lines, the requirement group's
country and type, the block's range, the sub-order's numbers, and, for a settings change, the number whose
calls would be forwarded (its country says whether the destination is abroad).

Each look-up is a GET through the server's pooled client (reads are never billed, and only reads are retried),
bounded by LOOKUP_TIMEOUT. A failed one never blocks the approval: the summary says what could not be looked
up and why. Which read names which resource is in scope.toml (`lookup`), the billed settings too.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, TypeGuard

import anyio

from telnyx_numbers_mcp.calls.costs import LOOKUP_TIMEOUT, similar_price
from telnyx_numbers_mcp.catalog import ToolSpec
from telnyx_numbers_mcp.errors import ToolCallError, TransportError
from telnyx_numbers_mcp.guards.redaction import bounded
from telnyx_numbers_mcp.guards.summary import Costs, Found, describe_action
from telnyx_numbers_mcp.request import build

if TYPE_CHECKING:
    from telnyx_numbers_mcp.runtime import Runtime

log = logging.getLogger("telnyx_numbers_mcp.lookups")
REASON_LIMIT = 200  # characters of why a look-up failed


def approval_kind(tool: ToolSpec) -> str:
    """The summary's kind: purchase, destructive or billed, else a settings change that turns on a billed one."""
    return tool.kind if tool.guarded or tool.billed else "settings"


async def summarize(rt: Runtime, tool: ToolSpec, args: dict[str, Any], costs: Costs) -> str:
    """The text the human approves, after the look-ups that name what the call acts on."""
    facts = await look_up(rt, tool, args)
    return describe_action(
        tool.name, args, kind=approval_kind(tool), costs=costs, facts=facts, guard=tool.billed_settings,
        sandbox=rt.sandbox,
    )  # fmt: skip


async def look_up(rt: Runtime, tool: ToolSpec, args: Mapping[str, Any]) -> dict[str, Found]:
    """`subject`: the resource the call names; `price`: what a number like a released one costs; `current`: the
    settings a call that only switches forwarding on would forward to. Empty without a look-up or a client."""
    lookup = tool.lookup
    if lookup is None or rt.client is None:
        return {}
    query = lookup.query(dict(args))
    facts = {"subject": await _read(rt, lookup.tool, query)}
    record = facts["subject"].record
    if tool.kind == "destructive" and _is_number(record):
        facts["price"] = await _price(rt, record)
    forward = tool.billed_settings.forward(args) if tool.billed_settings else None
    if forward is not None and forward.to is None and forward.billed.current:
        own = {read_arg: args.get(arg) for read_arg, arg in lookup.args.items()}  # the same resource's settings
        facts["current"] = await _read(rt, forward.billed.current, own)
    return facts


def _is_number(record: Mapping[str, Any] | None) -> TypeGuard[Mapping[str, Any]]:
    """A phone number's record (an address has a phone_number too, but no phone_number_type)."""
    return record is not None and isinstance(record.get("phone_number"), str) and "phone_number_type" in record


async def _read(rt: Runtime, name: str, query: dict[str, Any]) -> Found:
    spec = rt.reads.get(name)
    if spec is None or rt.client is None:
        return Found(error=f"{name} is not a read this server knows")
    try:
        with anyio.fail_after(LOOKUP_TIMEOUT):
            answer = await rt.client.send(build(spec, query), tool=name)
    except Exception as exc:
        return Found(error=_reason(rt, exc))
    data = answer.json
    if isinstance(data, dict) and isinstance(data.get("data"), dict):
        return Found(record=data["data"])
    if isinstance(data, dict) and "data" not in data and data:  # requirement groups answer a bare object
        return Found(record=data)
    return Found(error="Telnyx's answer held no record")


async def _price(rt: Runtime, number: Mapping[str, Any]) -> Found:
    """Telnyx does not say what an owned number costs: the price of a number like it (same country and type)."""
    if rt.client is None:
        return Found(error="no HTTP client")
    try:
        quote = await similar_price(
            rt.client, rt.reads, rt.prices, str(number["phone_number"]),
            country=number.get("country_iso_alpha2"), kind=number.get("phone_number_type"),
        )  # fmt: skip
    except Exception as exc:
        return Found(error=_reason(rt, exc))
    return Found(record=quote)


def _reason(rt: Runtime, exc: BaseException) -> str:
    """Why a look-up failed, in one line: Telnyx's status line, a timeout, or the kind of failure (never a key)."""
    if isinstance(exc, TimeoutError):
        reason = f"no answer within {LOOKUP_TIMEOUT:g} s"
    elif isinstance(exc, TransportError):  # its second sentence is about writes: a read changes nothing
        reason = str(exc).split(". ", 1)[0]
    elif isinstance(exc, ToolCallError):
        reason = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
    else:
        log.info("look-up failed: %s", type(exc).__name__)
        reason = f"the look-up failed ({type(exc).__name__})"
    return bounded(rt.redact(reason), REASON_LIMIT)
