"""A webhook endpoint on loopback that hands every delivery to a real WebhookRouter and keeps
what the router decided (``handled``, ``duplicate`` ...), for end-to-end tests of the sandbox's
deliveries. A plain module, not conftest (see tests/_support.py)."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator

import attrs
from _support import serving
from aiohttp import web

from bpcpay.webhooks import WebhookResult, WebhookRouter


@attrs.define
class RouterReceiver:
    """Where the gateway delivers (``url``), the router that receives, and its results."""

    router: WebhookRouter
    url: str = ""
    results: list[WebhookResult] = attrs.Factory(list)

    @property
    def reasons(self) -> list[str]:
        """What the router answered each delivery, in order."""
        return [result.reason for result in self.results]

    async def handle(self, request: web.Request) -> web.Response:
        result = await self.router.handle(await request.read(), request.headers)
        self.results.append(result)
        return web.Response(status=result.status, text=result.reason)


@contextlib.asynccontextmanager
async def router_receiving(secret: str) -> AsyncIterator[RouterReceiver]:
    """A RouterReceiver for deliveries signed with ``secret``, served until the block ends."""
    receiver = RouterReceiver(WebhookRouter(secret))
    app = web.Application()
    app.router.add_post("/hook", receiver.handle)
    async with serving(app) as root:
        receiver.url = root + "/hook"
        yield receiver
