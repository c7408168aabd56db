"""Buy a Telnyx phone number with Pydantic AI; a human approves before anything is bought.

    pip install '.[examples]'                        # from a clone of telnyx-numbers-mcp
    python examples/pydantic_ai_purchase.py --scripted                                    # offline, no key
    OPENAI_API_KEY=... python examples/pydantic_ai_purchase.py "Buy one local number in Chicago"     # sandbox
    TELNYX_API_KEY=KEY... OPENAI_API_KEY=... python examples/pydantic_ai_purchase.py --live "Buy ..."  # real money

How the approval works: the server runs with `--purchase-policy host-confirm`, so a purchase tool only
returns a quote (a summary and a confirmation_id) and sends nothing; the purchase happens when the agent
calls `confirm_action` with that id and summary. Pydantic AI's deferred tools do the gating: the MCP
toolset is wrapped with `approval_required`, so a call to `confirm_action` or to any purchase or
destructive tool ends the run with `DeferredToolRequests` instead of running. This script asks the human
about each one on the terminal and resumes the run with the answers (`DeferredToolResults`); a denied
call never reaches the server and the model is told so.

The toolset is entered once around all runs (`async with toolset`), so the interrupted run and the
resumed one talk to the same server process: a quote is only valid in the process that issued it.

`--scripted` needs no model and no network: Pydantic AI's `FunctionModel` plays the agent (search Chicago,
order the first number, confirm the quote) and a scripted human answers "y", against the built-in sandbox.
(`--model test`, Pydantic AI's TestModel, calls every tool with made-up arguments, so it is refused here.)
Any other model string works with its provider's key (`--model anthropic:...` with ANTHROPIC_API_KEY).
The server is this Python's `telnyx_numbers_mcp`; TELNYX_* variables (e.g. TELNYX_MCP_AUDIT_LOG) reach it.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import sys
from collections.abc import Awaitable, Callable, Sequence
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

SERVER = (sys.executable, "-m", "telnyx_numbers_mcp")  # the server installed beside this Python
SEARCH = {"filter": {"country_code": "US", "locality": "Chicago", "limit": 1}}
KEYS = {"openai": "OPENAI_API_KEY", "anthropic": "ANTHROPIC_API_KEY", "google-gla": "GEMINI_API_KEY",
        "groq": "GROQ_API_KEY", "mistral": "MISTRAL_API_KEY"}  # fmt: skip

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
    *, command: Sequence[str] = SERVER, sandbox: bool = True, env: dict[str, str] | None = None
) -> MCPToolset[None]:
    """This MCP server over stdio, quoting purchases (host-confirm); wrap it with approval in build_agent.
    `env` defaults to the TELNYX_* variables of this process."""
    args = [*command[1:], "--purchase-policy", "host-confirm", *(["--sandbox"] if sandbox else [])]
    environment = env if env is not None else {k: v for k, v in os.environ.items() if k.startswith("TELNYX_")}
    # init_timeout: the first start of a fresh install can take longer than FastMCP's 5-second default
    transport = StdioTransport(command=command[0], args=args, env=environment)
    return MCPToolset(transport, id="telnyx-numbers", init_timeout=60)


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


def show_request(tool: str, arguments: dict[str, Any]) -> None:
    """What the human reads before answering."""
    if tool == "confirm_action":
        print(f"\nThe agent asks to carry out:\n\n{arguments.get('summary', '(no summary)')}\n", file=sys.stderr)
    else:
        print(f"\nThe agent asks to call {tool} with {json.dumps(arguments, indent=2)}", file=sys.stderr)
        print(
            "(with host-confirm this only returns a quote; the purchase is a separate confirm_action)", file=sys.stderr
        )


async def ask_on_terminal(tool: str, arguments: dict[str, Any]) -> bool:
    """The human in the loop: shows what would run and reads y/N from the terminal."""
    show_request(tool, arguments)
    answer = await asyncio.to_thread(input, "Approve? [y/N] ")
    return answer.strip().lower() in ("y", "yes")


async def scripted_human(tool: str, arguments: dict[str, Any]) -> bool:
    """--scripted: reads the same question and answers "y"."""
    show_request(tool, arguments)
    print("Approve? [y/N] y   (scripted answer)", file=sys.stderr)
    return True


def scripted_model() -> Model:
    """The agent, scripted with FunctionModel: search Chicago, order the first number found, confirm the quote
    with its confirmation_id and summary (read from the tool results as a model would), then report."""
    from pydantic_ai.messages import ModelMessage, ModelRequest, ModelResponse, TextPart, ToolCallPart, ToolReturnPart
    from pydantic_ai.models.function import AgentInfo, FunctionModel

    def script(messages: list[ModelMessage], _info: AgentInfo) -> ModelResponse:
        returns: dict[str, Any] = {
            part.tool_call_id: part.content
            for message in messages
            if isinstance(message, ModelRequest)
            for part in message.parts
            if isinstance(part, ToolReturnPart)
        }
        if "search" not in returns:
            return ModelResponse(parts=[ToolCallPart("available_phone_numbers_list", SEARCH, tool_call_id="search")])
        if "order" not in returns:
            found = returns["search"].get("data") if isinstance(returns["search"], dict) else None
            if not found:
                return ModelResponse(parts=[TextPart("The search found no number.")])
            args = {"phone_numbers": [{"phone_number": found[0]["phone_number"]}]}
            return ModelResponse(parts=[ToolCallPart("number_orders_create", args, tool_call_id="order")])
        quote = returns["order"]
        if "confirm" not in returns:
            if not isinstance(quote, dict) or quote.get("status") != "awaiting_confirmation":
                return ModelResponse(parts=[TextPart(f"Nothing was ordered: {quote}")])
            args = {"confirmation_id": quote["confirmation_id"], "summary": quote["summary"]}
            return ModelResponse(parts=[ToolCallPart("confirm_action", args, tool_call_id="confirm")])
        return ModelResponse(parts=[TextPart("Result: " + json.dumps(returns["confirm"]))])

    return FunctionModel(script)


async def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("request", nargs="?", default="Buy one local number in Chicago",
                        help='what to do (default: "Buy one local number in Chicago")')  # fmt: skip
    parser.add_argument("--scripted", action="store_true",
                        help="no model, no key, no network: a scripted agent and a scripted 'y' (sandbox)")  # fmt: skip
    parser.add_argument("--live", action="store_true", help="use Telnyx for real (needs TELNYX_API_KEY)")
    parser.add_argument("--model", default="openai:gpt-5-mini",
                        help="any Pydantic AI model string (default: openai:gpt-5-mini)")  # fmt: skip
    args = parser.parse_args(argv)
    if args.scripted and args.live:
        parser.error("--scripted runs against the sandbox; leave out --live")
    if args.model == "test" and not args.scripted:
        parser.error("Pydantic AI's TestModel calls every tool with made-up arguments; use --scripted instead")
    key = KEYS.get(args.model.split(":", 1)[0])
    if not args.scripted and key and not os.environ.get(key):
        parser.error(f"set {key} to run with {args.model}, or try --scripted (no key needed)")
    if args.live and not os.environ.get("TELNYX_API_KEY"):
        parser.error("--live needs TELNYX_API_KEY")
    model: str | Model = scripted_model() if args.scripted else args.model
    approve = scripted_human if args.scripted else ask_on_terminal
    toolset = telnyx_toolset(sandbox=not args.live)
    async with toolset:
        result = await run_with_approval(build_agent(toolset, model), args.request, approve)
    print(result.output)
    return 0


if __name__ == "__main__":
    raise SystemExit(asyncio.run(main()))
