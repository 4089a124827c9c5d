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
    """The root of every error bpcpay raises: catch it to catch them all.

    ``str(error)`` is a message written for a person (for an API error it ends with the method,
    the path and the gateway's request id); it never holds an API key or a webhook secret.
    Errors pickle, so they cross process boundaries (Celery, multiprocessing) intact.

    Examples:
        ```python
        from bpcpay import BpcPayError

        try:
            client.sessions.retrieve("ps_NoSuchSession")
        except BpcPayError as error:
            print(type(error).__name__)  # NotFoundError
        ```
    """

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message

    def __str__(self) -> str:
        return self.message

    def __reduce__(self) -> tuple[Any, ...]:
        # Subclasses take keyword-only arguments, which BaseException's own pickling drops.
        return (_rebuild, (type(self), self.args, dict(self.__dict__)))


class InvalidArgumentError(BpcPayError, ValueError):
    """An argument was rejected before anything was sent: fix the call, never retry it.

    Raised by every method, the constructors and the webhook functions for a value bpcpay
    knows the gateway would refuse (an amount that is not a positive ``int``, a currency that
    is not three letters, a relative redirect URL, an empty id ...), and by a client made
    without a key when ``BPCPAY_API_KEY`` is unset. Also a ``ValueError``.

    Attributes:
        argument: the name of the offending argument, as the caller spelled it.
        problem: what is wrong with it (never the value of a secret).

    Examples:
        ```python
        from bpcpay import InvalidArgumentError

        try:
            client.sessions.create(
                amount=24.99,  # a float: refused, never rounded
                currency="EUR",
                success_url="https://shop.example/orders/1003/paid",
                failure_url="https://shop.example/orders/1003/retry",
            )
        except InvalidArgumentError as error:
            print(error.argument)  # amount
        ```
    """

    def __init__(self, argument: str, problem: str) -> None:
        super().__init__(f"{argument}: {problem}")
        self.argument = argument
        self.problem = problem


class SignatureVerificationError(BpcPayError, ValueError):
    """A webhook delivery failed verification or could not be parsed: do not act on it.

    Answer it with 400 (the router does). A real delivery fails only when the endpoint is set
    up with the wrong secret, or when the body was changed on its way (pass the raw bytes, not
    parsed and re-serialised JSON). Also a ``ValueError``.

    Attributes:
        reason: a short machine-friendly reason: ``missing_header``, ``bad_format``,
            ``mismatch``, ``too_large``, ``bad_payload``, ``not_json``, ``not_an_event``,
            ``too_old``.

    Examples:
        ```python
        import os

        from bpcpay import SignatureVerificationError
        from bpcpay.webhooks import construct_event

        forged = {"X-Signature": "0" * 64}
        try:
            construct_event(b"{}", forged, secret=os.environ["BPCPAY_WEBHOOK_SECRET"])
        except SignatureVerificationError as error:
            print(error.reason)  # mismatch
        ```
    """

    def __init__(self, message: str, *, reason: str) -> None:
        super().__init__(message)
        self.reason = reason


class ClientClosedError(BpcPayError, RuntimeError):
    """The client was closed (``close()``, ``aclose()`` or the end of its ``with`` block):
    create a new one, or keep one client open for the life of the application.

    Examples:
        ```python
        from bpcpay import BpcPay, ClientClosedError

        with BpcPay() as shop_client:
            pass
        try:
            shop_client.sessions.retrieve("ps_NoSuchSession")
        except ClientClosedError:
            print("closed")  # closed
        ```
    """


class SyncClientInAsyncContextError(BpcPayError, RuntimeError):
    """The synchronous BpcPay was called from a thread that runs an event loop.

    It would block that loop for the whole request. Use ``AsyncBpcPay`` and ``await`` instead
    (in an async view, a FastAPI endpoint, an aiohttp handler); nothing was sent.

    Examples:
        ```python
        from bpcpay import BpcPay, SyncClientInAsyncContextError


        async def checkout_view():  # an async view, with the sync client by mistake
            with BpcPay() as sync_client:
                return sync_client.sessions.retrieve("ps_NoSuchSession")


        try:
            await checkout_view()
        except SyncClientInAsyncContextError:
            print("use AsyncBpcPay here")  # use AsyncBpcPay here
        ```
    """


class DeliveryStoreError(BpcPayError):
    """A webhook delivery store (Redis, PostgreSQL) failed: unreachable, timed out, or it
    refused the credentials. The router answers such a delivery 503 (the gateway retries).

    The database driver's own exception is not chained (``__cause__`` and ``__context__`` are
    None) and no frame of the driver is in the traceback: they hold the connection's
    credentials, where error trackers read them. What it said is kept as text.

    The router catches it and answers 503, so the gateway delivers again later; you meet it
    when you call a store yourself. Check that the store is up and its URL or DSN right.

    Attributes:
        store_error: the class name of the driver's exception (e.g. ``"AuthenticationError"``).
        store_message: its message, with the store's URL or DSN and password taken out.

    Examples:
        ```python
        from bpcpay import DeliveryStoreError
        from bpcpay.webhooks import RedisDeliveryStore

        store = RedisDeliveryStore("redis://127.0.0.1:1/0")  # nothing listens there
        try:
            store.claim("evt:session.completed:ps_1")
        except DeliveryStoreError as error:
            print(error.store_error)  # ConnectionError
        ```
    """

    def __init__(self, message: str, *, store_error: str, store_message: str) -> None:
        super().__init__(message)
        self.store_error = store_error
        self.store_message = store_message


class APIError(BpcPayError):
    """A request to the gateway did not produce a usable answer.

    The parent of every error that comes from talking to the gateway (not of a bad argument).
    Whether to retry, and whether the call may have changed something, depends on the
    subclass: see the tree on the errors page.

    Attributes:
        method: the HTTP method of the request.
        path: the request path below the base URL (ids included, never query secrets).
        request_id: the gateway's ``API-Request-Id``, when an answer arrived.
        merchant_reference_id: the order id the caller sent, when there was one; it is what you
            reconcile with after an unknown outcome.

    Examples:
        ```python
        from bpcpay import APIError

        try:
            client.sessions.retrieve("ps_NoSuchSession")
        except APIError as error:
            print(error.method, error.path)  # GET /sessions/ps_NoSuchSession
            print(error.request_id.startswith("req_"))  # True
        ```
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

    bpcpay has already retried what was safe to retry (a GET; a POST whose connection was never
    made). When ``outcome_unknown`` is True, the POST may have been carried out: never send it
    again blindly; the message says how to find out (retrieve the object, or wait for its
    webhook), and ``merchant_reference_id`` names your order.

    The HTTP library's own exception is not chained (``__cause__`` and ``__context__`` are
    None) and no frame of the library is in the traceback: they hold the request's headers,
    the API key among them, where error trackers read them. What it said is kept as text.

    Attributes:
        request_sent: ``False`` when the request provably never reached the gateway (the
            connection was never made); ``True`` when it may have; the outcome is then unknown.
        transport_error: the class name of the HTTP library's exception (e.g.
            ``"ClientConnectorError"``, ``"ServerDisconnectedError"``), or None.
        transport_message: its message, scrubbed of the API key, or None.

    Examples:
        ```python
        from bpcpay import APIConnectionError

        gw.faults.add(method="POST", path="/api2/sessions", drop=True)  # the line drops
        try:
            client.sessions.create(
                amount=2400,
                currency="EUR",
                success_url="https://shop.example/orders/1003/paid",
                failure_url="https://shop.example/orders/1003/retry",
                merchant_reference_id="order-1003",
            )
        except APIConnectionError as error:
            print(error.outcome_unknown, error.merchant_reference_id)  # True order-1003
            print(error.transport_error)  # ServerDisconnectedError
        ```
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
    """A connect or read timeout fired (the client's ``timeout``, or the call's).

    A connect timeout means the request never left: it was retried when allowed. A read
    timeout on a POST leaves the outcome unknown (``outcome_unknown``): check before sending it
    again, as for :class:`APIConnectionError`.

    Attributes:
        phase: ``"connect"`` (the request never left) or ``"read"`` (it may have been processed).

    Examples:
        ```python
        from bpcpay import APITimeoutError

        gw.faults.add(method="POST", path="/api2/sessions", stall=1.0)  # a slow gateway
        try:
            client.sessions.create(
                amount=2400,
                currency="EUR",
                success_url="https://shop.example/orders/1003/paid",
                failure_url="https://shop.example/orders/1003/retry",
                timeout=0.1,
            )
        except APITimeoutError as error:
            print(error.phase, error.outcome_unknown)  # read True
        ```
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

    Something between you and the gateway answered in its place (a proxy's or a maintenance
    HTML page), or ``base_url`` points at something else. The call may have been carried out:
    treat a POST's outcome as unknown. ``body`` holds what came back.

    Attributes:
        status_code: the HTTP status.
        body: the raw body bytes.

    Examples:
        ```python
        from bpcpay import APIResponseValidationError

        gw.faults.add(path="/api2/sessions/*", body="<html>Down for maintenance</html>")
        try:
            client.sessions.retrieve("ps_AnySession")
        except APIResponseValidationError as error:
            print(error.status_code, error.body[:6])  # 200 b'<html>'
        ```
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

    Never retried (the gateway would answer the same). Raise ``max_response_bytes`` if such
    answers are expected; a POST's outcome is then unknown, as the gateway did answer.

    Attributes:
        limit: the ``max_response_bytes`` in force.
        status_code: the HTTP status of the answer.
        declared: the ``Content-Length`` the gateway declared, when it declared one over the
            limit; None when the body went past the limit while it was read.

    Examples:
        ```python
        from bpcpay import BpcPay, ResponseTooLargeError

        with BpcPay(max_response_bytes=100) as small_client:
            try:
                small_client.sessions.retrieve("ps_NoSuchSession")
            except ResponseTooLargeError as error:
                print(error.limit, error.declared > 100)  # 100 True
        ```
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

    Each meaningful status has a subclass; catch this one for the rest. A 3xx means
    ``base_url`` is wrong (following it would send your key elsewhere). ``code``, ``param``
    and ``str(error)`` carry the gateway's own words; BPC's support asks for ``request_id``.

    Attributes:
        status_code: the HTTP status.
        body: the raw body bytes, unparsed (it may be HTML, empty or malformed).
        headers: the response headers, names lower-cased.
        code: the gateway's error code, when the body had one.
        error_type: the gateway's error type (``invalid_request_error`` ...), when given.
        param: the request field the gateway blames, when given.

    Examples:
        ```python
        from bpcpay import APIStatusError

        try:
            client.sessions.expire("ps_NoSuchSession")
        except APIStatusError as error:
            print(error.status_code, error.code)  # 404 resource_missing
        ```
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
    """400, 412, 422 (and other 4xx without a class of their own): the gateway refused the input.

    Nothing was done. Fix the request (``param`` names the field when the gateway says) and
    send it again; retrying it unchanged fails the same way. BPC answers 412 for redirect URLs
    it refuses.

    Examples:
        ```python
        from bpcpay import InvalidRequestError, PaymentCard

        card = PaymentCard(number="4444 5555 1111 3333", exp_month=12, exp_year=2034, cvc="123")
        payment = client.payments.create(amount=1000, currency="EUR", card=card)
        try:
            client.refunds.create(payment_id=payment.id, amount=5000)  # more than was paid
        except InvalidRequestError as error:
            print(error.status_code, error.param)  # 400 amount
        ```
    """


class AuthenticationError(APIStatusError):
    """401: the API key is missing, wrong, deleted or expired.

    Nothing was done. Check ``BPCPAY_API_KEY`` (or ``api_key=``) against the keys of your
    personal area, and that ``base_url`` is the gateway the key belongs to; see BPC's page
    [API keys](https://dev.bpcbt.com/en/integration/apiv2/structure/api-keys-apiv2.html).

    Examples:
        ```python
        from bpcpay import AuthenticationError, BpcPay

        with BpcPay(api_key="sk_test_revoked") as old_client:
            try:
                old_client.sessions.retrieve("ps_NoSuchSession")
            except AuthenticationError as error:
                print(error.status_code)  # 401
        ```
    """


class PermissionDeniedError(APIStatusError):
    """403: the API key may not do this.

    Nothing was done. Use a key with the permission (BPC's support or your personal area sets
    what a key may do); retrying with the same key fails the same way.

    Examples:
        ```python
        from bpcpay import BpcPay, PermissionDeniedError

        with BpcPay(api_key=gw.restricted_api_key) as limited:  # the sandbox's read-nothing key
            try:
                limited.sessions.retrieve("ps_NoSuchSession")
            except PermissionDeniedError as error:
                print(error.status_code, error.error_type)  # 403 permission_error
        ```
    """


class NotFoundError(APIStatusError):
    """404: no such object (or not visible to this key).

    Check the id (a session id comes back as ``?sessionId=`` on your success URL) and that
    ``base_url`` and the key are those of the gateway that made it. When the answer was a web
    page rather than the API's JSON, the message says so (a ``base_url`` without ``/api2``).

    Examples:
        ```python
        from bpcpay import NotFoundError

        try:
            client.sessions.retrieve("ps_NoSuchSession")
        except NotFoundError as error:
            print(error.status_code, error.code)  # 404 resource_missing
        ```
    """


class ConflictError(APIStatusError):
    """409: the object is not in a state that allows this (e.g. capturing twice).

    Nothing was done. Retrieve the object: its status says what happened (often what you
    wanted already has, e.g. a session already expired). Never retry unchanged.

    Examples:
        ```python
        from bpcpay import ConflictError

        session = client.sessions.create(
            amount=2400,
            currency="EUR",
            success_url="https://shop.example/orders/1003/paid",
            failure_url="https://shop.example/orders/1003/retry",
        )
        client.sessions.expire(session.id)
        try:
            client.sessions.expire(session.id)  # a second time
        except ConflictError as error:
            print(error.code)  # session_not_open
        ```
    """


class RateLimitError(APIStatusError):
    """429: too many requests. ``retry_after`` is the gateway's ``Retry-After`` header, if any.

    A GET was already retried (up to ``max_retries``, honouring ``Retry-After``); a POST is
    not retried by bpcpay. Nothing was done: wait, then send it again.

    Examples:
        ```python
        from bpcpay import RateLimitError

        gw.faults.add(method="POST", path="/api2/sessions", status=429, retry_after=2)
        try:
            client.sessions.create(
                amount=2400,
                currency="EUR",
                success_url="https://shop.example/orders/1003/paid",
                failure_url="https://shop.example/orders/1003/retry",
            )
        except RateLimitError as error:
            print(error.status_code, error.retry_after)  # 429 2
        ```
    """

    @property
    def retry_after(self) -> str | None:
        """The raw ``Retry-After`` header, if the gateway sent one."""
        return self.headers.get("retry-after")


class InternalServerError(APIStatusError):
    """5xx: the gateway failed. GETs are retried; for a POST the outcome may be unknown.

    When a POST fails this way, retrieve the object (or wait for its webhook) before sending
    it again, as after a timeout; ``request_id`` is what BPC's support asks for.

    Examples:
        ```python
        from bpcpay import InternalServerError

        gw.faults.add(method="POST", path="/api2/sessions", status=503)
        try:
            client.sessions.create(
                amount=2400,
                currency="EUR",
                success_url="https://shop.example/orders/1003/paid",
                failure_url="https://shop.example/orders/1003/retry",
            )
        except InternalServerError as error:
            print(error.status_code)  # 503
        ```
    """


for _name in __all__:
    globals()[_name].__module__ = "bpcpay"
del _name
