"""Every error bpcpay raises. Imports nothing from bpcpay and no I/O library.

The tree::

    BpcPayError
    ├── InvalidArgumentError          (also ValueError) bad input, raised before anything is sent
    ├── SignatureVerificationError    (also ValueError) a webhook that must not be trusted
    ├── ClientClosedError             (also RuntimeError) the client was closed
    ├── SyncClientInAsyncContextError (also RuntimeError) BpcPay called inside a running loop
    ├── DeliveryStoreError            a webhook delivery store (Redis, PostgreSQL) failed
    └── APIError                      talking to the gateway went wrong
        ├── APIConnectionError        no usable answer (refused, dropped, DNS, ...)
        │   └── APITimeoutError       connect or read timeout
        ├── APIResponseValidationError a 2xx answer whose body is not what the API promises
        ├── ResponseTooLargeError     an answer larger than the client's max_response_bytes
        └── APIStatusError            the gateway answered 3xx / 4xx / 5xx
            ├── InvalidRequestError   400, 412, 422 (and other 4xx without a class of their own)
            ├── AuthenticationError   401
            ├── PermissionDeniedError 403
            ├── NotFoundError         404
            ├── ConflictError         409
            ├── RateLimitError        429
            └── InternalServerError   5xx

Every error pickles (keyword state is kept in ``__dict__`` and restored as is), and no message
ever contains an API key or a webhook secret: messages are built from method, path, status,
request id and the gateway's own error text only, and whatever came from the gateway is scrubbed
of the key before an error is raised (``bpcpay._core._responses.scrub_error``).

Every public class reports ``bpcpay`` as its module, so tracebacks and reprs show the name
users import (``bpcpay.InvalidArgumentError``), not this private module.
"""

from __future__ import annotations

from collections.abc import Mapping

# typing.TYPE_CHECKING without importing typing (a few ms at import): type checkers treat any
# TYPE_CHECKING this way.
TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

__all__ = [
    "APIConnectionError",
    "APIError",
    "APIResponseValidationError",
    "APIStatusError",
    "APITimeoutError",
    "AuthenticationError",
    "BpcPayError",
    "ClientClosedError",
    "ConflictError",
    "DeliveryStoreError",
    "InternalServerError",
    "InvalidArgumentError",
    "InvalidRequestError",
    "NotFoundError",
    "PermissionDeniedError",
    "RateLimitError",
    "ResponseTooLargeError",
    "SignatureVerificationError",
    "SyncClientInAsyncContextError",
]


def _rebuild(cls: type[BaseException], args: tuple[Any, ...], state: dict[str, Any]) -> Any:
    err = cls.__new__(cls)
    err.args = args
    err.__dict__.update(state)
    return err


class BpcPayError(Exception):
    """The root of every error bpcpay raises."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message

    def __str__(self) -> str:
        return self.message

    def __reduce__(self) -> tuple[Any, ...]:
        # Subclasses take keyword-only arguments, which BaseException's own pickling drops.
        return (_rebuild, (type(self), self.args, dict(self.__dict__)))


class InvalidArgumentError(BpcPayError, ValueError):
    """An argument was rejected before anything was sent.

    Attributes:
        argument: the name of the offending argument, as the caller spelled it.
    """

    def __init__(self, argument: str, problem: str) -> None:
        super().__init__(f"{argument}: {problem}")
        self.argument = argument
        self.problem = problem


class SignatureVerificationError(BpcPayError, ValueError):
    """A webhook delivery failed verification or could not be parsed; do not act on it.

    Attributes:
        reason: a short machine-friendly reason, e.g. ``"missing_header"``, ``"mismatch"``.
    """

    def __init__(self, message: str, *, reason: str) -> None:
        super().__init__(message)
        self.reason = reason


class ClientClosedError(BpcPayError, RuntimeError):
    """The client was closed; create a new one."""


class SyncClientInAsyncContextError(BpcPayError, RuntimeError):
    """The synchronous BpcPay was called from a thread that runs an event loop.

    It would block that loop for the whole request. Use ``AsyncBpcPay`` and ``await`` instead.
    """


class DeliveryStoreError(BpcPayError):
    """A webhook delivery store (Redis, PostgreSQL) failed: unreachable, timed out, or it
    refused the credentials. The router answers such a delivery 503 (the gateway retries).

    The database driver's own exception is not chained (``__cause__`` and ``__context__`` are
    None) and no frame of the driver is in the traceback: they hold the connection's
    credentials, where error trackers read them. What it said is kept as text.

    Attributes:
        store_error: the class name of the driver's exception (e.g. ``"AuthenticationError"``).
        store_message: its message, with the store's URL or DSN and password taken out.
    """

    def __init__(self, message: str, *, store_error: str, store_message: str) -> None:
        super().__init__(message)
        self.store_error = store_error
        self.store_message = store_message


class APIError(BpcPayError):
    """A request to the gateway did not produce a usable answer.

    Attributes:
        method: the HTTP method of the request.
        path: the request path below the base URL (ids included, never query secrets).
        request_id: the gateway's ``API-Request-Id``, when an answer arrived.
        merchant_reference_id: the order id the caller sent, when there was one; it is what you
            reconcile with after an unknown outcome.
    """

    def __init__(
        self,
        message: str,
        *,
        method: str,
        path: str,
        request_id: str | None = None,
        merchant_reference_id: str | None = None,
    ) -> None:
        super().__init__(message)
        self.method = method
        self.path = path
        self.request_id = request_id
        self.merchant_reference_id = merchant_reference_id

    def __str__(self) -> str:
        tail = self._context()
        if self.request_id:
            tail += f", request_id={self.request_id}"
        return f"{self.message} ({tail})"

    def _context(self) -> str:
        # What the parenthesis after the message starts with.
        return f"{self.method} {self.path}"


class APIConnectionError(APIError):
    """No usable answer arrived: connection refused or dropped, DNS failure, TLS error.

    The HTTP library's own exception is not chained (``__cause__`` and ``__context__`` are
    None) and no frame of the library is in the traceback: they hold the request's headers,
    the API key among them, where error trackers read them. What it said is kept as text.

    Attributes:
        request_sent: ``False`` when the request provably never reached the gateway (the
            connection was never made); ``True`` when it may have; the outcome is then unknown.
        transport_error: the class name of the HTTP library's exception (e.g.
            ``"ClientConnectorError"``, ``"ServerDisconnectedError"``), or None.
        transport_message: its message, scrubbed of the API key, or None.
    """

    def __init__(
        self,
        message: str,
        *,
        method: str,
        path: str,
        request_sent: bool,
        merchant_reference_id: str | None = None,
        transport_error: str | None = None,
        transport_message: str | None = None,
    ) -> None:
        super().__init__(
            message, method=method, path=path, merchant_reference_id=merchant_reference_id
        )
        self.request_sent = request_sent
        self.transport_error = transport_error
        self.transport_message = transport_message

    @property
    def outcome_unknown(self) -> bool:
        """True when the request may have changed state on the gateway (a POST that was sent)."""
        return self.request_sent and self.method != "GET"


class APITimeoutError(APIConnectionError):
    """A connect or read timeout fired.

    Attributes:
        phase: ``"connect"`` (the request never left) or ``"read"`` (it may have been processed).
    """

    def __init__(
        self,
        message: str,
        *,
        method: str,
        path: str,
        phase: str,
        merchant_reference_id: str | None = None,
        transport_error: str | None = None,
        transport_message: str | None = None,
    ) -> None:
        super().__init__(
            message,
            method=method,
            path=path,
            request_sent=phase != "connect",
            merchant_reference_id=merchant_reference_id,
            transport_error=transport_error,
            transport_message=transport_message,
        )
        self.phase = phase


class APIResponseValidationError(APIError):
    """A 2xx answer whose body could not be read as the promised object.

    Attributes:
        status_code: the HTTP status.
        body: the raw body bytes.
    """

    def __init__(
        self,
        message: str,
        *,
        method: str,
        path: str,
        status_code: int,
        body: bytes,
        request_id: str | None = None,
    ) -> None:
        super().__init__(message, method=method, path=path, request_id=request_id)
        self.status_code = status_code
        self.body = body


class ResponseTooLargeError(APIError):
    """The gateway's answer is larger than the client's ``max_response_bytes``; bpcpay stopped
    reading it (a declared ``Content-Length`` over the limit is refused before reading, a
    streamed or compressed body as soon as it passes the limit, decompressed).

    Attributes:
        limit: the ``max_response_bytes`` in force.
        status_code: the HTTP status of the answer.
        declared: the ``Content-Length`` the gateway declared, when it declared one over the
            limit; None when the body went past the limit while it was read.
    """

    def __init__(
        self,
        message: str,
        *,
        method: str,
        path: str,
        limit: int,
        status_code: int,
        declared: int | None = None,
        request_id: str | None = None,
        merchant_reference_id: str | None = None,
    ) -> None:
        super().__init__(
            message,
            method=method,
            path=path,
            request_id=request_id,
            merchant_reference_id=merchant_reference_id,
        )
        self.limit = limit
        self.status_code = status_code
        self.declared = declared


class APIStatusError(APIError):
    """The gateway answered with a status outside 2xx (a 4xx or 5xx, or a redirect, which
    bpcpay never follows).

    Attributes:
        status_code: the HTTP status.
        body: the raw body bytes, unparsed (it may be HTML, empty or malformed).
        headers: the response headers, names lower-cased.
        code: the gateway's error code, when the body had one.
        error_type: the gateway's error type (``invalid_request_error`` ...), when given.
        param: the request field the gateway blames, when given.
    """

    def __init__(
        self,
        message: str,
        *,
        method: str,
        path: str,
        status_code: int,
        body: bytes,
        headers: Mapping[str, str],
        request_id: str | None = None,
        code: str | None = None,
        error_type: str | None = None,
        param: str | None = None,
        merchant_reference_id: str | None = None,
    ) -> None:
        super().__init__(
            message,
            method=method,
            path=path,
            request_id=request_id,
            merchant_reference_id=merchant_reference_id,
        )
        self.status_code = status_code
        self.body = body
        self.headers = dict(headers)
        self.code = code
        self.error_type = error_type
        self.param = param

    def _context(self) -> str:
        return f"status {self.status_code}, {super()._context()}"


class InvalidRequestError(APIStatusError):
    """400, 412, 422 (and other 4xx without a class of their own): the gateway refused the input."""


class AuthenticationError(APIStatusError):
    """401: the API key is missing, wrong, deleted or expired."""


class PermissionDeniedError(APIStatusError):
    """403: the API key may not do this."""


class NotFoundError(APIStatusError):
    """404: no such object (or not visible to this key)."""


class ConflictError(APIStatusError):
    """409: the object is not in a state that allows this (e.g. capturing twice)."""


class RateLimitError(APIStatusError):
    """429: too many requests. ``retry_after`` is the gateway's ``Retry-After`` header, if any."""

    @property
    def retry_after(self) -> str | None:
        """The raw ``Retry-After`` header, if the gateway sent one."""
        return self.headers.get("retry-after")


class InternalServerError(APIStatusError):
    """5xx: the gateway failed. GETs are retried; for a POST the outcome may be unknown."""


for _name in __all__:
    globals()[_name].__module__ = "bpcpay"
del _name
