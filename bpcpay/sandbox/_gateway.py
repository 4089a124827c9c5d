"""SandboxGateway: a local BPC gateway on loopback, run in process (``async with``) or in a
background thread for synchronous test suites (:meth:`SandboxGateway.run_in_thread`).

It owns the aiohttp server, the state, the webhook dispatcher (with its one client session),
the fault set, the request log and the clock offset that tests move with ``advance_clock``.
"""

from __future__ import annotations

import asyncio
import contextlib
import ipaddress
import logging
from collections import deque
from collections.abc import Iterable, Sequence
from datetime import datetime, timedelta
from types import TracebackType
from typing import TYPE_CHECKING, Any, Literal

import aiohttp
from aiohttp import web

from .._constants import DEFAULT_API_VERSION
from .._core._checks import check_callable, check_int, check_seconds, check_secret, check_text
from .._core._wire import check_card
from .._exceptions import InvalidArgumentError
from ..models import PaymentCard
from ._app import API_PREFIX, SUPPORTED_API_VERSIONS, RequestRecord, build_app
from ._cards import TestCard, TestCards, examine
from ._clock import Clock, system_clock
from ._customer import Customer, PayResult
from ._errors import GatewayError
from ._faults import Faults
from ._ids import new_secret
from ._limits import DEFAULT_STATE_LIMIT, OBJECT_OVERHEAD, StateLimit
from ._state import Store
from ._webhooks import (
    DEFAULT_RETRY_SCHEDULE,
    Delivery,
    Dispatcher,
    SandboxEvent,
    WebhookEndpoint,
)

if TYPE_CHECKING:
    from ._thread import ThreadedSandboxGateway

__all__ = ["DEFAULT_REQUEST_LOG_SIZE", "SandboxGateway", "url_host"]

logger = logging.getLogger("bpcpay.sandbox")

#: Requests kept in ``gw.requests`` by default; older ones are dropped first.
DEFAULT_REQUEST_LOG_SIZE = 10_000


def _key_or_new(argument: str, value: object, prefix: str) -> str:
    """A key or secret the caller chose (a str, never shown in a message), or a new one when
    none (or an empty one) was given."""
    if value is None or value == "":
        return new_secret(prefix)
    if not isinstance(value, str):
        raise InvalidArgumentError(argument, f"must be a str, got {type(value).__name__}")
    check_secret(argument, value)
    return value


def _check_three_ds(value: object) -> None:
    if value not in ("succeed", "fail"):
        raise InvalidArgumentError("three_ds", f"must be 'succeed' or 'fail', got {value!r}")


def url_host(host: str) -> str:
    """The host to put in a URL that reaches a server bound to ``host``.

    A wildcard bind (``0.0.0.0``, ``""``) is reached on ``127.0.0.1`` (and ``::`` on ``[::1]``):
    a client cannot connect to the wildcard address, and the SDK refuses plain http off
    loopback. An IPv6 literal gets its brackets.

    Args:
        host: the interface the server binds.

    Returns:
        The host part of the server's URLs.
    """
    if host in ("", "0.0.0.0"):  # noqa: S104 - recognising the wildcard, not binding to it
        return "127.0.0.1"
    if host == "::":
        return "[::1]"
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        return host
    return f"[{host}]" if address.version == 6 else host


class SandboxGateway:
    """A local BPC Payment Gateway: the API, the hosted payment page, signed webhooks and fault
    injection, on ``127.0.0.1`` and a free port::

        async with SandboxGateway(webhook_endpoints=["http://127.0.0.1:8080/hook"]) as gw:
            client = AsyncBpcPay(api_key=gw.api_key, base_url=gw.base_url)

    Args:
        host: the interface to bind (loopback by default).
        port: 0 picks a free port.
        api_key: the key the API accepts; generated when None.
        restricted_api_key: a key that gets 403 on everything; generated when None.
        webhook_secret: the key deliveries are signed with; generated when None.
        api_version: the ``X-Version`` answered when a request sends none, and sent with
            deliveries: one of :data:`SUPPORTED_API_VERSIONS` (a request naming another is
            refused with 400).
        clock: returns the current time (timezone-aware); the real UTC time by default.
        webhook_endpoints: URLs (all events) or :class:`WebhookEndpoint` values.
        webhook_retry_schedule: seconds between delivery attempts; ``1 + len(schedule)``
            attempts in all. BPC-like ``(30, 30)`` by default; tests pass milliseconds.
        expiry_check_interval: seconds between background checks for expired sessions
            (expiry is also checked on every request and by :meth:`expire_due`).
        request_log_size: requests kept in :attr:`requests`; older ones are dropped first.
        state_limit_bytes: the bound on everything the gateway keeps (sessions, open ones
            too, payments, refunds, stored cards, challenges, card tokens, events and their
            deliveries), as bytes of the JSON they hold plus a fixed charge per object (64 MiB
            by default). When something new would pass it, the oldest finished objects are
            dropped first (expired or completed sessions, payments that succeeded, failed or
            were cancelled, refunds, events whose deliveries are over ...); a new session,
            payment or refund that still does not fit is refused with 503 ``state_full``.

    Raises:
        InvalidArgumentError: an option is of the wrong kind or out of range (a key or secret
            is never shown).
    """

    def __init__(
        self,
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        api_key: str | None = None,
        restricted_api_key: str | None = None,
        webhook_secret: str | None = None,
        api_version: str = DEFAULT_API_VERSION,
        clock: Clock | None = None,
        webhook_endpoints: Iterable[str | WebhookEndpoint] = (),
        webhook_retry_schedule: Sequence[float] = DEFAULT_RETRY_SCHEDULE,
        expiry_check_interval: float = 1.0,
        request_log_size: int = DEFAULT_REQUEST_LOG_SIZE,
        state_limit_bytes: int = DEFAULT_STATE_LIMIT,
    ) -> None:
        check_text("host", host)
        check_int("port", port, minimum=0, maximum=65535)
        if api_version not in SUPPORTED_API_VERSIONS:
            raise InvalidArgumentError(
                "api_version",
                f"must be one of {', '.join(SUPPORTED_API_VERSIONS)}, got {api_version!r}",
            )
        if clock is not None:
            check_callable("clock", clock, "a callable returning a timezone-aware datetime")
        if isinstance(webhook_endpoints, str):
            raise InvalidArgumentError("webhook_endpoints", "give a list of URLs, not one str")
        schedule = tuple(
            check_seconds("webhook_retry_schedule", delay, allow_zero=True)
            for delay in webhook_retry_schedule
        )
        self._expiry_interval = check_seconds("expiry_check_interval", expiry_check_interval)
        check_int("request_log_size", request_log_size, minimum=1)
        check_int("state_limit_bytes", state_limit_bytes, minimum=64 * 1024)
        self.host = host
        self._requested_port = port
        self.port = port
        self.api_key = _key_or_new("api_key", api_key, "sk_test_")
        self.restricted_api_key = _key_or_new("restricted_api_key", restricted_api_key, "rk_test_")
        if self.restricted_api_key == self.api_key:
            raise InvalidArgumentError("restricted_api_key", "must differ from api_key")
        self.webhook_secret = _key_or_new("webhook_secret", webhook_secret, "whsec_")
        self.api_version = api_version
        self._clock = clock or system_clock
        self._offset = timedelta()
        self.faults = Faults()
        self._requests: deque[RequestRecord] = deque(maxlen=request_log_size)
        self._stopping = asyncio.Event()
        self._http: aiohttp.ClientSession | None = None
        self._runner: web.AppRunner | None = None
        self._ticker: asyncio.Task[None] | None = None
        self._dispatcher = Dispatcher(
            secret=self.webhook_secret,
            api_version=api_version,
            retry_schedule=schedule,
            clock=self.now,
            http=self._client,
            stopping=self._stopping,
        )
        self._limit = StateLimit(state_limit_bytes)
        #: Events dropped from the log (their deliveries over) since it was last compacted.
        self._dropped_events: set[str] = set()
        #: The gateway's objects (sessions, payments ...), for inspection in tests.
        self.state = Store(emit=self._emit, root_url="", limit=self._limit)
        for endpoint in webhook_endpoints:
            if isinstance(endpoint, WebhookEndpoint):
                self._dispatcher.endpoints.append(endpoint)
            else:
                self.add_webhook_endpoint(endpoint)

    # --- addresses and credentials ------------------------------------------------------------

    @property
    def url(self) -> str:
        """The root, ``http://127.0.0.1:<port>`` (a wildcard host is shown as loopback)."""
        return f"http://{url_host(self.host)}:{self.port}"

    @property
    def base_url(self) -> str:
        """The API's base URL, ``http://127.0.0.1:<port>/api2``: pass it to the client."""
        return self.url + API_PREFIX

    @property
    def running(self) -> bool:
        """True between :meth:`start` and :meth:`aclose`."""
        return self._runner is not None

    def __repr__(self) -> str:
        # Never the key or the secret.
        state = self.base_url if self.running else "stopped"
        return f"<SandboxGateway {state}>"

    # --- lifecycle ----------------------------------------------------------------------------

    async def start(self) -> SandboxGateway:
        """Bind and serve. Returns self."""
        if self._runner is not None:
            raise RuntimeError("this SandboxGateway is already running")
        self._stopping.clear()
        self._http = aiohttp.ClientSession(cookie_jar=aiohttp.DummyCookieJar())
        runner = web.AppRunner(
            build_app(self, record=self._log_request, stopping=self._stopping),
            access_log=None,
            handle_signals=False,
            shutdown_timeout=1.0,
        )
        try:
            await runner.setup()
            site = web.TCPSite(runner, self.host, self._requested_port)
            await site.start()
        except BaseException:
            await runner.cleanup()
            await self._http.close()
            self._http = None
            raise
        self._runner = runner
        self.port = runner.addresses[0][1]
        self.state.root_url = self.url
        self._ticker = asyncio.get_running_loop().create_task(self._tick())
        # The address bound, which for a wildcard differs from the base URL's loopback host.
        bound = f"[{self.host}]" if ":" in self.host else self.host
        logger.info("sandbox gateway listening on %s:%d (%s)", bound, self.port, self.base_url)
        return self

    async def aclose(self) -> None:
        """Stop serving, cancel deliveries in flight, close the client session. Idempotent."""
        if self._runner is None:
            return
        self._stopping.set()
        if self._ticker is not None:
            self._ticker.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._ticker
            self._ticker = None
        runner, self._runner = self._runner, None
        await runner.cleanup()
        await self._dispatcher.aclose()
        if self._http is not None:
            await self._http.close()
            self._http = None
        logger.info("sandbox gateway stopped")

    #: Same as :meth:`aclose`.
    stop = aclose

    async def __aenter__(self) -> SandboxGateway:
        return await self.start()

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.aclose()

    @classmethod
    def run_in_thread(cls, **options: Any) -> ThreadedSandboxGateway:
        """Start a gateway on its own event loop in a daemon thread, for synchronous code.

        Takes the constructor's options. The result has the same attributes, synchronous
        versions of the methods, ``stop()``, and works as a context manager.
        """
        from ._thread import ThreadedSandboxGateway

        return ThreadedSandboxGateway(cls(**options))

    async def _tick(self) -> None:
        while True:
            await asyncio.sleep(self._expiry_interval)
            self.expire_due()

    def _client(self) -> aiohttp.ClientSession:
        if self._http is None:
            raise RuntimeError("the SandboxGateway is not running")
        return self._http

    @property
    def requests(self) -> list[RequestRecord]:
        """The latest requests that reached the gateway (at most ``request_log_size``), oldest
        first."""
        return list(self._requests)

    def _log_request(self, record: RequestRecord) -> None:
        self._requests.append(record)
        logger.info(
            "%s %s -> %s (%s, %.1f ms)%s",
            record.method,
            record.path,
            "dropped" if record.status is None else record.status,
            record.request_id,
            record.duration * 1000,
            f" [fault: {record.fault}]" if record.fault else "",
        )

    # --- time ---------------------------------------------------------------------------------

    def now(self) -> datetime:
        """The gateway's current time: the clock plus every :meth:`advance_clock`."""
        return self._clock() + self._offset

    def advance_clock(self, delta: timedelta) -> datetime:
        """Move the gateway's time forward, then expire what is due (emitting
        ``session.expired``). Returns the new time.

        Raises:
            InvalidArgumentError: ``delta`` is not a timedelta.
        """
        if not isinstance(delta, timedelta):
            raise InvalidArgumentError("delta", f"must be a timedelta, got {type(delta).__name__}")
        self._offset += delta
        self.expire_due()
        return self.now()

    def expire_due(self) -> list[str]:
        """Expire open sessions whose ``expiresAt`` has passed; returns their ids."""
        return [rec.id for rec in self.state.expire_due(self.now())]

    # --- webhooks -----------------------------------------------------------------------------

    def add_webhook_endpoint(
        self, url: str, events: Iterable[str] | None = None
    ) -> WebhookEndpoint:
        """Deliver future events to ``url``: all of them, or only the given types."""
        return self._dispatcher.add_endpoint(url, events)

    @property
    def webhook_endpoints(self) -> list[WebhookEndpoint]:
        """The configured endpoints."""
        return list(self._dispatcher.endpoints)

    @property
    def events(self) -> list[SandboxEvent]:
        """Every event emitted so far, in order."""
        return list(self._dispatcher.events)

    @property
    def deliveries(self) -> list[Delivery]:
        """Every delivery so far (one per event and endpoint), with its attempts."""
        return list(self._dispatcher.deliveries)

    async def wait_for_deliveries(self, timeout: float = 5.0) -> list[Delivery]:
        """Wait until no delivery is in flight (retries included); returns all deliveries.

        Raises:
            TimeoutError: some were still running after ``timeout`` seconds.
            InvalidArgumentError: ``timeout`` is not a positive number of seconds.
        """
        await self._dispatcher.wait(check_seconds("timeout", timeout))
        return self.deliveries

    async def resend(self, ident: str) -> list[Delivery]:
        """Deliver again, now, and wait for the outcome.

        Args:
            ident: a delivery id (``API-Request-Id``; retried with the same id) or an event id
                (``gw.events[i].id``; new deliveries to every endpoint that wants it).

        Raises:
            KeyError: no such delivery or event.
        """
        return await self._dispatcher.resend(ident)

    @property
    def state_bytes(self) -> int:
        """What the gateway keeps, as charged against ``state_limit_bytes``."""
        return self._limit.total

    def _emit(self, event_type: str, obj: dict[str, Any]) -> None:
        dispatcher = self._dispatcher
        first = len(dispatcher.deliveries)
        event = dispatcher.emit(event_type, obj)
        deliveries = dispatcher.deliveries[first:]
        # The event's object and its body: the snapshot twice, as a dict and as bytes.
        self._limit.charge(
            ("event", event.id),
            OBJECT_OVERHEAD * (1 + len(deliveries)) + 2 * len(event.body),
            finished=lambda: all(d.state != "pending" for d in deliveries),
            drop=lambda: self._dropped_events.add(event.id),
        )
        self._limit.make_room()
        if self._dropped_events:
            # One pass over the log for every event dropped at once, not one per event.
            gone = self._dropped_events
            dispatcher.events[:] = [e for e in dispatcher.events if e.id not in gone]
            dispatcher.deliveries[:] = [d for d in dispatcher.deliveries if d.event.id not in gone]
            self._dropped_events = set()

    # --- card tokens --------------------------------------------------------------------------

    def card_token(
        self,
        number: str | TestCard,
        exp_month: int | None = None,
        exp_year: int | None = None,
        cvc: str | None = None,
    ) -> str:
        """A card token for a card, as BPC's mobile SDK would make it on a device; pass it to
        ``payments.create(card=CardToken(token=...))``. The payment then goes as the card
        would: frictionless, a 3-D Secure challenge, or a decline (a wrong CVC or expiry
        declines with ``71015``). A device gets one from ``POST /sandbox/card-tokens``.

        The gateway keeps what its rules need of the card (brand, last four digits, expiry,
        which test card, whether the CVC matched), never the number or the CVC.

        Args:
            number: a :class:`TestCards` value or a number as typed (spaces allowed).
            exp_month: defaults to the test card's documented expiry (December otherwise).
            exp_year: four digits; defaults as ``exp_month`` (next year otherwise).
            cvc: defaults to the test card's CVC (``123``).

        Returns:
            The token (``tok_...``).

        Raises:
            InvalidArgumentError: the card is malformed (named ``number``, ``exp_month``,
                ``exp_year`` or ``cvc``; the number and CVC are never shown).
            RuntimeError: the gateway's state is full of objects still in use.
        """
        known = number if isinstance(number, TestCard) else None
        if known is None:
            digits = check_text("number", number, empty=False).replace(" ", "")
            known = next((card for card in TestCards.ALL if card.number == digits), None)
        else:
            digits = known.number
        month = exp_month if exp_month is not None else known.exp_month if known else 12
        year = exp_year if exp_year is not None else known.exp_year if known else 0
        card = PaymentCard(
            number=digits,
            exp_month=month,
            exp_year=year or self.now().year + 1,
            cvc=cvc if cvc is not None else known.cvc if known else "123",
        )
        try:
            check_card("card", card)
        except InvalidArgumentError as err:
            raise InvalidArgumentError(err.argument.removeprefix("card."), err.problem) from None
        facts = examine(card.number, exp_month=card.exp_month, exp_year=card.exp_year, cvc=card.cvc)
        try:
            return self.state.issue_token(facts)
        except GatewayError as err:
            raise RuntimeError(err.message) from None

    # --- the customer -------------------------------------------------------------------------

    def _customer(self) -> Customer:
        return Customer(self._client(), self.base_url, self.api_key)

    async def pay(
        self,
        session_id: str,
        *,
        card: str | TestCard = TestCards.SUCCESS_FRICTIONLESS,
        cvc: str | None = None,
        expiry: str | None = None,
        holder: str = "Test Customer",
        three_ds: Literal["succeed", "fail"] = "succeed",
    ) -> PayResult:
        """Play the customer through the real payment page over HTTP.

        GETs the session (for its ``paymentUrl``), GETs the page, posts the card form, answers
        the 3-D Secure page with ``three_ds`` when the card asks for it, and stops at the
        redirect back to the store.

        Args:
            session_id: the session to pay.
            card: a :class:`TestCards` value or a number as typed (spaces allowed).
            cvc: defaults to the test card's CVC (``123``).
            expiry: ``MM/YY``; defaults to the test card's documented expiry.
            holder: the cardholder name typed in.
            three_ds: the button pressed on the 3-D Secure page.

        Returns:
            A :class:`PayResult`: the outcome and the final redirect URL.

        Raises:
            LookupError: the session cannot be read through the API.
            InvalidArgumentError: ``session_id`` is not a non-empty str, or ``three_ds`` is
                neither ``"succeed"`` nor ``"fail"``.
        """
        check_text("session_id", session_id, empty=False)
        _check_three_ds(three_ds)
        return await self._customer().pay(
            session_id,
            card=card,
            cvc=cvc,
            expiry=expiry,
            holder=holder,
            three_ds=three_ds,
        )

    async def authenticate(
        self, payment_id: str, *, three_ds: Literal["succeed", "fail"] = "succeed"
    ) -> PayResult:
        """Answer a direct payment's 3-D Secure page (its ``nextAction.url``) over HTTP.

        Raises:
            LookupError: no such payment, or it has no 3-D Secure step.
            InvalidArgumentError: ``payment_id`` is not a non-empty str, or ``three_ds`` is
                neither ``"succeed"`` nor ``"fail"``.
        """
        check_text("payment_id", payment_id, empty=False)
        _check_three_ds(three_ds)
        return await self._customer().authenticate(payment_id, three_ds=three_ds)
