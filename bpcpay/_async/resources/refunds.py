"""``client.refunds``: give money back on a payment [inferred endpoints]."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from ..._core import _endpoints as ep
from ..._core._bodies import REFUND_CREATE
from ..._types import NOT_GIVEN, NotGiven, TimeoutLike
from ...models import Refund
from ._base import AsyncResource

__all__ = ["AsyncRefunds"]


class AsyncRefunds(AsyncResource):
    """Refunds: full or partial, never more than what is left on the payment."""

    __slots__ = ()

    async def create(
        self,
        *,
        payment_id: str,
        amount: int | NotGiven = NOT_GIVEN,
        reason: str | NotGiven = NOT_GIVEN,
        metadata: Mapping[str, str] | NotGiven = NOT_GIVEN,
        extra_body: Mapping[str, Any] | NotGiven = NOT_GIVEN,
        extra_headers: Mapping[str, str] | NotGiven = NOT_GIVEN,
        timeout: TimeoutLike | NotGiven = NOT_GIVEN,
    ) -> Refund:
        """Refund all or part of a payment.

        Args:
            payment_id: the payment to refund.
            amount: in minor units; what is left to refund by default.
            reason: a free-text reason [inferred].
            metadata: your own string key/values.
            extra_body: more top-level JSON fields, for one bpcpay does not know yet; a field
                a keyword already sets is refused.
            extra_headers: more HTTP headers for this call (a header bpcpay sets itself,
                such as ``X-Api-Key``, is refused).
            timeout: this call's timeout.

        Returns:
            The Refund.

        Raises:
            InvalidArgumentError: an argument is invalid; nothing was sent.
            InvalidRequestError: more than what is left, or the payment is not refundable.
            APITimeoutError: the outcome is unknown; never re-send blindly, retrieve the
                payment (``amount_refunded``) first.
        """
        body = REFUND_CREATE.build(
            payment_id=payment_id,
            amount=amount,
            reason=reason,
            metadata=metadata,
        )
        return await self._send_body(ep.REFUNDS_CREATE, body, extra_body, timeout, extra_headers)

    async def retrieve(
        self,
        refund_id: str,
        /,
        *,
        extra_headers: Mapping[str, str] | NotGiven = NOT_GIVEN,
        timeout: TimeoutLike | NotGiven = NOT_GIVEN,
    ) -> Refund:
        """Fetch a refund, e.g. to follow one the gateway has not settled yet.

        Args:
            refund_id: the ``id`` of the Refund that ``create`` returned.
            extra_headers: more HTTP headers for this call (a header bpcpay sets itself,
                such as ``X-Api-Key``, is refused).
            timeout: this call's timeout.

        Returns:
            The Refund as the gateway sees it now; its ``status`` says whether the money went
            back.

        Raises:
            InvalidArgumentError: ``refund_id`` is empty; nothing was sent.
            NotFoundError: no refund has this id.
        """
        return await self._request(
            ep.REFUNDS_RETRIEVE, refund_id, timeout=timeout, extra_headers=extra_headers
        )
