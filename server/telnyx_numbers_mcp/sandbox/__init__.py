"""A stateful simulator of the Telnyx phone-number API, for tests and offline demos (no MCP knowledge)."""

from __future__ import annotations

from .app import create_app
from .core import Sandbox
from .server import serve

__all__ = ["Sandbox", "create_app", "serve"]
