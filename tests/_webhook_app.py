"""The shop that the real-server tests run under gunicorn and uvicorn: a router, a store, and a
side effect counted in the database.

Configured from the environment, so every worker process builds the same shop:

- ``BPCPAY_TEST_SECRET``: the webhook secret.
- ``BPCPAY_TEST_STORE``: ``sqlite:<path>``, ``redis:<url>`` or ``postgres:<dsn>``.
- ``BPCPAY_TEST_LEASE``, ``BPCPAY_TEST_IN_FLIGHT_TIMEOUT``: seconds; ``default`` for both
  builds the shop with the SDK's defaults only: ``WebhookRouter(secret, store=...)``, the store
  given nothing but its path, URL or DSN (its default table or prefix, lease and timeouts).
- ``BPCPAY_TEST_NAMESPACE``: the Redis prefix / PostgreSQL table of this run (and the name of
  the side effects' table or list).
- ``BPCPAY_TEST_BLOCK_DIR``: a directory; a file ``<session id>.block`` there makes the first
  attempt at that session rename it to ``<session id>.blocked.<pid>`` and block (up to 60 s),
  so that the test can kill that very worker.

The side effect of every handled event is one row (or list entry) per run, in the store's own
engine, so "exactly once" is counted where the shop would count it. ``application`` is the WSGI
app (sync store, ``handle_sync``), ``asgi_app`` the ASGI app (async store where one exists,
``handle``, the plain handler in a worker thread).
"""

from __future__ import annotations

import os
import sqlite3
import threading
import time
from pathlib import Path
from typing import Any

from bpcpay.contrib.asgi import WebhookASGIApp
from bpcpay.contrib.wsgi import WebhookWSGIApp
from bpcpay.models import Event
from bpcpay.webhooks import (
    AsyncPostgresDeliveryStore,
    AsyncRedisDeliveryStore,
    PostgresDeliveryStore,
    RedisDeliveryStore,
    SQLiteDeliveryStore,
    WebhookRouter,
)

BLOCK_SECONDS = 60.0


class Effects:
    """Counts handler runs in the store's engine: a table, or a Redis list."""

    def __init__(self, spec: str, namespace: str) -> None:
        self.kind, _, self.target = spec.partition(":")
        self.name = f"{namespace}_effects"
        self._lock = threading.Lock()
        self._conn: Any = None

    def _connection(self) -> Any:
        if self._conn is None:
            if self.kind == "sqlite":
                conn = sqlite3.connect(
                    self.target, timeout=30, isolation_level=None, check_same_thread=False
                )
                conn.execute(f"CREATE TABLE IF NOT EXISTS {self.name} (session TEXT, pid INT)")
            elif self.kind == "redis":
                import redis

                conn = redis.Redis.from_url(self.target, socket_timeout=10)
            else:
                import psycopg

                conn = psycopg.connect(self.target, autocommit=True, connect_timeout=10)
                # One simple query is one transaction. A transaction-level lock is held until
                # it commits: a session lock released inside it (pg_advisory_unlock) let the
                # next worker in before the table was committed, and its CREATE ... IF NOT
                # EXISTS then failed with a unique violation on PostgreSQL's catalog.
                conn.execute(
                    "SELECT pg_advisory_xact_lock(42); "
                    f"CREATE TABLE IF NOT EXISTS {self.name} (session TEXT, pid INT)"
                )
            self._conn = conn
        return self._conn

    def record(self, session_id: str) -> None:
        with self._lock:
            conn = self._connection()
            if self.kind == "redis":
                conn.rpush(self.name, session_id)
            elif self.kind == "sqlite":
                conn.execute(f"INSERT INTO {self.name} VALUES (?, ?)", (session_id, os.getpid()))  # noqa: S608
            else:
                conn.execute(f"INSERT INTO {self.name} VALUES (%s, %s)", (session_id, os.getpid()))  # noqa: S608

    def counts(self) -> dict[str, int]:
        with self._lock:
            conn = self._connection()
            if self.kind == "redis":
                ids = [item.decode() for item in conn.lrange(self.name, 0, -1)]
            else:
                rows = conn.execute(f"SELECT session FROM {self.name}").fetchall()  # noqa: S608
                ids = [row[0] for row in rows]
        out: dict[str, int] = {}
        for session_id in ids:
            out[session_id] = out.get(session_id, 0) + 1
        return out

    def close(self) -> None:
        if self._conn is not None:
            self._conn.close()
            self._conn = None


def block_first_attempt(block_dir: str, session_id: str) -> None:
    """Block this attempt (so the test can kill its worker) if the test asked for it."""
    flag = Path(block_dir) / f"{session_id}.block"
    try:
        # Atomic: exactly one attempt wins the rename, and its name tells the test our pid.
        flag.rename(flag.with_name(f"{session_id}.blocked.{os.getpid()}"))
    except FileNotFoundError:
        return
    time.sleep(BLOCK_SECONDS)


def build_router(
    *,
    secret: str,
    store_spec: str,
    namespace: str,
    lease: float | None,
    in_flight_timeout: float | None,
    block_dir: str,
    use_async_store: bool,
) -> tuple[WebhookRouter, Effects]:
    kind, _, target = store_spec.partition(":")
    store: Any
    if lease is None:
        store = _default_store(kind, target, use_async_store)
    elif kind == "sqlite":
        store = SQLiteDeliveryStore(target, table=namespace, lease=lease, timeout=30)
    elif kind == "redis":
        cls: Any = AsyncRedisDeliveryStore if use_async_store else RedisDeliveryStore
        store = cls(target, prefix=namespace + ":", lease=lease, max_connections=16)
    else:
        cls = AsyncPostgresDeliveryStore if use_async_store else PostgresDeliveryStore
        store = cls(target, table=namespace, lease=lease, max_connections=4, timeout=30)
    if in_flight_timeout is None:
        router = WebhookRouter(secret, store=store)
    else:
        router = WebhookRouter(secret, store=store, in_flight_timeout=in_flight_timeout)
    effects = Effects(store_spec, namespace)

    @router.on("session.completed")
    def paid(event: Event) -> None:
        session_id = event.data.object.id  # type: ignore[union-attr]
        block_first_attempt(block_dir, session_id)
        effects.record(session_id)

    return router, effects


def _default_store(kind: str, target: str, use_async_store: bool) -> Any:
    """The store as a shop writes it from the docs: its path, URL or DSN, nothing else."""
    if kind == "sqlite":
        return SQLiteDeliveryStore(target)
    if kind == "redis":
        return (AsyncRedisDeliveryStore if use_async_store else RedisDeliveryStore)(target)
    return (AsyncPostgresDeliveryStore if use_async_store else PostgresDeliveryStore)(target)


def _seconds(name: str) -> float | None:
    value = os.environ[name]
    return None if value == "default" else float(value)


def _from_env(use_async_store: bool) -> WebhookRouter:
    router, _ = build_router(
        secret=os.environ["BPCPAY_TEST_SECRET"],
        store_spec=os.environ["BPCPAY_TEST_STORE"],
        namespace=os.environ["BPCPAY_TEST_NAMESPACE"],
        lease=_seconds("BPCPAY_TEST_LEASE"),
        in_flight_timeout=_seconds("BPCPAY_TEST_IN_FLIGHT_TIMEOUT"),
        block_dir=os.environ["BPCPAY_TEST_BLOCK_DIR"],
        use_async_store=use_async_store,
    )
    return router


def __getattr__(name: str) -> Any:
    # Built on first access, in the worker that serves: gunicorn asks for "application",
    # uvicorn for "asgi_app"; importing this module for its helpers builds neither.
    if name == "application":
        return WebhookWSGIApp(_from_env(use_async_store=False))
    if name == "asgi_app":
        return WebhookASGIApp(_from_env(use_async_store=True))
    raise AttributeError(name)
