"""Asking a person at a terminal (for the `call` and `demo` commands): the human approves, on stderr/stdin."""

from __future__ import annotations

import sys
from typing import Any

import anyio
import mcp_types as types


async def terminal_approval(context: Any, params: types.ElicitRequestParams) -> types.ElicitResult:
    message = getattr(params, "message", "")
    print(f"\n{message}\n", file=sys.stderr)
    answer = await anyio.to_thread.run_sync(lambda: input("Approve? Type 'yes' to approve: "))
    if answer.strip().lower() == "yes":
        return types.ElicitResult(action="accept", content={"approve": True})
    return types.ElicitResult(action="decline")
