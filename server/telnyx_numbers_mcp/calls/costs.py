"""What Telnyx quotes for the numbers a purchase names, looked up through its own search, so the human
approves a price and --max-order-cost can be enforced. A failed look-up only means 'not quoted'."""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any

import anyio
import phonenumbers

from telnyx_numbers_mcp.calls.http import TelnyxClient
from telnyx_numbers_mcp.catalog import ToolSpec
from telnyx_numbers_mcp.request import build

log = logging.getLogger("telnyx_numbers_mcp.costs")
NUMBER_SEARCH = "available_phone_numbers_list"
BLOCK_SEARCH = "available_phone_number_blocks_list"
LOOKUP_TIMEOUT = 10.0
Costs = dict[str, dict[str, str]]

_NUMBER_TYPES = {
    phonenumbers.PhoneNumberType.MOBILE: "mobile",
    phonenumbers.PhoneNumberType.FIXED_LINE: "local",
    phonenumbers.PhoneNumberType.FIXED_LINE_OR_MOBILE: "local",
    phonenumbers.PhoneNumberType.TOLL_FREE: "toll_free",
    phonenumbers.PhoneNumberType.SHARED_COST: "shared_cost",
}


def number_type(e164: str) -> str:
    """Telnyx's phone_number_type for a number, from the numbering plan ("" when it cannot tell)."""
    try:
        return _NUMBER_TYPES.get(phonenumbers.number_type(phonenumbers.parse(e164)), "")
    except phonenumbers.NumberParseException:
        return ""


def _query(search: str, number: phonenumbers.PhoneNumber) -> dict[str, Any]:
    region = phonenumbers.region_code_for_number(number)
    national = phonenumbers.national_significant_number(number)
    if search == NUMBER_SEARCH:
        return {"filter": {"country_code": region, "phone_number": {"starts_with": national}, "limit": 5}}
    ndc = national[: phonenumbers.length_of_national_destination_code(number)]
    return {"filter": {"country_code": region, **({"national_destination_code": ndc} if ndc else {})}}


def _targets(tool: str, args: Mapping[str, Any]) -> tuple[str, list[str], dict[str, Any]] | None:
    """Which search quotes this purchase, the numbers (or block starts) to find in its answer, and what
    else an answer item must match (a block's range: one start may begin blocks of several sizes)."""
    if tool == "number_orders_create":
        items = args.get("phone_numbers") or []
        return NUMBER_SEARCH, [p["phone_number"] for p in items if isinstance(p, dict) and "phone_number" in p], {}
    if tool == "number_block_orders_create" and isinstance(args.get("starting_number"), str):
        return BLOCK_SEARCH, [args["starting_number"]], {"range": args.get("range")}
    return None  # inexplicit and advanced orders name no numbers: Telnyx picks them


async def lookup_costs(
    client: TelnyxClient, searches: Mapping[str, ToolSpec], tool: str, args: Mapping[str, Any]
) -> Costs:
    """E.164 number (or block start) -> upfront_cost, monthly_cost, currency, country_code, phone_number_type."""
    target = _targets(tool, args)
    if target is None or target[0] not in searches:
        return {}
    search_name, numbers, must_match = target
    search = searches[search_name]
    costs: Costs = {}

    async def one(e164: str) -> None:
        try:
            number = phonenumbers.parse(e164)
            with anyio.fail_after(LOOKUP_TIMEOUT):
                answer = await client.send(build(search, _query(search.name, number)), tool=search.name)
        except Exception as exc:
            log.info("cost look-up for %s failed: %s", e164, type(exc).__name__)
            return
        data = answer.json.get("data") if isinstance(answer.json, dict) else None
        for item in data if isinstance(data, list) else []:
            matches = all(item.get(k, v) == v for k, v in must_match.items()) if isinstance(item, dict) else False
            if matches and item.get("phone_number") == e164:
                info = item.get("cost_information") or {}
                costs[e164] = {
                    "upfront_cost": str(info.get("upfront_cost", "")),
                    "monthly_cost": str(info.get("monthly_cost", "")),
                    "currency": str(info.get("currency", "")),
                    "country_code": phonenumbers.region_code_for_number(number) or "",
                    # the search answer has no type field; the numbering plan tells it
                    "phone_number_type": str(
                        item.get("phone_number_type") or _NUMBER_TYPES.get(phonenumbers.number_type(number), "")
                    ),
                }

    async with anyio.create_task_group() as tg:
        for e164 in dict.fromkeys(numbers):
            tg.start_soon(one, e164)
    return costs
