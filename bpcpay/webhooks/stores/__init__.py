"""Delivery stores: where the router keeps its leases (claimed, done, in flight until when).

Which one: :class:`InMemoryDeliveryStore` for one process; :class:`SQLiteDeliveryStore` for
the worker processes of one host; :class:`RedisDeliveryStore` / :class:`AsyncRedisDeliveryStore`
or :class:`PostgresDeliveryStore` / :class:`AsyncPostgresDeliveryStore` for a fleet. All keep
the contract of ``_base`` (leases with an owner token) and pass one parametrized test suite.

This package imports no database driver and no attrs class: every name, the contract of
``_base`` included, is loaded on first access (PEP 562), and redis / psycopg only when such a
store is constructed.
"""

from __future__ import annotations

from .._lazy import lazy_exports

# typing.TYPE_CHECKING without importing typing (a few ms at import): type checkers treat any
# TYPE_CHECKING this way.
TYPE_CHECKING = False
if TYPE_CHECKING:
    from ._base import (
        DEFAULT_LEASE,
        DEFAULT_RETENTION,
        DEFAULT_STORE_TIMEOUT,
        AsyncDeliveryStore,
        Claim,
        ClaimStatus,
        DeliveryStore,
    )
    from ._memory import DEFAULT_DEDUP_CAPACITY, InMemoryDeliveryStore
    from ._postgres import AsyncPostgresDeliveryStore, PostgresDeliveryStore
    from ._redis import AsyncRedisDeliveryStore, RedisDeliveryStore
    from ._sqlite import SQLiteDeliveryStore

__all__ = [
    "DEFAULT_DEDUP_CAPACITY",
    "DEFAULT_LEASE",
    "DEFAULT_RETENTION",
    "DEFAULT_STORE_TIMEOUT",
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
]

_LAZY = {
    **dict.fromkeys(
        [
            "DEFAULT_LEASE",
            "DEFAULT_RETENTION",
            "DEFAULT_STORE_TIMEOUT",
            "AsyncDeliveryStore",
            "Claim",
            "ClaimStatus",
            "DeliveryStore",
        ],
        "._base",
    ),
    "DEFAULT_DEDUP_CAPACITY": "._memory",
    "InMemoryDeliveryStore": "._memory",
    "SQLiteDeliveryStore": "._sqlite",
    "RedisDeliveryStore": "._redis",
    "AsyncRedisDeliveryStore": "._redis",
    "PostgresDeliveryStore": "._postgres",
    "AsyncPostgresDeliveryStore": "._postgres",
}


__getattr__, __dir__ = lazy_exports(__name__, _LAZY, __all__)
