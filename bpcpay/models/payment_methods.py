"""PaymentMethod: a stored card. The object exists in BPC's docs; its fields are [inferred]."""

from __future__ import annotations

from datetime import datetime

import attrs

from ._base import APIObject, wire_name
from .payments import CARD_WIRE_NAMES

__all__ = ["Card", "PaymentMethod"]


@attrs.frozen(kw_only=True)
class Card:
    """The safe-to-show part of a stored card: never the full number."""

    brand: str | None = None
    last4: str | None = None
    exp_month: int | None = attrs.field(
        default=None, metadata=wire_name(CARD_WIRE_NAMES["exp_month"])
    )
    exp_year: int | None = attrs.field(
        default=None, metadata=wire_name(CARD_WIRE_NAMES["exp_year"])
    )


@attrs.frozen(kw_only=True)
class PaymentMethod(APIObject):
    """A stored payment method: a gateway token for a card, attached to ``merchant_customer_id``
    [doc: stored-payment-methods]; charge it with ``payments.create(stored_payment_method_id=)``.

    BPC's page: [Stored payment methods](https://dev.bpcbt.com/en/integration/apiv2/structure/stored-payment-methods-apiv2.html).

    Examples:
        ```python
        from bpcpay import PaymentCard

        card = PaymentCard(number="4444 5555 1111 3333", exp_month=12, exp_year=2034, cvc="123")
        first = client.payments.create(
            amount=100,
            currency="EUR",
            card=card,
            merchant_customer_id="customer-0042",
            setup_future_usage={"category": "unscheduled"},
        )
        method = client.payment_methods.retrieve(first.stored_payment_method_id)
        again = client.payments.create(
            amount=900, currency="EUR", stored_payment_method_id=method.id
        )
        print(method.card.last4, again.status)  # 3333 succeeded
        ```
    """

    id: str
    type: str
    created: datetime | None = None
    card: Card | None = None
    status: str | None = None
    merchant_customer_id: str | None = None
