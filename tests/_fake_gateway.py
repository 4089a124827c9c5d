"""A tiny canned gateway on 127.0.0.1 for the sync client's tests, runnable in a thread.

It answers every endpoint of the contract with a fixed, valid object and counts requests. The
full stateful sandbox lives in ``bpcpay.sandbox``; this one exists so the sync bridge can be
tested in isolation (and from a subprocess) with nothing but aiohttp.
"""

from __future__ import annotations

import asyncio
import itertools
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

from aiohttp import web

SESSION = {
    "id": "ps_test",
    "amount": 10000,
    "currency": "EUR",
    "status": "open",
    "paymentStatus": "unpaid",
    "created": "2024-03-28T08:26:37Z",
    "expiresAt": "2024-03-28T08:46:37Z",
    "successUrl": "https://shop.example/success",
    "failureUrl": "https://shop.example/failure",
}
PAYMENT = {"id": "pay_test", "amount": 10000, "currency": "EUR", "status": "succeeded"}
REFUND = {
    "id": "re_test",
    "payment": "pay_test",
    "amount": 500,
    "currency": "EUR",
    "status": "succeeded",
}
PAYMENT_METHOD = {"id": "pm_test", "type": "card", "card": {"brand": "visa", "last4": "1111"}}


class FakeGateway:
    """Answers like BPC would; ``requests`` lists (method, path, headers, body) as received."""

    def __init__(self) -> None:
        self.requests: list[tuple[str, str, dict[str, str], bytes]] = []
        self.delay = 0.0
        #: Statuses to answer the next requests with (with Retry-After: 0), before normal ones.
        self.fail_next: list[int] = []
        self._ids = itertools.count(1)
        self.base_url = ""
        self._loop: asyncio.AbstractEventLoop | None = None
        self._runner: web.AppRunner | None = None

    def app(self) -> web.Application:
        app = web.Application()
        app.router.add_route("*", "/api2/{tail:.*}", self._handle)
        return app

    async def _handle(self, request: web.Request) -> web.Response:
        body = await request.read()
        self.requests.append((request.method, request.path, dict(request.headers), body))
        if self.delay:
            await asyncio.sleep(self.delay)
        tail = request.match_info["tail"]
        number = next(self._ids)
        headers = {"API-Request-Id": f"req_{number}", "X-Version": "2023-11-15"}
        if self.fail_next:
            status = self.fail_next.pop(0)
            headers["Retry-After"] = "0"
            return web.json_response(
                {"error": {"message": "try again"}}, status=status, headers=headers
            )
        obj: dict[str, Any]
        if tail.startswith("sessions"):
            obj = {**SESSION, "id": f"ps_{number}" if request.method == "POST" else tail[9:]}
        elif tail.startswith("payments"):
            obj = dict(PAYMENT)
            if tail.endswith("/cancel"):
                obj["status"] = "canceled"
        elif tail.startswith("refunds"):
            obj = dict(REFUND)
        elif tail.startswith("payment-methods"):
            obj = dict(PAYMENT_METHOD)
        else:
            return web.json_response(
                {"error": {"type": "not_found_error", "message": "no such route"}},
                status=404,
                headers=headers,
            )
        return web.json_response(obj, headers=headers)

    async def start(self) -> None:
        self._runner = web.AppRunner(self.app())
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        port = self._runner.addresses[0][1]
        self.base_url = f"http://127.0.0.1:{port}/api2"

    async def stop(self) -> None:
        assert self._runner is not None
        await self._runner.cleanup()


def start_gateway_thread() -> tuple[FakeGateway, Callable[[], None]]:
    """Start a FakeGateway on its own loop in a daemon thread; returns it and a stop function."""
    gateway = FakeGateway()
    loop = asyncio.new_event_loop()
    started = threading.Event()

    def run() -> None:
        asyncio.set_event_loop(loop)
        loop.run_until_complete(gateway.start())
        started.set()
        loop.run_forever()

    thread = threading.Thread(target=run, name="fake-gateway", daemon=True)
    thread.start()
    started.wait(10)

    def stop() -> None:
        asyncio.run_coroutine_threadsafe(gateway.stop(), loop).result(10)
        loop.call_soon_threadsafe(loop.stop)
        thread.join(10)
        loop.close()

    return gateway, stop


@contextmanager
def gateway_in_thread() -> Iterator[FakeGateway]:
    """Run a FakeGateway in a thread for the block's duration."""
    gateway, stop = start_gateway_thread()
    try:
        yield gateway
    finally:
        stop()
