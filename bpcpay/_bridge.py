"""The bridge from synchronous callers to the async client: one event loop thread per process.

Owns: the loop thread (an anyio BlockingPortal on the asyncio backend, hosted in a daemon
thread we start ourselves), the running-loop guard, fork and exit safety, and the base class
that the generated ``bpcpay._sync`` classes build on. Imports ``_async``; nothing imports this
but ``_sync``.

Why these choices (see ``sync-facade-notes.md`` for the measurements):

* **One loop thread per process, shared by every sync client** (each with its own aiohttp
  session). An app with a client per merchant account does not multiply threads; one loop
  thread serves thousands of requests a second, far more than a sync app sends.
* **One cross-thread hop per call.** The portal hosts the loop and runs the rare lifecycle
  calls; the hot path schedules the coroutine with one ``call_soon_threadsafe`` and waits on a
  ``concurrent.futures.Future`` (``portal.call`` would make two round trips). Cancelling that
  future (Ctrl-C, a close) cancels the task, and aiohttp aborts the connection.
* **contextvars flow in**: the coroutine runs in a copy of the caller's context, so logging and
  tracing context set by the caller are visible inside; changes made inside do not flow back.
* **Fork**: a child process cannot use its parent's loop thread (it does not exist there). The
  child starts its own thread on first use, and each client opens a fresh session in the child;
  inherited sockets are never closed from the child, since the parent still uses them.
* **Exit**: the thread is a daemon; an exit hook closes every client left open on the loop
  while the thread still lives, then stops it. Every wait has a timeout, and nothing ever joins
  the loop thread from itself.
* **Lifetime**: a resource (``client.sessions``) holds its client, and a ``with_options`` twin
  its parent, so ``BpcPay(...).sessions.create(...)`` keeps the client alive for the call. A
  client collected unclosed is closed quietly by a ``weakref.finalize`` (holding no reference to
  the client) that schedules the close on the loop and never waits: collection can happen in
  any thread, the loop thread included, at any allocation. No warning: nothing is left open.
* **The backstop**: a caller waits for its result at most the call's worst case (every attempt
  at its full timeout, every backoff at its cap) plus a margin, so the transport's own deadlines
  always fire first; if the loop thread itself is stuck, the caller still gets an
  ``APITimeoutError`` naming the call's real method and path, with the usual outcome rule.
"""

from __future__ import annotations

import asyncio
import atexit
import concurrent.futures
import contextvars
import os
import threading
import weakref
from collections.abc import Callable, Coroutine
from typing import Any, TypeVar

import anyio
from anyio.from_thread import BlockingPortal

from ._async._client import AsyncBpcPay
from ._exceptions import ClientClosedError, SyncClientInAsyncContextError
from ._types import NOT_GIVEN

__all__ = ["LoopThread", "SyncClientBase", "SyncRunner", "loop_thread"]

T = TypeVar("T")
S = TypeVar("S", bound="SyncClientBase")

#: Extra seconds the caller waits beyond the transport's own worst case before giving up.
_BACKSTOP_MARGIN = 5.0
#: How long close() lets calls that are in flight in other threads finish.
CLOSE_GRACE = 5.0
#: How long closing a session at exit may take.
_FINALIZE_WAIT = 2.0
#: How long starting the loop thread may take (it takes milliseconds).
_START_WAIT = 30.0


class LoopThread:
    """An asyncio event loop running in a daemon thread, hosted by an anyio BlockingPortal."""

    def __init__(self) -> None:
        self.pid = os.getpid()
        self._ready = threading.Event()
        self._startup_error: BaseException | None = None
        self.loop: asyncio.AbstractEventLoop | None = None
        self.portal: BlockingPortal | None = None
        self.thread = threading.Thread(target=self._run, name="bpcpay-loop", daemon=True)
        self.thread.start()
        started = self._ready.wait(timeout=_START_WAIT)
        if not started or self._startup_error is not None:  # pragma: no cover - anyio failing
            raise RuntimeError("bpcpay could not start its event loop thread") from (
                self._startup_error
            )

    def _run(self) -> None:
        try:
            anyio.run(self._host, backend="asyncio")
        except BaseException as exc:  # pragma: no cover - reported to the starting thread
            self._startup_error = exc
            self._ready.set()

    async def _host(self) -> None:
        async with BlockingPortal() as portal:
            self.portal = portal
            self.loop = asyncio.get_running_loop()
            self._ready.set()
            await portal.sleep_until_stopped()

    @property
    def alive(self) -> bool:
        """True while the thread runs, in the process that started it."""
        return self.pid == os.getpid() and self.thread.is_alive()

    def submit(
        self,
        fn: Callable[..., Coroutine[Any, Any, T]],
        args: tuple[Any, ...],
        kwargs: dict[str, Any],
        future: concurrent.futures.Future[T] | None = None,
    ) -> concurrent.futures.Future[T]:
        """Run ``fn(*args, **kwargs)`` on the loop; one cross-thread hop.

        The coroutine is created on the loop thread, inside a copy of the caller's context.
        Cancelling the future (the one given, or a new one) cancels the task; cancelled before
        the loop got to it, the coroutine is never created.
        """
        loop = self.loop
        assert loop is not None
        context = contextvars.copy_context()
        if future is None:
            future = concurrent.futures.Future()

        def start() -> None:
            if future.cancelled():
                return
            try:
                task = context.run(lambda: loop.create_task(fn(*args, **kwargs)))
            except BaseException as exc:  # a synchronous error creating the coroutine
                future.set_exception(exc)
                return
            task.add_done_callback(lambda t: _copy_outcome(t, future))
            future.add_done_callback(
                lambda f: loop.call_soon_threadsafe(task.cancel) if f.cancelled() else None
            )

        loop.call_soon_threadsafe(start)
        return future

    def call_soon(self, fn: Callable[..., Coroutine[Any, Any, Any]], *args: Any) -> None:
        """Schedule ``fn(*args)`` on the loop and return at once: for a close that nobody
        waits for (garbage collection), from any thread, the loop's own included."""
        self.submit(fn, args, {})

    def call(self, fn: Callable[..., Coroutine[Any, Any, T]], *args: Any, timeout: float) -> T:
        """Run a lifecycle coroutine through the portal and wait at most ``timeout`` seconds."""
        portal = self.portal
        assert portal is not None
        result: T = portal.start_task_soon(fn, *args).result(timeout=timeout)
        return result

    def stop(self) -> None:
        """Stop the loop (at interpreter exit); never waits more than a moment."""
        portal, loop = self.portal, self.loop
        if portal is None or loop is None or not self.alive:
            return
        if threading.current_thread() is self.thread:  # pragma: no cover - defensive
            return
        try:
            portal.start_task_soon(portal.stop, True).result(timeout=_FINALIZE_WAIT)
        except BaseException:  # pragma: no cover - exiting; nothing useful to do
            return
        self.thread.join(timeout=_FINALIZE_WAIT)


def _copy_outcome(task: asyncio.Task[T], future: concurrent.futures.Future[T]) -> None:
    if future.cancelled():
        return
    try:
        if task.cancelled():
            future.cancel()
        elif task.exception() is not None:
            future.set_exception(task.exception())
        else:
            future.set_result(task.result())
    except concurrent.futures.InvalidStateError:
        # The caller cancelled the future from its own thread a moment ago (Ctrl-C, close):
        # it no longer wants the outcome.
        pass


_lock = threading.Lock()
_loop_thread: LoopThread | None = None
_parent_loops: list[LoopThread] = []


def loop_thread() -> LoopThread:
    """The process's loop thread, started on first use (and again in a forked child)."""
    global _loop_thread
    current = _loop_thread
    if current is not None and current.pid == os.getpid():
        return current
    with _lock:
        current = _loop_thread
        if current is None or current.pid != os.getpid():
            current = _loop_thread = LoopThread()
        return current


def _forget_parent_loop() -> None:
    # In a forked child the parent's loop thread does not exist; the lock may even be held by a
    # thread that was not copied. Start from scratch.
    global _loop_thread, _lock
    if _loop_thread is not None:
        # Keep the parent's loop objects reachable: finalizing them here would close file
        # descriptors (epoll, self-pipe) that are copies of the parent's, and warn.
        _parent_loops.append(_loop_thread)
    _loop_thread = None
    _lock = threading.Lock()


def _close_all_at_exit() -> None:
    # Close every client's session first (waiting a little for each), then stop the loop.
    # The clients' finalizers are not run at exit (atexit=False): this hook does their work.
    for runner in list(_runners):
        runner.finalize(wait=_FINALIZE_WAIT)
    current = _loop_thread
    if current is not None:
        current.stop()


os.register_at_fork(after_in_child=_forget_parent_loop)
atexit.register(_close_all_at_exit)
#: Every sync runner alive in this process, for the exit hook.
_runners: weakref.WeakSet[SyncRunner] = weakref.WeakSet()


class SyncRunner:
    """What a sync client holds: its async twin and the calls in flight.

    Holds no reference to the sync client, so a ``weakref.finalize`` can own it.
    """

    def __init__(self, impl: AsyncBpcPay, *, owner: bool = True) -> None:
        self._impl = impl
        #: False for a derived client (with_options): it does not own the connections.
        self.owner = owner
        self._pid = os.getpid()
        self._closed = False
        self._state_lock = threading.Lock()
        self._in_flight: set[concurrent.futures.Future[Any]] = set()
        _runners.add(self)

    @property
    def closed(self) -> bool:
        """True once close() was called."""
        return self._closed

    @property
    def impl(self) -> AsyncBpcPay:
        """The async client for this process (a fresh one after a fork)."""
        if self._pid != os.getpid():
            with self._state_lock:
                if self._pid != os.getpid():
                    # The inherited session's sockets belong to the parent: leave them alone.
                    self._impl = self._impl._for_forked_child()
                    self._in_flight = set()
                    self._state_lock = threading.Lock()
                    self._pid = os.getpid()
        return self._impl

    def run(self, fn: Callable[..., Coroutine[Any, Any, T]], /, *args: Any, **kwargs: Any) -> T:
        """Run ``fn(*args, **kwargs)`` (a bound method of the async client) and wait for it."""
        try:
            asyncio.get_running_loop()
        except RuntimeError:
            pass
        else:
            raise SyncClientInAsyncContextError(
                "BpcPay (the synchronous client) was called from a thread that runs an event "
                "loop, which it would block for the whole request. Use AsyncBpcPay and await "
                "its methods instead."
            )
        if self._closed:
            raise ClientClosedError("this BpcPay is closed; create a new client")
        impl = self.impl
        budget = impl._worst_case_seconds(kwargs.get("timeout", NOT_GIVEN)) + _BACKSTOP_MARGIN
        runner_thread = loop_thread()
        # The future exists before the request is scheduled, so a KeyboardInterrupt at any
        # point from here on reaches the except clause below, which cancels it.
        future: concurrent.futures.Future[T] = concurrent.futures.Future()
        try:
            with self._state_lock:
                self._in_flight.add(future)
            runner_thread.submit(fn, args, kwargs, future)
            return future.result(timeout=budget)
        except concurrent.futures.CancelledError:
            if self._closed:
                raise ClientClosedError(
                    "this BpcPay was closed while the request was in flight; its outcome is unknown"
                ) from None
            raise
        except concurrent.futures.TimeoutError:
            future.cancel()
            raise impl._stuck_call_error(fn, args, kwargs, budget) from None
        except BaseException:
            # KeyboardInterrupt or SystemExit in this thread: stop the request on the loop too,
            # so nothing keeps running unseen. The outcome of an interrupted POST is unknown.
            future.cancel()
            raise
        finally:
            with self._state_lock:
                self._in_flight.discard(future)

    def close(self, *, grace: float = CLOSE_GRACE) -> None:
        """Refuse new calls, let calls in flight finish for ``grace`` seconds, cancel the rest,
        and close the session on the loop. Idempotent; never hangs."""
        if self._closed:
            return
        self._closed = True
        if self._pid != os.getpid():
            return
        with self._state_lock:
            pending = set(self._in_flight)
        if pending:
            _, not_done = concurrent.futures.wait(pending, timeout=grace)
            for future in not_done:
                future.cancel()
        self._close_impl(wait=CLOSE_GRACE)

    def _close_impl(self, *, wait: float | None) -> None:
        """Close the async client on the loop, waiting at most ``wait`` seconds (None: do not
        wait, only schedule it)."""
        current = _loop_thread
        if current is None or not current.alive:
            # No loop ever ran in this process for this client, so it opened nothing here.
            return
        if wait is None:
            current.call_soon(self._impl.aclose)
            return
        if threading.current_thread() is current.thread:  # pragma: no cover - defensive
            return
        try:
            current.call(self._impl.aclose, timeout=wait)
        except Exception:  # pragma: no cover - closing at exit must never raise
            return

    def finalize(self, *, wait: float | None = None) -> None:
        """Close a client that was never closed: at garbage collection (``wait=None``: only
        schedule the close, never block the collecting thread) or at interpreter exit (wait
        up to ``wait`` seconds, so it is done before the loop stops)."""
        if self._closed or not self.owner or self._pid != os.getpid():
            return
        self._closed = True
        self._close_impl(wait=wait)


class SyncClientBase:
    """Base of the generated ``BpcPay``: lifecycle (``close``, ``with``), repr and wrapping."""

    _runner: SyncRunner
    #: The client a with_options() twin derives from (kept alive by the twin).
    _parent: SyncClientBase

    def _setup(self, impl: AsyncBpcPay, *, owner: bool = True) -> None:
        self._runner = SyncRunner(impl, owner=owner)
        self._finalizer: weakref.finalize[Any, Any] | None = None
        if owner:
            self._finalizer = weakref.finalize(self, self._runner.finalize)
            # At exit, _close_all_at_exit closes it (waiting, before the loop stops).
            self._finalizer.atexit = False
        self._bind()

    def _bind(self) -> None:
        raise NotImplementedError

    @classmethod
    def _wrap(cls: type[S], impl: AsyncBpcPay) -> S:
        """A new client that owns ``impl`` (closes it, warns if left open)."""
        obj = cls.__new__(cls)
        obj._setup(impl)
        return obj

    def _derive(self: S, impl: AsyncBpcPay) -> S:
        """A client sharing this one's connections (``with_options``): it never closes them
        on its own at garbage collection, and closing it closes the shared connections."""
        obj = type(self).__new__(type(self))
        obj._setup(impl, owner=False)
        # The twin keeps the owner, whose collection would close the shared connections.
        obj._parent = self
        return obj

    @property
    def closed(self) -> bool:
        """True once :meth:`close` was called."""
        return self._runner.closed

    def close(self) -> None:
        """Close the client's connections; calls in flight in other threads get a few seconds
        to finish, then fail with ClientClosedError. Idempotent."""
        self._runner.close()
        if self._finalizer is not None:
            self._finalizer.detach()

    def __enter__(self: T) -> T:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def __repr__(self) -> str:
        impl = self._runner._impl
        closed = " closed" if self._runner.closed else ""
        return (
            f"<{type(self).__name__} base_url={impl.base_url!r} "
            f"api_version={impl.api_version!r}{closed}>"
        )
