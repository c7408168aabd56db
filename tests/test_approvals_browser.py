"""The review page in a real browser (Playwright driving Debian's Chromium), with a real MCP client that
cannot elicit and the sandbox as the recording Telnyx endpoint: what the human sees and what each click sends."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import anyio
import pytest
from playwright.async_api import Browser, async_playwright

from approval_helpers import Flow, text, us_number
from helpers import need_chromium
from telnyx_numbers_mcp.sandbox import Sandbox

pytestmark = pytest.mark.anyio
ORDER = "number_orders_create"


@pytest.fixture
def flow(tmp_path: Path) -> Flow:
    return Flow(Sandbox(), tmp_path)


@pytest.fixture
async def browser() -> AsyncIterator[Browser]:
    chromium = need_chromium()
    async with async_playwright() as pw:
        b = await pw.chromium.launch(
            executable_path=chromium, headless=True, args=["--headless", "--no-sandbox", "--disable-gpu"]
        )
        try:
            yield b
        finally:
            await b.close()


async def start_order(flow: Flow, c: object) -> tuple[str, dict[str, Any]]:
    from mcp import Client

    assert isinstance(c, Client)
    number = await us_number(c)
    result = await flow.call(c, ORDER, {"phone_numbers": [{"phone_number": number["phone_number"]}]})
    assert not result.is_error, text(result)
    data = result.structured_content or {}
    assert data["status"] == "awaiting_approval"
    return str(data["approval_id"]), number


@pytest.mark.parametrize("javascript", [False, True], ids=["no-js", "js"])
async def test_approve_in_the_browser_buys_once_and_shows_the_order(
    flow: Flow, browser: Browser, javascript: bool
) -> None:
    async with flow.client("auto") as c:
        approval_id, number = await start_order(flow, c)
        context = await browser.new_context(java_script_enabled=javascript)
        page = await context.new_page()
        await page.goto(flow.url())
        body = await page.inner_text("body")
        cost = number["cost_information"]
        assert number["phone_number"] in body
        assert f"upfront {float(cost['upfront_cost']):.2f} USD" in body
        assert f"monthly {float(cost['monthly_cost']):.2f} USD" in body and "Total" in body
        assert "Expires in" in body
        pending = await flow.call(c, "check_approval", {"approval_id": approval_id})
        assert (pending.structured_content or {})["status"] == "awaiting_approval"
        assert flow.sent(ORDER) == 0
        await page.click("button.approve")
        await page.wait_for_selector("h1:has-text('Approved and sent')")
        shown = await page.inner_text("body")
        assert flow.sent(ORDER) == 1
        result = await flow.call(c, "check_approval", {"approval_id": approval_id})
        assert not result.is_error, text(result)
        order = (result.structured_content or {})["data"]
        assert order["id"] in shown and order["status"] in shown
        await page.reload()  # the page keeps saying what happened; nothing is sent again
        assert "Approved and sent" in await page.inner_text("h1")
        await context.close()
    assert flow.sent(ORDER) == 1
    flow.assert_secret_never_seen()


async def test_decline_in_the_browser_sends_nothing(flow: Flow, browser: Browser) -> None:
    async with flow.client("legacy") as c:
        approval_id, _ = await start_order(flow, c)
        page = await browser.new_page()
        await page.goto(flow.url())
        await page.click("button.decline")
        await page.wait_for_selector("h1:has-text('Declined')")
        assert "Nothing was sent" in await page.inner_text("body")
        result = await flow.call(c, "check_approval", {"approval_id": approval_id})
    assert result.is_error and "declined" in text(result).lower()
    assert flow.sent(ORDER) == 0
    flow.assert_secret_never_seen()


async def test_an_expired_approval_in_the_browser_sends_nothing(flow: Flow, browser: Browser) -> None:
    async with flow.client("legacy", approval_ttl=3.0) as c:
        approval_id, _ = await start_order(flow, c)
        expires = time.time() + 3.0
        page = await browser.new_page()
        await page.goto(flow.url())
        # on a slow machine the page may already say Expired; otherwise the form is clicked after the expiry
        if await page.query_selector("button.approve") is not None:
            await anyio.sleep(max(0.0, expires - time.time()) + 0.2)
            await page.click("button.approve")
        await page.wait_for_selector("h1:has-text('Expired')")
        assert "Nothing was sent" in await page.inner_text("body")
        result = await flow.call(c, "check_approval", {"approval_id": approval_id})
    assert result.is_error and "expired" in text(result)
    assert flow.sent(ORDER) == 0


async def test_forged_and_altered_links_show_a_clear_page_and_send_nothing(flow: Flow, browser: Browser) -> None:
    async with flow.client("legacy") as c:
        approval_id, _ = await start_order(flow, c)
        url = flow.url()
        base, secret = url.split("?t=")
        page = await browser.new_page()
        for bad in (f"{base}?t={secret[::-1]}", base, url.replace(approval_id, "ap_" + "0" * 20)):
            response = await page.goto(bad)
            assert response is not None and response.status == 404
            assert "not valid" in await page.inner_text("body")
            assert await page.query_selector("button.approve") is None
    assert flow.sent(ORDER) == 0


async def test_a_decision_posted_from_another_site_is_refused(flow: Flow, browser: Browser) -> None:
    """Cross-site request forgery, even by a page that somehow knows the URL and the form token."""
    async with flow.client("legacy") as c:
        await start_order(flow, c)
        url = flow.url()
        page = await browser.new_page()
        await page.goto(url)
        token = await page.get_attribute("input[name=token]", "value")
        attack = (
            f'<form id=f method=post action="{url}"><input type=hidden name=token value="{token}">'
            "<input type=hidden name=decision value=approve></form><script>f.submit()</script>"
        )
        await page.route("http://attacker.test/", lambda route: route.fulfill(body=attack, content_type="text/html"))
        async with page.expect_navigation(url=url):
            await page.goto("http://attacker.test/")
        body = await page.inner_text("body")
        assert "Refused" in body and "Origin" in body
    assert flow.sent(ORDER) == 0
