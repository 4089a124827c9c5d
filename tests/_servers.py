"""Real Redis and PostgreSQL servers for the store and fleet tests, started by the tests.

Each server runs from a fresh temporary directory, listens on 127.0.0.1 on a free ephemeral
port (picked by binding port 0, retried if another process takes it first), and is stopped and
removed at the end of the session. PostgreSQL refuses to run as root (CI runs as root): initdb
and postgres then run as the ``postgres`` user, in a directory it owns.

A missing server binary skips the tests that need it, with a reason naming the Debian package;
with ``CI=true`` in the environment it is a failure instead, so CI never goes green by skipping.
"""

from __future__ import annotations

import contextlib
import glob
import os
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import attrs
import pytest

LOOPBACK = "127.0.0.1"
START_DEADLINE = 30.0


def in_ci() -> bool:
    return os.environ.get("CI", "").lower() == "true"


def require_binary(name: str, package: str, extra_dirs: list[str] | None = None) -> str:
    """The path of ``name``; skip (locally) or fail (CI) when it is missing."""
    path = shutil.which(name)
    for directory in extra_dirs or []:
        if path is None and os.path.exists(os.path.join(directory, name)):
            path = os.path.join(directory, name)
    if path is None:
        message = f"{name} not found: install the Debian package {package!r} (.ci/install-servers)"
        if in_ci():
            pytest.fail(message, pytrace=False)
        pytest.skip(message)
    return path


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((LOOPBACK, 0))
        return int(sock.getsockname()[1])


def wait_for_port(port: int, process: subprocess.Popen[bytes], deadline: float) -> bool:
    """True once ``port`` accepts connections; False if the process died or time ran out."""
    while time.monotonic() < deadline:
        if process.poll() is not None:
            return False
        with contextlib.suppress(OSError), socket.create_connection((LOOPBACK, port), 0.2):
            return True
        time.sleep(0.05)
    return False


def stop(process: subprocess.Popen[bytes], sig: int = signal.SIGTERM) -> None:
    if process.poll() is None:
        process.send_signal(sig)
        try:
            process.wait(10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(10)


@attrs.frozen
class RedisServer:
    port: int

    @property
    def url(self) -> str:
        return f"redis://{LOOPBACK}:{self.port}/0"


@attrs.frozen
class PostgresServer:
    port: int

    @property
    def dsn(self) -> str:
        return f"postgresql://postgres@{LOOPBACK}:{self.port}/postgres"


@contextlib.contextmanager
def run_redis() -> Iterator[RedisServer]:
    binary = require_binary("redis-server", "redis-server")
    workdir = tempfile.mkdtemp(prefix="bpcpay-redis-")
    try:
        for _ in range(5):
            port = free_port()
            process = subprocess.Popen(
                [
                    binary,
                    "--bind",
                    LOOPBACK,
                    "--port",
                    str(port),
                    "--save",
                    "",
                    "--appendonly",
                    "no",
                    "--dir",
                    workdir,
                    "--protected-mode",
                    "yes",
                ],
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
            )
            if wait_for_port(port, process, time.monotonic() + START_DEADLINE):
                try:
                    yield RedisServer(port)
                finally:
                    stop(process)
                return
            stop(process, signal.SIGKILL)
        pytest.fail("redis-server did not start on a free loopback port", pytrace=False)
    finally:
        shutil.rmtree(workdir, ignore_errors=True)


def _as_postgres_user() -> list[str]:
    if os.geteuid() != 0:
        return []
    runuser = shutil.which("runuser")
    if runuser is None:  # pragma: no cover - util-linux is on every Debian
        pytest.fail("running as root needs runuser to start PostgreSQL as 'postgres'")
    return [runuser, "-u", "postgres", "--"]


@contextlib.contextmanager
def run_postgres() -> Iterator[PostgresServer]:
    extra = sorted(glob.glob("/usr/lib/postgresql/*/bin"), reverse=True)
    initdb = require_binary("initdb", "postgresql", extra)
    postgres = require_binary("postgres", "postgresql", [os.path.dirname(initdb), *extra])
    prefix = _as_postgres_user()
    # Not under pytest's tmp dirs: those are private to root, and postgres must reach its own.
    workdir = Path(tempfile.mkdtemp(prefix="bpcpay-pg-"))
    try:
        if prefix:
            shutil.chown(workdir, "postgres", "postgres")
        data = workdir / "data"
        subprocess.run(
            [
                *prefix,
                initdb,
                "-D",
                str(data),
                "-U",
                "postgres",
                "--auth=trust",
                "--no-sync",
                "-E",
                "UTF8",
                "--locale=C",
            ],
            check=True,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            timeout=120,
        )
        for _ in range(5):
            port = free_port()
            process = subprocess.Popen(
                [
                    *prefix,
                    postgres,
                    "-D",
                    str(data),
                    "-h",
                    LOOPBACK,
                    "-p",
                    str(port),
                    "-k",
                    str(workdir),
                    "-c",
                    "fsync=off",
                    "-c",
                    "synchronous_commit=off",
                    "-c",
                    "full_page_writes=off",
                    "-c",
                    "max_connections=200",
                ],
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
            )
            if wait_for_port(port, process, time.monotonic() + START_DEADLINE):
                try:
                    _wait_ready(PostgresServer(port).dsn)
                    yield PostgresServer(port)
                finally:
                    _stop_postgres(data, process)
                return
            stop(process, signal.SIGKILL)
        pytest.fail("postgres did not start on a free loopback port", pytrace=False)
    finally:
        shutil.rmtree(workdir, ignore_errors=True)


def _stop_postgres(data: Path, process: subprocess.Popen[bytes]) -> None:
    # SIGINT is PostgreSQL's "fast" shutdown (clients are disconnected, no waiting for them),
    # sent to the postmaster itself: runuser, its parent here, does not pass SIGINT on.
    with contextlib.suppress(OSError, ValueError, IndexError):
        pid = int((data / "postmaster.pid").read_text().splitlines()[0])
        os.kill(pid, signal.SIGINT)
    stop(process, signal.SIGINT)


def _wait_ready(dsn: str) -> None:
    import psycopg

    deadline = time.monotonic() + START_DEADLINE
    while True:
        try:
            with psycopg.connect(dsn, connect_timeout=2) as conn:
                conn.execute("SELECT 1")
            return
        except psycopg.OperationalError:
            # "the database system is starting up"
            if time.monotonic() > deadline:
                raise
            time.sleep(0.1)


@pytest.fixture(scope="session")
def redis_server() -> Iterator[RedisServer]:
    """A real redis-server on 127.0.0.1 for the whole session."""
    with run_redis() as server:
        yield server


@pytest.fixture(scope="session")
def postgres_server() -> Iterator[PostgresServer]:
    """A real PostgreSQL (initdb in a temp dir) on 127.0.0.1 for the whole session."""
    with run_postgres() as server:
        yield server
