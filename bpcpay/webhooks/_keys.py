"""De-duplication keys: which deliveries are "the same event". Pure; imports no I/O library.

A key is built from the *signed* body only. ``API-Request-Id`` is not signed: a replayed
delivery can carry any request id it likes, so a key built on it lets a replay through. And two
distinct signed bodies never share a key unless they are copies of one event.

Events that mark an object's final state (:data:`FINAL_STATE_EVENTS`) happen once per object,
so their key is ``(type, object id)``: a real delivery and a reconciled one (synthesized from
``retrieve``, see ``WebhookRouter.reconcile``) share it, and whichever path sees the final state
first runs the handlers, once. Every other event is repeatable: one object can emit it several
times, even within the second that ``created`` resolves (``payment.funded`` after each partial
capture, ``payment.amountCapturableUpdated``, ``payment.created``, ``refund.created``,
``paymentMethod.created``), so its key adds a digest of the signed body, which tells two such
events apart and stays the same for every copy (retries resend the very bytes they signed).

One final-state type is sent before the object's last word too: on the payment page a declined
card emits ``payment.failed`` while the payment waits for another card (``requiresPaymentMethod``);
only a ``payment.failed`` whose payment is ``failed`` is the final one.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from typing import Any, Final

from ..models import Event, EventType, PaymentStatus

__all__ = ["FINAL_STATE_EVENTS", "event_key", "is_final_state", "request_id_key"]

#: Event types that mark an object's final state: emitted at most once per object (see
#: :func:`is_final_state` for the one that also comes earlier).
FINAL_STATE_EVENTS: Final = frozenset(
    {
        EventType.SESSION_COMPLETED,
        EventType.SESSION_EXPIRED,
        EventType.PAYMENT_SUCCEEDED,
        EventType.PAYMENT_FAILED,
        EventType.PAYMENT_CANCELED,
        EventType.REFUND_SUCCEEDED,
        EventType.REFUND_FAILED,
    }
)
#: Final-state types also emitted before the object's last word: final only with this status.
_FINAL_ONLY_IN_STATUS: Final = {EventType.PAYMENT_FAILED: PaymentStatus.FAILED}
#: Hex digits of the body's SHA-256 kept in a repeatable event's key (128 bits).
_DIGEST_CHARS: Final = 32


def _field(obj: object, name: str) -> Any:
    return obj.get(name) if isinstance(obj, Mapping) else getattr(obj, name, None)


def is_final_state(event_type: str, obj: object) -> bool:
    """True when an event of ``event_type`` about ``obj`` is that object's final state.

    Args:
        event_type: the event's type.
        obj: the event's object (a model, or the raw JSON mapping).

    Returns:
        True for :data:`FINAL_STATE_EVENTS`, except a ``payment.failed`` whose payment is not
        ``failed`` (a declined attempt the customer may follow with another card).
    """
    if event_type not in FINAL_STATE_EVENTS:
        return False
    status = _field(obj, "status")
    required = _FINAL_ONLY_IN_STATUS.get(event_type)
    return required is None or status is None or status == required


def event_key(event: Event, payload: bytes) -> str:
    """The default de-duplication key, from the signed body.

    ``evt:<type>:<object id>`` for a final state (:func:`is_final_state`: the types of
    :data:`FINAL_STATE_EVENTS`), shared with the event that reconciliation synthesizes;
    ``evt:<type>:<object id>:<digest>`` for every other event, the digest being 32 hex digits
    of the signed body's SHA-256, so that two events of one object within one second keep
    apart; ``body:<digest>`` (the whole SHA-256) when the object has no id, e.g. for an
    unknown event type.

    Args:
        event: the verified event.
        payload: the raw body it was parsed from, exactly as signed.

    Returns:
        The key (at most a few hundred characters; ids are the gateway's).
    """
    obj = event.data.object
    object_id = _field(obj, "id")
    digest = hashlib.sha256(payload).hexdigest()
    if isinstance(object_id, str) and object_id:
        if is_final_state(event.type, obj):
            return f"evt:{event.type}:{object_id}"
        return f"evt:{event.type}:{object_id}:{digest[:_DIGEST_CHARS]}"
    return "body:" + digest


def request_id_key(event: Event, payload: bytes) -> str:
    """An alternative key: the delivery id (``API-Request-Id``), else :func:`event_key`.

    Not recommended: the header is not signed, so a replay with a fresh request id gets a fresh
    key and runs the handlers again. Kept for receivers that must match the gateway's own
    delivery log one to one.

    Args:
        event: the verified event (``event.request_id`` is the header's value).
        payload: the raw body.

    Returns:
        ``req:<request id>``, or :func:`event_key` when the header was absent.
    """
    if event.request_id:
        return "req:" + event.request_id
    return event_key(event, payload)
