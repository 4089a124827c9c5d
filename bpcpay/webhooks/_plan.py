"""The delivery plan: one event's way from "it arrived" (or "reconcile this object") to "answer
this status", written once as a sans-I/O generator. Pure: imports no I/O library.

The plan waits (bounded) for a copy in flight, claims the key, has the handlers dispatched while
the claim is renewed, then completes or releases the claim and says what to answer. It yields
four kinds of effect, which ``_drivers`` performs with blocking or asyncio I/O:

- :class:`StoreCall`: ``claim``, ``complete`` or ``release`` the key. Completing and releasing
  are *shielded*: once started they run to their end (within a bound) even when the caller is
  cancelled meanwhile, since a claim left behind would hold the event for a lease, or run a
  finished handler again.
- :class:`Dispatch`: run the handlers, in order, while the driver's heartbeat renews the claim
  (:class:`Hold` carries what the heartbeat and the driver report back).
- :class:`Wait`: wait for a copy in flight in this process, or simply pause.
- :class:`Retrieve`: fetch an object from the API (reconciliation).

Statuses: 200 when the event was handled (even if the store could not record it afterwards: see
:meth:`DeliveryPlan.complete`), was a duplicate, or no handler wanted it; 409 when another copy
is still in flight after ``in_flight_timeout``; 500 when a handler raised (the claim is
released, so the gateway's retry runs the handlers again); 503 when the store could not claim.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any, Final, Protocol

import attrs

from .._log import library_logger
from ..models import Event
from ._effects import Plan
from .stores._base import Claim, ClaimStatus

__all__ = [
    "AsyncHandlerError",
    "DeliveryPlan",
    "Dispatch",
    "EventHandler",
    "Hold",
    "Retrieve",
    "StoreCall",
    "Wait",
    "WebhookResult",
]

logger = library_logger("webhooks")

#: A handler takes the verified event; a plain function, or a coroutine function (its awaitable
#: result is awaited). The return value is otherwise ignored.
EventHandler = Callable[[Event], object]

#: Polling another process's claim: first pause, and the longest, and the shortest.
_FIRST_POLL: Final = 0.05
_MAX_POLL: Final = 1.0
_MIN_POLL: Final = 0.01
#: A failed complete() is tried again after these pauses (doubling), for at most this long.
_COMPLETE_FIRST_PAUSE: Final = 0.1
COMPLETE_WINDOW: Final = 5.0


@attrs.frozen
class WebhookResult:
    """What the router decided for one delivery (or one reconciled object).

    Attributes:
        status: the HTTP status to answer: 200 handled / duplicate / unhandled, 202 ``open``
            (reconcile: not in a final state yet), 400 bad delivery or ``too_old``, 409
            ``in_flight``, 413 too large, 500 handler error, 503 store unavailable.
        reason: a short machine-friendly word, also the adapters' response body.
        event: the verified (or synthesized) event; None when there was none.
        key: the de-duplication key, when there was an event.
        error: the exception a handler (or the store, or verification) raised.
        renewal_failures: how many renewals of the claim failed while the handlers ran (the
            store was unreachable, or answered that the lease was lost); 0 when the lease held
            throughout. The handlers are never interrupted for it; a warning is logged.
        recorded: for a 200 ``handled`` / ``unhandled``, True when the store recorded the event
            done; False when it could not (a copy arriving after the lease lapses would run the
            handlers again; an error is logged). None when nothing was to be recorded.
    """

    status: int
    reason: str
    event: Event | None = None
    key: str | None = None
    error: BaseException | None = attrs.field(default=None, repr=False)
    renewal_failures: int = 0
    recorded: bool | None = None

    @property
    def ok(self) -> bool:
        """True for a 2xx status."""
        return 200 <= self.status < 300


@attrs.define(eq=False)
class Hold:
    """A claim held while its handlers run. The driver and its heartbeat write the outcome.

    Attributes:
        key: the claimed key.
        token: the owner token.
        failures: renewals that raised (the store unreachable).
        lost: a renewal answered False: the lease lapsed or another worker took the key.
        returned: every handler returned normally.
        detached: the caller was cancelled while a plain handler still ran in its thread; the
            driver completes or releases the claim when that thread ends.
    """

    key: str
    token: str = attrs.field(repr=False)
    failures: int = 0
    lost: bool = False
    returned: bool = False
    detached: bool = False


@attrs.frozen
class StoreCall:
    """Call ``store.<method>(key[, token])``; a shielded call runs to its end, bounded."""

    method: str
    key: str
    token: str | None = attrs.field(default=None, repr=False)
    shielded: bool = False


@attrs.frozen
class Dispatch:
    """Run ``handlers`` on ``event``, in order, renewing ``hold``'s claim meanwhile."""

    handlers: tuple[EventHandler, ...]
    event: Event
    hold: Hold


@attrs.frozen
class Wait:
    """Wait ``seconds`` at most: for ``flight`` (a copy in this process) to end, or just pause.
    A shielded wait is not cut short by a cancellation."""

    seconds: float
    flight: object | None = None
    shielded: bool = False


@attrs.frozen
class Retrieve:
    """``client.<resource>.retrieve(object_id)``."""

    client: Any
    resource: str
    object_id: str


class AsyncHandlerError(TypeError):
    """An ``async def`` handler reached ``handle_sync``, which has no event loop to run it."""

    def __init__(self, handler: object) -> None:
        name = getattr(handler, "__qualname__", repr(handler))
        super().__init__(
            f"handler {name} is async, but the delivery came through handle_sync (a WSGI or "
            "Django adapter); use a plain function, or an async framework and router.handle()"
        )


class Flights(Protocol):
    """The copies of each key being processed in this process (``_drivers.Flights``)."""

    def begin(self, key: str) -> tuple[object, bool]: ...
    def end(self, key: str, flight: object) -> None: ...


class DeliveryPlan:
    """The router's logic for one event, as plans; the drivers perform their effects.

    Args:
        in_flight_timeout: seconds a copy waits for another copy in flight.
        clock: monotonic seconds (this process's; only ever compared with itself).
        flights: the in-process copies of each key.
        store_name: the store's class name, for error messages.
    """

    def __init__(
        self,
        *,
        in_flight_timeout: float,
        clock: Callable[[], float],
        flights: Flights,
        store_name: str,
    ) -> None:
        self.in_flight_timeout = in_flight_timeout
        self._clock = clock
        self._flights = flights
        self._store_name = store_name

    def deliver(
        self, event: Event, key: str, handlers: Sequence[EventHandler]
    ) -> Plan[WebhookResult]:
        """Wait (bounded) for any copy in flight, claim, dispatch, complete or release."""
        deadline = self._clock() + self.in_flight_timeout
        while True:
            flight, mine = self._flights.begin(key)
            if mine:
                break
            # A copy is being processed in this process: wait for it, then look at the store.
            remaining = deadline - self._clock()
            if remaining <= 0:
                return self._busy(event, key)
            yield Wait(remaining, flight)
        try:
            polls = 0
            while True:
                try:
                    claim = yield StoreCall("claim", key)
                except Exception as exc:
                    message = "webhook %s: the store failed to claim %s; answering 503"
                    return self._failed(503, "store_unavailable", event, key, exc, message)
                if not isinstance(claim, Claim):
                    raise TypeError(
                        f"{self._store_name}.claim must return a bpcpay.webhooks.Claim, "
                        f"got {type(claim).__name__}"
                    )
                if claim.status == ClaimStatus.CLAIMED and claim.token is not None:
                    return (yield from self._run(event, key, claim.token, handlers))
                if claim.status == ClaimStatus.DONE:
                    return self._answer(200, "duplicate", event, key)
                # In flight in another process: poll the store, with a growing pause ...
                remaining = deadline - self._clock()
                if remaining <= 0:
                    return self._busy(event, key)
                pause = min(_FIRST_POLL * 2**polls, _MAX_POLL, remaining)
                polls += 1
                if claim.remaining is not None:
                    # ... never past the moment the lease lapses (by the store's own count),
                    # when this copy takes the claim over; never a busy spin.
                    pause = min(pause, max(claim.remaining, _MIN_POLL))
                yield Wait(pause)
        finally:
            self._flights.end(key, flight)

    def _run(
        self, event: Event, key: str, token: str, handlers: Sequence[EventHandler]
    ) -> Plan[WebhookResult]:
        hold = Hold(key, token)
        try:
            yield Dispatch(tuple(handlers), event, hold)
        except AsyncHandlerError as exc:
            yield from self.release(key, token)
            logger.error("webhook %s: %s", event.type, exc)
            return WebhookResult(
                status=500, reason="async_handler", event=event, key=key, error=exc
            )
        except Exception as exc:
            yield from self.release(key, token)
            # The traceback is the user's own code; the secret is not in it.
            message = "webhook %s handler raised; answering 500 so BPC retries (%s)"
            return self._failed(500, "handler_error", event, key, exc, message)
        except GeneratorExit:
            raise  # the plan was abandoned: nothing can run now; the lease lapses
        except BaseException:
            # SystemExit (a worker timeout), KeyboardInterrupt, CancelledError, ...
            yield from self.settle(event, hold)
            raise
        recorded = yield from self.complete(event, hold)
        reason = "handled" if handlers else "unhandled"
        logger.info("webhook %s %s (%s)", event.type, reason, key)
        failures = hold.failures + hold.lost
        return WebhookResult(
            status=200,
            reason=reason,
            event=event,
            key=key,
            renewal_failures=failures,
            recorded=recorded,
        )

    def settle(self, event: Event, hold: Hold) -> Plan[None]:
        """After an interruption: complete the claim when every handler had returned, else
        release it so that the next copy runs them; nothing while a detached handler still
        runs (the driver settles it when its thread ends, with this same plan)."""
        if hold.detached:
            return
        if hold.returned:
            yield from self.complete(event, hold)
        else:
            yield from self.release(hold.key, hold.token)

    def complete(self, event: Event, hold: Hold) -> Plan[bool]:
        """Record the event done: shielded, and tried again for up to :data:`COMPLETE_WINDOW`
        seconds when the store fails.

        Returns:
            True when recorded; False when the store could not record it, or answered that
            another worker has taken the key over since.
        """
        started = self._clock()
        pause = _COMPLETE_FIRST_PAUSE
        while True:
            try:
                recorded = yield StoreCall("complete", hold.key, hold.token, shielded=True)
            except Exception as exc:
                if self._clock() - started + pause > COMPLETE_WINDOW:
                    logger.error(
                        "webhook %s handled, but the store could not record it (%s); a copy "
                        "arriving after the claim's lease lapses would run the handlers again",
                        event.type,
                        hold.key,
                        exc_info=exc,
                    )
                    return False
                logger.warning(
                    "webhook %s: recording %s failed (%s); trying again in %gs",
                    event.type,
                    hold.key,
                    type(exc).__name__,
                    pause,
                )
                yield Wait(pause, shielded=True)
                pause *= 2
                continue
            if not recorded:
                logger.warning(
                    "webhook %s handled, but another worker took %s over meanwhile (its lease "
                    "could not be renewed in time) and may have run it too",
                    event.type,
                    hold.key,
                )
            return bool(recorded)

    def release(self, key: str, token: str) -> Plan[None]:
        """Forget the claim (shielded), so that the next copy runs the handlers."""
        try:
            yield StoreCall("release", key, token, shielded=True)
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
