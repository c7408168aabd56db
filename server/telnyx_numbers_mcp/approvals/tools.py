"""The approval tools the server itself offers (not Telnyx operations): check_approval under the default
policy. Kept light so listing tools does not load the approvals machinery."""

from __future__ import annotations

import mcp_types as types

CHECK_TOOL = "check_approval"


def check_tool() -> types.Tool:
    return types.Tool(
        name=CHECK_TOOL,
        title="Check a purchase or destructive action awaiting a human's approval",
        description=(
            "Reports whether a human has approved an action whose answer said awaiting approval, and once "
            "they have, carries it out (exactly once) and returns its result; asking again returns the same "
            "result without sending anything. You cannot approve anything yourself: the human decides on "
            "their own approval page, outside this chat. May wait up to a minute for the decision."
        ),
        input_schema={
            "type": "object",
            "properties": {
                "approval_id": {"type": "string", "description": "The approval_id from the awaiting approval answer."}
            },
            "required": ["approval_id"],
        },
        annotations=types.ToolAnnotations(
            read_only_hint=False, destructive_hint=True, idempotent_hint=True, open_world_hint=True
        ),
        _meta={"telnyx-numbers-mcp/kind": "approval"},
    )
