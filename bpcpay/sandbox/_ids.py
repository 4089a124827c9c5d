"""Identifiers the sandbox hands out, shaped like BPC's.

Sessions are ``ps_`` followed by 54 base58 characters, as in BPC's published example; payments,
refunds and payment methods use the same alphabet with their own prefixes (their real lengths are
unpublished). Request and delivery ids are ``req_<uuid4>``. Owns nothing else.
"""

from __future__ import annotations

import secrets
import uuid
from collections.abc import Callable
from typing import Final

__all__ = [
    "BASE58",
    "new_card_token",
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


def _base58_ids(prefix: str, length: int) -> Callable[[], str]:
    """A function that makes ids ``prefix`` + ``length`` base58 characters."""

    def new_id() -> str:
        return prefix + _base58(length)

    return new_id


# The session's shape is BPC's published example; the other lengths are ours (unpublished).
new_session_id: Final = _base58_ids("ps_", 54)
new_payment_id: Final = _base58_ids("pay_", 30)
new_refund_id: Final = _base58_ids("re_", 30)
new_payment_method_id: Final = _base58_ids("pm_", 30)
#: The sandbox's own handle on an event (never sent).
new_event_id: Final = _base58_ids("evt_", 24)
new_webhook_endpoint_id: Final = _base58_ids("we_", 16)
#: A card token the sandbox issues (BPC's real ones are the card, encrypted on the device).
new_card_token: Final = _base58_ids("tok_", 40)


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
