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
        """
        return await self._request(
            ep.PAYMENT_METHODS_RETRIEVE,
            payment_method_id,
            timeout=timeout,
            extra_headers=extra_headers,
        )
