"""aiohttp.web adapter: a route handler for a :class:`~bpcpay.webhooks.WebhookRouter`, and
:func:`setup_webhooks` to mount it on an existing ``web.Application`` (a bot's, say), so
deliveries are handled on that application's own event loop.

Imports aiohttp only (never imported by ``import bpcpay``).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from aiohttp import web

from ..webhooks._router import WebhookRouter
from . import (
    CHUNK,
    DEFAULT_BODY_TIMEOUT,
    CappedBody,
    body_text,
    body_timeout_seconds,
    declared_too_large,
    size_cap,
    twin_path,
)
from ._deadline import read_within

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
    router: WebhookRouter,
    *,
    max_bytes: int | None = None,
    body_timeout: float = DEFAULT_BODY_TIMEOUT,
) -> Callable[[web.Request], Awaitable[web.Response]]:
    """An aiohttp.web handler that feeds POSTed deliveries to ``router.handle``.

    Args:
        router: the router (it holds the secret and the handlers).
        max_bytes: the size cap; the router's ``max_bytes`` by default.
        body_timeout: seconds the whole body may take to arrive; a slower one is answered 408
            and its connection closed, so a stalled sender holds no memory (10 s by default).

    Returns:
        ``async def handler(request) -> web.Response`` for ``app.router.add_post(path, ...)``.

    Raises:
        InvalidArgumentError: ``body_timeout`` is not a positive number of seconds.
    """
    cap = size_cap(router, max_bytes)
    deadline = body_timeout_seconds(body_timeout)

    async def bpcpay_webhook(request: web.Request) -> web.Response:
        body = await read_within(read_body(request, cap), max_bytes=cap, body_timeout=deadline)
        if isinstance(body, tuple):
            # The rest of the body is not wanted: close the connection after the answer
            # instead of keeping it alive for a next request behind the unread bytes.
            refusal = _answer(*body)
            refusal.force_close()
            return refusal
        result = await router.handle(body, request.headers)
        return _answer(result.status, result.reason)

    return bpcpay_webhook


def setup_webhooks(
    app: web.Application,
    router: WebhookRouter,
    *,
    path: str = DEFAULT_PATH,
    max_bytes: int | None = None,
    body_timeout: float = DEFAULT_BODY_TIMEOUT,
) -> web.AbstractRoute:
    """Mount the webhook endpoint on ``app`` as ``POST path`` (before the app starts).

    The same handler also answers at ``path`` with or without its trailing slash, so the URL
    registered with the gateway reaches it either way (the gateway follows no redirect).

    Args:
        app: the application (a bot's, a shop's).
        router: the router (it holds the secret and the handlers).
        path: where deliveries are POSTed (``/webhooks/bpc`` by default).
        max_bytes: the size cap; the router's ``max_bytes`` by default.
        body_timeout: seconds the whole body may take to arrive (see :func:`webhook_handler`).

    Returns:
        The route added at ``path`` as given.

    Raises:
        InvalidArgumentError: ``body_timeout`` is not a positive number of seconds.
    """
    handler = webhook_handler(router, max_bytes=max_bytes, body_timeout=body_timeout)
    route = app.router.add_post(path, handler)
    twin = twin_path(path)
    if twin is not None:
        app.router.add_post(twin, handler)
    return route
