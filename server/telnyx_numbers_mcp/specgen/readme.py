"""The README's tool table, generated from tool_specs/ so it never drifts from what the server offers."""

from __future__ import annotations

import re
from pathlib import Path

from telnyx_numbers_mcp.catalog import load_catalog

START, END = "<!-- tools:start -->", "<!-- tools:end -->"


def tool_table(tool_specs: Path) -> str:
    rows = ["| Tool | Toolset | What it does | Kind |", "|---|---|---|---|"]
    for tool in load_catalog(tool_specs):
        kind = f"{tool.kind}; billed settings: approval" if tool.billed_settings is not None else tool.kind
        rows.append(f"| `{tool.name}` | {tool.toolset} | {tool.title} | {kind} |")
    return "\n".join(rows)


def render(readme_text: str, tool_specs: Path) -> str:
    block = f"{START}\n{tool_table(tool_specs)}\n{END}"
    pattern = re.compile(re.escape(START) + ".*?" + re.escape(END), re.DOTALL)
    if not pattern.search(readme_text):
        raise ValueError(f"README has no {START} ... {END} block")
    return pattern.sub(lambda _: block, readme_text)
