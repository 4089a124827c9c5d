"""Session: a hosted payment page for one order (ids ``ps_`` + base58)."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any, Final

import attrs

from ._base import APIObject, upper_currency
from .customers import CustomerDetails, SetupFutureUsage

__all__ = [
    "CaptureMethod",
    "PaymentData",
    "Session",
    "SessionPaymentStatus",
    "SessionStatus",
]


class SessionStatus:
    """Known values of ``Session.status``. The field stays a plain ``str``: new values parse.

    ``open`` until paid (``complete``) or expired (``expired``); see BPC's pages
    [Redirect integration](https://dev.bpcbt.com/en/integration/apiv2/structure/redirect-integration-apiv2.html),
    [Cancel and refund](https://dev.bpcbt.com/en/integration/apiv2/structure/cancel-refund-apiv2.html).

    Examples:
        ```python
        from bpcpay import SessionStatus

        session = client.sessions.create(
            amount=2400,
            currency="EUR",
        success_url="https://shop.example/orders/1004/paid",
        failure_url="https://shop.example/orders/1004/retry",
        )
        print(session.status == SessionStatus.OPEN)  # True
        ```
    """

    OPEN: Final = "open"
    EXPIRED: Final = "expired"
    COMPLETE: Final = "complete"  # [inferred] the name of the completed state


class SessionPaymentStatus:
    """Known values of ``Session.payment_status`` (plain ``str`` on the model).

    Examples:
        ```python
        from bpcpay import SessionPaymentStatus

        session = client.sessions.create(
            amount=2400,
            currency="EUR",
        success_url="https://shop.example/orders/1004/paid",
        failure_url="https://shop.example/orders/1004/retry",
        )
        gw.pay(session.id)  # the sandbox plays the customer
        paid = client.sessions.retrieve(session.id)
        print(paid.payment_status == SessionPaymentStatus.PAID)  # True
        ```
    """

    UNPAID: Final = "unpaid"
    PAID: Final = "paid"  # [inferred]


class CaptureMethod:
    """Values of ``captureMethod`` [doc: two-step]: ``manual`` is a two-step payment.

    On a session it is ``paymentData.captureMethod``, on a direct payment a top-level
    ``captureMethod`` (the contract's Contradictions 7). BPC's page:
    [Two-step payments](https://dev.bpcbt.com/en/integration/apiv2/structure/two-step.html).

    Examples:
        ```python
        from bpcpay import CaptureMethod

        session = client.sessions.create(
            amount=2400,
            currency="EUR",
        success_url="https://shop.example/orders/1004/paid",
        failure_url="https://shop.example/orders/1004/retry",
            capture_method=CaptureMethod.MANUAL,  # hold the money, capture it when shipping
        )
        print(session.payment_data.capture_method)  # manual
        ```
    """

    AUTOMATIC: Final = "automatic"
    MANUAL: Final = "manual"


@attrs.frozen(kw_only=True)
class PaymentData:
    """Payment options of a session."""

    capture_method: str | None = None


@attrs.frozen(kw_only=True)
class Session(APIObject):
    """A hosted payment session. Send the customer to ``payment_url``.

    Trust only the signed ``session.completed`` webhook (or ``sessions.retrieve``) for the
    outcome, never the customer's redirect to ``success_url`` alone. An expired session has no
    ``payment_url`` when it was expired early (``sessions.expire``). BPC's pages:
    [Redirect integration](https://dev.bpcbt.com/en/integration/apiv2/structure/redirect-integration-apiv2.html),
    [Cancel and refund](https://dev.bpcbt.com/en/integration/apiv2/structure/cancel-refund-apiv2.html).

    Examples:
        ```python
        session = client.sessions.create(
            amount=2400,
            currency="EUR",
        success_url="https://shop.example/orders/1004/paid",
        failure_url="https://shop.example/orders/1004/retry",
            merchant_reference_id="order-1004",
        )
        print(session.id.startswith("ps_"), session.amount, session.currency)  # True 2400 EUR
        print(session.merchant_reference_id, session.raw["paymentStatus"])  # order-1004 unpaid
        ```
    """

    id: str
    amount: int
    currency: str = attrs.field(converter=upper_currency)
    status: str
    payment_status: str | None = None
    payment_url: str | None = None
    success_url: str | None = None
    failure_url: str | None = None
    created: datetime | None = None
    expires_at: datetime | None = None
    #: As sent or defaulted (``"EN"`` in BPC's example); case is kept.
    locale: str | None = None
    merchant_reference_id: str | None = None
    #: Your own keys; values are whatever JSON the gateway returns.
    metadata: Mapping[str, Any] = attrs.field(factory=dict)
    customer_details: CustomerDetails | None = None
    payment_data: PaymentData | None = None
    merchant_customer_id: str | None = None
    setup_future_usage: SetupFutureUsage | None = None
    #: The id of the payment made through this session, once there is one [inferred].
    payment: str | None = None
