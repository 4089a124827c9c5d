"""Payment: one charge of a card, direct or through a session."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any, Final

import attrs

from ._base import APIObject, upper_currency, wire_name
from .customers import CustomerDetails, SetupFutureUsage

__all__ = ["CARD_WIRE_NAMES", "CardToken", "Payment", "PaymentCard", "PaymentStatus"]

#: A card's expiry and holder on the wire: ``expiryMonth`` and ``expiryYear`` as BPC's mobile SDK
#: page names them [doc: sdk_core_apiv2], ``holderName`` [inferred]. The one place these names
#: are written (PaymentCard and the stored Card use them).
CARD_WIRE_NAMES: Final = {
    "exp_month": "expiryMonth",
    "exp_year": "expiryYear",
    "holder": "holderName",
}


class PaymentStatus:
    """Known values of ``Payment.status`` (camelCase on the wire; a plain ``str`` on the model)."""

    #: No usable payment method yet (e.g. after a declined attempt); cancellable.
    REQUIRES_PAYMENT_METHOD: Final = "requiresPaymentMethod"  # [doc: cancel-refund]
    #: 3-D Secure in progress; cancellable.
    REQUIRES_ACTION: Final = "requiresAction"  # [doc: two-step, cancel-refund]
    #: A two-step hold is placed: capture or cancel it.
    REQUIRES_CAPTURE: Final = "requiresCapture"  # [doc: two-step, cancel-refund]
    SUCCEEDED: Final = "succeeded"  # [doc: direct-integration]
    CANCELED: Final = "canceled"  # [inferred] from the payment.canceled event
    PROCESSING: Final = "processing"  # [inferred]
    FAILED: Final = "failed"  # [inferred]


@attrs.frozen(kw_only=True)
class Payment(APIObject):
    """A payment. Amounts are integers in minor units of ``currency``.

    ``id``, ``status``, ``capture_method`` and ``amount_capturable`` are published; the other
    fields are [inferred].
    """

    id: str
    amount: int
    currency: str = attrs.field(converter=upper_currency)
    status: str
    created: datetime | None = None
    capture_method: str | None = None
    #: What a two-step payment can still capture [doc: two-step].
    amount_capturable: int | None = None
    #: What has been captured so far [inferred].
    amount_received: int | None = None
    #: What has been refunded so far [inferred].
    amount_refunded: int | None = None
    #: The session this payment was made through, if any [inferred].
    session: str | None = None
    #: The stored payment method charged, or the one this payment saved [inferred].
    stored_payment_method_id: str | None = None
    merchant_customer_id: str | None = None
    setup_future_usage: SetupFutureUsage | None = None
    customer_details: CustomerDetails | None = None
    merchant_reference_id: str | None = None
    #: Your own keys; values are whatever JSON the gateway returns.
    metadata: Mapping[str, Any] = attrs.field(factory=dict)
    #: Why the payment failed, e.g. ``"71015"`` for an input error [inferred].
    failure_code: str | None = None
    failure_message: str | None = None


def _masked_number(number: object) -> str:
    # Never raise from a repr: a card built with an int number must still be loggable.
    digits = number if isinstance(number, str) else str(number)
    return f"'****{digits[-4:]}'" if len(digits) >= 4 else "'****'"


@attrs.frozen(kw_only=True)
class PaymentCard:
    """Card data for a direct payment (``payments.create(card=...)``); only for PCI DSS merchants.

    Sent as ``paymentMethod.card``: ``{number, expiryMonth, expiryYear, cvc, holderName}``
    (names [inferred], see ``CARD_WIRE_NAMES``). The number may hold spaces as printed; they
    are removed before sending. The number and CVC never appear in a repr (the number shows
    its last four digits).
    """

    number: str = attrs.field(repr=_masked_number)
    exp_month: int = attrs.field(metadata=wire_name(CARD_WIRE_NAMES["exp_month"]))
    exp_year: int = attrs.field(metadata=wire_name(CARD_WIRE_NAMES["exp_year"]))
    cvc: str = attrs.field(repr=False)
    holder: str | None = attrs.field(default=None, metadata=wire_name(CARD_WIRE_NAMES["holder"]))


def _masked_token(token: object) -> str:
    # A token is the card, encrypted: never shown, only its length.
    return f"'<{len(token)} characters>'" if isinstance(token, str) else "'<token>'"


@attrs.frozen(kw_only=True)
class CardToken:
    """A card as BPC's mobile SDK encrypted it on the customer's device
    (``payments.create(card=CardToken(token=...))``).

    Sent as ``paymentMethod.card.token`` and nothing else of the card: BPC's page says not to
    send ``number``, ``expiryMonth``, ``expiryYear`` or ``cvc`` with it [doc: sdk_core_apiv2],
    and bpcpay refuses a card mapping that does. The app makes the token (with the key from the
    gateway's ``/payment/se/keys.do``); your server passes it on without ever seeing the card.
    The sandbox issues tokens for its test cards (``gw.card_token(number)``). The token never
    appears in a repr.
    """

    token: str = attrs.field(repr=_masked_token)
