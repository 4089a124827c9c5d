"""BPC's published examples, as the contract (``tests/contract/bpc-api-v2.md``) quotes them.

Each constant names its page. Only the seed's response is rebuilt: the contract describes it
(the fields of the expire example, plus ``paymentUrl``, with the request's 4 fields and the
defaults) instead of quoting it; its ids and times are those of the copy the SDK was first
written from (``tests/_support.py``).
"""

from __future__ import annotations

from typing import Any, Final

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
    "id": "ps_2GRSigkh7m3hqz5pMCAYCzJaXjsHgypQui6nMBss3XLVLF8gwDASHP",
    "amount": 10000,
    "created": "2024-03-28T08:26:37Z",
    "currency": "EUR",
    "customerDetails": {},
    "expiresAt": "2024-03-28T08:46:37Z",
    "failureUrl": "https://mybestmerchantreturnurl.com/failure",
    "locale": "EN",
    "merchantReferenceId": "4000",
    "metadata": {},
    "paymentData": {"captureMethod": "automatic"},
    "paymentStatus": "unpaid",
    "paymentUrl": "https://dev.bpcbt.com/payment/merchants/ecom/payment.html"
    "?mdOrder=12a19f56-50e6-74bc-a289-c93d00a9c8eb&language=en",
    "status": "open",
    "successUrl": "https://mybestmerchantreturnurl.com/success",
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

#: The webhook example, abridged in the contract [doc: webhooks].
WEBHOOK_EXAMPLE: Final[dict[str, Any]] = {
    "created": "2022-02-17T16:30:55+00:00",
    "type": "session.expired",
    "data": {
        "object": {
            "id": "ps_2njmpfC9BUCfsmALYNEQv5eoR8SdVsEHuXZC7D3uLiRxqfb8g2wJzWo8UvE9QL",
            "amount": 90000,
            "currency": "EUR",
            "locale": "en",
            "status": "expired",
            "paymentStatus": "unpaid",
        }
    },
}
