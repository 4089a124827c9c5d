"""``client.payments``: direct payments, retrieval, two-step capture and cancel."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from ..._core import _endpoints as ep
from ..._core._bodies import CAPTURE, PAYMENT_CREATE
from ..._types import NOT_GIVEN, NotGiven, TimeoutLike
from ...models import CardToken, CustomerDetails, Payment, PaymentCard, SetupFutureUsage
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
        card: PaymentCard | CardToken | Mapping[str, Any] | NotGiven = NOT_GIVEN,
        stored_payment_method_id: str | NotGiven = NOT_GIVEN,
        capture_method: str | NotGiven = NOT_GIVEN,
        customer_details: CustomerDetails | Mapping[str, Any] | NotGiven = NOT_GIVEN,
        merchant_customer_id: str | NotGiven = NOT_GIVEN,
        setup_future_usage: SetupFutureUsage | Mapping[str, Any] | NotGiven = NOT_GIVEN,
        merchant_reference_id: str | NotGiven = NOT_GIVEN,
        metadata: Mapping[str, str] | NotGiven = NOT_GIVEN,
        extra_body: Mapping[str, Any] | NotGiven = NOT_GIVEN,
        extra_headers: Mapping[str, str] | NotGiven = NOT_GIVEN,
        timeout: TimeoutLike | NotGiven = NOT_GIVEN,
    ) -> Payment:
        """Charge a card directly, without the hosted page.

        With a PaymentCard, only for merchants certified PCI DSS: your servers see the card
        number. A mobile app's CardToken (made by BPC's mobile SDK on the device) keeps the
        card off your servers. Most merchants should use ``sessions.create`` instead. Typed
        arguments take the model or a plain mapping; a mapping is wire form (camelCase keys)
        and is sent as given once checked.

        Args:
            amount: in minor units of ``currency``; a positive int.
            currency: ISO 4217 letters.
            card: the card to charge, sent as ``paymentMethod.card``: a PaymentCard, a
                CardToken (sent as ``{"token": ...}`` alone), or the card object in wire form.
                Give either ``card`` or ``stored_payment_method_id``.
            stored_payment_method_id: the id of a stored payment method to charge.
            capture_method: ``"automatic"`` or ``"manual"`` (two-step: capture later).
            customer_details: who pays, e.g. ``{"address": {"city": ..., "country": "CY",
                "line1": ..., "line2": ..., "postalCode": ...}}``.
            merchant_customer_id: your customer's id, to which a stored card is attached.
            setup_future_usage: whether and how to keep the card for later payments: a
                SetupFutureUsage, or its wire form.
            merchant_reference_id: your order id [inferred field].
            metadata: your own string key/values [inferred field].
            extra_body: more top-level JSON fields, for one bpcpay does not know yet; a field
                a keyword already sets is refused.
            extra_headers: more HTTP headers for this call (a header bpcpay sets itself,
                such as ``X-Api-Key``, is refused).
            timeout: this call's timeout.

        Returns:
            The Payment: ``succeeded``, ``requiresCapture``, ``requiresAction`` (3-D Secure)...

        Raises:
            InvalidArgumentError: an argument is invalid; nothing was sent.
            APITimeoutError: no answer in time. Never send it again blindly: look for the
                ``payment.created`` webhook (or retrieve by id) first.
        """
        body = PAYMENT_CREATE.build(
            amount=amount,
            currency=currency,
            card=card,
            stored_payment_method_id=stored_payment_method_id,
            capture_method=capture_method,
            customer_details=customer_details,
            merchant_customer_id=merchant_customer_id,
            setup_future_usage=setup_future_usage,
            merchant_reference_id=merchant_reference_id,
            metadata=metadata,
        )
        return await self._send_body(ep.PAYMENTS_CREATE, body, extra_body, timeout, extra_headers)

    async def retrieve(
        self,
        payment_id: str,
        /,
        *,
        extra_headers: Mapping[str, str] | NotGiven = NOT_GIVEN,
        timeout: TimeoutLike | NotGiven = NOT_GIVEN,
    ) -> Payment:
        """Fetch a payment.

        Args:
            payment_id: the payment's id.
            extra_headers: more HTTP headers for this call (a header bpcpay sets itself,
                such as ``X-Api-Key``, is refused).
            timeout: this call's timeout.

        Returns:
            The Payment as the gateway sees it now.

        Raises:
            InvalidArgumentError: ``payment_id`` is empty.
            NotFoundError: no such payment.
        """
        return await self._request(
            ep.PAYMENTS_RETRIEVE, payment_id, timeout=timeout, extra_headers=extra_headers
        )

    async def capture(
        self,
        payment_id: str,
        /,
        *,
        amount: int | NotGiven = NOT_GIVEN,
        extra_headers: Mapping[str, str] | NotGiven = NOT_GIVEN,
        timeout: TimeoutLike | NotGiven = NOT_GIVEN,
    ) -> Payment:
        """Capture a two-step (``requiresCapture``) payment, in full or in part, once or
        several times.

        Without ``amount`` the request has no body: all that is still capturable is captured.
        With one it sends ``{"amount": ...}`` [inferred body], at most ``amount_capturable``;
        the payment stays ``requiresCapture`` with the rest held, and can be captured again
        until nothing is left. Each capture emits ``payment.funded`` (``amount_received`` and
        ``amount_capturable`` moved); the one that spends the rest makes the payment
        ``succeeded`` and emits ``payment.succeeded`` too (BPC documents that partial and
        multiple captures exist; these rules are [inferred], see docs/inferred.md). After the
        first capture the payment can no longer be cancelled: refunds give money back.

        Args:
            payment_id: the payment's id.
            amount: what to capture now, in minor units; all of ``amount_capturable`` by
                default.
            extra_headers: more HTTP headers for this call (a header bpcpay sets itself,
                such as ``X-Api-Key``, is refused).
            timeout: this call's timeout.

        Returns:
            The Payment: ``requiresCapture`` while something is left to capture, then
            ``succeeded``.

        Raises:
            InvalidArgumentError: an argument is invalid; nothing was sent.
            ConflictError / InvalidRequestError: the payment cannot be captured (nothing left
                to capture, canceled, or the amount is above what is capturable).
            APITimeoutError: the outcome is unknown; retrieve the payment and compare its
                ``amount_received`` before capturing again.
        """
        # An empty body is no body at all: "capture everything" [inferred].
        body = CAPTURE.build(amount=amount) or NOT_GIVEN
        return await self._request(
            ep.PAYMENTS_CAPTURE, payment_id, body=body, timeout=timeout, extra_headers=extra_headers
        )

    async def cancel(
        self,
        payment_id: str,
        /,
        *,
        extra_headers: Mapping[str, str] | NotGiven = NOT_GIVEN,
        timeout: TimeoutLike | NotGiven = NOT_GIVEN,
    ) -> Payment:
        """Cancel a payment before its first capture [inferred path]; the request has no body.

        After a capture only a refund gives money back.

        Args:
            payment_id: the payment's id.
            extra_headers: more HTTP headers for this call (a header bpcpay sets itself,
                such as ``X-Api-Key``, is refused).
            timeout: this call's timeout.

        Returns:
            The Payment, ``canceled``.

        Raises:
            InvalidArgumentError: ``payment_id`` is empty.
            ConflictError / InvalidRequestError: the payment cannot be canceled.
        """
        return await self._request(
            ep.PAYMENTS_CANCEL, payment_id, timeout=timeout, extra_headers=extra_headers
        )
