"""The API's objects as frozen attrs classes. Never imports cattrs or any I/O library."""

from ._base import APIObject
from .customers import (
    Address,
    CustomerDetails,
    RecurrentTerms,
    RecurringModel,
    SetupFutureUsage,
    StoredCardCategory,
)
from .events import Event, EventData, EventObject, EventType
from .payment_methods import Card, PaymentMethod
from .payments import CARD_WIRE_NAMES, CardToken, Payment, PaymentCard, PaymentStatus
from .refunds import Refund, RefundStatus
from .sessions import (
    CaptureMethod,
    PaymentData,
    Session,
    SessionPaymentStatus,
    SessionStatus,
)

__all__ = [
    "CARD_WIRE_NAMES",
    "APIObject",
    "Address",
    "CaptureMethod",
    "Card",
    "CardToken",
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
    "RecurrentTerms",
    "RecurringModel",
    "Refund",
    "RefundStatus",
    "Session",
    "SessionPaymentStatus",
    "SessionStatus",
    "SetupFutureUsage",
    "StoredCardCategory",
]
