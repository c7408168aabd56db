"""The framework recipes in examples/, against the sandbox with each framework's scripted model (the recipe's
own `--scripted` model: Agents SDK `ScriptedModel`, Pydantic AI `FunctionModel`).

From the command line, as a user runs them: `python examples/<recipe>.py --scripted`, with no model key and
no network, places exactly one order in the sandbox (its state kept in a file the test then reads) after the
scripted human's "y". In process: the scripted model reads the tool results the way a model would (the number
from the search, the confirmation_id and summary from the quote); the "human" is a callback that records what
it was asked and how many orders existed at that moment, counted through the same server.
"""

from __future__ import annotations

import importlib.util
import json
import os
import subprocess
import sys
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parents[1]
RECIPES = ["openai_agents_purchase", "pydantic_ai_purchase"]

pytestmark = [pytest.mark.anyio, pytest.mark.slow]  # each recipe starts the server as a subprocess


def _recipe(name: str) -> ModuleType:
    spec = importlib.util.spec_from_file_location(name, ROOT / "examples" / f"{name}.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


# ---------------------------------------------------------------- from the command line


def _sandbox_orders(state: Path, tmp_path: Path) -> list[dict[str, Any]]:
    """The orders the sandbox holds in its state file (read through the CLI, as a user would)."""
    proc = subprocess.run(
        [sys.executable, "-m", "telnyx_numbers_mcp", "--sandbox", "--sandbox-state", str(state), "--state-dir",
         str(tmp_path / "state-read"), "call", "number_orders_list", "{}"],
        capture_output=True, text=True, timeout=120, stdin=subprocess.DEVNULL,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    orders: list[dict[str, Any]] = json.loads(proc.stdout)["data"]
    return orders


@pytest.mark.parametrize("name", RECIPES)
def test_the_recipe_run_scripted_from_the_command_line_places_one_order(tmp_path: Path, name: str) -> None:
    state = tmp_path / "sandbox.sqlite3"
    env = {k: v for k, v in os.environ.items() if not k.startswith(("TELNYX_", "MCP_", "OPENAI_", "ANTHROPIC_"))}
    env |= {
        "TELNYX_MCP_SANDBOX_STATE": str(state),  # the recipe passes TELNYX_* to its server: orders land here
        "TELNYX_MCP_STATE_DIR": str(tmp_path / "state"),
        "HTTPS_PROXY": "http://127.0.0.1:9", "HTTP_PROXY": "http://127.0.0.1:9",  # any network use would fail
    }  # fmt: skip
    proc = subprocess.run(
        [sys.executable, str(ROOT / "examples" / f"{name}.py"), "--scripted"],
        capture_output=True, text=True, timeout=300, env=env, stdin=subprocess.DEVNULL, cwd=tmp_path,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    orders = _sandbox_orders(state, tmp_path)
    assert len(orders) == 1, orders
    number = orders[0]["phone_numbers"][0]["phone_number"]
    assert number in proc.stdout and orders[0]["id"] in proc.stdout  # the agent reports what was bought
    # the human was asked twice (the quote, then the purchase with its summary) and the script said y
    assert proc.stderr.count("(scripted answer)") == 2
    assert "BUY 1 phone number" in proc.stderr and number in proc.stderr


@pytest.mark.parametrize("name", RECIPES)
def test_without_a_model_key_the_recipe_says_how_to_run_it(tmp_path: Path, name: str) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("TELNYX_", "MCP_", "OPENAI_", "ANTHROPIC_"))}
    proc = subprocess.run([sys.executable, str(ROOT / "examples" / f"{name}.py")], capture_output=True, text=True,
                          timeout=120, env=env, stdin=subprocess.DEVNULL)  # fmt: skip
    assert proc.returncode == 2 and "OPENAI_API_KEY" in proc.stderr and "--scripted" in proc.stderr


# ---------------------------------------------------------------- in process, with the terminal's answers


def terminal(monkeypatch: pytest.MonkeyPatch, approves_purchase: bool) -> None:
    """The person at the terminal: "y" to the quote request, then "y" or "n" to the purchase."""
    answers = iter(["y", "y" if approves_purchase else "n"])
    monkeypatch.setattr("builtins.input", lambda _prompt="": next(answers))


# ---------------------------------------------------------------- OpenAI Agents SDK


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
    async with recipe.telnyx_server(env=env) as server:

        async def human(tool: str, arguments: dict[str, Any]) -> bool:
            asked.append((tool, len(await _orders_via_agents_server(server))))
            return bool(await recipe.ask_on_terminal(tool, arguments))

        model = recipe.scripted_model()
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


@pytest.mark.parametrize("human_approves", [True, False], ids=["approved", "denied"])
async def test_pydantic_ai_recipe_buys_only_after_approval(
    tmp_path: Path, human_approves: bool, monkeypatch: pytest.MonkeyPatch, capfd: pytest.CaptureFixture[str]
) -> None:
    terminal(monkeypatch, human_approves)
    recipe = _recipe("pydantic_ai_purchase")
    asked: list[tuple[str, int]] = []
    toolset = recipe.telnyx_toolset(env={"TELNYX_MCP_AUDIT_LOG": str(tmp_path / "a.jsonl")})

    async def orders() -> list[dict[str, Any]]:
        answer = await toolset.direct_call_tool("number_orders_list", {})
        data: list[dict[str, Any]] = answer["data"]
        return data

    async def human(tool: str, arguments: dict[str, Any]) -> bool:
        asked.append((tool, len(await orders())))
        return bool(await recipe.ask_on_terminal(tool, arguments))

    async with toolset:
        result = await recipe.run_with_approval(
            recipe.build_agent(toolset, recipe.scripted_model()), "Buy a Chicago number", human
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
