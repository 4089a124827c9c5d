"""Framework adapters for :class:`bpcpay.webhooks.WebhookRouter`, one module per framework.

``bpcpay.contrib.aiohttp`` (aiohttp.web, bots), ``bpcpay.contrib.asgi`` (Starlette, FastAPI,
any ASGI server), ``bpcpay.contrib.wsgi`` (Flask, any WSGI server) and
``bpcpay.contrib.django``. Each reads the raw body (never re-serialised JSON), refuses a body
over the router's size cap with 413 before reading it when ``Content-Length`` says so and stops
reading once a body without one passes the cap, and answers the status the router decides.

This package imports no framework; each adapter module imports only its own, so installing
bpcpay never requires any of them and ``import bpcpay`` loads none.
"""

from __future__ import annotations

__all__: list[str] = []


def content_length(value: str | None) -> int | None:
    """A ``Content-Length`` header as an int; None when absent or not a plain decimal."""
    if value is None:
        return None
    value = value.strip()
    if not value.isdigit() or not value.isascii():
        return None
    return int(value)


def body_text(reason: str) -> bytes:
    """The small plain-text body adapters answer with: the router's reason, nothing secret."""
    return (reason + "\n").encode("ascii", "replace")
