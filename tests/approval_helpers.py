"""Shared pieces of the approval-flow tests: a server with the review page and a recording Telnyx endpoint
(the sandbox), an --approval-notify recorder that hands the test the review URL, and page helpers."""

from __future__ import annotations

import json
import re
import sys
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
import mcp_types as types
from mcp import Client

from telnyx_numbers_mcp.app import build_server
from telnyx_numbers_mcp.catalog import ToolSpec, load_catalog
from telnyx_numbers_mcp.config import build_settings
from telnyx_numbers_mcp.sandbox import Sandbox, create_app

API_KEY = "KEY_zq9Xw7Lp3Vt5Rm1Nc8"
CATALOG: dict[str, ToolSpec] = {t.name: t for t in load_catalog()}
NOTIFY = Path(__file__).with_name("notify_recorder.py")


def text(result: types.CallToolResult) -> str:
    return "\n".join(c.text for c in result.content if isinstance(c, types.TextContent))


@dataclass
class Flow:
    """One sandbox (the recording upstream), one state folder, and every tool result the tests saw."""

    sb: Sandbox
    tmp: Path
    seen: list[str] = field(default_factory=list)

    @property
    def urls_file(self) -> Path:
        return self.tmp / "urls.jsonl"

    @property
    def state(self) -> Path:
        return self.tmp / "state"

    def flags(self, **overrides: Any) -> dict[str, Any]:
        return {
            "base_url": "http://sandbox.invalid/v2",
            "api_key": API_KEY,
            "audit_log": str(self.tmp / "audit.jsonl"),
            "state_dir": str(self.state),
            "approval_wait": 0,
            "approval_notify": f"{sys.executable} {NOTIFY} {self.urls_file}",
            **overrides,
        }

    def cli_flags(self) -> list[str]:
        """What an operator's `approvals` command needs to work on this flow's store under the server's mode
        (with TELNYX_API_KEY=API_KEY in its environment)."""
        return ["--base-url", "http://sandbox.invalid/v2", "--state-dir", str(self.state),
                "--audit-log", str(self.tmp / "audit.jsonl")]  # fmt: skip

    def sent(self, tool: str) -> int:
        spec = CATALOG[tool]
        pattern = re.compile("/v2" + re.sub(r"\{[^}]+\}", "[^/]+", spec.path))
        return sum(1 for r in self.sb.requests if r["method"] == spec.method and pattern.fullmatch(r["path"]))

    def audit(self) -> list[dict[str, Any]]:
        path = self.tmp / "audit.jsonl"
        return [json.loads(line) for line in path.read_text().splitlines()] if path.exists() else []

    def server(self, **overrides: Any) -> Any:
        settings = build_settings(self.flags(**overrides), {})
        return build_server(settings, transport=httpx.ASGITransport(app=create_app(self.sb)))

    @asynccontextmanager
    async def client(
        self, mode: str = "legacy", server: Any = None, elicitation_callback: Any = None, **overrides: Any
    ) -> AsyncIterator[Client]:
        """A real MCP client; `overrides` are server flags."""
        async with Client(server or self.server(**overrides), mode=mode,
                          elicitation_callback=elicitation_callback) as c:  # fmt: skip
            yield c

    async def call(self, c: Client, tool: str, args: dict[str, Any]) -> types.CallToolResult:
        result = await c.call_tool(tool, args)
        self.seen.append(result.model_dump_json())
        return result

    def url(self, index: int = -1, count: int = 1) -> str:
        """The review URL handed to --approval-notify (waits for the notifier process to write it)."""
        return notified(self.urls_file, index, count)

    def assert_secret_never_seen(self) -> None:
        """No tool result of the flow carries a review URL, its secret or the listener's address."""
        records = notifications(self.urls_file)
        assert records, "the flow produced no review URL to look for"
        for record in records:
            url = record["env_url"]
            secret = parse_qs(urlsplit(url).query)["t"][0]
            netloc = urlsplit(url).netloc
            for result in self.seen:
                assert secret not in result and url not in result and netloc not in result, result[:300]
                assert "?t=" not in result


def notifications(path: Path) -> list[dict[str, Any]]:
    """What each run of notify_recorder.py was given."""
    return [json.loads(line) for line in path.read_text().splitlines()] if path.exists() else []


def notified(path: Path, index: int = -1, count: int = 1) -> str:
    """The review URL the `index`th --approval-notify run got, once `count` runs wrote theirs. Each got it in
    TELNYX_MCP_APPROVAL_URL and on stdin, never as an argument, and had no secret in its environment."""
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        records = notifications(path)
        if len(records) >= count:
            record = records[index]
            assert record["env_url"] == record["stdin"] and "/approvals/ap_" in record["env_url"], record
            assert not any("/approvals/" in arg or "?t=" in arg for arg in record["argv"]), record["argv"]
            assert record["secrets"] == [], "the notify command must get no secret in its environment"
            return str(record["env_url"])
        time.sleep(0.02)
    raise AssertionError("--approval-notify was not run")


async def us_number(c: Client) -> dict[str, Any]:
    result = await c.call_tool("available_phone_numbers_list", {"filter": {"country_code": "US", "limit": 1}})
    assert not result.is_error, text(result)
    assert isinstance(result.structured_content, dict)
    return dict(result.structured_content["data"][0])


def origin(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}"


def form_token(page_html: str) -> str:
    found = re.search(r'name=token value="([^"]+)"', page_html)
    assert found, page_html
    return found.group(1)


async def decide(
    url: str, choice: str, *, origin_header: str | None = None, token: str | None = None
) -> httpx.Response:
    """What the page's form does: GET it, then POST the decision with the page's token and Origin."""
    async with httpx.AsyncClient(timeout=30) as http:
        page = await http.get(url)
        headers = {"Origin": origin(url) if origin_header is None else origin_header}
        data = {"token": form_token(page.text) if token is None else token, "decision": choice}
        return await http.post(url, data=data, headers=headers)
