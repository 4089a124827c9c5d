"""What the pooled stores (Redis and PostgreSQL, sync and async) share: the options they check,
and a pool that belongs to the process that opened it.

A pool is opened on first use, and opened again in a forked child: a parent's connections (and
a pool's threads) are not the child's to use, nor to close. Imports no database driver.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Callable
from typing import Any, Final, Generic, TypeVar

from ._base import StorePlans, check_positive_int, check_seconds

__all__ = ["PooledStore", "ProcessLocal"]

C = TypeVar("C")


class ProcessLocal(Generic[C]):
    """One process's pool: :meth:`get` opens it once per process, however many threads ask at
    once; :meth:`owned` is None in any other process (a forked child)."""

    __slots__ = ("_lock", "_pid", "_value")

    def __init__(self) -> None:
        self._value: C | None = None
        self._pid = 0
        self._lock = threading.Lock()

    def owned(self) -> C | None:
        """The pool, when this process opened it; else None."""
        return self._value if self._value is not None and self._pid == os.getpid() else None

    def get(self, open_pool: Callable[[], C]) -> C:
        """This process's pool, opened with ``open_pool()`` when there is none."""
        value = self.owned()
        if value is None:
            with self._lock:
                value = self.owned()
                if value is None:
                    value = open_pool()
                    self._value, self._pid = value, os.getpid()
        return value

    def forget(self) -> None:
        """Drop the pool without closing it (close it first when it is :meth:`owned`)."""
        self._value = None


class PooledStore:
    """The base of the Redis and PostgreSQL stores: the options they share, checked, and the
    process's pool (``_pool``). A subclass sets ``_plans``, its logic as plans.

    Args:
        lease: seconds a claim stays in flight.
        retention: seconds a done key is remembered (kept as ``_retention``, for the plans).
        max_connections: the pool's bound, per process.
        timeout: seconds for connecting, for each call, and for waiting on the pool.
    """

    _plans: StorePlans
    #: How the store's connections name themselves to the server (PostgreSQL's
    #: ``pg_stat_activity.application_name``, Redis's ``CLIENT LIST``).
    _connection_name: Final = "bpcpay-webhooks"

    def __init__(
        self, *, lease: float, retention: float, max_connections: int, timeout: float
    ) -> None:
        self.lease = check_seconds("lease", lease)
        self._retention = check_seconds("retention", retention)
        self.max_connections = check_positive_int("max_connections", max_connections)
        self.timeout = check_seconds("timeout", timeout)
        self._pool: ProcessLocal[Any] = ProcessLocal()
