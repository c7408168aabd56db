"""Which numbers are out of the available pool, and why: reserved, ordered, owned, or in a live block.

The pool is shared by every account, as at Telnyx: what one account reserved or bought, no other can.
Its own module so that search, reservations, orders and blocks can all ask without importing each other.
"""

from __future__ import annotations

from datetime import timedelta

from . import numbers as n
from .clock import parse_iso
from .core import Sandbox
from .outcomes import is_test_number
from .state import Doc

JOB_DURATION = timedelta(seconds=10)


def job_status(sb: Sandbox, job: Doc) -> str:
    """A block deletion job: pending, in_progress after 2 s, completed after JOB_DURATION."""
    age = sb.elapsed(job["created_at"])
    if age >= JOB_DURATION.total_seconds():
        return "completed"
    return "in_progress" if age >= 2 else "pending"


def block_deleted(sb: Sandbox, block_id: str) -> bool:
    return any(j["block_id"] == block_id and job_status(sb, j) == "completed" for j in sb.store.all("block_jobs"))


def active_block_numbers(sb: Sandbox) -> set[str]:
    """Numbers held by block orders whose block has not been deleted."""
    out: set[str] = set()
    for b in sb.store.all("block_orders"):
        if not block_deleted(sb, b["id"]):
            out.update(n.block_numbers(b["starting_number"], b["range"]))
    return out


def held_numbers(sb: Sandbox, viewer: str | None = None) -> dict[str, str]:
    """Numbers out of the available pool: e164 -> 'reserved', 'ordered', or 'own_reserved' for
    numbers that `viewer`'s account reserved (Telnyx still offers those to that account).
    An ordered number that was cancelled or released goes back to the pool; test numbers are never held."""
    now = sb.clock.now()
    held: dict[str, str] = {}
    for res in sb.store.all("reservations"):
        own = viewer is not None and res.get("account") == viewer
        for item in res["phone_numbers"]:
            if parse_iso(item["expired_at"]) > now:
                held[item["phone_number"]] = "own_reserved" if own else "reserved"
    for num in sb.store.all("order_numbers"):
        if not num.get("cancelled") and not num.get("released"):
            held[num["phone_number"]] = "ordered"
    for e164 in active_block_numbers(sb):
        held[e164] = "ordered"
    return {e164: why for e164, why in held.items() if not is_test_number(e164)}
