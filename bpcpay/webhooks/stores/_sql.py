"""The SQL delivery stores' logic, once: the statements and the decisions, as sans-I/O plans.

Owns the table layout, the SQL text (written once in ``:name`` style; PostgreSQL gets
``%(name)s``) and the plans that SQLite, PostgreSQL sync and PostgreSQL async all run: each plan
yields :class:`Query` effects and receives ``(rowcount, rows)``. Imports no database driver.

One table, one row per key: ``token`` is the owner of an in-flight claim, ``done`` is 0 or 1,
and ``expires_at`` (POSIX seconds, the store's clock) is when an in-flight lease lapses, or when
a done key is forgotten (``retention``). A claim is one atomic statement::

    INSERT ... ON CONFLICT (key) DO UPDATE ... WHERE expires_at <= now

which takes a new key, a lapsed lease or a forgotten key, and touches nothing else. Rows past
their expiry (plus an hour) are purged now and then, so the table stays bounded.
"""

from __future__ import annotations

import re
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
    "INSERT INTO {t} (key, token, done, expires_at) VALUES (:key, :token, 0, :expires) "
    "ON CONFLICT (key) DO UPDATE SET token = excluded.token, done = 0, "
    "expires_at = excluded.expires_at WHERE {t}.expires_at <= :now"
)
_STATE = "SELECT done, expires_at FROM {t} WHERE key = :key"
_COMPLETE = (
    "UPDATE {t} SET done = 1, token = NULL, expires_at = :forget_at "
    "WHERE key = :key AND token = :token AND done = 0"
)
_RELEASE = "DELETE FROM {t} WHERE key = :key AND token = :token AND done = 0"
_PURGE = "DELETE FROM {t} WHERE expires_at < :before"

_NAMED = re.compile(r":([a-z_]+)")


class SqlLogic:
    """The plans of a SQL store; a store mixes it in and drives the plans with its I/O.

    Args:
        table: the table name (already checked to be a plain identifier).
        dialect: ``"sqlite"`` or ``"postgres"``.
        lease: seconds a claim stays in flight.
        retention: seconds a done key is remembered.
        clock: the time function (POSIX seconds).
    """

    def __init__(
        self,
        *,
        table: str,
        dialect: str,
        lease: float,
        retention: float,
        clock: Callable[[], float],
    ) -> None:
        self.table = table
        self.lease = lease
        self.retention = retention
        self._clock = clock
        self._next_purge = 0.0

        def sql(template: str) -> str:
            text = template.format(t=table)
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

    def setup_plan(self) -> Generator[Query, Any, None]:
        """Create the table and its index if they do not exist (safe to run concurrently)."""
        for statement in self._setup:
            yield Query(statement)

    def claim_plan(self, key: str) -> Generator[Query, Any, Claim]:
        """Claim ``key``: one atomic upsert, and a read of the row when it did not take."""
        now = self._clock()
        if now >= self._next_purge:
            self._next_purge = now + PURGE_EVERY
            yield Query(self._sql["purge"], {"before": now - PURGE_GRACE})
        for _ in range(_CLAIM_ATTEMPTS):
            token = new_token()
            params = {"key": key, "token": token, "expires": now + self.lease, "now": now}
            taken, _rows = yield Query(self._sql["claim"], params)
            if taken:
                return Claim.claimed(token)
            _count, rows = yield Query(self._sql["state"], {"key": key})
            if rows:
                done, expires_at = rows[0]
                if expires_at > now:
                    return Claim.done() if done else Claim.in_flight(float(expires_at))
            # The row lapsed or vanished between the two statements: try to take it again.
            now = self._clock()
        return Claim.in_flight(now)

    def complete_plan(self, key: str, token: str) -> Generator[Query, Any, bool]:
        """Mark ``key`` done if ``token`` still owns it."""
        params = {"key": key, "token": token, "forget_at": self._clock() + self.retention}
        count, _rows = yield Query(self._sql["complete"], params)
        return bool(count)

    def release_plan(self, key: str, token: str) -> Generator[Query, Any, bool]:
        """Forget ``key`` if ``token`` still owns it."""
        count, _rows = yield Query(self._sql["release"], {"key": key, "token": token})
        return bool(count)


_STATEMENTS = {
    "claim": _CLAIM,
    "state": _STATE,
    "complete": _COMPLETE,
    "release": _RELEASE,
    "purge": _PURGE,
}
