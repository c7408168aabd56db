"""Who a purchase's money is counted for, in one place: the caller's subject on a hosted server (--auth-issuer),
None locally (stdio, or one shared --http-token: then per-user limits do not apply and mandates are the local
user's). How approvals name their requester may change (approvals/); spend/ asks only this."""

from __future__ import annotations

from telnyx_numbers_mcp.auth.identity import current_caller


def subject() -> str | None:
    caller = current_caller()
    return caller.subject if caller is not None else None
