"""The recording gateway of the contract tests: a loopback server that shows exactly what the
SDK put on the wire (method, path, every header, body bytes).

It answers each request with the JSON of a canned object for its path (the published session
and expire examples, the test suite's payment, refund and payment method), so every wrapped
call completes. A module of its own, not conftest: ``from conftest import ...`` would pick up
whichever conftest module was imported first.
"""

from __future__ import annotations

import attrs
from _published import EXPIRE_RESPONSE, SEED_RESPONSE
from _support import PAYMENT_JSON, PAYMENT_METHOD_JSON, REFUND_JSON
from aiohttp import web

API_KEY = "sk_test_contract_not_real"


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
            answer = PAYMENT_JSON
        elif path.startswith("/refunds"):
            answer = REFUND_JSON
        else:
            answer = PAYMENT_METHOD_JSON
        return web.json_response(answer, headers={"X-Version": "2023-10-31"})
