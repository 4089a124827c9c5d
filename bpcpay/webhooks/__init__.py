"""Receiving webhooks: signatures and events (pure), the router, and its delivery stores.

``sign``, ``verify_signature``, ``construct_event`` and ``Webhooks`` come from ``_signature``,
which is pure and imported eagerly. The router (``WebhookRouter``, ``WebhookResult``), the keys
and the stores are loaded on first access (PEP 562), so ``import bpcpay.webhooks`` stays cheap
and never imports aiohttp, anyio or asyncio (``tests/test_imports.py`` checks it).

Layout: ``_signature`` (pure verification), ``_keys`` (de-duplication keys), ``_effects``
(runs a sans-I/O plan with sync or async I/O), ``_router`` (the public router: routing and its
entry points), ``_plan`` (one delivery's logic, once, pure), ``_drivers`` (its blocking and
asyncio drivers), ``_heartbeat`` (renews the claims held while handlers run), ``_reconcile``
(catching up on missed final states, pure), ``stores/`` (in-memory, SQLite, Redis, PostgreSQL;
one contract: leases).
"""

from __future__ import annotations

from . import stores as _stores  # no store module, no driver: only the names
from ._lazy import lazy_exports
from ._signature import (
    SIGNATURE_HEADER,
    Webhooks,
    construct_event,
    sign,
    verify_signature,
)

# typing.TYPE_CHECKING without importing typing (a few ms at import): type checkers treat any
# TYPE_CHECKING this way.
TYPE_CHECKING = False
if TYPE_CHECKING:
    from ._keys import FINAL_STATE_EVENTS, event_key, request_id_key
    from ._plan import WebhookResult
    from ._router import DEFAULT_IN_FLIGHT_TIMEOUT, WebhookRouter
    from .stores import *  # noqa: F403 - every store name, as listed by the stores package

_LAZY = {
    "FINAL_STATE_EVENTS": "._keys",
    "event_key": "._keys",
    "request_id_key": "._keys",
    "DEFAULT_IN_FLIGHT_TIMEOUT": "._router",
    "WebhookResult": "._plan",
    "WebhookRouter": "._router",
    # Every store name, from the stores package (which loads each store lazily in turn).
    **dict.fromkeys(_stores.__all__, ".stores"),
}
__all__ = [
    "DEFAULT_IN_FLIGHT_TIMEOUT",
    "FINAL_STATE_EVENTS",
    "SIGNATURE_HEADER",
    "WebhookResult",
    "WebhookRouter",
    "Webhooks",
    "construct_event",
    "event_key",
    "request_id_key",
    "sign",
    "verify_signature",
]
__all__ += _stores.__all__  # and every name of bpcpay.webhooks.stores

__getattr__, __dir__ = lazy_exports(__name__, _LAZY, __all__)
