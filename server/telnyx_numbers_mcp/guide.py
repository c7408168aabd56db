"""The server instructions: the short guide an agent reads first (under 1,500 characters). Built from what the
session is offered, so it names only tools the agent can call, and says which toolsets the operator could
enable; the sandbox is explained here once, in full, and results only carry a short tag."""

from __future__ import annotations

from telnyx_numbers_mcp.calls.results import SANDBOX_TAG
from telnyx_numbers_mcp.offer import Offer

LIVE = "LIVE: calls reach the real Telnyx account; purchases are charged. "
SANDBOX = (
    "SANDBOX MODE: simulated; nothing is bought or changed for real. "
    f"Purchases, holds and changes are tagged {SANDBOX_TAG}. "
    "Test numbers +1312555010x (search 55501): 0 ok, 1 taken, 2 slow, 3 needs documents, 4 not reservable, "
    "5 known carrier. "
)
DISCOVER = " Reach named tools via find_tools, describe_tool and call_tool."
# what a toolset answers, where its name does not say it, for the toolsets line
TOOLSETS = {
    "search": "",
    "coverage": "what a country requires",
    "orders": "",
    "blocks": "",
    "advanced": "orders Telnyx fills",
    "reservations": "",
    "csr": "porting-in records",
    "comments": "notes to Telnyx on orders",
    "reports": "sub-order CSVs",
    "requirements": "requirement groups, addresses",
    "numbers": "numbers you own",
    "lookup": "carrier lookups",
}


def _names(offer: Offer, *names: str) -> list[str]:
    return offer.offered(names)


def _workflow(offer: Offer) -> list[str]:
    steps: list[str] = []
    search = _names(offer, "available_phone_numbers_list", "available_phone_number_blocks_list")
    if search:
        where = " (area code = national_destination_code)" if "available_phone_numbers_list" in search else ""
        steps.append(f"search with {' or '.join(search)}{where}")
    if offer.has("country_coverage_retrieve_country"):
        steps.append("country_coverage_retrieve_country: what each number type requires")
    if offer.has("number_reservations_create"):
        extend = offer.has("number_reservations_actions_extend")
        steps.append("optionally hold with number_reservations_create: a reservation lasts 30 minutes"
                     + (" and number_reservations_actions_extend adds 30" if extend else ""))  # fmt: skip
    buy = _names(offer, "number_orders_create", "number_block_orders_create", "inexplicit_number_orders_create")
    if buy:
        steps.append(f"order with {', '.join(buy[:-1])} or {buy[-1]}" if len(buy) > 1 else f"order with {buy[0]}")
        check = " (check_approval gets their decision)" if offer.has("check_approval") else ""
        mandate = (
            "; several purchases, or the user away? request_mandate: one approval for a bounded set"
            if offer.has("request_mandate")
            else ""
        )
        steps.append(
            "a human approves each purchase and destructive call outside the chat; if a call awaits approval, "
            f"tell the user{check}; never approve for them{mandate}"
        )
    if offer.has("number_orders_retrieve"):
        steps.append("follow the order (pending at first) with number_orders_retrieve")
    return [f"{i}) {step}" for i, step in enumerate(steps, 1)]


def instructions(offer: Offer, *, sandbox: bool) -> str:
    """The server's guide for agents (the `instructions` of the server info); see the module docstring."""
    parts = [SANDBOX if sandbox else LIVE, "Telnyx phone numbers."]
    steps = _workflow(offer)
    if steps:
        parts.append(" Workflow: " + "; ".join(steps) + ".")
    parts.append(" Phone numbers are E.164 (+13125550001). 'Hint:' lines say what's next.")
    offered = {offer.toolset_of[n] for n in offer.names if n in offer.toolset_of}
    known = [f"{name} = {what}" if what else name for name, what in TOOLSETS.items() if name in offered]
    if known:
        parts.append(" Toolsets: " + "; ".join(known) + ".")
    off = [name for name in TOOLSETS if name not in offer.enabled]
    if off:
        parts.append(f" Off: {', '.join(off)} (the operator adds via --toolsets).")
    if offer.discover:
        parts.append(DISCOVER)
    return "".join(parts)
