"""AsyncBpcPay: options, resources, and the retry loop every call goes through.

One request path: a resource calls ``_request(endpoint, *ids, body=..., timeout=...)`` with an
entry of the endpoint table (``_core/_endpoints.py``), which knows the method, the path, the
model of the answer and what to say when an answer is lost; ``request()`` builds an ad-hoc
endpoint for a path the table does not know and takes the same path. The request is built once
(``_core/_requests.py``), every attempt goes through the transport the client was given
(``_transport.py``), each is reported once (log and ``on_attempt``), and the last one is settled
into the model or the error (``_core/_outcomes.py``). Everything pure lives in ``_core``.

This module is the source the sync client is generated from (``scripts/gen_sync.py``): every
public method here gets a twin in ``bpcpay/_sync/_client.py`` with the identical signature and
docstring. The sync bridge (``bpcpay/_bridge.py``) meets the client through one documented
internal interface, :class:`SyncSupport` (the per-call deadline, a fresh client for a forked
child, the error of a call stuck on the loop); it lives here because it reads the client's
state, and nothing outside this module does.

Seams: the resources get the request function (``_request``) through their constructor; the
transport, the sleep between attempts, the jitter and the clock come in through the
constructor's private parameters (``_transport=``, ``_sleep=``, ``_random=``, ``_clock=``), so
tests hand in their own instead of patching attributes.
"""

from __future__ import annotations

import asyncio
import logging
import random
import time
from collections.abc import Awaitable, Callable, Coroutine, Mapping
from os import PathLike
from ssl import SSLContext
from typing import Any, TypeVar, overload

import aiohttp
from yarl import URL

from .._constants import (
    DEFAULT_MAX_RESPONSE_BYTES,
    DEFAULT_MAX_RETRIES,
    DEFAULT_POOL_SIZE,
    MAX_RETRY_AFTER,
    REQUEST_ID_HEADER,
    RETRY_AFTER_HEADER,
)
from .._core._checks import check_int
from .._core._endpoints import ENDPOINTS, Endpoint, ad_hoc
from .._core._headers import header
from .._core._network import check_extra_headers, with_extra_headers
from .._core._outcomes import (
    Response,
    ResponseTooLarge,
    TransportError,
    TransportFailure,
    connection_error,
    scrub_answer,
    settle,
)
from .._core._requests import (
    Request,
    build_request,
    check_api_key,
    check_api_version,
    check_base_url,
    check_string,
    encode_path,
    options_from_env,
    static_headers,
    user_agent,
)
from .._core._responses import scrub_text
from .._core._retry import Failure, backoff, should_retry
from .._exceptions import APIConnectionError, APIError, ClientClosedError, InvalidArgumentError
from .._log import library_logger
from .._secret import Secret, hold
from .._telemetry import (
    MeterProviderLike,
    OutgoingRequest,
    TracerProviderLike,
    client_telemetry,
    traced_call,
)
from .._types import (
    DEFAULT_TIMEOUT,
    JSON,
    NOT_GIVEN,
    HTTPMethod,
    NotGiven,
    RequestAttempt,
    Timeout,
    TimeoutLike,
    to_timeout,
)
from ..webhooks import Webhooks
from ._network import ClientCert, hold_client_cert, network_settings
from ._transport import AiohttpTransport, Transport
from .resources.payment_methods import AsyncPaymentMethods
from .resources.payments import AsyncPayments
from .resources.refunds import AsyncRefunds
from .resources.sessions import AsyncSessions

__all__ = ["AsyncBpcPay", "SyncSupport"]

T = TypeVar("T")
logger = library_logger()
_HTTP_METHODS = ("GET", "POST", "PUT", "PATCH", "DELETE")


def _refuse_with_a_lent_session(*, proxy: object, ssl: object, client_cert: object) -> None:
    """A lent session is configured by its lender: bpcpay changes nothing of it."""
    given = [
        name
        for name, value, unset in (
            ("proxy", proxy, NOT_GIVEN),
            ("ssl", ssl, None),
            ("client_cert", client_cert, None),
        )
        if value is not unset
    ]
    if given:
        raise InvalidArgumentError(
            "session",
            f"{', '.join(n + '=' for n in given)} cannot be used with a session you lend: "
            f"bpcpay never changes your own session; configure it there (aiohttp's "
            f"ClientSession(proxy=...), TCPConnector(ssl=...)), or leave session= out",
        )


class AsyncBpcPay:
    """The asynchronous BPC Payment Gateway client.

    Use it as an async context manager (or call :meth:`aclose`) so its connections are closed.
    Without ``api_key`` the key is read from ``BPCPAY_API_KEY`` (and, when they are not given,
    ``base_url`` from ``BPCPAY_BASE_URL`` and ``api_version`` from ``BPCPAY_API_VERSION``).
    Every call sends the key as ``X-Api-Key`` and the API version as ``X-Version``, as BPC's
    pages on [API keys](https://dev.bpcbt.com/en/integration/apiv2/structure/api-keys-apiv2.html)
    and [API versions](https://dev.bpcbt.com/en/integration/apiv2/structure/api-versions-apiv2.html)
    describe.

    Attributes:
        sessions: hosted payment sessions, the redirect flow: [client.sessions](#client-sessions).
        payments: direct payments, two-step capture and cancel:
            [client.payments](#client-payments).
        refunds: money back on a payment: [client.refunds](#client-refunds).
        payment_methods: stored cards: [client.payment_methods](#client-payment_methods).
        webhooks: the pure webhook functions of ``bpcpay.webhooks``, reachable from the client:
            [construct_event][bpcpay.webhooks.construct_event],
            [verify_signature][bpcpay.webhooks.verify_signature],
            [sign][bpcpay.webhooks.sign].

    Args:
        api_key: the ``X-Api-Key`` from the merchant's personal area; ``BPCPAY_API_KEY`` when
            not given. Never logged or shown.
        base_url: the API root; ``BPCPAY_BASE_URL`` when not given, else
            ``https://dev.bpcbt.com/api2`` (BPC's public sandbox); production hosts are per
            bank. ``http://`` is refused except on loopback.
        api_version: sent as ``X-Version``; ``BPCPAY_API_VERSION`` when not given, else the
            version bpcpay is tested with.
        timeout: per attempt; a :class:`~bpcpay.Timeout` (connect, read) or one number for both.
            Every method also takes ``timeout=`` for a single call.
        max_retries: retries after the first attempt, for GETs and for POSTs that provably
            never reached the gateway (see docs/reliability.md).
        session: your own ``aiohttp.ClientSession`` (e.g. a bot's, or one set up for a
            network bpcpay's options do not cover); bpcpay uses it as it is and never closes
            it, so ``proxy``, ``ssl`` and ``client_cert`` are refused with it. Without one,
            bpcpay opens a pooled session on first use.
        pool_size: connections kept open to the gateway (ignored with ``session=``).
        on_attempt: called after every attempt with a :class:`~bpcpay.RequestAttempt`
            (method, path, status, request id, attempt number, elapsed time, retry delay), to
            time and count requests and retries. It runs on the event loop (for ``BpcPay``, on
            its loop thread), must be quick, and an exception in it is logged, never raised.
        before_request: called before every attempt with an :class:`~bpcpay.OutgoingRequest`
            (method, URL, headers, attempt number); edits to its ``headers`` are sent with that
            attempt, and what it returns is not used. The API key is not in it. It runs where
            ``on_attempt`` runs, inside the attempt's span; an exception in it is logged and
            the attempt is sent as bpcpay built it.
        tracer_provider: the OpenTelemetry ``TracerProvider`` for this client's spans; the
            global one by default (nothing is recorded until the application configures an
            SDK; see docs/observability.md). Needs ``bpcpay[otel]``.
        meter_provider: likewise, the ``MeterProvider`` for its metrics.
        max_response_bytes: the largest answer read, decompressed (10 MiB by default); a
            larger one raises :class:`~bpcpay.ResponseTooLargeError` without being read whole.
        proxy: an ``http://[user:password@]host:port`` proxy for every call (HTTPS goes
            through it in a CONNECT tunnel); None for none. When not given, ``HTTPS_PROXY``
            or ``HTTP_PROXY`` (by the base URL's scheme, else ``ALL_PROXY``) and
            ``NO_PROXY`` decide, as with requests and httpx. Its credentials are never shown.
        ssl: the CAs to verify the gateway's certificate with: an ``ssl.SSLContext``, or the
            path of a CA bundle (a PEM file) or of a hashed CA directory, trusted instead of
            the system's. By default the system's CAs, or ``SSL_CERT_FILE`` /
            ``SSL_CERT_DIR``. Verification is always on.
        client_cert: a client certificate for mTLS: the path of a PEM file holding the
            certificate and its key, ``(cert, key)``, or ``(cert, key, password)`` for an
            encrypted key. Loaded when the client is made.
        _transport: private: the transport to send with (tests give their own); by default
            one over aiohttp, built from the options above.
        _sleep: private: waits between attempts (``asyncio.sleep`` by default).
        _random: private: the jitter's source of numbers in [0, 1) (``random.random``).
        _clock: private: seconds for the attempts' elapsed time (``time.perf_counter``).

    Raises:
        InvalidArgumentError: an option is invalid (the message names it; never a secret), a
            file of ``ssl`` or ``client_cert`` cannot be loaded, or no key was given and
            ``BPCPAY_API_KEY`` is unset.

    Examples:
        ```python
        from bpcpay import AsyncBpcPay

        async with AsyncBpcPay() as client:  # BPCPAY_API_KEY and BPCPAY_BASE_URL
            session = await client.sessions.create(
                amount=10000,  # 100.00 EUR
                currency="EUR",
                success_url="https://shop.example/success",
                failure_url="https://shop.example/failure",
            )
        print(session.status)  # open
        ```
    """

    sessions: AsyncSessions
    payments: AsyncPayments
    refunds: AsyncRefunds
    payment_methods: AsyncPaymentMethods
    webhooks: Webhooks

    def __init__(
        self,
        *,
        api_key: str | Secret[str] | None = None,
        base_url: str | None = None,
        api_version: str | None = None,
        timeout: TimeoutLike = DEFAULT_TIMEOUT,
        max_retries: int = DEFAULT_MAX_RETRIES,
        session: aiohttp.ClientSession | None = None,
        pool_size: int = DEFAULT_POOL_SIZE,
        on_attempt: Callable[[RequestAttempt], object] | None = None,
        before_request: Callable[[OutgoingRequest], object] | None = None,
        tracer_provider: TracerProviderLike | None = None,
        meter_provider: MeterProviderLike | None = None,
        max_response_bytes: int = DEFAULT_MAX_RESPONSE_BYTES,
        proxy: str | Secret[str] | NotGiven | None = NOT_GIVEN,
        ssl: SSLContext | str | PathLike[str] | None = None,
        client_cert: ClientCert | None = None,
        _transport: Transport | None = None,
        _sleep: Callable[[float], Awaitable[object]] | None = None,
        _random: Callable[[], float] | None = None,
        _clock: Callable[[], float] | None = None,
    ) -> None:
        # The arguments that may carry a secret (the key, a proxy URL's password, the client
        # key's password) are held in a Secret first thing (its repr, str and pickle show
        # "[redacted]"), so no frame an error leaves through below holds a plain value. These
        # lines open the generated sync constructor too (scripts/gen_sync.py copies them).
        api_key = hold(api_key)
        proxy = hold(proxy)
        client_cert = hold_client_cert(client_cert)
        key, base_url, api_version = options_from_env(
            api_key=api_key, base_url=base_url, api_version=api_version
        )
        self._api_key = check_api_key(key)
        self._base_url = check_base_url(base_url)
        # Encoded once (IDNA host, percent-encoded path): URLs are sent exactly as built.
        self._url_root = str(URL(self._base_url))
        self._api_version = check_api_version(api_version)
        self._timeout = to_timeout(timeout)
        self._max_retries = check_int("max_retries", max_retries, minimum=0)
        if session is not None and not isinstance(session, aiohttp.ClientSession):
            raise InvalidArgumentError("session", "must be an aiohttp.ClientSession or None")
        if on_attempt is not None and not callable(on_attempt):
            raise InvalidArgumentError("on_attempt", "must be a callable or None")
        self._on_attempt = on_attempt
        pool_size = check_int("pool_size", pool_size, minimum=1)
        max_response_bytes = check_int("max_response_bytes", max_response_bytes, minimum=1)
        network = None
        if session is not None:
            _refuse_with_a_lent_session(proxy=proxy, ssl=ssl, client_cert=client_cert)
        elif _transport is None:
            network = network_settings(
                base_url=self._base_url, proxy=proxy, ssl_option=ssl, client_cert=client_cert
            )
        self._transport: Transport = _transport or AiohttpTransport(
            session=session,
            pool_size=pool_size,
            max_response_bytes=max_response_bytes,
            network=network,
        )
        self._closed = False
        self._get_headers = static_headers(
            api_key=self._api_key,
            api_version=self._api_version,
            user_agent=user_agent(aiohttp.__version__),
        )
        self._post_headers = {**self._get_headers, "Content-Type": "application/json"}
        self._sleep: Callable[[float], Awaitable[object]] = _sleep or asyncio.sleep
        self._random: Callable[[], float] = _random or random.random
        self._clock: Callable[[], float] = _clock or time.perf_counter
        # OpenTelemetry and before_request (bpcpay/_telemetry.py); None without either.
        self._telemetry = client_telemetry(
            tracer_provider=tracer_provider,
            meter_provider=meter_provider,
            before_request=before_request,
            url_root=self._url_root,
            api_key=self._api_key,
        )
        self._bind_resources()

    def _bind_resources(self) -> None:
        # Each resource gets this client's request function, and nothing else of it.
        request = self._request
        self.sessions = AsyncSessions(request)
        self.payments = AsyncPayments(request)
        self.refunds = AsyncRefunds(request)
        self.payment_methods = AsyncPaymentMethods(request)
        self.webhooks = Webhooks()

    @classmethod
    def from_env(
        cls,
        *,
        timeout: TimeoutLike = DEFAULT_TIMEOUT,
        max_retries: int = DEFAULT_MAX_RETRIES,
        pool_size: int = DEFAULT_POOL_SIZE,
        max_response_bytes: int = DEFAULT_MAX_RESPONSE_BYTES,
    ) -> AsyncBpcPay:
        """A client configured from ``BPCPAY_API_KEY``, ``BPCPAY_BASE_URL`` and
        ``BPCPAY_API_VERSION`` (the last two optional): the same as the constructor without
        ``api_key``, ``base_url`` and ``api_version``.

        Args:
            timeout: as for the constructor.
            max_retries: as for the constructor.
            pool_size: as for the constructor.
            max_response_bytes: as for the constructor.

        Returns:
            The client.

        Raises:
            InvalidArgumentError: ``BPCPAY_API_KEY`` is unset or empty, or a value is invalid.

        Examples:
            ```python
            import os

            from bpcpay import AsyncBpcPay

            async with AsyncBpcPay.from_env(max_retries=0) as client:
                print(client.base_url == os.environ["BPCPAY_BASE_URL"])  # True
                print(client.max_retries)  # 0
            ```
        """
        return cls(
            timeout=timeout,
            max_retries=max_retries,
            pool_size=pool_size,
            max_response_bytes=max_response_bytes,
        )

    def with_options(
        self,
        *,
        timeout: TimeoutLike | NotGiven = NOT_GIVEN,
        max_retries: int | NotGiven = NOT_GIVEN,
    ) -> AsyncBpcPay:
        """A client that shares this one's connections but uses other defaults.

        ``client.with_options(max_retries=0).sessions.retrieve(...)``; closing either closes the
        shared connections.

        Args:
            timeout: the new client's default timeout; this client's when not given.
            max_retries: the new client's retries; this client's when not given.

        Returns:
            The new client.

        Raises:
            InvalidArgumentError: ``timeout`` or ``max_retries`` is invalid.

        Examples:
            A tighter budget on a web request's critical path:

            ```python
            quick = client.with_options(timeout=3, max_retries=0)
            print(quick.timeout)  # Timeout(connect=3.0, read=3.0)
            print(quick.max_retries, client.max_retries)  # 0 2
            ```
        """
        changes: dict[str, Any] = {}
        if not isinstance(timeout, NotGiven):
            changes["_timeout"] = to_timeout(timeout)
        if not isinstance(max_retries, NotGiven):
            changes["_max_retries"] = check_int("max_retries", max_retries, minimum=0)
        return self._copy(**changes)

    def _copy(self, **changes: Any) -> AsyncBpcPay:
        """A copy of this client with some attributes replaced, its resources bound to it."""
        clone = object.__new__(type(self))
        clone.__dict__.update(self.__dict__, **changes)
        clone._bind_resources()
        return clone

    @property
    def base_url(self) -> str:
        """The API root requests go to."""
        return self._base_url

    @property
    def api_version(self) -> str:
        """The ``X-Version`` sent with every request."""
        return self._api_version

    @property
    def timeout(self) -> Timeout:
        """The default per-attempt timeout."""
        return self._timeout

    @property
    def max_retries(self) -> int:
        """The default number of retries."""
        return self._max_retries

    @property
    def max_response_bytes(self) -> int:
        """The largest answer read, in bytes, decompressed."""
        return self._transport.max_response_bytes

    @property
    def closed(self) -> bool:
        """True once :meth:`aclose` was called (on this client or one sharing its connections)."""
        return self._closed or self._transport.closed

    def __repr__(self) -> str:
        # getattr: a refused option leaves the constructor half done, and error trackers that
        # print the locals of its frame print this `self` too.
        closed = " closed" if getattr(self, "_closed", False) else ""
        return (
            f"<{type(self).__name__} base_url={getattr(self, '_base_url', None)!r} "
            f"api_version={getattr(self, '_api_version', None)!r}{closed}>"
        )

    async def __aenter__(self) -> AsyncBpcPay:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        """Close the connections bpcpay opened (never a session you passed in). Idempotent.

        A call made afterwards raises :class:`~bpcpay.ClientClosedError`; ``async with``
        closes the client for you.

        Examples:
            ```python
            from bpcpay import AsyncBpcPay

            client = AsyncBpcPay()
            try:
                session = await client.sessions.create(
                    amount=500,
                    currency="EUR",
                    success_url="https://shop.example/done",
                    failure_url="https://shop.example/retry",
                )
            finally:
                await client.aclose()
            print(client.closed)  # True
            ```
        """
        self._closed = True
        await self._transport.aclose()

    @overload
    async def request(
        self,
        method: HTTPMethod,
        path: str,
        *,
        json: JSON | NotGiven = NOT_GIVEN,
        cast_to: type[T],
        extra_headers: Mapping[str, str] | NotGiven = NOT_GIVEN,
        timeout: TimeoutLike | NotGiven = NOT_GIVEN,
    ) -> T: ...

    @overload
    async def request(
        self,
        method: HTTPMethod,
        path: str,
        *,
        json: JSON | NotGiven = NOT_GIVEN,
        cast_to: None = None,
        extra_headers: Mapping[str, str] | NotGiven = NOT_GIVEN,
        timeout: TimeoutLike | NotGiven = NOT_GIVEN,
    ) -> Any: ...

    async def request(
        self,
        method: HTTPMethod,
        path: str,
        *,
        json: JSON | NotGiven = NOT_GIVEN,
        cast_to: type[T] | None = None,
        extra_headers: Mapping[str, str] | NotGiven = NOT_GIVEN,
        timeout: TimeoutLike | NotGiven = NOT_GIVEN,
    ) -> T | Any:
        """Call any endpoint of the API, for what bpcpay does not wrap yet.

        Args:
            method: ``"GET"``, ``"POST"``, ...
            path: below the base URL, e.g. ``"/sessions/ps_..."``. Characters that cannot
                stand in a URL path are percent-encoded (an id with ``/`` or ``;`` in it must
                be encoded by you); ``.`` and ``..`` segments are refused.
            json: the request body.
            cast_to: a model class (``bpcpay.models.Session`` ...) to parse the answer into;
                None returns the decoded JSON.
            extra_headers: more HTTP headers for this call, as every method takes them:
                ``{"X-Request-Source": "checkout"}``. A header bpcpay sets itself and that must
                not change (``X-Api-Key`` in any case, ``X-Version``, ``Content-Type``,
                ``Accept``, the framing and connection headers) is refused; ``User-Agent`` may
                be replaced.
            timeout: this call's timeout.

        Returns:
            An instance of ``cast_to``, or the decoded JSON.

        Raises:
            InvalidArgumentError: ``method``, ``path`` or ``extra_headers`` is invalid;
                nothing was sent.
            APIStatusError, APIConnectionError, APIResponseValidationError: see the error tree.

        Examples:
            The same headers, retries and errors as every method; ``cast_to`` gives a model:

            ```python
            from bpcpay import Session

            session = await client.sessions.create(
                amount=500,
                currency="EUR",
                success_url="https://shop.example/done",
                failure_url="https://shop.example/retry",
            )
            raw = await client.request("GET", f"/sessions/{session.id}")
            print(raw["paymentStatus"])  # unpaid
            path = f"/sessions/{session.id}/expire"
            expired = await client.request("POST", path, cast_to=Session)
            print(expired.status)  # expired
            ```
        """
        if method not in _HTTP_METHODS:
            raise InvalidArgumentError("method", f"must be an HTTP method, got {method!r}")
        path = encode_path(check_string("path", path, max_length=2048))
        return await self._request(
            ad_hoc(method, path, cast_to), body=json, timeout=timeout, extra_headers=extra_headers
        )

    @traced_call
    async def _request(
        self,
        endpoint: Endpoint[T],
        *ids: str,
        body: JSON | NotGiven = NOT_GIVEN,
        timeout: TimeoutLike | NotGiven = NOT_GIVEN,
        extra_headers: Mapping[str, str] | NotGiven = NOT_GIVEN,
    ) -> T:
        """One call of ``endpoint``: the request is built once, then attempts are made until
        one answers or the retry policy (``_core/_retry.py``) says stop.

        Args:
            endpoint: what to call (its model is what the call returns).
            ids: the values of the path template's fields, in order.
            body: the JSON body; NOT_GIVEN sends none (and no Content-Type).
            timeout: this call's per-attempt timeout; the client's by default.
            extra_headers: this call's extra headers, checked here (none by default).

        Returns:
            The endpoint's model (or the decoded JSON for an ad-hoc endpoint without one).

        Raises:
            ClientClosedError: the client is closed.
            InvalidArgumentError: an id, the body, the timeout or the extra headers are
                invalid; nothing was sent.
            APIError: see ``settle`` in ``_core/_outcomes.py``.
        """
        if self._closed or self._transport.closed:
            raise ClientClosedError(f"this {type(self).__name__} is closed; create a new client")
        attempt_timeout = self._timeout if isinstance(timeout, NotGiven) else to_timeout(timeout)
        # The headers hold the key: never in a local of this frame, which errors leave through
        # (error trackers read its locals). The extras are checked before the merge starts.
        request = build_request(
            endpoint,
            ids,
            base_url=self._url_root,
            headers=(self._get_headers if body is NOT_GIVEN else self._post_headers)
            if extra_headers is NOT_GIVEN
            else with_extra_headers(
                self._get_headers if body is NOT_GIVEN else self._post_headers,
                check_extra_headers(extra_headers),
            ),
            body=body,
        )
        send = self._transport.send
        if self._telemetry is not None:  # the attempts' spans and before_request
            send = self._telemetry.sender(send, request)
        report = self._on_attempt is not None or logger.isEnabledFor(logging.DEBUG)
        attempt = 0
        while True:
            started = self._clock() if report else 0.0
            outcome: Response | TransportError
            delay: float | None
            try:
                outcome = await send(request, attempt_timeout)
            except TransportFailure as failure:
                outcome = failure
                delay = self._retry_delay(request, attempt, failure.failure)
            except ResponseTooLarge as big:
                # Never retried: the gateway answered, and would answer the same again.
                outcome, delay = big, None
            else:
                status = outcome[0]
                if status < 300:
                    delay = None
                else:
                    # An answer that becomes an error: the gateway may echo the key in it, so
                    # it is scrubbed before anything (this frame, a report, the error) keeps it.
                    outcome = scrub_answer(outcome, self._api_key)
                    delay = (
                        None
                        if status < 400
                        else self._retry_delay(request, attempt, status, outcome[1])
                    )
            if report:
                self._report(request, attempt, started, outcome, delay)
            if delay is None:
                try:
                    result: T = settle(
                        request, outcome, api_key=self._api_key, base_url=self._base_url
                    )
                except APIError as err:
                    # The frames below hold the answer as it was read (a 2xx answer is not
                    # scrubbed when read: that would cost every call), so the error leaves
                    # from here, without them, and this frame lets go of the answer.
                    del outcome
                    raise err.with_traceback(None)  # noqa: B904 - it is the same error
                return result
            attempt += 1
            await self._sleep(delay)

    def _retry_delay(
        self,
        request: Request,
        attempt: int,
        outcome: int | Failure,
        headers: Any = None,
    ) -> float | None:
        """Seconds to wait before the next attempt, or None when there is none.

        ``outcome`` is the attempt's status (``headers`` its answer's headers), or how it failed.
        """
        if not should_retry(
            method=request.method, attempt=attempt, max_retries=self._max_retries, outcome=outcome
        ):
            return None
        retry_after = header(headers, RETRY_AFTER_HEADER) if headers is not None else None
        return backoff(attempt, retry_after=retry_after, rand=self._random)

    def _report(
        self,
        request: Request,
        attempt: int,
        started: float,
        outcome: Response | TransportError,
        retry_in: float | None,
    ) -> None:
        """Log one attempt at DEBUG and hand it to the on_attempt hook (the one place that
        reports; called only when either listens)."""
        elapsed = self._clock() - started
        status: int | None = None
        request_id: str | None = None
        error: str | None = None
        if isinstance(outcome, TransportFailure):
            error = outcome.detail
        else:
            if isinstance(outcome, ResponseTooLarge):
                status, headers = outcome.status, outcome.headers
                error = f"answer over max_response_bytes={outcome.limit}"
            else:
                assert isinstance(outcome, tuple)
                status, headers = outcome[0], outcome[1]
            request_id = header(headers, REQUEST_ID_HEADER)
            if request_id is not None:
                # A gateway could echo the key in its request id header.
                request_id = scrub_text(request_id, self._api_key)
        if logger.isEnabledFor(logging.DEBUG):
            shown = f"-> {status} request_id={request_id}" if error is None else f"failed: {error}"
            retry = f"; retry in {retry_in:.2f} s" if retry_in is not None else ""
            logger.debug(
                "%s %s %s (attempt %d, %.1f ms)%s",
                request.method,
                request.path,
                shown,
                attempt + 1,
                elapsed * 1000,
                retry,
            )
        if self._on_attempt is not None:
            self._call_hook(
                self._on_attempt,
                RequestAttempt(
                    method=request.method,
                    path=request.path,
                    attempt=attempt + 1,
                    status=status,
                    request_id=request_id,
                    elapsed=elapsed,
                    error=error,
                    retry_in=retry_in,
                ),
            )

    @staticmethod
    def _call_hook(hook: Callable[[RequestAttempt], object], info: RequestAttempt) -> None:
        """Run the on_attempt hook; its error is logged with its traceback, which starts in this
        frame: it holds the report alone, not the answer it was made from."""
        try:
            hook(info)
        except Exception:
            logger.exception("the on_attempt hook raised; ignored")


class SyncSupport:
    """What the sync bridge (``bpcpay/_bridge.py``) needs from the async client it drives, and
    all it may use besides the client's public API: an internal interface, not documented for
    users.

    * :meth:`deadline`: how long the caller waits at most for one call (the backstop);
    * :meth:`for_forked_child`: the support of a fresh client for a forked child;
    * :meth:`stuck_call_error`: the error of a call whose result never came back in time.

    It lives beside the client because it reads the client's state; the bridge holds one per
    sync client and reaches the async client as :attr:`client`.
    """

    __slots__ = ("client",)

    def __init__(self, client: AsyncBpcPay) -> None:
        #: The async client the sync client runs its calls on.
        self.client = client

    def deadline(self, timeout: TimeoutLike | NotGiven = NOT_GIVEN) -> float:
        """An upper bound on how long one call can take with every retry and backoff: the
        sync caller waits this long (plus a margin), so the transport's own timeouts always
        fire first.

        Args:
            timeout: the call's ``timeout`` argument; NOT_GIVEN (also for a method that takes
                none) means the client's default.

        Returns:
            Seconds.
        """
        client = self.client
        attempt = client._timeout if isinstance(timeout, NotGiven) else to_timeout(timeout)
        retries = client._max_retries
        return (retries + 1) * attempt.total + retries * MAX_RETRY_AFTER

    def for_forked_child(self) -> SyncSupport:
        """In a forked child: the support of this client with a fresh, unopened transport (the
        inherited one is abandoned, never closed: its sockets are the parent's).

        Returns:
            The support to use in the child.
        """
        parent = self.client
        return SyncSupport(
            parent._copy(_transport=parent._transport.for_forked_child(), _closed=False)
        )

    def stuck_call_error(
        self,
        fn: Callable[..., Coroutine[Any, Any, Any]],
        args: tuple[Any, ...],
        kwargs: dict[str, Any],
        waited: float,
    ) -> APIConnectionError:
        """The error for a call whose result never came back from the event loop in time: the
        call's real method and path, and the outcome rule of any timeout (a GET is never
        "outcome unknown", a POST that may have been sent is).

        Args:
            fn: the bound method that was called (of the client or one of its resources).
            args: its positional arguments.
            kwargs: its keyword arguments.
            waited: how long the caller waited, in seconds.

        Returns:
            An APITimeoutError to raise.
        """
        client = self.client
        endpoint = self._endpoint_of(fn, kwargs)
        path = endpoint.describe(args)
        reference = kwargs.get("merchant_reference_id")
        request = Request(
            endpoint,
            path,
            client._url_root + path,
            {},
            merchant_reference_id=reference if isinstance(reference, str) else None,
        )
        failure = TransportFailure(
            Failure.MAYBE_SENT,
            f"no result within {waited:g}s (bpcpay's event loop thread did not answer in time)",
            timeout_phase="read",
        )
        return connection_error(
            request, failure, base_url=client._base_url, api_key=client._api_key
        )

    def _endpoint_of(self, fn: Callable[..., Any], kwargs: dict[str, Any]) -> Endpoint[Any]:
        """The endpoint a call of ``client.request(...)`` or ``client.<resource>.<name>(...)``
        goes to, without running it; an unknown one is taken as the unsafe case (a POST)."""
        client = self.client
        owner = getattr(fn, "__self__", None)
        if owner is client and fn.__name__ == "request":
            try:
                return ad_hoc(kwargs["method"], encode_path(kwargs["path"]), None)
            except (KeyError, InvalidArgumentError, AttributeError):
                return ad_hoc("POST", "/request", None)
        resource = next((name for name, value in vars(client).items() if value is owner), "?")
        endpoint = ENDPOINTS.get(f"{resource}.{fn.__name__}")
        return endpoint or ad_hoc("POST", f"/{resource}.{fn.__name__}", None)
