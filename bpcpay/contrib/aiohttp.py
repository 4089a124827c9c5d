"""aiohttp.web adapter: a route handler for a :class:`~bpcpay.webhooks.WebhookRouter`, and
:func:`setup_webhooks` to mount it on an existing ``web.Application`` (a bot's, say), so
deliveries are handled on that application's own event loop.

Imports aiohttp only (never imported by ``import bpcpay``).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from aiohttp import web

from ..webhooks._router import WebhookRouter
from . import CHUNK, CappedBody, body_text, declared_too_large, size_cap, too_large

__all__ = ["read_body", "setup_webhooks", "webhook_handler"]

DEFAULT_PATH = "/webhooks/bpc"


async def read_body(request: web.BaseRequest, max_bytes: int) -> bytes | None:
    """The raw body, or None when it is larger than ``max_bytes``.

    Refuses on ``Content-Length`` before reading anything, and stops reading a body without one
    (chunked) as soon as it passes the cap; aiohttp's own ``client_max_size`` is not relied on.
    """
    if declared_too_large(request.headers.get("Content-Length"), max_bytes):
        return None
    body = CappedBody(max_bytes)
    while chunk := await request.content.read(CHUNK):
        if not body.add(chunk):
            return None
    return body.value()


def _answer(status: int, reason: str) -> web.Response:
    return web.Response(status=status, body=body_text(reason), content_type="text/plain")


def webhook_handler(
    router: WebhookRouter, *, max_bytes: int | None = None
) -> Callable[[web.Request], Awaitable[web.Response]]:
    """An aiohttp.web handler that feeds POSTed deliveries to ``router.handle``.

    Args:
        router: the router (it holds the secret and the handlers).
        max_bytes: the size cap; the router's ``max_bytes`` by default.

    Returns:
        ``async def handler(request) -> web.Response`` for ``app.router.add_post(path, ...)``.
    """
    cap = size_cap(router, max_bytes)

    async def bpcpay_webhook(request: web.Request) -> web.Response:
        body = await read_body(request, cap)
        if body is None:
            return _answer(*too_large(cap))
        result = await router.handle(body, request.headers)
        return _answer(result.status, result.reason)

    return bpcpay_webhook


def setup_webhooks(
    app: web.Application,
    router: WebhookRouter,
    *,
    path: str = DEFAULT_PATH,
    max_bytes: int | None = None,
) -> web.AbstractRoute:
    """Mount the webhook endpoint on ``app`` as ``POST path`` (before the app starts).

    Returns:
        The added route.
    """
    return app.router.add_post(path, webhook_handler(router, max_bytes=max_bytes))
