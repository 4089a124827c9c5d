"""Who pays, and how a card is kept for later: shapes sent in requests and returned in objects.

``CustomerDetails.address`` and the stored-payment-method terms (``SetupFutureUsage``) are as
BPC publishes them; ``CustomerDetails``' other fields are [inferred].
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date
from typing import Any, Final

import attrs

__all__ = [
    "Address",
    "CustomerDetails",
    "RecurrentTerms",
    "RecurringModel",
    "SetupFutureUsage",
    "StoredCardCategory",
]


@attrs.frozen(kw_only=True)
class Address:
    """The customer's address [doc: direct-integration]: ``country`` is a code such as ``"CY"``.

    BPC's page: [Direct integration](https://dev.bpcbt.com/en/integration/apiv2/structure/direct-integration-apiv2.html).

    Examples:
        ```python
        from bpcpay import Address, CustomerDetails

        address = Address(city="Limassol", country="CY", line1="1 Harbour Road", postal_code="3036")
        session = client.sessions.create(
            amount=2400,
            currency="EUR",
            success_url="https://shop.example/orders/1005/paid",
            failure_url="https://shop.example/orders/1005/retry",
            customer_details=CustomerDetails(address=address),
        )
        print(session.customer_details.address.postal_code)  # 3036
        ```
    """

    city: str | None = None
    country: str | None = None
    line1: str | None = None
    line2: str | None = None
    postal_code: str | None = None


@attrs.frozen(kw_only=True)
class CustomerDetails:
    """Who pays. ``address`` is published; ``email``, ``phone`` and ``name`` are [inferred].

    Arguments that take it (``customer_details=``) also take its wire form, a plain mapping
    with camelCase keys.

    Examples:
        ```python
        from bpcpay import CustomerDetails

        session = client.sessions.create(
            amount=2400,
            currency="EUR",
            success_url="https://shop.example/orders/1005/paid",
            failure_url="https://shop.example/orders/1005/retry",
            customer_details=CustomerDetails(email="ada@example.com", name="Ada L"),
        )
        print(session.customer_details.email)  # ada@example.com
        ```
    """

    email: str | None = None
    phone: str | None = None
    name: str | None = None
    address: Address | None = None


class StoredCardCategory:
    """Values of ``setupFutureUsage.category`` [doc: stored-payment-methods].

    BPC's page: [Stored payment methods](https://dev.bpcbt.com/en/integration/apiv2/structure/stored-payment-methods-apiv2.html).

    Examples:
        ```python
        from bpcpay import SetupFutureUsage, StoredCardCategory

        session = client.sessions.create(
            amount=2400,
            currency="EUR",
            success_url="https://shop.example/orders/1005/paid",
            failure_url="https://shop.example/orders/1005/retry",
            merchant_customer_id="customer-0042",
            setup_future_usage=SetupFutureUsage(category=StoredCardCategory.UNSCHEDULED),
        )
        print(session.setup_future_usage.category)  # unscheduled
        ```
    """

    #: Do not store the card.
    EMPTY: Final = "empty"
    UNSCHEDULED: Final = "unscheduled"
    RECURRENT: Final = "recurrent"
    INSTALLMENT: Final = "installment"


@attrs.frozen(kw_only=True)
class RecurrentTerms:
    """``recurringModel.recurrent``: no payment after ``expiry``, at least ``frequency`` days
    between payments (at most 4000) [doc: stored-payment-methods].

    BPC's page: [Stored payment methods](https://dev.bpcbt.com/en/integration/apiv2/structure/stored-payment-methods-apiv2.html).

    Examples:
        ```python
        from datetime import date

        from bpcpay import RecurrentTerms, RecurringModel, SetupFutureUsage

        monthly = SetupFutureUsage(
            category="recurrent",
            recurring_model=RecurringModel(
                recurrent=RecurrentTerms(expiry=date(2030, 12, 31), frequency=30)
            ),
        )
        session = client.sessions.create(
            amount=990,
            currency="EUR",
            success_url="https://shop.example/orders/1005/paid",
            failure_url="https://shop.example/orders/1005/retry",
            merchant_customer_id="customer-0042",
            setup_future_usage=monthly,
        )
        print(session.setup_future_usage.recurring_model.recurrent.frequency)  # 30
        ```
    """

    expiry: date
    frequency: int


@attrs.frozen(kw_only=True)
class RecurringModel:
    """Terms of a recurrent or installment series [doc: stored-payment-methods].

    ``installment``'s fields are unpublished: it is sent and returned as a plain JSON object.
    BPC's page: [Stored payment methods](https://dev.bpcbt.com/en/integration/apiv2/structure/stored-payment-methods-apiv2.html).

    Examples:
        ```python
        from bpcpay import RecurringModel, SetupFutureUsage

        in_three = SetupFutureUsage(
            category="installment", recurring_model=RecurringModel(installment={"count": 3})
        )
        session = client.sessions.create(
            amount=9000,
            currency="EUR",
            success_url="https://shop.example/orders/1005/paid",
            failure_url="https://shop.example/orders/1005/retry",
            merchant_customer_id="customer-0042",
            setup_future_usage=in_three,
        )
        print(session.setup_future_usage.recurring_model.installment)  # {'count': 3}
        ```
    """

    recurrent: RecurrentTerms | None = None
    installment: Mapping[str, Any] | None = None


@attrs.frozen(kw_only=True)
class SetupFutureUsage:
    """Whether and how to keep the card for later payments [doc: stored-payment-methods].

    ``category`` is one of :class:`StoredCardCategory`; ``recurring_model`` is mandatory for
    ``recurrent`` (with ``recurrent``) and ``installment`` (with ``installment``).
    BPC's page: [Stored payment methods](https://dev.bpcbt.com/en/integration/apiv2/structure/stored-payment-methods-apiv2.html).
    Arguments that take it (``setup_future_usage=``) also take its wire form:
    ``{"category": "unscheduled"}``.

    Examples:
        ```python
        from bpcpay import SetupFutureUsage

        session = client.sessions.create(
            amount=2400,
            currency="EUR",
            success_url="https://shop.example/orders/1005/paid",
            failure_url="https://shop.example/orders/1005/retry",
            merchant_customer_id="customer-0042",
            setup_future_usage=SetupFutureUsage(category="unscheduled"),
        )
        gw.pay(session.id)  # the card is stored for customer-0042
        payment = client.payments.retrieve(client.sessions.retrieve(session.id).payment)
        print(payment.stored_payment_method_id.startswith("pm_"))  # True
        ```
    """

    category: str
    recurring_model: RecurringModel | None = None
