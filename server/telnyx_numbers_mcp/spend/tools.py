"""The spend tools this server offers itself (not Telnyx operations): `request_mandate` (a human approves a bounded set
of purchases ahead of time) and `spending` (what was spent and what is left). Kept light: listing tools loads
nothing else of spend/."""

from __future__ import annotations

import mcp_types as types

MANDATE_TOOL = "request_mandate"
SPENDING_TOOL = "spending"
NUMBER_TYPES = ("local", "toll_free", "mobile", "national")
MAX_MINUTES = 7 * 24 * 60  # a mandate lasts at most 7 days
MAX_NUMBERS = 1000


def mandate_tool() -> types.Tool:
    return types.Tool(
        name=MANDATE_TOOL,
        title="Ask a human to approve several purchases ahead of time",
        description=(
            "Use when several purchases are planned or the user will be away: asks the user once to approve a "
            "mandate; purchases within its bounds (each counts its upfront cost plus first month) then go out "
            "unasked. The user may lower any bound."
        ),
        input_schema={
            "type": "object",
            "properties": {
                "max_numbers": {"type": "integer", "minimum": 1, "maximum": MAX_NUMBERS},
                "max_total_usd": {"type": "number", "description": "Most USD all purchases count together."},
                "countries": {"type": "array", "items": {"type": "string"}, "description": "ISO codes, e.g. US."},
                "number_types": {"type": "array", "items": {"type": "string", "enum": list(NUMBER_TYPES)}},
                "expires_in_minutes": {"type": "integer", "minimum": 1, "maximum": MAX_MINUTES},
                "reason": {"type": "string", "description": "What the purchases are for, shown to the user."},
            },
            "required": ["max_numbers", "max_total_usd", "countries", "number_types", "expires_in_minutes", "reason"],
            "additionalProperties": False,
        },
        annotations=types.ToolAnnotations(
            read_only_hint=False, destructive_hint=False, idempotent_hint=False, open_world_hint=False
        ),
        _meta={"telnyx-numbers-mcp/kind": "mandate"},
    )


def spending_tool() -> types.Tool:
    return types.Tool(
        name=SPENDING_TOOL,
        title="Spending, limits and mandates",
        description=(
            "What purchases spent and hold today and this month (UTC) against the spending limits, the active "
            "mandates and what is left of each, and how many approvals wait for a human."
        ),
        input_schema={"type": "object", "properties": {}, "additionalProperties": False},
        annotations=types.ToolAnnotations(
            read_only_hint=True, destructive_hint=False, idempotent_hint=True, open_world_hint=False
        ),
        _meta={"telnyx-numbers-mcp/kind": "spending"},
    )
