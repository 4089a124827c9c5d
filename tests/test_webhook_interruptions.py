"""Interrupted handlers and failing stores never lose an event, in both drivers, on every store.

An interruption (SystemExit from a worker timeout, KeyboardInterrupt, CancelledError, any other
BaseException) propagates, and the claim is released first, so the gateway's retry runs the
handlers. A store that fails while completing or releasing leaves a claim that lapses after its
lease (a fake clock moves it there), so nothing stays stuck.
"""

from __future__ import annotations

import asyncio
import json
import logging
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from _stores import STORE_KINDS, Driven, FakeClock, build, counting_router, store_options

from bpcpay.models import Event
from bpcpay.webhooks import Claim, InMemoryDeliveryStore, WebhookRouter, sign

SECRET = "whsec_interruptions_not_real"
LEASE = 60.0


class Shutdown(BaseException):
    """A BaseException no library knows about."""


INTERRUPTIONS: dict[str, Callable[[], BaseException]] = {
    "SystemExit": lambda: SystemExit(1),
    "KeyboardInterrupt": KeyboardInterrupt,
    "CancelledError": asyncio.CancelledError,
    "BaseException": lambda: Shutdown("stop now"),
}
SYNC_KINDS = [k for k in STORE_KINDS if not k.endswith("-async")]


def delivery(object_id: str = "ps_int") -> tuple[bytes, dict[str, str]]:
    obj = {"id": object_id, "amount": 100, "currency": "EUR", "status": "complete"}
    body = json.dumps(
        {"created": "2024-03-28T08:30:00Z", "type": "session.completed", "data": {"object": obj}}
    ).encode()
    return body, {"X-Signature": sign(body, SECRET)}


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


def driven_store(
    kind: str, request: pytest.FixtureRequest, tmp_path: Path, clock: FakeClock
) -> Driven:
    options = store_options(kind, request, tmp_path)
    return Driven(build(kind, options, lease=LEASE, _clock=clock))


@pytest.fixture
def store_factory(
    request: pytest.FixtureRequest, tmp_path: Path, clock: FakeClock
) -> Iterator[Callable[[str], Driven]]:
    opened: list[Driven] = []

    def make(kind: str) -> Driven:
        store = driven_store(kind, request, tmp_path, clock)
        opened.append(store)
        return store

    yield make
    for store in opened:
        store.close()


def interrupting_router(
    store: Any, exc: BaseException, clock: FakeClock
) -> tuple[WebhookRouter, list[int]]:
    router = WebhookRouter(SECRET, store=store, _clock=clock, _wall=clock, _sleep=clock.sleep)
    runs: list[int] = []

    @router.on("session.completed")
    def handler(event: Event) -> None:
        runs.append(1)
        if len(runs) == 1:
            raise exc

    return router, runs


@pytest.mark.parametrize("interruption", INTERRUPTIONS)
@pytest.mark.parametrize("kind", SYNC_KINDS)
def test_handle_sync_releases_the_claim_on_any_interruption(
    kind: str, interruption: str, store_factory: Callable[[str], Driven], clock: FakeClock
) -> None:
    store = store_factory(kind)
    exc = INTERRUPTIONS[interruption]()
    router, runs = interrupting_router(store.store, exc, clock)

    with pytest.raises(type(exc)) as info:
        router.handle_sync(*delivery())
    assert info.value is exc  # the very interruption propagates, unchanged

    retry = router.handle_sync(*delivery())
    assert (retry.status, retry.reason) == (200, "handled")
    assert runs == [1, 1]
    assert router.handle_sync(*delivery()).reason == "duplicate"
    assert clock.slept == []  # released at once: the retry did not wait for a lease


@pytest.mark.parametrize("interruption", INTERRUPTIONS)
@pytest.mark.parametrize("kind", STORE_KINDS)
@pytest.mark.parametrize("handler_style", ["async", "thread"])
def test_handle_releases_the_claim_on_any_interruption(
    kind: str,
    interruption: str,
    handler_style: str,
    store_factory: Callable[[str], Driven],
    clock: FakeClock,
) -> None:
    store = store_factory(kind)
    exc = INTERRUPTIONS[interruption]()
    router = WebhookRouter(SECRET, store=store.store, _clock=clock, _wall=clock)
    runs: list[str] = []

    def plain(event: Event) -> None:
        runs.append("plain")
        if len(runs) == 1:
            raise exc

    async def coroutine(event: Event) -> None:
        plain(event)

    router.add_handler("*", coroutine if handler_style == "async" else plain)

    # A private loop: SystemExit and KeyboardInterrupt leave asyncio's loop, as in a server.
    with pytest.raises(type(exc)):
        store.loop.run_until_complete(router.handle(*delivery()))
    retry = store.loop.run_until_complete(router.handle(*delivery()))
    assert (retry.status, retry.reason) == (200, "handled")
    assert runs == ["plain", "plain"]


@pytest.mark.parametrize("kind", STORE_KINDS)
def test_a_cancelled_task_releases_its_claim(
    kind: str, store_factory: Callable[[str], Driven], clock: FakeClock
) -> None:
    store = store_factory(kind)
    router = WebhookRouter(SECRET, store=store.store, _clock=clock, _wall=clock)
    started = asyncio.Event()
    runs: list[int] = []

    @router.on("*")
    async def hangs(event: Event) -> None:
        runs.append(1)
        if len(runs) == 1:
            started.set()
            await asyncio.sleep(3600)

    async def scenario() -> str:
        task = asyncio.ensure_future(router.handle(*delivery()))
        await started.wait()
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        return (await router.handle(*delivery())).reason

    assert store.loop.run_until_complete(scenario()) == "handled"
    assert runs == [1, 1]


def test_a_cancelled_task_whose_plain_handler_still_runs_releases_when_the_thread_ends() -> None:
    # Real clocks: the retry below really waits its 0.2 s for the claim in flight.
    store = InMemoryDeliveryStore()
    router = WebhookRouter(SECRET, store=store, in_flight_timeout=0.2)
    entered, release = threading.Event(), threading.Event()
    runs: list[int] = []

    @router.on("*")
    def slow(event: Event) -> None:
        runs.append(1)
        if len(runs) == 1:
            entered.set()
            assert release.wait(10)
            raise RuntimeError("the first attempt fails after its caller left")

    async def scenario() -> list[str]:
        task = asyncio.ensure_future(router.handle(*delivery()))
        await asyncio.to_thread(entered.wait, 10)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        # The thread still runs the handler: the claim must still be held, so a retry now
        # cannot run the handler a second time alongside it.
        assert len(store) == 1
        busy = await router.handle(*delivery())
        release.set()
        for _ in range(500):  # the release is scheduled when the thread ends
            await asyncio.sleep(0.01)
            if len(store) == 0:
                break
        return [busy.reason, (await router.handle(*delivery())).reason]

    loop = asyncio.new_event_loop()
    try:
        reasons = loop.run_until_complete(scenario())
    finally:
        loop.run_until_complete(loop.shutdown_default_executor())
        loop.close()
    assert reasons == ["in_flight", "handled"]
    assert runs == [1, 1]


# --- a store failing to complete or release leaves a lease that lapses --------------------------


class FlakyStore(InMemoryDeliveryStore):
    """An in-memory store whose complete and release can be made to fail."""

    def __init__(self, clock: FakeClock) -> None:
        super().__init__(lease=LEASE, _clock=clock)
        self.fail_complete = False
        self.complete_failures = 0  # the next this many completes fail
        self.fail_release = False
        self.fail_claim = False

    def claim(self, key: str) -> Claim:
        if self.fail_claim:
            raise ConnectionError("store down")
        return super().claim(key)

    def complete(self, key: str, token: str) -> bool:
        if self.complete_failures:
            self.complete_failures -= 1
            raise ConnectionError("store blip")
        if self.fail_complete:
            raise ConnectionError("store down")
        return super().complete(key, token)

    def release(self, key: str, token: str) -> bool:
        if self.fail_release:
            raise ConnectionError("store down")
        return super().release(key, token)


def run(driver: str, router: WebhookRouter, *, object_id: str = "ps_int") -> Any:
    if driver == "sync":
        return router.handle_sync(*delivery(object_id))
    return asyncio.run(router.handle(*delivery(object_id)))


DRIVERS = ["sync", "async"]


@pytest.mark.parametrize("driver", DRIVERS)
def test_a_failed_release_after_a_handler_error_lapses_with_the_lease(
    driver: str, clock: FakeClock, caplog: pytest.LogCaptureFixture
) -> None:
    store = FlakyStore(clock)
    router = WebhookRouter(SECRET, store=store, _clock=clock, _wall=clock, _sleep=clock.sleep)
    runs: list[int] = []

    @router.on("*")
    def fails_once(event: Event) -> None:
        runs.append(1)
        if len(runs) == 1:
            raise RuntimeError("handler failed")

    store.fail_release = True
    first = run(driver, router)
    assert (first.status, first.reason) == (500, "handler_error")
    assert "could not release" in caplog.text
    store.fail_release = False

    retry = run(driver, router)  # within the lease: waits, bounded, then 409
    assert (retry.status, retry.reason) == (409, "in_flight")
    assert runs == [1]
    clock.advance(LEASE)
    assert run(driver, router).reason == "handled"
    assert runs == [1, 1]


@pytest.mark.parametrize("driver", DRIVERS)
def test_a_failed_release_after_an_interruption_lapses_and_the_interruption_wins(
    driver: str, clock: FakeClock
) -> None:
    store = FlakyStore(clock)
    router, runs = interrupting_router(store, KeyboardInterrupt(), clock)
    store.fail_release = True
    with pytest.raises(KeyboardInterrupt):
        run(driver, router)
    store.fail_release = False
    clock.advance(LEASE + 1)
    assert run(driver, router).reason == "handled"
    assert runs == [1, 1]


@pytest.mark.parametrize("driver", DRIVERS)
def test_a_failed_complete_still_answers_handled_and_the_lease_lapses(
    driver: str, clock: FakeClock, caplog: pytest.LogCaptureFixture
) -> None:
    store = FlakyStore(clock)
    router, runs = counting_router(SECRET, store, clock)

    store.fail_complete = True
    first = run(driver, router)
    store.fail_complete = False
    # The handler's work is done: answering 500 would only make the gateway hammer a lease.
    assert (first.status, first.reason) == (200, "handled")
    assert "could not record it" in caplog.text
    clock.advance(LEASE + 1)
    # Nothing was recorded, so after the lease a redelivery runs again (at least once).
    assert run(driver, router).reason == "handled"
    assert runs == [1, 1]


@pytest.mark.parametrize("driver", DRIVERS)
def test_a_store_that_cannot_claim_is_answered_503(
    driver: str, clock: FakeClock, caplog: pytest.LogCaptureFixture
) -> None:
    store = FlakyStore(clock)
    router, runs = counting_router(SECRET, store, clock)
    store.fail_claim = True
    result = run(driver, router)
    assert (result.status, result.reason) == (503, "store_unavailable")
    assert isinstance(result.error, ConnectionError)
    assert runs == []
    store.fail_claim = False
    assert run(driver, router).reason == "handled"


@pytest.mark.parametrize("driver", DRIVERS)
def test_completing_after_the_lease_was_taken_over_is_reported(
    driver: str, clock: FakeClock, caplog: pytest.LogCaptureFixture
) -> None:
    store = InMemoryDeliveryStore(lease=LEASE, _clock=clock)
    router = WebhookRouter(SECRET, store=store, _clock=clock, _wall=clock)

    @router.on("*")
    def too_slow(event: Event) -> None:
        clock.advance(LEASE + 1)  # the handler outlives its lease ...
        assert store.claim("evt:session.completed:ps_int").status == "claimed"  # ... and loses it

    caplog.set_level(logging.WARNING, logger="bpcpay")
    result = run(driver, router)
    assert result.reason == "handled"
    assert result.recorded is False  # the new holder's claim was left alone
    assert "took evt:session.completed:ps_int over" in caplog.text


class SlowReleaseStore:
    """An async store whose release hangs (a network partition, say)."""

    def __init__(self, clock: FakeClock) -> None:
        self.inner = InMemoryDeliveryStore(lease=LEASE, _clock=clock)
        self.lease = LEASE

    async def claim(self, key: str) -> Claim:
        return self.inner.claim(key)

    async def renew(self, key: str, token: str) -> bool:
        return self.inner.renew(key, token)

    async def complete(self, key: str, token: str) -> bool:
        return self.inner.complete(key, token)

    async def release(self, key: str, token: str) -> bool:
        await asyncio.sleep(3600)
        raise AssertionError("never reached")


def test_a_release_after_cancellation_is_bounded_and_the_lease_covers_the_rest(
    clock: FakeClock, monkeypatch: pytest.MonkeyPatch
) -> None:
    from bpcpay.webhooks import _drivers

    monkeypatch.setattr(_drivers, "_SHIELD_DEADLINE", 0.05)
    store = SlowReleaseStore(clock)
    router, runs = interrupting_router(store, asyncio.CancelledError(), clock)
    loop = asyncio.new_event_loop()
    try:
        with pytest.raises(asyncio.CancelledError):
            loop.run_until_complete(router.handle(*delivery()))
        clock.advance(LEASE + 1)
        retry = loop.run_until_complete(router.handle(*delivery()))
    finally:
        loop.close()
    assert retry.reason == "handled"
    assert runs == [1, 1]


def test_a_failed_late_release_is_logged_and_lapses(
    clock: FakeClock, caplog: pytest.LogCaptureFixture
) -> None:
    store = FlakyStore(clock)
    store.fail_release = True
    router = WebhookRouter(SECRET, store=store, _clock=clock, _wall=clock)
    entered, release = threading.Event(), threading.Event()
    runs: list[int] = []

    @router.on("*")
    def fails_late(event: Event) -> None:
        runs.append(1)
        entered.set()
        assert release.wait(10)
        if len(runs) == 1:
            raise RuntimeError("the handler failed after its caller left")

    async def scenario() -> None:
        task = asyncio.ensure_future(router.handle(*delivery()))
        await asyncio.to_thread(entered.wait, 10)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        release.set()
        for _ in range(500):
            await asyncio.sleep(0.01)
            if "could not release" in caplog.text:
                return

    asyncio.run(scenario())
    assert "could not release" in caplog.text
    store.fail_release = False
    clock.advance(LEASE + 1)
    assert router.handle_sync(*delivery()).reason == "handled"


# --- cancellations that land in the store's calls, and a thread that outlives its caller --------

ASYNC_KINDS = ["redis-async", "postgres-async"]
SHORT = 1.0


class Stalling:
    """An async store whose reply to one method is late: the caller can be cancelled while it
    waits. For ``claim`` the store has taken the claim when the caller is cancelled (the reply
    was on its way); for ``complete`` nothing is recorded yet."""

    def __init__(self, inner: Any, method: str) -> None:
        self.inner = inner
        self.method = method
        self.lease = inner.lease
        self.reached = asyncio.Event()  # bound to the loop that first waits on it

    async def _call(self, name: str, *args: str) -> Any:
        reached = self.reached
        if name != self.method or reached.is_set():
            return await getattr(self.inner, name)(*args)
        if name == "claim":
            result = await getattr(self.inner, name)(*args)  # taken in the store ...
            reached.set()
            await asyncio.sleep(0.3)  # ... and the reply is late
            return result
        reached.set()
        await asyncio.sleep(0.3)  # the call is on its way
        return await getattr(self.inner, name)(*args)

    async def claim(self, key: str) -> Claim:
        claim: Claim = await self._call("claim", key)
        return claim

    async def complete(self, key: str, token: str) -> bool:
        return bool(await self._call("complete", key, token))

    async def release(self, key: str, token: str) -> bool:
        return bool(await self._call("release", key, token))

    async def renew(self, key: str, token: str) -> bool:
        return bool(await self._call("renew", key, token))


def _cancelled_on(stalling: Stalling, router: WebhookRouter) -> Any:
    async def scenario() -> None:
        task = asyncio.ensure_future(router.handle(*delivery()))
        await stalling.reached.wait()
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task

    return scenario()


@pytest.mark.parametrize("kind", ASYNC_KINDS)
def test_a_claim_interrupted_by_a_cancellation_does_not_hold_the_event(
    kind: str, request: pytest.FixtureRequest, tmp_path: Path
) -> None:
    options = store_options(kind, request, tmp_path)
    store = Driven(build(kind, options), options)  # the default lease
    stalling = Stalling(store.store, "claim")
    router = WebhookRouter(SECRET, store=stalling, in_flight_timeout=3)
    runs: list[int] = []
    router.add_handler("*", lambda event: runs.append(1))
    try:
        store.loop.run_until_complete(_cancelled_on(stalling, router))
        retry = store.loop.run_until_complete(router.handle(*delivery()))  # the gateway's retry
    finally:
        store.close()
    assert (retry.status, retry.reason) == (200, "handled")
    assert runs == [1]


@pytest.mark.parametrize("kind", ASYNC_KINDS)
def test_a_cancellation_during_complete_still_records_the_event_done(
    kind: str, request: pytest.FixtureRequest, tmp_path: Path
) -> None:
    options = store_options(kind, request, tmp_path)
    store = Driven(build(kind, options, lease=SHORT), options)
    stalling = Stalling(store.store, "complete")
    router = WebhookRouter(SECRET, store=stalling)
    runs: list[int] = []
    router.add_handler("*", lambda event: runs.append(1))
    try:
        store.loop.run_until_complete(_cancelled_on(stalling, router))
        time.sleep(SHORT + 0.3)  # past the lease: an unrecorded claim has lapsed by now
        retry = store.loop.run_until_complete(router.handle(*delivery()))
    finally:
        store.close()
    assert retry.reason == "duplicate"
    assert runs == [1]


@pytest.mark.parametrize("kind", STORE_KINDS)
def test_a_plain_handler_that_returns_after_its_caller_was_cancelled_completes_the_event(
    kind: str, store_factory: Callable[[str], Driven]
) -> None:
    store = store_factory(kind)
    router = WebhookRouter(SECRET, store=store.store)
    entered, finish = threading.Event(), threading.Event()
    runs: list[int] = []

    @router.on("*")
    def slow(event: Event) -> None:
        runs.append(1)
        entered.set()
        assert finish.wait(10)  # then returns normally: the work is done

    async def scenario() -> str:
        task = asyncio.ensure_future(router.handle(*delivery()))
        await asyncio.to_thread(entered.wait, 10)
        task.cancel()  # the request went away (a client disconnect, a server shutdown)
        with pytest.raises(asyncio.CancelledError):
            await task
        finish.set()
        return (await router.handle(*delivery())).reason  # the gateway's retry

    assert store.loop.run_until_complete(scenario()) == "duplicate"
    assert runs == [1]


@pytest.mark.parametrize("driver", DRIVERS)
def test_a_complete_that_fails_is_retried_and_the_event_recorded(
    driver: str, clock: FakeClock, caplog: pytest.LogCaptureFixture
) -> None:
    store = FlakyStore(clock)
    store.complete_failures = 2  # the store blips twice, then answers
    router, runs = counting_router(SECRET, store, clock)
    first = run(driver, router)
    assert (first.status, first.reason) == (200, "handled")
    clock.advance(LEASE + 1)  # long past the lease: only a recorded completion stops a rerun
    assert run(driver, router).reason == "duplicate"
    assert runs == [1]
