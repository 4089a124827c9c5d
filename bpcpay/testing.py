"""Helpers for your own tests: the sandbox gateway and clients pointed at it, as pytest
fixtures or context managers, and signed webhook deliveries built by hand.

Installing bpcpay registers a pytest plugin (the ``pytest11`` entry point ``bpcpay``, module
``_bpcpay_pytestplugin``) with four fixtures, each a thin wrapper over a helper here:

- ``bpcpay_sandbox``: a running :class:`~bpcpay.sandbox.SandboxGateway` (async; needs
  pytest-asyncio) with millisecond webhook retries (:func:`async_sandbox`).
- ``bpcpay_client``: an :class:`~bpcpay.AsyncBpcPay` pointed at it, closed afterwards
  (:func:`async_client`).
- ``bpcpay_sync_sandbox``: a gateway running in a background thread, for synchronous suites
  (:func:`sync_sandbox`).
- ``bpcpay_sync_client``: a :class:`~bpcpay.BpcPay` pointed at ``bpcpay_sync_sandbox``
  (:func:`sync_client`).

:func:`sandbox_delivery` turns one of a gateway's events into the signed delivery it sends, and
:func:`webhook_delivery` builds one from scratch, for a framework's test client.

The plugin itself imports nothing of bpcpay, so a project that does not use the fixtures pays
nothing for them. This module imports the sandbox (and so aiohttp) only when a gateway is
started.
"""

from __future__ import annotations

import contextlib
import json
import uuid
from collections.abc import AsyncIterator, Iterator, Mapping
from datetime import datetime, timezone
from typing import TYPE_CHECKING, Any

from ._constants import DEFAULT_API_VERSION, REQUEST_ID_HEADER, SIGNATURE_HEADER, VERSION_HEADER
from ._core._checks import check_aware, check_text
from ._core._wire import format_datetime, unstructure
from ._exceptions import InvalidArgumentError
from .webhooks import sign

if TYPE_CHECKING:
    from . import AsyncBpcPay, BpcPay
    from .sandbox import SandboxEvent, SandboxGateway, ThreadedSandboxGateway

__all__ = [
    "FAST_RETRY_SCHEDULE",
    "async_client",
    "async_sandbox",
    "sandbox_delivery",
    "sync_client",
    "sync_sandbox",
    "webhook_delivery",
]

#: Webhook retries of the fixtures' gateways: three attempts, milliseconds apart.
FAST_RETRY_SCHEDULE = (0.02, 0.05)


def webhook_delivery(
    event_type: str,
    obj: Any,
    *,
    secret: str,
    created: datetime | None = None,
    api_version: str = DEFAULT_API_VERSION,
    request_id: str | None = None,
) -> tuple[bytes, dict[str, str]]:
    """A signed webhook delivery (body and headers) as BPC would send it, to test your handler.

    Args:
        event_type: e.g. ``"session.completed"``.
        obj: the ``data.object``: a model (Session, Payment, ...) or a JSON mapping.
        secret: the webhook secret your handler verifies with.
        created: the event time; now by default.
        api_version: the ``X-Version`` header.
        request_id: the ``API-Request-Id`` (the delivery id); a fresh ``req_<uuid>`` by default.

    Returns:
        ``(body, headers)``: post them to your endpoint as they are.

    Raises:
        InvalidArgumentError: ``event_type`` is not a non-empty str, ``created`` is not a
            timezone-aware datetime, or the secret is empty or not str or bytes (never shown).
    """
    check_text("event_type", event_type, empty=False)
    created = datetime.now(timezone.utc) if created is None else check_aware("created", created)
    data = obj if isinstance(obj, Mapping) else unstructure(obj)
    payload = {
        "created": format_datetime(created),
        "type": event_type,
        "data": {"object": data},
    }
    body = json.dumps(payload, separators=(",", ":"), default=str).encode("utf-8")
    return body, _signed_headers(body, secret, api_version, request_id)


def sandbox_delivery(
    gateway: SandboxGateway | ThreadedSandboxGateway,
    event: SandboxEvent,
    *,
    request_id: str | None = None,
) -> tuple[bytes, dict[str, str]]:
    """The delivery the sandbox gateway sends for one of its events (body and headers), to
    post with any framework's test client: the event's exact bytes, signed with the gateway's
    webhook secret.

    ``gw.events[-1]`` is a :class:`~bpcpay.sandbox.SandboxEvent` (the gateway's record), not
    an :class:`~bpcpay.Event`; this turns it into what your endpoint receives, without a
    server for the gateway to reach::

        body, headers = sandbox_delivery(gw, gw.events[-1])
        assert test_client.post("/webhooks/bpc", content=body, headers=headers).status_code == 200

    Args:
        gateway: the gateway that emitted the event (a :class:`~bpcpay.sandbox.SandboxGateway`
            or the threaded one).
        event: one of ``gateway.events``.
        request_id: the ``API-Request-Id``; a fresh ``req_<uuid>`` by default (as each new
            delivery of the gateway has; pass the same one to play a retry).

    Returns:
        ``(body, headers)``: post them to your endpoint as they are.

    Raises:
        InvalidArgumentError: ``event`` is not one of ``gateway.events``.
    """
    from .sandbox import SandboxEvent, ThreadedSandboxGateway

    inner = gateway.gateway if isinstance(gateway, ThreadedSandboxGateway) else gateway
    if not isinstance(event, SandboxEvent) or all(e.id != event.id for e in inner.events):
        raise InvalidArgumentError("event", "must be one of the gateway's events (gw.events)")
    headers = _signed_headers(event.body, inner.webhook_secret, inner.api_version, request_id)
    return event.body, headers


def _signed_headers(
    body: bytes, secret: str, api_version: str, request_id: str | None
) -> dict[str, str]:
    """A delivery's headers, as the gateway sends them."""
    return {
        "Content-Type": "application/json",
        SIGNATURE_HEADER: sign(body, secret),
        VERSION_HEADER: api_version,
        REQUEST_ID_HEADER: request_id or f"req_{uuid.uuid4()}",
    }


@contextlib.contextmanager
def sync_sandbox(**options: Any) -> Iterator[ThreadedSandboxGateway]:
    """A sandbox gateway running in a background thread, stopped on exit (the
    ``bpcpay_sync_sandbox`` fixture).

    Args:
        **options: passed to :meth:`SandboxGateway.run_in_thread`; webhook retries default to
            :data:`FAST_RETRY_SCHEDULE`.
    """
    from .sandbox import SandboxGateway

    options.setdefault("webhook_retry_schedule", FAST_RETRY_SCHEDULE)
    with SandboxGateway.run_in_thread(**options) as gateway:
        yield gateway


@contextlib.contextmanager
def sync_client(gateway: ThreadedSandboxGateway | SandboxGateway) -> Iterator[BpcPay]:
    """A :class:`~bpcpay.BpcPay` with the gateway's key and base URL, closed on exit (the
    ``bpcpay_sync_client`` fixture)."""
    from . import BpcPay

    with BpcPay(api_key=gateway.api_key, base_url=gateway.base_url) as client:
        yield client


@contextlib.asynccontextmanager
async def async_sandbox(**options: Any) -> AsyncIterator[SandboxGateway]:
    """A sandbox gateway on the running event loop, stopped on exit (the ``bpcpay_sandbox``
    fixture).

    Args:
        **options: passed to :class:`~bpcpay.sandbox.SandboxGateway`; webhook retries default
            to :data:`FAST_RETRY_SCHEDULE`.
    """
    from .sandbox import SandboxGateway

    options.setdefault("webhook_retry_schedule", FAST_RETRY_SCHEDULE)
    async with SandboxGateway(**options) as gateway:
        yield gateway


@contextlib.asynccontextmanager
async def async_client(gateway: SandboxGateway) -> AsyncIterator[AsyncBpcPay]:
    """An :class:`~bpcpay.AsyncBpcPay` with the gateway's key and base URL, closed on exit
    (the ``bpcpay_client`` fixture)."""
    from . import AsyncBpcPay

    async with AsyncBpcPay(api_key=gateway.api_key, base_url=gateway.base_url) as client:
        yield client
