"""Helpers of the reliability suite: loopback sockets that refuse or never accept, a recording
fake sleep, connection counting, waiting on the sandbox's request log, and its state counts.

A plain module rather than conftest, so test modules can import it by name (the name is unique
across the test tree; ``tests/reliability`` is on ``sys.path`` because it has no ``__init__``).
"""

from __future__ import annotations

import contextlib
import socket
import time
from collections.abc import Callable, Iterator
from typing import Any

import aiohttp

from bpcpay import PaymentCard
from bpcpay._async._transport import AiohttpTransport
from bpcpay._constants import (
    DEFAULT_MAX_RESPONSE_BYTES,
    DEFAULT_POOL_SIZE,
    INITIAL_RETRY_DELAY,
    MAX_RETRY_AFTER,
    MAX_RETRY_DELAY,
)
from bpcpay.sandbox import TestCard, ThreadedSandboxGateway

SUCCESS_URL = "https://shop.example/success"
FAILURE_URL = "https://shop.example/failure"
LOOPBACK = "127.0.0.1"


def card_of(test_card: TestCard) -> PaymentCard:
    """A PaymentCard for one of the sandbox's published test cards."""
    return PaymentCard(
        number=test_card.number,
        exp_month=test_card.exp_month,
        exp_year=test_card.exp_year,
        cvc=test_card.cvc,
    )


@contextlib.contextmanager
def refusing_port() -> Iterator[int]:
    """A loopback port that refuses connections: bound (so nobody else takes it), not listening."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    try:
        sock.bind((LOOPBACK, 0))
        yield sock.getsockname()[1]
    finally:
        sock.close()


@contextlib.contextmanager
def unanswered_port() -> Iterator[int]:
    """A loopback port whose accept queue is full: new SYNs are dropped, so connecting hangs
    until the client's connect timeout fires (a real connect timeout, no other host needed)."""
    server = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    fillers: list[socket.socket] = []
    try:
        server.bind((LOOPBACK, 0))
        server.listen(0)
        port = server.getsockname()[1]
        for _ in range(3):
            filler = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            filler.setblocking(False)
            with contextlib.suppress(BlockingIOError):
                filler.connect((LOOPBACK, port))
            fillers.append(filler)
        yield port
    finally:
        for filler in fillers:
            filler.close()
        server.close()


class SleepRecorder:
    """An async stand-in for ``asyncio.sleep`` that records the delays and returns at once."""

    def __init__(self) -> None:
        self.delays: list[float] = []

    async def __call__(self, delay: float) -> None:
        self.delays.append(delay)


def backoff_bound(attempt: int) -> float:
    """The longest backoff the policy allows after attempt ``attempt`` (0-based), no hint."""
    return min(MAX_RETRY_DELAY, INITIAL_RETRY_DELAY * 2.0**attempt)


def assert_backoffs_within_policy(
    delays: list[float], *, hint: float | None = None, jitter_floor: bool = True
) -> None:
    """Every recorded delay is what the policy allows; with ``hint`` (a Retry-After in
    seconds), each delay is that hint (capped), else exponential with jitter in [half, all]."""
    total_bound = 0.0
    for attempt, delay in enumerate(delays):
        if hint is not None:
            bound = min(hint, MAX_RETRY_AFTER)
            assert 0.0 <= delay <= bound + 1e-9, (attempt, delay, bound)
        else:
            bound = backoff_bound(attempt)
            floor = bound / 2 if jitter_floor else 0.0
            assert floor - 1e-9 <= delay <= bound + 1e-9, (attempt, delay, bound)
        total_bound += bound
    assert sum(delays) <= total_bound + 1e-9


def new_transport(pool_size: int = DEFAULT_POOL_SIZE) -> AiohttpTransport:
    """The transport a client builds by default, made by the test and handed to the client
    (``_transport=``), so the test can look at its session."""
    return AiohttpTransport(
        session=None, pool_size=pool_size, max_response_bytes=DEFAULT_MAX_RESPONSE_BYTES
    )


def open_connections(transport: AiohttpTransport) -> tuple[int, int]:
    """(acquired, idle) connections of a transport's aiohttp session.

    aiohttp has no public view of its pool, so this one helper reads aiohttp 3.14's internals
    (``_acquired`` is the set in use, ``_conns`` the idle pool per host); nothing of bpcpay's.
    """
    session = transport.session
    if session is None:
        return (0, 0)
    connector = session.connector
    assert isinstance(connector, aiohttp.TCPConnector)
    acquired = len(connector._acquired)
    idle = sum(len(queue) for queue in connector._conns.values())
    return acquired, idle


def wait_until(predicate: Callable[[], bool], *, timeout: float = 5.0, what: str = "") -> None:
    """Poll ``predicate`` until true; fail after ``timeout`` seconds (never a fixed sleep)."""
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what or predicate}")
        time.sleep(0.002)


def request_log_length(gw: ThreadedSandboxGateway) -> int:
    """How many requests the gateway has logged so far (read on its own loop)."""

    async def count() -> int:
        return len(gw.gateway.requests)

    return gw.run(count)


def request_log_since(gw: ThreadedSandboxGateway, start: int) -> list[Any]:
    """The gateway's request records from index ``start`` on."""

    async def tail() -> list[Any]:
        return list(gw.gateway.requests[start:])

    return gw.run(tail)


def state_counts(gw: ThreadedSandboxGateway) -> tuple[int, int, int]:
    """(sessions, payments, refunds) in the gateway's state, read on its own loop."""

    async def counts() -> tuple[int, int, int]:
        state = gw.gateway.state
        return len(state.sessions), len(state.payments), len(state.refunds)

    return gw.run(counts)


#: Lines the load tests want shown in the terminal summary (throughput, RSS growth, sockets).
LOAD_REPORT: list[str] = []
