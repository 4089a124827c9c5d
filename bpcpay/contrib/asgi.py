"""A pure ASGI application for a :class:`~bpcpay.webhooks.WebhookRouter`.

Mount it in Starlette or FastAPI (``app.mount("/webhooks/bpc", WebhookASGIApp(router))``), use
it as a Starlette route endpoint (``Route("/webhooks/bpc", WebhookASGIApp(router),
methods=["POST"])``), or serve it alone with any ASGI server. It reads ``http.request`` messages
itself, so the body is the raw bytes, capped as they arrive.

Imports no framework and no aiohttp.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

from .._log import library_logger
from ..webhooks._router import WebhookRouter
from . import body_text, content_length

__all__ = ["Receive", "Scope", "Send", "WebhookASGIApp"]

logger = library_logger("webhooks")

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]


class _Disconnected(Exception):
    """The client went away before the body was complete."""


class WebhookASGIApp:
    """ASGI app: ``POST`` a delivery, get the router's status.

    Other methods get 405. Lifespan events are acknowledged, so it can run standalone.

    Args:
        router: the router (it holds the secret and the handlers).
        max_bytes: the size cap; the router's ``max_bytes`` by default.
    """

    def __init__(self, router: WebhookRouter, *, max_bytes: int | None = None) -> None:
        self.router = router
        self.max_bytes = router.max_bytes if max_bytes is None else max_bytes

    def __repr__(self) -> str:
        return f"<WebhookASGIApp {self.router!r}>"

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "lifespan":
            await _lifespan(receive, send)
            return
        if scope["type"] != "http":
            raise RuntimeError(f"WebhookASGIApp serves http, not {scope['type']!r}")
        if scope["method"] != "POST":
            await _respond(send, 405, "method_not_allowed", [(b"allow", b"POST")])
            return
        headers = _headers(scope)
        declared = content_length(headers.get("content-length"))
        if declared is not None and declared > self.max_bytes:
            logger.warning("webhook refused (413): Content-Length over %d bytes", self.max_bytes)
            await _respond(send, 413, "too_large")
            return
        try:
            body = await _read_body(receive, self.max_bytes)
        except _Disconnected:
            return
        if body is None:
            logger.warning("webhook refused (413): body over %d bytes", self.max_bytes)
            await _respond(send, 413, "too_large")
            return
        result = await self.router.handle(body, headers)
        await _respond(send, result.status, result.reason)


def _headers(scope: Scope) -> dict[str, str]:
    # ASGI header names are lower-case bytes; values are latin-1 by the HTTP spec. A repeated
    # header keeps its first value (none of the ones read here may repeat).
    out: dict[str, str] = {}
    for name, value in scope.get("headers", ()):
        out.setdefault(name.decode("latin-1").lower(), value.decode("latin-1"))
    return out


async def _read_body(receive: Receive, max_bytes: int) -> bytes | None:
    chunks: list[bytes] = []
    size = 0
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            raise _Disconnected
        chunk = message.get("body", b"")
        size += len(chunk)
        if size > max_bytes:
            return None
        chunks.append(chunk)
        if not message.get("more_body", False):
            return b"".join(chunks)


async def _respond(
    send: Send, status: int, reason: str, extra: list[tuple[bytes, bytes]] | None = None
) -> None:
    body = body_text(reason)
    headers = [
        (b"content-type", b"text/plain; charset=utf-8"),
        (b"content-length", str(len(body)).encode("ascii")),
        *(extra or []),
    ]
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})


async def _lifespan(receive: Receive, send: Send) -> None:
    while True:
        message = await receive()
        if message["type"] == "lifespan.startup":
            await send({"type": "lifespan.startup.complete"})
        elif message["type"] == "lifespan.shutdown":
            await send({"type": "lifespan.shutdown.complete"})
            return
