"""Webhook signatures and events: pure, synchronous, shared by both clients and the sandbox.

This module owns the one signing function (:func:`sign`), the one verification rule
(:func:`verify_signature`) and the verify-then-parse step (:func:`construct_event`). It must
never import aiohttp, anyio or asyncio (nor the router or the stores); the models, the JSON
decoder and the converter (with attrs and cattrs) are imported on the first ``construct_event``,
so importing it stays cheap. Events are decoded with orjson when ``bpcpay[speedups]`` is
installed.

The rule [inferred: BPC says "symmetric signature with HMAC" and publishes no more; this module
is the one place that decides the details]: the expected MAC is HMAC-SHA256 of the raw body,
keyed with the secret as UTF-8, for each configured secret (rotation). ``X-Signature`` may hold
up to 8 comma-separated candidates, each with an optional case-insensitive ``sha256=`` prefix,
spelled as 64 hex characters (any case) or as base64 / base64url with or without padding. A
candidate counts only when it decodes to exactly 32 bytes; the delivery is valid when some
candidate equals some expected MAC under :func:`hmac.compare_digest`. Every accepted spelling
encodes the same 256-bit MAC, so the tolerance widens spelling, not the odds of a forgery.

BPC signs no timestamp header, so a captured delivery verifies forever. The body's ``created``
is signed, though: ``max_age=`` refuses events older than that. De-duplicate on signed content
(:func:`bpcpay.webhooks.event_key`), never on the unsigned ``API-Request-Id`` header.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import time
from collections.abc import Mapping, Sequence

from .._constants import DEFAULT_MAX_WEBHOOK_BYTES, REQUEST_ID_HEADER, SIGNATURE_HEADER
from .._core._checks import check_int, check_seconds, check_secret
from .._core._headers import header as _header
from .._exceptions import InvalidArgumentError, SignatureVerificationError
from .._secret import Secret

# typing.TYPE_CHECKING without importing typing (a few ms at import): type checkers treat any
# TYPE_CHECKING this way.
TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

    from ..models import Event

__all__ = [
    "SIGNATURE_HEADER",
    "Webhooks",
    "construct_event",
    "secret_keys",
    "sign",
    "verify_signature",
]

_HEX = frozenset("0123456789abcdefABCDEF")
_MAC_BYTES = 32
_MAX_HEADER_CHARS = 1024
_MAX_CANDIDATES = 8
_PREFIX = "sha256="

#: One webhook secret as given: str or bytes, or a key :func:`secret_keys` made.
OneSecret = str | bytes | Secret[bytes]
#: One secret, or several while they rotate.
Secrets = OneSecret | Sequence[OneSecret]


def _key(secret: object) -> Secret[bytes]:
    if isinstance(secret, Secret):
        return secret
    return Secret(check_secret("secret", secret))


def secret_keys(secret: object) -> list[Secret[bytes]]:
    """The HMAC keys for one secret or a list of them (rotation), checked and encoded once,
    each held in a :class:`~bpcpay._secret.Secret` (its repr shows ``[redacted]``).

    Args:
        secret: a str or bytes secret, or a non-empty sequence of them (keys this function
            made are taken as they are).

    Returns:
        The keys, in the order given.

    Raises:
        InvalidArgumentError: no secret, an empty or whitespace-only one, a value that is not
            str or bytes, or a str that cannot be encoded as UTF-8 (the message never shows it).
    """
    if isinstance(secret, (str, bytes, Secret)):
        return [_key(secret)]
    if not isinstance(secret, Sequence) or not secret:
        raise InvalidArgumentError("secret", "give a non-empty webhook secret (or a list of them)")
    return [_key(item) for item in secret]


def _payload_bytes(payload: object) -> bytes:
    if isinstance(payload, (bytes, bytearray, memoryview)):
        return bytes(payload)
    if isinstance(payload, str):
        # Accepted for convenience; frameworks that hand out text may have re-encoded the body,
        # so prefer the raw bytes.
        return payload.encode("utf-8")
    raise SignatureVerificationError(
        f"the payload must be the raw request body as bytes, got {type(payload).__name__}",
        reason="bad_payload",
    )


def sign(payload: bytes | str, secret: str | bytes | Secret[bytes]) -> str:
    """The ``X-Signature`` value for a body: lower-case hex HMAC-SHA256, no prefix.

    Args:
        payload: the exact body bytes that are (or will be) sent.
        secret: the webhook secret from the merchant's personal area.

    Returns:
        64 lower-case hex characters.

    Raises:
        InvalidArgumentError: the secret is empty, whitespace-only, not str or bytes, or not
            encodable as UTF-8.
    """
    key = _key(secret)
    # The plain secret leaves this frame: an error below (a payload that is not bytes) must not
    # find it in the locals. The key is revealed inside the call only.
    del secret
    return hmac.new(key.reveal(), _payload_bytes(payload), hashlib.sha256).hexdigest()


def _decode_candidate(text: str) -> bytes | None:
    """One header candidate as the 32 MAC bytes, or None when it is not a spelling we accept."""
    text = text.strip()
    if text[: len(_PREFIX)].lower() == _PREFIX:
        text = text[len(_PREFIX) :]
    if not text.isascii():
        return None
    if len(text) == 2 * _MAC_BYTES and _HEX.issuperset(text):
        return bytes.fromhex(text)
    if "-" in text or "_" in text:
        if "+" in text or "/" in text:
            return None  # one alphabet or the other, never both
        text = text.replace("-", "+").replace("_", "/")
    unpadded = text.rstrip("=")
    if len(text) - len(unpadded) > 2:
        return None
    try:
        raw = base64.b64decode(unpadded + "=" * (-len(unpadded) % 4), validate=True)
    except (binascii.Error, ValueError):
        return None
    return raw if len(raw) == _MAC_BYTES else None


def _candidates(signature: object) -> list[bytes]:
    if signature is None:
        raise SignatureVerificationError(
            f"no {SIGNATURE_HEADER} header: the delivery is not signed", reason="missing_header"
        )
    if not isinstance(signature, str):
        raise SignatureVerificationError(
            f"the {SIGNATURE_HEADER} header is not text ({type(signature).__name__})",
            reason="bad_format",
        )
    if not signature.strip():
        raise SignatureVerificationError(
            f"the {SIGNATURE_HEADER} header is empty", reason="missing_header"
        )
    parts = signature.split(",")
    if len(signature) > _MAX_HEADER_CHARS or len(parts) > _MAX_CANDIDATES:
        raise SignatureVerificationError(
            f"the {SIGNATURE_HEADER} header is too long ({len(signature)} characters, "
            f"{len(parts)} values; at most {_MAX_HEADER_CHARS} and {_MAX_CANDIDATES})",
            reason="bad_format",
        )
    found = [mac for mac in map(_decode_candidate, parts) if mac is not None]
    if not found:
        raise SignatureVerificationError(
            f"the {SIGNATURE_HEADER} header holds no HMAC-SHA256 (hex or base64 of 32 bytes)",
            reason="bad_format",
        )
    return found


def verify_signature(
    payload: bytes | str,
    *,
    signature: str | None,
    secret: Secrets,
    max_bytes: int = DEFAULT_MAX_WEBHOOK_BYTES,
) -> None:
    """Check ``signature`` against the raw ``payload``; return None or raise.

    Args:
        payload: the raw request body, exactly as received.
        signature: the ``X-Signature`` header value: hex (any case) or base64 / base64url
            (padded or not), optionally prefixed ``sha256=``; several may be comma-separated.
        secret: one secret, or several while you rotate (any one may match).
        max_bytes: bodies above this size are refused before any hashing.

    Raises:
        SignatureVerificationError: with ``reason`` one of ``missing_header``, ``bad_format``
            (also for a header value that is not a str), ``too_large``, ``mismatch``,
            ``bad_payload``.
        InvalidArgumentError: the secret is empty, whitespace-only, not str or bytes, or not
            encodable as UTF-8 (a configuration error, never echoed), or ``max_bytes`` is not
            an int >= 1.
    """
    keys = secret_keys(secret)
    del secret  # the keys are Secrets; the plain argument stays in no frame an error leaves by
    check_int("max_bytes", max_bytes, minimum=1)
    candidates = _candidates(signature)
    body = payload if isinstance(payload, bytes) else _payload_bytes(payload)
    if len(body) > max_bytes:
        raise SignatureVerificationError(
            f"the body is larger than {max_bytes} bytes; refused unhashed", reason="too_large"
        )
    _check(body, candidates, keys)


def _check(body: bytes, candidates: list[bytes], keys: list[Secret[bytes]]) -> None:
    matched = False
    for key in keys:
        # The one place a webhook secret is revealed: into the MAC, never into a name.
        digest = hmac.new(key.reveal(), body, hashlib.sha256).digest()
        for candidate in candidates:
            # Every pair is compared, so the time taken does not tell which one matched.
            matched |= hmac.compare_digest(digest, candidate)
    if not matched:
        raise SignatureVerificationError(
            "the signature does not match the body: wrong secret, or the body was altered "
            "(pass the raw bytes, not re-serialised JSON)",
            reason="mismatch",
        )


def _request_id(headers: Mapping[str, Any]) -> str | None:
    value = _header(headers, REQUEST_ID_HEADER)
    if value is not None and not isinstance(value, str):
        raise SignatureVerificationError(
            f"the {REQUEST_ID_HEADER} header is not text ({type(value).__name__})",
            reason="bad_format",
        )
    return value


def _check_age(event: Event, max_age: float, now: float) -> None:
    if event.created is None:
        raise SignatureVerificationError(
            "the event has no signed 'created', so its age cannot be checked", reason="too_old"
        )
    age = now - event.created.timestamp()
    if age > max_age:
        raise SignatureVerificationError(
            f"the event was created {age:.0f} s ago, more than max_age={max_age:g} s",
            reason="too_old",
        )


def construct_event(
    payload: bytes | str,
    headers: Mapping[str, str],
    *,
    secret: Secrets,
    max_bytes: int = DEFAULT_MAX_WEBHOOK_BYTES,
    max_age: float | None = None,
    now: float | None = None,
) -> Event:
    """Verify a delivery, then parse it into an :class:`~bpcpay.models.Event`.

    Args:
        payload: the raw request body bytes.
        headers: the request headers (any mapping; names are matched case-insensitively).
        secret: the webhook secret, or several during rotation.
        max_bytes: size cap, checked before hashing.
        max_age: refuse an event whose signed ``created`` is more than this many seconds old
            (off by default: BPC signs no timestamp header, ``created`` is the only signed time).
        now: the current time as a POSIX timestamp for the ``max_age`` check (``time.time()``
            by default; tests pass a fixed value).

    Returns:
        The event; ``event.data.object`` is typed by the event type and ``event.request_id`` is
        the delivery's ``API-Request-Id`` (None if absent; unsigned, so never a key).

    Raises:
        SignatureVerificationError: verification failed (see ``verify_signature``), the verified
            body is not a JSON event (``reason`` ``not_json`` / ``not_an_event``), or it is older
            than ``max_age`` (``too_old``).
        InvalidArgumentError: the secret, ``max_bytes`` or ``max_age`` is invalid.
    """
    keys = secret_keys(secret)
    del secret  # as in verify_signature: only the Secrets stay
    if max_age is not None:
        check_seconds("max_age", max_age)
    verify_signature(
        payload, signature=_header(headers, SIGNATURE_HEADER), secret=keys, max_bytes=max_bytes
    )
    request_id = _request_id(headers)
    _json, structure_object, event_model = _EVENT_PARSING or _load_event_parsing()
    try:
        # The normalised bytes: a memoryview is accepted by verification, not by every decoder.
        data = _json.loads(payload if payload.__class__ is bytes else _payload_bytes(payload))
    except _json.DECODE_ERRORS:
        raise SignatureVerificationError(
            "the signed body is not valid UTF-8 JSON", reason="not_json"
        ) from None

    try:
        event: Event = structure_object(data, event_model, request_id=request_id)
    except (TypeError, ValueError, KeyError, AttributeError) as exc:
        raise SignatureVerificationError(
            f"the signed body is not a webhook event: {exc}", reason="not_an_event"
        ) from None
    if max_age is not None:
        _check_age(event, max_age, time.time() if now is None else now)
    return event


_EVENT_PARSING: tuple[Any, Any, type[Event]] | None = None


def _load_event_parsing() -> tuple[Any, Any, type[Event]]:
    """The JSON decoder, the converter and the Event model, imported on the first event (then
    kept here): importing this module must not load the models, attrs or cattrs."""
    global _EVENT_PARSING
    from .._core import _json
    from .._core._converter import structure_object
    from ..models import Event as event_model

    _EVENT_PARSING = (_json, structure_object, event_model)
    return _EVENT_PARSING


class Webhooks:
    """``client.webhooks``: the very same pure functions, reachable from either client."""

    __slots__ = ()

    construct_event = staticmethod(construct_event)
    verify_signature = staticmethod(verify_signature)
    sign = staticmethod(sign)

    def __repr__(self) -> str:
        return "<bpcpay Webhooks>"
