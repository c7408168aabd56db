"""Buy a Telnyx phone number with the OpenAI Agents SDK; a human approves before anything is bought.

    pip install telnyx-numbers-mcp openai-agents
    export OPENAI_API_KEY=...
    python examples/openai_agents_purchase.py "Buy one local number in Chicago"          # sandbox
    TELNYX_API_KEY=KEY... python examples/openai_agents_purchase.py --live "Buy ..."     # real money

How the approval works: the server runs with `--purchase-policy host-confirm`, so a purchase tool only
returns a quote (a summary and a confirmation_id) and sends nothing; the purchase happens when the agent
calls `confirm_action` with that id and summary. The Agents SDK's own tool approval
(`require_approval` on the MCP server) stops the run before `confirm_action` and before any purchase or
destructive tool, with an interruption that this script turns into a question on the terminal. Only
"y" lets the call run; anything else rejects it and the model is told so.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import sys
from collections.abc import Awaitable, Callable
from typing import Any

from agents import Agent, Runner, RunResult
from agents.mcp import MCPServerStdio
from agents.models.interface import Model

Approver = Callable[[str, dict[str, Any]], Awaitable[bool]]

INSTRUCTIONS = (
    "You help the user find and buy Telnyx phone numbers. Search first, then order what the user asked for. "
    "An order returns a quote: show the user its summary, then call confirm_action with the confirmation_id "
    "and the exact summary. The user approves or rejects that call; never work around a rejection."
)


def needs_approval(_context: Any, _agent: Any, tool: Any) -> bool:
    """Every tool that is not declared harmless: purchases, destructive calls and confirm_action.

    MCP's defaults apply: a tool that is not read-only is destructive unless it says destructiveHint false,
    so a tool a newer server adds is gated until it declares itself harmless.
    """
    hints = tool.annotations
    if hints is None:
        return True
    return not hints.read_only_hint and hints.destructive_hint is not False


def telnyx_server(
    *, command: str = "telnyx-numbers-mcp", sandbox: bool = True, env: dict[str, str] | None = None
) -> MCPServerStdio:
    """This MCP server over stdio, quoting purchases (host-confirm) and gated by the SDK's tool approval."""
    args = ["--purchase-policy", "host-confirm", *(["--sandbox"] if sandbox else [])]
    return MCPServerStdio(
        name="telnyx-numbers",
        params={"command": command, "args": args, "env": env} if env else {"command": command, "args": args},
        require_approval=needs_approval,
        client_session_timeout_seconds=60,
        cache_tools_list=True,
    )


def build_agent(server: MCPServerStdio, model: str | Model = "gpt-5-mini") -> Agent[Any]:
    return Agent(name="Telnyx numbers", instructions=INSTRUCTIONS, model=model, mcp_servers=[server])


async def run_with_approval(agent: Agent[Any], request: str, approve: Approver, max_rounds: int = 10) -> RunResult:
    """Run the agent; each time it stops for approval, ask `approve` about every pending call, then resume."""
    result = await Runner.run(agent, request)
    for _ in range(max_rounds):
        if not result.interruptions:
            return result
        state = result.to_state()
        for item in result.interruptions:
            arguments = json.loads(item.arguments or "{}")
            if await approve(item.name or "?", arguments):
                state.approve(item)
            else:
                state.reject(item, rejection_message="The user rejected this call. Do not retry it.")
        result = await Runner.run(agent, state)
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
    parser.add_argument("--model", default="gpt-5-mini")
    args = parser.parse_args(argv)
    env = {"TELNYX_API_KEY": os.environ.get("TELNYX_API_KEY", "")} if args.live else None
    async with telnyx_server(sandbox=not args.live, env=env) as server:
        result = await run_with_approval(build_agent(server, args.model), args.request, ask_on_terminal)
    print(result.final_output)
    return 0


if __name__ == "__main__":
    raise SystemExit(asyncio.run(main()))
