"""``client.payments``: direct payments, retrieval, two-step capture and cancel."""

from __future__ import annotations

from collections.abc import Mapping

from ..._core import _endpoints as ep
from ..._core._requests import (
    check_amount,
    check_capture_method,
    check_card,
    check_currency,
    check_metadata,
    check_recurring_model,
    check_string,
    check_url,
    compact,
    optional,
)
from ..._exceptions import InvalidArgumentError
from ..._types import NOT_GIVEN, NotGiven, TimeoutLike
from ...models import Payment, PaymentCard, RecurringModel
from ._base import AsyncResource

__all__ = ["AsyncPayments"]


class AsyncPayments(AsyncResource):
    """Payments: create directly (PCI DSS merchants), retrieve, capture, cancel."""

    __slots__ = ()

    async def create(
        self,
        *,
        amount: int,
        currency: str,
        card: PaymentCard | NotGiven = NOT_GIVEN,
        payment_method: str | NotGiven = NOT_GIVEN,
        capture_method: str | NotGiven = NOT_GIVEN,
        merchant_reference_id: str | NotGiven = NOT_GIVEN,
        return_url: str | NotGiven = NOT_GIVEN,
        metadata: Mapping[str, str] | NotGiven = NOT_GIVEN,
        category: str | NotGiven = NOT_GIVEN,
        recurring_model: RecurringModel | Mapping[str, object] | NotGiven = NOT_GIVEN,
        timeout: TimeoutLike | NotGiven = NOT_GIVEN,
    ) -> Payment:
        """Charge a card directly, without the hosted page.

        Only for merchants certified PCI DSS: your servers see the card number. Most merchants
        should use ``sessions.create`` instead. The body's field names are partly [inferred].

        Args:
            amount: in minor units of ``currency``; a positive int.
            currency: ISO 4217 letters.
            card: the card to charge; give either ``card`` or ``payment_method``.
            payment_method: the id of a stored payment method to charge.
            capture_method: ``"automatic"`` or ``"manual"`` (two-step: capture later).
            merchant_reference_id: your order id.
            return_url: where 3-D Secure sends the customer back [inferred].
            metadata: your own string key/values.
            category: stored-card category (``"unscheduled"``, ``"recurrent"``, ...).
            recurring_model: terms of a recurring series.
            timeout: this call's timeout.

        Returns:
            The Payment: ``succeeded``, ``requiresCapture``, ``requiresAction`` (3-D Secure)...

        Raises:
            InvalidArgumentError: an argument is invalid; nothing was sent.
            APITimeoutError: no answer in time. Never send it again blindly: look for the
                ``payment.created`` webhook (or retrieve by id) first.
        """
        if isinstance(card, NotGiven) == isinstance(payment_method, NotGiven):
            raise InvalidArgumentError("card", "give exactly one of card= or payment_method=")
        body = compact(
            amount=check_amount("amount", amount),
            currency=check_currency("currency", currency),
            card=optional(check_card, "card", card),
            paymentMethod=optional(check_string, "payment_method", payment_method),
            captureMethod=optional(check_capture_method, "capture_method", capture_method),
            merchantReferenceId=optional(
                check_string, "merchant_reference_id", merchant_reference_id
            ),
            returnUrl=optional(check_url, "return_url", return_url),
            metadata=optional(check_metadata, "metadata", metadata),
            category=optional(check_string, "category", category),
            recurringModel=optional(check_recurring_model, "recurring_model", recurring_model),
        )
        return await self._client._request(
            ep.PAYMENTS_CREATE.method,
            ep.PAYMENTS_CREATE.path,
            json_body=body,
            cast_to=Payment,
            timeout=timeout,
            merchant_reference_id=body.get("merchantReferenceId"),
        )

    async def retrieve(
        self, payment_id: str, /, *, timeout: TimeoutLike | NotGiven = NOT_GIVEN
    ) -> Payment:
        """Fetch a payment.

        Args:
            payment_id: the payment's id.
            timeout: this call's timeout.

        Returns:
            The Payment as the gateway sees it now.

        Raises:
            InvalidArgumentError: ``payment_id`` is empty.
            NotFoundError: no such payment.
        """
        path = ep.PAYMENTS_RETRIEVE.render(payment_id=payment_id)
        return await self._client._request(
            ep.PAYMENTS_RETRIEVE.method, path, cast_to=Payment, timeout=timeout
        )

    async def capture(
        self,
        payment_id: str,
        /,
        *,
        amount: int | NotGiven = NOT_GIVEN,
        timeout: TimeoutLike | NotGiven = NOT_GIVEN,
    ) -> Payment:
        """Capture a two-step (``requiresCapture``) payment, in full or in part [inferred path].

        Args:
            payment_id: the payment's id.
            amount: what to capture, in minor units; all of ``amount_capturable`` by default.
            timeout: this call's timeout.

        Returns:
            The Payment, ``succeeded`` once captured.

        Raises:
            InvalidArgumentError: an argument is invalid; nothing was sent.
            ConflictError / InvalidRequestError: the payment cannot be captured (already
                captured, canceled, or the amount is above what is capturable).
            APITimeoutError: the outcome is unknown; retrieve the payment before retrying.
        """
        path = ep.PAYMENTS_CAPTURE.render(payment_id=payment_id)
        body = compact(amount=optional(check_amount, "amount", amount))
        return await self._client._request(
            ep.PAYMENTS_CAPTURE.method, path, json_body=body, cast_to=Payment, timeout=timeout
        )

    async def cancel(
        self, payment_id: str, /, *, timeout: TimeoutLike | NotGiven = NOT_GIVEN
    ) -> Payment:
        """Void an uncaptured two-step payment [inferred path].

        Args:
            payment_id: the payment's id.
            timeout: this call's timeout.

        Returns:
            The Payment, ``canceled``.

        Raises:
            InvalidArgumentError: ``payment_id`` is empty.
            ConflictError / InvalidRequestError: the payment cannot be canceled.
        """
        path = ep.PAYMENTS_CANCEL.render(payment_id=payment_id)
        return await self._client._request(
            ep.PAYMENTS_CANCEL.method, path, json_body={}, cast_to=Payment, timeout=timeout
        )
