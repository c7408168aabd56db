"""Asking a person at a terminal (for the `call` and `demo` commands): the human approves, on stderr/stdin.

The question is asked once: the elicitation message ends with the server's own "Approve? ..." line, which
the prompt replaces. `y` and `yes` approve (any case); anything else, an empty line or end of input declines.
The prompt goes to stderr, so stdout keeps only the command's result."""

from __future__ import annotations

import sys
from typing import Any

import anyio
import mcp_types as types

from telnyx_numbers_mcp.approvals.channels import QUESTION_FOOTER

PROMPT = "Approve? Only y or yes sends the request; anything else sends nothing. [y/N] "


def approves(answer: str) -> bool:
    return answer.strip().lower() in ("y", "yes")


def _ask() -> str:
    sys.stderr.write(PROMPT)
    sys.stderr.flush()
    return sys.stdin.readline()  # "" at end of input: a decline


async def terminal_approval(context: Any, params: types.ElicitRequestParams) -> types.ElicitResult:
    message = str(getattr(params, "message", "")).removesuffix(QUESTION_FOOTER)
    print(f"\n{message}\n", file=sys.stderr)
    answer = await anyio.to_thread.run_sync(_ask)
    if approves(answer):
        return types.ElicitResult(action="accept", content={"approve": True})
    return types.ElicitResult(action="decline")
