"""The tool table in docs/tools.md, generated from tool_specs/ so it never drifts from what the server offers."""

from __future__ import annotations

import re
from pathlib import Path

from telnyx_numbers_mcp.catalog import load_catalog

START, END = "<!-- tools:start -->", "<!-- tools:end -->"
DOC = Path("docs") / "tools.md"  # the page that holds the table, relative to the repository root


def tool_table(tool_specs: Path) -> str:
    rows = ["| Tool | Toolset | What it does | Kind |", "|---|---|---|---|"]
    for tool in load_catalog(tool_specs):
        kind = f"{tool.kind}; billed settings: approval" if tool.billed_settings is not None else tool.kind
        rows.append(f"| `{tool.name}` | {tool.toolset} | {tool.title} | {kind} |")
    return "\n".join(rows)


def render(page_text: str, tool_specs: Path) -> str:
    """The page with its table block replaced by the table of `tool_specs`; ValueError if it has no block."""
    block = f"{START}\n{tool_table(tool_specs)}\n{END}"
    pattern = re.compile(re.escape(START) + ".*?" + re.escape(END), re.DOTALL)
    if not pattern.search(page_text):
        raise ValueError(f"{DOC} has no {START} ... {END} block")
    return pattern.sub(lambda _: block, page_text)
