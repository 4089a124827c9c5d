"""A real browser through the demo: headless Chromium (Debian's, driven by Playwright) buys in
the demo store, pays on the sandbox's payment page, passes 3-D Secure, and lands on the success
page, where the order must turn paid from the verified webhook. A declined card lands on the
failure page.

``.ci/install-browser`` installs ``/usr/bin/chromium``; Playwright's own browser download is not
used. Every wait is Playwright's auto-waiting, never a sleep.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest
import pytest_asyncio
from playwright.async_api import Browser, Page, async_playwright, expect

from bpcpay.demo import Demo

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
]
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
WAIT_MS = 5_000


@pytest_asyncio.fixture
async def browser() -> AsyncIterator[Browser]:
    async with async_playwright() as playwright:
        launched = await playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            yield launched
        finally:
            await launched.close()


@pytest_asyncio.fixture
async def demo() -> AsyncIterator[Demo]:
    async with Demo(webhook_retry_schedule=(0.05, 0.1)) as running:
        yield running


async def _buy_and_fill(page: Page, demo: Demo, number: str, expiry: str) -> None:
    await page.goto(demo.store_url + "/")
    await expect(page.locator("#product-name")).to_have_text("Ceramic pour-over dripper")
    await page.click("#buy")
    await page.wait_for_url(demo.gateway.url + "/payment/merchants/ecom/payment.html?**")
    await expect(page.locator("#amount")).to_have_text("24.00 EUR")
    await page.fill("#cardNumber", number)
    await page.fill("#expiry", expiry)
    await page.fill("#cvc", "123")
    await page.fill("#cardholder", "Ada Lovelace")


@pytest.mark.asyncio
async def test_challenge_card_pays_and_the_webhook_marks_the_order_paid(
    browser: Browser, demo: Demo, tmp_path: Path
) -> None:
    page = await browser.new_page(viewport={"width": 1000, "height": 900})
    page.set_default_timeout(WAIT_MS)
    await _buy_and_fill(page, demo, "5555 5555 5555 5599", "12/34")
    shot = tmp_path / "payment-page.png"
    await page.screenshot(path=str(shot), full_page=True)
    await page.click("#pay")

    await expect(page.locator("#succeed")).to_be_visible()
    await page.click("#succeed")

    await page.wait_for_url(demo.store_url + "/success?sessionId=ps_*")
    (order,) = demo.store.orders.values()
    await expect(page.locator("#order-id")).to_have_text(order.id)
    await expect(page.locator("#order-status")).to_have_text("paid")
    # The signed session.completed is in and verified: shown on the page, and in the store.
    await expect(page.locator("#webhook")).to_have_text(
        f"verified, delivery {order.webhook_request_id}"
    )
    assert order.paid
    assert order.webhook_verified
    assert order.webhook_request_id in {d.id for d in demo.gateway.deliveries}
    await expect(page.locator("#confirmed-by")).to_have_text(order.confirmed_by or "-")

    data = shot.read_bytes()
    assert data.startswith(PNG_SIGNATURE)
    assert len(data) > 10_000  # a rendered page, not an empty canvas


@pytest.mark.asyncio
async def test_declined_card_lands_on_the_failure_page(browser: Browser, demo: Demo) -> None:
    page = await browser.new_page()
    page.set_default_timeout(WAIT_MS)
    await _buy_and_fill(page, demo, "5168 4948 9505 5780", "12/26")
    await page.click("#pay")

    await page.wait_for_url(demo.store_url + "/failure?sessionId=ps_*")
    await expect(page.locator("#title")).to_have_text("Payment failed")
    await expect(page.locator("#order-status")).to_have_text("not paid")
    (order,) = demo.store.orders.values()
    assert not order.paid
    # "Try again" goes back to the same, still open, payment page.
    await page.click("#retry")
    await page.wait_for_url(order.payment_url or "")
    await expect(page.locator("#pay")).to_be_visible()
