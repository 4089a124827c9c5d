"""A real browser through the demo: headless Chromium (Debian's, driven by Playwright) buys in
the demo store, pays on the sandbox's payment page, passes 3-D Secure, and lands on the success
page, where the order must turn paid from the verified webhook. A declined card lands on the
failure page.

The browser is a Chromium found on PATH (``chromium``, ``chromium-browser``, ``google-chrome``)
or named by ``BPCPAY_CHROMIUM``; ``.ci/install-browser`` installs Debian's. Playwright's own
browser download is not used. Without a browser the tests skip with a reason that says how to
get one, except under ``CI=true``, where a missing browser fails them. Every wait is
Playwright's auto-waiting, never a sleep.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from collections.abc import AsyncIterator
from pathlib import Path

import aiohttp
import pytest
import pytest_asyncio
from aiohttp import web
from aiohttp.test_utils import TestServer
from playwright.async_api import Browser, Page, async_playwright, expect

from bpcpay.testing import webhook_delivery
from bpcpay_demo import DECLINE_REASONS, Demo

#: Names a Chromium goes by on PATH, in the order they are tried.
CHROMIUM_NAMES = ("chromium", "chromium-browser", "google-chrome")
#: An explicit browser executable, taking precedence over PATH.
CHROMIUM_ENV = "BPCPAY_CHROMIUM"
NO_BROWSER = (
    "no Chromium found (looked for chromium, chromium-browser and google-chrome on PATH, "
    f"and ${CHROMIUM_ENV}); install one with .ci/install-browser (Debian's chromium, as root) "
    f"or set {CHROMIUM_ENV}=/path/to/chromium"
)
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
]
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
WAIT_MS = 5_000


def find_chromium() -> str | None:
    """The browser to drive: ``$BPCPAY_CHROMIUM`` if set, else the first Chromium on PATH."""
    explicit = os.environ.get(CHROMIUM_ENV)
    if explicit:
        return explicit
    return next((path for name in CHROMIUM_NAMES if (path := shutil.which(name))), None)


def in_ci() -> bool:
    return os.environ.get("CI", "").lower() in {"true", "1", "yes"}


@pytest.fixture
def chromium() -> str:
    found = find_chromium()
    if found is None:
        if in_ci():
            pytest.fail(f"CI=true and {NO_BROWSER}", pytrace=False)
        pytest.skip(NO_BROWSER)
    if not os.access(found, os.X_OK):
        pytest.fail(f"{CHROMIUM_ENV}={found} is not an executable file", pytrace=False)
    return found


@pytest_asyncio.fixture
async def browser(chromium: str) -> AsyncIterator[Browser]:
    async with async_playwright() as playwright:
        launched = await playwright.chromium.launch(executable_path=chromium, args=CHROMIUM_ARGS)
        try:
            yield launched
        finally:
            await launched.close()


@pytest_asyncio.fixture
async def demo() -> AsyncIterator[Demo]:
    async with Demo(webhook_retry_schedule=(0.05, 0.1)) as running:
        yield running


def _watch_policy(page: Page) -> list[str]:
    """The page's console lines about a Content-Security-Policy refusal (an inline script or
    style the policy would block): the list stays empty while the pages work as served."""
    refused: list[str] = []
    page.on(
        "console",
        lambda message: (
            refused.append(message.text) if "Content Security Policy" in message.text else None
        ),
    )
    return refused


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
    refused = _watch_policy(page)
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
    assert refused == []  # the store's and the gateway's policies let their own pages work


@pytest.mark.asyncio
async def test_declined_card_lands_on_the_failure_page(browser: Browser, demo: Demo) -> None:
    page = await browser.new_page()
    page.set_default_timeout(WAIT_MS)
    refused = _watch_policy(page)
    await _buy_and_fill(page, demo, "5168 4948 9505 5780", "12/34")
    await page.click("#pay")

    await page.wait_for_url(demo.store_url + "/failure?sessionId=ps_*")
    await expect(page.locator("#title")).to_have_text("Payment failed")
    await expect(page.locator("#order-status")).to_have_text("not paid")
    (order,) = demo.store.orders.values()
    assert not order.paid
    # The gateway's signed payment.failed reaches the store; the open page learns why by itself.
    failed = {
        "id": "pay_declined",
        "amount": 2400,
        "currency": "EUR",
        "status": "failed",
        "session": order.session_id,
        "failureCode": "card_declined",
    }
    body, headers = webhook_delivery("payment.failed", failed, secret=demo.gateway.webhook_secret)
    async with (
        aiohttp.ClientSession() as http,
        http.post(demo.store_url + "/webhooks", data=body, headers=headers) as answer,
    ):
        assert answer.status == 200
    await expect(page.locator("#decline")).to_have_text(DECLINE_REASONS["card_declined"])
    await expect(page.locator("#decline-code")).to_have_text("card_declined")
    # "Try again" goes back to the same, still open, payment page.
    await page.click("#retry")
    await page.wait_for_url(order.payment_url or "")
    await expect(page.locator("#pay")).to_be_visible()
    assert refused == []  # the failure page's polling ran under the store's policy


@pytest.mark.asyncio
async def test_a_form_on_another_site_cannot_buy(browser: Browser, demo: Demo) -> None:
    # Another site's page (another loopback port: another origin) that sends a Buy form by
    # itself: the forged request the store must refuse.
    forged = (
        f'<form method="post" action="{demo.store_url}/buy"></form>'
        "<script>document.forms[0].submit()</script>"
    )

    async def attacker(_: web.Request) -> web.Response:
        return web.Response(text=forged, content_type="text/html")

    app = web.Application()
    app.router.add_get("/", attacker)
    async with TestServer(app, host="127.0.0.1") as evil:
        page = await browser.new_page()
        page.set_default_timeout(WAIT_MS)
        await page.goto(str(evil.make_url("/")))
        await page.wait_for_url(demo.store_url + "/buy")
        await expect(page.locator("#title")).to_have_text("Not from this store")
    assert demo.store.orders == {}
    assert not any(r.path == "/api2/sessions" for r in demo.gateway.requests)


# --- finding the browser ---------------------------------------------------------------------


def _run_this_module(tmp_path: Path, **env: str) -> subprocess.CompletedProcess[str]:
    """This test module in a fresh pytest, with no browser on PATH: an empty directory is
    the whole PATH (the interpreter is started by its absolute path)."""
    empty = tmp_path / "bin"
    empty.mkdir()
    environment = {k: v for k, v in os.environ.items() if k not in {"CI", CHROMIUM_ENV}}
    environment.update(PATH=str(empty), **env)
    return subprocess.run(
        [
            sys.executable,
            "-m",
            "pytest",
            "-q",
            "-rs",
            "-p",
            "no:cacheprovider",
            __file__,
            "-k",
            "declined_card",
        ],
        capture_output=True,
        text=True,
        timeout=120,
        env=environment,
        cwd=Path(__file__).resolve().parent.parent,
        check=False,
    )


def test_without_a_browser_the_test_skips_and_names_the_installer(tmp_path: Path) -> None:
    result = _run_this_module(tmp_path)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "1 skipped" in result.stdout
    assert ".ci/install-browser" in result.stdout  # the reason, printed by -rs


def test_without_a_browser_under_ci_the_test_fails(tmp_path: Path) -> None:
    result = _run_this_module(tmp_path, CI="true")
    assert result.returncode == 1, result.stdout + result.stderr
    assert "1 error" in result.stdout
    assert "CI=true and no Chromium found" in result.stdout
    assert "skipped" not in result.stdout


def test_an_explicit_browser_path_wins_over_path(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(CHROMIUM_ENV, "/opt/my-chrome/chrome")
    assert find_chromium() == "/opt/my-chrome/chrome"
    monkeypatch.delenv(CHROMIUM_ENV)
    monkeypatch.setenv("PATH", "")
    assert find_chromium() is None
