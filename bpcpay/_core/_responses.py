"""Decode a response (status, headers, body bytes) into a model, or raise the right error.

Pure: no I/O. The error body shape is [inferred]; see ``parse_error_body`` for what is accepted.

Every error built from an answer is scrubbed of the API key before it is raised
(:func:`scrub_error`): a gateway may echo the key back, raw, JSON-escaped (``\\u0074...``,
``\\/``) or URL-encoded (``%74...``), in its body, its headers or its request id.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Mapping
from typing import Any, TypeVar
from urllib.parse import urlsplit

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
from .._secret import REDACTED, Secret
from . import _json
from ._converter import structure_object
from ._headers import header

__all__ = [
    "ErrorDetails",
    "Scrubbed",
    "decode_json",
    "decode_response",
    "error_class_for_status",
    "header",
    "make_status_error",
    "parse_error_body",
    "scrub_bytes",
    "scrub_error",
    "scrub_text",
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
        data = _json.loads(body)
    except _json.DECODE_ERRORS:
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


def _is_html(body: bytes, headers: Mapping[str, str]) -> bool:
    content_type = header(headers, "Content-Type") or ""
    start = body[:_SNIPPET].decode("utf-8", "replace").strip().lower()
    return "html" in content_type.lower() or start.startswith(("<!doctype", "<html"))


def _no_json_error_message(
    status: int, headers: Mapping[str, str], body: bytes, base_url: str | None
) -> str:
    """What to say about an answer outside 2xx that carries no JSON error."""
    if 300 <= status < 400:
        location = header(headers, "Location")
        target = f" to {location!r}" if location else ""
        return (
            f"the gateway answered {status}, a redirect{target}; bpcpay does not follow "
            f"redirects (the API key would go along): check base_url"
        )
    message = f"HTTP {status} with {_describe_body(body, headers)}"
    if status == 404 and _is_html(body, headers):
        root = urlsplit(base_url).path.rstrip("/") if base_url else ""
        where = f"base_url {base_url!r} does not end in /api2; " if root != "/api2" else ""
        message += (
            f": this is a web page, not the API. {where}BPC's API root is the path /api2 "
            f"(e.g. https://dev.bpcbt.com/api2)"
        )
    return message


def make_status_error(
    *,
    status: int,
    headers: Mapping[str, str],
    body: bytes,
    method: str,
    path: str,
    merchant_reference_id: str | None = None,
    base_url: str | None = None,
) -> APIStatusError:
    """The right APIStatusError for an answer outside 2xx, keeping status, body and request id.

    Args:
        status: the HTTP status.
        headers: the answer's headers.
        body: the answer's body.
        method: the request's method.
        path: the request's path below the base URL.
        merchant_reference_id: the caller's order id, if any.
        base_url: the client's base URL, to hint at a wrong one (an HTML 404).

    Returns:
        The error to raise.
    """
    details = parse_error_body(body)
    if details.message and not 300 <= status < 400:
        message = details.message
        if details.code:
            message = f"[{details.code}] {message}"
        if details.param:
            message += f" (param: {details.param})"
    else:
        message = _no_json_error_message(status, headers, body, base_url)
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


def _invalid_answer(
    message: str, status: int, headers: Mapping[str, str], body: bytes, method: str, path: str
) -> APIResponseValidationError:
    return APIResponseValidationError(
        message,
        method=method,
        path=path,
        status_code=status,
        body=body,
        request_id=header(headers, REQUEST_ID_HEADER),
    )


def decode_json(
    *, status: int, headers: Mapping[str, str], body: bytes, method: str, path: str
) -> Any:
    """The JSON of a 2xx body (decoded by orjson when installed), or
    APIResponseValidationError."""
    try:
        return _json.loads(body)
    except _json.DECODE_ERRORS:
        pass
    # Raised here, not in the except clause: the decoder's error would be chained to it (its
    # ``doc`` is the whole body), and so would its frames.
    raise _invalid_answer(
        f"the gateway answered {status} with {_describe_body(body, headers)}",
        status,
        headers,
        body,
        method,
        path,
    )


def decode_response(
    *,
    status: int,
    headers: Mapping[str, str],
    body: bytes,
    cast_to: type[T] | None,
    method: str,
    path: str,
    merchant_reference_id: str | None = None,
    redact: Scrubbed | None = None,
    base_url: str | None = None,
) -> T | Any:
    """Turn an answer into ``cast_to`` (a model class), or the decoded JSON when it is None.

    Args:
        status: the HTTP status.
        headers: the answer's headers.
        body: the answer's body.
        cast_to: the model class to build, or None for the decoded JSON.
        method: the request's method.
        path: the request's path below the base URL.
        merchant_reference_id: the caller's order id, if any.
        redact: a secret (the API key) to blank out of any error built from the answer, in
            any form a gateway may echo it back in (see :func:`scrub_error`).
        base_url: the client's base URL, to hint at a wrong one in an error.

    Returns:
        An instance of ``cast_to``, or the decoded JSON.

    Raises:
        APIStatusError: (a subclass of) for any status outside 2xx.
        APIResponseValidationError: a 2xx whose body is not JSON or does not fit ``cast_to``.
    """
    try:
        if not 200 <= status < 300:
            raise make_status_error(
                status=status,
                headers=headers,
                body=body,
                method=method,
                path=path,
                merchant_reference_id=merchant_reference_id,
                base_url=base_url,
            )
        data = decode_json(status=status, headers=headers, body=body, method=method, path=path)
        if cast_to is None:
            return data
        return _structure(data, cast_to, status, headers, body, method, path)
    except (APIStatusError, APIResponseValidationError) as err:
        if redact:
            scrub_error(err, redact)
        raise


def _utf16_units(code: int) -> tuple[int, ...]:
    """JSON escapes characters outside the BMP as a surrogate pair."""
    if code < 0x10000:
        return (code,)
    code -= 0x10000
    return (0xD800 + (code >> 10), 0xDC00 + (code & 0x3FF))


#: A secret to scrub: held in a Secret (the clients) or given plain (tests, helpers).
Scrubbed = str | Secret[str]


@functools.lru_cache(maxsize=16)
def _secret_patterns(secret: Scrubbed) -> tuple[re.Pattern[str], re.Pattern[bytes]]:
    """Patterns matching ``secret`` spelled with any mix of its characters raw, JSON-escaped
    (``\\uXXXX`` in any case, ``\\"``, ``\\\\``, ``\\/``) or percent-encoded (``%XX``, any case).

    Cached per secret (a Secret by identity: a client keeps one for its life).
    """
    parts = []
    for char in secret.reveal() if isinstance(secret, Secret) else secret:
        code = ord(char)
        # Escapes first: a match that ends on a raw "%" must not leave an escape's "25" behind.
        forms = [
            "".join(rf"\\u(?i:{unit:04x})" for unit in _utf16_units(code)),
            "".join(f"%(?i:{byte:02x})" for byte in char.encode("utf-8", "surrogatepass")),
        ]
        if char in '"\\/':
            forms.append(re.escape("\\" + char))
        forms.append(re.escape(char))
        parts.append("(?:" + "|".join(forms) + ")")
    text = "".join(parts)
    return re.compile(text), re.compile(text.encode("utf-8", "surrogatepass"))


def scrub_text(text: str, secret: Scrubbed) -> str:
    """``text`` with every spelling of ``secret`` replaced by ``[redacted]``.

    Args:
        text: what to scrub.
        secret: the secret (an API key or a webhook secret); nothing happens when empty.

    Returns:
        The scrubbed text (``text`` itself when it holds no spelling of the secret).
    """
    if not secret:
        return text
    return _secret_patterns(secret)[0].sub(REDACTED, text)


def scrub_bytes(data: bytes, secret: Scrubbed) -> bytes:
    """``data`` with every spelling of ``secret`` replaced by ``[redacted]``.

    Args:
        data: what to scrub (a body as read).
        secret: the secret; nothing happens when empty.

    Returns:
        The scrubbed bytes (``data`` itself when it holds no spelling of the secret).
    """
    if not secret:
        return data
    return _secret_patterns(secret)[1].sub(_REDACTED_BYTES, data)


_REDACTED_BYTES = REDACTED.encode()


def _scrub_value(value: Any, secret: Scrubbed) -> Any:
    if isinstance(value, str):
        return _secret_patterns(secret)[0].sub(REDACTED, value)
    if isinstance(value, bytes):
        return _secret_patterns(secret)[1].sub(_REDACTED_BYTES, value)
    if isinstance(value, Mapping):
        return {_scrub_value(k, secret): _scrub_value(v, secret) for k, v in value.items()}
    return value


def scrub_error(err: BaseException, secret: Scrubbed) -> None:
    """Scrub ``secret`` out of every text an error carries: its message and args, and each of
    its attributes that is text, bytes or a mapping of them (body, headers, request id, code,
    param ...). So ``str``, ``repr``, pickling and logging the error never show it.

    Args:
        err: the error, changed in place.
        secret: the secret (an API key or a webhook secret); nothing happens when empty.
    """
    if not secret:
        return
    for name, value in list(vars(err).items()):
        setattr(err, name, _scrub_value(value, secret))
    err.args = tuple(_scrub_value(arg, secret) for arg in err.args)


def _structure(
    data: Any,
    cast_to: type[T],
    status: int,
    headers: Mapping[str, str],
    body: bytes,
    method: str,
    path: str,
) -> T:
    """The model of a 2xx answer's JSON, or the validation error saying why it is none."""
    try:
        return structure_object(data, cast_to, request_id=header(headers, REQUEST_ID_HEADER))
    except (TypeError, ValueError, KeyError, AttributeError) as exc:
        why = str(exc)
    # Raised here, not in the except clause, so the converter's error (whose frames hold the
    # answer's values) is not chained to it.
    details = parse_error_body(body)
    if details.message:
        # A gateway that reports an error with a success status.
        code = f"[{details.code}] " if details.code else ""
        problem = f"is an error, not a {cast_to.__name__}: {code}{details.message}"
    else:
        problem = f"is not a valid {cast_to.__name__}: {why}"
    raise _invalid_answer(
        f"the gateway's {status} answer {problem}", status, headers, body, method, path
    )
