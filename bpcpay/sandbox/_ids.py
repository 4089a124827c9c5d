"""Identifiers the sandbox hands out, shaped like BPC's.

Sessions are ``ps_`` followed by 54 base58 characters, as in BPC's published example; payments,
refunds and payment methods use the same alphabet with their own prefixes (their real lengths are
unpublished). Request and delivery ids are ``req_<uuid4>``. Owns nothing else.
"""

from __future__ import annotations

import secrets
import uuid

__all__ = [
    "BASE58",
    "new_challenge_id",
    "new_delivery_id",
    "new_event_id",
    "new_md_order",
    "new_payment_id",
    "new_payment_method_id",
    "new_refund_id",
    "new_request_id",
    "new_secret",
    "new_session_id",
    "new_webhook_endpoint_id",
]

#: Bitcoin's base58 alphabet: no 0, O, I or l, so an id read aloud or copied by hand survives.
BASE58 = "123456789ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz"


#: The largest multiple of 58 that fits in a byte: bytes below it map to the alphabet uniformly.
_UNIFORM_LIMIT = 256 // 58 * 58


def _base58(length: int) -> str:
    # One system call per id instead of one secrets.choice per character (ten times faster).
    chars: list[str] = []
    while len(chars) < length:
        chars += [BASE58[b % 58] for b in secrets.token_bytes(length + 8) if b < _UNIFORM_LIMIT]
    return "".join(chars[:length])


def new_session_id() -> str:
    """``ps_`` + 54 base58 characters."""
    return "ps_" + _base58(54)


def new_payment_id() -> str:
    """``pay_`` + 30 base58 characters."""
    return "pay_" + _base58(30)


def new_refund_id() -> str:
    """``re_`` + 30 base58 characters."""
    return "re_" + _base58(30)


def new_payment_method_id() -> str:
    """``pm_`` + 30 base58 characters."""
    return "pm_" + _base58(30)


def new_event_id() -> str:
    """``evt_`` + 24 base58 characters: the sandbox's own handle on an event (never sent)."""
    return "evt_" + _base58(24)


def new_webhook_endpoint_id() -> str:
    """``we_`` + 16 base58 characters."""
    return "we_" + _base58(16)


def new_request_id() -> str:
    """``req_<uuid4>``: the ``API-Request-Id`` of a response or a webhook delivery."""
    return f"req_{uuid.uuid4()}"


def new_delivery_id() -> str:
    """A delivery's id is the ``API-Request-Id`` its attempts carry."""
    return new_request_id()


def new_md_order() -> str:
    """The ``mdOrder`` of a payment page URL (a UUID, as on BPC's pages)."""
    return str(uuid.uuid4())


def new_challenge_id() -> str:
    """The handle of one 3-D Secure challenge."""
    return str(uuid.uuid4())


def new_secret(prefix: str) -> str:
    """A fresh credential: ``prefix`` + 32 random URL-safe characters."""
    return prefix + secrets.token_urlsafe(24)
