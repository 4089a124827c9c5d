"""WSGI adapter for a :class:`~bpcpay.webhooks.WebhookRouter`: a WSGI app, and a Flask view.

:class:`WebhookWSGIApp` is a plain WSGI application (mount it with werkzeug's
``DispatcherMiddleware`` or serve it alone); :func:`flask_view` returns a Flask view function
for ``app.add_url_rule``. Both read ``wsgi.input`` themselves, bounded by ``Content-Length``
and the size cap, and call ``router.handle_sync`` (so handlers must be plain functions).

Imports no framework: the Flask view reads ``flask.request`` lazily, on the first delivery.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from typing import IO, Any, Protocol

from ..webhooks._router import WebhookRouter
from . import RouterApp, body_text, content_length, read_capped, size_cap, too_large

__all__ = ["WebhookWSGIApp", "environ_headers", "flask_view", "handle_environ", "read_wsgi_body"]

_REASONS = {
    200: "OK",
    400: "Bad Request",
    405: "Method Not Allowed",
    411: "Length Required",
    413: "Content Too Large",
    500: "Internal Server Error",
}


class StartResponse(Protocol):
    """The WSGI ``start_response`` callable."""

    def __call__(
        self, status: str, headers: list[tuple[str, str]], exc_info: Any = ..., /
    ) -> Callable[[bytes], object]: ...


def environ_headers(environ: Mapping[str, Any]) -> dict[str, str]:
    """The request headers of a WSGI environ, as ``{"X-Signature": ...}`` (title-cased names)."""
    headers: dict[str, str] = {}
    for name, value in environ.items():
        if name.startswith("HTTP_"):
            headers[name[5:].replace("_", "-").title()] = value
    if environ.get("CONTENT_TYPE"):
        headers["Content-Type"] = environ["CONTENT_TYPE"]
    if environ.get("CONTENT_LENGTH"):
        headers["Content-Length"] = environ["CONTENT_LENGTH"]
    return headers


def read_wsgi_body(environ: Mapping[str, Any], max_bytes: int) -> bytes | int:
    """The raw body, or the status to refuse it with (413 too large, 411 no length).

    Reads exactly ``Content-Length`` bytes (never past it: a WSGI input need not end), or up
    to the end of a chunked body when the server says it is terminated (``wsgi.input_terminated``).
    """
    stream: IO[bytes] = environ["wsgi.input"]
    declared = content_length(environ.get("CONTENT_LENGTH") or None)
    if declared is not None and declared > max_bytes:
        return 413
    if declared is None and not environ.get("wsgi.input_terminated"):
        # Without a length a WSGI input may block forever at its end; refuse.
        return 411
    limit = declared if declared is not None else max_bytes + 1
    body = read_capped(stream.read, max_bytes, limit=limit)
    return 413 if body is None else body


def handle_environ(
    router: WebhookRouter, environ: Mapping[str, Any], max_bytes: int
) -> tuple[int, str]:
    """Read and handle one delivery from a WSGI environ; returns (status, reason)."""
    if environ.get("REQUEST_METHOD") != "POST":
        return 405, "method_not_allowed"
    body = read_wsgi_body(environ, max_bytes)
    if body == 413:
        return too_large(max_bytes)
    if isinstance(body, int):
        return body, "length_required"
    result = router.handle_sync(body, environ_headers(environ))
    return result.status, result.reason


class WebhookWSGIApp(RouterApp):
    """A WSGI application: ``POST`` a delivery, get the router's status.

    Args:
        router: the router (it holds the secret and the handlers).
        max_bytes: the size cap; the router's ``max_bytes`` by default.
    """

    def __call__(self, environ: dict[str, Any], start_response: StartResponse) -> Iterable[bytes]:
        status, reason = handle_environ(self.router, environ, self.max_bytes)
        # A HEAD answer carries no body: bytes sent after it would be read on a kept-alive
        # connection as the start of the next response (waitress passes them through).
        body = b"" if environ.get("REQUEST_METHOD") == "HEAD" else body_text(reason)
        headers = [
            ("Content-Type", "text/plain; charset=utf-8"),
            ("Content-Length", str(len(body))),
        ]
        if status == 405:
            headers.append(("Allow", "POST"))
        start_response(f"{status} {_REASONS.get(status, '')}".rstrip(), headers)
        return [body]


def flask_view(
    router: WebhookRouter, *, max_bytes: int | None = None
) -> Callable[[], tuple[bytes, int, dict[str, str]]]:
    """A Flask view function that hands the delivery to ``router.handle_sync``::

        app.add_url_rule(
            "/webhooks/bpc", view_func=flask_view(router), methods=["POST"], strict_slashes=False
        )

    ``strict_slashes=False`` lets the rule answer with and without the trailing slash (Flask
    would otherwise answer 404 to the other spelling; the gateway follows no redirect either).

    It reads the raw ``wsgi.input`` of ``flask.request.environ``; do not read the request body
    (``request.data``, ``request.json``) in a ``before_request`` hook for this URL. The view is
    named ``bpcpay_webhook``; pass ``endpoint=`` to ``add_url_rule`` to mount it twice.
    """
    cap = size_cap(router, max_bytes)

    def bpcpay_webhook() -> tuple[bytes, int, dict[str, str]]:
        from flask import request

        status, reason = handle_environ(router, request.environ, cap)
        return body_text(reason), status, {"Content-Type": "text/plain; charset=utf-8"}

    return bpcpay_webhook
