"""A pure ASGI application for a :class:`~bpcpay.webhooks.WebhookRouter`.

Attach it to a Starlette or FastAPI application with :func:`setup_webhooks` (``setup_webhooks(app,
router, path="/webhooks/bpc")``: a ``POST`` route at the path with and without its trailing
slash), or serve :class:`WebhookASGIApp` alone with any ASGI server. Not ``app.mount(...)``:
Starlette answers a mount's bare path with a redirect to the path plus ``/`` before the mounted
app is called, and the gateway follows no redirect. The app reads ``http.request`` messages
itself, so the body is the raw bytes, capped as they arrive and cut off at a deadline.

Imports no framework and no aiohttp.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, MutableMapping
from typing import TYPE_CHECKING, Any, Protocol

from . import (
    DEFAULT_BODY_TIMEOUT,
    CappedBody,
    RouterApp,
    body_text,
    body_timeout_seconds,
    declared_too_large,
    too_large,
    twin_path,
)
from ._deadline import read_within

if TYPE_CHECKING:
    from ..webhooks._router import WebhookRouter

__all__ = ["Receive", "Routable", "Scope", "Send", "WebhookASGIApp", "setup_webhooks"]

DEFAULT_PATH = "/webhooks/bpc"

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
        body_timeout: seconds the whole body may take to arrive; a slower one is answered 408
            (with ``Connection: close``), so a stalled sender holds no memory (10 s by default).

    Raises:
        InvalidArgumentError: ``body_timeout`` is not a positive number of seconds.
    """

    def __init__(
        self,
        router: WebhookRouter,
        *,
        max_bytes: int | None = None,
        body_timeout: float = DEFAULT_BODY_TIMEOUT,
    ) -> None:
        super().__init__(router, max_bytes=max_bytes)
        self.body_timeout = body_timeout_seconds(body_timeout)

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
            body = await read_within(
                _read_body(receive, self.max_bytes),
                max_bytes=self.max_bytes,
                body_timeout=self.body_timeout,
            )
        except _Disconnected:
            return
        if isinstance(body, tuple):
            # The rest of the body is not wanted: the connection cannot carry a next request.
            await _respond(send, *body, [(b"connection", b"close")])
            return
        result = await self.router.handle(body, headers)
        await _respond(send, result.status, result.reason)


class Routable(Protocol):
    """What :func:`setup_webhooks` needs of an application: Starlette's and FastAPI's
    ``add_route``."""

    def add_route(
        self,
        path: str,
        route: Any,
        methods: list[str] | None = ...,
        name: str | None = ...,
        include_in_schema: bool = ...,
    ) -> None:
        """Route ``path`` to ``route``, an endpoint or an ASGI app."""


def setup_webhooks(
    app: Routable,
    router: WebhookRouter,
    *,
    path: str = DEFAULT_PATH,
    max_bytes: int | None = None,
    body_timeout: float = DEFAULT_BODY_TIMEOUT,
) -> WebhookASGIApp:
    """Route ``POST path`` of a Starlette or FastAPI application to a :class:`WebhookASGIApp`.

    The endpoint answers at ``path`` with and without its trailing slash, so neither spelling of
    the registered URL meets the framework's redirect (the gateway follows no redirect). The
    routes stay out of FastAPI's OpenAPI schema.

    Args:
        app: the application (``Starlette(...)``, ``FastAPI()``), before it serves.
        router: the router (it holds the secret and the handlers).
        path: where deliveries are POSTed (``/webhooks/bpc`` by default).
        max_bytes: the size cap; the router's ``max_bytes`` by default.
        body_timeout: seconds the whole body may take to arrive (10 s by default).

    Returns:
        The ASGI app both routes lead to.

    Raises:
        InvalidArgumentError: ``body_timeout`` is not a positive number of seconds.
    """
    endpoint = WebhookASGIApp(router, max_bytes=max_bytes, body_timeout=body_timeout)
    twin = twin_path(path)
    for each in (path,) if twin is None else (path, twin):
        app.add_route(each, endpoint, methods=["POST"], include_in_schema=False)
    return endpoint


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
