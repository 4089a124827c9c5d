"""Every wrapped call, on both clients: the exact request on the wire, and bad input that never
leaves.

Each test runs twice through the ``twin`` fixture (conftest.py): once with AsyncBpcPay, once
with the generated BpcPay, so the sync twin is checked call for call, not by a hand-written
copy of these tests.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import datetime, timedelta, timezone
from typing import Any

import pytest
from _support import (
    API_KEY,
    PAYMENT_JSON,
    PAYMENT_METHOD_JSON,
    REFUND_JSON,
    REQUEST_ID,
    SESSION_EXAMPLE,
    VISA,
    Twin,
    calls,
    card,
    sent_count,
    sent_json,
    url,
)
from aioresponses import aioresponses

import bpcpay
from bpcpay import InvalidArgumentError
from bpcpay.models import (
    CardToken,
    CustomerDetails,
    Payment,
    PaymentCard,
    PaymentMethod,
    Refund,
    Session,
    SetupFutureUsage,
)

CARD = PaymentCard(number=VISA, exp_month=12, exp_year=2030, cvc="123", holder="Ada Lovelace")
URLS = {
    "success_url": "https://shop.example/success",
    "failure_url": "https://shop.example/failure",
}
RID = {"API-Request-Id": REQUEST_ID}


def only_call(mocked: aioresponses) -> tuple[str, str, dict[str, Any]]:
    (call,) = calls(mocked)
    return call


def test_sessions_create_minimal_body(twin: Twin, mocked: aioresponses) -> None:
    client, call = twin
    mocked.post(url("/sessions"), payload=SESSION_EXAMPLE, headers=RID)
    session = call(client.sessions.create(amount=10000, currency="eur", **URLS))
    assert isinstance(session, Session)
    assert session.request_id == REQUEST_ID
    assert sent_json(mocked) == {
        "amount": 10000,
        "currency": "EUR",
        "successUrl": "https://shop.example/success",
        "failureUrl": "https://shop.example/failure",
    }
    method, target, kwargs = only_call(mocked)
    assert (method, target) == ("POST", url("/sessions"))
    assert kwargs["headers"]["Content-Type"] == "application/json"
    assert kwargs["allow_redirects"] is False


def test_sessions_create_with_every_optional_field(twin: Twin, mocked: aioresponses) -> None:
    client, call = twin
    mocked.post(url("/sessions"), payload=SESSION_EXAMPLE)
    expires = datetime(2024, 3, 28, 10, 46, 37, tzinfo=timezone(timedelta(hours=2)))
    call(
        client.sessions.create(
            amount=10000,
            currency="usd",
            merchant_reference_id="4000",
            locale="en",
            metadata={"cart": "42", "channel": "web"},
            customer_details=CustomerDetails(email="ada@example.com", name="Ada"),
            capture_method="manual",
            expires_at=expires,
            merchant_customer_id="cust_0001",
            setup_future_usage=SetupFutureUsage(category="unscheduled"),
            extra_body={"someNewField": {"on": True}},
            **URLS,
        )
    )
    assert sent_json(mocked) == {
        "amount": 10000,
        "currency": "USD",
        "successUrl": "https://shop.example/success",
        "failureUrl": "https://shop.example/failure",
        "merchantReferenceId": "4000",
        "locale": "en",
        "metadata": {"cart": "42", "channel": "web"},
        "customerDetails": {"email": "ada@example.com", "name": "Ada"},
        "paymentData": {"captureMethod": "manual"},
        "expiresAt": "2024-03-28T08:46:37Z",
        "merchantCustomerId": "cust_0001",
        "setupFutureUsage": {"category": "unscheduled"},
        "someNewField": {"on": True},
    }


def test_sessions_create_accepts_mappings(twin: Twin, mocked: aioresponses) -> None:
    client, call = twin
    mocked.post(url("/sessions"), payload=SESSION_EXAMPLE)
    call(
        client.sessions.create(
            amount=1,
            currency="EUR",
            customer_details={"phone": "+10000000", "address": {"postalCode": "1010"}},
            setup_future_usage={"category": "installment", "recurringModel": {"installment": {}}},
            capture_method="automatic",
            **URLS,
        )
    )
    body = sent_json(mocked)
    assert body["customerDetails"] == {"phone": "+10000000", "address": {"postalCode": "1010"}}
    assert body["setupFutureUsage"] == {
        "category": "installment",
        "recurringModel": {"installment": {}},
    }
    assert body["paymentData"] == {"captureMethod": "automatic"}


def test_sessions_retrieve(twin: Twin, mocked: aioresponses) -> None:
    client, call = twin
    mocked.get(url(f"/sessions/{SESSION_EXAMPLE['id']}"), payload=SESSION_EXAMPLE, headers=RID)
    session = call(client.sessions.retrieve(SESSION_EXAMPLE["id"]))
    assert session.id == SESSION_EXAMPLE["id"]
    assert session.request_id == REQUEST_ID
    _, _, kwargs = only_call(mocked)
    assert kwargs.get("data") is None  # aiohttp gets no data= at all: only non-defaults
    assert "Content-Type" not in kwargs["headers"]


def test_sessions_expire_posts_without_a_body(twin: Twin, mocked: aioresponses) -> None:
    client, call = twin
    expired = {**SESSION_EXAMPLE, "status": "expired"}
    del expired["paymentUrl"]
    mocked.post(url(f"/sessions/{SESSION_EXAMPLE['id']}/expire"), payload=expired, headers=RID)
    session = call(client.sessions.expire(SESSION_EXAMPLE["id"]))
    assert session.status == bpcpay.SessionStatus.EXPIRED
    assert session.payment_url is None
    assert session.request_id == REQUEST_ID
    method, _, kwargs = only_call(mocked)
    assert method == "POST"
    assert kwargs["data"] is None
    assert "Content-Type" not in kwargs["headers"]
    assert kwargs["skip_auto_headers"] == frozenset({"Content-Type"})


def test_ids_are_quoted_into_one_path_segment(twin: Twin, mocked: aioresponses) -> None:
    client, call = twin
    mocked.get(url("/sessions/..%2Fpayments%3Fx"), payload=SESSION_EXAMPLE)
    call(client.sessions.retrieve("../payments?x"))
    (_, target, _) = only_call(mocked)
    assert target == url("/sessions/..%2Fpayments%3Fx")


def test_payments_create_with_a_card(twin: Twin, mocked: aioresponses) -> None:
    client, call = twin
    mocked.post(url("/payments"), payload=PAYMENT_JSON, headers=RID)
    payment = call(
        client.payments.create(
            amount=2500,
            currency="eur",
            card=CARD,
            capture_method="manual",
            merchant_reference_id="order-7",
            metadata={"cart": "42"},
            customer_details={"address": {"country": "CY"}},
        )
    )
    assert isinstance(payment, Payment)
    assert payment.status == bpcpay.PaymentStatus.REQUIRES_CAPTURE
    assert payment.request_id == REQUEST_ID
    assert sent_json(mocked) == {
        "amount": 2500,
        "currency": "EUR",
        "paymentMethod": {
            "card": {
                "number": VISA,
                "expiryMonth": 12,
                "expiryYear": 2030,
                "cvc": "123",
                "holderName": "Ada Lovelace",
            }
        },
        "captureMethod": "manual",
        "customerDetails": {"address": {"country": "CY"}},
        "merchantReferenceId": "order-7",
        "metadata": {"cart": "42"},
    }


def test_payments_create_with_a_card_token(twin: Twin, mocked: aioresponses) -> None:
    """[doc: sdk_core_apiv2] A token from BPC's mobile SDK goes in ``paymentMethod.card.token``
    and nothing else of the card: as a CardToken or as a mapping."""
    client, call = twin
    mocked.post(url("/payments"), payload=PAYMENT_JSON, repeat=True)
    for card_value in (CardToken(token="tok-from-device"), {"token": "tok-from-device"}):
        call(client.payments.create(amount=2500, currency="EUR", card=card_value))
    bodies = [json.loads(kwargs["data"]) for _, _, kwargs in calls(mocked)]
    assert (
        bodies
        == [
            {
                "amount": 2500,
                "currency": "EUR",
                "paymentMethod": {"card": {"token": "tok-from-device"}},
            }
        ]
        * 2
    )


def test_payments_retrieve_capture_cancel(twin: Twin, mocked: aioresponses) -> None:
    client, call = twin
    mocked.get(url("/payments/pay_1"), payload=PAYMENT_JSON)
    mocked.post(url("/payments/pay_1/capture"), payload={**PAYMENT_JSON, "status": "succeeded"})
    mocked.post(url("/payments/pay_1/capture"), payload={**PAYMENT_JSON, "status": "succeeded"})
    mocked.post(url("/payments/pay_1/cancel"), payload={**PAYMENT_JSON, "status": "canceled"})
    assert call(client.payments.retrieve("pay_1")).status == "requiresCapture"
    assert call(client.payments.capture("pay_1")).status == "succeeded"
    assert call(client.payments.capture("pay_1", amount=1000)).status == "succeeded"
    assert call(client.payments.cancel("pay_1")).status == "canceled"
    bodies = {
        (method, target.removeprefix(url(""))): kwargs.get("data")
        for method, target, kwargs in calls(mocked)
        if method == "GET"
    }
    assert bodies == {("GET", "/payments/pay_1"): None}
    captures = [kw["data"] for m, t, kw in calls(mocked) if t.endswith("/capture")]
    assert captures == [None, b'{"amount":1000}']
    cancels = [kw["data"] for m, t, kw in calls(mocked) if t.endswith("/cancel")]
    assert cancels == [None]


def test_refunds(twin: Twin, mocked: aioresponses) -> None:
    client, call = twin
    mocked.post(url("/refunds"), payload=REFUND_JSON, headers=RID)
    refund = call(
        client.refunds.create(
            payment_id="pay_1",
            amount=1000,
            reason="damaged",
            metadata={"ticket": "T-1"},
            extra_body={"someNewField": 1},
        )
    )
    assert isinstance(refund, Refund)
    assert refund.request_id == REQUEST_ID
    assert sent_json(mocked) == {
        "payment": "pay_1",
        "amount": 1000,
        "reason": "damaged",
        "metadata": {"ticket": "T-1"},
        "someNewField": 1,
    }
    mocked.get(url("/refunds/re_1"), payload=REFUND_JSON)
    assert call(client.refunds.retrieve("re_1")).payment == "pay_1"


def test_full_refund_sends_only_the_payment(twin: Twin, mocked: aioresponses) -> None:
    client, call = twin
    mocked.post(url("/refunds"), payload=REFUND_JSON)
    call(client.refunds.create(payment_id="pay_1"))
    assert sent_json(mocked) == {"payment": "pay_1"}


def test_payment_methods_retrieve(twin: Twin, mocked: aioresponses) -> None:
    client, call = twin
    mocked.get(url("/payment-methods/pm_1"), payload=PAYMENT_METHOD_JSON, headers=RID)
    pm = call(client.payment_methods.retrieve("pm_1"))
    assert isinstance(pm, PaymentMethod)
    assert pm.card is not None
    assert pm.card.last4 == "1111"
    assert pm.request_id == REQUEST_ID


def test_request_reaches_any_path_and_decodes_into_a_model_or_json(
    twin: Twin, mocked: aioresponses
) -> None:
    client, call = twin
    mocked.get(url("/sessions/ps_raw"), payload=SESSION_EXAMPLE, headers=RID)
    mocked.get(url("/balance"), payload={"available": 5})
    session = call(client.request("GET", "/sessions/ps_raw", cast_to=Session))
    assert isinstance(session, Session)
    assert session.request_id == REQUEST_ID
    assert call(client.request("GET", "/balance")) == {"available": 5}
    headers = calls(mocked)[0][2]["headers"]
    assert headers["X-Api-Key"] == API_KEY
    assert headers["X-Version"] == bpcpay.DEFAULT_API_VERSION
    assert headers["User-Agent"].startswith(f"bpcpay/{bpcpay.__version__} ")


# --- bad input never leaves the machine --------------------------------------------------------

Call = Callable[[Any], Any]


def session(**changes: Any) -> Call:
    kwargs: dict[str, Any] = {"amount": 10000, "currency": "EUR", **URLS, **changes}
    return lambda c: c.sessions.create(**kwargs)


def payment(**changes: Any) -> Call:
    kwargs: dict[str, Any] = {"amount": 100, "currency": "EUR", "card": CARD, **changes}
    return lambda c: c.payments.create(**kwargs)


BAD_CALLS: list[tuple[str, Call, str]] = [
    ("amount bool", session(amount=True), "amount"),
    ("amount float", session(amount=100.0), "amount"),
    ("amount str", session(amount="100"), "amount"),
    ("amount zero", session(amount=0), "amount"),
    ("amount negative", session(amount=-5), "amount"),
    ("currency short", session(currency="EU"), "currency"),
    ("currency digits", session(currency="978"), "currency"),
    ("currency long", session(currency="EURO"), "currency"),
    ("success relative", session(success_url="/ok"), "success_url"),
    ("success ftp", session(success_url="ftp://shop.example/ok"), "success_url"),
    ("failure no scheme", session(failure_url="shop.example/fail"), "failure_url"),
    ("metadata int value", session(metadata={"a": 1}), "metadata"),
    ("metadata not a map", session(metadata=["a"]), "metadata"),
    ("naive expires_at", session(expires_at=datetime(2030, 1, 1)), "expires_at"),
    ("expires_at string", session(expires_at="2030-01-01"), "expires_at"),
    ("capture method", session(capture_method="later"), "capture_method"),
    ("empty locale", session(locale=""), "locale"),
    ("empty merchant ref", session(merchant_reference_id="  "), "merchant_reference_id"),
    ("customer details", session(customer_details="ada@example.com"), "customer_details"),
    ("customer email", session(customer_details={"email": 5}), "customer_details.email"),
    (
        "customer address",
        session(customer_details={"address": {"city": None, "country": 196}}),
        "customer_details.address.country",
    ),
    ("merchant customer id", session(merchant_customer_id=""), "merchant_customer_id"),
    ("setup future usage", session(setup_future_usage=[1]), "setup_future_usage"),
    (
        "recurrent without terms",
        session(setup_future_usage={"category": "recurrent"}),
        "setup_future_usage.recurringModel",
    ),
    (
        "frequency over 4000",
        session(
            setup_future_usage={
                "category": "recurrent",
                "recurringModel": {"recurrent": {"expiry": "2026-12-31", "frequency": 4001}},
            }
        ),
        "setup_future_usage.recurringModel.recurrent.frequency",
    ),
    ("extra body repeats", session(extra_body={"amount": 1}), "extra_body"),
    ("extra body not JSON", session(extra_body={"x": {1, 2}}), "extra_body"),
    ("per-call timeout None", session(timeout=None), "timeout"),
    ("per-call timeout negative", session(timeout=-1), "timeout"),
    ("retrieve empty id", lambda c: c.sessions.retrieve(""), "session_id"),
    ("retrieve blank id", lambda c: c.sessions.retrieve("   "), "session_id"),
    ("payment both", payment(stored_payment_method_id="pm_1"), "card"),
    ("payment neither", payment(card=bpcpay.NOT_GIVEN), "card"),
    ("payment amount", payment(amount=1.5), "amount"),
    ("payment currency", payment(currency="euro"), "currency"),
    ("payment capture", payment(capture_method="Manual"), "capture_method"),
    ("payment card type", payment(card=VISA), "card"),
    ("payment card mapping", payment(card={"number": VISA}), "card.expiryMonth"),
    ("card luhn", payment(card=card(number="4111111111111112")), "card.number"),
    ("card month", payment(card=card(exp_month=13)), "card.exp_month"),
    ("card year", payment(card=card(exp_year=26)), "card.exp_year"),
    ("card cvc", payment(card=card(cvc="12")), "card.cvc"),
    ("payment metadata", payment(metadata={"a": None}), "metadata"),
    (
        "payment address",
        payment(customer_details={"address": ["Nicosia"]}),
        "customer_details.address",
    ),
    (
        "payment setup future usage",
        payment(setup_future_usage={"category": "always"}),
        "setup_future_usage.category",
    ),
    ("payment extra body", payment(extra_body=["x"]), "extra_body"),
    (
        "empty stored method",
        payment(card=bpcpay.NOT_GIVEN, stored_payment_method_id=""),
        "stored_payment_method_id",
    ),
    ("payments.retrieve id", lambda c: c.payments.retrieve(""), "payment_id"),
    ("payments.capture id", lambda c: c.payments.capture(""), "payment_id"),
    ("payments.capture dot-dot id", lambda c: c.payments.capture(".."), "payment_id"),
    ("payments.capture amount", lambda c: c.payments.capture("pay_1", amount=0), "amount"),
    (
        "payments.create token with a cvc",
        lambda c: c.payments.create(
            amount=1, currency="EUR", card={"token": "tok-from-device", "cvc": "123"}
        ),
        "card.cvc",
    ),
    ("payments.cancel id", lambda c: c.payments.cancel(""), "payment_id"),
    ("refunds.create id", lambda c: c.refunds.create(payment_id=""), "payment_id"),
    ("refunds.create amount", lambda c: c.refunds.create(payment_id="p", amount=True), "amount"),
    ("refunds.create reason", lambda c: c.refunds.create(payment_id="p", reason=""), "reason"),
    ("refunds.create metadata", lambda c: c.refunds.create(payment_id="p", metadata=1), "metadata"),
    (
        "refunds.create extra body",
        lambda c: c.refunds.create(payment_id="p", extra_body={"payment": "q"}),
        "extra_body",
    ),
    ("sessions.expire id", lambda c: c.sessions.expire(""), "session_id"),
    ("sessions.expire dot-dot id", lambda c: c.sessions.expire(".."), "session_id"),
    ("refunds.retrieve id", lambda c: c.refunds.retrieve(""), "refund_id"),
    ("payment_methods.retrieve id", lambda c: c.payment_methods.retrieve(""), "payment_method_id"),
    ("request method", lambda c: c.request("FETCH", "/sessions"), "method"),
    ("request empty path", lambda c: c.request("GET", ""), "path"),
    ("request relative path", lambda c: c.request("GET", "sessions"), "path"),
    ("request timeout", lambda c: c.request("GET", "/x", timeout=True), "timeout"),
]


@pytest.mark.parametrize(
    ("bad_call", "argument"), [b[1:] for b in BAD_CALLS], ids=[b[0] for b in BAD_CALLS]
)
def test_bad_input_is_refused_before_sending(
    twin: Twin, mocked: aioresponses, bad_call: Call, argument: str
) -> None:
    client, call = twin
    # Any request that did slip out would get an answer, not a connection error.
    mocked.post(url("/sessions"), payload=SESSION_EXAMPLE, repeat=True)
    with pytest.raises(InvalidArgumentError) as info:
        call(bad_call(client))
    err = info.value
    assert isinstance(err, ValueError)
    assert err.argument == argument
    assert str(err).startswith(f"{argument}: ")
    assert API_KEY not in str(err)
    assert VISA not in str(err)
    assert sent_count(mocked) == 0
