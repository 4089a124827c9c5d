"""Django adapter: a view function for a :class:`~bpcpay.webhooks.WebhookRouter`.

::

    # urls.py
    urlpatterns += webhook_urls(router, path="webhooks/bpc")

:func:`webhook_urls` routes the path with and without its trailing slash to one view, so neither
spelling meets ``APPEND_SLASH`` (whose redirect of a POST is a 500 under ``DEBUG`` and a
redirect the gateway does not follow otherwise). The view is CSRF-exempt (the signature is the
authentication), accepts POST only, reads the raw body from the request stream (bounded by
``Content-Length`` and the size cap; Django's ``DATA_UPLOAD_MAX_MEMORY_SIZE`` does not apply to
it), chunked bodies included, and calls ``router.handle_sync``, so handlers must be plain
functions. Under ASGI Django runs it in a worker thread.

Imports Django (never imported by ``import bpcpay``).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from django.http import (  # type: ignore[import-untyped, unused-ignore]
    HttpRequest,
    HttpResponse,
)
from django.urls import URLPattern  # type: ignore[import-untyped, unused-ignore]
from django.urls import path as url_path
from django.views.decorators.csrf import (  # type: ignore[import-untyped, unused-ignore]
    csrf_exempt,
)
from django.views.decorators.http import (  # type: ignore[import-untyped, unused-ignore]
    require_POST,
)

from ..webhooks._router import WebhookRouter
from . import body_text, declared_too_large, read_capped, size_cap, too_large
from .wsgi import read_wsgi_body

__all__ = ["webhook_urls", "webhook_view"]


def _read_body(request: Any, max_bytes: int) -> bytes | int | None:
    """The raw body; None when over the cap, 411 when it has no length and no end."""
    if declared_too_large(request.META.get("CONTENT_LENGTH") or None, max_bytes):
        return None
    if hasattr(request, "_body"):
        # Something (a middleware) already read the body; Django kept it, use that copy.
        body: bytes = request.body
        return None if len(body) > max_bytes else body
    if "wsgi.input" in request.META and not request.META.get("CONTENT_LENGTH"):
        # A chunked body under WSGI: Django's stream is bounded by Content-Length, absent here,
        # so it reads as empty. The server's own input is read instead, to its end when the
        # server says it ends (gunicorn, waitress: wsgi.input_terminated), else refused (411).
        read = read_wsgi_body(request.META, max_bytes)
        return None if read == 413 else read
    # HttpRequest.read is bounded by Content-Length (Django wraps the input in a
    # LimitedStream), so this never reads past the body. Under ASGI the server has the body
    # whole, chunked or not.
    return read_capped(request.read, max_bytes)


def webhook_view(router: WebhookRouter, *, max_bytes: int | None = None) -> Callable[..., Any]:
    """A Django view (CSRF-exempt, POST only) that answers with the router's status.

    Args:
        router: the router (it holds the secret and the handlers).
        max_bytes: the size cap; the router's ``max_bytes`` by default.

    Returns:
        ``view(request) -> HttpResponse`` for ``urlpatterns``.
    """
    cap = size_cap(router, max_bytes)

    def answer(status: int, reason: str) -> HttpResponse:
        return HttpResponse(body_text(reason), status=status, content_type="text/plain")

    def bpcpay_webhook(request: HttpRequest) -> HttpResponse:
        body = _read_body(request, cap)
        if body is None:
            return answer(*too_large(cap))
        if isinstance(body, int):
            return answer(body, "length_required")
        result = router.handle_sync(body, request.headers)
        return answer(result.status, result.reason)

    view: Callable[..., Any] = csrf_exempt(require_POST(bpcpay_webhook))
    return view


def webhook_urls(
    router: WebhookRouter, *, path: str = "webhooks/bpc", max_bytes: int | None = None
) -> list[URLPattern]:
    """URL patterns for ``urlpatterns``: ``path`` with and without its trailing slash, one view.

    Neither spelling of the URL registered with the gateway meets ``APPEND_SLASH``'s redirect
    (a 500 for a POST under ``DEBUG``; the gateway follows no redirect).

    Args:
        router: the router (it holds the secret and the handlers).
        path: the route, without a leading slash (``webhooks/bpc`` by default).
        max_bytes: the size cap; the router's ``max_bytes`` by default.

    Returns:
        Two patterns (one for an empty ``path``), named ``bpcpay_webhook``, to add to
        ``urlpatterns``.
    """
    view = webhook_view(router, max_bytes=max_bytes)
    bare = path.strip("/")
    routes = [bare, bare + "/"] if bare else [""]
    return [url_path(route, view, name="bpcpay_webhook") for route in routes]
