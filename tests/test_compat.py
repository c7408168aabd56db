"""Clients nobody here wrote: the MCP Inspector CLI (Node) and the OpenAI Agents SDK (strict function tools)."""

from __future__ import annotations

import copy
import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from helpers import DEFAULT_TOOL_NAMES, need_npx

pytestmark = pytest.mark.slow  # server subprocesses, Node (npx) and the Agents SDK

SERVER = [sys.executable, "-m", "telnyx_numbers_mcp", "--sandbox"]

# Tools without arguments have inputSchema {"type": "object", "properties": {}} with no
# "additionalProperties": false. openai-agents 0.24 refuses to make such an open object strict
# ("permits undeclared properties") and silently falls back to a non-strict tool. Fix belongs in
# specgen (emit additionalProperties false); when it lands this set must become empty.
KNOWN_NON_STRICT: set[str] = set()


# ---------------------------------------------------------------- MCP Inspector CLI


def _inspector(tmp_path: Path, *method: str) -> dict[str, Any]:
    cmd = [need_npx(), "-y", "@modelcontextprotocol/inspector", "--cli",
           "-e", f"TELNYX_MCP_AUDIT_LOG={tmp_path / 'audit.jsonl'}", *SERVER, *method]  # fmt: skip
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=300, stdin=subprocess.DEVNULL)
    assert proc.returncode == 0, f"inspector failed ({proc.returncode}): {proc.stderr[-2000:]}"
    answer: dict[str, Any] = json.loads(proc.stdout)
    return answer


def test_inspector_cli_lists_tools(tmp_path: Path) -> None:
    answer = _inspector(tmp_path, "--method", "tools/list")
    tools = answer["tools"]
    assert {t["name"] for t in tools} == DEFAULT_TOOL_NAMES
    assert all(t["inputSchema"]["type"] == "object" for t in tools)


def test_inspector_cli_calls_a_tool(tmp_path: Path) -> None:
    filt = json.dumps({"country_code": "US", "locality": "Chicago", "limit": 2})
    answer = _inspector(tmp_path, "--method", "tools/call", "--tool-name", "available_phone_numbers_list",
                        "--tool-arg", f"filter={filt}")  # fmt: skip
    assert answer.get("isError") is False, answer
    numbers = answer["structuredContent"]["data"]
    assert 1 <= len(numbers) <= 2
    assert all(n["phone_number"].startswith("+1") for n in numbers)


# ---------------------------------------------------------------- OpenAI Agents SDK


def _open_objects(schema: Any, path: str = "$") -> list[str]:
    """Paths of objects in a strict schema that do not say additionalProperties: false."""
    found: list[str] = []
    if isinstance(schema, dict):
        if schema.get("type") == "object" and schema.get("additionalProperties") is not False:
            found.append(path)
        for key, value in schema.items():
            found += _open_objects(value, f"{path}.{key}")
    elif isinstance(schema, list):
        for i, value in enumerate(schema):
            found += _open_objects(value, f"{path}[{i}]")
    return found


@pytest.mark.anyio
async def test_openai_agents_strict_function_tools(tmp_path: Path) -> None:
    agents_mcp = pytest.importorskip("agents.mcp")
    from agents.strict_schema import ensure_strict_json_schema

    params = {"command": SERVER[0], "args": SERVER[1:], "env": {"TELNYX_MCP_AUDIT_LOG": str(tmp_path / "a.jsonl")}}
    async with agents_mcp.MCPServerStdio(params=params, client_session_timeout_seconds=60) as server:
        tools = await server.list_tools()
        converted = {t.name: agents_mcp.MCPUtil.to_function_tool(t, server, convert_schemas_to_strict=True)
                     for t in tools}  # fmt: skip
        search = await server.call_tool(
            "available_phone_numbers_list", {"filter": {"country_code": "US", "locality": "Chicago", "limit": 1}}
        )
    assert set(converted) == DEFAULT_TOOL_NAMES
    assert not search.is_error

    # to_function_tool swallows a failed strict conversion; ask the converter itself why
    non_strict: dict[str, str] = {}
    for tool in tools:
        if converted[tool.name].strict_json_schema:
            continue
        try:
            ensure_strict_json_schema(copy.deepcopy(tool.input_schema), _reject_open_objects=True)
            non_strict[tool.name] = "converted when called directly"
        except Exception as exc:
            non_strict[tool.name] = str(exc)
    assert set(non_strict) == KNOWN_NON_STRICT, non_strict

    for name, function_tool in converted.items():
        if name in KNOWN_NON_STRICT:
            continue
        schema = function_tool.params_json_schema
        assert schema["type"] == "object", name
        assert schema["additionalProperties"] is False, name
        assert set(schema["required"]) == set(schema["properties"]), name
        assert not _open_objects(schema), (name, _open_objects(schema))
