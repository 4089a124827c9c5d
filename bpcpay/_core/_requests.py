"""Check arguments and build the request value (endpoint, URL, headers, body bytes).

Everything a caller passes is checked here, before anything is sent; each problem raises
:class:`~bpcpay.InvalidArgumentError` naming the argument. Secrets are never echoed back in
an error message. Also the client's options from the environment (``options_from_env``).
Pure: no I/O.
"""

from __future__ import annotations

import functools
import ipaddress
import json
import os
import platform
import re
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any
from urllib.parse import quote, unquote, urlsplit

from .._constants import (
    API_KEY_HEADER,
    DEFAULT_API_VERSION,
    DEFAULT_BASE_URL,
    ENV_API_KEY,
    ENV_API_VERSION,
    ENV_BASE_URL,
    REFERENCE_FIELD,
    VERSION_HEADER,
)
from .._exceptions import InvalidArgumentError
from .._secret import Secret
from .._types import JSON, NOT_GIVEN, HTTPMethod, NotGiven
from .._version import __version__
from ..models import CaptureMethod
from ._checks import check_aware, check_int, check_text
from ._converter import format_datetime

if TYPE_CHECKING:
    from ._endpoints import Endpoint

__all__ = [
    "MAX_AMOUNT",
    "Request",
    "build_request",
    "check_amount",
    "check_api_key",
    "check_api_version",
    "check_base_url",
    "check_capture_method",
    "check_currency",
    "check_datetime",
    "check_string",
    "check_url",
    "encode_json",
    "encode_path",
    "luhn_ok",
    "options_from_env",
    "static_headers",
    "user_agent",
]

_CURRENCY = re.compile(r"[A-Za-z]{3}")
_API_VERSION = re.compile(r"\d{4}-\d{2}-\d{2}")
# Visible ASCII only: a key with spaces or line breaks would corrupt the header block.
_API_KEY = re.compile(r"[\x21-\x7e]+")
#: Amounts above this are refused as typos (it is 10 trillion units of a 2-decimal currency).
MAX_AMOUNT = 10**15
_CAPTURE_METHODS = (CaptureMethod.AUTOMATIC, CaptureMethod.MANUAL)


class Request:
    """One call, built once and carried through every attempt, the reports and the errors.

    ``path`` is below the base URL and is what errors and logs show; ``url`` is sent exactly as
    built. A plain class with slots (no attrs, no validation): it is made once per call from
    values that were checked already.
    """

    __slots__ = ("body", "endpoint", "headers", "merchant_reference_id", "method", "path", "url")

    def __init__(
        self,
        endpoint: Endpoint[Any],
        path: str,
        url: str,
        headers: Mapping[str, str],
        body: bytes | None = None,
        merchant_reference_id: str | None = None,
    ) -> None:
        self.endpoint = endpoint
        self.method: HTTPMethod = endpoint.method
        self.path = path
        self.url = url
        self.headers = headers
        self.body = body
        #: The caller's order id, kept so an unknown outcome can be reconciled.
        self.merchant_reference_id = merchant_reference_id

    def __repr__(self) -> str:
        return f"<Request {self.method} {self.path}>"


# --- argument checks ---------------------------------------------------------------------------


def check_amount(argument: str, value: object) -> int:
    """A positive integer in minor units (``10000`` is 100.00). bool and float are refused."""
    if value.__class__ is int and 0 < value <= MAX_AMOUNT:
        # The usual case, accepted without check_int's keyword call (refusals are its own).
        return value
    return check_int(
        argument,
        value,
        minimum=1,
        maximum=MAX_AMOUNT,
        what="an int in minor units (10000 is 100.00)",
    )


def check_currency(argument: str, value: object) -> str:
    """An ISO 4217 alphabetic code; lower case is accepted and sent upper case."""
    # Three ASCII letters are what the pattern accepts: two C calls instead of a match.
    if value.__class__ is str and len(value) == 3 and value.isascii() and value.isalpha():
        return value.upper()
    if not isinstance(value, str) or not _CURRENCY.fullmatch(value):
        raise InvalidArgumentError(
            argument, f"must be a three-letter ISO 4217 code such as 'EUR', got {value!r}"
        )
    return value.upper()


@functools.lru_cache(maxsize=256)
def _is_http_url(value: str) -> bool:
    # Cached: a shop sends the same success and failure URLs with every session.
    try:
        value.encode("utf-8")
        parts = urlsplit(value)
        host = parts.hostname
    except ValueError:  # UnicodeEncodeError (a lone surrogate) is a ValueError too
        return False
    return parts.scheme in ("http", "https") and bool(host) and value == value.strip()


def check_url(argument: str, value: object) -> str:
    """An absolute http(s) URL with a host."""
    if value.__class__ is str and _is_http_url(value):
        return value
    if not isinstance(value, str):
        raise InvalidArgumentError(argument, f"must be an absolute http(s) URL, got {value!r}")
    if not _is_http_url(str(value)):
        check_text(argument, value)
        raise InvalidArgumentError(argument, f"must be an absolute http(s) URL, got {value!r}")
    return value


def check_string(argument: str, value: object, *, max_length: int = 1024) -> str:
    """A non-empty string of at most ``max_length`` characters."""
    if (
        value.__class__ is str
        and 0 < len(value) <= max_length
        and value.isascii()
        and not value.isspace()
    ):
        # ASCII text is valid UTF-8 and strip() removes what isspace() sees: check_text's
        # acceptance in three C calls (its keyword call, strip and encode cost twice that).
        return value
    return check_text(argument, value, max_length=max_length, empty=False)


def check_datetime(argument: str, value: object) -> str:
    """A timezone-aware datetime, sent as UTC ISO 8601."""
    return format_datetime(check_aware(argument, value))


def check_capture_method(argument: str, value: object) -> str:
    """``"automatic"`` (default at the gateway) or ``"manual"`` (two-step)."""
    if value not in _CAPTURE_METHODS:
        raise InvalidArgumentError(
            argument, f"must be one of {', '.join(map(repr, _CAPTURE_METHODS))}, got {value!r}"
        )
    return str(value)


def check_api_key(value: object) -> Secret[str]:
    """A non-empty header-safe string, held in a Secret (a str given is wrapped first).

    The message never repeats the value, and this frame holds it only in its Secret: an error
    tracker reading the locals of the frames an error passed through sees ``[redacted]``.
    """
    key: Secret[Any] = value if isinstance(value, Secret) else Secret(value)
    if not isinstance(key.reveal(), str) or not _API_KEY.fullmatch(key.reveal()):
        raise InvalidArgumentError(
            "api_key",
            "must be a non-empty string of visible ASCII characters (pass api_key=... or set "
            "BPCPAY_API_KEY)",
        )
    return key


def check_api_version(value: object) -> str:
    """A ``YYYY-MM-DD`` version string."""
    if not isinstance(value, str) or not _API_VERSION.fullmatch(value):
        raise InvalidArgumentError("api_version", f"must look like '2023-10-31', got {value!r}")
    return value


def _is_loopback(host: str) -> bool:
    if host == "localhost" or host.endswith(".localhost"):
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def check_base_url(value: object) -> str:
    """An absolute URL; ``http://`` only for loopback hosts (keys must not cross a network bare).

    Returns the URL without a trailing slash.
    """
    url = check_url("base_url", value)
    parts = urlsplit(url)
    # A bare trailing "?" or "#" leaves query and fragment empty, yet base_url + path would put
    # the path in the query string: test the characters, not the parsed parts.
    if "?" in url or "#" in url:
        raise InvalidArgumentError("base_url", f"must not have a query or fragment, got {url!r}")
    if "@" in parts.netloc:
        # Never echo the value: it holds a password.
        raise InvalidArgumentError(
            "base_url", "must not contain credentials (user:password@); use api_key"
        )
    if parts.scheme == "http" and not _is_loopback(parts.hostname or ""):
        raise InvalidArgumentError(
            "base_url",
            f"plain http:// is allowed only for loopback hosts (127.0.0.1, ::1, localhost); "
            f"use https:// for {parts.hostname!r}",
        )
    return url.rstrip("/")


# --- building ----------------------------------------------------------------------------------


#: Compact, UTF-8 text, strict: built once (json.dumps with options builds one per call).
_ENCODER = json.JSONEncoder(separators=(",", ":"), ensure_ascii=False, allow_nan=False)


def encode_json(body: JSON) -> bytes:
    """Compact UTF-8 JSON; anything that is not strict JSON is an InvalidArgumentError."""
    try:
        return _ENCODER.encode(body).encode("utf-8")
    except (TypeError, ValueError, RecursionError) as exc:  # UnicodeEncodeError is a ValueError
        raise InvalidArgumentError(
            "json", f"cannot be sent as JSON ({type(exc).__name__}); nothing was sent"
        ) from None


def static_headers(
    *, api_key: Secret[str] | str, api_version: str, user_agent: str
) -> dict[str, str]:
    """The headers every request carries; built once per client, not per request.

    This is where the client's key is revealed, once: the header is the one place its plain
    value goes. The mapping is handed to the HTTP library with each request (an attribute of
    the request, never a local of bpcpay's frames); a session default header would not keep
    the key out of aiohttp's frames, which merge the defaults into each request's headers.
    """
    return {
        API_KEY_HEADER: api_key.reveal() if isinstance(api_key, Secret) else api_key,
        VERSION_HEADER: api_version,
        "User-Agent": user_agent,
        "Accept": "application/json",
    }


#: Characters a path is sent with as they are (RFC 3986 ``pchar`` and "/"); "%" starts an
#: escape. Everything else is percent-encoded as UTF-8.
_PATH_SAFE = "/:@!$&'()*+,;=-._~%"
#: ... and in a query, "?" too.
_QUERY_SAFE = _PATH_SAFE + "?"
#: A "%" that does not start a valid escape.
_STRAY_PERCENT = re.compile(r"%(?![0-9A-Fa-f]{2})")


def _encode_part(text: str, safe: str) -> str:
    return quote(_STRAY_PERCENT.sub("%25", text), safe=safe)


def encode_path(path: str) -> str:
    """A caller's path (the ``request()`` escape hatch) as it is sent on the wire.

    Characters outside a URL path are percent-encoded, escapes already there are kept, and a
    query after ``?`` is kept as a query. A segment that is, or would be read by some server as,
    ``.`` or ``..`` (``..``, ``%2e%2e``, ``..;param``) is refused: it would climb out of the
    API. Ids filled into the endpoint table's paths never need this: they are encoded whole.

    Args:
        path: below the base URL, starting with "/".

    Returns:
        The encoded path (and query).

    Raises:
        InvalidArgumentError: ``path`` does not start with "/", or has a dot segment.
    """
    if not path.startswith("/"):
        raise InvalidArgumentError("path", f"must start with '/', got {path!r}")
    before, mark, query = path.partition("?")
    encoded = _encode_part(before, _PATH_SAFE)
    for segment in encoded.split("/"):
        # Servers in the Tomcat family drop ";params" from a segment before resolving dots.
        if unquote(segment.partition(";")[0]) in (".", ".."):
            raise InvalidArgumentError(
                "path", f"must not contain '.' or '..' segments, got {path!r}"
            )
    return encoded + mark + _encode_part(query, _QUERY_SAFE) if mark else encoded


def build_request(
    endpoint: Endpoint[Any],
    ids: tuple[object, ...] = (),
    *,
    base_url: str,
    headers: Mapping[str, str],
    body: JSON | NotGiven = NOT_GIVEN,
) -> Request:
    """Assemble one call of ``endpoint``. ``headers`` must already hold the static headers (and
    Content-Type when there is a body); they are used as given, not copied.

    ``base_url`` must already be encoded (the client encodes its base URL once); ``ids`` are
    encoded whole by the endpoint, and an ad-hoc endpoint's path by :func:`encode_path`: the
    URL is sent exactly as built, never decoded or normalised on the way, so no id can add,
    remove or climb a path segment.

    Args:
        endpoint: what is called.
        ids: the values of the path template's fields, in order.
        base_url: the encoded API root, without a trailing slash.
        headers: the headers to send.
        body: the JSON body; NOT_GIVEN for a request without one.

    Returns:
        The request; its ``merchant_reference_id`` is the body's order id when the endpoint
        takes one.

    Raises:
        InvalidArgumentError: an id is invalid, or the body cannot be sent as JSON.
    """
    path = endpoint.fill(ids)
    if body is NOT_GIVEN:
        return Request(endpoint, path, base_url + path, headers)
    reference = None
    if endpoint.sends_reference:
        value = body.get(REFERENCE_FIELD) if isinstance(body, Mapping) else None
        reference = value if isinstance(value, str) else None
    return Request(endpoint, path, base_url + path, headers, encode_json(body), reference)


def user_agent(aiohttp_version: str) -> str:
    """The ``User-Agent`` of every request: bpcpay's, aiohttp's and Python's versions."""
    return (
        f"bpcpay/{__version__} aiohttp/{aiohttp_version} "
        f"{platform.python_implementation()}/{platform.python_version()}"
    )


def options_from_env(
    *, api_key: Secret[str] | None, base_url: str | None, api_version: str | None
) -> tuple[Secret[str], str, str]:
    """The client's key, base URL and API version: each as given, else from ``BPCPAY_API_KEY``,
    ``BPCPAY_BASE_URL`` and ``BPCPAY_API_VERSION``, else the defaults (the key has none).

    The key read from the environment goes straight into a Secret, never into a name.

    Args:
        api_key: the key given to the constructor (held already), or None.
        base_url: the base URL given, or None.
        api_version: the API version given, or None.

    Returns:
        ``(key, base_url, api_version)``, not checked yet.

    Raises:
        InvalidArgumentError: no key was given and ``BPCPAY_API_KEY`` is unset or empty (the
            one error ``AsyncBpcPay()``, ``BpcPay()`` and ``from_env()`` raise for it).
    """
    if api_key is None:
        api_key = Secret(os.environ.get(ENV_API_KEY, ""))
        if not api_key:
            raise InvalidArgumentError(
                ENV_API_KEY, "is not set: export your API key, or pass api_key="
            )
    return (
        api_key,
        base_url if base_url is not None else os.environ.get(ENV_BASE_URL) or DEFAULT_BASE_URL,
        api_version
        if api_version is not None
        else os.environ.get(ENV_API_VERSION) or DEFAULT_API_VERSION,
    )


def luhn_ok(digits: str) -> bool:
    """The Luhn check-digit test over a string of ASCII digits (shared with the sandbox)."""
    total = 0
    for index, char in enumerate(reversed(digits)):
        value = ord(char) - 48
        if index % 2:
            value = value * 2 - 9 if value > 4 else value * 2
        total += value
    return total % 10 == 0
