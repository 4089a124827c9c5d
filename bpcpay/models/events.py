"""Event: the body of a webhook delivery, ``{created, type, data: {object}}``."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any, Final, TypeAlias

import attrs

from ._base import APIObject
from .payment_methods import PaymentMethod
from .payments import Payment
from .refunds import Refund
from .sessions import Session

__all__ = ["Event", "EventData", "EventObject", "EventType"]


class EventType:
    """Known event types. ``Event.type`` stays a plain ``str``: unknown types still parse.

    Which flow emits which, in order [doc: direct-integration, redirect-integration, webhooks]:
    a paid session ``session.completed``; an expired one ``session.expired``; a direct one-step
    payment ``payment.created`` then ``payment.succeeded``; a declined attempt
    ``payment.created`` then ``payment.failed``; a two-step hold ``payment.created`` then
    ``payment.amountCapturableUpdated``; a capture ``payment.funded`` and
    ``payment.succeeded``; a cancel ``payment.canceled``.
    """

    SESSION_COMPLETED: Final = "session.completed"
    SESSION_EXPIRED: Final = "session.expired"
    PAYMENT_CREATED: Final = "payment.created"
    PAYMENT_SUCCEEDED: Final = "payment.succeeded"
    PAYMENT_FAILED: Final = "payment.failed"
    PAYMENT_CANCELED: Final = "payment.canceled"
    PAYMENT_AMOUNT_CAPTURABLE_UPDATED: Final = "payment.amountCapturableUpdated"
    PAYMENT_FUNDED: Final = "payment.funded"
    # The names below are [inferred]: BPC documents the objects, not these event names.
    REFUND_CREATED: Final = "refund.created"
    REFUND_SUCCEEDED: Final = "refund.succeeded"
    REFUND_FAILED: Final = "refund.failed"
    PAYMENT_METHOD_CREATED: Final = "paymentMethod.created"


#: What ``event.data.object`` can be: a typed snapshot, or the raw JSON for unknown types.
EventObject: TypeAlias = Session | Payment | Refund | PaymentMethod | Mapping[str, Any]


@attrs.frozen(kw_only=True)
class EventData:
    """The ``data`` member of an event."""

    object: EventObject


@attrs.frozen(kw_only=True)
class Event(APIObject):
    """One webhook event.

    ``data.object`` is a Session for ``session.*`` events, a Payment for ``payment.*``, a Refund
    for ``refund.*`` and a PaymentMethod for ``paymentMethod.*``; for any other type it is the
    raw JSON mapping. ``request_id`` is the delivery's ``API-Request-Id``: it identifies the
    delivery for logs and support, but it is not signed, so never de-duplicate on it (the
    router keys on signed content: the type and the object's id, plus ``created`` for events
    other than ``session.completed`` and ``session.expired``).

    Attributes:
        reconciled: True for an event the router synthesized from ``sessions.retrieve`` while
            reconciling (no delivery, no signature, no request id); False for a delivery.
    """

    type: str
    created: datetime | None
    data: EventData
    reconciled: bool = attrs.field(default=False, kw_only=True)
