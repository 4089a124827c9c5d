"""Test data and helpers for the pure-core and async-client tests (fixtures live in conftest).

A plain module, not conftest: ``from conftest import ...`` would pick up whichever conftest
module was imported first (tests/sandbox has its own).
"""

from __future__ import annotations

import contextlib
import json
from collections.abc import AsyncIterator, Callable
from typing import Any, NamedTuple

from aiohttp import web
from aioresponses import aioresponses

#: An obviously fake API key; tests assert it never leaks into errors or logs.
API_KEY = "test_key_not_real"
#: An obviously fake webhook secret.
WEBHOOK_SECRET = "whsec_test_not_real"
BASE_URL = "https://gateway.test/api2"
REQUEST_ID = "req_5b0c3e4a-0000-4000-8000-000000000001"

#: The session example of the contract (bpc-api-v2.md), verbatim apart from shortened URLs.
SESSION_EXAMPLE: dict[str, Any] = {
    "id": "ps_2GRSigkh7m3hqz5pMCAYCzJaXjsHgypQui6nMBss3XLVLF8gwDASHP",
    "amount": 10000,
    "created": "2024-03-28T08:26:37Z",
    "currency": "EUR",
    "customerDetails": {},
    "expiresAt": "2024-03-28T08:46:37Z",
    "failureUrl": "https://shop.example/failure",
    "locale": "EN",
    "merchantReferenceId": "4000",
    "metadata": {},
    "paymentData": {"captureMethod": "automatic"},
    "paymentStatus": "unpaid",
    "paymentUrl": "https://dev.bpcbt.com/payment/merchants/ecom/payment.html"
    "?mdOrder=12a19f56-50e6-74bc-a289-c93d00a9c8eb&language=en",
    "status": "open",
    "successUrl": "https://shop.example/success",
}

#: The webhook body example of the contract.
WEBHOOK_EXAMPLE: dict[str, Any] = {
    "created": "2022-02-17T16:30:55+00:00",
    "type": "session.expired",
    "data": {
        "object": {
            "id": "ps_2njmpfC9BUCfsmALYNEQv5eoR8SdVsEHuXZC7D3uLiRxqfb8g2wJzWo8UvE9QL",
            "amount": 90000,
            "created": "2022-02-17T16:10:54+00:00",
            "currency": "EUR",
            "expiresAt": "2022-02-17T16:10:54+00:00",
            "failureUrl": "https://shop.example/failure",
            "locale": "en",
            "paymentData": {"captureMethod": "automatic"},
            "paymentStatus": "unpaid",
            "paymentUrl": "https://dev.bpcbt.com/payment/merchants/ecom/payment.html?mdOrder=...",
            "status": "expired",
            "successUrl": "https://shop.example/success",
        }
    },
}

PAYMENT_JSON: dict[str, Any] = {
    "id": "pay_1",
    "amount": 2500,
    "currency": "EUR",
    "status": "requiresCapture",
    "created": "2024-03-28T08:26:37Z",
    "captureMethod": "manual",
    "amountCapturable": 2500,
    "merchantReferenceId": "order-7",
    "metadata": {"cart": "42"},
}

REFUND_JSON: dict[str, Any] = {
    "id": "re_1",
    "payment": "pay_1",
    "amount": 1000,
    "currency": "EUR",
    "status": "succeeded",
    "created": "2024-03-28T09:00:00+00:00",
    "reason": "damaged",
    "metadata": {},
}

PAYMENT_METHOD_JSON: dict[str, Any] = {
    "id": "pm_1",
    "type": "card",
    "created": "2024-03-28T09:00:00Z",
    "card": {"brand": "visa", "last4": "1111", "expiryMonth": 12, "expiryYear": 2030},
    "status": "active",
}


def url(path: str) -> str:
    """The absolute URL of an API path under the test base URL."""
    return BASE_URL + path


def calls(mocked: aioresponses) -> list[tuple[str, str, dict[str, Any]]]:
    """Every request aioresponses saw: (method, url, kwargs given to aiohttp)."""
    assert mocked.requests is not None
    return [
        (method, str(target), call.kwargs)
        for (method, target), recorded in mocked.requests.items()
        for call in recorded
    ]


def sent_count(mocked: aioresponses) -> int:
    """How many requests actually reached the (mocked) network."""
    return len(calls(mocked))


def sent_json(mocked: aioresponses) -> Any:
    """The decoded JSON body of the only request sent."""
    (only,) = calls(mocked)
    data = only[2]["data"]
    assert isinstance(data, bytes)
    return json.loads(data)


@contextlib.asynccontextmanager
async def serving(app: web.Application) -> AsyncIterator[str]:
    """Serve ``app`` on 127.0.0.1 and an ephemeral port; yields its root URL."""
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    try:
        await web.TCPSite(runner, "127.0.0.1", 0).start()
        yield f"http://127.0.0.1:{runner.addresses[0][1]}"
    finally:
        await runner.cleanup()


class SleepRecorder:
    """Stands in for ``asyncio.sleep``: records the delays, never waits."""

    def __init__(self) -> None:
        self.delays: list[float] = []

    async def __call__(self, delay: float) -> None:
        self.delays.append(delay)


class Twin(NamedTuple):
    """A client, async or sync, and ``call``: what turns a call's return value into its result
    (runs a coroutine to its end for the async client; returns the sync client's as it is)."""

    client: Any
    call: Callable[[Any], Any]


#: A test card number (passes the Luhn check).
VISA = "4111111111111111"


def card(**changes: Any) -> Any:
    """A valid PaymentCard, with ``changes`` applied."""
    from bpcpay.models import PaymentCard

    fields: dict[str, Any] = {"number": VISA, "exp_month": 12, "exp_year": 2030, "cvc": "123"}
    return PaymentCard(**{**fields, **changes})
