"""Fleets of real workers sharing one store: every delivery handled exactly once, none lost.

gunicorn ``-w 4 --threads 4`` with the WSGI adapter (``handle_sync``, the sync stores) and
uvicorn ``--workers 2`` with the ASGI adapter (``handle``, the async stores; plain handlers in a
worker thread), each on SQLite, Redis and PostgreSQL: 300 distinct signed deliveries plus 100
duplicates, sent at once from 16 threads. Every answer is 200, and every side effect is counted
once in the store's own database. Then a worker is killed with SIGKILL in the middle of a
handler: the gateway's retry, sent at once, waits for the short lease to lapse and runs it.
"""

from __future__ import annotations

import contextlib
import os
import random
import signal
import threading
import time
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from _procs import blast, completed_event, gunicorn, post, serve, uvicorn, wait_for_blocked
from _stores import unique
from _webhook_app import Effects
from conftest import FLEET_REPORT

SECRET = "whsec_fleet_not_real"
DISTINCT = 300
DUPLICATES = 100
LEASE = 3.0

SERVERS = {
    "gunicorn -w 4 --threads 4 (WSGI)": (
        gunicorn("-k", "gthread", "-w", "4", "--threads", "4", "--timeout", "60"),
        4,
    ),
    "uvicorn --workers 2 (ASGI)": (uvicorn("--workers", "2"), 2),
}


def store_spec(kind: str, request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if kind == "sqlite":
        return f"sqlite:{tmp_path / 'fleet.sqlite3'}"
    if kind == "redis":
        return "redis:" + request.getfixturevalue("redis_server").url
    return "postgres:" + request.getfixturevalue("postgres_server").dsn


@pytest.mark.parametrize("kind", ["sqlite", "redis", "postgres"])
@pytest.mark.parametrize("server_name", list(SERVERS))
def test_a_fleet_handles_every_delivery_once_and_loses_none_to_a_killed_worker(
    server_name: str, kind: str, request: pytest.FixtureRequest, tmp_path: Path
) -> None:
    spec = store_spec(kind, request, tmp_path)
    namespace = unique("fleet")
    block_dir = tmp_path / "blocks"
    block_dir.mkdir()
    env = {
        "BPCPAY_TEST_SECRET": SECRET,
        "BPCPAY_TEST_STORE": spec,
        "BPCPAY_TEST_NAMESPACE": namespace,
        "BPCPAY_TEST_LEASE": str(LEASE),
        "BPCPAY_TEST_IN_FLIGHT_TIMEOUT": "15",
        "BPCPAY_TEST_BLOCK_DIR": str(block_dir),
    }
    ids = [f"ps_fleet_{index:03d}" for index in range(DISTINCT)]
    rng = random.Random(7)
    deliveries = [completed_event(i) for i in ids + rng.sample(ids, DUPLICATES)]
    rng.shuffle(deliveries)
    command, workers = SERVERS[server_name]
    effects = Effects(spec, namespace)
    try:
        with serve(command, env, workers) as server, _with_the_servers_log(server):
            started = time.perf_counter()
            answers = blast(server.port, deliveries, SECRET, threads=16)
            elapsed = time.perf_counter() - started
            assert all(not isinstance(a, Exception) and a[0] == 200 for a in answers), [
                a for a in answers if isinstance(a, Exception) or a[0] != 200
            ][:5]
            killed = _kill_mid_handler(server, block_dir)
        counts = effects.counts()
    finally:
        effects.close()

    reasons = Counter(text.strip() for _, text in answers)
    assert reasons == {"handled": DISTINCT, "duplicate": DUPLICATES}
    assert counts == {**dict.fromkeys(ids, 1), killed: 1}
    FLEET_REPORT.append(
        f"{server_name:<34} {kind:<9} {len(deliveries) / elapsed:8.0f} deliveries/s "
        f"({len(deliveries)} in {elapsed:.2f} s, 16 client threads)"
    )


@contextlib.contextmanager
def _with_the_servers_log(server: Any) -> Iterator[None]:
    """A failed assertion also shows the server's last log lines (a worker's traceback)."""
    try:
        yield
    except AssertionError as exc:
        log = "\n".join(list(server.log)[-60:])
        raise AssertionError(f"{exc}\n--- the server's last log lines:\n{log}") from exc


def _kill_mid_handler(server: Any, block_dir: Path) -> str:
    """SIGKILL a worker inside a handler; the retry must run it once the lease lapses."""
    session_id = "ps_fleet_killed"
    (block_dir / f"{session_id}.block").touch()
    body = completed_event(session_id)
    first: list[Any] = []

    def attempt() -> None:
        try:
            first.append(post(server.port, body, SECRET))
        except OSError as exc:
            first.append(exc)

    sender = threading.Thread(target=attempt)
    sender.start()
    victim = wait_for_blocked(block_dir, session_id)
    assert victim in server.workers
    os.kill(victim, signal.SIGKILL)
    sender.join(30)
    assert first
    assert isinstance(first[0], Exception) or first[0][0] >= 500
    assert post(server.port, body, SECRET) == (200, "handled\n")
    assert post(server.port, body, SECRET) == (200, "duplicate\n")
    return session_id
