"""Helpers shared by the tests (fixtures live in conftest.py): facts derived from the catalog, a scripted
human for elicitation, the text of an MCP result, spec examples with real phone numbers, number searches,
audit records, a static file server, and `need(...)`: what a test needs beyond the Python packages (a browser,
Node, a registry), skipped with the install line when it is missing, or failed under TELNYX_MCP_TEST_STRICT=1."""

from __future__ import annotations

import contextlib
import functools
import http.server
import json
import os
import re
import shutil
import subprocess
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import mcp_types as types
import pytest
from mcp import Client

from telnyx_numbers_mcp.approvals.tools import CHECK_TOOL
from telnyx_numbers_mcp.catalog import ToolSpec, load_catalog
from telnyx_numbers_mcp.offer import Offer
from telnyx_numbers_mcp.spend.tools import MANDATE_TOOL, SPENDING_TOOL

# Counts and guard lists come from the catalog, so adding an operation to scope.toml needs no test edits.
ALL_CATALOG: list[ToolSpec] = load_catalog()  # including the opt-in toolsets (requirements, numbers, lookup)
CATALOG: list[ToolSpec] = [t for t in ALL_CATALOG if not t.opt_in]  # what a server offers by default
TOOLS: dict[str, ToolSpec] = {t.name: t for t in CATALOG}
GUARDED: list[str] = [t.name for t in CATALOG if t.guarded]  # purchases and destructive calls
# What a server with the default policy (confirm) lists: every default operation plus check_approval, and the spend
# tools: request_mandate (a human approves purchases ahead of time) and spending.
SPEND_TOOLS = (MANDATE_TOOL, SPENDING_TOOL)
DEFAULT_TOOL_NAMES: frozenset[str] = frozenset({*TOOLS, CHECK_TOOL, *SPEND_TOOLS})
# a session offered every tool (`--toolsets all`, default policy): for rendering texts outside a server
EVERYTHING = Offer(
    names=frozenset({*(t.name for t in ALL_CATALOG), CHECK_TOOL}),
    enabled=frozenset(t.toolset for t in ALL_CATALOG),
    toolset_of={t.name: t.toolset for t in ALL_CATALOG},
    selection=("all",),
)
VALID_E164 = "+13125550001"
DOCS = Path(__file__).resolve().parents[1] / "docs"  # the pages the README links to (tests/test_docs.py)
# an address the sandbox accepts (addresses_create), for the tests of the requirements toolset
ADDRESS = {
    "business_name": "Example Ltd",
    "first_name": "Ada",
    "last_name": "Lovelace",
    "street_address": "10 Downing Street",
    "locality": "London",
    "country_code": "GB",
}


@dataclass
class Human:
    """An elicitation callback (the person at the client) that gives every question the same answer, by
    default an explicit approval, and remembers the questions; `count`, if given, is called as each question
    is asked (e.g. how many requests had reached the upstream by then) and its answers kept in `counted`."""

    action: str = "accept"
    content: dict[str, Any] | None = field(default_factory=lambda: {"approve": True})
    asked: list[str] = field(default_factory=list)
    count: Callable[[], int] | None = None
    counted: list[int] = field(default_factory=list)

    async def __call__(self, context: Any, params: types.ElicitRequestParams) -> types.ElicitResult:
        assert isinstance(params, types.ElicitRequestFormParams)
        self.asked.append(params.message)
        if self.count is not None:
            self.counted.append(self.count())
        return types.ElicitResult(action=self.action, content=self.content)  # type: ignore[arg-type]


def doc_prose(page: str) -> str:
    """A page of docs/ with every run of whitespace as one space, so a test finds a sentence whatever its wrapping
    (a figure a test measures is stated there, and the test fails when the page says otherwise)."""
    return " ".join((DOCS / page).read_text().split())


def text_of(result: types.CallToolResult) -> str:
    """The text a client shows for a tool result."""
    return "\n".join(c.text for c in result.content if isinstance(c, types.TextContent))


def fill_e164(args: dict[str, Any], tool: ToolSpec, number: str = VALID_E164) -> dict[str, Any]:
    """Spec examples lack some numbers; put a valid one wherever an E.164 field holds a placeholder."""
    if not tool.e164:
        return args
    filled: dict[str, Any] = json.loads(re.sub(r'"example"', f'"{number}"', json.dumps(args)))
    return filled


def call_args(tool: ToolSpec) -> dict[str, Any]:
    """Arguments for one call of `tool` from the spec's examples, made valid: a real E.164 number where the
    example has a placeholder, plain-digit counts, a customer_reference on purchases."""
    from spec_examples import example_args

    args = fill_e164(example_args(tool), tool)
    for group in args.get("ordering_groups", []):
        group["count_requested"] = "1"  # the spec types it as a string; the numbers cap needs plain digits
    if tool.kind == "purchase":
        args["customer_reference"] = args.get("customer_reference") or "test-ref-1"
    return args


async def tool_data(client: Client, tool: str, args: dict[str, Any]) -> list[dict[str, Any]]:
    """Call a list tool through MCP and return its non-empty `data` (a search that finds nothing fails)."""
    result = await client.call_tool(tool, args)
    assert not result.is_error, text_of(result)
    assert isinstance(result.structured_content, dict)
    data = result.structured_content["data"]
    assert data, f"{tool} found nothing"
    return list(data)


async def sandbox_search(client: httpx.AsyncClient, **filters: str) -> list[dict[str, Any]]:
    """GET /available_phone_numbers straight at the sandbox with `filter[...]` query parameters."""
    r = await client.get("/available_phone_numbers", params={f"filter[{k}]": v for k, v in filters.items()})
    assert r.status_code == 200, r.text
    data: list[dict[str, Any]] = r.json()["data"]
    return data


async def sandbox_numbers(client: httpx.AsyncClient, **filters: str) -> list[str]:
    """The phone numbers `sandbox_search` finds."""
    return [d["phone_number"] for d in await sandbox_search(client, **filters)]


def audit_records(path: Path) -> list[dict[str, Any]]:
    """The JSON Lines audit trail at `path` (empty when nothing was written yet)."""
    if not path.exists():
        return []
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]


@contextlib.contextmanager
def files_served(folder: Path) -> Iterator[str]:
    """Serve `folder` over HTTP on 127.0.0.1 (for inputs given as URLs); yields the base URL."""

    class Quiet(http.server.SimpleHTTPRequestHandler):
        def log_message(self, format: str, *args: Any) -> None:
            pass

    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), functools.partial(Quiet, directory=str(folder)))
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{httpd.server_address[1]}"
    finally:
        httpd.shutdown()
        httpd.server_close()
        thread.join(timeout=10)


# ---------------------------------------------------------------- what a test needs beyond Python packages

STRICT_ENV = "TELNYX_MCP_TEST_STRICT"  # .ci/run sets it: there, a missing tool fails the run instead of skipping


@dataclass(frozen=True)
class Requirement:
    """Something a test needs that `pip install -e '.[dev]'` does not install. `missing()` answers None when it
    is there, else why not (one short phrase); `install` is the line that provides it."""

    name: str
    install: str
    missing: Callable[[], str | None]


def strict() -> bool:
    return os.environ.get(STRICT_ENV, "").strip().lower() in ("1", "true", "yes", "on")


@functools.cache
def _why_missing(requirement: Requirement) -> str | None:
    return requirement.missing()  # once per process: some checks ask the network


def need(requirement: Requirement) -> None:
    """Skip the calling test (or fixture) when `requirement` is missing, saying how to install it; under
    TELNYX_MCP_TEST_STRICT=1 fail instead, so CI cannot pass by skipping."""
    why = _why_missing(requirement)
    if why is None:
        return
    message = f"{requirement.name} is not available ({why}); install: {requirement.install}"
    if strict():
        pytest.fail(f"{message} [{STRICT_ENV}=1: a missing tool fails the run]", pytrace=False)
    pytest.skip(message)


def on_path(command: str) -> Callable[[], str | None]:
    """A `missing` check for a command on PATH."""
    return lambda: None if shutil.which(command) else f"no `{command}` on PATH"


def _npm_registry() -> str | None:
    """`npm ping` asks the registry npm is configured for (npm_config_registry, .npmrc, a proxy), once."""
    npm = shutil.which("npm")
    if npm is None:
        return "no `npm` on PATH"
    try:
        proc = subprocess.run([npm, "ping", "--fetch-retries=0"], capture_output=True, text=True, timeout=30,
                              stdin=subprocess.DEVNULL)  # fmt: skip
    except subprocess.TimeoutExpired:
        return "`npm ping` got no answer from the npm registry within 30 s"
    if proc.returncode != 0:
        errors = [line for line in proc.stderr.splitlines() if line.startswith("npm error FetchError")]
        return f"`npm ping` failed: {(errors or ['the npm registry did not answer'])[0].removeprefix('npm error ')}"
    return None


def _package_index() -> str | None:
    """The index pip and uv install from (PIP_INDEX_URL / UV_DEFAULT_INDEX / UV_INDEX_URL, else PyPI)."""
    env = os.environ
    index = env.get("UV_DEFAULT_INDEX") or env.get("UV_INDEX_URL") or env.get("PIP_INDEX_URL")
    url = (index or "https://pypi.org/simple").rstrip("/") + "/pip/"
    try:
        status = httpx.get(url, timeout=15, follow_redirects=True).status_code
    except httpx.HTTPError as exc:
        return f"{url} did not answer ({type(exc).__name__})"
    return None if status == 200 else f"{url} answered HTTP {status}"


CHROMIUM = Requirement(
    "Chromium (the review-page browser tests drive it through Playwright)",
    "apt-get install -y chromium (Debian/Ubuntu; any Chromium named `chromium` on PATH works)",
    on_path("chromium"),
)
NODE = Requirement("Node.js with npx", "apt-get install -y nodejs npm (Node.js 18+)", on_path("npx"))
NPM_REGISTRY = Requirement(
    "the npm registry (npx fetches the pinned Node tools from it)",
    "network access to https://registry.npmjs.org, or npm_config_registry=<a mirror>",
    _npm_registry,
)
PACKAGE_INDEX = Requirement(
    "the Python package index (uv installs the bundle's locked dependencies from it)",
    "network access to https://pypi.org, or PIP_INDEX_URL / UV_DEFAULT_INDEX=<a mirror>",
    _package_index,
)


def _path_of(command: str) -> str:
    found = shutil.which(command)
    assert found is not None, command
    return found


def need_chromium() -> str:
    """The path of Debian's Chromium, for Playwright's `executable_path`."""
    need(CHROMIUM)
    return _path_of("chromium")


def need_npx() -> str:
    """The path of npx, with the npm registry reachable (npx -y fetches the package it runs)."""
    need(NODE)
    need(NPM_REGISTRY)
    return _path_of("npx")


def need_package_index() -> None:
    need(PACKAGE_INDEX)
