"""The floor: a minimal low-level mcp.server.Server with one tool over stdio.

Without --base-url the tool is trivial (echo). With --base-url it does the same HTTP GET as
available_phone_numbers_list (GET {base}/available_phone_numbers?filter[...]) with httpx.
"""

from __future__ import annotations

import argparse
import os
from typing import Any

import anyio
import httpx
import mcp_types as types
from mcp.server import Server, ServerRequestContext
from mcp.server.stdio import stdio_server

SCHEMA: dict[str, Any] = {
    "type": "object",
    "properties": {"filter": {"type": "object", "properties": {"country_code": {"type": "string"}}}},
}


def build(base_url: str | None) -> Server:
    """Build the one-tool server."""
    client = (
        httpx.AsyncClient(
            base_url=base_url, headers={"Authorization": f"Bearer {os.environ.get('TELNYX_API_KEY', '')}"}
        )
        if base_url
        else None
    )
    tool = types.Tool(name="available_phone_numbers_list", description="List numbers.", input_schema=SCHEMA)

    async def list_tools(ctx: ServerRequestContext, params: types.PaginatedRequestParams | None) -> Any:
        return types.ListToolsResult(tools=[tool])

    async def call_tool(ctx: ServerRequestContext, params: types.CallToolRequestParams) -> Any:
        args = params.arguments or {}
        if client is None:
            text = "ok"
        else:
            query = {f"filter[{k}]": str(v) for k, v in (args.get("filter") or {}).items()}
            resp = await client.get("/available_phone_numbers", params=query)
            if resp.status_code >= 400:
                return types.CallToolResult(content=[types.TextContent(type="text", text=resp.text)], is_error=True)
            text = resp.text
        return types.CallToolResult(content=[types.TextContent(type="text", text=text)])

    return Server("floor", version="0.0.1", on_list_tools=list_tools, on_call_tool=call_tool)


def main() -> None:
    """Serve over stdio."""
    parser = argparse.ArgumentParser()
    parser.add_argument("--base-url")
    server = build(parser.parse_args().base_url)

    async def run() -> None:
        async with stdio_server() as (read, write):
            await server.run(read, write, server.create_initialization_options())

    anyio.run(run)


if __name__ == "__main__":
    main()
