"""WebhookRouter: verify, de-duplicate and dispatch webhook deliveries; answer with a status.

This module owns what happens between "a POST arrived" (or "reconcile this session") and
"answer it with this status": verification (through :func:`construct_event`), the key, the
claim in the store, running the handlers, completing or releasing the claim, waiting (bounded)
for a copy in flight, and the answer. That logic is written once, as a sans-I/O plan
(:meth:`WebhookRouter._plan`, a generator that yields effects such as "claim this key" or "run
this handler" and receives their results); :meth:`~WebhookRouter.handle` and
:meth:`~WebhookRouter.handle_sync` are thin drivers that perform the effects with async or
blocking I/O, and the reconciler runs the very same plan.

It imports no web framework and no aiohttp: the adapters in ``bpcpay.contrib`` read the raw body
and write the answer. asyncio runs async handlers and lets a duplicate wait for a copy in
flight; anyio is imported only to shield a release after a cancellation.

Statuses: 200 when the event was handled, was a duplicate, or no handler wanted it (BPC retries
every non-2xx answer, and retrying an event nobody handles only burns the gateway's attempts);
400 when the signature or body is bad, or the event is older than ``max_age`` (a retry would
fail the same way); 413 when the body is over the size cap; 409 when another copy is still in
flight after ``in_flight_timeout`` (the gateway retries later); 500 when a handler raised, so
the gateway retries, and the claim is released, so the retry runs the handlers again; 503 when
the store could not be reached.

Any interruption of a handler (``SystemExit`` from a worker timeout, ``KeyboardInterrupt``,
``CancelledError``, any ``BaseException``) releases the claim before it propagates. A claim
whose release or completion could not be recorded (the store down, the process killed) is a
lease: it lapses after the store's ``lease`` seconds, and the next retry or reconcile runs it.
"""

from __future__ import annotations

import asyncio
import contextlib
import contextvars
import inspect
import json
import threading
import time
from collections.abc import Awaitable, Callable, Generator, Iterable, Mapping, Sequence
from datetime import datetime, timezone
from typing import TYPE_CHECKING, Any, Final, TypeVar, overload

import attrs

from .._constants import DEFAULT_MAX_WEBHOOK_BYTES
from .._core._checks import check_callable, check_int, check_seconds
from .._exceptions import (
    APIStatusError,
    BpcPayError,
    InvalidArgumentError,
    SignatureVerificationError,
)
from .._log import library_logger
from ..models import Event, EventData, EventType, Session, SessionStatus
from ._effects import Plan, drive, drive_async
from ._keys import event_key
from ._signature import construct_event, secret_keys
from .stores._base import AsyncDeliveryStore, Claim, ClaimStatus, DeliveryStore
from .stores._memory import InMemoryDeliveryStore

if TYPE_CHECKING:
    from .._async._client import AsyncBpcPay
    from .._sync._client import BpcPay
    from ..models import EventObject, Payment, PaymentMethod, Refund
    from ..models.events import (
        AnyEventHandlerT,
        PaymentEventType,
        PaymentHandlerT,
        PaymentMethodEventType,
        PaymentMethodHandlerT,
        RefundEventType,
        RefundHandlerT,
        SessionEventType,
        SessionHandlerT,
    )

__all__ = [
    "DEFAULT_IN_FLIGHT_TIMEOUT",
    "EventHandler",
    "WebhookResult",
    "WebhookRouter",
]

logger = library_logger("webhooks")

#: Seconds a duplicate waits for a copy in flight before it is answered 409.
DEFAULT_IN_FLIGHT_TIMEOUT: Final = 10.0
#: Polling another process's claim: first pause, and the longest.
_FIRST_POLL: Final = 0.05
_MAX_POLL: Final = 1.0
_MIN_POLL: Final = 0.01
#: Seconds a release after a cancellation may take (shielded from further cancellation).
_RELEASE_DEADLINE: Final = 5.0

#: A handler takes the verified event; a plain function, or a coroutine function (its awaitable
#: result is awaited). The return value is otherwise ignored.
EventHandler = Callable[[Event], object]
H = TypeVar("H", bound=Callable[..., Any])
R = TypeVar("R")
AnyStore = DeliveryStore | AsyncDeliveryStore


@attrs.frozen(kw_only=True)
class WebhookResult:
    """What the router decided for one delivery (or one reconciled session).

    Attributes:
        status: the HTTP status to answer: 200 handled / duplicate / unhandled, 202 ``open``
            (reconcile: the session is still open), 400 bad delivery or ``too_old``, 409
            ``in_flight``, 413 too large, 500 handler error, 503 store unavailable.
        reason: a short machine-friendly word, also the adapters' response body.
        event: the verified (or synthesized) event; None when there was none.
        key: the de-duplication key, when there was an event.
        error: the exception a handler (or the store, or verification) raised.
    """

    status: int
    reason: str
    event: Event | None = None
    key: str | None = None
    error: BaseException | None = attrs.field(default=None, repr=False)

    @property
    def ok(self) -> bool:
        """True for a 2xx status."""
        return 200 <= self.status < 300


# --- the effects the plan yields --------------------------------------------------------------


@attrs.frozen
class _ClaimKey:
    key: str


@attrs.frozen
class _RunHandler:
    handler: EventHandler
    event: Event


@attrs.frozen
class _Complete:
    key: str
    token: str


@attrs.frozen
class _Release:
    key: str
    token: str
    interrupted: bool


@attrs.frozen
class _WaitFlight:
    flight: _Flight
    timeout: float


@attrs.frozen
class _Pause:
    seconds: float


@attrs.frozen
class _Retrieve:
    client: Any
    session_id: str


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


class _AsyncHandlerError(TypeError):
    def __init__(self, handler: object) -> None:
        name = getattr(handler, "__qualname__", repr(handler))
        super().__init__(
            f"handler {name} is async, but the delivery came through handle_sync (a WSGI or "
            "Django adapter); use a plain function, or an async framework and router.handle()"
        )


class _AsyncRun:
    """Per-call state of the async driver: the thread of a plain handler, if one runs."""

    __slots__ = ("thread",)

    def __init__(self) -> None:
        self.thread: asyncio.Future[Any] | None = None


def _check_pattern(pattern: str) -> str:
    if not isinstance(pattern, str) or not pattern:
        raise InvalidArgumentError(
            "pattern", f"give an event type, 'prefix.*' or '*', got {pattern!r}"
        )
    head = pattern[:-2] if pattern.endswith(".*") else pattern
    if pattern != "*" and (not head or "*" in head):
        raise InvalidArgumentError(
            "pattern",
            f"{pattern!r} is not an event type, 'prefix.*' or '*' "
            "(a '*' is allowed only alone or as the last segment)",
        )
    return pattern


def _matches(pattern: str, event_type: str) -> bool:
    if pattern == "*":
        return True
    if pattern.endswith(".*"):
        return event_type.startswith(pattern[:-1])
    return pattern == event_type


def _as_bytes(payload: bytes | str) -> bytes:
    # construct_event already accepted it, so it is one of these.
    return payload.encode("utf-8") if isinstance(payload, str) else bytes(payload)


def _discard(awaitable: object) -> None:
    # Close an un-awaited coroutine so it does not warn "never awaited".
    close = getattr(awaitable, "close", None)
    if callable(close):
        close()


def _is_async_store(store: object) -> bool:
    return inspect.iscoroutinefunction(getattr(store, "claim", None))


class WebhookRouter:
    """Routes verified webhook events to handlers and tells the adapter what to answer.

    ::

        router = WebhookRouter(secret=os.environ["BPCPAY_WEBHOOK_SECRET"],
                               store=PostgresDeliveryStore(os.environ["DATABASE_URL"]))

        @router.on("session.completed")
        def paid(event: Event) -> None:
            orders.mark_paid(event.data.object.merchant_reference_id)

        status = (await router.handle(raw_body, headers)).status   # or router.handle_sync

    Every handler whose pattern matches runs, in registration order; when none matches, the
    fallback runs (if set) and the answer is 200 either way. Handlers may be plain functions or
    coroutine functions; under :meth:`handle` plain ones run in a worker thread by default, so
    a slow one never stalls the event loop.

    Args:
        secret: the webhook secret, or several during rotation. Never shown in a repr or log.
        store: where claims are kept; an :class:`~bpcpay.webhooks.InMemoryDeliveryStore` by
            default (one process). Use a shared store for several workers (see the stores).
        max_bytes: bodies above this size are refused (413) before hashing.
        key: computes the de-duplication key from the event and the raw body;
            :func:`~bpcpay.webhooks.event_key` by default.
        sync_handlers_in_thread: under :meth:`handle`, run plain handlers in a worker thread
            (the default); False runs them on the loop's thread.
        in_flight_timeout: seconds a duplicate waits for a copy in flight (here or in another
            process) before it is answered 409 so that the gateway retries later.
        max_age: refuse (400 ``too_old``) an event whose signed ``created`` is older than this
            many seconds; off by default.

    Raises:
        InvalidArgumentError: an argument is invalid: an empty, whitespace-only or unencodable
            secret (never echoed), a bad size, timeout or age, a store without the methods.
    """

    def __init__(
        self,
        secret: str | bytes | Sequence[str | bytes],
        *,
        store: AnyStore | None = None,
        max_bytes: int = DEFAULT_MAX_WEBHOOK_BYTES,
        key: Callable[[Event, bytes], str] = event_key,
        sync_handlers_in_thread: bool = True,
        in_flight_timeout: float = DEFAULT_IN_FLIGHT_TIMEOUT,
        max_age: float | None = None,
        _clock: Callable[[], float] = time.monotonic,
        _wall: Callable[[], float] = time.time,
        _sleep: Callable[[float], object] | None = None,
    ) -> None:
        self._secrets = secret_keys(secret)
        self.max_bytes = check_int("max_bytes", max_bytes, minimum=1)
        if store is not None and not all(
            callable(getattr(store, name, None)) for name in ("claim", "complete", "release")
        ):
            raise InvalidArgumentError("store", "needs claim, complete and release methods")
        self._key = check_callable("key", key, "a callable (event, payload) -> str")
        self.store: AnyStore = store if store is not None else InMemoryDeliveryStore()
        self.in_flight_timeout = check_seconds("in_flight_timeout", in_flight_timeout)
        self.max_age = None if max_age is None else check_seconds("max_age", max_age)
        self._in_thread = sync_handlers_in_thread
        self._clock = _clock
        self._wall = _wall
        self._sleep = _sleep
        self._routes: list[tuple[str, EventHandler]] = []
        self._fallback: EventHandler | None = None
        self._flights: dict[str, _Flight] = {}
        self._flights_lock = threading.Lock()
        self._background: set[asyncio.Task[None]] = set()

    def __repr__(self) -> str:
        return f"<WebhookRouter {len(self._routes)} handlers store={type(self.store).__name__}>"

    # --- registration -------------------------------------------------------------------------

    # Typed events: a known type (or its family's "prefix.*") takes a handler of its object's
    # Event (Event[Session] for "session.completed"); any other pattern a handler of any event.
    @overload
    def add_handler(
        self, pattern: SessionEventType, handler: Callable[[Event[Session]], object]
    ) -> None: ...
    @overload
    def add_handler(
        self, pattern: PaymentEventType, handler: Callable[[Event[Payment]], object]
    ) -> None: ...
    @overload
    def add_handler(
        self, pattern: RefundEventType, handler: Callable[[Event[Refund]], object]
    ) -> None: ...
    @overload
    def add_handler(
        self, pattern: PaymentMethodEventType, handler: Callable[[Event[PaymentMethod]], object]
    ) -> None: ...
    @overload
    def add_handler(
        self, pattern: str, handler: Callable[[Event[EventObject]], object]
    ) -> None: ...
    def add_handler(self, pattern: str, handler: Callable[[Any], object]) -> None:
        """Run ``handler`` for events whose type matches ``pattern``.

        Type checkers give a handler of a known type (or of its family's ``prefix.*``) its
        object: ``Event[Session]`` for ``session.*``, ``Event[Payment]`` for ``payment.*``,
        ``Event[Refund]``, ``Event[PaymentMethod]``; a handler declared for another object is
        refused. Any other pattern (``"*"``, a type not known in advance) takes a handler of
        any event: ``Event`` (``Event[Any]``), which must tell the objects apart itself.

        Args:
            pattern: an exact type (``"session.completed"``), a prefix (``"payment.*"``) or
                ``"*"`` for every event.
            handler: ``handler(event)``, plain or async.

        Raises:
            InvalidArgumentError: the pattern is malformed, or the handler is not callable.
        """
        _check_pattern(pattern)
        check_callable("handler", handler)
        self._routes.append((pattern, handler))

    @overload
    def on(
        self, pattern: SessionEventType, *more: SessionEventType
    ) -> Callable[[SessionHandlerT], SessionHandlerT]: ...
    @overload
    def on(
        self, pattern: PaymentEventType, *more: PaymentEventType
    ) -> Callable[[PaymentHandlerT], PaymentHandlerT]: ...
    @overload
    def on(
        self, pattern: RefundEventType, *more: RefundEventType
    ) -> Callable[[RefundHandlerT], RefundHandlerT]: ...
    @overload
    def on(
        self, pattern: PaymentMethodEventType, *more: PaymentMethodEventType
    ) -> Callable[[PaymentMethodHandlerT], PaymentMethodHandlerT]: ...
    @overload
    def on(self, pattern: str, *more: str) -> Callable[[AnyEventHandlerT], AnyEventHandlerT]: ...
    def on(self, pattern: str, *more: str) -> Callable[[H], H]:
        """Decorator form of :meth:`add_handler`; takes one or more patterns.

        Typed as :meth:`add_handler`: ``@router.on("session.completed")`` takes a function of an
        ``Event[Session]``, patterns of one family give that family's Event, others any event.

        Returns:
            A decorator that registers the function and returns it unchanged.

        Raises:
            InvalidArgumentError: a pattern is malformed.
        """
        patterns = [_check_pattern(p) for p in (pattern, *more)]

        def register(handler: H) -> H:
            for item in patterns:
                self.add_handler(item, handler)
            return handler

        return register

    def fallback(self, handler: H) -> H:
        """Set (or decorate) the handler for events no pattern matched. Replaces any previous.

        Returns:
            The handler, unchanged.

        Raises:
            InvalidArgumentError: the handler is not callable.
        """
        self._fallback = check_callable("handler", handler)
        return handler

    def handlers_for(self, event_type: str) -> list[EventHandler]:
        """The handlers an event of ``event_type`` would run (the fallback if none match).

        Returns:
            The handlers, in registration order.
        """
        found = [handler for pattern, handler in self._routes if _matches(pattern, event_type)]
        if not found and self._fallback is not None:
            found = [self._fallback]
        return found

    # --- the plan: the router's logic, once ---------------------------------------------------

    def _verify(self, payload: bytes | str, headers: Mapping[str, str]) -> Event | WebhookResult:
        try:
            return construct_event(
                payload,
                headers,
                secret=self._secrets,
                max_bytes=self.max_bytes,
                max_age=self.max_age,
                now=self._wall(),
            )
        except SignatureVerificationError as exc:
            status = 413 if exc.reason == "too_large" else 400
            # The reason only: never the body, the signature or the secret.
            logger.warning("webhook refused (%s): %s", status, exc.reason)
            return WebhookResult(status=status, reason=exc.reason, error=exc)

    def _begin(self, key: str) -> tuple[_Flight, bool]:
        """(flight, mine): the in-process flight for ``key``; ``mine`` when this caller owns it."""
        with self._flights_lock:
            flight = self._flights.get(key)
            if flight is not None:
                return flight, False
            flight = self._flights[key] = _Flight()
            return flight, True

    def _end(self, key: str, flight: _Flight) -> None:
        with self._flights_lock:
            if self._flights.get(key) is flight:
                del self._flights[key]
        flight.finish()

    def _plan(self, event: Event, key: str) -> Generator[Any, Any, WebhookResult]:
        """Wait (bounded) for any copy in flight, claim, run the handlers, complete or release."""
        deadline = self._clock() + self.in_flight_timeout
        while True:
            flight, mine = self._begin(key)
            if mine:
                break
            # A copy is being processed in this process: wait for it, then look at the store.
            remaining = deadline - self._clock()
            if remaining <= 0:
                return self._busy(event, key)
            yield _WaitFlight(flight, remaining)
        try:
            polls = 0
            while True:
                try:
                    claim = yield _ClaimKey(key)
                except Exception as exc:
                    return self._failed(
                        503,
                        "store_unavailable",
                        event,
                        key,
                        exc,
                        "webhook %s: the store failed to claim %s; answering 503",
                    )
                if not isinstance(claim, Claim):
                    raise TypeError(
                        f"{type(self.store).__name__}.claim must return a bpcpay.webhooks.Claim, "
                        f"got {type(claim).__name__}"
                    )
                if claim.status == ClaimStatus.CLAIMED and claim.token is not None:
                    return (yield from self._run(event, key, claim.token))
                if claim.status == ClaimStatus.DONE:
                    return self._answer(200, "duplicate", event, key)
                # In flight in another process: poll its lease, with a growing pause.
                remaining = deadline - self._clock()
                if remaining <= 0:
                    return self._busy(event, key)
                lapse = (claim.until or 0.0) - self._wall()
                pause = min(_FIRST_POLL * 2**polls, _MAX_POLL, remaining)
                polls += 1
                # Never past the lease's end (then it can be claimed), never a busy spin.
                yield _Pause(min(pause, max(lapse, _MIN_POLL)))
        finally:
            self._end(key, flight)

    def _run(self, event: Event, key: str, token: str) -> Generator[Any, Any, WebhookResult]:
        handlers = self.handlers_for(event.type)
        try:
            for handler in handlers:
                yield _RunHandler(handler, event)
        except _AsyncHandlerError as exc:
            yield from self._release(key, token, interrupted=False)
            logger.error("webhook %s: %s", event.type, exc)
            return WebhookResult(
                status=500, reason="async_handler", event=event, key=key, error=exc
            )
        except Exception as exc:
            yield from self._release(key, token, interrupted=False)
            # The traceback is the user's own code; the secret is not in it.
            return self._failed(
                500,
                "handler_error",
                event,
                key,
                exc,
                "webhook %s handler raised; answering 500 so BPC retries (%s)",
            )
        except GeneratorExit:
            raise  # the plan was abandoned: nothing can run now; the lease lapses
        except BaseException:
            # SystemExit (a worker timeout), KeyboardInterrupt, CancelledError, ...: the event
            # was not processed; release it so the next retry runs it, then let it propagate.
            yield from self._release(key, token, interrupted=True)
            raise
        try:
            recorded = yield _Complete(key, token)
        except Exception as exc:
            logger.error(
                "webhook %s handled, but the store could not record it (%s); a "
                "redelivery after the lease may run the handlers again",
                event.type,
                key,
                exc_info=exc,
            )
        else:
            if not recorded:
                logger.warning(
                    "webhook %s handled after its lease lapsed (%s); another worker "
                    "may have run it too: raise the store's lease",
                    event.type,
                    key,
                )
        return self._answer(200, "handled" if handlers else "unhandled", event, key)

    def _release(self, key: str, token: str, *, interrupted: bool) -> Generator[Any, Any, None]:
        try:
            yield _Release(key, token, interrupted)
        except Exception as exc:
            logger.error(
                "webhook: the store could not release %s; it lapses after the store's lease",
                key,
                exc_info=exc,
            )

    def _answer(self, status: int, reason: str, event: Event, key: str) -> WebhookResult:
        logger.info("webhook %s %s (%s)", event.type, reason, key)
        return WebhookResult(status=status, reason=reason, event=event, key=key)

    def _failed(
        self, status: int, reason: str, event: Event, key: str, exc: Exception, message: str
    ) -> WebhookResult:
        """Log ``message`` (formatted with the event type and the key) with ``exc``'s traceback,
        and answer ``status``."""
        logger.error(message, event.type, key, exc_info=exc)
        return WebhookResult(status=status, reason=reason, event=event, key=key, error=exc)

    def _busy(self, event: Event, key: str) -> WebhookResult:
        logger.warning(
            "webhook %s still in flight after %gs (%s); answering 409 so BPC retries",
            event.type,
            self.in_flight_timeout,
            key,
        )
        return WebhookResult(status=409, reason="in_flight", event=event, key=key)

    # --- the drivers --------------------------------------------------------------------------

    async def handle(self, payload: bytes | str, headers: Mapping[str, str]) -> WebhookResult:
        """Verify, parse, de-duplicate and dispatch one delivery (async driver).

        Args:
            payload: the raw request body, exactly as received (prefer bytes: a framework's
                decoded text may not be the bytes that were signed).
            headers: the request headers (any mapping; matched case-insensitively).

        Returns:
            A :class:`WebhookResult`; answer its ``status``. Never raises for a bad delivery,
            a failing handler, a busy key or an unreachable store.

        Raises:
            BaseException: an interruption (``CancelledError`` ...) after releasing the claim.
        """
        verified = self._verify(payload, headers)
        if isinstance(verified, WebhookResult):
            return verified
        key = self._key(verified, _as_bytes(payload))
        return await self._drive_async(self._plan(verified, key))

    def handle_sync(self, payload: bytes | str, headers: Mapping[str, str]) -> WebhookResult:
        """:meth:`handle` for synchronous servers (WSGI, Django): runs plain handlers only.

        An ``async def`` handler cannot run here (there is no event loop to run it on, and
        starting one per request would break objects bound to your own loop): the delivery is
        answered 500 with reason ``async_handler``, an error is logged, and the claim is
        released so the gateway's retry succeeds once the handler is fixed.

        Args:
            payload: the raw request body, exactly as received.
            headers: the request headers (any mapping; matched case-insensitively).

        Returns:
            A :class:`WebhookResult`; answer its ``status``.

        Raises:
            TypeError: the store's methods are async (use its sync variant here).
            BaseException: an interruption (``SystemExit`` ...) after releasing the claim.
        """
        self._require_sync_store()
        verified = self._verify(payload, headers)
        if isinstance(verified, WebhookResult):
            return verified
        key = self._key(verified, _as_bytes(payload))
        return drive(self._plan(verified, key), self._perform_sync)

    def _require_sync_store(self) -> None:
        if _is_async_store(self.store):
            raise TypeError(
                f"the delivery store {type(self.store).__name__} is async; handle_sync needs a "
                "store with plain methods (e.g. RedisDeliveryStore, PostgresDeliveryStore)"
            )

    def _perform_sync(self, effect: Any) -> Any:
        store: Any = self.store
        if isinstance(effect, _ClaimKey):
            return store.claim(effect.key)
        if isinstance(effect, _RunHandler):
            if inspect.iscoroutinefunction(effect.handler):
                raise _AsyncHandlerError(effect.handler)
            result = effect.handler(effect.event)
            if inspect.isawaitable(result):
                _discard(result)
                raise _AsyncHandlerError(effect.handler)
            return None
        if isinstance(effect, _Complete):
            return store.complete(effect.key, effect.token)
        if isinstance(effect, _Release):
            return store.release(effect.key, effect.token)
        if isinstance(effect, _WaitFlight):
            return effect.flight.wait(effect.timeout)
        if isinstance(effect, _Pause):
            (self._sleep or time.sleep)(effect.seconds)
            return None
        return effect.client.sessions.retrieve(effect.session_id)

    async def _drive_async(self, plan: Plan[R]) -> R:
        run = _AsyncRun()
        return await drive_async(plan, lambda effect: self._perform_async(effect, run))

    async def _perform_async(self, effect: Any, run: _AsyncRun) -> Any:
        store: Any = self.store
        if isinstance(effect, _ClaimKey):
            return await self._store_call(store.claim, effect.key)
        if isinstance(effect, _RunHandler):
            return await self._call_handler(effect.handler, effect.event, run)
        if isinstance(effect, _Complete):
            return await self._store_call(store.complete, effect.key, effect.token)
        if isinstance(effect, _Release):
            if effect.interrupted:
                return await self._release_interrupted(effect, run)
            return await self._store_call(store.release, effect.key, effect.token)
        if isinstance(effect, _WaitFlight):
            return await effect.flight.wait_async(effect.timeout)
        if isinstance(effect, _Pause):
            slept = (self._sleep or asyncio.sleep)(effect.seconds)
            if inspect.isawaitable(slept):
                await slept
            return None
        return await effect.client.sessions.retrieve(effect.session_id)

    async def _store_call(self, method: Callable[..., Any], *args: str) -> Any:
        if inspect.iscoroutinefunction(method) or not getattr(self.store, "blocking", True):
            result = method(*args)
        else:
            # A blocking store (SQLite, PostgreSQL, Redis sync) must not stall the loop.
            result = await asyncio.to_thread(method, *args)
        if inspect.isawaitable(result):
            result = await result
        return result

    async def _call_handler(self, handler: EventHandler, event: Event, run: _AsyncRun) -> None:
        if self._in_thread and not inspect.iscoroutinefunction(handler):
            loop = asyncio.get_running_loop()
            context = contextvars.copy_context()
            run.thread = loop.run_in_executor(None, context.run, handler, event)
            # Shielded: a cancellation stops the wait, not the thread, and run.thread keeps
            # telling when the handler really ends.
            result = await asyncio.shield(run.thread)
        else:
            result = handler(event)
        if inspect.isawaitable(result):
            await result

    async def _release_interrupted(self, effect: _Release, run: _AsyncRun) -> bool:
        store: Any = self.store
        if run.thread is not None and not run.thread.done():
            # The plain handler still runs in its thread: releasing now would let a retry run
            # it a second time concurrently. Release when the thread ends (the lease covers a
            # process that dies first).
            loop = asyncio.get_running_loop()

            def ended(thread: asyncio.Future[Any]) -> None:
                if not thread.cancelled() and thread.exception() is not None:
                    logger.error(
                        "webhook handler raised after its delivery was cancelled (%s)",
                        effect.key,
                        exc_info=thread.exception(),
                    )
                self._spawn(loop, self._release_later(effect.key, effect.token))

            run.thread.add_done_callback(ended)
            return False
        if not _is_async_store(store):
            # One short blocking call, on this thread: no await a second cancellation could break.
            return bool(store.release(effect.key, effect.token))
        import anyio

        with anyio.move_on_after(_RELEASE_DEADLINE, shield=True):
            return bool(await store.release(effect.key, effect.token))
        return False

    def _spawn(self, loop: asyncio.AbstractEventLoop, coro: Awaitable[None]) -> None:
        task: asyncio.Task[None] = loop.create_task(coro)  # type: ignore[arg-type]
        self._background.add(task)
        task.add_done_callback(self._background.discard)

    async def _release_later(self, key: str, token: str) -> None:
        try:
            await self._store_call(self.store.release, key, token)
        except Exception as exc:
            logger.error(
                "webhook: the store could not release %s; it lapses after the store's lease",
                key,
                exc_info=exc,
            )

    # --- reconciliation -----------------------------------------------------------------------

    async def reconcile(
        self, client: AsyncBpcPay, session_ids: Iterable[str]
    ) -> list[WebhookResult]:
        """Catch up on sessions whose webhook may have been missed (async).

        Retrieves each session; for one that is complete or expired, runs the handlers with a
        synthesized ``session.completed`` / ``session.expired`` event (``event.reconciled`` is
        True) through the same store and keys as real deliveries, so a session's completion runs
        the handlers once, whichever of the webhook and the reconciler saw it first.

        Args:
            client: an :class:`~bpcpay.AsyncBpcPay`.
            session_ids: the ids of the sessions to check (e.g. the orders still unpaid).

        Returns:
            One :class:`WebhookResult` per id, in order: 200 ``handled`` / ``duplicate`` /
            ``unhandled``, 202 ``open`` (still open: nothing run), 500 ``handler_error``, 409
            ``in_flight``, 503 ``store_unavailable``, or the API's status with reason
            ``retrieve_failed`` (``error`` holds the exception).

        Raises:
            InvalidArgumentError: ``session_ids`` is a single str, or holds a non-str.
        """
        return await self._drive_async(self._reconcile_plan(client, session_ids))

    def reconcile_sync(self, client: BpcPay, session_ids: Iterable[str]) -> list[WebhookResult]:
        """:meth:`reconcile` with a :class:`~bpcpay.BpcPay`, for cron jobs and sync code.

        Args:
            client: a :class:`~bpcpay.BpcPay`.
            session_ids: the ids of the sessions to check.

        Returns:
            One :class:`WebhookResult` per id, as :meth:`reconcile`.

        Raises:
            InvalidArgumentError: ``session_ids`` is a single str, or holds a non-str.
            TypeError: the store's methods are async.
        """
        self._require_sync_store()
        return drive(self._reconcile_plan(client, session_ids), self._perform_sync)

    def _reconcile_plan(
        self, client: Any, session_ids: Iterable[str]
    ) -> Generator[Any, Any, list[WebhookResult]]:
        if isinstance(session_ids, (str, bytes)):
            raise InvalidArgumentError("session_ids", "give a list of session ids, not one str")
        ids = list(session_ids)
        if not all(isinstance(i, str) and i for i in ids):
            raise InvalidArgumentError("session_ids", "every id must be a non-empty str")
        results: list[WebhookResult] = []
        for session_id in ids:
            try:
                session = yield _Retrieve(client, session_id)
            except BpcPayError as exc:
                status = exc.status_code if isinstance(exc, APIStatusError) else 502
                if isinstance(exc, InvalidArgumentError):
                    status = 400
                logger.warning("reconcile %s: %s", session_id, type(exc).__name__)
                results.append(WebhookResult(status=status, reason="retrieve_failed", error=exc))
                continue
            event = self._reconciled_event(session)
            if event is None:
                results.append(WebhookResult(status=202, reason="open"))
                continue
            payload = json.dumps(event.raw, sort_keys=True).encode()
            results.append((yield from self._plan(event, self._key(event, payload))))
        return results

    def _reconciled_event(self, session: Session) -> Event | None:
        if session.status == SessionStatus.COMPLETE:
            event_type = EventType.SESSION_COMPLETED
        elif session.status == SessionStatus.EXPIRED:
            event_type = EventType.SESSION_EXPIRED
        else:
            return None
        created = datetime.fromtimestamp(self._wall(), tz=timezone.utc)
        raw = {
            "created": created.isoformat(),
            "type": event_type,
            "data": {"object": dict(session.raw)},
        }
        return Event(
            type=event_type,
            created=created,
            data=EventData(object=session),
            raw=raw,
            reconciled=True,
        )
