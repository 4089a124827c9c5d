"""Refund: money returned on a payment. BPC documents the object; its fields are [inferred]."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any, Final

import attrs

from ._base import APIObject, upper_currency

__all__ = ["Refund", "RefundStatus"]


class RefundStatus:
    """Known values of ``Refund.status`` [inferred].

    Examples:
        ```python
        from bpcpay import PaymentCard, RefundStatus

        card = PaymentCard(number="4444 5555 1111 3333", exp_month=12, exp_year=2034, cvc="123")
        payment = client.payments.create(amount=2500, currency="EUR", card=card)
        refund = client.refunds.create(payment_id=payment.id)
        print(refund.status == RefundStatus.SUCCEEDED)  # True
        ```
    """

    PENDING: Final = "pending"
    SUCCEEDED: Final = "succeeded"
    FAILED: Final = "failed"


@attrs.frozen(kw_only=True)
class Refund(APIObject):
    """A refund of all or part of a payment.

    Refunds are published (their fields are [inferred]) on BPC's page
    [Cancel and refund](https://dev.bpcbt.com/en/integration/apiv2/structure/cancel-refund-apiv2.html).

    Examples:
        ```python
        from bpcpay import PaymentCard

        card = PaymentCard(number="4444 5555 1111 3333", exp_month=12, exp_year=2034, cvc="123")
        payment = client.payments.create(amount=2500, currency="EUR", card=card)
        refund = client.refunds.create(payment_id=payment.id, amount=1000)
        print(refund.amount, refund.currency, refund.payment == payment.id)  # 1000 EUR True
        ```
    """

    id: str
    payment: str
    amount: int
    currency: str = attrs.field(converter=upper_currency)
    status: str
    created: datetime | None = None
    reason: str | None = None
    #: Your own keys; values are whatever JSON the gateway returns.
    metadata: Mapping[str, Any] = attrs.field(factory=dict)
