"""The API's objects as frozen attrs classes. Never imports cattrs or any I/O library."""

from ._base import APIObject
from .events import Event, EventData, EventObject, EventType
from .payment_methods import Card, PaymentMethod
from .payments import Payment, PaymentCard, PaymentStatus, RecurringModel, StoredCardCategory
from .refunds import Refund, RefundStatus
from .sessions import (
    CaptureMethod,
    CustomerDetails,
    PaymentData,
    Session,
    SessionPaymentStatus,
    SessionStatus,
)

__all__ = [
    "APIObject",
    "CaptureMethod",
    "Card",
    "CustomerDetails",
    "Event",
    "EventData",
    "EventObject",
    "EventType",
    "Payment",
    "PaymentCard",
    "PaymentData",
    "PaymentMethod",
    "PaymentStatus",
    "RecurringModel",
    "Refund",
    "RefundStatus",
    "Session",
    "SessionPaymentStatus",
    "SessionStatus",
    "StoredCardCategory",
]
