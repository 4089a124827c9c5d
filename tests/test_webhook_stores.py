"""The delivery store contract, one suite for every store, on real Redis and PostgreSQL.

Leases lapse on each store's own clock: Redis's and PostgreSQL's cannot be moved by a test, so
the tests where a lease must lapse use a one-second lease and real time, on every store alike.
The servers are started by ``_servers.py``.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import socket
import sqlite3
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest
from _servers import LOOPBACK
from _stores import (
    SHARED_KINDS,
    STORE_KINDS,
    Driven,
    FakeClock,
    build,
    open_files,
    open_store,
    private_redis,
    store_class,
    store_options,
)

from bpcpay import InvalidArgumentError
from bpcpay.webhooks import (
    DEFAULT_LEASE,
    AsyncDeliveryStore,
    Claim,
    ClaimStatus,
    DeliveryStore,
    InMemoryDeliveryStore,
    RedisDeliveryStore,
    SQLiteDeliveryStore,
)

LEASE = 30.0
SHORT = 1.0  # the shortest lease a router supports: real time, on every store's own clock


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture(params=STORE_KINDS)
def store(request: pytest.FixtureRequest, tmp_path: Path, clock: FakeClock) -> Iterator[Driven]:
    with open_store(request.param, request, tmp_path, clock, lease=LEASE) as driven:
        yield driven


def test_a_new_key_is_claimed_then_done_after_complete(store: Driven) -> None:
    first = store.claim("evt:a")
    assert first.status == ClaimStatus.CLAIMED
    assert first.token
    assert store.complete("evt:a", first.token) is True
    assert store.claim("evt:a") == Claim.done()
    assert store.claim("evt:b").status == ClaimStatus.CLAIMED  # keys are independent


def test_only_the_owner_releases_and_a_release_lets_the_next_claim_in(store: Driven) -> None:
    first = store.claim("evt:a")
    assert first.token
    assert store.release("evt:a", "not-the-owner") is False
    assert store.claim("evt:a").status == ClaimStatus.IN_FLIGHT
    assert store.complete("evt:a", "not-the-owner") is False
    assert store.release("evt:a", first.token) is True
    assert store.release("evt:a", first.token) is False  # already gone
    second = store.claim("evt:a")
    assert second.status == ClaimStatus.CLAIMED
    assert second.token
    assert store.complete("evt:a", second.token)
    assert store.release("evt:a", second.token) is False  # a done key is never released


def test_concurrent_claims_of_one_key_have_exactly_one_winner(store: Driven) -> None:
    if isinstance(store.store, AsyncDeliveryStore) and asyncio.iscoroutinefunction(
        store.store.claim
    ):

        async def claims() -> list[Claim]:
            return list(await asyncio.gather(*(store.store.claim("evt:race") for _ in range(16))))

        results = store.loop.run_until_complete(claims())
    else:
        barrier = threading.Barrier(16)
        results = []
        lock = threading.Lock()

        def claim() -> None:
            barrier.wait(10)
            outcome = store.claim("evt:race")
            with lock:
                results.append(outcome)

        threads = [threading.Thread(target=claim) for _ in range(16)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(30)
    statuses = sorted(r.status for r in results)
    assert statuses == [ClaimStatus.CLAIMED] + [ClaimStatus.IN_FLIGHT] * 15


def test_stores_match_their_protocol() -> None:
    assert isinstance(InMemoryDeliveryStore(), DeliveryStore)
    assert InMemoryDeliveryStore().lease == DEFAULT_LEASE
    assert "token" not in repr(Claim.claimed("secret-token"))


@pytest.mark.parametrize("kind", STORE_KINDS)
@pytest.mark.parametrize("lease", [0, -1, True, float("nan"), float("inf"), "300", None])
def test_lease_must_be_positive_seconds(
    kind: str, lease: Any, request: pytest.FixtureRequest, tmp_path: Path
) -> None:
    options = store_options(kind, request, tmp_path)
    with pytest.raises(InvalidArgumentError, match="lease") as info:
        build(kind, options, lease=lease)
    assert info.value.argument == "lease"
    assert isinstance(info.value, ValueError)


@pytest.mark.parametrize("kind", ["sqlite", "postgres", "postgres-async"])
@pytest.mark.parametrize("table", ["", "1abc", "a b", "t; DROP TABLE x", "x" * 70, 5])
def test_table_must_be_a_plain_sql_name(
    kind: str, table: Any, request: pytest.FixtureRequest, tmp_path: Path
) -> None:
    options = {**store_options(kind, request, tmp_path), "table": table}
    with pytest.raises(InvalidArgumentError, match="table"):
        build(kind, options)


@pytest.mark.parametrize("kind", ["redis", "redis-async"])
def test_redis_url_is_checked_and_never_echoed(kind: str) -> None:
    secret_url = "http://:pw-not-real-4417@example.test:6379/0"
    with pytest.raises(InvalidArgumentError, match="url") as info:
        store_class(kind)(secret_url)
    assert "pw-not-real-4417" not in str(info.value)
    store = store_class(kind)("redis://:pw-not-real-4417@127.0.0.1:1/0", max_connections=2)
    assert "pw-not-real-4417" not in repr(store)
    with pytest.raises(InvalidArgumentError, match="max_connections"):
        store_class(kind)("redis://127.0.0.1:1/0", max_connections=0)
    with pytest.raises(InvalidArgumentError, match="prefix"):
        store_class(kind)("redis://127.0.0.1:1/0", prefix=None)


@pytest.mark.parametrize("kind", ["postgres", "postgres-async"])
def test_postgres_dsn_is_checked_and_never_echoed(kind: str) -> None:
    with pytest.raises(InvalidArgumentError, match="dsn"):
        store_class(kind)("  ")
    store = store_class(kind)("postgresql://shop:pw-not-real-4417@127.0.0.1:1/shop")
    assert "pw-not-real-4417" not in repr(store)
    assert "table=bpcpay_webhook_deliveries" in repr(store)


@pytest.mark.parametrize("path", ["", ":memory:", None])
def test_sqlite_needs_a_file(path: Any) -> None:
    with pytest.raises(InvalidArgumentError, match="path"):
        SQLiteDeliveryStore(path)


# --- retention: done keys are forgotten, and the table stays bounded ---------------------------


def test_done_keys_are_forgotten_after_retention_and_old_rows_purged(
    request: pytest.FixtureRequest, tmp_path: Path
) -> None:
    def check(store: Driven) -> tuple[Any, ...]:
        for index in range(5):
            claim = store.claim(f"old:{index}")
            assert claim.token
            store.complete(f"old:{index}", claim.token)
        store.claim("lapsed")  # a claim whose worker died: never completed
        seen: list[Any] = [store.claim("old:0")]
        time.sleep(SHORT + 0.2)
        seen.append(store.claim("old:0").status)  # forgotten: runs again
        # Rows an hour past their expiry (aged on the store's own clock) are purged by the
        # first claim of a store that starts.
        _age_rows(store, 3700)
        kind = "sqlite" if isinstance(store.store, SQLiteDeliveryStore) else "postgres"
        fresh = Driven(build(kind, store.options, lease=SHORT), store.options)
        try:
            fresh.claim("new")
        finally:
            fresh.close()
        return (*seen, _row_keys(store))

    kinds = ["sqlite", "postgres", "postgres-async"]
    outcomes = on_every_store(request, tmp_path, check, kinds, retention=SHORT)
    assert outcomes == dict.fromkeys(kinds, (Claim.done(), "claimed", ["new"]))


def _age_rows(store: Driven, seconds: float) -> None:
    """Move every row's expiry ``seconds`` into the past."""
    inner: Any = store.store
    table = store.options.get("table", "bpcpay_webhook_deliveries")
    sql = f"UPDATE {table} SET expires_at = expires_at - {seconds}"  # noqa: S608
    if isinstance(inner, SQLiteDeliveryStore):
        with contextlib.closing(sqlite3.connect(inner.path, isolation_level=None)) as conn:
            conn.execute(sql)
        return
    import psycopg

    with psycopg.connect(store.options["dsn"], autocommit=True) as conn:
        conn.execute(sql)  # type: ignore[arg-type]


def _row_keys(store: Driven) -> list[str]:
    """The keys in the store's table, read over a connection of the test's own."""
    inner: Any = store.store
    table = store.options.get("table", "bpcpay_webhook_deliveries")
    if isinstance(inner, SQLiteDeliveryStore):
        # sqlite3's own context manager commits but never closes (Python 3.13 warns).
        with contextlib.closing(sqlite3.connect(inner.path)) as conn:
            return [row[0] for row in conn.execute(f"SELECT key FROM {table}")]  # noqa: S608
    import psycopg

    with psycopg.connect(store.options["dsn"]) as conn:
        return [row[0] for row in conn.execute(f"SELECT key FROM {table}")]  # type: ignore[arg-type]  # noqa: S608


# --- first use by four workers at once ----------------------------------------------------------

_WORKER = """
import json, sys, time
from bpcpay.webhooks import {cls}
store = {cls}({first!r}, **{options!r})
start = float(sys.argv[1])
while time.time() < start:
    pass
shared = store.claim("evt:shared")
own = store.claim("evt:own:" + sys.argv[2])
print(json.dumps([shared.status, own.status]))
"""


@pytest.mark.parametrize("kind", SHARED_KINDS)
def test_four_workers_create_and_use_a_store_at_once(
    kind: str, request: pytest.FixtureRequest, tmp_path: Path
) -> None:
    options = store_options(kind, request, tmp_path)
    first = str(options.pop("path", None) or options.pop("url", None) or options.pop("dsn"))
    code = _WORKER.format(cls=store_class(kind).__name__, first=first, options=options)
    start = time.time() + 1.5  # every interpreter is up and importing by then
    command = [sys.executable, "-c", code, str(start)]
    pipes: dict[str, Any] = {"stdout": subprocess.PIPE, "stderr": subprocess.PIPE, "text": True}
    workers = [subprocess.Popen([*command, str(index)], **pipes) for index in range(4)]
    outputs = []
    for worker in workers:
        out, err = worker.communicate(timeout=60)
        assert worker.returncode == 0, err
        outputs.append(json.loads(out))
    shared = sorted(first for first, _ in outputs)
    assert shared == ["claimed", "in_flight", "in_flight", "in_flight"]
    assert [own for _, own in outputs] == ["claimed"] * 4


# --- every call has a deadline; connections are bounded ------------------------------------------


@pytest.fixture
def black_hole() -> Iterator[int]:
    """A loopback port that accepts connections and never says a word."""
    server = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    server.bind((LOOPBACK, 0))
    server.listen(64)
    accepted: list[socket.socket] = []
    stop = threading.Event()

    def accept() -> None:
        server.settimeout(0.1)
        while not stop.is_set():
            try:
                conn, _ = server.accept()
            except OSError:
                continue
            accepted.append(conn)

    thread = threading.Thread(target=accept, daemon=True)
    thread.start()
    try:
        yield int(server.getsockname()[1])
    finally:
        stop.set()
        thread.join(5)
        for conn in accepted:
            conn.close()
        server.close()


@pytest.mark.parametrize("kind", ["redis", "redis-async", "postgres", "postgres-async"])
def test_a_server_that_never_answers_fails_the_call_within_its_timeout(
    kind: str, black_hole: int
) -> None:
    if kind.startswith("redis"):
        inner = store_class(kind)(f"redis://{LOOPBACK}:{black_hole}/0", timeout=1.0)
    else:
        inner = store_class(kind)(f"postgresql://u@{LOOPBACK}:{black_hole}/db", timeout=1.0)
    store = Driven(inner)
    started = time.monotonic()
    try:
        with pytest.raises(Exception) as info:
            store.claim("evt:a")
    finally:
        elapsed = time.monotonic() - started
        store.close()
    assert not isinstance(info.value, AssertionError)
    assert elapsed < 1.0 + 4.0  # connect timeouts round up to whole seconds in libpq


def test_a_locked_sqlite_database_fails_the_call_within_its_timeout(tmp_path: Path) -> None:
    store = SQLiteDeliveryStore(tmp_path / "d.sqlite3", timeout=0.5)
    store.setup()
    blocker = sqlite3.connect(tmp_path / "d.sqlite3", isolation_level=None)
    blocker.execute("BEGIN EXCLUSIVE")
    started = time.monotonic()
    try:
        with pytest.raises(sqlite3.OperationalError, match="locked"):
            store.claim("evt:a")
    finally:
        blocker.execute("ROLLBACK")
        blocker.close()
    assert time.monotonic() - started < 0.5 + 2.0
    assert store.claim("evt:a").status == ClaimStatus.CLAIMED  # and it recovers
    store.close()


def _busy_threads(store: Driven, calls: int = 12) -> None:
    def work(index: int) -> None:
        for round_ in range(calls):
            claim = store.claim(f"evt:{index}:{round_}")
            assert claim.token
            store.complete(f"evt:{index}:{round_}", claim.token)

    threads = [threading.Thread(target=work, args=(i,)) for i in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)


@contextlib.contextmanager
def _connections_named(kind: str, server: Any, name: str) -> Iterator[Callable[[], int]]:
    """A probe counting the server's connections that carry ``name``."""
    if kind == "redis":
        import redis

        with redis.Redis.from_url(server.url) as observer:
            yield lambda: sum(1 for c in observer.client_list() if c.get("name") == name)
        return
    import psycopg

    with psycopg.connect(server.dsn, autocommit=True) as conn:
        sql = "SELECT count(*) FROM pg_stat_activity WHERE application_name = %s"

        def count() -> int:
            row = conn.execute(sql, (name,)).fetchone()
            return int(row[0]) if row else 0

        yield count


@pytest.mark.parametrize("kind", ["redis", "postgres"])
def test_connections_are_bounded_per_process(
    kind: str, tmp_path: Path, request: pytest.FixtureRequest
) -> None:
    server = request.getfixturevalue(f"{kind}_server")
    store = Driven(build(kind, store_options(kind, request, tmp_path), max_connections=2))
    peak = 0
    done = threading.Event()
    # The name every store gives its connections (CLIENT LIST, pg_stat_activity); connections
    # left open by earlier tests are counted before, and taken off.
    with _connections_named(kind, server, "bpcpay-webhooks") as count:
        before = count()

        def observe() -> None:
            nonlocal peak
            while not done.is_set():
                peak = max(peak, count())
                time.sleep(0.005)

        watcher = threading.Thread(target=observe)
        watcher.start()
        try:
            _busy_threads(store)
        finally:
            done.set()
            watcher.join(10)
            store.close()
    assert 1 <= peak - before <= 2


@pytest.mark.parametrize("kind", ["redis", "postgres"])
def test_a_store_opens_new_connections_after_a_fork(
    kind: str, request: pytest.FixtureRequest, tmp_path: Path, clock: FakeClock
) -> None:
    import os

    with open_store(kind, request, tmp_path, clock) as store:
        claim = store.claim("evt:parent")
        assert claim.token
        read, write = os.pipe()
        pid = os.fork()
        if pid == 0:  # pragma: no cover - the child reports through the pipe
            try:
                outcome = store.claim("evt:child").status
            except BaseException as exc:
                outcome = repr(exc)
            os.write(write, outcome.encode())
            os._exit(0)
        os.close(write)
        _, status = os.waitpid(pid, 0)
        answer = os.read(read, 1000).decode()
        os.close(read)
        assert status == 0
        assert answer == ClaimStatus.CLAIMED
        assert store.complete("evt:parent", claim.token)  # the parent's pool still works


# --- SQLite specifics: first use under a lock, a busy connection, setup() -----------------------


def test_a_first_use_waits_for_a_database_another_process_has_locked(tmp_path: Path) -> None:
    path = tmp_path / "d.sqlite3"
    blocker = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
    blocker.execute("BEGIN EXCLUSIVE")
    unlock = threading.Timer(0.3, lambda: blocker.execute("ROLLBACK"))
    unlock.start()
    store = SQLiteDeliveryStore(path, timeout=10)
    try:
        assert store.claim("evt:a").status == ClaimStatus.CLAIMED  # set up once it could
    finally:
        unlock.join(5)
        store.close()
        blocker.close()


def test_a_first_use_on_a_database_locked_too_long_fails_within_the_timeout(
    tmp_path: Path,
) -> None:
    path = tmp_path / "d.sqlite3"
    blocker = sqlite3.connect(path, isolation_level=None)
    blocker.execute("BEGIN EXCLUSIVE")
    store = SQLiteDeliveryStore(path, timeout=0.3)
    held = open_files(path)  # the blocker's
    started = time.monotonic()
    try:
        with pytest.raises(sqlite3.OperationalError, match="locked"):
            store.claim("evt:a")
        assert time.monotonic() - started < 0.3 + 2.0
    finally:
        blocker.execute("ROLLBACK")
    # The half-set-up connection was closed, not kept. (SQLite holds a closed connection's
    # descriptor while another connection of the process locks the file, so count after the
    # blocker's ROLLBACK.)
    assert open_files(path) == held
    blocker.close()
    assert store.claim("evt:a").status == ClaimStatus.CLAIMED
    store.close()
    store.close()  # idempotent


def test_a_sqlite_store_busy_in_another_thread_gives_up_after_its_timeout(tmp_path: Path) -> None:
    store = SQLiteDeliveryStore(tmp_path / "d.sqlite3", timeout=0.2)
    assert "d.sqlite3" in repr(store)
    assert str(tmp_path) not in repr(store)
    with store._lock:  # another thread holds the connection
        started = time.monotonic()
        with pytest.raises(TimeoutError, match="busy"):
            store.claim("evt:a")
        assert time.monotonic() - started < 2.0
    assert store.claim("evt:a").status == ClaimStatus.CLAIMED
    store.close()


@pytest.mark.parametrize("kind", ["sqlite", "postgres", "postgres-async"])
def test_an_optional_setup_creates_the_table_ahead_of_the_first_delivery(
    kind: str, request: pytest.FixtureRequest, tmp_path: Path, clock: FakeClock
) -> None:
    with open_store(kind, request, tmp_path, clock) as store:
        store.call(store.store.setup())
        store.call(store.store.setup())  # idempotent
        assert _row_keys(store) == []
        assert store.claim("evt:a").status == ClaimStatus.CLAIMED


# --- the SQL plan's rare paths, driven by hand ------------------------------------------------


def test_a_row_that_vanishes_between_upsert_and_read_is_claimed_on_the_next_try() -> None:
    from bpcpay.webhooks.stores._sql import SqlLogic

    logic = SqlLogic(table="t", dialect="postgres", lease=10, retention=100)
    plan = logic.claim_plan("evt:a")
    purge = next(plan)
    assert purge.sql.startswith("DELETE FROM t WHERE expires_at")  # the periodic purge ...
    assert "clock_timestamp()" in purge.sql  # ... on the server's clock
    assert "now" not in purge.params
    query = plan.send((0, []))  # now the upsert
    assert query.sql.startswith("INSERT INTO t")
    assert "%(key)s" in query.sql  # PostgreSQL's placeholders
    state = plan.send((0, []))  # the upsert did not take: the row existed ...
    assert state.sql.startswith("SELECT done, expires_at")
    retry = plan.send((1, []))  # ... and was gone when read (released meanwhile)
    assert retry.sql.startswith("INSERT INTO t")
    with pytest.raises(StopIteration) as stop:
        plan.send((1, []))
    assert stop.value.value.status == ClaimStatus.CLAIMED


def test_a_row_that_keeps_changing_answers_in_flight_rather_than_spinning() -> None:
    from bpcpay.webhooks.stores._sql import SqlLogic

    clock = FakeClock()
    logic = SqlLogic(table="t", dialect="sqlite", lease=10, retention=100, clock=clock)
    plan = logic.claim_plan("evt:a")
    next(plan)  # purge
    answer: Any = (0, [])
    steps = 0
    try:
        while True:
            query = plan.send(answer)
            steps += 1
            # Every read finds a row whose lease has just lapsed, yet the upsert never takes.
            lapsed = (1, [(0, clock.now - 1, -1.0)])
            answer = lapsed if query.sql.startswith("SELECT") else (0, [])
    except StopIteration as stop:
        claim = stop.value
    assert claim.status == ClaimStatus.IN_FLIGHT
    assert steps == 6  # three attempts, each an upsert and a read: bounded


# --- leases on the store's clock, real time: a short lease, really lapsing -----------------------


@pytest.fixture(params=STORE_KINDS)
def real_store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Driven]:
    """A store on its own clock (Redis's, PostgreSQL's, the host's) with a one-second lease."""
    options = store_options(request.param, request, tmp_path)
    driven = Driven(build(request.param, options, lease=SHORT), options)
    try:
        yield driven
    finally:
        driven.close()


def on_every_store(
    request: pytest.FixtureRequest,
    tmp_path: Path,
    check: Callable[[Driven], Any],
    kinds: list[str] = STORE_KINDS,
    **extra: Any,
) -> dict[str, Any]:
    """``check(store)`` on each kind of store at once, each with a one-second lease (and
    ``extra`` options), so that a test that waits for a lease to lapse waits once: kind -> what
    ``check`` returned (or the ``repr`` of what it raised)."""
    # The fixtures (the servers) are looked up here: pytest's fixtures are not thread-safe.
    options = {kind: store_options(kind, request, tmp_path) for kind in kinds}

    def one(kind: str) -> Any:
        store = Driven(build(kind, options[kind], lease=SHORT, **extra), options[kind])
        try:
            return check(store)
        except Exception as exc:
            return repr(exc)
        finally:
            store.close()

    with ThreadPoolExecutor(len(kinds)) as pool:
        return dict(zip(kinds, pool.map(one, kinds), strict=True))


def test_an_in_flight_claim_says_how_long_its_lease_has_left_on_the_stores_clock(
    real_store: Driven,
) -> None:
    real_store.claim("evt:a")
    seen = real_store.claim("evt:a")
    assert seen.status == ClaimStatus.IN_FLIGHT
    assert seen.remaining is not None
    assert 0 < seen.remaining <= SHORT


def test_a_lapsed_lease_is_its_owners_to_complete_until_another_caller_takes_it(
    request: pytest.FixtureRequest, tmp_path: Path
) -> None:
    def check(store: Driven) -> list[Any]:
        slow, dead = store.claim("evt:slow"), store.claim("evt:dead")
        assert slow.token
        assert dead.token
        assert store.claim("evt:dead").status == ClaimStatus.IN_FLIGHT
        time.sleep(SHORT + 0.2)  # both leases lapse on the store's clock, nobody renewing
        seen = [store.renew("evt:dead", dead.token)]  # too late to renew
        new = store.claim("evt:dead")  # the next copy takes the dead holder's key over
        assert new.token
        assert new.token != dead.token
        seen += [
            new.status,
            store.renew("evt:dead", dead.token),
            store.complete("evt:dead", dead.token),
            store.release("evt:dead", dead.token),
            store.claim("evt:dead").status,  # still the new holder's
            store.complete("evt:dead", new.token),
            # The slow handler outlived its lease, but nobody took the key: it is done.
            store.complete("evt:slow", slow.token),
            store.claim("evt:slow"),
        ]
        return seen

    outcomes = on_every_store(request, tmp_path, check)
    expected = [False, "claimed", False, False, False, "in_flight", True, True, Claim.done()]
    assert outcomes == dict.fromkeys(STORE_KINDS, expected)


def test_renew_extends_the_holders_lease_and_only_the_holders(
    request: pytest.FixtureRequest, tmp_path: Path
) -> None:
    def check(store: Driven) -> list[Any]:
        held = store.claim("evt:a")
        assert held.token
        seen: list[Any] = [store.renew("evt:a", "not-the-owner")]
        for _ in range(2):  # two renewals, each before the lease lapses: 1.4 s in all
            time.sleep(SHORT * 0.7)
            seen += [store.renew("evt:a", held.token), store.claim("evt:a").status]
        seen += [
            store.complete("evt:a", held.token),
            store.renew("evt:a", held.token),  # done: nothing to renew
            store.claim("evt:a"),
        ]
        return seen

    outcomes = on_every_store(request, tmp_path, check)
    expected = [False, True, "in_flight", True, "in_flight", True, False, Claim.done()]
    assert outcomes == dict.fromkeys(STORE_KINDS, expected)


# --- the asyncio stores: from any event loop, each loop's connections closed with it -----------


@pytest.mark.parametrize("kind", ["redis-async", "postgres-async"])
def test_an_async_store_serves_one_event_loop_after_another(
    kind: str, request: pytest.FixtureRequest, tmp_path: Path
) -> None:
    base = kind.removesuffix("-async")
    server = request.getfixturevalue(f"{base}_server")
    store = build(kind, store_options(kind, request, tmp_path))

    async def deliver(key: str) -> tuple[str, bool]:
        claim = await store.claim(key)
        assert claim.token
        return claim.status, await store.complete(key, claim.token)

    with _connections_named(base, server, "bpcpay-webhooks") as count:
        before = count()
        # A worker's loops: asyncio.run() in a cron job, a test, a restarted server thread.
        answers = [asyncio.run(deliver(f"evt:loop:{index}")) for index in range(4)]
        deadline = time.monotonic() + 5
        while count() > before and time.monotonic() < deadline:  # the server sees them go
            time.sleep(0.02)
        left = count() - before
    assert answers == [(ClaimStatus.CLAIMED, True)] * 4
    assert left == 0  # every loop's connections were closed with it


@pytest.mark.parametrize("kind", ["redis-async", "postgres-async"])
def test_two_event_loops_in_two_threads_share_an_async_store(
    kind: str, request: pytest.FixtureRequest, tmp_path: Path
) -> None:
    store = build(kind, store_options(kind, request, tmp_path))
    outcomes: list[Any] = []

    def loop_thread(index: int) -> None:
        async def deliver() -> list[str]:
            seen = []
            for round_ in range(5):
                claim = await store.claim(f"evt:{index}:{round_}")
                assert claim.token
                await store.complete(f"evt:{index}:{round_}", claim.token)
                seen.append(claim.status)
            return seen

        try:
            outcomes.append(asyncio.run(deliver()))
        except BaseException as exc:
            outcomes.append(exc)

    threads = [threading.Thread(target=loop_thread, args=(i,)) for i in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    assert outcomes == [[ClaimStatus.CLAIMED] * 5] * 2


# --- Redis must persist: the store says so on first use -----------------------------------------


def test_a_redis_without_persistence_is_warned_about_on_first_use(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING, logger="bpcpay")
    with private_redis(tmp_path, "--appendonly", "no") as server:
        store = RedisDeliveryStore(server.url)
        assert "appendonly" not in caplog.text  # never in the constructor
        claim = store.claim("evt:a")
        assert claim.token
        store.complete("evt:a", claim.token)
        store.claim("evt:b")
        store.close()
    warnings = [r for r in caplog.records if "appendonly" in r.getMessage()]
    assert len(warnings) == 1  # once, on first use
    assert warnings[0].levelno == logging.WARNING
    assert "persist" in warnings[0].getMessage()


def test_a_redis_with_an_append_only_file_remembers_done_events_across_a_restart(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING, logger="bpcpay")
    with private_redis(tmp_path, "--appendonly", "yes", "--appendfsync", "always") as server:
        store = RedisDeliveryStore(server.url)
        claim = store.claim("evt:paid")
        assert claim.token
        assert store.complete("evt:paid", claim.token)
        store.close()
        server.stop()
        server.start()
        assert store.claim("evt:paid") == Claim.done()  # still a duplicate after the restart
        store.close()
    assert "appendonly" not in caplog.text


def test_a_redis_that_refuses_config_get_is_used_all_the_same(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    # Managed Redis services often disable CONFIG: the check is skipped, quietly.
    config = tmp_path / "redis.conf"
    config.write_text('rename-command CONFIG ""\n')
    caplog.set_level(logging.DEBUG, logger="bpcpay")
    with private_redis(tmp_path, config=config) as server:
        store = RedisDeliveryStore(server.url)
        assert store.claim("evt:a").status == ClaimStatus.CLAIMED
        store.close()
    assert not [r for r in caplog.records if r.levelno >= logging.WARNING]


def test_each_loop_gets_its_own_pool_closed_with_it_and_a_dead_loops_is_forgotten() -> None:
    from bpcpay.webhooks.stores._pooled import LoopLocal

    pools: LoopLocal[str] = LoopLocal()
    opened: list[str] = []
    closed: list[str] = []
    failures = [ConnectionError("server down")]  # the first open fails

    async def open_pool() -> str:
        if failures:
            raise failures.pop()
        opened.append(f"pool{len(opened)}")
        return opened[-1]

    async def close_pool(pool: str) -> None:
        closed.append(pool)

    async def use() -> list[str]:
        # Concurrent first calls on one loop share one pool.
        return list(await asyncio.gather(*(pools.get(open_pool, close_pool) for _ in range(3))))

    with pytest.raises(ConnectionError):
        asyncio.run(use())
    assert asyncio.run(use()) == ["pool0"] * 3  # opened again after the failure ...
    assert closed == ["pool0"]  # ... and closed when asyncio.run shut its loop down
    dead = asyncio.new_event_loop()
    assert dead.run_until_complete(use()) == ["pool1"] * 3
    dead.close()  # closed without finishing its generators: nothing can close pool1 now
    assert asyncio.run(use()) == ["pool2"] * 3  # forgotten, never awaited on a dead loop
    assert closed == ["pool0", "pool2"]


@pytest.mark.parametrize(
    ("where", "password"),
    [
        ("redis://:s3cr%2Ft-pw@127.0.0.1:6379/0", "s3cr/t-pw"),
        ("redis://user:s3cr3t-pw@127.0.0.1:6379/0", "s3cr3t-pw"),
        ("postgresql://shop:s3cr3t-pw@127.0.0.1:5432/shop", "s3cr3t-pw"),
        ("host=127.0.0.1 user=shop password=s3cr3t-pw dbname=shop", "s3cr3t-pw"),
        ("host=127.0.0.1 password='s3cr3t pw' dbname=shop", "s3cr3t pw"),
    ],
)
def test_what_a_store_takes_out_of_a_driver_message_covers_every_spelling(
    where: str, password: str
) -> None:
    """A pooled store's error keeps the driver's message with the URL or DSN and its password
    taken out, in each form a driver may quote them (the URL, the password decoded or not)."""
    from bpcpay.webhooks.stores._pooled import _credentials

    hidden = _credentials(where)
    message = f"could not connect to {where} (password {password})"
    for text in hidden:  # longest first, as the store applies them
        message = message.replace(text, "[redacted]")
    assert password not in message
    assert where not in message
    assert list(hidden) == sorted(hidden, key=len, reverse=True)
