"""Bounded waits: a duplicate of a delivery in flight never parks a worker past in_flight_timeout.

In this process the duplicate waits on the first copy (an event, woken at once); when another
process holds the claim it polls the store with a growing pause, never past the lease's end. At
the deadline the answer is a 409 result, never an exception. Cross-process polling runs on a
fake clock (the fake sleep moves it); in-process waits use short real timeouts.
"""

from __future__ import annotations

import asyncio
import json
import threading
import time
from typing import Any

import pytest
from _stores import FakeClock, counting_router

from bpcpay.models import Event
from bpcpay.webhooks import ClaimStatus, InMemoryDeliveryStore, WebhookResult, WebhookRouter, sign

SECRET = "whsec_waits_not_real"
KEY = "evt:session.completed:ps_wait"


def delivery() -> tuple[bytes, dict[str, str]]:
    obj = {"id": "ps_wait", "amount": 100, "currency": "EUR", "status": "complete"}
    body = json.dumps(
        {"created": "2024-03-28T08:30:00Z", "type": "session.completed", "data": {"object": obj}}
    ).encode()
    return body, {"X-Signature": sign(body, SECRET)}


def run(driver: str, router: WebhookRouter) -> WebhookResult:
    if driver == "sync":
        return router.handle_sync(*delivery())
    return asyncio.run(router.handle(*delivery()))


DRIVERS = ["sync", "async"]


# --- another process holds the claim: poll the store, bounded -----------------------------------


@pytest.mark.parametrize("driver", DRIVERS)
def test_a_claim_held_elsewhere_is_polled_with_backoff_then_answered_409(driver: str) -> None:
    clock = FakeClock()
    store = InMemoryDeliveryStore(lease=300, _clock=clock)
    router, runs = counting_router(SECRET, store, clock, in_flight_timeout=10)
    assert store.claim(KEY).status == ClaimStatus.CLAIMED  # "another worker" holds it
    started = clock.now

    result = run(driver, router)

    assert (result.status, result.reason) == (409, "in_flight")
    assert result.event is not None
    assert runs == []
    assert clock.slept[:6] == [0.05, 0.1, 0.2, 0.4, 0.8, 1.0]
    assert max(clock.slept) == 1.0
    assert clock.now - started == pytest.approx(10)  # never longer than in_flight_timeout


@pytest.mark.parametrize("driver", DRIVERS)
def test_a_lease_lapsing_during_the_wait_lets_the_duplicate_run_the_handlers(driver: str) -> None:
    clock = FakeClock()
    store = InMemoryDeliveryStore(lease=2.5, _clock=clock)
    router, runs = counting_router(SECRET, store, clock, in_flight_timeout=10)
    store.claim(KEY)  # a worker that was killed: its lease lapses after 2.5 s
    started = clock.now

    result = run(driver, router)

    assert (result.status, result.reason) == (200, "handled")
    assert runs == [1]
    # The last pause ends exactly when the lease does: no time wasted past it.
    assert clock.now - started == pytest.approx(2.5)


@pytest.mark.parametrize("driver", DRIVERS)
def test_a_claim_completed_elsewhere_during_the_wait_is_a_duplicate(driver: str) -> None:
    clock = FakeClock()
    store = InMemoryDeliveryStore(_clock=clock)
    other = store.claim(KEY)

    def sleep(seconds: float) -> None:
        clock.sleep(seconds)
        if len(clock.slept) == 3:
            assert other.token
            store.complete(KEY, other.token)

    router, runs = counting_router(SECRET, store, clock, sleep=sleep)

    result = run(driver, router)

    assert (result.status, result.reason) == (200, "duplicate")
    assert runs == []
    assert len(clock.slept) == 3


@pytest.mark.parametrize("driver", DRIVERS)
def test_a_claim_released_elsewhere_during_the_wait_runs_here(driver: str) -> None:
    clock = FakeClock()
    store = InMemoryDeliveryStore(_clock=clock)
    other = store.claim(KEY)

    def sleep(seconds: float) -> None:
        clock.sleep(seconds)
        assert other.token
        store.release(KEY, other.token)

    router, runs = counting_router(SECRET, store, clock, sleep=sleep)
    assert run(driver, router).reason == "handled"
    assert runs == [1]


# --- a copy in flight in this process: wait on it, bounded --------------------------------------


def test_a_thread_waiting_on_a_hung_copy_gets_409_after_the_timeout() -> None:
    router = WebhookRouter(SECRET, in_flight_timeout=0.3)
    entered, release = threading.Event(), threading.Event()

    @router.on("*")
    def hangs(event: Event) -> None:
        entered.set()
        assert release.wait(10)

    first: dict[str, WebhookResult] = {}
    worker = threading.Thread(target=lambda: first.update(r=router.handle_sync(*delivery())))
    worker.start()
    assert entered.wait(10)
    started = time.monotonic()
    busy = router.handle_sync(*delivery())
    waited = time.monotonic() - started
    release.set()
    worker.join(10)

    assert (busy.status, busy.reason) == (409, "in_flight")
    assert 0.25 < waited < 3.0
    assert first["r"].reason == "handled"
    assert router.handle_sync(*delivery()).reason == "duplicate"


@pytest.mark.asyncio
async def test_a_task_waiting_on_a_hung_copy_gets_409_and_the_loop_keeps_serving() -> None:
    router = WebhookRouter(SECRET, in_flight_timeout=0.3)
    entered, release = asyncio.Event(), asyncio.Event()

    @router.on("*")
    async def hangs(event: Event) -> None:
        entered.set()
        await release.wait()

    first = asyncio.ensure_future(router.handle(*delivery()))
    await entered.wait()
    started = time.monotonic()
    duplicates = await asyncio.gather(*(router.handle(*delivery()) for _ in range(5)))
    waited = time.monotonic() - started
    release.set()

    assert {(r.status, r.reason) for r in duplicates} == {(409, "in_flight")}
    assert 0.25 < waited < 3.0
    assert (await first).reason == "handled"
    assert (await router.handle(*delivery())).reason == "duplicate"


@pytest.mark.asyncio
async def test_an_in_process_waiter_wakes_as_soon_as_the_first_copy_ends() -> None:
    router = WebhookRouter(SECRET, in_flight_timeout=30)
    entered, release = threading.Event(), threading.Event()
    router.add_handler("*", lambda event: (entered.set(), release.wait(10)))

    first = asyncio.ensure_future(router.handle(*delivery()))
    await asyncio.to_thread(entered.wait, 10)
    waiting = asyncio.ensure_future(router.handle(*delivery()))
    await asyncio.sleep(0.05)
    assert not waiting.done()
    started = time.monotonic()
    release.set()
    results = await asyncio.gather(first, waiting)
    assert [r.reason for r in results] == ["handled", "duplicate"]
    assert time.monotonic() - started < 2.0  # woken by the event, not by the 30 s timeout


def test_waiters_on_threads_and_loops_share_one_flight() -> None:
    router = WebhookRouter(SECRET, in_flight_timeout=10)
    entered, release = threading.Event(), threading.Event()
    runs: list[int] = []

    @router.on("*")
    def once(event: Event) -> None:
        runs.append(1)
        entered.set()
        assert release.wait(10)

    results: list[Any] = []
    lock = threading.Lock()

    def on_thread() -> None:
        result = router.handle_sync(*delivery())
        with lock:
            results.append(result.reason)

    def on_loop() -> None:
        result = asyncio.run(router.handle(*delivery()))
        with lock:
            results.append(result.reason)

    first = threading.Thread(target=on_thread)
    first.start()
    assert entered.wait(10)
    others = [threading.Thread(target=t) for t in (on_thread, on_loop, on_loop)]
    for thread in others:
        thread.start()
    time.sleep(0.05)
    release.set()
    for thread in [first, *others]:
        thread.join(10)
    assert sorted(results) == ["duplicate"] * 3 + ["handled"]
    assert runs == [1]


@pytest.mark.parametrize("timeout", [0, -1, float("inf"), "5", True])
def test_in_flight_timeout_must_be_positive_seconds(timeout: Any) -> None:
    from bpcpay import InvalidArgumentError

    with pytest.raises(InvalidArgumentError, match="in_flight_timeout"):
        WebhookRouter(SECRET, in_flight_timeout=timeout)
