"""Decode a response (status, headers, body bytes) into a model, or raise the right error.

Pure: no I/O. The error body shape is [inferred]; see ``parse_error_body`` for what is accepted.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any, TypeVar

from .._constants import REQUEST_ID_HEADER
from .._exceptions import (
    APIResponseValidationError,
    APIStatusError,
    AuthenticationError,
    ConflictError,
    InternalServerError,
    InvalidRequestError,
    NotFoundError,
    PermissionDeniedError,
    RateLimitError,
)
from ._converter import structure_object
from ._headers import header

__all__ = [
    "ErrorDetails",
    "decode_json",
    "decode_response",
    "error_class_for_status",
    "header",
    "make_status_error",
    "parse_error_body",
]

T = TypeVar("T")

_STATUS_CLASSES: dict[int, type[APIStatusError]] = {
    400: InvalidRequestError,
    401: AuthenticationError,
    403: PermissionDeniedError,
    404: NotFoundError,
    409: ConflictError,
    412: InvalidRequestError,
    422: InvalidRequestError,
    429: RateLimitError,
}
#: Bodies are quoted in messages only up to this many characters.
_SNIPPET = 200


def error_class_for_status(status: int) -> type[APIStatusError]:
    """The exception class for a 4xx/5xx status."""
    if status >= 500:
        return InternalServerError
    cls = _STATUS_CLASSES.get(status)
    if cls is not None:
        return cls
    return InvalidRequestError if 400 <= status < 500 else APIStatusError


class ErrorDetails:
    """What could be read from an error body."""

    __slots__ = ("code", "error_type", "message", "param")

    def __init__(
        self,
        message: str | None = None,
        code: str | None = None,
        error_type: str | None = None,
        param: str | None = None,
    ) -> None:
        self.message = message
        self.code = code
        self.error_type = error_type
        self.param = param


def _text(value: Any) -> str | None:
    if value is None or isinstance(value, (dict, list)):
        return None
    return str(value)


def parse_error_body(body: bytes) -> ErrorDetails:
    """Read an error body leniently; never raises.

    Accepted shapes [inferred]: ``{"error": {"type", "code", "message", "param"}}`` (what the
    sandbox sends), ``{"error": "text"}``, top-level ``message`` / ``code`` / ``param``, and
    ``{"errors": [{"message": ...}, ...]}``.
    """
    try:
        data = json.loads(body)
    except (ValueError, UnicodeDecodeError, RecursionError):
        return ErrorDetails()
    if not isinstance(data, dict):
        return ErrorDetails()
    err = data.get("error")
    if isinstance(err, dict):
        return ErrorDetails(
            message=_text(err.get("message")),
            code=_text(err.get("code")),
            error_type=_text(err.get("type")),
            param=_text(err.get("param")),
        )
    details = ErrorDetails(
        message=_text(data.get("message")) or _text(err),
        code=_text(data.get("code")),
        error_type=_text(data.get("type")),
        param=_text(data.get("param")),
    )
    errors = data.get("errors")
    if details.message is None and isinstance(errors, list) and errors:
        messages = []
        for item in errors:
            text = _text(item.get("message")) if isinstance(item, dict) else _text(item)
            if text:
                messages.append(text)
        details.message = "; ".join(messages) or None
        first = errors[0]
        if isinstance(first, dict):
            details.code = details.code or _text(first.get("code"))
            details.param = details.param or _text(first.get("param") or first.get("field"))
    return details


def _describe_body(body: bytes, headers: Mapping[str, str]) -> str:
    if not body:
        return "empty body"
    content_type = header(headers, "Content-Type") or "no content type"
    snippet = body[:_SNIPPET].decode("utf-8", "replace").strip()
    if "html" in content_type.lower() or snippet.lower().startswith(("<!doctype", "<html")):
        return f"an HTML page ({content_type})"
    more = "..." if len(body) > _SNIPPET else ""
    return f"a body that is not a JSON error ({content_type}): {snippet!r}{more}"


def make_status_error(
    *,
    status: int,
    headers: Mapping[str, str],
    body: bytes,
    method: str,
    path: str,
    merchant_reference_id: str | None = None,
) -> APIStatusError:
    """The right APIStatusError for a 4xx/5xx answer, keeping status, body and request id."""
    details = parse_error_body(body)
    if details.message:
        message = details.message
        if details.code:
            message = f"[{details.code}] {message}"
        if details.param:
            message += f" (param: {details.param})"
    else:
        message = f"HTTP {status} with {_describe_body(body, headers)}"
    cls = error_class_for_status(status)
    return cls(
        message,
        method=method,
        path=path,
        status_code=status,
        body=body,
        headers={k.lower(): v for k, v in headers.items()},
        request_id=header(headers, REQUEST_ID_HEADER),
        code=details.code,
        error_type=details.error_type,
        param=details.param,
        merchant_reference_id=merchant_reference_id,
    )


def decode_json(
    *, status: int, headers: Mapping[str, str], body: bytes, method: str, path: str
) -> Any:
    """The JSON of a 2xx body, or APIResponseValidationError."""
    try:
        return json.loads(body)
    except (ValueError, UnicodeDecodeError, RecursionError):
        raise APIResponseValidationError(
            f"the gateway answered {status} with {_describe_body(body, headers)}",
            method=method,
            path=path,
            status_code=status,
            body=body,
            request_id=header(headers, REQUEST_ID_HEADER),
        ) from None


def decode_response(
    *,
    status: int,
    headers: Mapping[str, str],
    body: bytes,
    cast_to: type[T] | None,
    method: str,
    path: str,
    merchant_reference_id: str | None = None,
    redact: str | None = None,
) -> T | Any:
    """Turn an answer into ``cast_to`` (a model class), or the decoded JSON when it is None.

    Args:
        redact: a secret (the API key) to blank out of any error built from the answer, in
            case a gateway echoes it back.

    Raises:
        APIStatusError: (a subclass of) for any status outside 2xx.
        APIResponseValidationError: a 2xx whose body is not JSON or does not fit ``cast_to``.
    """
    try:
        return _decode(status, headers, body, cast_to, method, path, merchant_reference_id)
    except (APIStatusError, APIResponseValidationError) as err:
        if redact and _mentions(err, redact):
            _redact(err, redact)
        raise


_REDACTED = "[redacted]"


def _mentions(err: APIStatusError | APIResponseValidationError, secret: str) -> bool:
    texts = [err.message, getattr(err, "code", None), getattr(err, "param", None)]
    return any(secret in t for t in texts if t) or secret.encode() in err.body


def _redact(err: APIStatusError | APIResponseValidationError, secret: str) -> None:
    err.message = err.message.replace(secret, _REDACTED)
    err.args = (err.message,)
    err.body = err.body.replace(secret.encode(), _REDACTED.encode())
    if isinstance(err, APIStatusError):
        if err.code:
            err.code = err.code.replace(secret, _REDACTED)
        if err.param:
            err.param = err.param.replace(secret, _REDACTED)


def _decode(
    status: int,
    headers: Mapping[str, str],
    body: bytes,
    cast_to: type[T] | None,
    method: str,
    path: str,
    merchant_reference_id: str | None,
) -> T | Any:
    if not 200 <= status < 300:
        raise make_status_error(
            status=status,
            headers=headers,
            body=body,
            method=method,
            path=path,
            merchant_reference_id=merchant_reference_id,
        )
    data = decode_json(status=status, headers=headers, body=body, method=method, path=path)
    if cast_to is None:
        return data
    try:
        return structure_object(data, cast_to, request_id=header(headers, REQUEST_ID_HEADER))
    except (TypeError, ValueError, KeyError, AttributeError) as exc:
        raise APIResponseValidationError(
            f"the gateway's {status} answer is not a valid {cast_to.__name__}: {exc}",
            method=method,
            path=path,
            status_code=status,
            body=body,
            request_id=header(headers, REQUEST_ID_HEADER),
        ) from None
