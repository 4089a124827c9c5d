"""Payment: one charge of a card, direct or through a session."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Final

import attrs

from ._base import APIObject

__all__ = ["Payment", "PaymentCard", "PaymentStatus", "RecurringModel", "StoredCardCategory"]


class PaymentStatus:
    """Known values of ``Payment.status`` (camelCase on the wire; a plain ``str`` on the model)."""

    SUCCEEDED: Final = "succeeded"
    REQUIRES_CAPTURE: Final = "requiresCapture"
    REQUIRES_ACTION: Final = "requiresAction"  # [inferred] 3-D Secure pending
    PROCESSING: Final = "processing"  # [inferred]
    CANCELED: Final = "canceled"  # [inferred]
    FAILED: Final = "failed"  # [inferred]


class StoredCardCategory:
    """Values of ``category`` for stored-card payments."""

    EMPTY: Final = "empty"
    UNSCHEDULED: Final = "unscheduled"
    RECURRENT: Final = "recurrent"
    INSTALLMENT: Final = "installment"


@attrs.frozen(kw_only=True)
class RecurringModel:
    """Terms of a recurring or installment series; field names are [inferred]."""

    frequency: int | None = None
    end_date: str | None = None
    installments: int | None = None


@attrs.frozen(kw_only=True)
class Payment(APIObject):
    """A payment. Amounts are integers in minor units of ``currency``."""

    id: str
    amount: int
    currency: str
    status: str
    created: datetime | None = None
    capture_method: str | None = None
    #: What a two-step payment can still capture.
    amount_capturable: int | None = None
    #: What has been captured so far [inferred].
    amount_received: int | None = None
    #: What has been refunded so far [inferred].
    amount_refunded: int | None = None
    #: The session this payment was made through, if any [inferred].
    session: str | None = None
    #: The stored payment method used or created, if any [inferred].
    payment_method: str | None = None
    merchant_reference_id: str | None = None
    metadata: Mapping[str, str] = attrs.field(factory=dict)
    category: str | None = None
    recurring_model: RecurringModel | None = None
    #: Why the payment failed, e.g. ``"71015"`` for an input error [inferred].
    failure_code: str | None = None
    failure_message: str | None = None


def _masked_number(number: object) -> str:
    # Never raise from a repr: a card built with an int number must still be loggable.
    digits = number if isinstance(number, str) else str(number)
    return f"'****{digits[-4:]}'" if len(digits) >= 4 else "'****'"


@attrs.frozen(kw_only=True)
class PaymentCard:
    """Card data for a direct payment (``payments.create``); only for PCI DSS merchants.

    The number and CVC never appear in a repr (the number shows its last four digits).
    """

    number: str = attrs.field(repr=_masked_number)
    exp_month: int
    exp_year: int
    cvc: str = attrs.field(repr=False)
    holder: str | None = None
