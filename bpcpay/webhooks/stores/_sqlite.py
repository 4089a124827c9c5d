"""SQLiteDeliveryStore: leases in a SQLite file, shared by every worker process on one host.

Owns the connection handling (one connection per process, WAL mode, a busy timeout, a lock
with a deadline); the SQL and the decisions are ``_sql.SqlLogic``'s. Imports the stdlib's
sqlite3 only.

Its clock is the host's (``time.time`` in each process): one SQLite file serves the processes
of one host, and they share that clock. Never put the file on a network share for several hosts
(SQLite's locking is not safe there, and each host would bring its own clock).
"""

from __future__ import annotations

import os
import sqlite3
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

from ..._exceptions import InvalidArgumentError
from .._effects import Plan, drive
from ._base import (
    DEFAULT_LEASE,
    DEFAULT_RETENTION,
    DEFAULT_STORE_TIMEOUT,
    PlanStore,
    check_identifier,
    check_seconds,
)
from ._sql import DEFAULT_TABLE, Query, SqlLogic

__all__ = ["SQLiteDeliveryStore"]

T = TypeVar("T")


class SQLiteDeliveryStore(PlanStore):
    """Leases in a SQLite database file: for the processes of one host (gunicorn workers).

    Works straight after construction: the file, the table and its index are created on first
    use (safely when several workers start at once). Each process keeps one connection (opened
    again after a fork); a call waits at most ``timeout`` seconds for the database.

    Args:
        path: the database file (created if missing). Not ``:memory:``: that is one process's.
        table: the table name.
        lease: seconds a claim stays in flight unless its holder renews it (the router renews
            it at a third of the lease while the handlers run).
        retention: seconds a done key is remembered (older deliveries would run again).
        timeout: seconds one call may wait for the lock or a busy database.

    Raises:
        InvalidArgumentError: an argument is invalid (the message names it).
    """

    def __init__(
        self,
        path: str | os.PathLike[str],
        *,
        table: str = DEFAULT_TABLE,
        lease: float = DEFAULT_LEASE,
        retention: float = DEFAULT_RETENTION,
        timeout: float = DEFAULT_STORE_TIMEOUT,
        _clock: Callable[[], float] = time.time,
    ) -> None:
        if not isinstance(path, (str, os.PathLike)) or str(path) in ("", ":memory:"):
            raise InvalidArgumentError("path", "give the path of a database file")
        self.path = Path(path)
        self.lease = check_seconds("lease", lease)
        self.timeout = check_seconds("timeout", timeout)
        self._plans = self._logic = SqlLogic(
            table=check_identifier("table", table),
            dialect="sqlite",
            lease=self.lease,
            retention=check_seconds("retention", retention),
            clock=_clock,
        )
        self._lock = threading.Lock()
        self._conn: sqlite3.Connection | None = None
        self._pid = 0

    def __repr__(self) -> str:
        return f"<SQLiteDeliveryStore {self.path.name} lease={self.lease:g}s>"

    def _connection(self) -> sqlite3.Connection:
        if self._conn is None or self._pid != os.getpid():
            # After a fork the parent's connection must not be used (nor closed) here.
            conn = sqlite3.connect(
                self.path, timeout=self.timeout, isolation_level=None, check_same_thread=False
            )
            try:
                self._set_up(conn)
            except BaseException:
                conn.close()
                raise
            self._conn, self._pid = conn, os.getpid()
        return self._conn

    def _set_up(self, conn: sqlite3.Connection) -> None:
        # Switching to WAL takes a lock SQLite's busy timeout does not wait for, so workers
        # starting at once retry, with a short growing pause, until the deadline.
        deadline = time.monotonic() + self.timeout
        pause = 0.005
        while True:
            try:
                drive(self._logic.setup_plan(), lambda q: _run_query(conn, q))
                return
            except sqlite3.OperationalError as exc:
                if "locked" not in str(exc) or time.monotonic() + pause > deadline:
                    raise
            time.sleep(pause)
            pause = min(pause * 2, 0.2)

    def _execute(self, plan: Plan[T]) -> T:
        if not self._lock.acquire(timeout=self.timeout):
            plan.close()
            raise TimeoutError(f"SQLiteDeliveryStore: the connection stayed busy {self.timeout}s")
        try:
            conn = self._connection()
            return drive(plan, lambda q: _run_query(conn, q))
        finally:
            self._lock.release()

    def setup(self) -> None:
        """Create the table now instead of on first use (optional)."""
        with self._lock:
            self._connection()  # a new connection sets the database up

    def close(self) -> None:
        """Close this process's connection (it reopens on the next call)."""
        with self._lock:
            if self._conn is not None and self._pid == os.getpid():
                self._conn.close()
            self._conn = None


def _run_query(conn: sqlite3.Connection, query: Query) -> tuple[int, list[Any]]:
    cursor = conn.execute(query.sql, query.params)
    try:
        rows = cursor.fetchall()
        return cursor.rowcount, rows
    finally:
        cursor.close()
