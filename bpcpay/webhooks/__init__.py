"""Receiving webhooks: signatures and events (pure), the router, and its delivery stores.

``sign``, ``verify_signature``, ``construct_event`` and ``Webhooks`` come from ``_signature``,
which is pure and imported eagerly. The router (``WebhookRouter``, ``WebhookResult``), the keys
and the stores are loaded on first access (PEP 562), so ``import bpcpay.webhooks`` stays cheap
and never imports aiohttp, anyio or asyncio (``tests/test_imports.py`` checks it).

Layout: ``_signature`` (pure verification), ``_keys`` (de-duplication keys), ``_effects``
(runs a sans-I/O plan with sync or async I/O), ``_router`` (the router's logic, once, and its
two drivers), ``stores/`` (in-memory, SQLite, Redis, PostgreSQL; one contract: leases).
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from ._signature import (
    SIGNATURE_HEADER,
    Webhooks,
    construct_event,
    sign,
    verify_signature,
)

if TYPE_CHECKING:
    from ._keys import FINAL_STATE_EVENTS, event_key, request_id_key
    from ._router import DEFAULT_IN_FLIGHT_TIMEOUT, WebhookResult, WebhookRouter
    from .stores import (
        DEFAULT_LEASE,
        AsyncDeliveryStore,
        AsyncPostgresDeliveryStore,
        AsyncRedisDeliveryStore,
        Claim,
        ClaimStatus,
        DeliveryStore,
        InMemoryDeliveryStore,
        PostgresDeliveryStore,
        RedisDeliveryStore,
        SQLiteDeliveryStore,
    )

__all__ = [
    "DEFAULT_IN_FLIGHT_TIMEOUT",
    "DEFAULT_LEASE",
    "FINAL_STATE_EVENTS",
    "SIGNATURE_HEADER",
    "AsyncDeliveryStore",
    "AsyncPostgresDeliveryStore",
    "AsyncRedisDeliveryStore",
    "Claim",
    "ClaimStatus",
    "DeliveryStore",
    "InMemoryDeliveryStore",
    "PostgresDeliveryStore",
    "RedisDeliveryStore",
    "SQLiteDeliveryStore",
    "WebhookResult",
    "WebhookRouter",
    "Webhooks",
    "construct_event",
    "event_key",
    "request_id_key",
    "sign",
    "verify_signature",
]

_LAZY = {
    "FINAL_STATE_EVENTS": "._keys",
    "event_key": "._keys",
    "request_id_key": "._keys",
    "DEFAULT_IN_FLIGHT_TIMEOUT": "._router",
    "WebhookResult": "._router",
    "WebhookRouter": "._router",
    "DEFAULT_LEASE": ".stores",
    "AsyncDeliveryStore": ".stores",
    "AsyncPostgresDeliveryStore": ".stores",
    "AsyncRedisDeliveryStore": ".stores",
    "Claim": ".stores",
    "ClaimStatus": ".stores",
    "DeliveryStore": ".stores",
    "InMemoryDeliveryStore": ".stores",
    "PostgresDeliveryStore": ".stores",
    "RedisDeliveryStore": ".stores",
    "SQLiteDeliveryStore": ".stores",
}


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(module, __name__), name)
    globals()[name] = value  # the next access is a plain lookup
    return value


def __dir__() -> list[str]:
    return sorted(__all__)
