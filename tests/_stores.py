"""Every delivery store behind one face, for the store contract and the router tests.

``STORE_KINDS`` names each store (sync and async variants apart); :func:`open_store` builds one
isolated from every other test (its own SQLite file, Redis prefix or PostgreSQL table), and
:class:`Driven` calls an async store's methods on a private event loop so that one sync test
body checks every store alike. The one-host stores (in-memory, SQLite) can run on a fake clock;
Redis and PostgreSQL keep their leases on their own clocks, which no test can move: tests that
need a lease to lapse there use a short lease and real time.
"""

from __future__ import annotations

import asyncio
import contextlib
import inspect
import itertools
import os
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from _servers import LOOPBACK, free_port, require_binary, stop, wait_for_port

from bpcpay.webhooks import Claim

STORE_KINDS = ["memory", "sqlite", "redis", "redis-async", "postgres", "postgres-async"]
SHARED_KINDS = ["sqlite", "redis", "postgres"]
#: The stores whose clock is the host's, which a test may replace with a FakeClock.
LOCAL_CLOCK_KINDS = ["memory", "sqlite"]
_names = itertools.count()


class FakeClock:
    """A clock that moves only when told to (or when a fake sleep sleeps)."""

    def __init__(self, start: float = 1_700_000_000.0) -> None:
        self.now = start
        self.slept: list[float] = []

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds

    def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)
        self.now += seconds


def unique(prefix: str) -> str:
    return f"{prefix}_{os.getpid()}_{next(_names)}"


def store_options(kind: str, request: pytest.FixtureRequest, tmp_path: Path) -> dict[str, Any]:
    """Constructor arguments isolating one test's store (servers come from fixtures)."""
    base = kind.removesuffix("-async")
    if base == "sqlite":
        return {"path": tmp_path / "deliveries.sqlite3"}
    if base == "redis":
        server = request.getfixturevalue("redis_server")
        return {"url": server.url, "prefix": unique("test") + ":"}
    if base == "postgres":
        server = request.getfixturevalue("postgres_server")
        return {"dsn": server.dsn, "table": unique("deliveries")}
    return {}


def store_class(kind: str) -> Any:
    import bpcpay.webhooks as w

    return {
        "memory": w.InMemoryDeliveryStore,
        "sqlite": w.SQLiteDeliveryStore,
        "redis": w.RedisDeliveryStore,
        "redis-async": w.AsyncRedisDeliveryStore,
        "postgres": w.PostgresDeliveryStore,
        "postgres-async": w.AsyncPostgresDeliveryStore,
    }[kind]


def build(kind: str, options: dict[str, Any], **extra: Any) -> Any:
    """A store of ``kind``; a ``_clock`` in ``extra`` goes to the one-host stores only (Redis
    and PostgreSQL read their own)."""
    options = dict(options)
    if kind not in LOCAL_CLOCK_KINDS:
        extra.pop("_clock", None)
    cls = store_class(kind)
    if kind == "memory":
        return cls(**extra)
    first = options.pop("path", None) or options.pop("url", None) or options.pop("dsn")
    return cls(first, **options, **extra)


class Driven:
    """A store whose methods are plain calls, whatever the store (async ones run on a loop)."""

    def __init__(self, store: Any, options: dict[str, Any] | None = None) -> None:
        self.store = store
        #: The constructor arguments it was built with (where to find its rows).
        self.options = options or {}
        self.loop = asyncio.new_event_loop()

    def call(self, value: Any) -> Any:
        if inspect.isawaitable(value):
            return self.loop.run_until_complete(value)
        return value

    def claim(self, key: str) -> Claim:
        claim: Claim = self.call(self.store.claim(key))
        return claim

    def complete(self, key: str, token: str) -> bool:
        return bool(self.call(self.store.complete(key, token)))

    def release(self, key: str, token: str) -> bool:
        return bool(self.call(self.store.release(key, token)))

    def renew(self, key: str, token: str) -> bool:
        return bool(self.call(self.store.renew(key, token)))

    def close(self) -> None:
        closer = getattr(self.store, "aclose", None) or getattr(self.store, "close", None)
        if closer is not None:
            self.call(closer())
        self.loop.run_until_complete(self.loop.shutdown_default_executor())
        self.loop.close()


@contextlib.contextmanager
def open_store(
    kind: str, request: pytest.FixtureRequest, tmp_path: Path, clock: FakeClock, **extra: Any
) -> Iterator[Driven]:
    options = store_options(kind, request, tmp_path)
    driven = Driven(build(kind, options, _clock=clock, **extra), options)
    try:
        yield driven
    finally:
        driven.close()


def counting_router(
    secret: str, store: Any, clock: FakeClock, *, sleep: Any = None, **options: Any
) -> tuple[Any, list[int]]:
    """A router on ``clock`` (its sleeps move it) whose one handler counts its runs."""
    from bpcpay.webhooks import WebhookRouter

    router = WebhookRouter(
        secret, store=store, _clock=clock, _wall=clock, _sleep=sleep or clock.sleep, **options
    )
    runs: list[int] = []
    router.add_handler("*", lambda event: runs.append(1))
    return router, runs


def open_files(path: Path) -> int:
    """How many file descriptors of this process point at ``path`` (Linux ``/proc``): the
    operating system's view of the connections a SQLite store holds open."""
    target = str(Path(path).resolve())
    count = 0
    for fd in Path("/proc/self/fd").iterdir():
        with contextlib.suppress(OSError):
            count += os.readlink(fd) == target
    return count


class PrivateRedis:
    """A redis-server of one test's own (its options, its directory), which can be restarted
    on the same port and directory: what a restart of the shop's Redis looks like."""

    def __init__(self, workdir: Path, options: tuple[str, ...], config: Path | None) -> None:
        self.binary = require_binary("redis-server", "redis-server")
        self.workdir = workdir
        self.options = options
        self.config = config
        self.port = free_port()
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"redis://{LOOPBACK}:{self.port}/0"

    def start(self) -> None:
        command = [self.binary, *([str(self.config)] if self.config else [])]  # goes first
        command += ["--bind", LOOPBACK, "--port", str(self.port)]
        command += ["--dir", str(self.workdir), "--save", "", *self.options]
        self.process = subprocess.Popen(
            command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
        )
        assert wait_for_port(self.port, self.process, time.monotonic() + 30), "redis-server"

    def stop(self) -> None:
        if self.process is not None:
            stop(self.process)  # SIGTERM: redis-server flushes its append-only file first
            self.process = None


@contextlib.contextmanager
def private_redis(
    workdir: Path, *options: str, config: Path | None = None
) -> Iterator[PrivateRedis]:
    """Run a redis-server with ``options`` (``--appendonly yes`` ...) and the ``config`` file
    (when given) until the block ends."""
    server = PrivateRedis(workdir, options, config)
    server.start()
    try:
        yield server
    finally:
        server.stop()
