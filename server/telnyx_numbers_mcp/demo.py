"""`telnyx-numbers-mcp demo`: a short scripted walk-through for a person at a terminal.

It drives the real server through a real MCP client (in memory) against the built-in sandbox:
search numbers in Chicago, reserve one, order it (showing the human approval step), check the order, then ask
for a mandate (a human approves a bounded set of purchases once) and buy another number under it, unasked.
Nothing is bought and no account or network is needed; the approvals store and the mandate live in a temporary
folder unless --state-dir or --store says otherwise.
"""

from __future__ import annotations

import sys
import tempfile
from pathlib import Path
from typing import Any

import anyio
import mcp_types as types

from telnyx_numbers_mcp.config import Settings

RULE = "-" * 60
MANDATE = {"max_numbers": 2, "max_total_usd": 5, "countries": ["US"], "number_types": ["local"],
           "expires_in_minutes": 30, "reason": "the demo's second number"}  # fmt: skip


def _interactive() -> bool:
    stdin = sys.stdin
    try:
        return stdin is not None and not stdin.closed and stdin.isatty()
    except (ValueError, OSError):
        return False


def _data(result: Any) -> Any:
    content = result.structured_content
    if isinstance(content, dict):
        return content.get("data", content)
    return content


def _text(result: Any) -> str:
    return " ".join(str(getattr(block, "text", "")) for block in result.content).strip()


def _features(item: dict[str, Any]) -> str:
    names = [f.get("name") for f in item.get("features") or [] if isinstance(f, dict)]
    return ", ".join(str(n) for n in names if n in ("voice", "sms", "fax"))


def _cost(item: dict[str, Any]) -> str:
    info = item.get("cost_information") or {}
    return f"{info.get('upfront_cost', '?')} {info.get('currency', '')} upfront, {info.get('monthly_cost', '?')}/month"


def demo_settings(settings: Settings, audit_dir: Path) -> Settings:
    """The user's settings with the sandbox forced on, default tools, and the approval flow on."""
    update: dict[str, Any] = {
        "sandbox": True,
        "api_key": None,
        "purchase_policy": "confirm",
        "toolsets": (),
        "tools": (),
        "read_only": False,
    }
    if settings.audit_log is None:
        update["audit_log"] = audit_dir / "audit.jsonl"
    if settings.state_dir is None and settings.store is None:  # the demo's mandate must not outlive it
        update["state_dir"] = audit_dir / "state"
    return settings.model_copy(update=update)


async def _walk_through(settings: Settings, auto_approve: bool, out: Any, audit_note: str) -> int:
    from mcp import Client

    from telnyx_numbers_mcp.app import build_server
    from telnyx_numbers_mcp.terminal import terminal_approval

    def say(line: str = "") -> None:
        print(line, file=out, flush=True)

    ask_person = not auto_approve and _interactive()

    async def approve(context: Any, params: types.ElicitRequestParams) -> types.ElicitResult:
        message = str(getattr(params, "message", ""))
        ahead = "GRANT A MANDATE" in message
        say("   The server asks a human once, ahead of the purchases:" if ahead else
            "   The server stops and asks a human before buying:")  # fmt: skip
        if ask_person:
            return await terminal_approval(context, params)
        for line in message.strip().splitlines():
            if line.strip():
                say(f"   | {line}")
        reason = "--yes was given" if auto_approve else "stdin is not a terminal"
        say(f"   Answering 'yes' automatically ({reason}).")
        return types.ElicitResult(action="accept", content={"approve": True})

    say("Telnyx numbers MCP demo (sandbox: nothing is bought, no account needed)")
    server = build_server(settings)
    async with Client(server, mode="legacy", elicitation_callback=approve) as client:
        tools = await client.list_tools()
        say(f"Connected to the MCP server: {len(tools.tools)} tools offered.")

        say("\n1. Search: available_phone_numbers_list (US, Chicago, limit 3)")
        found = await client.call_tool(
            "available_phone_numbers_list", {"filter": {"country_code": "US", "locality": "Chicago", "limit": 3}}
        )
        items = [i for i in _data(found) or [] if isinstance(i, dict)] if not found.is_error else []
        if not items:
            say(f"   No numbers found: {_text(found)[:300]}")
            return 1
        for item in items:
            say(f"   {item.get('phone_number')}  ({_cost(item)}; {_features(item)})")
        number = str(items[0]["phone_number"])

        say(f"\n2. Reserve: number_reservations_create ({number})")
        reserved = await client.call_tool("number_reservations_create", {"phone_numbers": [{"phone_number": number}]})
        reservation = _data(reserved)
        if reserved.is_error or not isinstance(reservation, dict):
            say(f"   Reservation failed: {_text(reserved)[:300]}")
            return 1
        say(f"   Reservation {reservation.get('id')}: {reservation.get('status')}")

        say(f"\n3. Order: number_orders_create ({number}) - a purchase, so it needs approval")
        ordered = await client.call_tool("number_orders_create", {"phone_numbers": [{"phone_number": number}]})
        order = _data(ordered)
        if ordered.is_error and "Not approved" in _text(ordered):
            say("   Not approved, so nothing was sent to Telnyx. Run it again and type 'yes' to see the order.")
            return 0
        if ordered.is_error or not isinstance(order, dict) or not order.get("id"):
            say(f"   Order not placed: {_text(ordered)[:300]}")
            return 1
        say(f"   Order {order.get('id')} placed: {order.get('status')}")

        say("\n4. Status: number_orders_retrieve")
        checked = await client.call_tool("number_orders_retrieve", {"number_order_id": str(order["id"])})
        status = _data(checked)
        if checked.is_error or not isinstance(status, dict):
            say(f"   Status check failed: {_text(checked)[:300]}")
            return 1
        phones = [p for p in status.get("phone_numbers") or [] if isinstance(p, dict)]
        detail = ", ".join(f"{p.get('phone_number')} {p.get('status')}" for p in phones)
        say(f"   Order status: {status.get('status')}" + (f" ({detail})" if detail else ""))

        say("\n5. Mandate: request_mandate (up to 2 US local numbers and 5 USD, for 30 minutes) - approved once")
        mandate = await client.call_tool("request_mandate", MANDATE)
        granted = mandate.structured_content if isinstance(mandate.structured_content, dict) else {}
        if mandate.is_error or not granted.get("id"):
            say(f"   Not granted: {_text(mandate)[:300]}")
            return 0 if "Not approved" in _text(mandate) else 1
        say(f"   Mandate {granted['id']} granted: purchases within it go out without asking.")

        second = str(items[1]["phone_number"]) if len(items) > 1 else number
        say(f"\n6. Order under the mandate: number_orders_create ({second}) - no question this time")
        under = await client.call_tool("number_orders_create", {"phone_numbers": [{"phone_number": second}]})
        placed = _data(under)
        if under.is_error or not isinstance(placed, dict):
            say(f"   Order not placed: {_text(under)[:300]}")
            return 1
        paid = [
            str(getattr(b, "text", "")) for b in under.content if "Paid under mandate" in str(getattr(b, "text", ""))
        ]
        say(f"   Order {placed.get('id')} placed: {placed.get('status')}")
        say(f"   {paid[0] if paid else 'Not paid under the mandate.'}")
    say(RULE)
    say(f"Done. Writes were audited to {audit_note}. Next: README.md, 'Use it from your MCP client'.")
    return 0


def run_demo(settings: Settings, *, auto_approve: bool) -> int:
    """Run the walk-through; returns the process exit code (0 on success)."""
    with tempfile.TemporaryDirectory(prefix="telnyx-numbers-mcp-demo-") as tmp:
        demo = demo_settings(settings, Path(tmp))
        note = "a temporary file" if settings.audit_log is None else str(demo.audit_log)
        return anyio.run(_walk_through, demo, auto_approve, sys.stdout, note)
