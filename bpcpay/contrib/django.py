"""Django adapter: a view function for a :class:`~bpcpay.webhooks.WebhookRouter`.

::

    # urls.py
    path("webhooks/bpc/", webhook_view(router))

The view is CSRF-exempt (the signature is the authentication), accepts POST only, reads the raw
body from the request stream (bounded by ``Content-Length`` and the size cap; Django's
``DATA_UPLOAD_MAX_MEMORY_SIZE`` does not apply to it), and calls ``router.handle_sync``, so
handlers must be plain functions. Under ASGI Django runs it in a worker thread.

Imports Django (never imported by ``import bpcpay``).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from django.http import (  # type: ignore[import-untyped, unused-ignore]
    HttpRequest,
    HttpResponse,
)
from django.views.decorators.csrf import (  # type: ignore[import-untyped, unused-ignore]
    csrf_exempt,
)
from django.views.decorators.http import (  # type: ignore[import-untyped, unused-ignore]
    require_POST,
)

from ..webhooks._router import WebhookRouter
from . import body_text, declared_too_large, read_capped, size_cap, too_large

__all__ = ["webhook_view"]


def _read_body(request: Any, max_bytes: int) -> bytes | None:
    if declared_too_large(request.META.get("CONTENT_LENGTH") or None, max_bytes):
        return None
    if hasattr(request, "_body"):
        # Something (a middleware) already read the body; Django kept it, use that copy.
        body: bytes = request.body
        return None if len(body) > max_bytes else body
    # HttpRequest.read is bounded by Content-Length (Django wraps the input in a
    # LimitedStream), so this never reads past the body.
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
        result = router.handle_sync(body, request.headers)
        return answer(result.status, result.reason)

    view: Callable[..., Any] = csrf_exempt(require_POST(bpcpay_webhook))
    return view
