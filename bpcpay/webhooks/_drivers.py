"""The delivery plan's two drivers: blocking I/O for ``handle_sync``, asyncio for ``handle``.

Owns how each effect of ``_plan`` is performed, and nothing of what to do: the in-process
flights that local duplicates wait on (any thread, any loop), handlers run on the caller's
thread or in a worker thread, the store called directly, in a thread (a blocking store under
asyncio) or awaited, the claim's renewals handed to the heartbeat, and the shielding of what
must not be cut short: a claim that was taken as its caller was cancelled is released, and a
completion or a release runs to its end (bounded) before the cancellation goes on.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import contextvars
import functools
import inspect
import threading
import time
from collections.abc import Awaitable, Callable
from typing import Any, Final, TypeVar

from .._log import library_logger
from ..models import Event
from ._effects import Plan, drive, drive_async
from ._heartbeat import HEARTBEAT, Beat, HolderGone
from ._plan import (
    AsyncHandlerError,
    DeliveryPlan,
    Dispatch,
    EventHandler,
    Hold,
    Retrieve,
    StoreCall,
    Wait,
)
from .stores._base import ClaimStatus

__all__ = ["AsyncDriver", "Flights", "SyncDriver"]

logger = library_logger("webhooks")

#: Seconds a shielded store call may take (on top of the store's own timeout, which bounds it
#: first: this bounds a store of the user's own that has none).
_SHIELD_DEADLINE: Final = 10.0
R = TypeVar("R")


class _Flight:
    """One key being processed in this process; local duplicates wait on it (any thread/loop)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._done = threading.Event()
        self._waiters: list[tuple[asyncio.AbstractEventLoop, asyncio.Future[None]]] = []

    def finish(self) -> None:
        with self._lock:
            self._done.set()
            waiters, self._waiters = self._waiters, []
        for loop, future in waiters:
            # A closed loop raises RuntimeError: nobody waits there any more.
            with contextlib.suppress(RuntimeError):
                loop.call_soon_threadsafe(_resolve, future)

    def wait(self, timeout: float) -> bool:
        return self._done.wait(timeout)

    async def wait_async(self, timeout: float) -> bool:
        loop = asyncio.get_running_loop()
        future: asyncio.Future[None] = loop.create_future()
        with self._lock:
            if self._done.is_set():
                return True
            self._waiters.append((loop, future))
        try:
            await asyncio.wait_for(future, timeout)
        except asyncio.TimeoutError:
            return False
        finally:
            with self._lock:
                if (loop, future) in self._waiters:
                    self._waiters.remove((loop, future))
        return True


def _resolve(future: asyncio.Future[None]) -> None:
    if not future.done():
        future.set_result(None)


class Flights:
    """The keys being processed in this process: the first copy owns a flight, the others wait
    on it (the store would only tell them "in flight" while it runs)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._flights: dict[str, _Flight] = {}

    def begin(self, key: str) -> tuple[_Flight, bool]:
        """(flight, mine): the flight for ``key``; ``mine`` when this caller owns it."""
        with self._lock:
            flight = self._flights.get(key)
            if flight is not None:
                return flight, False
            flight = self._flights[key] = _Flight()
            return flight, True

    def end(self, key: str, flight: object) -> None:
        """The owner is done: wake the copies waiting on ``flight``."""
        assert isinstance(flight, _Flight)
        with self._lock:
            if self._flights.get(key) is flight:
                del self._flights[key]
        flight.finish()

    def __len__(self) -> int:
        with self._lock:
            return len(self._flights)


def _interval(store: Any) -> float:
    """Renew at a third of the lease: two renewals may fail before the lease lapses."""
    return float(store.lease) / 3


def _discard(awaitable: object) -> None:
    # Close an un-awaited coroutine so it does not warn "never awaited".
    close = getattr(awaitable, "close", None)
    if callable(close):
        close()


def is_async_store(store: object) -> bool:
    """True when the store's methods are coroutine functions."""
    return inspect.iscoroutinefunction(getattr(store, "claim", None))


class SyncDriver:
    """Performs effects with blocking calls on the caller's thread (``handle_sync``)."""

    def __init__(self, store: Any, *, sleep: Callable[[float], object] | None) -> None:
        self._store = store
        self._sleep = sleep or time.sleep

    def run(self, plan: Plan[R]) -> R:
        """Run ``plan`` to its end."""
        return drive(plan, self._perform)

    def _perform(self, effect: Any) -> Any:
        if isinstance(effect, StoreCall):
            method = getattr(self._store, effect.method)
            return method(effect.key) if effect.token is None else method(effect.key, effect.token)
        if isinstance(effect, Dispatch):
            return self._dispatch(effect)
        if isinstance(effect, Wait):
            if effect.flight is not None:
                assert isinstance(effect.flight, _Flight)
                return effect.flight.wait(effect.seconds)
            self._sleep(effect.seconds)
            return None
        assert isinstance(effect, Retrieve)
        return getattr(effect.client, effect.resource).retrieve(effect.object_id)

    def _dispatch(self, effect: Dispatch) -> None:
        hold = effect.hold
        renew = functools.partial(self._store.renew, hold.key, hold.token)
        beat = HEARTBEAT.start(hold, renew, _interval(self._store))
        try:
            for handler in effect.handlers:
                if inspect.iscoroutinefunction(handler):
                    raise AsyncHandlerError(handler)
                result = handler(effect.event)
                if inspect.isawaitable(result):
                    _discard(result)
                    raise AsyncHandlerError(handler)
            hold.returned = True
        finally:
            HEARTBEAT.stop(beat)


class _Call:
    """Per-call state of the async driver: a cancellation held back by a shielded effect."""

    __slots__ = ("cancelled",)

    def __init__(self) -> None:
        self.cancelled: BaseException | None = None


class AsyncDriver:
    """Performs effects with asyncio (``handle``, ``reconcile``).

    Args:
        store: the router's store, async or blocking.
        plans: the router's delivery plan (a detached handler is settled with it).
        sleep: the pause (``asyncio.sleep`` by default; tests pass a fake).
        in_thread: run plain handlers in a worker thread (else on the loop's thread).
    """

    def __init__(
        self,
        store: Any,
        *,
        plans: DeliveryPlan,
        sleep: Callable[[float], object] | None,
        in_thread: bool,
    ) -> None:
        self._store = store
        self._plans = plans
        self._sleep = sleep or asyncio.sleep
        self._in_thread = in_thread
        self._async_store = is_async_store(store)
        self._background: set[asyncio.Task[None]] = set()

    async def run(self, plan: Plan[R]) -> R:
        """Run ``plan`` to its end; a cancellation held back by a shielded effect is raised
        once the plan has finished."""
        call = _Call()
        result = await drive_async(plan, lambda effect: self._perform(effect, call))
        if call.cancelled is not None:
            raise call.cancelled
        return result

    async def _perform(self, effect: Any, call: _Call) -> Any:
        if isinstance(effect, StoreCall):
            if effect.shielded:
                return await self._shielded(self._store_call(effect), call)
            return await self._claim(effect)
        if isinstance(effect, Dispatch):
            return await self._dispatch(effect)
        if isinstance(effect, Wait):
            if effect.flight is not None:
                assert isinstance(effect.flight, _Flight)
                return await effect.flight.wait_async(effect.seconds)
            if effect.shielded:
                return await self._shielded(self._pause(effect.seconds), call)
            return await self._pause(effect.seconds)
        assert isinstance(effect, Retrieve)
        return await getattr(effect.client, effect.resource).retrieve(effect.object_id)

    async def _pause(self, seconds: float) -> None:
        slept = self._sleep(seconds)
        if inspect.isawaitable(slept):
            await slept

    async def _store_call(self, effect: StoreCall) -> Any:
        method = getattr(self._store, effect.method)
        args = (effect.key,) if effect.token is None else (effect.key, effect.token)
        if self._async_store or not getattr(self._store, "blocking", True):
            result = method(*args)
        else:
            # A blocking store (SQLite, PostgreSQL, Redis sync) must not stall the loop.
            result = await asyncio.to_thread(method, *args)
        if inspect.isawaitable(result):
            result = await result
        return result

    async def _shielded(self, work: Awaitable[Any], call: _Call) -> Any:
        """Run ``work`` to its end (within ``_SHIELD_DEADLINE``) even if cancelled meanwhile;
        the cancellation is held back in ``call`` and raised when the plan has finished."""
        task = asyncio.ensure_future(work)
        deadline = asyncio.get_running_loop().time() + _SHIELD_DEADLINE
        while not task.done():
            left = deadline - asyncio.get_running_loop().time()
            if left <= 0:
                task.cancel()
                raise TimeoutError(f"the store did not answer within {_SHIELD_DEADLINE:g} s")
            try:
                await asyncio.wait({task}, timeout=left)
            except asyncio.CancelledError as exc:
                call.cancelled = call.cancelled or exc
        return task.result()

    async def _claim(self, effect: StoreCall) -> Any:
        task = asyncio.ensure_future(self._store_call(effect))
        try:
            return await asyncio.shield(task)
        except asyncio.CancelledError:
            # The store may take the claim after all (or already has: its answer was on the
            # way): release it then, instead of holding the event for a lease.
            task.add_done_callback(functools.partial(self._release_orphan, effect.key))
            raise

    def _release_orphan(self, key: str, task: asyncio.Future[Any]) -> None:
        if task.cancelled() or task.exception() is not None:
            return
        claim = task.result()
        if getattr(claim, "status", None) == ClaimStatus.CLAIMED and claim.token:
            self._spawn(self._plans.release(key, claim.token))

    def _spawn(self, plan: Plan[None]) -> None:
        async def settle() -> None:
            try:
                await self.run(plan)
            except Exception as exc:  # logged; the claim lapses with its lease
                logger.error("webhook: settling a claim in the background failed", exc_info=exc)

        task = asyncio.get_running_loop().create_task(settle())
        self._background.add(task)
        task.add_done_callback(self._background.discard)

    def _renewal(self, hold: Hold) -> Callable[[], bool]:
        """What the heartbeat thread calls to renew ``hold``, a claim of this loop's."""
        loop = asyncio.get_running_loop()
        store = self._store
        # A renewal that waits on a busy loop longer than an interval would only hold up the
        # heartbeat's other claims: the next beat tries again.
        bound = min(float(getattr(store, "timeout", _SHIELD_DEADLINE)), _interval(store))

        def renew() -> bool:
            if loop.is_closed():
                raise HolderGone
            if not self._async_store:
                return bool(store.renew(hold.key, hold.token))
            # The store's connections belong to the loop: renew there, wait here.
            renewal = store.renew(hold.key, hold.token)
            try:
                future = asyncio.run_coroutine_threadsafe(renewal, loop)
            except RuntimeError:  # the loop closed meanwhile
                renewal.close()
                raise HolderGone from None
            try:
                return bool(future.result(timeout=bound))
            except concurrent.futures.TimeoutError:
                future.cancel()
                raise TimeoutError(f"no renewal within {bound:g} s") from None

        return renew

    async def _dispatch(self, effect: Dispatch) -> None:
        hold = effect.hold
        beat = HEARTBEAT.start(hold, self._renewal(hold), _interval(self._store))
        try:
            for index, handler in enumerate(effect.handlers):
                last = index == len(effect.handlers) - 1
                if self._in_thread and not inspect.iscoroutinefunction(handler):
                    result = await self._in_worker_thread(handler, effect.event, beat, last)
                else:
                    result = handler(effect.event)
                if inspect.isawaitable(result):
                    await result
            hold.returned = True
        finally:
            if not hold.detached:
                HEARTBEAT.stop(beat)

    async def _in_worker_thread(
        self, handler: EventHandler, event: Event, beat: Beat, last: bool
    ) -> Any:
        hold = beat.hold
        loop = asyncio.get_running_loop()

        def body() -> Any:
            try:
                return handler(event)
            finally:
                if hold.detached or loop.is_closed():
                    HEARTBEAT.stop(beat)  # its caller is gone: renewals end with the handler

        thread = loop.run_in_executor(None, contextvars.copy_context().run, body)
        try:
            # Shielded: a cancellation stops the wait, not the thread.
            return await asyncio.shield(thread)
        except asyncio.CancelledError:
            if not thread.done():
                # The handler still runs: releasing now would let a retry run it a second
                # time alongside. Keep the claim (renewed) until it ends, then settle it.
                hold.detached = True
                thread.add_done_callback(
                    functools.partial(self._settle_detached, event, beat, last)
                )
            elif last and not thread.cancelled() and thread.exception() is None:
                hold.returned = True  # it had returned: every handler did, complete it
            raise

    def _settle_detached(
        self, event: Event, beat: Beat, last: bool, thread: asyncio.Future[Any]
    ) -> None:
        HEARTBEAT.stop(beat)
        hold = beat.hold
        error = None if thread.cancelled() else thread.exception()
        if error is not None:
            logger.error(
                "webhook handler raised after its delivery was cancelled (%s)",
                hold.key,
                exc_info=error,
            )
        hold.returned = last and error is None and not thread.cancelled()
        hold.detached = False
        self._spawn(self._plans.settle(event, hold))
