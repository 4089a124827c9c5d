"""BPC's published examples, as the contract (``tests/contract/bpc-api-v2.md``) quotes them.

Each constant names its page. Only the seed's response is rebuilt: the contract describes it
(the fields of the expire example, plus ``paymentUrl``, with the request's 4 fields and the
defaults) instead of quoting it; its ids and times are those of the copy the SDK was first
written from (``tests/_support.py``).
"""

from __future__ import annotations

from typing import Any, Final

from _support import SESSION_EXAMPLE

#: The seed's request [doc: redirect-integration], sent with ``X-Version: 2023-10-31``.
SEED_REQUEST: Final[dict[str, Any]] = {
    "amount": 10000,
    "currency": "EUR",
    "successUrl": "https://mybestmerchantreturnurl.com/success",
    "failureUrl": "https://mybestmerchantreturnurl.com/failure",
}
SEED_VERSION: Final = "2023-10-31"

#: The seed's response [doc: redirect-integration]: the 4 fields sent, ``id``, ``paymentUrl``,
#: and the defaults, ``merchantReferenceId`` included though never sent.
SEED_RESPONSE: Final[dict[str, Any]] = {
    **SESSION_EXAMPLE,
    "successUrl": SEED_REQUEST["successUrl"],
    "failureUrl": SEED_REQUEST["failureUrl"],
}

#: ``POST /sessions/{id}/expire``'s response, verbatim [doc: cancel-refund].
EXPIRE_RESPONSE: Final[dict[str, Any]] = {
    "id": "ps_2GRSigkh7nHdxwjV4Yf7PpdEevc1dAwEvssZuP8TJ6mjuNmPMoV9mB",
    "amount": 20000,
    "created": "2024-03-29T05:33:26Z",
    "currency": "EUR",
    "customerDetails": {},
    "expiresAt": "2024-03-29T05:53:26Z",
    "failureUrl": "https://mybestmerchantreturnurl.com/failure",
    "locale": "EN",
    "merchantReferenceId": "4002",
    "metadata": {},
    "paymentData": {"captureMethod": "automatic"},
    "paymentStatus": "unpaid",
    "status": "expired",
    "successUrl": "https://mybestmerchantreturnurl.com/success",
}

#: The readable part of the direct-integration request example [doc: direct-integration]; the
#: page continues past ``postalCode`` (the payment method follows).
DIRECT_PAYMENT_PREFIX: Final[dict[str, Any]] = {
    "amount": 70000,
    "captureMethod": "automatic",
    "currency": "EUR",
    "customerDetails": {
        "address": {
            "city": "Test city",
            "country": "CY",
            "line1": "Test address1",
            "line2": "Test address2",
            "postalCode": "Test postal code",
        }
    },
}

#: The stored-payment-method nesting, values illustrative [doc: stored-payment-methods].
STORED_CARD_NESTING: Final[dict[str, Any]] = {
    "merchantCustomerId": "cust_0001",
    "setupFutureUsage": {
        "category": "recurrent",
        "recurringModel": {"recurrent": {"expiry": "2026-12-31", "frequency": 30}},
    },
}
