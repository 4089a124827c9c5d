"""``client.payment_methods``: stored payment methods [inferred endpoint]."""

from __future__ import annotations

from collections.abc import Mapping

from ..._core import _endpoints as ep
from ..._types import NOT_GIVEN, NotGiven, TimeoutLike
from ...models import PaymentMethod
from ._base import AsyncResource

__all__ = ["AsyncPaymentMethods"]


class AsyncPaymentMethods(AsyncResource):
    """Stored payment methods (cards saved for later charges)."""

    __slots__ = ()

    async def retrieve(
        self,
        payment_method_id: str,
        /,
        *,
        extra_headers: Mapping[str, str] | NotGiven = NOT_GIVEN,
        timeout: TimeoutLike | NotGiven = NOT_GIVEN,
    ) -> PaymentMethod:
        """Fetch a stored payment method.

        A card is stored for a customer (``merchant_customer_id``) when a session or payment
        asks for it with ``setup_future_usage``, as BPC's page
        [Stored payment methods](https://dev.bpcbt.com/en/integration/apiv2/structure/stored-payment-methods-apiv2.html)
        describes; the path is [inferred].

        Args:
            payment_method_id: the payment method's id.
            extra_headers: more HTTP headers for this call (a header bpcpay sets itself,
                such as ``X-Api-Key``, is refused).
            timeout: this call's timeout.

        Returns:
            The PaymentMethod (the card's brand and last four digits, never the number).

        Raises:
            InvalidArgumentError: ``payment_method_id`` is empty.
            NotFoundError: no such payment method.

        Examples:
            ```python
            from bpcpay import PaymentCard

            card = PaymentCard(number="4444 5555 1111 3333", exp_month=12, exp_year=2034, cvc="123")
            payment = await client.payments.create(
                amount=100,
                currency="EUR",
                card=card,
                merchant_customer_id="customer-0042",
                setup_future_usage={"category": "unscheduled"},
            )
            method = await client.payment_methods.retrieve(payment.stored_payment_method_id)
            print(method.merchant_customer_id, method.card.last4)  # customer-0042 3333
            ```
        """
        return await self._request(
            ep.PAYMENT_METHODS_RETRIEVE,
            payment_method_id,
            timeout=timeout,
            extra_headers=extra_headers,
        )
