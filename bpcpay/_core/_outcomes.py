"""How one attempt ended, and what the call makes of it: the answer's model, or the right error.

A transport (``bpcpay._async._transport``) ends every attempt in one of three ways, all defined
here so that the retry loop and the errors never depend on the transport's library:

* an answer, :data:`Response`: ``(status, headers, body)``, a plain tuple (no record per call);
* :class:`TransportFailure`: no answer; ``failure`` says whether the request may have reached
  the gateway, which is all the retry policy needs to know;
* :class:`ResponseTooLarge`: an answer larger than ``max_response_bytes``, never read whole.

:func:`settle` turns the last attempt into the call's result or its error; the message of an
error whose outcome is unknown comes from the endpoint (``Endpoint.hint``), never from matching
URL text. Pure: no I/O.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, TypeAlias

from .._constants import DEFAULT_BASE_URL, ENV_BASE_URL, REQUEST_ID_HEADER
from .._exceptions import APIConnectionError, APITimeoutError, ResponseTooLargeError
from . import _json
from ._converter import structure_object
from ._headers import header
from ._requests import Request
from ._responses import Scrubbed, decode_response, scrub_bytes, scrub_error, scrub_text
from ._retry import Failure

__all__ = [
    "Response",
    "ResponseTooLarge",
    "TransportError",
    "TransportFailure",
    "connection_error",
    "scrub_answer",
    "settle",
    "too_large_error",
    "unknown_outcome_message",
]

#: An answer: status, headers (a case-insensitive mapping) and the whole body.
Response: TypeAlias = tuple[int, Mapping[str, str], bytes]


class TransportError(Exception):
    """An attempt that ended without an answer the call can use."""


class TransportFailure(TransportError):
    """No answer. ``failure`` says whether the request may have reached the gateway.

    The transport's own exception is not kept (neither chained nor as an attribute): its
    traceback goes through the HTTP library's frames, which hold the request's headers. Its
    class name and message are, as text; the message may hold what a server sent, so it is
    scrubbed of the key before it reaches the error the caller sees, and it is kept out of this
    exception's ``repr`` and ``str``.

    Args:
        failure: NOT_SENT (the connection was never made) or MAYBE_SENT.
        detail: what happened, for the error message (never a secret).
        timeout_phase: "connect" or "read" when a timeout fired, else None.
        cause: the transport library's exception, read for its class name and message.
    """

    def __init__(
        self,
        failure: Failure,
        detail: str,
        *,
        timeout_phase: str | None = None,
        cause: BaseException | None = None,
    ) -> None:
        super().__init__(detail)
        self.failure = failure
        self.detail = detail
        self.timeout_phase = timeout_phase
        self.error_type = None if cause is None else type(cause).__name__
        self.error_message = None if cause is None else str(cause)


class ResponseTooLarge(TransportError):
    """The answer is larger than ``max_response_bytes``; nothing more of it was read.

    Args:
        status: the answer's status.
        headers: its headers.
        limit: ``max_response_bytes``.
        declared: the declared Content-Length, or None when the body passed the limit while read.
    """

    def __init__(
        self, status: int, headers: Mapping[str, str], limit: int, declared: int | None
    ) -> None:
        super().__init__(f"answer over {limit} bytes")
        self.status = status
        self.headers = headers
        self.limit = limit
        self.declared = declared


#: Added to connection errors of a client left on the default base URL.
_DEFAULT_BASE_URL_HINT = (
    f" (base_url is bpcpay's default, BPC's public sandbox {DEFAULT_BASE_URL}; pass base_url= "
    f"or set {ENV_BASE_URL} to reach your bank's gateway)"
)


def scrub_answer(answer: Response, api_key: Scrubbed) -> Response:
    """An answer that becomes an error (outside 2xx), scrubbed of the key in every spelling a
    gateway may echo it in: header names and values, and the body.

    Args:
        answer: the answer as read.
        api_key: the key.

    Returns:
        The answer with plain-dict headers (names as sent) and the body scrubbed.
    """
    status, headers, body = answer
    return (
        status,
        {scrub_text(name, api_key): scrub_text(value, api_key) for name, value in headers.items()},
        scrub_bytes(body, api_key),
    )


def unknown_outcome_message(request: Request, detail: str) -> str:
    """``detail``, saying that the request may have reached the gateway and what to do now.

    Args:
        request: the call whose answer was lost.
        detail: what happened.

    Returns:
        The message, with the endpoint's hint.
    """
    return (
        f"{detail}; the {request.method} may have reached the gateway, so its outcome is "
        f"unknown. {request.endpoint.hint}"
    )


def connection_error(
    request: Request, failure: TransportFailure, *, base_url: str, api_key: Scrubbed
) -> APIConnectionError:
    """The error for a call whose last attempt got no answer.

    Args:
        request: the call.
        failure: how its last attempt failed.
        base_url: the client's base URL (the default one earns a hint).
        api_key: scrubbed out of the transport's message (it may quote what a server sent).

    Returns:
        An APITimeoutError when a timeout fired, else an APIConnectionError; its message says
        the outcome is unknown when the request may have changed something.
    """
    method, path = request.method, request.path
    maybe_sent = failure.failure is Failure.MAYBE_SENT
    detail = failure.detail
    if base_url == DEFAULT_BASE_URL:
        detail += _DEFAULT_BASE_URL_HINT
    unknown = maybe_sent and request.endpoint.outcome_unknown_when_lost
    message = unknown_outcome_message(request, detail) if unknown else detail
    said = failure.error_message
    transport = {
        "transport_error": failure.error_type,
        "transport_message": None if said is None else scrub_text(said, api_key),
    }
    if failure.timeout_phase is not None:
        return APITimeoutError(
            message,
            method=method,
            path=path,
            phase=failure.timeout_phase,
            merchant_reference_id=request.merchant_reference_id,
            **transport,
        )
    return APIConnectionError(
        message,
        method=method,
        path=path,
        request_sent=maybe_sent,
        merchant_reference_id=request.merchant_reference_id,
        **transport,
    )


def too_large_error(
    request: Request, big: ResponseTooLarge, *, api_key: Scrubbed
) -> ResponseTooLargeError:
    """The error for an answer over ``max_response_bytes`` (never retried: the gateway
    answered, and would answer the same again), scrubbed of the API key.

    Args:
        request: the call.
        big: what the transport saw.
        api_key: the key to scrub out of anything the gateway sent back.

    Returns:
        The error to raise.
    """
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
    if request.endpoint.outcome_unknown_when_lost:
        message = unknown_outcome_message(request, message)
    err = ResponseTooLargeError(
        message,
        method=request.method,
        path=request.path,
        limit=big.limit,
        status_code=big.status,
        declared=big.declared,
        request_id=header(big.headers, REQUEST_ID_HEADER),
        merchant_reference_id=request.merchant_reference_id,
    )
    scrub_error(err, api_key)
    return err


def settle(
    request: Request, outcome: Response | TransportError, *, api_key: Scrubbed, base_url: str
) -> Any:
    """The call's result from its last attempt: the answer's model (or JSON), or the error.

    Args:
        request: the call.
        outcome: the last attempt's answer, or how it failed.
        api_key: scrubbed out of every error built from what the gateway sent.
        base_url: the client's base URL, for hints in errors.

    Returns:
        An instance of the endpoint's model, or the decoded JSON when it has none.

    Raises:
        APIStatusError, APIResponseValidationError: see ``decode_response``.
        APIConnectionError, APITimeoutError: no answer; the transport's error is not
            chained (``transport_error`` and ``transport_message`` say what it was).
        ResponseTooLargeError: the answer was over ``max_response_bytes``.
    """
    if outcome.__class__ is tuple:
        status, headers, body = outcome
        model = request.endpoint.model
        if 200 <= status < 300 and model is not None:
            # Nearly every call: the model straight from the JSON, with the functions
            # decode_response uses. Anything wrong with the answer is left to decode_response,
            # which says what (and scrubs the key from the error); raised after this clause,
            # the error chains nothing of this try.
            try:
                return structure_object(
                    _json.loads(body), model, request_id=header(headers, REQUEST_ID_HEADER)
                )
            except Exception:  # noqa: S110 - decode_response below raises the real error
                pass
        return decode_response(
            status=status,
            headers=headers,
            body=body,
            cast_to=model,
            method=request.method,
            path=request.path,
            merchant_reference_id=request.merchant_reference_id,
            redact=api_key,
            base_url=base_url,
        )
    if isinstance(outcome, ResponseTooLarge):
        raise too_large_error(request, outcome, api_key=api_key) from None
    assert isinstance(outcome, TransportFailure)
    raise connection_error(request, outcome, base_url=base_url, api_key=api_key)
