"""telnyx-numbers-mcp: an MCP server to find, reserve and buy Telnyx phone numbers, with guards."""

__version__ = "0.1.0"
