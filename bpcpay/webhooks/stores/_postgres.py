"""PostgresDeliveryStore and AsyncPostgresDeliveryStore: leases in PostgreSQL, for a fleet.

Owns the connection pools (psycopg 3 and psycopg_pool, bounded, every call with a deadline);
the SQL and the decisions are ``_sql.SqlLogic``'s, the same plans the SQLite store runs. The two
classes differ only in how a plan's queries are executed. Imports psycopg
(``pip install 'bpcpay[postgres]'``) when a store is constructed, never at import time.
"""

from __future__ import annotations

import weakref
from typing import TYPE_CHECKING, Any, Final, TypeVar

from ..._exceptions import InvalidArgumentError
from .._effects import Plan, drive, drive_async
from ._base import (
    DEFAULT_LEASE,
    DEFAULT_RETENTION,
    DEFAULT_STORE_TIMEOUT,
    AsyncPlanStore,
    PlanStore,
    check_identifier,
)
from ._pooled import PooledStore
from ._sql import DEFAULT_TABLE, Query, SqlLogic

if TYPE_CHECKING:
    import psycopg_pool

__all__ = ["AsyncPostgresDeliveryStore", "PostgresDeliveryStore"]

DEFAULT_MAX_CONNECTIONS: Final = 4
T = TypeVar("T")
#: An event loop's pool, and the connections it opened (to close what it leaves).
_LoopPool = tuple["psycopg_pool.AsyncConnectionPool[Any]", "weakref.WeakSet[Any]"]


class _PostgresStore(PooledStore):
    """What both PostgreSQL stores share: the options, the SQL plans and the pool's settings.

    The arguments are documented on :class:`PostgresDeliveryStore`.
    """

    def __init__(
        self,
        dsn: str,
        *,
        table: str = DEFAULT_TABLE,
        lease: float = DEFAULT_LEASE,
        retention: float = DEFAULT_RETENTION,
        max_connections: int = DEFAULT_MAX_CONNECTIONS,
        timeout: float = DEFAULT_STORE_TIMEOUT,
    ) -> None:
        import psycopg_pool  # noqa: F401 - fail at construction, not on the first delivery

        if not isinstance(dsn, str) or not dsn.strip():
            raise InvalidArgumentError("dsn", "give a PostgreSQL connection string or URL")
        self._dsn = dsn
        super().__init__(
            where=dsn,
            lease=lease,
            retention=retention,
            max_connections=max_connections,
            timeout=timeout,
        )
        self._logic = SqlLogic(
            table=check_identifier("table", table),
            dialect="postgres",
            lease=self.lease,
            retention=self._retention,
        )
        self._plans = self._logic
        self._ready = False

    def __repr__(self) -> str:
        return f"<{type(self).__name__} table={self._logic.table} lease={self.lease:g}s>"

    def _pool_options(self) -> dict[str, Any]:
        timeout_ms = int(self.timeout * 1000)
        return {
            "conninfo": self._dsn,
            "min_size": 0,
            "max_size": self.max_connections,
            "timeout": self.timeout,  # the wait for a free connection
            "open": False,
            "kwargs": {
                "autocommit": True,
                "connect_timeout": max(2, int(self.timeout + 0.999)),
                "options": f"-c statement_timeout={timeout_ms} -c lock_timeout={timeout_ms}",
                "application_name": self._connection_name,
            },
        }

    def _with_setup(self, plan: Plan[T]) -> Plan[T]:
        # The table is created on first use, on the connection of the first call.
        if not self._ready:
            yield from self._logic.setup_plan()
        result = yield from plan
        self._ready = True
        return result


class PostgresDeliveryStore(_PostgresStore, PlanStore):
    """Leases in PostgreSQL with psycopg 3: for WSGI, Django, and ``handle_sync``.

    Works straight after construction: it connects on first use and creates its table (safely
    when several workers do so at once; an advisory lock serialises them). Connections are
    pooled, at most ``max_connections`` per process; connecting, waiting for a connection and
    every statement give up after ``timeout`` seconds.

    Args:
        dsn: a libpq connection string or ``postgresql://`` URL (never shown anywhere).
        table: the table name.
        lease: seconds a claim stays in flight unless its holder renews it (the router renews
            it at a third of the lease while the handlers run).
        retention: seconds a done key is remembered.
        max_connections: the pool's bound, per process.
        timeout: seconds for connecting, for each statement, and for waiting on the pool.

    Raises:
        InvalidArgumentError: an argument is invalid (the message names it, never the DSN).
        ImportError: psycopg is not installed (``pip install 'bpcpay[postgres]'``).
    """

    def _connections(self) -> psycopg_pool.ConnectionPool[Any]:
        import psycopg_pool

        def open_pool() -> psycopg_pool.ConnectionPool[Any]:
            pool: psycopg_pool.ConnectionPool[Any] = psycopg_pool.ConnectionPool(
                **self._pool_options()
            )
            pool.open(wait=False)
            return pool

        return self._pool.get(open_pool)  # type: ignore[no-any-return]

    def _execute(self, plan: Plan[T]) -> T:
        with self._connections().connection(timeout=self.timeout) as conn:

            def execute(query: Query) -> tuple[int, list[Any]]:
                with conn.cursor() as cursor:
                    cursor.execute(query.sql, query.params or None)
                    rows = cursor.fetchall() if cursor.description is not None else []
                    return cursor.rowcount, rows

            return drive(self._with_setup(plan), execute)

    def setup(self) -> None:
        """Create the table now instead of on first use (optional)."""
        self._run(self._logic.setup_plan())

    def close(self) -> None:
        """Close this process's pool (a new one opens on the next call)."""
        pool = self._pool.owned()
        if pool is not None:
            pool.close(timeout=self.timeout)
        self._pool.forget()


class AsyncPostgresDeliveryStore(_PostgresStore, AsyncPlanStore):
    """Leases in PostgreSQL with psycopg 3's asyncio API: for aiohttp and ASGI, via ``handle``.

    The same arguments, table and statements as :class:`PostgresDeliveryStore` (the two can
    share one database). It works from any event loop: each loop gets its own pool (at most
    ``max_connections``), opened on its first call and closed when the loop shuts down.
    """

    async def _connections(self) -> psycopg_pool.AsyncConnectionPool[Any]:
        import psycopg_pool

        async def open_pool() -> _LoopPool:
            opened: weakref.WeakSet[Any] = weakref.WeakSet()

            async def track(conn: Any) -> None:
                opened.add(conn)

            pool: psycopg_pool.AsyncConnectionPool[Any] = psycopg_pool.AsyncConnectionPool(
                **self._pool_options(), configure=track
            )
            await pool.open(wait=False)
            return pool, opened

        opened: _LoopPool = await self._loops.get(open_pool, self._close_pool)
        return opened[0]

    async def _close_pool(self, opened: _LoopPool) -> None:
        pool, connections = opened
        try:
            await pool.close(timeout=self.timeout)
        finally:
            # A loop's shutdown (asyncio.run) cancels every task, the pool's workers too,
            # before it finishes the generator that closes the pool: pool.close() then stops
            # at its cancelled workers before closing its connections. Close what it left.
            for conn in list(connections):
                if not conn.closed:
                    await conn.close()

    async def _execute(self, plan: Plan[T]) -> T:
        pool = await self._connections()
        async with pool.connection(timeout=self.timeout) as conn:

            async def execute(query: Query) -> tuple[int, list[Any]]:
                async with conn.cursor() as cursor:
                    await cursor.execute(query.sql, query.params or None)
                    rows = await cursor.fetchall() if cursor.description is not None else []
                    return cursor.rowcount, rows

            return await drive_async(self._with_setup(plan), execute)

    async def setup(self) -> None:
        """Create the table now instead of on first use (optional)."""
        await self._run(self._logic.setup_plan())

    async def aclose(self) -> None:
        """Close the running loop's pool (a new one opens on the next call)."""
        await self._loops.close()
