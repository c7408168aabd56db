"""The project's exception tree; each error carries data, and app.py turns them into MCP results in one place.

NumbersMcpError
 ├── ConfigError            bad flags or environment (raised at start-up, never mid-call)
 ├── SpecError              tool_specs/ or the OpenAPI spec cannot be turned into tools (generator, loader)
 ├── ToolCallError          anything that refuses or fails one tool call; the server answers isError
 │    ├── ArgumentError     arguments fail the tool's schema            .problems [(path, message)]
 │    ├── PhoneNumberError  a field that must be E.164 is not           .problems [E164Problem]
 │    ├── MissingApiKey     TELNYX_API_KEY is not set
 │    ├── ApprovalError     the human did not approve / confirmation invalid; nothing was sent
 │    │    └── ModeMismatch made under another mode (sandbox/live, base URL, API key); nothing was sent
 │    ├── PolicyError       purchase policy or caps forbid the call; nothing was sent
 │    ├── ApiError          Telnyx answered with an error status       .status .errors
 │    └── TransportError    timeout or connection failure              .may_have_reached
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

ECHO_LIMIT = 80


def shown(value: Any, limit: int = ECHO_LIMIT) -> str:
    """``repr(value)`` cut to ``limit`` characters plus its full length, so an error never echoes a
    megabyte of input back (the model pays for every character)."""
    text = repr(value)
    return text if len(text) <= limit else f"{text[:limit]}... ({len(text)} chars)"


PROBLEM_LIMIT = 50


def _more(problems: list[Any]) -> str:
    extra = len(problems) - PROBLEM_LIMIT
    return f"\n- ... and {extra} more problems" if extra > 0 else ""


class NumbersMcpError(Exception):
    """Base of every error this package raises on purpose."""


class ConfigError(NumbersMcpError):
    """Flags or environment are invalid."""


class SpecError(NumbersMcpError):
    """The OpenAPI spec or tool_specs/ cannot be used."""


class ToolCallError(NumbersMcpError):
    """A tool call was refused or failed; the message is meant for the model and the user."""


@dataclass
class ArgumentProblem:
    path: str
    message: str


class ArgumentError(ToolCallError):
    """Arguments do not match the tool's inputSchema; nothing was sent."""

    def __init__(self, tool: str, problems: list[ArgumentProblem]) -> None:
        self.tool = tool
        self.problems = problems
        lines = "\n".join(f"- {p.path}: {p.message}" for p in problems[:PROBLEM_LIMIT]) + _more(problems)
        super().__init__(f"Invalid arguments for {tool}; nothing was sent to Telnyx.\n{lines}")


@dataclass
class E164Problem:
    path: str
    value: Any
    message: str
    suggestion: str | None = None

    def describe(self) -> str:
        text = f"{self.path}: {shown(self.value)} {self.message}"
        if self.suggestion:
            text += f" Did you mean {self.suggestion!r}?"
        return text


class PhoneNumberError(ToolCallError):
    """One or more fields that must hold a full E.164 number do not; nothing was sent."""

    def __init__(self, tool: str, problems: list[E164Problem]) -> None:
        self.tool = tool
        self.problems = problems
        lines = "\n".join(f"- {p.describe()}" for p in problems[:PROBLEM_LIMIT]) + _more(problems)
        super().__init__(
            f"Invalid phone number(s) for {tool}; nothing was sent to Telnyx. Phone numbers must be E.164: "
            f"'+', country code and number, 8 to 15 digits, no spaces, dashes or brackets "
            f"(e.g. +13125550001).\n{lines}"
        )


class MissingApiKey(ToolCallError):
    def __init__(self) -> None:
        super().__init__(
            "No Telnyx API key is configured; nothing was sent. Set the TELNYX_API_KEY environment variable "
            'in the MCP client\'s server config ("env": {"TELNYX_API_KEY": "KEY..."}), '
            "or start the server with --sandbox to try it without an account."
        )


class ApprovalError(ToolCallError):
    """A human did not approve (declined, cancelled, timed out) or a confirmation was invalid."""


class ModeMismatch(ApprovalError):
    """An approval or quote made under another mode (mode.py) than this process's; nothing was decided or sent."""


class PolicyError(ToolCallError):
    """The purchase policy or a cap forbids this call."""


class ApiError(ToolCallError):
    """Telnyx answered with an error status."""

    def __init__(self, message: str, *, status: int, errors: list[dict[str, Any]] | None = None) -> None:
        self.status = status
        self.errors = errors or []
        super().__init__(message)


class TransportError(ToolCallError):
    """The request timed out or the connection failed."""

    def __init__(self, message: str, *, may_have_reached: bool) -> None:
        self.may_have_reached = may_have_reached
        super().__init__(message)


@dataclass
class CallOutcome:
    """What one HTTP call produced; used by the audit log and the result mapping."""

    status: int | None = None
    ids: list[str] = field(default_factory=list)
