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

from .._log import library_logger
from ..webhooks._router import WebhookRouter
from . import body_text, content_length

__all__ = ["webhook_view"]

logger = library_logger("webhooks")

_CHUNK = 64 * 1024


def _read_body(request: Any, max_bytes: int) -> bytes | None:
    declared = content_length(request.META.get("CONTENT_LENGTH") or None)
    if declared is not None and declared > max_bytes:
        return None
    if hasattr(request, "_body"):
        # Something (a middleware) already read the body; Django kept it, use that copy.
        body: bytes = request.body
        return None if len(body) > max_bytes else body
    chunks: list[bytes] = []
    size = 0
    while True:
        # HttpRequest.read is bounded by Content-Length (Django wraps the input in a
        # LimitedStream), so this never reads past the body.
        chunk = request.read(_CHUNK)
        if not chunk:
            return b"".join(chunks)
        size += len(chunk)
        if size > max_bytes:
            return None
        chunks.append(chunk)


def webhook_view(router: WebhookRouter, *, max_bytes: int | None = None) -> Callable[..., Any]:
    """A Django view (CSRF-exempt, POST only) that answers with the router's status.

    Args:
        router: the router (it holds the secret and the handlers).
        max_bytes: the size cap; the router's ``max_bytes`` by default.

    Returns:
        ``view(request) -> HttpResponse`` for ``urlpatterns``.
    """
    cap = router.max_bytes if max_bytes is None else max_bytes

    def bpcpay_webhook(request: HttpRequest) -> HttpResponse:
        body = _read_body(request, cap)
        if body is None:
            logger.warning("webhook refused (413): body over %d bytes", cap)
            return HttpResponse(body_text("too_large"), status=413, content_type="text/plain")
        result = router.handle_sync(body, request.headers)
        return HttpResponse(
            body_text(result.reason), status=result.status, content_type="text/plain"
        )

    view: Callable[..., Any] = csrf_exempt(require_POST(bpcpay_webhook))
    return view
