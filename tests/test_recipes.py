"""The framework recipes in examples/, run as written against the sandbox with each framework's scripted model.

The scripted model reads the tool results the way a model would (the number from the search, the
confirmation_id and summary from the quote). The "human" is a callback that records what it was asked and
how many orders existed at that moment; orders are counted through the same server (number_orders_list).
"""

from __future__ import annotations

import importlib.util
import json
import re
import sys
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parents[1]
SERVER_COMMAND = str(Path(sys.executable).parent / "telnyx-numbers-mcp")  # as installed into this virtualenv
SEARCH = {"filter": {"country_code": "US", "locality": "Chicago", "limit": 1}}

pytestmark = [pytest.mark.anyio, pytest.mark.slow]  # each recipe starts the server as a subprocess


def _recipe(name: str) -> ModuleType:
    spec = importlib.util.spec_from_file_location(name, ROOT / "examples" / f"{name}.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def quote_fields(text: str) -> tuple[str, str]:
    """What a model takes from a quote: the confirmation_id and the summary (the text before the notice)."""
    cid = re.search(r"confirmation_id: (\S+)", text)
    assert cid is not None, text
    summary = text.split("\n\nNOTHING HAS BEEN SENT", 1)[0]
    return cid.group(1), summary


def terminal(monkeypatch: pytest.MonkeyPatch, approves_purchase: bool) -> None:
    """The person at the terminal: "y" to the quote request, then "y" or "n" to the purchase."""
    answers = iter(["y", "y" if approves_purchase else "n"])
    monkeypatch.setattr("builtins.input", lambda _prompt="": next(answers))


# ---------------------------------------------------------------- OpenAI Agents SDK


def _agents_text(output: Any) -> str:
    """A tool result as the Agents SDK hands it to the model (a string or a list of input_text parts), without
    the sandbox note that comes first in sandbox mode."""
    if isinstance(output, str):
        return output
    return str([part.get("text", "") for part in output if isinstance(part, dict)][-1])


def _agents_outputs(call: Any) -> dict[str, str]:
    items = call.input if isinstance(call.input, list) else []
    return {
        i["call_id"]: _agents_text(i["output"])
        for i in items
        if isinstance(i, dict) and i.get("type") == "function_call_output"
    }


def _agents_model() -> Any:
    from agents.testing import ModelStep, ScriptedModel, assistant_message, function_call

    def order(call: Any) -> list[Any]:
        found = re.search(r"\+[0-9]{8,15}", _agents_outputs(call)["search"])  # the first number listed
        assert found is not None
        number = found.group(0)
        return [function_call("number_orders_create", {"phone_numbers": [{"phone_number": number}]}, call_id="order")]

    def confirm(call: Any) -> list[Any]:
        cid, summary = quote_fields(_agents_outputs(call)["order"])
        return [function_call("confirm_action", {"confirmation_id": cid, "summary": summary}, call_id="confirm")]

    def report(call: Any) -> list[Any]:
        return [assistant_message("Result: " + _agents_outputs(call)["confirm"])]

    return ScriptedModel(
        [
            [function_call("available_phone_numbers_list", SEARCH, call_id="search")],
            ModelStep.respond(order),
            ModelStep.respond(confirm),
            ModelStep.respond(report),
        ]
    )


async def _orders_via_agents_server(server: Any) -> list[dict[str, Any]]:
    result = await server.call_tool("number_orders_list", {})
    data: list[dict[str, Any]] = result.structured_content["data"]
    return data


@pytest.mark.parametrize("human_approves", [True, False], ids=["approved", "rejected"])
async def test_openai_agents_recipe_buys_only_after_approval(
    tmp_path: Path, human_approves: bool, monkeypatch: pytest.MonkeyPatch, capfd: pytest.CaptureFixture[str]
) -> None:
    terminal(monkeypatch, human_approves)
    from agents import set_tracing_disabled

    set_tracing_disabled(True)  # no OpenAI key here: nothing to export traces to
    recipe = _recipe("openai_agents_purchase")
    asked: list[tuple[str, int]] = []
    env = {"TELNYX_MCP_AUDIT_LOG": str(tmp_path / "audit.jsonl")}
    async with recipe.telnyx_server(command=SERVER_COMMAND, env=env) as server:

        async def human(tool: str, arguments: dict[str, Any]) -> bool:
            asked.append((tool, len(await _orders_via_agents_server(server))))
            return bool(await recipe.ask_on_terminal(tool, arguments))

        model = _agents_model()
        result = await recipe.run_with_approval(recipe.build_agent(server, model), "Buy a Chicago number", human)
        orders = await _orders_via_agents_server(server)
    model.assert_complete()
    # the human was asked before the quote and before the purchase; no order existed either time
    assert asked == [("number_orders_create", 0), ("confirm_action", 0)]
    shown = capfd.readouterr().err  # what the person at the terminal read before each answer
    assert "call number_orders_create" in shown and "only returns a quote" in shown
    assert "The agent asks to carry out:" in shown and "BUY 1 phone number" in shown and "Total: upfront" in shown
    if human_approves:
        assert len(orders) == 1, result.final_output
        assert orders[0]["phone_numbers"][0]["phone_number"] in result.final_output
    else:
        assert orders == []
        assert "rejected" in result.final_output


# ---------------------------------------------------------------- Pydantic AI


def _pydantic_ai_model() -> Any:
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
            number = returns["search"]["data"][0]["phone_number"]
            args = {"phone_numbers": [{"phone_number": number}]}
            return ModelResponse(parts=[ToolCallPart("number_orders_create", args, tool_call_id="order")])
        if "confirm" not in returns:
            quote = returns["order"]
            assert quote["status"] == "awaiting_confirmation", quote
            args = {"confirmation_id": quote["confirmation_id"], "summary": quote["summary"]}
            return ModelResponse(parts=[ToolCallPart("confirm_action", args, tool_call_id="confirm")])
        return ModelResponse(parts=[TextPart("Result: " + json.dumps(returns["confirm"]))])

    return FunctionModel(script)


@pytest.mark.parametrize("human_approves", [True, False], ids=["approved", "denied"])
async def test_pydantic_ai_recipe_buys_only_after_approval(
    tmp_path: Path, human_approves: bool, monkeypatch: pytest.MonkeyPatch, capfd: pytest.CaptureFixture[str]
) -> None:
    terminal(monkeypatch, human_approves)
    recipe = _recipe("pydantic_ai_purchase")
    asked: list[tuple[str, int]] = []
    toolset = recipe.telnyx_toolset(command=SERVER_COMMAND, env={"TELNYX_MCP_AUDIT_LOG": str(tmp_path / "a.jsonl")})

    async def orders() -> list[dict[str, Any]]:
        answer = await toolset.direct_call_tool("number_orders_list", {})
        data: list[dict[str, Any]] = answer["data"]
        return data

    async def human(tool: str, arguments: dict[str, Any]) -> bool:
        asked.append((tool, len(await orders())))
        return bool(await recipe.ask_on_terminal(tool, arguments))

    async with toolset:
        result = await recipe.run_with_approval(
            recipe.build_agent(toolset, _pydantic_ai_model()), "Buy a Chicago number", human
        )
        final = await orders()
    assert asked == [("number_orders_create", 0), ("confirm_action", 0)]
    shown = capfd.readouterr().err  # what the person at the terminal read before each answer
    assert "call number_orders_create" in shown and "only returns a quote" in shown
    assert "The agent asks to carry out:" in shown and "BUY 1 phone number" in shown and "Total: upfront" in shown
    assert isinstance(result.output, str)
    if human_approves:
        assert len(final) == 1, result.output
        assert final[0]["phone_numbers"][0]["phone_number"] in result.output
    else:
        assert final == []
        assert "denied" in result.output
