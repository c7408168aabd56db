"""Every client config snippet in README.md starts a working stdio MCP server, exactly as written."""

from __future__ import annotations

import json
import re
import shlex
import sys
from pathlib import Path
from typing import Any

import pytest
from mcp import Client, StdioServerParameters

from helpers import DEFAULT_TOOL_NAMES

README = Path(__file__).resolve().parents[1] / "README.md"
BIN = Path(sys.executable).parent

pytestmark = [pytest.mark.anyio, pytest.mark.slow]  # server subprocesses


def _clients_section() -> str:
    text = README.read_text()
    return text.split("## Use it from your MCP client", 1)[1].split("\n## ", 1)[0]


def _json_blocks() -> list[dict[str, Any]]:
    return [json.loads(b) for b in re.findall(r"^```json\n(.*?)^```$", README.read_text(), re.S | re.M)]


def _entries() -> list[tuple[str, dict[str, Any]]]:
    entries: list[tuple[str, dict[str, Any]]] = []
    for i, block in enumerate(_json_blocks()):
        servers = block.get("mcpServers") or block.get("servers") or {}
        entries += [(f"json{i}:{name}", e) for name, e in servers.items() if "command" in e]
    for line in _clients_section().splitlines():
        if line.startswith("claude mcp add "):
            words = shlex.split(line)
            env = dict(w.split("=", 1) for w in words[words.index("--env") + 1 : words.index("--")][::2])
            command, *args = words[words.index("--") + 1 :]
            entries.append((f"claude-code:{words[3]}", {"command": command, "args": args, "env": env}))
    return entries


def test_readme_has_a_snippet_per_client() -> None:
    section = _clients_section()
    for client in ("Claude Desktop", "Claude Code", "VS Code", "Cursor"):
        assert f"**{client}**" in section
    blocks = _json_blocks()
    assert sum("mcpServers" in b for b in blocks) == 2  # Claude Desktop, Cursor
    vscode = [b for b in blocks if "servers" in b]
    assert len(vscode) == 1 and vscode[0]["servers"]["telnyx-numbers"]["type"] == "stdio"
    assert len(_entries()) == 4


@pytest.mark.parametrize(("name", "entry"), _entries(), ids=[n for n, _ in _entries()])
async def test_snippet_starts_a_server(name: str, entry: dict[str, Any], tmp_path: Path) -> None:
    command = entry["command"]
    if "/" not in command:  # as installed into this virtualenv
        command = str(BIN / command)
    env = {k: v for k, v in (entry.get("env") or {}).items() if k != "TELNYX_API_KEY"}
    env |= {"TELNYX_SANDBOX": "1", "TELNYX_MCP_AUDIT_LOG": str(tmp_path / "audit.jsonl")}
    params = StdioServerParameters(command=command, args=list(entry.get("args") or []), env=env)
    async with Client(params) as client:
        tools = await client.list_tools()
    assert {t.name for t in tools.tools} == DEFAULT_TOOL_NAMES, name
