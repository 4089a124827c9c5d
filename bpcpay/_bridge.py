"""The bridge from synchronous callers to the async client: one event loop thread per process.

Owns: the loop thread (an anyio BlockingPortal on the asyncio backend, hosted in a daemon
thread we start ourselves), the one way a thread waits for a coroutine on it (:func:`run_call`:
bounded, cancelled on Ctrl-C), the running-loop guard, fork and exit safety, and the base
classes that the generated ``bpcpay._sync`` classes build on. Imports ``_async``; imported by
``_sync`` and by the sandbox's threaded facade (``sandbox/_thread.py``), which runs its gateway
on a :class:`LoopThread` of its own.

Why these choices (see ``sync-facade-notes.md`` for the measurements):

* **One loop thread per process, shared by every sync client** (each with its own aiohttp
  session). An app with a client per merchant account does not multiply threads; one loop
  thread serves thousands of requests a second, far more than a sync app sends.
* **One cross-thread hop per call, and the least it can cost.** The portal hosts the loop and
  runs the rare lifecycle calls; the hot path schedules the coroutine with one
  ``call_soon_threadsafe`` (started eagerly on Python 3.12+, so it runs up to its first wait at
  once) and the caller waits on a bare lock that the coroutine itself releases when it ends: no
  ``concurrent.futures.Future``, no done-callback round, ``os.getpid()`` once per call, and the
  running-loop guard is a lookup, not a raised and caught exception (``portal.call`` would make
  two round trips). Cancelling the call (Ctrl-C, a close) cancels the task, and aiohttp aborts
  the connection.
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

The bridge meets the async client through one documented internal interface,
``bpcpay._async._client.SyncSupport`` (the per-call deadline, a fresh client for a forked child,
the error of a call stuck on the loop), and otherwise through the client's public API
(``aclose()``, its resources and properties). The generated code names each call's ``timeout``
argument (see :meth:`SyncRunner.run`), so a method without one is bounded by the client's
default.
"""

from __future__ import annotations

import asyncio
import atexit
import concurrent.futures
import contextlib
import contextvars
import os
import sys
import threading
import time
import weakref
from collections.abc import Callable, Coroutine
from typing import Any, TypeVar

import anyio
from anyio.from_thread import BlockingPortal

from ._async._client import AsyncBpcPay, SyncSupport
from ._exceptions import ClientClosedError, SyncClientInAsyncContextError
from ._types import NotGiven, TimeoutLike

__all__ = [
    "CallTimeout",
    "LoopThread",
    "SyncClientBase",
    "SyncResourceBase",
    "SyncRunner",
    "loop_thread",
    "run_call",
]

T = TypeVar("T")
S = TypeVar("S", bound="SyncClientBase")

#: Extra seconds the caller waits beyond the transport's own worst case before giving up.
_BACKSTOP_MARGIN = 5.0
#: How long close() lets calls that are in flight in other threads finish.
CLOSE_GRACE = 5.0
#: How long closing a session at exit may take.
_FINALIZE_WAIT = 2.0
#: How often a call waiting in the main thread wakes to let a pending signal handler run.
_SIGNAL_SLICE = 0.05
#: How long starting the loop thread may take (it takes milliseconds).
_START_WAIT = 30.0
#: Python 3.12+ can start a task eagerly: it runs up to its first wait inside the callback
#: that creates it, one loop iteration sooner.
_EAGER = sys.version_info >= (3, 12)


class CallTimeout(TimeoutError):
    """A call on a loop thread did not end within the caller's bound (it was cancelled).

    Internal: the sync client turns it into an ``APITimeoutError`` naming the call, the
    sandbox's threaded facade into a ``TimeoutError`` naming what is stuck.
    """

    def __init__(self, waited: float) -> None:
        super().__init__(f"no result within {waited:g}s")
        #: How long the caller waited, in seconds.
        self.waited = waited


class _Call:
    """One synchronous call in flight: the caller waits on ``done``, a lock held from the
    start that the coroutine releases when it ends, whatever the outcome.

    Only the loop thread writes the outcome; the caller reads it after the lock is released
    (the lock orders the two). ``cancel`` may come from the caller's thread at any moment: a
    call cancelled before the loop reached it never creates its coroutine.
    """

    __slots__ = ("cancelled", "done", "ended", "error", "loop", "task", "value")

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self.loop = loop
        self.done = threading.Lock()
        self.done.acquire()  # deadline: a lock made on the line above is free, never waits
        self.task: asyncio.Task[None] | None = None
        self.cancelled = False
        self.ended = False
        self.value: Any = None
        self.error: BaseException | None = None

    def start(
        self,
        context: contextvars.Context,
        fn: Callable[..., Coroutine[Any, Any, Any]],
        args: tuple[Any, ...],
        kwargs: dict[str, Any],
    ) -> None:
        """On the loop thread: create the task, in the caller's context."""
        if self.cancelled:
            self.ended = True
            self.done.release()
            return
        coroutine = self._run(fn, args, kwargs)
        if _EAGER:
            self.task = asyncio.Task(  # type: ignore[call-arg,unused-ignore]
                coroutine, loop=self.loop, context=context, eager_start=True
            )
        else:
            # Python 3.10 has no context= (3.11 does): the task copies the context it is
            # created in, which is the caller's here.
            self.task = context.run(self.loop.create_task, coroutine)

    async def _run(
        self,
        fn: Callable[..., Coroutine[Any, Any, Any]],
        args: tuple[Any, ...],
        kwargs: dict[str, Any],
    ) -> None:
        try:
            self.value = await fn(*args, **kwargs)
        except asyncio.CancelledError:
            self.cancelled = True
            raise
        except BaseException as exc:  # handed to the caller's thread, never to the loop
            self.error = exc
        finally:
            self.ended = True
            self.done.release()

    def cancel(self) -> None:
        """From the caller's thread: stop the call wherever it is (no-op once it ended)."""
        if not self.cancelled and not self.ended:
            self.cancelled = True
            # RuntimeError: the loop closed meanwhile (at exit); nothing is left to stop.
            with contextlib.suppress(RuntimeError):
                self.loop.call_soon_threadsafe(self._cancel_task)

    def _cancel_task(self) -> None:
        task = self.task
        if task is not None:
            task.cancel()

    def wait(self, timeout: float) -> bool:
        """Wait for the end of the call; False after ``timeout`` seconds.

        The main thread wakes every ``_SIGNAL_SLICE`` seconds: the kernel may hand a SIGINT to
        any thread (the loop's, a server's), and Python runs its handler in the main thread
        only when that thread runs again, so one long wait would hold a Ctrl-C back until the
        call ended.
        """
        if threading.get_ident() != threading.main_thread().ident:
            return self.done.acquire(timeout=timeout)
        deadline = time.monotonic() + timeout
        while not self.done.acquire(timeout=min(_SIGNAL_SLICE, timeout)):
            timeout = deadline - time.monotonic()
            if timeout <= 0:
                return False
        return True


def run_call(
    thread: LoopThread,
    call: _Call,
    fn: Callable[..., Coroutine[Any, Any, Any]],
    args: tuple[Any, ...],
    kwargs: dict[str, Any],
    timeout: float,
) -> Any:
    """Run ``fn(*args, **kwargs)`` on ``thread``'s loop as ``call`` and wait for its end: the one
    way a thread waits for the loop, whoever the caller (the sync client, its lifecycle, the
    sandbox's threaded facade).

    Args:
        thread: the loop thread to run on.
        call: the call's record (made by the caller, who may track it to cancel it later).
        fn: a coroutine function.
        args: its positional arguments.
        kwargs: its keyword arguments.
        timeout: the longest wait, in seconds.

    Returns:
        What the coroutine returned.

    Raises:
        CallTimeout: the call did not end within ``timeout`` (it is cancelled on the loop).
        concurrent.futures.CancelledError: the call was cancelled (e.g. by a close).
        BaseException: what the coroutine raised, as it is. Whatever interrupts the wait
            (Ctrl-C) cancels the call on the loop too, so nothing keeps running unseen.
    """
    try:
        thread.start_call(call, fn, args, kwargs)
        if not call.wait(timeout):
            raise CallTimeout(timeout)
        if call.error is not None:
            raise call.error
        if call.cancelled:
            raise concurrent.futures.CancelledError()
        return call.value
    except BaseException:
        call.cancel()  # a no-op for a call that ended
        raise


class LoopThread:
    """An asyncio event loop running in a daemon thread, hosted by an anyio BlockingPortal."""

    def __init__(self, name: str = "bpcpay-loop") -> None:
        self.pid = os.getpid()
        self._ready = threading.Event()
        self._startup_error: BaseException | None = None
        self.loop: asyncio.AbstractEventLoop | None = None
        self.portal: BlockingPortal | None = None
        self.thread = threading.Thread(target=self._run, name=name, daemon=True)
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

    def start_call(
        self,
        call: _Call,
        fn: Callable[..., Coroutine[Any, Any, Any]],
        args: tuple[Any, ...],
        kwargs: dict[str, Any],
    ) -> None:
        """Run ``fn(*args, **kwargs)`` on the loop for ``call``; one cross-thread hop. The
        coroutine is created on the loop thread, inside a copy of the caller's context."""
        call.loop.call_soon_threadsafe(call.start, contextvars.copy_context(), fn, args, kwargs)

    def call_soon(self, fn: Callable[..., Coroutine[Any, Any, Any]], *args: Any) -> None:
        """Schedule ``fn(*args)`` on the loop and return at once: for a close that nobody
        waits for (garbage collection), from any thread, the loop's own included."""
        loop = self.loop
        assert loop is not None
        self.start_call(_Call(loop), fn, args, {})

    def call(
        self, fn: Callable[..., Coroutine[Any, Any, T]], *args: Any, timeout: float, **kwargs: Any
    ) -> T:
        """Run ``fn(*args, **kwargs)`` on the loop and wait for its result at most ``timeout``
        seconds (:func:`run_call`; raises :class:`CallTimeout` when the wait runs out)."""
        loop = self.loop
        assert loop is not None
        result: T = run_call(self, _Call(loop), fn, args, kwargs, timeout)
        return result

    def stop(self, timeout: float = _FINALIZE_WAIT) -> bool:
        """Stop the loop and wait for its thread to end, at most ``timeout`` seconds for each.

        Returns:
            True once the thread ended (or was never running here); False when it is stuck.
        """
        portal, loop = self.portal, self.loop
        if portal is None or loop is None or not self.alive:
            return True
        if threading.current_thread() is self.thread:  # pragma: no cover - defensive
            return False
        try:
            portal.start_task_soon(portal.stop, True).result(timeout=timeout)
        except BaseException:  # a stuck loop: nothing more to do from here
            return False
        self.thread.join(timeout=timeout)
        return not self.thread.is_alive()


_lock = threading.Lock()
_loop_thread: LoopThread | None = None
_parent_loops: list[LoopThread] = []


def loop_thread(pid: int | None = None) -> LoopThread:
    """The process's loop thread, started on first use (and again in a forked child).

    Args:
        pid: ``os.getpid()``, when the caller has it already.
    """
    global _loop_thread
    if pid is None:
        pid = os.getpid()
    current = _loop_thread
    if current is not None and current.pid == pid:
        return current
    with _lock:
        current = _loop_thread
        if current is None or current.pid != pid:
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
    """What a sync client holds: the support of its async twin, and its calls in flight.

    Holds no reference to the sync client, so a ``weakref.finalize`` can own it.
    """

    def __init__(self, impl: AsyncBpcPay, *, owner: bool = True) -> None:
        self._support = SyncSupport(impl)
        #: False for a derived client (with_options): it does not own the connections.
        self.owner = owner
        self._pid = os.getpid()
        self._closed = False
        self._state_lock = threading.Lock()
        self._in_flight: set[_Call] = set()
        #: Set by the last call in flight to end once close() began waiting.
        self._drained: threading.Event | None = None
        _runners.add(self)

    @property
    def closed(self) -> bool:
        """True once close() was called."""
        return self._closed

    @property
    def impl(self) -> AsyncBpcPay:
        """The async client for this process (a fresh one after a fork)."""
        return self._support_for(os.getpid()).client

    def _support_for(self, pid: int) -> SyncSupport:
        if self._pid != pid:
            with self._state_lock:
                if self._pid != pid:
                    # The inherited session's sockets belong to the parent: leave them alone.
                    self._support = self._support.for_forked_child()
                    self._in_flight = set()
                    self._state_lock = threading.Lock()
                    self._drained = None
                    self._pid = pid
        return self._support

    def run(
        self,
        timeout: TimeoutLike | NotGiven,
        fn: Callable[..., Coroutine[Any, Any, T]],
        /,
        *args: Any,
        **kwargs: Any,
    ) -> T:
        """Run ``fn(*args, **kwargs)`` (a bound method of the async client or one of its
        resources) and wait for it, at most the call's worst case plus a margin.

        Args:
            timeout: the call's ``timeout`` argument, which bounds the wait; NOT_GIVEN for the
                client's default (also for a method that takes no ``timeout``).
            fn: the async method.
            args: its positional arguments.
            kwargs: its keyword arguments.
        """
        if asyncio._get_running_loop() is not None:
            raise SyncClientInAsyncContextError(
                "BpcPay (the synchronous client) was called from a thread that runs an event "
                "loop, which it would block for the whole request. Use AsyncBpcPay and await "
                "its methods instead."
            )
        if self._closed:
            raise ClientClosedError("this BpcPay is closed; create a new client")
        pid = os.getpid()
        support = self._support if self._pid == pid else self._support_for(pid)
        budget = support.deadline(timeout) + _BACKSTOP_MARGIN
        runner_thread = loop_thread(pid)
        loop = runner_thread.loop
        assert loop is not None
        # The call exists before the request is scheduled, so close() can cancel it from the
        # moment it is in flight.
        call = _Call(loop)
        try:
            with self._state_lock:
                self._in_flight.add(call)
            result: T = run_call(runner_thread, call, fn, args, kwargs, budget)
            return result
        except CallTimeout:
            raise support.stuck_call_error(fn, args, kwargs, budget) from None
        except concurrent.futures.CancelledError:
            if self._closed:
                raise ClientClosedError(
                    "this BpcPay was closed while the request was in flight; its outcome is unknown"
                ) from None
            raise
        finally:
            with self._state_lock:
                self._in_flight.discard(call)
                if self._drained is not None and not self._in_flight:
                    self._drained.set()

    def close(self, *, grace: float | None = None) -> None:
        """Refuse new calls, let calls in flight finish for ``grace`` seconds (``CLOSE_GRACE``
        by default), cancel the rest, and close the session on the loop. Idempotent; never
        hangs."""
        if self._closed:
            return
        self._closed = True
        if self._pid != os.getpid():
            return
        drained = threading.Event()
        with self._state_lock:
            pending = set(self._in_flight)
            if pending:
                self._drained = drained
        if pending:
            drained.wait(timeout=CLOSE_GRACE if grace is None else grace)
            with self._state_lock:
                for call in self._in_flight:
                    call.cancel()
        self._close_impl(wait=CLOSE_GRACE)

    def _close_impl(self, *, wait: float | None) -> None:
        """Close the async client on the loop, waiting at most ``wait`` seconds (None: do not
        wait, only schedule it)."""
        current = _loop_thread
        if current is None or not current.alive:
            # No loop ever ran in this process for this client, so it opened nothing here.
            return
        if wait is None:
            current.call_soon(self._support.client.aclose)
            return
        if threading.current_thread() is current.thread:  # pragma: no cover - defensive
            return
        try:
            current.call(self._support.client.aclose, timeout=wait)
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


class SyncResourceBase:
    """Base of the generated resources (``Sessions``, ``Payments``, ...).

    A resource holds its client, so ``BpcPay(...).sessions.create(...)`` keeps the client
    alive (and open) for as long as the call runs, and runs its calls on the client's runner.
    """

    __slots__ = ("_client", "_runner")

    def __init__(self, client: SyncClientBase) -> None:
        self._client = client
        self._runner = client._runner

    def __repr__(self) -> str:
        return f"<{type(self).__name__}>"


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
        runner = getattr(self, "_runner", None)
        if runner is None:
            # A refused option: the constructor never finished, and error trackers that
            # print the locals of its frame print this `self`.
            return f"<{type(self).__name__} not constructed>"
        impl = runner.impl
        closed = " closed" if runner.closed else ""
        return (
            f"<{type(self).__name__} base_url={impl.base_url!r} "
            f"api_version={impl.api_version!r}{closed}>"
        )
