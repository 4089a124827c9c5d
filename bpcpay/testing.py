"""Helpers for your own tests: pytest fixtures for the sandbox gateway, and signed webhook
deliveries built by hand.

Registered as a pytest plugin through the ``pytest11`` entry point, so installing bpcpay makes
the fixtures available with nothing to configure:

- ``bpcpay_sandbox``: a running :class:`~bpcpay.sandbox.SandboxGateway` (async; needs
  pytest-asyncio) with millisecond webhook retries.
- ``bpcpay_client``: an :class:`~bpcpay.AsyncBpcPay` pointed at it, closed afterwards.
- ``bpcpay_sync_sandbox``: a gateway running in a background thread, for synchronous suites.
- ``bpcpay_sync_client``: a :class:`~bpcpay.BpcPay` pointed at ``bpcpay_sync_sandbox``.

Importing this module starts nothing. The async fixtures are defined only when pytest-asyncio
is installed, so a suite without it still loads the plugin.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Iterator, Mapping
from datetime import datetime, timezone
from typing import Any

import pytest

from ._constants import DEFAULT_API_VERSION, REQUEST_ID_HEADER, SIGNATURE_HEADER, VERSION_HEADER
from ._core._converter import format_datetime, unstructure
from ._sync._client import BpcPay
from .sandbox import SandboxGateway, ThreadedSandboxGateway
from .sandbox._ids import new_request_id
from .webhooks import sign

__all__ = [
    "FAST_RETRY_SCHEDULE",
    "bpcpay_sync_client",
    "bpcpay_sync_sandbox",
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
    """
    data = obj if isinstance(obj, Mapping) else unstructure(obj)
    payload = {
        "created": format_datetime(created or datetime.now(timezone.utc)),
        "type": event_type,
        "data": {"object": data},
    }
    body = json.dumps(payload, separators=(",", ":"), default=str).encode("utf-8")
    headers = {
        "Content-Type": "application/json",
        SIGNATURE_HEADER: sign(body, secret),
        VERSION_HEADER: api_version,
        REQUEST_ID_HEADER: request_id or new_request_id(),
    }
    return body, headers


@pytest.fixture
def bpcpay_sync_sandbox() -> Iterator[ThreadedSandboxGateway]:
    """A sandbox gateway running in a background thread; stopped after the test."""
    with SandboxGateway.run_in_thread(webhook_retry_schedule=FAST_RETRY_SCHEDULE) as gateway:
        yield gateway


@pytest.fixture
def bpcpay_sync_client(bpcpay_sync_sandbox: ThreadedSandboxGateway) -> Iterator[BpcPay]:
    """A synchronous ``bpcpay.BpcPay`` pointed at ``bpcpay_sync_sandbox``; closed after."""
    client = BpcPay(api_key=bpcpay_sync_sandbox.api_key, base_url=bpcpay_sync_sandbox.base_url)
    try:
        yield client
    finally:
        client.close()


try:
    import pytest_asyncio
except ImportError:  # pragma: no cover - the async fixtures need pytest-asyncio
    pass
else:
    from ._async._client import AsyncBpcPay

    @pytest_asyncio.fixture
    async def bpcpay_sandbox() -> AsyncIterator[SandboxGateway]:
        """A running sandbox gateway on loopback; stopped after the test."""
        async with SandboxGateway(webhook_retry_schedule=FAST_RETRY_SCHEDULE) as gateway:
            yield gateway

    @pytest_asyncio.fixture
    async def bpcpay_client(bpcpay_sandbox: SandboxGateway) -> AsyncIterator[AsyncBpcPay]:
        """An AsyncBpcPay pointed at ``bpcpay_sandbox``; closed after the test."""
        async with AsyncBpcPay(
            api_key=bpcpay_sandbox.api_key, base_url=bpcpay_sandbox.base_url
        ) as client:
            yield client

    __all__ += ["bpcpay_client", "bpcpay_sandbox"]
