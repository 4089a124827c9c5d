"""Fixtures of the sandbox gateway's tests: a gateway on a manual clock with millisecond webhook
retries, a raw HTTP helper that shows the wire (status, headers, body), and a webhook receiver.

Everything runs on 127.0.0.1; nothing sleeps longer than a retry schedule of milliseconds.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from datetime import datetime, timezone
from typing import Any

import aiohttp
import attrs
import pytest
import pytest_asyncio
from _sandbox_receivers import RouterReceiver, router_receiving
from _support import serving
from aiohttp import web

from bpcpay.sandbox import ManualClock, SandboxGateway

#: The gateway's start time in these tests: before every test card's documented expiry.
START = datetime(2026, 3, 1, 12, 0, 0, tzinfo=timezone.utc)
SUCCESS_URL = "https://shop.example/success"
FAILURE_URL = "https://shop.example/failure"
_DEFAULT = object()


@attrs.frozen
class Answer:
    """One HTTP answer, as received."""

    status: int
    headers: dict[str, str]
    text: str

    @property
    def json(self) -> Any:
        return json.loads(self.text)

    @property
    def error(self) -> dict[str, Any]:
        body = self.json
        assert set(body) == {"error"}
        assert set(body["error"]) == {"type", "code", "message", "param"}
        return dict(body["error"])


class Api:
    """Raw calls to a gateway, with its API key unless told otherwise."""

    def __init__(self, http: aiohttp.ClientSession, gw: SandboxGateway) -> None:
        self.http = http
        self.gw = gw

    async def call(
        self,
        method: str,
        path: str,
        *,
        json_body: Any = _DEFAULT,
        raw: bytes | None = None,
        key: Any = _DEFAULT,
        headers: dict[str, str] | None = None,
    ) -> Answer:
        sent = dict(headers or {})
        if key is _DEFAULT:
            sent["X-Api-Key"] = self.gw.api_key
        elif key is not None:
            sent["X-Api-Key"] = key
        data = raw
        if json_body is not _DEFAULT:
            data = json.dumps(json_body).encode()
            sent["Content-Type"] = "application/json"
        async with self.http.request(
            method, self.gw.base_url + path, data=data, headers=sent, allow_redirects=False
        ) as response:
            return Answer(response.status, dict(response.headers), await response.text())

    async def get(self, url: str) -> Answer:
        async with self.http.get(url, allow_redirects=False) as response:
            return Answer(response.status, dict(response.headers), await response.text())

    async def post_form(self, url: str, form: dict[str, str]) -> Answer:
        async with self.http.post(url, data=form, allow_redirects=False) as response:
            return Answer(response.status, dict(response.headers), await response.text())

    async def create_session(self, **fields: Any) -> dict[str, Any]:
        body = {
            "amount": 10000,
            "currency": "EUR",
            "successUrl": SUCCESS_URL,
            "failureUrl": FAILURE_URL,
            **fields,
        }
        answer = await self.call("POST", "/sessions", json_body=body)
        assert answer.status == 200, answer.text
        return dict(answer.json)

    async def create_payment(self, **fields: Any) -> dict[str, Any]:
        body = {"amount": 5000, "currency": "EUR", **fields}
        answer = await self.call("POST", "/payments", json_body=body)
        assert answer.status == 200, answer.text
        return dict(answer.json)


@attrs.define
class Receiver:
    """A webhook endpoint that records deliveries and answers scripted statuses."""

    url: str = ""
    received: list[tuple[bytes, dict[str, str]]] = attrs.Factory(list)
    answers: list[int] = attrs.Factory(list)

    async def handle(self, request: web.Request) -> web.Response:
        self.received.append((await request.read(), dict(request.headers)))
        status = self.answers.pop(0) if self.answers else 200
        return web.Response(status=status, text="ok")


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock(START)


@pytest_asyncio.fixture
async def gw(clock: ManualClock) -> AsyncIterator[SandboxGateway]:
    async with SandboxGateway(clock=clock, webhook_retry_schedule=(0.01, 0.01)) as gateway:
        yield gateway


@pytest_asyncio.fixture
async def http() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession() as session:
        yield session


@pytest.fixture
def api(http: aiohttp.ClientSession, gw: SandboxGateway) -> Api:
    return Api(http, gw)


@pytest_asyncio.fixture
async def receiver() -> AsyncIterator[Receiver]:
    rec = Receiver()
    app = web.Application()
    app.router.add_post("/hook", rec.handle)
    async with serving(app) as root:
        rec.url = root + "/hook"
        yield rec


@pytest_asyncio.fixture
async def router_receiver(gw: SandboxGateway) -> AsyncIterator[RouterReceiver]:
    """A webhook endpoint whose deliveries go to a real WebhookRouter (gw's secret)."""
    async with router_receiving(gw.webhook_secret) as receiver:
        yield receiver
