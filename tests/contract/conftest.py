"""Fixtures of the contract tests: a recording gateway on loopback that shows exactly what the
SDK put on the wire (method, path, every header, body bytes), and a client pointed at it.

The recorder answers each request with the JSON of a canned object for its path, so every
wrapped call completes; it runs on 127.0.0.1 and an ephemeral port.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import attrs
import pytest_asyncio
from _published import EXPIRE_RESPONSE, SEED_RESPONSE
from aiohttp import web

from bpcpay import AsyncBpcPay

API_KEY = "sk_test_contract_not_real"
PAYMENT: dict[str, Any] = {
    "id": "pay_1",
    "amount": 70000,
    "currency": "EUR",
    "status": "succeeded",
    "captureMethod": "automatic",
}
REFUND: dict[str, Any] = {
    "id": "re_1",
    "payment": "pay_1",
    "amount": 100,
    "currency": "EUR",
    "status": "succeeded",
}
PAYMENT_METHOD: dict[str, Any] = {"id": "pm_1", "type": "card"}


@attrs.frozen
class Seen:
    """One request as the server received it."""

    method: str
    path: str
    headers: dict[str, str]
    body: bytes


@attrs.define
class Recorder:
    """The recording gateway: ``seen`` holds every request, in order."""

    base_url: str = ""
    seen: list[Seen] = attrs.Factory(list)

    @property
    def last(self) -> Seen:
        return self.seen[-1]

    async def handle(self, request: web.Request) -> web.Response:
        body = await request.read()
        self.seen.append(Seen(request.method, request.path, dict(request.headers), body))
        path = request.path.removeprefix("/api2")
        if path.endswith("/expire"):
            answer = EXPIRE_RESPONSE
        elif path.startswith("/sessions"):
            answer = SEED_RESPONSE
        elif path.startswith("/payments"):
            answer = PAYMENT
        elif path.startswith("/refunds"):
            answer = REFUND
        else:
            answer = PAYMENT_METHOD
        return web.json_response(answer, headers={"X-Version": "2023-10-31"})


@pytest_asyncio.fixture
async def recorder() -> AsyncIterator[Recorder]:
    rec = Recorder()
    app = web.Application()
    app.router.add_route("*", "/{tail:.*}", rec.handle)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    rec.base_url = f"http://127.0.0.1:{runner.addresses[0][1]}/api2"
    try:
        yield rec
    finally:
        await runner.cleanup()


@pytest_asyncio.fixture
async def wire_client(recorder: Recorder) -> AsyncIterator[AsyncBpcPay]:
    async with AsyncBpcPay(api_key=API_KEY, base_url=recorder.base_url, max_retries=0) as c:
        yield c
