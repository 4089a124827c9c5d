"""WebhookRouter: verify, de-duplicate and dispatch webhook deliveries; answer with a status.

This module owns what happens between "a POST arrived" and "answer it with this status":
verification (through :func:`bpcpay.webhooks.construct_event`), the de-duplication key, the
store protocol (:class:`DeliveryStore`) with a bounded in-memory default
(:class:`InMemoryDeliveryStore`), routing by event type or pattern, and the status to answer.

It does no I/O and imports no web framework and no aiohttp: the adapters in ``bpcpay.contrib``
read the raw body and write the answer. asyncio is used only to run async handlers and to make a
concurrent duplicate wait for the first copy's outcome.

Statuses: 200 when the event was handled, was a duplicate, or no handler wanted it (BPC retries
every non-2xx answer, and retrying an event nobody handles only burns the gateway's attempts);
400 when the signature or body is bad (a retry would fail the same way); 413 when the body is
over the size cap; 500 when a handler raised, so the gateway retries, and the delivery is *not*
remembered as seen, so the retry runs the handlers again.

De-duplication is keyed on the signed content, ``(type, object id, created)``, not on the
``API-Request-Id`` header: BPC signs the body only, so a replayed delivery can carry any request
id it likes, while the signed fields cannot change. Retries and re-sends of one event carry the
same body, so they share the key. (See :func:`event_key`; pass ``key=request_id_key`` to key on
the delivery id instead.)
"""

from __future__ import annotations

import asyncio
import hashlib
import inspect
import logging
import threading
from collections import OrderedDict
from collections.abc import Awaitable, Callable, Mapping, Sequence
from typing import Any, Protocol, TypeVar, runtime_checkable

import attrs

from ._constants import DEFAULT_MAX_WEBHOOK_BYTES, LOGGER_NAME
from ._exceptions import SignatureVerificationError
from .models import Event
from .webhooks import construct_event

__all__ = [
    "DEFAULT_DEDUP_CAPACITY",
    "DeliveryStore",
    "EventHandler",
    "InMemoryDeliveryStore",
    "WebhookResult",
    "WebhookRouter",
    "event_key",
    "request_id_key",
]

logger = logging.getLogger(LOGGER_NAME + ".webhooks")

#: Keys the in-memory store remembers before it forgets the least recently seen.
DEFAULT_DEDUP_CAPACITY = 10_000

#: A handler takes the verified event; a plain function, or a coroutine function (its awaitable
#: result is awaited). The return value is otherwise ignored.
EventHandler = Callable[[Event], object]
H = TypeVar("H", bound=Callable[..., Any])


@runtime_checkable
class DeliveryStore(Protocol):
    """Where the router remembers which events it has processed.

    Back it with your database or Redis to de-duplicate across processes; each method may be a
    plain or an ``async`` method (the async router awaits what it gets; ``handle_sync`` needs
    plain ones). ``claim`` must be atomic (``INSERT ... ON CONFLICT DO NOTHING``,
    ``SET key 1 NX``).

    A shared store cannot tell "done" from "in progress in another process": a duplicate whose
    key another process holds is answered 200. Give in-progress claims an expiry if a crashed
    worker must not hold a key forever.
    """

    def claim(self, key: str) -> bool | Awaitable[bool]:
        """Mark ``key`` in progress if it was never seen. True: the caller must process it."""
        ...

    def complete(self, key: str) -> Awaitable[None] | None:
        """The claim's processing succeeded: remember ``key`` as done."""
        ...

    def release(self, key: str) -> Awaitable[None] | None:
        """The claim's processing failed: forget ``key`` so a retry can claim it again."""
        ...


class InMemoryDeliveryStore:
    """The default store: a bounded LRU of keys, thread-safe, for one process.

    Args:
        capacity: keys kept; past it the least recently seen key is forgotten (a delivery that
            old arriving again would run again, so handlers should still be idempotent).
    """

    def __init__(self, capacity: int = DEFAULT_DEDUP_CAPACITY) -> None:
        if isinstance(capacity, bool) or not isinstance(capacity, int) or capacity < 1:
            raise ValueError(f"capacity: must be an int >= 1, got {capacity!r}")
        self.capacity = capacity
        # key -> True once complete, False while in progress.
        self._keys: OrderedDict[str, bool] = OrderedDict()
        self._lock = threading.Lock()

    def claim(self, key: str) -> bool:
        """True when ``key`` was unseen (it is now in progress)."""
        with self._lock:
            if key in self._keys:
                self._keys.move_to_end(key)
                return False
            self._keys[key] = False
            while len(self._keys) > self.capacity:
                self._keys.popitem(last=False)
            return True

    def complete(self, key: str) -> None:
        """Remember ``key`` as done."""
        with self._lock:
            if key in self._keys:
                self._keys[key] = True
                self._keys.move_to_end(key)
            else:
                # Evicted while in progress; remember it anyway.
                self._keys[key] = True
                while len(self._keys) > self.capacity:
                    self._keys.popitem(last=False)

    def release(self, key: str) -> None:
        """Forget ``key`` (its processing failed)."""
        with self._lock:
            self._keys.pop(key, None)

    def is_done(self, key: str) -> bool:
        """True when ``key`` was processed successfully (and is still remembered)."""
        with self._lock:
            return self._keys.get(key, False)

    def __len__(self) -> int:
        with self._lock:
            return len(self._keys)

    def __repr__(self) -> str:
        return f"<InMemoryDeliveryStore {len(self)}/{self.capacity} keys>"


def event_key(event: Event, payload: bytes) -> str:
    """The default de-duplication key: ``(type, object id, created)`` from the signed body.

    Falls back on a digest of the signed body when the object has no id or the event no
    ``created`` (an unknown event type, say).
    """
    obj = event.data.object
    object_id = obj.get("id") if isinstance(obj, Mapping) else getattr(obj, "id", None)
    if isinstance(object_id, str) and object_id and event.created is not None:
        return f"evt:{event.type}:{object_id}:{event.created.isoformat()}"
    return "body:" + hashlib.sha256(payload).hexdigest()


def request_id_key(event: Event, payload: bytes) -> str:
    """An alternative key: the delivery id (``API-Request-Id``), else :func:`event_key`.

    Note the header is not signed: a replay with a fresh request id gets a fresh key.
    """
    if event.request_id:
        return "req:" + event.request_id
    return event_key(event, payload)


@attrs.frozen(kw_only=True)
class WebhookResult:
    """What the router decided for one delivery; adapters answer ``status`` and may log.

    Attributes:
        status: the HTTP status to answer (200, 400, 413 or 500).
        reason: ``handled``, ``unhandled`` (no handler matched; still 200), ``duplicate``,
            ``handler_error``, ``async_handler`` (an async handler reached ``handle_sync``),
            ``too_large``, or a :class:`SignatureVerificationError` reason (``missing_header``,
            ``bad_format``, ``mismatch``, ``bad_payload``, ``not_json``, ``not_an_event``).
        event: the verified event, or None when verification failed.
        key: the de-duplication key, when there was an event.
        error: the exception a handler raised, or the verification error.
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


class _Flight:
    """One key being processed in this process; duplicates wait on it (any thread or loop)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._done = threading.Event()
        self._ok = False
        self._waiters: list[tuple[asyncio.AbstractEventLoop, asyncio.Future[bool]]] = []

    def finish(self, ok: bool) -> None:
        with self._lock:
            self._ok = ok
            self._done.set()
            waiters, self._waiters = self._waiters, []
        for loop, future in waiters:
            loop.call_soon_threadsafe(_resolve, future, ok)

    def wait(self) -> bool:
        self._done.wait()
        return self._ok

    async def wait_async(self) -> bool:
        loop = asyncio.get_running_loop()
        future: asyncio.Future[bool] = loop.create_future()
        with self._lock:
            if self._done.is_set():
                return self._ok
            self._waiters.append((loop, future))
        return await future


def _resolve(future: asyncio.Future[bool], ok: bool) -> None:
    if not future.done():
        future.set_result(ok)


def _check_pattern(pattern: str) -> str:
    if not isinstance(pattern, str) or not pattern:
        raise ValueError(f"pattern: give an event type, 'prefix.*' or '*', got {pattern!r}")
    head = pattern[:-2] if pattern.endswith(".*") else pattern
    if pattern != "*" and (not head or "*" in head):
        raise ValueError(
            f"pattern: {pattern!r} is not an event type, 'prefix.*' or '*' "
            "(a '*' is allowed only alone or as the last segment)"
        )
    return pattern


def _matches(pattern: str, event_type: str) -> bool:
    if pattern == "*":
        return True
    if pattern.endswith(".*"):
        return event_type.startswith(pattern[:-1])
    return pattern == event_type


class WebhookRouter:
    """Routes verified webhook events to handlers and tells the adapter what to answer.

    ::

        router = WebhookRouter(secret=os.environ["BPCPAY_WEBHOOK_SECRET"])

        @router.on("session.completed")
        async def paid(event: Event) -> None:
            await orders.mark_paid(event.data.object.merchant_reference_id)

        status = (await router.handle(raw_body, headers)).status

    Every handler whose pattern matches runs, in registration order; when none matches, the
    fallback runs (if set) and the answer is 200 either way. Handlers may be plain functions or
    coroutine functions; under :meth:`handle` plain ones run on the event loop's thread (keep
    them quick, or pass ``sync_handlers_in_thread=True``).

    Args:
        secret: the webhook secret, or several during rotation. Never shown in a repr or log.
        store: where processed keys are remembered; an :class:`InMemoryDeliveryStore` of
            :data:`DEFAULT_DEDUP_CAPACITY` keys by default.
        max_bytes: bodies above this size are refused (413) before hashing.
        key: computes the de-duplication key from the event and the raw body;
            :func:`event_key` by default.
        sync_handlers_in_thread: under :meth:`handle`, run plain handlers in a worker thread
            (``asyncio.to_thread``) instead of on the loop.

    Raises:
        ValueError: the secret is empty.
    """

    def __init__(
        self,
        secret: str | bytes | Sequence[str | bytes],
        *,
        store: DeliveryStore | None = None,
        max_bytes: int = DEFAULT_MAX_WEBHOOK_BYTES,
        key: Callable[[Event, bytes], str] = event_key,
        sync_handlers_in_thread: bool = False,
    ) -> None:
        secrets = [secret] if isinstance(secret, (str, bytes)) else list(secret)
        if not secrets or any(not isinstance(s, (str, bytes)) or not s for s in secrets):
            raise ValueError("secret: give a non-empty webhook secret (or a list of them)")
        if isinstance(max_bytes, bool) or not isinstance(max_bytes, int) or max_bytes < 1:
            raise ValueError(f"max_bytes: must be an int >= 1, got {max_bytes!r}")
        self._secrets: list[str | bytes] = secrets
        self.store: DeliveryStore = store if store is not None else InMemoryDeliveryStore()
        self.max_bytes = max_bytes
        self._key = key
        self._in_thread = sync_handlers_in_thread
        self._routes: list[tuple[str, EventHandler]] = []
        self._fallback: EventHandler | None = None
        self._flights: dict[str, _Flight] = {}
        self._flights_lock = threading.Lock()

    def __repr__(self) -> str:
        return f"<WebhookRouter {len(self._routes)} handlers store={type(self.store).__name__}>"

    # --- registration -------------------------------------------------------------------------

    def add_handler(self, pattern: str, handler: EventHandler) -> None:
        """Run ``handler`` for events whose type matches ``pattern``.

        Args:
            pattern: an exact type (``"session.completed"``), a prefix (``"payment.*"``) or
                ``"*"`` for every event.
            handler: ``handler(event)``, plain or async.

        Raises:
            ValueError: the pattern is malformed.
            TypeError: the handler is not callable.
        """
        _check_pattern(pattern)
        if not callable(handler):
            raise TypeError("handler: must be callable")
        self._routes.append((pattern, handler))

    def on(self, pattern: str, *more: str) -> Callable[[H], H]:
        """Decorator form of :meth:`add_handler`; takes one or more patterns."""
        patterns = [_check_pattern(p) for p in (pattern, *more)]

        def register(handler: H) -> H:
            for item in patterns:
                self.add_handler(item, handler)
            return handler

        return register

    def fallback(self, handler: H) -> H:
        """Set (or decorate) the handler for events no pattern matched. Replaces any previous."""
        if not callable(handler):
            raise TypeError("handler: must be callable")
        self._fallback = handler
        return handler

    def handlers_for(self, event_type: str) -> list[EventHandler]:
        """The handlers an event of ``event_type`` would run (the fallback if none match)."""
        found = [handler for pattern, handler in self._routes if _matches(pattern, event_type)]
        if not found and self._fallback is not None:
            found = [self._fallback]
        return found

    # --- handling -----------------------------------------------------------------------------

    def _verify(self, payload: bytes | str, headers: Mapping[str, str]) -> Event | WebhookResult:
        try:
            return construct_event(payload, headers, secret=self._secrets, max_bytes=self.max_bytes)
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

    def _end(self, key: str, flight: _Flight, ok: bool) -> None:
        with self._flights_lock:
            if self._flights.get(key) is flight:
                del self._flights[key]
        flight.finish(ok)

    def _duplicate(self, event: Event, key: str) -> WebhookResult:
        logger.info("webhook %s duplicate (%s)", event.type, key)
        return WebhookResult(status=200, reason="duplicate", event=event, key=key)

    def _done(self, event: Event, key: str, ran: int) -> WebhookResult:
        reason = "handled" if ran else "unhandled"
        logger.info("webhook %s %s (%s)", event.type, reason, key)
        return WebhookResult(status=200, reason=reason, event=event, key=key)

    def _failed(self, event: Event, key: str, exc: BaseException) -> WebhookResult:
        # logger.exception: the traceback is the user's own code; the secret is not in it.
        logger.error("webhook %s handler raised; answering 500 so BPC retries (%s)",
                     event.type, key, exc_info=exc)  # fmt: skip
        return WebhookResult(status=500, reason="handler_error", event=event, key=key, error=exc)

    async def handle(self, payload: bytes | str, headers: Mapping[str, str]) -> WebhookResult:
        """Verify, parse, de-duplicate and dispatch one delivery.

        Args:
            payload: the raw request body, exactly as received (prefer bytes: a framework's
                decoded text may not be the bytes that were signed).
            headers: the request headers (any mapping; matched case-insensitively).

        Returns:
            A :class:`WebhookResult`; answer its ``status``.
        """
        verified = self._verify(payload, headers)
        if isinstance(verified, WebhookResult):
            return verified
        event = verified
        key = self._key(event, _as_bytes(payload))
        while True:
            flight, mine = self._begin(key)
            if not mine:
                # A copy is being processed here right now: its outcome decides ours.
                if await flight.wait_async():
                    return self._duplicate(event, key)
                continue
            ok = False
            try:
                if not await _maybe_await(self.store.claim(key)):
                    ok = True
                    return self._duplicate(event, key)
                handlers = self.handlers_for(event.type)
                try:
                    for handler in handlers:
                        await self._call_async(handler, event)
                except Exception as exc:
                    await _maybe_await(self.store.release(key))
                    return self._failed(event, key, exc)
                except BaseException:
                    # Cancelled (the client went away): not processed, let a retry claim it.
                    await _maybe_await(self.store.release(key))
                    raise
                await _maybe_await(self.store.complete(key))
                ok = True
                return self._done(event, key, len(handlers))
            finally:
                self._end(key, flight, ok)

    async def _call_async(self, handler: EventHandler, event: Event) -> None:
        if self._in_thread and not inspect.iscoroutinefunction(handler):
            result = await asyncio.to_thread(handler, event)
        else:
            result = handler(event)
        if inspect.isawaitable(result):
            await result

    def handle_sync(self, payload: bytes | str, headers: Mapping[str, str]) -> WebhookResult:
        """:meth:`handle` for synchronous servers (WSGI, Django): runs plain handlers only.

        An ``async def`` handler cannot run here (there is no event loop to run it on, and
        starting one per request would break objects bound to your own loop): the delivery is
        answered 500 with reason ``async_handler``, an error is logged, and the key is released
        so the gateway's retry succeeds once the handler is fixed. A store must have plain
        (not async) methods here.

        Returns:
            A :class:`WebhookResult`; answer its ``status``.

        Raises:
            TypeError: the store's methods are async.
        """
        verified = self._verify(payload, headers)
        if isinstance(verified, WebhookResult):
            return verified
        event = verified
        key = self._key(event, _as_bytes(payload))
        while True:
            flight, mine = self._begin(key)
            if not mine:
                if flight.wait():
                    return self._duplicate(event, key)
                continue
            ok = False
            try:
                if not _sync_store_call(self.store.claim(key)):
                    ok = True
                    return self._duplicate(event, key)
                handlers = self.handlers_for(event.type)
                try:
                    for handler in handlers:
                        if inspect.iscoroutinefunction(handler):
                            raise _AsyncHandlerError(handler)
                        result = handler(event)
                        if inspect.isawaitable(result):
                            _discard(result)
                            raise _AsyncHandlerError(handler)
                except _AsyncHandlerError as exc:
                    _sync_store_call(self.store.release(key))
                    logger.error("webhook %s: %s", event.type, exc)
                    return WebhookResult(
                        status=500, reason="async_handler", event=event, key=key, error=exc
                    )
                except Exception as exc:
                    _sync_store_call(self.store.release(key))
                    return self._failed(event, key, exc)
                _sync_store_call(self.store.complete(key))
                ok = True
                return self._done(event, key, len(handlers))
            finally:
                self._end(key, flight, ok)


class _AsyncHandlerError(TypeError):
    def __init__(self, handler: object) -> None:
        name = getattr(handler, "__qualname__", repr(handler))
        super().__init__(
            f"handler {name} is async, but the delivery came through handle_sync (a WSGI or "
            "Django adapter); use a plain function, or an async framework and router.handle()"
        )


def _as_bytes(payload: bytes | str) -> bytes:
    # construct_event already accepted it, so it is one of these.
    return payload.encode("utf-8") if isinstance(payload, str) else bytes(payload)


async def _maybe_await(value: Any) -> Any:
    if inspect.isawaitable(value):
        return await value
    return value


def _sync_store_call(value: Any) -> Any:
    if inspect.isawaitable(value):
        _discard(value)
        raise TypeError(
            "the delivery store's methods are async; handle_sync needs a store with plain methods"
        )
    return value


def _discard(awaitable: object) -> None:
    # Close an un-awaited coroutine so it does not warn "never awaited".
    close = getattr(awaitable, "close", None)
    if callable(close):
        close()
