"""Buy a Telnyx phone number with Pydantic AI; a human approves before anything is bought.

    pip install telnyx-numbers-mcp 'pydantic-ai-slim[mcp,openai]'
    export OPENAI_API_KEY=...
    python examples/pydantic_ai_purchase.py "Buy one local number in Chicago"           # sandbox
    TELNYX_API_KEY=KEY... python examples/pydantic_ai_purchase.py --live "Buy ..."      # real money

How the approval works: the server runs with `--purchase-policy host-confirm`, so a purchase tool only
returns a quote (a summary and a confirmation_id) and sends nothing; the purchase happens when the agent
calls `confirm_action` with that id and summary. Pydantic AI's deferred tools do the gating: the MCP
toolset is wrapped with `approval_required`, so a call to `confirm_action` or to any purchase or
destructive tool ends the run with `DeferredToolRequests` instead of running. This script asks the human
about each one on the terminal and resumes the run with the answers (`DeferredToolResults`); a denied
call never reaches the server and the model is told so.

The toolset is entered once around all runs (`async with toolset`), so the interrupted run and the
resumed one talk to the same server process: a quote is only valid in the process that issued it.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import sys
from collections.abc import Awaitable, Callable
from typing import Any

from fastmcp.client.transports import StdioTransport
from pydantic_ai import (
    Agent,
    DeferredToolRequests,
    DeferredToolResults,
    RunContext,
    ToolApproved,
    ToolDefinition,
    ToolDenied,
)
from pydantic_ai.agent import AgentRunResult
from pydantic_ai.mcp import MCPToolset
from pydantic_ai.models import Model

Approver = Callable[[str, dict[str, Any]], Awaitable[bool]]
Output = str | DeferredToolRequests

INSTRUCTIONS = (
    "You help the user find and buy Telnyx phone numbers. Search first, then order what the user asked for. "
    "An order returns a quote: show the user its summary, then call confirm_action with the confirmation_id "
    "and the exact summary. The user approves or denies that call; never work around a denial."
)


def needs_approval(_ctx: RunContext[None], tool_def: ToolDefinition, _args: dict[str, Any]) -> bool:
    """Every tool that is not declared harmless: purchases, destructive calls and confirm_action.

    MCP's defaults apply: a tool that is not read-only is destructive unless it says destructiveHint false,
    so a tool a newer server adds is gated until it declares itself harmless.
    """
    hints = (tool_def.metadata or {}).get("annotations") or {}
    return not hints.get("readOnlyHint", False) and hints.get("destructiveHint", True) is not False


def telnyx_toolset(
    *, command: str = "telnyx-numbers-mcp", sandbox: bool = True, env: dict[str, str] | None = None
) -> MCPToolset[None]:
    """This MCP server over stdio, quoting purchases (host-confirm); wrap it with approval in build_agent."""
    args = ["--purchase-policy", "host-confirm", *(["--sandbox"] if sandbox else [])]
    # init_timeout: the first start of a fresh install can take longer than FastMCP's 5-second default
    return MCPToolset(StdioTransport(command=command, args=args, env=env), id="telnyx-numbers", init_timeout=60)


def build_agent(toolset: MCPToolset[None], model: str | Model = "openai:gpt-5-mini") -> Agent[None, Output]:
    return Agent(
        model,
        instructions=INSTRUCTIONS,
        toolsets=[toolset.approval_required(needs_approval)],
        output_type=[str, DeferredToolRequests],
    )


async def run_with_approval(
    agent: Agent[None, Output], request: str, approve: Approver, max_rounds: int = 10
) -> AgentRunResult[Output]:
    """Run the agent; each time it ends with calls awaiting approval, ask `approve` about each, then resume."""
    result = await agent.run(request)
    for _ in range(max_rounds):
        if not isinstance(result.output, DeferredToolRequests):
            return result
        answers: dict[str, bool | ToolApproved | ToolDenied] = {}
        for call in result.output.approvals:
            approved = await approve(call.tool_name, call.args_as_dict())
            answers[call.tool_call_id] = True if approved else ToolDenied("The user denied this call. Do not retry it.")
        result = await agent.run(
            message_history=result.all_messages(), deferred_tool_results=DeferredToolResults(approvals=answers)
        )
    raise RuntimeError(f"still waiting for approvals after {max_rounds} rounds")


async def ask_on_terminal(tool: str, arguments: dict[str, Any]) -> bool:
    """The human in the loop: shows what would run and reads y/N from the terminal."""
    if tool == "confirm_action":
        print(f"\nThe agent asks to carry out:\n\n{arguments.get('summary', '(no summary)')}\n", file=sys.stderr)
    else:
        print(f"\nThe agent asks to call {tool} with {json.dumps(arguments, indent=2)}", file=sys.stderr)
        print(
            "(with host-confirm this only returns a quote; the purchase is a separate confirm_action)", file=sys.stderr
        )
    answer = await asyncio.to_thread(input, "Approve? [y/N] ")
    return answer.strip().lower() in ("y", "yes")


async def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("request", help='what to do, e.g. "Buy one local number in Chicago"')
    parser.add_argument("--live", action="store_true", help="use Telnyx for real (needs TELNYX_API_KEY)")
    parser.add_argument("--model", default="openai:gpt-5-mini")
    args = parser.parse_args(argv)
    env = {"TELNYX_API_KEY": os.environ.get("TELNYX_API_KEY", "")} if args.live else None
    toolset = telnyx_toolset(sandbox=not args.live, env=env)
    async with toolset:
        result = await run_with_approval(build_agent(toolset, args.model), args.request, ask_on_terminal)
    print(result.output)
    return 0


if __name__ == "__main__":
    raise SystemExit(asyncio.run(main()))
