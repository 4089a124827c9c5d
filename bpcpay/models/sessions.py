"""Session: a hosted payment page for one order (ids ``ps_`` + base58)."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Final

import attrs

from ._base import APIObject

__all__ = [
    "CaptureMethod",
    "CustomerDetails",
    "PaymentData",
    "Session",
    "SessionPaymentStatus",
    "SessionStatus",
]


class SessionStatus:
    """Known values of ``Session.status``. The field stays a plain ``str``: new values parse."""

    OPEN: Final = "open"
    EXPIRED: Final = "expired"
    COMPLETE: Final = "complete"  # [inferred] the name of the completed state


class SessionPaymentStatus:
    """Known values of ``Session.payment_status`` (plain ``str`` on the model)."""

    UNPAID: Final = "unpaid"
    PAID: Final = "paid"  # [inferred]


class CaptureMethod:
    """Values of ``payment_data.capture_method``: ``manual`` is a two-step payment."""

    AUTOMATIC: Final = "automatic"
    MANUAL: Final = "manual"


@attrs.frozen(kw_only=True)
class CustomerDetails:
    """Who pays. The field names are [inferred]; BPC's example sends an empty object."""

    email: str | None = None
    phone: str | None = None
    name: str | None = None


@attrs.frozen(kw_only=True)
class PaymentData:
    """Payment options of a session."""

    capture_method: str | None = None


@attrs.frozen(kw_only=True)
class Session(APIObject):
    """A hosted payment session. Send the customer to ``payment_url``.

    Trust only the signed ``session.completed`` webhook (or ``sessions.retrieve``) for the
    outcome, never the customer's redirect to ``success_url`` alone.
    """

    id: str
    amount: int
    currency: str
    status: str
    payment_status: str | None = None
    payment_url: str | None = None
    success_url: str | None = None
    failure_url: str | None = None
    created: datetime | None = None
    expires_at: datetime | None = None
    locale: str | None = None
    merchant_reference_id: str | None = None
    metadata: Mapping[str, str] = attrs.field(factory=dict)
    customer_details: CustomerDetails | None = None
    payment_data: PaymentData | None = None
    #: The id of the payment made through this session, once there is one [inferred].
    payment: str | None = None
