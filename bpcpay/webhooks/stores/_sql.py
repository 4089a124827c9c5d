"""The SQL delivery stores' logic, once: the statements and the decisions, as sans-I/O plans.

Owns the table layout, the SQL text (written once in ``:name`` style with ``{now}`` for the
store's clock; PostgreSQL gets ``%(name)s``) and the plans that SQLite, PostgreSQL sync and
PostgreSQL async all run: each plan yields :class:`Query` effects and receives
``(rowcount, rows)``. Imports no database driver.

One table, one row per key: ``token`` is the owner of an in-flight claim, ``done`` is 0 or 1,
and ``expires_at`` (POSIX seconds on the store's clock) is when an in-flight lease lapses, or
when a done key is forgotten (``retention``). A claim is one atomic statement::

    INSERT ... ON CONFLICT (key) DO UPDATE ... WHERE expires_at <= {now}

which takes a new key, a lapsed lease or a forgotten key, and touches nothing else. Rows past
their expiry (plus an hour) are purged now and then, so the table stays bounded.

Whose clock: on PostgreSQL ``{now}`` is ``clock_timestamp()``, read by the server inside each
statement, so that every time comparison (the purge's included) is made on the database's one
clock, whatever the clocks of the hosts that send the statements say. SQLite serves the
processes of one host, which share that host's clock: there ``{now}`` is a parameter.
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable, Generator
from typing import Any, Final

import attrs

from ._base import Claim, new_token

__all__ = ["DEFAULT_TABLE", "Query", "SqlLogic"]

#: The table both SQL stores (SQLite and PostgreSQL) keep their rows in unless told otherwise.
DEFAULT_TABLE: Final = "bpcpay_webhook_deliveries"

PURGE_EVERY: Final = 60.0
PURGE_GRACE: Final = 3600.0
_CLAIM_ATTEMPTS: Final = 3


@attrs.frozen
class Query:
    """One statement to execute; the driver answers ``(rowcount, rows)``."""

    sql: str
    params: dict[str, Any] = attrs.field(factory=dict)


_CREATE = (
    "CREATE TABLE IF NOT EXISTS {t} (key TEXT PRIMARY KEY, token TEXT, "
    "done SMALLINT NOT NULL DEFAULT 0, expires_at DOUBLE PRECISION NOT NULL)",
    "CREATE INDEX IF NOT EXISTS {t}_expires_at ON {t} (expires_at)",
)
_CLAIM = (
    "INSERT INTO {t} (key, token, done, expires_at) VALUES (:key, :token, 0, {now} + :lease) "
    "ON CONFLICT (key) DO UPDATE SET token = excluded.token, done = 0, "
    "expires_at = excluded.expires_at WHERE {t}.expires_at <= {now}"
)
_STATE = "SELECT done, expires_at, expires_at - {now} FROM {t} WHERE key = :key"
_RENEW = (
    "UPDATE {t} SET expires_at = {now} + :lease "
    "WHERE key = :key AND token = :token AND done = 0 AND expires_at > {now}"
)
# Done, unless another token holds the row: a lapsed lease nobody took is still the caller's,
# and a row purged meanwhile (or released by a later holder whose handler failed) is nobody's.
_COMPLETE = (
    "INSERT INTO {t} (key, token, done, expires_at) VALUES (:key, NULL, 1, {now} + :retention) "
    "ON CONFLICT (key) DO UPDATE SET done = 1, token = NULL, expires_at = excluded.expires_at "
    "WHERE {t}.token = :token AND {t}.done = 0"
)
_RELEASE = "DELETE FROM {t} WHERE key = :key AND token = :token AND done = 0"
_PURGE = "DELETE FROM {t} WHERE expires_at < {now} - :grace"

#: The store's clock in each dialect: PostgreSQL's, read inside the statement; SQLite's host's.
_NOW: Final = {
    "postgres": "CAST(EXTRACT(EPOCH FROM clock_timestamp()) AS DOUBLE PRECISION)",
    "sqlite": ":now",
}

_NAMED = re.compile(r":([a-z_]+)")


class SqlLogic:
    """The plans of a SQL store; a store mixes it in and drives the plans with its I/O.

    Args:
        table: the table name (already checked to be a plain identifier).
        dialect: ``"sqlite"`` or ``"postgres"``.
        lease: seconds a claim stays in flight unless renewed.
        retention: seconds a done key is remembered.
        clock: SQLite's time function (POSIX seconds, the host's); PostgreSQL takes None: its
            statements read the server's clock.
    """

    def __init__(
        self,
        *,
        table: str,
        dialect: str,
        lease: float,
        retention: float,
        clock: Callable[[], float] | None = None,
    ) -> None:
        self.table = table
        self.lease = lease
        self.retention = retention
        self._clock = clock
        # How often to purge is this process's business (no store time is compared with it).
        self._tick = clock or time.monotonic
        self._next_purge = float("-inf")

        def sql(template: str) -> str:
            text = template.format(t=table, now=_NOW[dialect])
            return _NAMED.sub(r"%(\1)s", text) if dialect == "postgres" else text

        self._sql = {name: sql(text) for name, text in _STATEMENTS.items()}
        create = [sql(text) for text in _CREATE]
        if dialect == "postgres":
            # One simple query runs as one transaction: the advisory lock serialises four
            # workers creating the table at once (CREATE ... IF NOT EXISTS alone can race on
            # PostgreSQL's catalog and fail with a unique violation).
            lock = f"SELECT pg_advisory_xact_lock(hashtext('bpcpay:{table}'))"
            self._setup: list[str] = ["; ".join([lock, *create])]
        else:
            self._setup = ["PRAGMA journal_mode=WAL", *create]

    def _query(self, name: str, **params: Any) -> Query:
        if self._clock is not None:
            params["now"] = self._clock()
        return Query(self._sql[name], params)

    def setup_plan(self) -> Generator[Query, Any, None]:
        """Create the table and its index if they do not exist (safe to run concurrently)."""
        for statement in self._setup:
            yield Query(statement)

    def claim_plan(self, key: str) -> Generator[Query, Any, Claim]:
        """Claim ``key``: one atomic upsert, and a read of the row when it did not take."""
        tick = self._tick()
        if tick >= self._next_purge:
            self._next_purge = tick + PURGE_EVERY
            yield self._query("purge", grace=PURGE_GRACE)
        until = remaining = 0.0
        for _ in range(_CLAIM_ATTEMPTS):
            token = new_token()
            taken, _rows = yield self._query("claim", key=key, token=token, lease=self.lease)
            if taken:
                return Claim.claimed(token)
            _count, rows = yield self._query("state", key=key)
            if rows:
                done, until, remaining = rows[0]
                if remaining > 0:
                    return Claim.done() if done else Claim.in_flight(float(until), remaining)
            # The row lapsed or vanished between the two statements: try to take it again.
        return Claim.in_flight(float(until), max(0.0, float(remaining)))

    def renew_plan(self, key: str, token: str) -> Generator[Query, Any, bool]:
        """Extend ``token``'s live lease on ``key``."""
        count, _rows = yield self._query("renew", key=key, token=token, lease=self.lease)
        return bool(count)

    def complete_plan(self, key: str, token: str) -> Generator[Query, Any, bool]:
        """Mark ``key`` done unless another token holds it."""
        query = self._query("complete", key=key, token=token, retention=self.retention)
        count, _rows = yield query
        return bool(count)

    def release_plan(self, key: str, token: str) -> Generator[Query, Any, bool]:
        """Forget ``key`` if ``token`` still owns it."""
        count, _rows = yield self._query("release", key=key, token=token)
        return bool(count)


_STATEMENTS = {
    "claim": _CLAIM,
    "state": _STATE,
    "renew": _RENEW,
    "complete": _COMPLETE,
    "release": _RELEASE,
    "purge": _PURGE,
}
