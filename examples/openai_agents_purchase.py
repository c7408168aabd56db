"""Buy a Telnyx phone number with the OpenAI Agents SDK; a human approves before anything is bought.

    pip install '.[examples]'                        # from a clone of telnyx-numbers-mcp
    python examples/openai_agents_purchase.py --scripted                                  # offline, no key
    OPENAI_API_KEY=... python examples/openai_agents_purchase.py "Buy one local number in Chicago"   # sandbox
    TELNYX_API_KEY=KEY... OPENAI_API_KEY=... python examples/openai_agents_purchase.py --live "Buy ..."  # real money

How the approval works: the server runs with `--purchase-policy host-confirm`, so a purchase tool only
returns a quote (a summary and a confirmation_id) and sends nothing; the purchase happens when the agent
calls `confirm_action` with that id and summary. The Agents SDK's own tool approval
(`require_approval` on the MCP server) stops the run before `confirm_action` and before any purchase or
destructive tool, with an interruption that this script turns into a question on the terminal. Only
"y" or "yes" lets the call run; anything else rejects it and the model is told so.

`--scripted` needs no model and no network: the SDK's own scripted model (`agents.testing.ScriptedModel`)
plays the agent (search Chicago, order the first number, confirm the quote) and a scripted human answers
"y", against the built-in sandbox. The server is this Python's `telnyx_numbers_mcp`; TELNYX_* variables
(e.g. TELNYX_MCP_AUDIT_LOG) reach it.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import re
import sys
from collections.abc import Awaitable, Callable, Sequence
from typing import Any

from agents import Agent, Runner, RunResult, set_tracing_disabled
from agents.mcp import MCPServerStdio
from agents.models.interface import Model

Approver = Callable[[str, dict[str, Any]], Awaitable[bool]]

SERVER = (sys.executable, "-m", "telnyx_numbers_mcp")  # the server installed beside this Python
SEARCH = {"filter": {"country_code": "US", "locality": "Chicago", "limit": 1}}
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
    *, command: Sequence[str] = SERVER, sandbox: bool = True, env: dict[str, str] | None = None
) -> MCPServerStdio:
    """This MCP server over stdio, quoting purchases (host-confirm) and gated by the SDK's tool approval.
    `env` defaults to the TELNYX_* variables of this process (the SDK passes only a few others on)."""
    args = [*command[1:], "--purchase-policy", "host-confirm", *(["--sandbox"] if sandbox else [])]
    environment = env if env is not None else {k: v for k, v in os.environ.items() if k.startswith("TELNYX_")}
    return MCPServerStdio(
        name="telnyx-numbers",
        params={"command": command[0], "args": args, "env": environment},
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


# ---------------------------------------------------------------- --scripted: the SDK's scripted model


def _text(output: Any) -> str:
    """A tool result as the SDK hands it to the model (a string, or input_text parts after the sandbox note)."""
    if isinstance(output, str):
        return output
    return str([part.get("text", "") for part in output if isinstance(part, dict)][-1])


def _outputs(call: Any) -> dict[str, str]:
    """The tool results the model has seen so far, by call id."""
    items = call.input if isinstance(call.input, list) else []
    return {
        i["call_id"]: _text(i["output"])
        for i in items
        if isinstance(i, dict) and i.get("type") == "function_call_output"
    }


def scripted_model() -> Model:
    """The agent, scripted: search Chicago, order the first number listed, confirm the quote with its
    confirmation_id and summary (read from the results as a model would), then report."""
    from agents.testing import ModelStep, ScriptedModel, assistant_message, function_call

    def order(call: Any) -> list[Any]:
        found = re.search(r"\+[0-9]{8,15}", _outputs(call)["search"])  # the first number listed
        if found is None:
            return [assistant_message("The search found no number.")]
        args = {"phone_numbers": [{"phone_number": found.group(0)}]}
        return [function_call("number_orders_create", args, call_id="order")]

    def confirm(call: Any) -> list[Any]:
        quote = _outputs(call).get("order", "")
        cid = re.search(r"confirmation_id: (\S+)", quote)
        if cid is None:  # the order was rejected or refused: nothing to confirm
            return [assistant_message("Nothing was ordered: " + quote)]
        summary = quote.split("\n\nNOTHING HAS BEEN SENT", 1)[0]
        args = {"confirmation_id": cid.group(1), "summary": summary}
        return [function_call("confirm_action", args, call_id="confirm")]

    def report(call: Any) -> list[Any]:
        return [assistant_message("Result: " + _outputs(call).get("confirm", "(no result)"))]

    search = [function_call("available_phone_numbers_list", SEARCH, call_id="search")]
    return ScriptedModel([search, ModelStep.respond(order), ModelStep.respond(confirm), ModelStep.respond(report)])


async def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("request", nargs="?", default="Buy one local number in Chicago",
                        help='what to do (default: "Buy one local number in Chicago")')  # fmt: skip
    parser.add_argument("--scripted", action="store_true",
                        help="no model, no key, no network: a scripted agent and a scripted 'y' (sandbox)")  # fmt: skip
    parser.add_argument("--live", action="store_true", help="use Telnyx for real (needs TELNYX_API_KEY)")
    parser.add_argument("--model", default="gpt-5-mini", help="OpenAI model (default: gpt-5-mini)")
    args = parser.parse_args(argv)
    if args.scripted and args.live:
        parser.error("--scripted runs against the sandbox; leave out --live")
    if not args.scripted and not os.environ.get("OPENAI_API_KEY"):
        parser.error("set OPENAI_API_KEY to run with a real model, or try --scripted (no key needed)")
    if args.live and not os.environ.get("TELNYX_API_KEY"):
        parser.error("--live needs TELNYX_API_KEY")
    if args.scripted:
        set_tracing_disabled(True)  # nothing to send traces to without an OpenAI key
    model: str | Model = scripted_model() if args.scripted else args.model
    approve = scripted_human if args.scripted else ask_on_terminal
    async with telnyx_server(sandbox=not args.live) as server:
        result = await run_with_approval(build_agent(server, model), args.request, approve)
    print(result.final_output)
    return 0


if __name__ == "__main__":
    raise SystemExit(asyncio.run(main()))
