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

from . import CappedBody, RouterApp, body_text, declared_too_large, too_large

__all__ = ["Receive", "Scope", "Send", "WebhookASGIApp"]

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]


class _Disconnected(Exception):
    """The client went away before the body was complete."""


class WebhookASGIApp(RouterApp):
    """ASGI app: ``POST`` a delivery, get the router's status.

    Other methods get 405. Lifespan events are acknowledged, so it can run standalone.

    Args:
        router: the router (it holds the secret and the handlers).
        max_bytes: the size cap; the router's ``max_bytes`` by default.
    """

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "lifespan":
            await _lifespan(receive, send)
            return
        if scope["type"] != "http":
            raise RuntimeError(f"WebhookASGIApp serves http, not {scope['type']!r}")
        if scope["method"] != "POST":
            # HEAD: the headers a GET gets, and no body (it would corrupt a kept-alive connection
            # under a server that passes it on).
            head = scope["method"] == "HEAD"
            await _respond(send, 405, "method_not_allowed", [(b"allow", b"POST")], head=head)
            return
        headers = _headers(scope)
        if declared_too_large(headers.get("content-length"), self.max_bytes):
            await _respond(send, *too_large(self.max_bytes, declared=True))
            return
        try:
            body = await _read_body(receive, self.max_bytes)
        except _Disconnected:
            return
        if body is None:
            await _respond(send, *too_large(self.max_bytes))
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
    body = CappedBody(max_bytes)
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            raise _Disconnected
        if not body.add(message.get("body", b"")):
            return None
        if not message.get("more_body", False):
            return body.value()


async def _respond(
    send: Send,
    status: int,
    reason: str,
    extra: list[tuple[bytes, bytes]] | None = None,
    *,
    head: bool = False,
) -> None:
    body = body_text(reason)
    headers = [
        (b"content-type", b"text/plain; charset=utf-8"),
        (b"content-length", str(len(body)).encode("ascii")),
        *(extra or []),
    ]
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": b"" if head else body})


async def _lifespan(receive: Receive, send: Send) -> None:
    while True:
        message = await receive()
        if message["type"] == "lifespan.startup":
            await send({"type": "lifespan.startup.complete"})
        elif message["type"] == "lifespan.shutdown":
            await send({"type": "lifespan.shutdown.complete"})
            return
