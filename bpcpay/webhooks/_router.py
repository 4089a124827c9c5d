"""WebhookRouter: the public face of receiving webhooks, and its routing table.

This module owns which handlers an event runs (patterns, registration order, the fallback) and
the router's entry points: :meth:`~WebhookRouter.handle` / :meth:`~WebhookRouter.handle_sync`
for deliveries, :meth:`~WebhookRouter.reconcile` / :meth:`~WebhookRouter.reconcile_sync` for
catching up. Each entry point verifies (through :func:`construct_event`), computes the key and
hands a plan to a driver; the logic itself lives in the modules beside it:

- ``_plan``: one event's delivery, once, as a sans-I/O plan (wait, claim, dispatch, complete or
  release, and the answer);
- ``_drivers``: how its effects are performed, blocking (``handle_sync``) or with asyncio
  (``handle``), with the claims' renewals handed to ``_heartbeat``;
- ``_reconcile``: which retrieved objects are final, and the events they stand for.

It imports no web framework and no aiohttp: the adapters in ``bpcpay.contrib`` read the raw body
and write the answer.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import TYPE_CHECKING, Any, Final, TypeVar, overload

from .._constants import DEFAULT_MAX_WEBHOOK_BYTES
from .._core._checks import check_callable, check_int, check_seconds
from .._exceptions import InvalidArgumentError, SignatureVerificationError
from .._log import library_logger
from .._telemetry import MeterProviderLike, TracerProviderLike, router_telemetry
from ..models import Event
from ._drivers import AsyncDriver, Flights, SyncDriver, is_async_store
from ._effects import Plan
from ._keys import event_key
from ._plan import DeliveryPlan, EventHandler, WebhookResult
from ._reconcile import reconcile_plan, wanted_ids
from ._signature import construct_event, secret_keys
from .stores._base import AsyncDeliveryStore, DeliveryStore
from .stores._memory import InMemoryDeliveryStore

if TYPE_CHECKING:
    from .._async._client import AsyncBpcPay
    from .._sync._client import BpcPay
    from ..models import EventObject, Payment, PaymentMethod, Refund, Session
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
#: What a store must have: a lease and the four methods of the contract.
_STORE_METHODS: Final = ("claim", "renew", "complete", "release")

H = TypeVar("H", bound=Callable[..., Any])
R = TypeVar("R")
AnyStore = DeliveryStore | AsyncDeliveryStore


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


def _check_store(store: object) -> AnyStore | None:
    if store is None:
        return None
    missing = [name for name in _STORE_METHODS if not callable(getattr(store, name, None))]
    if missing:
        raise InvalidArgumentError(
            "store",
            f"needs claim, renew, complete and release methods (missing: {', '.join(missing)})",
        )
    # The heartbeat renews at a third of it: a store's lease is part of the contract.
    check_seconds("store.lease", getattr(store, "lease", None))
    return store  # type: ignore[return-value]


class WebhookRouter:
    """Routes verified webhook events to handlers and tells the adapter what to answer.

    A framework adapter of ``bpcpay.contrib`` (or your own endpoint) hands it each delivery's
    raw body and headers, and answers the status it returns. BPC retries a delivery until it
    gets a 200 and may send one event more than once ([Webhooks](https://dev.bpcbt.com/en/integration/apiv2/structure/webhooks-apiv2.html)):
    the router verifies the signature, runs the handlers of an event once, and answers every
    copy.

    Every handler whose pattern matches runs, in registration order; when none matches, the
    fallback runs (if set) and the answer is 200 either way. Handlers may be plain functions or
    coroutine functions; under :meth:`handle` plain ones run in a worker thread by default, so
    a slow one never stalls the event loop. While they run, the router renews the event's claim
    in the store at a third of the store's lease, so a slow but live handler keeps it however
    long it takes, and a killed worker's claim lapses within one lease.

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
        tracer_provider: the OpenTelemetry ``TracerProvider`` for the deliveries' spans; the
            global one by default (see docs/observability.md). Needs ``bpcpay[otel]``.
        meter_provider: likewise, the ``MeterProvider`` for the ``bpcpay.webhook.*`` metrics.

    Raises:
        InvalidArgumentError: an argument is invalid: an empty, whitespace-only or unencodable
            secret (never echoed), a bad size, timeout or age, a store without a ``lease`` or
            one of the methods ``claim``, ``renew``, ``complete``, ``release``.

    Examples:
        ```python
        import os

        from bpcpay import Event, Session
        from bpcpay.testing import webhook_delivery
        from bpcpay.webhooks import SQLiteDeliveryStore, WebhookRouter

        secret = os.environ["BPCPAY_WEBHOOK_SECRET"]
        router = WebhookRouter(secret, store=SQLiteDeliveryStore("webhooks.sqlite3"))


        @router.on("session.completed")
        def paid(event: Event[Session]) -> None:
            print("paid:", event.data.object.merchant_reference_id)  # paid: order-1009


        session = Session(
            id="ps_1",
            amount=2400,
            currency="EUR",
            status="complete",
            merchant_reference_id="order-1009",
        )
        body, headers = webhook_delivery("session.completed", session, secret=secret)
        print(router.handle_sync(body, headers).reason)  # handled
        print(router.handle_sync(body, headers).reason)  # duplicate
        ```
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
        tracer_provider: TracerProviderLike | None = None,
        meter_provider: MeterProviderLike | None = None,
        _clock: Callable[[], float] = time.monotonic,
        _wall: Callable[[], float] = time.time,
        _sleep: Callable[[float], object] | None = None,
    ) -> None:
        self._secrets = secret_keys(secret)
        self.max_bytes = check_int("max_bytes", max_bytes, minimum=1)
        checked = _check_store(store)
        self._key = check_callable("key", key, "a callable (event, payload) -> str")
        self.store: AnyStore = checked if checked is not None else InMemoryDeliveryStore()
        self.in_flight_timeout = check_seconds("in_flight_timeout", in_flight_timeout)
        self.max_age = None if max_age is None else check_seconds("max_age", max_age)
        self._wall = _wall
        self._routes: list[tuple[str, EventHandler]] = []
        self._fallback: EventHandler | None = None
        self._flights = Flights()
        self._plans = DeliveryPlan(
            in_flight_timeout=self.in_flight_timeout,
            clock=_clock,
            flights=self._flights,
            store_name=type(self.store).__name__,
        )
        self._sync = SyncDriver(self.store, sleep=_sleep)
        self._async = AsyncDriver(
            self.store, plans=self._plans, sleep=_sleep, in_thread=sync_handlers_in_thread
        )
        # OpenTelemetry (bpcpay/_telemetry.py): it observes the plans; None without the API.
        self._telemetry = router_telemetry(
            tracer_provider=tracer_provider, meter_provider=meter_provider, store=self.store
        )

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

        Examples:
            ```python
            import os

            from bpcpay.webhooks import WebhookRouter

            router = WebhookRouter(os.environ["BPCPAY_WEBHOOK_SECRET"])


            def bookkeeping(event):
                ...


            router.add_handler("payment.*", bookkeeping)
            print(router.handlers_for("payment.succeeded") == [bookkeeping])  # True
            ```
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

        Examples:
            ```python
            import os

            from bpcpay.webhooks import WebhookRouter

            router = WebhookRouter(os.environ["BPCPAY_WEBHOOK_SECRET"])


            @router.on("session.completed", "session.expired")
            def close_order(event):
                ...


            print(router.handlers_for("session.expired") == [close_order])  # True
            ```
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

        Examples:
            ```python
            import logging

            import os
            from bpcpay.webhooks import WebhookRouter

            router = WebhookRouter(os.environ["BPCPAY_WEBHOOK_SECRET"])


            @router.fallback
            def not_for_us(event):
                logging.getLogger("shop").info("ignored a %s event", event.type)


            print(router.handlers_for("refund.created") == [not_for_us])  # True
            ```
        """
        self._fallback = check_callable("handler", handler)
        return handler

    def handlers_for(self, event_type: str) -> list[EventHandler]:
        """The handlers an event of ``event_type`` would run (the fallback if none match).

        Returns:
            The handlers, in registration order.

        Examples:
            ```python
            import os

            from bpcpay.webhooks import WebhookRouter

            router = WebhookRouter(os.environ["BPCPAY_WEBHOOK_SECRET"])


            @router.on("payment.*")
            def bookkeeping(event): ...


            @router.on("payment.succeeded")
            def ship(event): ...


            names = [handler.__name__ for handler in router.handlers_for("payment.succeeded")]
            print(names)  # ['bookkeeping', 'ship']
            print(router.handlers_for("session.completed"))  # []
            ```
        """
        found = [handler for pattern, handler in self._routes if _matches(pattern, event_type)]
        if not found and self._fallback is not None:
            found = [self._fallback]
        return found

    # --- deliveries ---------------------------------------------------------------------------

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

    def _deliver(self, event: Event, payload: bytes) -> Plan[WebhookResult]:
        key = self._key(event, payload)
        return self._plans.deliver(event, key, self.handlers_for(event.type))

    def _delivery(self, payload: bytes | str, headers: Mapping[str, str]) -> Plan[WebhookResult]:
        """One delivery, from its verification on, as the plan handle and handle_sync run."""
        verified = self._verify(payload, headers)
        if isinstance(verified, WebhookResult):
            return verified
        return (yield from self._deliver(verified, _as_bytes(payload)))

    def _traced(self, plan: Plan[R], *, reconciliation: bool = False) -> Plan[R]:
        """``plan`` as telemetry observes it (a delivery's span, or a reconciliation's)."""
        telemetry = self._telemetry
        if telemetry is None:
            return plan
        return telemetry.reconciliation(plan) if reconciliation else telemetry.delivery(plan)

    def _traced_delivery(self, event: Event, payload: bytes) -> Plan[WebhookResult]:
        return self._traced(self._deliver(event, payload))

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
            BaseException: an interruption (``CancelledError`` ...), once the claim is settled:
                released, or completed when every handler had returned (a plain handler still
                running in its thread keeps the claim until it ends, then settles it).

        Examples:
            In an asyncio endpoint (``bpcpay.contrib`` has them ready for aiohttp and ASGI):

            ```python
            import os

            from bpcpay import Payment
            from bpcpay.testing import webhook_delivery
            from bpcpay.webhooks import WebhookRouter

            secret = os.environ["BPCPAY_WEBHOOK_SECRET"]
            router = WebhookRouter(secret)


            @router.on("payment.succeeded")
            async def ship(event):
                print("ship", event.data.object.id)  # ship pay_1


            payment = Payment(id="pay_1", amount=2500, currency="EUR", status="succeeded")
            body, headers = webhook_delivery("payment.succeeded", payment, secret=secret)
            result = await router.handle(body, headers)
            print(result.status, result.reason)  # 200 handled
            ```
        """
        return await self._async.run(self._traced(self._delivery(payload, headers)))

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

        Examples:
            In a WSGI or Django view (``bpcpay.contrib`` has them ready):

            ```python
            import os

            from bpcpay import Session
            from bpcpay.testing import webhook_delivery
            from bpcpay.webhooks import WebhookRouter

            secret = os.environ["BPCPAY_WEBHOOK_SECRET"]
            router = WebhookRouter(secret)
            router.add_handler("session.expired", lambda event: None)  # release the stock
            expired = Session(id="ps_2", amount=2400, currency="EUR", status="expired")
            body, headers = webhook_delivery("session.expired", expired, secret=secret)
            result = router.handle_sync(body, headers)
            print(result.status, result.reason)  # 200 handled
            ```
        """
        self._require_sync_store()
        return self._sync.run(self._traced(self._delivery(payload, headers)))

    def _require_sync_store(self) -> None:
        if is_async_store(self.store):
            raise TypeError(
                f"the delivery store {type(self.store).__name__} is async; handle_sync needs a "
                "store with plain methods (e.g. RedisDeliveryStore, PostgresDeliveryStore)"
            )

    # --- reconciliation -----------------------------------------------------------------------

    async def reconcile(
        self,
        client: AsyncBpcPay,
        session_ids: Iterable[str] = (),
        *,
        payment_ids: Iterable[str] = (),
        refund_ids: Iterable[str] = (),
    ) -> list[WebhookResult]:
        """Catch up on objects whose webhook may have been missed (async).

        Retrieves each session, payment and refund; one in a final state runs the handlers
        with a synthesized event of that state (``event.reconciled`` is True): a session
        ``session.completed`` / ``session.expired``; a payment ``payment.succeeded``,
        ``payment.failed`` or ``payment.canceled``; a refund ``refund.succeeded`` /
        ``refund.failed``. They go through the same store and keys as real deliveries, so a
        final state runs the handlers once, whichever of the webhook and the reconciler saw it
        first.

        Args:
            client: an :class:`~bpcpay.AsyncBpcPay`.
            session_ids: the sessions to check (e.g. the orders still unpaid).
            payment_ids: the payments to check.
            refund_ids: the refunds to check.

        Returns:
            One :class:`WebhookResult` per id, sessions first, then payments, then refunds:
            200 ``handled`` / ``duplicate`` / ``unhandled``, 202 ``open`` (not final yet:
            nothing run), 500 ``handler_error``, 409 ``in_flight``, 503 ``store_unavailable``,
            or the API's status with reason ``retrieve_failed`` (``error`` holds it).

        Raises:
            InvalidArgumentError: an argument is a single str, or holds a non-str or empty id.

        Examples:
            A periodic job over the orders still unpaid (here, one the customer paid while
            its webhook never arrived):

            ```python
            import os

            from bpcpay.webhooks import WebhookRouter

            router = WebhookRouter(os.environ["BPCPAY_WEBHOOK_SECRET"])


            @router.on("session.completed")
            def paid(event):
                print("paid, reconciled:", event.reconciled)  # paid, reconciled: True


            session = await client.sessions.create(
                amount=2400,
                currency="EUR",
                success_url="https://shop.example/orders/1010/paid",
                failure_url="https://shop.example/orders/1010/retry",
            )
            await gw.pay(session.id)
            (result,) = await router.reconcile(client, [session.id])
            print(result.status, result.reason)  # 200 handled
            ```
        """
        wanted = wanted_ids(session_ids, payment_ids, refund_ids)
        plan = reconcile_plan(client, wanted, deliver=self._traced_delivery, wall=self._wall)
        return await self._async.run(self._traced(plan, reconciliation=True))

    def reconcile_sync(
        self,
        client: BpcPay,
        session_ids: Iterable[str] = (),
        *,
        payment_ids: Iterable[str] = (),
        refund_ids: Iterable[str] = (),
    ) -> list[WebhookResult]:
        """:meth:`reconcile` with a :class:`~bpcpay.BpcPay`, for cron jobs and sync code.

        Args:
            client: a :class:`~bpcpay.BpcPay`.
            session_ids: the sessions to check.
            payment_ids: the payments to check.
            refund_ids: the refunds to check.

        Returns:
            One :class:`WebhookResult` per id, as :meth:`reconcile`.

        Raises:
            InvalidArgumentError: an argument is a single str, or holds a non-str or empty id.
            TypeError: the store's methods are async (use :meth:`reconcile`).

        Examples:
            A cron job (``bpcpay reconcile`` is one ready-made):

            ```python
            import os

            from bpcpay.webhooks import SQLiteDeliveryStore, WebhookRouter

            store = SQLiteDeliveryStore("webhooks.sqlite3")
            router = WebhookRouter(os.environ["BPCPAY_WEBHOOK_SECRET"], store=store)
            router.add_handler("session.completed", lambda event: None)  # mark the order paid
            session = client.sessions.create(
                amount=2400,
                currency="EUR",
                success_url="https://shop.example/orders/1011/paid",
                failure_url="https://shop.example/orders/1011/retry",
            )
            print([r.reason for r in router.reconcile_sync(client, [session.id])])  # ['open']
            gw.pay(session.id)
            print([r.reason for r in router.reconcile_sync(client, [session.id])])  # ['handled']
            print([r.reason for r in router.reconcile_sync(client, [session.id])])  # ['duplicate']
            ```
        """
        wanted = wanted_ids(session_ids, payment_ids, refund_ids)
        self._require_sync_store()
        plan = reconcile_plan(client, wanted, deliver=self._traced_delivery, wall=self._wall)
        return self._sync.run(self._traced(plan, reconciliation=True))
