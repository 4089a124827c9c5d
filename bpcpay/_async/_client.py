"""AsyncBpcPay: options, resources, the retry loop and the ``request()`` escape hatch.

This module is the source the sync client is generated from (``scripts/gen_sync.py``): every
public method here gets a twin in ``bpcpay/_sync`` with the identical signature and docstring.
"""

from __future__ import annotations

import asyncio
import logging
import os
import platform
import random
import string
import time
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar, overload

import aiohttp
from yarl import URL

from .._constants import (
    DEFAULT_API_VERSION,
    DEFAULT_BASE_URL,
    DEFAULT_MAX_RESPONSE_BYTES,
    DEFAULT_MAX_RETRIES,
    DEFAULT_POOL_SIZE,
    ENV_API_KEY,
    ENV_API_VERSION,
    ENV_BASE_URL,
    LOGGER_NAME,
    MAX_RETRY_AFTER,
    REQUEST_ID_HEADER,
    RETRY_AFTER_HEADER,
)
from .._core._endpoints import ENDPOINTS
from .._core._requests import (
    Request,
    build_request,
    check_api_key,
    check_api_version,
    check_base_url,
    check_string,
    encode_path,
    static_headers,
)
from .._core._responses import decode_response, header, scrub_error, scrub_text
from .._core._retry import Failure, backoff, should_retry
from .._exceptions import (
    APIConnectionError,
    APITimeoutError,
    ClientClosedError,
    InvalidArgumentError,
    ResponseTooLargeError,
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
from .._version import __version__
from ..webhooks import Webhooks
from ._transport import AsyncTransport, RawResponse, ResponseTooLarge, TransportFailure
from .resources.payment_methods import AsyncPaymentMethods
from .resources.payments import AsyncPayments
from .resources.refunds import AsyncRefunds
from .resources.sessions import AsyncSessions

__all__ = ["AsyncBpcPay"]

T = TypeVar("T")
logger = logging.getLogger(LOGGER_NAME)

_UNKNOWN_OUTCOME_HINT = {
    "/sessions": (
        "A session that was created but never used simply expires unpaid, so it is safe to "
        "create another."
    ),
    "/payments": (
        "Do not send it again: wait for the payment.created webhook, or retrieve the payment "
        "by id if you have one."
    ),
    "/refunds": (
        "Do not send it again: retrieve the payment and check amount_refunded (or wait for the "
        "refund webhook) first."
    ),
}


def _user_agent() -> str:
    return (
        f"bpcpay/{__version__} aiohttp/{aiohttp.__version__} "
        f"{platform.python_implementation()}/{platform.python_version()}"
    )


def _check_count(argument: str, value: object, minimum: int) -> int:
    """An int (not a bool) of at least ``minimum``, or InvalidArgumentError naming it."""
    if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
        raise InvalidArgumentError(argument, f"must be an int >= {minimum}, got {value!r}")
    return value


#: Added to connection errors of a client left on the default base URL.
_DEFAULT_BASE_URL_HINT = (
    f" (base_url is bpcpay's default, BPC's public sandbox {DEFAULT_BASE_URL}; pass base_url= "
    f"or set {ENV_BASE_URL} to reach your bank's gateway)"
)


def _unknown_outcome_message(method: str, path: str, detail: str) -> str:
    if path.endswith(("/capture", "/cancel")):
        hint = "Do not send it again: retrieve the payment and check its status first."
    else:
        hint = next(
            (text for prefix, text in _UNKNOWN_OUTCOME_HINT.items() if path.startswith(prefix)),
            "Check the object's state with a GET before sending it again.",
        )
    return f"{detail}; the {method} may have reached the gateway, so its outcome is unknown. {hint}"


class AsyncBpcPay:
    """The asynchronous BPC Payment Gateway client.

    Use it as an async context manager (or call :meth:`aclose`) so its connections are closed::

        async with AsyncBpcPay(api_key="...") as client:
            session = await client.sessions.create(
                amount=10000, currency="EUR",
                success_url="https://shop.example/success",
                failure_url="https://shop.example/failure",
            )

    Args:
        api_key: the ``X-Api-Key`` from the merchant's personal area. Never logged or shown.
        base_url: the API root, ``https://dev.bpcbt.com/api2`` (BPC's public sandbox) by
            default; production hosts are per bank. ``http://`` is refused except on loopback.
        api_version: sent as ``X-Version``; the default is the version bpcpay is tested with.
        timeout: per attempt; a :class:`~bpcpay.Timeout` (connect, read) or one number for both.
            Every method also takes ``timeout=`` for a single call.
        max_retries: retries after the first attempt, for GETs and for POSTs that provably
            never reached the gateway (see the README's "Reliability").
        session: your own ``aiohttp.ClientSession`` (e.g. a bot's); bpcpay uses it and never
            closes it. Without one, bpcpay opens a pooled session on first use.
        pool_size: connections kept open to the gateway (ignored with ``session=``).
        on_attempt: called after every attempt with a :class:`~bpcpay.RequestAttempt`
            (method, path, status, request id, attempt number, elapsed time, retry delay), to
            time and count requests and retries. It runs on the event loop (for ``BpcPay``, on
            its loop thread), must be quick, and an exception in it is logged, never raised.
        max_response_bytes: the largest answer read, decompressed (10 MiB by default); a
            larger one raises :class:`~bpcpay.ResponseTooLargeError` without being read whole.

    Raises:
        InvalidArgumentError: an option is invalid (the message names it; never the key).
    """

    sessions: AsyncSessions
    payments: AsyncPayments
    refunds: AsyncRefunds
    payment_methods: AsyncPaymentMethods
    webhooks: Webhooks

    def __init__(
        self,
        *,
        api_key: str,
        base_url: str = DEFAULT_BASE_URL,
        api_version: str = DEFAULT_API_VERSION,
        timeout: TimeoutLike = DEFAULT_TIMEOUT,
        max_retries: int = DEFAULT_MAX_RETRIES,
        session: aiohttp.ClientSession | None = None,
        pool_size: int = DEFAULT_POOL_SIZE,
        on_attempt: Callable[[RequestAttempt], object] | None = None,
        max_response_bytes: int = DEFAULT_MAX_RESPONSE_BYTES,
    ) -> None:
        self._api_key = check_api_key(api_key)
        self._base_url = check_base_url(base_url)
        # Encoded once (IDNA host, percent-encoded path): URLs are sent exactly as built.
        self._url_root = str(URL(self._base_url))
        self._api_version = check_api_version(api_version)
        self._timeout = to_timeout(timeout)
        self._max_retries = _check_count("max_retries", max_retries, 0)
        if session is not None and not isinstance(session, aiohttp.ClientSession):
            raise InvalidArgumentError("session", "must be an aiohttp.ClientSession or None")
        if on_attempt is not None and not callable(on_attempt):
            raise InvalidArgumentError("on_attempt", "must be a callable or None")
        self._on_attempt = on_attempt
        self._transport = AsyncTransport(
            session=session,
            pool_size=_check_count("pool_size", pool_size, 1),
            max_response_bytes=_check_count("max_response_bytes", max_response_bytes, 1),
        )
        self._closed = False
        self._get_headers = static_headers(
            api_key=self._api_key, api_version=self._api_version, user_agent=_user_agent()
        )
        self._post_headers = {**self._get_headers, "Content-Type": "application/json"}
        # Injectable for tests (fake clocks); production uses the real ones.
        self._sleep: Callable[[float], Awaitable[Any]] = asyncio.sleep
        self._random: Callable[[], float] = random.random
        self._bind_resources()

    def _bind_resources(self) -> None:
        self.sessions = AsyncSessions(self)
        self.payments = AsyncPayments(self)
        self.refunds = AsyncRefunds(self)
        self.payment_methods = AsyncPaymentMethods(self)
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
        ``BPCPAY_API_VERSION`` (the last two optional).

        Args:
            timeout: as for the constructor.
            max_retries: as for the constructor.
            pool_size: as for the constructor.
            max_response_bytes: as for the constructor.

        Returns:
            The client.

        Raises:
            InvalidArgumentError: ``BPCPAY_API_KEY`` is unset or empty, or a value is invalid.
        """
        return cls(**_options_from_env(), timeout=timeout, max_retries=max_retries,
                   pool_size=pool_size, max_response_bytes=max_response_bytes)  # fmt: skip

    def with_options(
        self,
        *,
        timeout: TimeoutLike | NotGiven = NOT_GIVEN,
        max_retries: int | NotGiven = NOT_GIVEN,
    ) -> AsyncBpcPay:
        """A client that shares this one's connections but uses other defaults.

        ``client.with_options(max_retries=0).sessions.retrieve(...)``; closing either closes the
        shared connections.
        """
        clone = object.__new__(type(self))
        clone.__dict__.update(self.__dict__)
        if not isinstance(timeout, NotGiven):
            clone._timeout = to_timeout(timeout)
        if not isinstance(max_retries, NotGiven):
            clone._max_retries = _check_count("max_retries", max_retries, 0)
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
        return (
            f"<{type(self).__name__} base_url={self._base_url!r} "
            f"api_version={self._api_version!r}{' closed' if self._closed else ''}>"
        )

    async def __aenter__(self) -> AsyncBpcPay:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        """Close the connections bpcpay opened (never a session you passed in). Idempotent."""
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
        timeout: TimeoutLike | NotGiven = NOT_GIVEN,
    ) -> Any: ...

    async def request(
        self,
        method: HTTPMethod,
        path: str,
        *,
        json: JSON | NotGiven = NOT_GIVEN,
        cast_to: type[T] | None = None,
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
            timeout: this call's timeout.

        Returns:
            An instance of ``cast_to``, or the decoded JSON.

        Raises:
            InvalidArgumentError: ``method`` or ``path`` is invalid; nothing was sent.
            APIStatusError, APIConnectionError, APIResponseValidationError: see the error tree.
        """
        if method not in ("GET", "POST", "PUT", "PATCH", "DELETE"):
            raise InvalidArgumentError("method", f"must be an HTTP method, got {method!r}")
        path = encode_path(check_string("path", path, max_length=2048))
        if cast_to is None:
            return await self._request(method, path, json_body=json, cast_to=None, timeout=timeout)
        return await self._request(method, path, json_body=json, cast_to=cast_to, timeout=timeout)

    @overload
    async def _request(
        self,
        method: HTTPMethod,
        path: str,
        *,
        json_body: JSON | NotGiven = ...,
        cast_to: type[T],
        timeout: TimeoutLike | NotGiven = ...,
        merchant_reference_id: str | None = ...,
    ) -> T: ...

    @overload
    async def _request(
        self,
        method: HTTPMethod,
        path: str,
        *,
        json_body: JSON | NotGiven = ...,
        cast_to: None,
        timeout: TimeoutLike | NotGiven = ...,
        merchant_reference_id: str | None = ...,
    ) -> Any: ...

    async def _request(
        self,
        method: HTTPMethod,
        path: str,
        *,
        json_body: JSON | NotGiven = NOT_GIVEN,
        cast_to: type[T] | None,
        timeout: TimeoutLike | NotGiven = NOT_GIVEN,
        merchant_reference_id: str | None = None,
    ) -> T | Any:
        if self._closed or self._transport.closed:
            raise ClientClosedError(f"this {type(self).__name__} is closed; create a new client")
        attempt_timeout = self._timeout if isinstance(timeout, NotGiven) else to_timeout(timeout)
        request = build_request(
            method,
            path,
            base_url=self._url_root,
            headers=self._get_headers if isinstance(json_body, NotGiven) else self._post_headers,
            json_body=json_body,
            merchant_reference_id=merchant_reference_id,
        )
        debug = logger.isEnabledFor(logging.DEBUG)
        attempt = 0
        while True:
            started = time.perf_counter()
            try:
                response: RawResponse = await self._transport.send(request, attempt_timeout)
            except ResponseTooLarge as big:
                # Never retried: the gateway answered, and would answer the same again.
                self._report(
                    request,
                    attempt,
                    started,
                    big.status,
                    header(big.headers, REQUEST_ID_HEADER),
                    f"answer over max_response_bytes={big.limit}",
                    None,
                    debug=debug,
                )
                raise self._too_large_error(request, big) from None
            except TransportFailure as failure:
                retry = should_retry(
                    method=method,
                    attempt=attempt,
                    max_retries=self._max_retries,
                    failure=failure.failure,
                )
                delay = backoff(attempt, rand=self._random) if retry else None
                self._report(
                    request, attempt, started, None, None, failure.detail, delay, debug=debug
                )
                if delay is None:
                    raise self._connection_error(request, failure) from failure.__cause__
            else:
                status = response.status
                retry = status >= 400 and should_retry(
                    method=method, attempt=attempt, max_retries=self._max_retries, status=status
                )
                delay = (
                    backoff(
                        attempt,
                        retry_after=header(response.headers, RETRY_AFTER_HEADER),
                        rand=self._random,
                    )
                    if retry
                    else None
                )
                if debug or self._on_attempt is not None:
                    self._report(
                        request,
                        attempt,
                        started,
                        status,
                        header(response.headers, REQUEST_ID_HEADER),
                        None,
                        delay,
                        debug=debug,
                    )
                if delay is None:
                    return decode_response(
                        status=status,
                        headers=response.headers,
                        body=response.body,
                        cast_to=cast_to,
                        method=method,
                        path=path,
                        merchant_reference_id=merchant_reference_id,
                        redact=self._api_key,
                        base_url=self._base_url,
                    )
            attempt += 1
            await self._sleep(delay)

    def _report(
        self,
        request: Request,
        attempt: int,
        started: float,
        status: int | None,
        request_id: str | None,
        error: str | None,
        retry_in: float | None,
        *,
        debug: bool,
    ) -> None:
        """Log one attempt at DEBUG and hand it to the on_attempt hook."""
        if not debug and self._on_attempt is None:
            return
        elapsed = time.perf_counter() - started
        if request_id is not None:
            # A gateway could echo the key in its request id header.
            request_id = scrub_text(request_id, self._api_key)
        if debug:
            outcome = (
                f"-> {status} request_id={request_id}" if error is None else f"failed: {error}"
            )
            retry = f"; retry in {retry_in:.2f} s" if retry_in is not None else ""
            logger.debug(
                "%s %s %s (attempt %d, %.1f ms)%s",
                request.method, request.path, outcome, attempt + 1, elapsed * 1000, retry,
            )  # fmt: skip
        if self._on_attempt is not None:
            info = RequestAttempt(
                method=request.method,
                path=request.path,
                attempt=attempt + 1,
                status=status,
                request_id=request_id,
                elapsed=elapsed,
                error=error,
                retry_in=retry_in,
            )
            try:
                self._on_attempt(info)
            except Exception:
                logger.exception("the on_attempt hook raised; ignored")

    def _worst_case_seconds(self, timeout: TimeoutLike | NotGiven = NOT_GIVEN) -> float:
        """An upper bound on how long one call can take with every retry and backoff.

        The sync client waits this long (plus a margin) before giving up on the loop thread,
        so that the transport's own timeouts always fire first.
        """
        attempt = self._timeout if isinstance(timeout, NotGiven) else to_timeout(timeout)
        attempts = self._max_retries + 1
        return attempts * attempt.total + self._max_retries * MAX_RETRY_AFTER

    def _for_forked_child(self) -> AsyncBpcPay:
        """In a forked child: this client with a new, unopened transport.

        The inherited session is abandoned, never closed: its sockets are the parent's.
        """
        self._transport.abandon()
        clone = object.__new__(type(self))
        clone.__dict__.update(self.__dict__)
        clone._transport = AsyncTransport(
            session=None,
            pool_size=self._transport.pool_size,
            max_response_bytes=self._transport.max_response_bytes,
        )
        clone._closed = False
        clone._bind_resources()
        return clone

    def _connection_error(self, request: Request, failure: TransportFailure) -> APIConnectionError:
        method, path = request.method, request.path
        unknown = failure.failure is Failure.MAYBE_SENT and method != "GET"
        detail = failure.detail
        if self._base_url == DEFAULT_BASE_URL:
            detail += _DEFAULT_BASE_URL_HINT
        message = _unknown_outcome_message(method, path, detail) if unknown else detail
        if failure.timeout_phase is not None:
            return APITimeoutError(
                message,
                method=method,
                path=path,
                phase=failure.timeout_phase,
                merchant_reference_id=request.merchant_reference_id,
            )
        return APIConnectionError(
            message,
            method=method,
            path=path,
            request_sent=failure.failure is Failure.MAYBE_SENT,
            merchant_reference_id=request.merchant_reference_id,
        )

    def _too_large_error(self, request: Request, big: ResponseTooLarge) -> ResponseTooLargeError:
        method, path = request.method, request.path
        seen = (
            f"it declares Content-Length: {big.declared}"
            if big.declared is not None
            else "it went past the limit while being read"
        )
        message = (
            f"the gateway's answer (HTTP {big.status}) is larger than max_response_bytes="
            f"{big.limit} ({seen}); bpcpay stopped reading it. If such answers are expected, "
            f"raise the client option max_response_bytes"
        )
        if method != "GET":
            message = _unknown_outcome_message(method, path, message)
        err = ResponseTooLargeError(
            message,
            method=method,
            path=path,
            limit=big.limit,
            status_code=big.status,
            declared=big.declared,
            request_id=header(big.headers, REQUEST_ID_HEADER),
            merchant_reference_id=request.merchant_reference_id,
        )
        scrub_error(err, self._api_key)
        return err

    def _stuck_call_error(
        self,
        fn: Callable[..., Any],
        args: tuple[Any, ...],
        kwargs: dict[str, Any],
        waited: float,
    ) -> APIConnectionError:
        """The error for a call whose result never came back from the event loop in time (the
        sync client's backstop): the call's real method and path, and the outcome rule of any
        timeout: a GET is never "outcome unknown", a POST that may have been sent is.

        Args:
            fn: the bound method that was called (of this client or one of its resources).
            args: its positional arguments.
            kwargs: its keyword arguments.
            waited: how long the caller waited, in seconds.

        Returns:
            An APITimeoutError to raise.
        """
        method, path = _describe_call(self, fn, args, kwargs)
        reference = kwargs.get("merchant_reference_id")
        request = Request(
            method=method,
            path=path,
            url=self._url_root + path,
            headers={},
            merchant_reference_id=reference if isinstance(reference, str) else None,
        )
        failure = TransportFailure(
            Failure.MAYBE_SENT,
            f"no result within {waited:g}s (bpcpay's event loop thread did not answer in time)",
            timeout_phase="read",
        )
        return self._connection_error(request, failure)


def _describe_call(
    client: AsyncBpcPay, fn: Callable[..., Any], args: tuple[Any, ...], kwargs: dict[str, Any]
) -> tuple[HTTPMethod, str]:
    """Method and path of a call of ``client.request(...)`` or ``client.<resource>.<name>(...)``,
    from the endpoint table, without running it."""
    if getattr(fn, "__self__", None) is client and fn.__name__ == "request":
        return kwargs["method"], encode_path(kwargs["path"])
    owner = getattr(fn, "__self__", None)
    resource = next((name for name, value in vars(client).items() if value is owner), "?")
    endpoint = ENDPOINTS.get(f"{resource}.{fn.__name__}")
    if endpoint is None:
        return "POST", f"/{resource}.{fn.__name__}"  # unknown: assume the unsafe case
    names = [field for _, field, _, _ in string.Formatter().parse(endpoint.path) if field]
    try:
        path = endpoint.render(**dict(zip(names, args, strict=False)))
    except (InvalidArgumentError, KeyError):
        path = endpoint.path
    return endpoint.method, path


def _options_from_env() -> dict[str, Any]:
    api_key = os.environ.get(ENV_API_KEY, "")
    if not api_key:
        raise InvalidArgumentError(ENV_API_KEY, "is not set; export your API key")
    options: dict[str, Any] = {"api_key": api_key}
    if os.environ.get(ENV_BASE_URL):
        options["base_url"] = os.environ[ENV_BASE_URL]
    if os.environ.get(ENV_API_VERSION):
        options["api_version"] = os.environ[ENV_API_VERSION]
    return options
