"""ThreadedSandboxGateway (bpcpay/sandbox/_thread.py): every wait on its thread is bounded, so a
stuck start, stop or call fails with a TimeoutError that says what is stuck, within its bound,
instead of hanging the test suite.
"""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Iterator

import pytest

from bpcpay.sandbox import SandboxGateway, ThreadedSandboxGateway

#: How much longer than its bound a stuck wait may take to fail, on a loaded machine.
SLACK = 3.0


class StuckStart(SandboxGateway):
    """A gateway whose start never finishes (it waits for nothing that comes)."""

    async def start(self) -> SandboxGateway:
        await asyncio.Event().wait()
        return self


class StuckStop(SandboxGateway):
    """A gateway whose stop hangs until it is cancelled, then really closes."""

    async def aclose(self) -> None:
        try:
            await asyncio.sleep(60)
        finally:
            await super().aclose()


def sandbox_threads() -> list[str]:
    return [t.name for t in threading.enumerate() if t.name == "bpcpay-sandbox"]


@pytest.fixture
def gw() -> Iterator[ThreadedSandboxGateway]:
    with ThreadedSandboxGateway(SandboxGateway(), timeout=2.0) as gateway:
        yield gateway


def test_a_stuck_start_fails_within_its_bound_and_leaves_no_thread() -> None:
    before = len(sandbox_threads())
    started = time.monotonic()
    with pytest.raises(TimeoutError, match=r"sandbox gateway's start did not finish within 0.2s"):
        ThreadedSandboxGateway(StuckStart(), timeout=0.2)
    assert time.monotonic() - started < 0.2 + SLACK
    assert len(sandbox_threads()) == before


def test_a_stuck_call_fails_within_its_bound_and_the_gateway_stays_usable(
    gw: ThreadedSandboxGateway,
) -> None:
    async def never() -> None:
        await asyncio.Event().wait()

    started = time.monotonic()
    with pytest.raises(TimeoutError, match=r"sandbox gateway's run did not finish within 2s"):
        gw.run(never)
    assert time.monotonic() - started < 2.0 + SLACK
    assert gw.now() is not None  # the stuck call was cancelled; the loop serves on


def test_a_call_on_a_blocked_loop_fails_within_its_bound(gw: ThreadedSandboxGateway) -> None:
    # A coroutine that blocks the gateway's thread itself: the caller still gets its answer
    # in time, and the gateway recovers once the thread is free again.
    async def blocks() -> None:
        time.sleep(3.0)  # noqa: ASYNC251 - blocking the loop is the point

    started = time.monotonic()
    with pytest.raises(TimeoutError, match="run did not finish"):
        gw.run(blocks)
    assert time.monotonic() - started < 2.0 + SLACK
    assert gw.now() is not None


def test_wait_for_deliveries_is_bounded_by_its_own_timeout_on_top() -> None:
    with ThreadedSandboxGateway(SandboxGateway(), timeout=2.0) as gateway:
        started = time.monotonic()
        assert gateway.wait_for_deliveries(timeout=0.5) == []
        assert time.monotonic() - started < 0.5 + SLACK


def test_a_stuck_stop_fails_within_its_bound_and_still_ends_the_thread() -> None:
    before = len(sandbox_threads())
    gateway = ThreadedSandboxGateway(StuckStop(), timeout=1.0)
    started = time.monotonic()
    with pytest.raises(TimeoutError, match=r"sandbox gateway's stop did not finish within 1s"):
        gateway.stop()
    assert time.monotonic() - started < 1.0 + SLACK
    # The stuck close was cancelled (and closed for real); the thread is gone.
    assert len(sandbox_threads()) == before
    with pytest.raises(RuntimeError, match="stopped"):
        gateway.now()
    gateway.stop()  # idempotent
