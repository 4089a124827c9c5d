"""Webhook signatures and events: pure, synchronous, shared by both clients and the sandbox.

``X-Signature`` is the hex HMAC-SHA256 of the raw request body, keyed with the webhook secret
encoded as UTF-8 [inferred: BPC says "symmetric signature with HMAC"; the details are ours, and
this module is the one place that decides them]. Verify the raw bytes first, parse second.

BPC signs no timestamp, so a signature cannot expire: a captured delivery verifies forever.
The defence against replays is de-duplication on the delivery id (``API-Request-Id``, kept as
``event.request_id``) and idempotent handlers.

Never imports aiohttp, anyio or asyncio; the converter (and with it cattrs) is imported on the
first ``construct_event``, so that importing this module stays cheap.
"""

from __future__ import annotations

import hashlib
import hmac
import json
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

from ._constants import DEFAULT_MAX_WEBHOOK_BYTES, REQUEST_ID_HEADER, SIGNATURE_HEADER
from ._core._headers import header as _header
from ._exceptions import SignatureVerificationError
from .models import Event

__all__ = [
    "SIGNATURE_HEADER",
    "DeliveryStore",
    "InMemoryDeliveryStore",
    "WebhookResult",
    "WebhookRouter",
    "Webhooks",
    "construct_event",
    "event_key",
    "request_id_key",
    "sign",
    "verify_signature",
]

_HEX = frozenset("0123456789abcdefABCDEF")
_SHA256_HEX_LEN = 64


def _key(secret: str | bytes) -> bytes:
    if isinstance(secret, bytes):
        return secret
    if isinstance(secret, str):
        return secret.encode("utf-8")
    raise TypeError("a webhook secret must be str or bytes")


def _payload_bytes(payload: bytes | bytearray | memoryview | str) -> bytes:
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


def _secrets(secret: str | bytes | Sequence[str | bytes]) -> list[bytes]:
    keys = [_key(secret)] if isinstance(secret, (str, bytes)) else [_key(s) for s in secret]
    if not keys or any(not k for k in keys):
        # A configuration error, not a bad delivery; still never echo the value.
        raise ValueError("secret: give a non-empty webhook secret (or a non-empty list of them)")
    return keys


def sign(payload: bytes | str, secret: str | bytes) -> str:
    """The ``X-Signature`` value for a body: lower-case hex HMAC-SHA256.

    Args:
        payload: the exact body bytes that are (or will be) sent.
        secret: the webhook secret from the merchant's personal area.

    Returns:
        64 lower-case hex characters.
    """
    return hmac.new(_key(secret), _payload_bytes(payload), hashlib.sha256).hexdigest()


def verify_signature(
    payload: bytes | str,
    *,
    signature: str | None,
    secret: str | bytes | Sequence[str | bytes],
    max_bytes: int = DEFAULT_MAX_WEBHOOK_BYTES,
) -> None:
    """Check ``signature`` against the raw ``payload``; return None or raise.

    Args:
        payload: the raw request body, exactly as received.
        signature: the ``X-Signature`` header value (upper- or lower-case hex).
        secret: one secret, or several while you rotate (any one may match).
        max_bytes: bodies above this size are refused before any hashing.

    Raises:
        SignatureVerificationError: with ``reason`` one of ``missing_header``, ``bad_format``,
            ``too_large``, ``mismatch``, ``bad_payload``.
    """
    if signature is None:
        raise SignatureVerificationError(
            f"no {SIGNATURE_HEADER} header: the delivery is not signed", reason="missing_header"
        )
    signature = signature.strip()
    if not signature:
        raise SignatureVerificationError(
            f"the {SIGNATURE_HEADER} header is empty", reason="missing_header"
        )
    if len(signature) != _SHA256_HEX_LEN or not _HEX.issuperset(signature):
        raise SignatureVerificationError(
            f"the {SIGNATURE_HEADER} header is not a hex HMAC-SHA256 ({len(signature)} characters)",
            reason="bad_format",
        )
    keys = _secrets(secret)
    body = payload if isinstance(payload, bytes) else _payload_bytes(payload)
    if len(body) > max_bytes:
        raise SignatureVerificationError(
            f"the body is larger than {max_bytes} bytes; refused unhashed", reason="too_large"
        )
    expected = signature.lower()
    matched = False
    for key in keys:
        # Check every secret so the time taken does not tell which one matched.
        digest = hmac.new(key, body, hashlib.sha256).hexdigest()
        matched |= hmac.compare_digest(digest, expected)
    if not matched:
        raise SignatureVerificationError(
            "the signature does not match the body: wrong secret, or the body was altered "
            "(pass the raw bytes, not re-serialised JSON)",
            reason="mismatch",
        )


def construct_event(
    payload: bytes | str,
    headers: Mapping[str, str],
    *,
    secret: str | bytes | Sequence[str | bytes],
    max_bytes: int = DEFAULT_MAX_WEBHOOK_BYTES,
) -> Event:
    """Verify a delivery, then parse it into an :class:`~bpcpay.models.Event`.

    Args:
        payload: the raw request body bytes.
        headers: the request headers (any mapping; names are matched case-insensitively).
        secret: the webhook secret, or several during rotation.
        max_bytes: size cap, checked before hashing.

    Returns:
        The event; ``event.data.object`` is typed by the event type and ``event.request_id`` is
        the delivery's ``API-Request-Id`` (None if absent).

    Raises:
        SignatureVerificationError: verification failed (see ``verify_signature``), or the
            verified body is not a JSON event (``reason`` ``not_json`` / ``not_an_event``).
    """
    verify_signature(
        payload, signature=_header(headers, SIGNATURE_HEADER), secret=secret, max_bytes=max_bytes
    )
    try:
        # The normalised bytes: json.loads refuses a memoryview, which verification accepts.
        data = json.loads(_payload_bytes(payload))
    except (ValueError, UnicodeDecodeError, RecursionError):
        raise SignatureVerificationError(
            "the signed body is not valid UTF-8 JSON", reason="not_json"
        ) from None
    from ._core._converter import structure_object  # cached after the first call

    try:
        return structure_object(data, Event, request_id=_header(headers, REQUEST_ID_HEADER))
    except (TypeError, ValueError, KeyError, AttributeError) as exc:
        raise SignatureVerificationError(
            f"the signed body is not a webhook event: {exc}", reason="not_an_event"
        ) from None


class Webhooks:
    """``client.webhooks``: the very same pure functions, reachable from either client."""

    __slots__ = ()

    construct_event = staticmethod(construct_event)
    verify_signature = staticmethod(verify_signature)
    sign = staticmethod(sign)

    def __repr__(self) -> str:
        return "<bpcpay Webhooks>"


# --- the router, re-exported lazily: it needs asyncio, and `import bpcpay.webhooks` must not ---
if TYPE_CHECKING:
    from ._webhook_router import (
        DeliveryStore,
        InMemoryDeliveryStore,
        WebhookResult,
        WebhookRouter,
        event_key,
        request_id_key,
    )

_ROUTER_NAMES = frozenset(
    {
        "DeliveryStore",
        "InMemoryDeliveryStore",
        "WebhookResult",
        "WebhookRouter",
        "event_key",
        "request_id_key",
    }
)


def __getattr__(name: str) -> Any:
    if name in _ROUTER_NAMES:
        from . import _webhook_router

        return getattr(_webhook_router, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
