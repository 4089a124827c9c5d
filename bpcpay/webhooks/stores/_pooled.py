"""What the pooled stores (Redis and PostgreSQL, sync and async) share: the options they check,
and pools that belong to the process, or the event loop, that opened them.

A blocking store's pool is opened on first use, and opened again in a forked child: a parent's
connections (and a pool's threads) are not the child's to use, nor to close. An asyncio store's
connections belong to one event loop, so it keeps a pool per loop (:class:`LoopLocal`), closed
when that loop shuts down. Imports no database driver.
"""

from __future__ import annotations

import asyncio
import os
import re
import threading
import urllib.parse
import weakref
from collections.abc import AsyncGenerator, Awaitable, Callable
from typing import Any, Final, Generic, TypeVar

from ..._exceptions import DeliveryStoreError
from ..._secret import REDACTED
from ._base import StorePlans, check_positive_int, check_seconds

__all__ = ["LoopLocal", "PooledStore", "ProcessLocal"]

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


class _LoopEntry(Generic[C]):
    """One loop's pool: ``ready`` opens it (shared by concurrent first calls), ``closer`` is
    the async generator whose ``finally`` closes it when the loop finishes its generators."""

    __slots__ = ("closer", "ready")

    def __init__(self, ready: asyncio.Future[C], closer: AsyncGenerator[None, None]) -> None:
        self.ready = ready
        self.closer = closer


Entries = dict[asyncio.AbstractEventLoop, _LoopEntry[Any]]


class LoopLocal(Generic[C]):
    """Each event loop's pool, in this process.

    :meth:`get` opens the running loop's pool on its first call. The pool is closed with its
    loop: a small async generator, started on that loop, holds the closing in its ``finally``,
    and a loop's shutdown (``asyncio.run``, uvicorn, aiohttp's runner, pytest-asyncio: each
    calls ``loop.shutdown_asyncgens()``) finishes it. :meth:`close` closes the running loop's
    pool now. A loop found closed without that (``loop.close()`` alone) is forgotten.
    """

    def __init__(self) -> None:
        self._entries: Entries = {}
        self._pid = os.getpid()
        # Collected with its store: forget what closed loops left, so that no generator is
        # finalized later on a loop that can no longer run it.
        weakref.finalize(self, _forget_closed, self._entries)

    async def get(
        self,
        open_pool: Callable[[], Awaitable[C]],
        close_pool: Callable[[C], Awaitable[None]],
    ) -> C:
        """The running loop's pool, opened with ``open_pool()`` when it has none."""
        loop = asyncio.get_running_loop()
        if self._pid != os.getpid():  # a forked child: the parent's pools are not its own
            self._entries.clear()
            self._pid = os.getpid()
        entry = self._entries.get(loop)
        if entry is None:
            _forget_closed(self._entries)
            # Registered before the first await: concurrent first calls share this pool.
            ready: asyncio.Future[C] = asyncio.ensure_future(open_pool())
            closer = _closing(self._entries, loop, ready, close_pool)
            entry = self._entries[loop] = _LoopEntry(ready, closer)
            await closer.__anext__()  # now the loop's shutdown will finish it
        try:
            pool: C = await asyncio.shield(entry.ready)
        except Exception:
            if self._entries.get(loop) is entry:  # the next call tries again
                del self._entries[loop]
            raise
        return pool

    async def close(self) -> None:
        """Close the running loop's pool, if it has one (it reopens on the next call)."""
        entry = self._entries.pop(asyncio.get_running_loop(), None)
        if entry is not None:
            await entry.closer.aclose()


async def _closing(
    entries: Entries,
    loop: asyncio.AbstractEventLoop,
    ready: asyncio.Future[C],
    close_pool: Callable[[C], Awaitable[None]],
) -> AsyncGenerator[None, None]:
    try:
        yield
    finally:
        if entries.get(loop) is not None and entries[loop].ready is ready:
            del entries[loop]
        # On a closed loop nothing can be awaited: the pool is left to the collector.
        opened = ready.done() and not ready.cancelled() and ready.exception() is None
        if opened and not loop.is_closed():
            await close_pool(ready.result())


def _forget_closed(entries: Entries) -> None:
    """Drop the pools of loops closed without finishing their generators."""
    for loop in [loop for loop in entries if loop.is_closed()]:
        closer = entries.pop(loop).closer.aclose()
        try:
            closer.send(None)  # the generator's finally sees the closed loop and awaits nothing
        except StopIteration:
            pass
        finally:
            closer.close()


class PooledStore:
    """The base of the Redis and PostgreSQL stores: the options they share, checked, the
    process's pool (``_pool``, for the blocking stores) and each event loop's (``_loops``, for
    the asyncio stores). A subclass sets ``_plans``, its logic as plans.

    A failed call raises :class:`~bpcpay.DeliveryStoreError`, never the driver's exception:
    redis-py's and psycopg's frames hold the connection's credentials (redis-py's
    ``auth_args``, for one), and error trackers read the locals of every frame an error passed
    through. The driver's class name and message (the URL, DSN and password taken out) are
    kept on the error.

    Args:
        where: the URL or DSN (never shown; taken out of the driver's messages).
        lease: seconds a claim stays in flight unless renewed.
        retention: seconds a done key is remembered (kept as ``_retention``, for the plans).
        max_connections: the pool's bound, per process.
        timeout: seconds for connecting, for each call, and for waiting on the pool.
    """

    _plans: StorePlans
    #: How the store's connections name themselves to the server (PostgreSQL's
    #: ``pg_stat_activity.application_name``, Redis's ``CLIENT LIST``).
    _connection_name: Final = "bpcpay-webhooks"

    def __init__(
        self,
        *,
        where: str,
        lease: float,
        retention: float,
        max_connections: int,
        timeout: float,
    ) -> None:
        self._hidden = _credentials(where)
        self.lease = check_seconds("lease", lease)
        self._retention = check_seconds("retention", retention)
        self.max_connections = check_positive_int("max_connections", max_connections)
        self.timeout = check_seconds("timeout", timeout)
        self._pool: ProcessLocal[Any] = ProcessLocal()
        self._loops: LoopLocal[Any] = LoopLocal()

    def _outage(self, exc: Exception) -> Exception:
        said = str(exc)
        for text in self._hidden:
            said = said.replace(text, REDACTED)
        return DeliveryStoreError(
            f"{type(self).__name__} failed: {type(exc).__name__}: {said}",
            store_error=type(exc).__name__,
            store_message=said,
        )


_DSN_PASSWORD = re.compile(r"""password\s*=\s*('(?:[^'\\]|\\.)*'|\S+)""")


def _credentials(where: str) -> tuple[str, ...]:
    """What a driver's message must never show: the URL or DSN itself and the password in it
    (``scheme://user:password@host`` or libpq's ``password=...``), longest first."""
    found = [where]
    try:
        password = urllib.parse.urlsplit(where).password
    except ValueError:
        password = None
    if password:
        found += [password, urllib.parse.unquote(password)]
    for match in _DSN_PASSWORD.finditer(where):
        value = match.group(1)
        found += [value, value.strip("'")]
    return tuple(sorted({text for text in found if text}, key=len, reverse=True))
