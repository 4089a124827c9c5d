"""The automatic customer of ``bpcpay demo --auto``: buys from the store over HTTP, pays on the
gateway's real payment page with the sandbox's customer helper, follows the redirect back to the
store, then waits for the store to verify the webhook: ``session.completed`` for a payment, or
``payment.failed`` for a decline, whose reason the failure page must then show. Each step of the
redirect flow is reported as a numbered line with its time since the start.

It reads the store's orders (in process) only to report what the store did and when; every
action goes over HTTP. Card numbers are shown by their last four digits only, and the API key
and webhook secret are never shown.
"""

from __future__ import annotations

import asyncio
import re
import time
from collections.abc import Callable
from html import unescape
from typing import Literal
from urllib.parse import urlsplit

import aiohttp

from bpcpay.sandbox import TestCard, TestCards

from ._demo import Demo
from ._store import Order

__all__ = ["DEFAULT_TIMEOUT", "Expect", "play_customer"]

#: Seconds the whole flow may take before --auto gives up.
DEFAULT_TIMEOUT = 15.0

_STATUS = re.compile(r'id="order-status"[^>]*>([^<]*)<')
_DECLINE = re.compile(r'id="decline">([^<]*)<.*?id="decline-code">([^<]*)<', re.S)

#: What the customer sets out to see: the order paid, or the card declined.
Expect = Literal["paid", "declined"]


def _digits(card: str | TestCard) -> str:
    return card.number if isinstance(card, TestCard) else "".join(card.split())


def _path(url: str) -> str:
    # The path only: the query (mdOrder, sessionId) repeats ids already shown.
    return urlsplit(url).path


class _Reporter:
    def __init__(self, emit: Callable[[str], None]) -> None:
        self.emit = emit
        self.start = time.monotonic()
        self.back_at = 0.0

    def step(self, number: int, text: str, at: float | None = None) -> None:
        elapsed = ((time.monotonic() if at is None else at) - self.start) * 1000
        self.emit(f"{number}. {text}  [+{elapsed:.1f} ms]")


async def play_customer(
    demo: Demo,
    *,
    card: str | TestCard = TestCards.SUCCESS_CHALLENGE,
    emit: Callable[[str], None] = print,
    timeout: float = DEFAULT_TIMEOUT,
    expect: Expect = "paid",
) -> bool:
    """Buy the store's product and pay for it.

    Args:
        demo: a running :class:`Demo`.
        card: a test card, or a number as typed.
        emit: receives each line of the report.
        timeout: seconds for the whole flow.
        expect: ``"paid"``: True only when the store marked the order paid and verified the
            signed ``session.completed`` for it. ``"declined"``: True only when the card was
            declined on the gateway's page, the customer landed on the failure page, the store
            verified the signed ``payment.failed``, and the failure page says why.
    """
    report = _Reporter(emit)
    last4 = _digits(card)[-4:]
    product = demo.store.product
    emit(f'buying "{product.name}" ({product.price}) with the test card •••• {last4}')
    try:
        return await asyncio.wait_for(_flow(demo, card, last4, report, expect), timeout)
    except asyncio.TimeoutError:  # not the builtin before Python 3.11
        if expect == "declined":
            emit(f"timed out after {timeout:g} s: no verified payment.failed told the store why")
        else:
            emit(f"timed out after {timeout:g} s: the order was not paid from a verified webhook")
        return False
    except aiohttp.ClientError as exc:
        emit(f"failed: {type(exc).__name__}: {exc}")
        return False


async def _flow(
    demo: Demo, card: str | TestCard, last4: str, report: _Reporter, expect: Expect
) -> bool:
    store = demo.store
    # The customer's browser: its own connection pool, no cookies needed by either site.
    async with aiohttp.ClientSession(cookie_jar=aiohttp.DummyCookieJar()) as browser:
        async with browser.post(f"{demo.store_url}/buy", allow_redirects=False) as bought:
            await bought.read()
            location = bought.headers.get("Location")
        order = next((o for o in store.orders.values() if o.payment_url == location), None)
        if bought.status != 303 or location is None or order is None or not order.session_id:
            report.emit(f"failed: the store answered {bought.status} instead of a redirect")
            return False
        session_id = order.session_id
        report.step(1, f"session created: {session_id} (order {order.id})", order.times["created"])

        async with browser.get(location) as page:
            html = await page.text()
        if page.status != 200 or 'id="cardNumber"' not in html:
            report.emit(f"failed: the payment page answered {page.status}")
            return False
        report.step(2, f"customer redirected to the payment page: 303 -> {_path(location)}")

        paid = await demo.gateway.pay(session_id, card=card)
        if paid.outcome == "succeeded":
            secure = "3-D Secure passed" if paid.challenged else "no 3-D Secure challenge needed"
            report.step(3, f"card •••• {last4} entered, {secure}")
        elif paid.outcome == "failed":
            report.step(3, f"card •••• {last4} entered: declined")
        else:
            report.step(3, f"card •••• {last4} entered: {paid.outcome} ({paid.message})")
            report.emit("the order is not paid")
            return False
        if paid.redirect_url is None:
            report.emit("failed: the gateway did not send the customer back")
            return False

        async with browser.get(paid.redirect_url) as back:
            html = await back.text()
        report.back_at = time.monotonic()
        found = _STATUS.search(html)
        shown = unescape(found.group(1)) if found else "?"
        report.step(
            4, f"redirected back to the store: {_path(paid.redirect_url)} (page shows: {shown})"
        )
        if expect == "declined":
            if paid.succeeded:
                report.emit(f"the card was not declined: the order {order.id} is paid")
                return False
            return await _await_decline(demo, order, browser, paid.redirect_url, report)
        if not paid.succeeded:
            report.emit(f"the order {order.id} is not paid: the card was declined")
            return False

    return await _await_webhook(demo, order, report)


async def _await_decline(
    demo: Demo, order: Order, browser: aiohttp.ClientSession, failure_url: str, report: _Reporter
) -> bool:
    # No timeout of its own: play_customer's deadline covers the whole flow.
    await demo.store.wait_for(lambda: order.decline_code is not None, timeout=None)
    report.step(
        5,
        f"webhook verified: payment.failed, decline code {order.decline_code}",
        order.times["declined"],
    )
    async with browser.get(failure_url) as page:
        html = await page.text()
    found = _DECLINE.search(html)
    why, code = (unescape(found.group(1)), unescape(found.group(2))) if found else ("?", "?")
    if code != order.decline_code or why != order.decline_reason:
        report.emit(f"the failure page does not say why: it shows {why!r} ({code})")
        return False
    report.step(6, f"the failure page says why: {why} (code {code})")
    return True


async def _await_webhook(demo: Demo, order: Order, report: _Reporter) -> bool:
    # No timeout of its own: play_customer's deadline covers the whole flow.
    await demo.store.wait_for(lambda: order.webhook_verified, timeout=None)
    verified_at = order.times["webhook"]
    # Often true on loopback: worth saying, since it is why a store must not rely on the order.
    early = " (it arrived before the customer was back)" if verified_at < report.back_at else ""
    report.step(
        5,
        f"webhook verified: session.completed, delivery {order.webhook_request_id}{early}",
        verified_at,
    )
    if not order.paid:
        report.emit(f"the order {order.id} is not paid")
        return False
    how = "the verified webhook"
    if order.confirmed_by != "webhook":
        how = f"{order.confirmed_by} first, then the verified webhook"
    report.step(6, f"order {order.id} paid, confirmed by {how}", order.times["paid"])
    return True
