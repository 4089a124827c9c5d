"""What the SDK puts on the wire, checked against a real loopback server: paths, headers, the
version, and request bodies exactly as the contract's tables give them.

Each test's docstring names the BPC page it holds the SDK to (``[doc: page]``).
"""

from __future__ import annotations

import json
from datetime import date
from typing import Any

import pytest
from _published import DIRECT_PAYMENT_PREFIX, SEED_REQUEST, STORED_CARD_NESTING
from _recorder import API_KEY, Recorder

import bpcpay
from bpcpay import AsyncBpcPay, BpcPay
from bpcpay.models import (
    Address,
    CustomerDetails,
    PaymentCard,
    RecurrentTerms,
    RecurringModel,
    SetupFutureUsage,
)
from bpcpay.sandbox import TestCards

VISA = TestCards.SUCCESS_FRICTIONLESS
CARD = PaymentCard(
    number=VISA.number, exp_month=VISA.exp_month, exp_year=VISA.exp_year, cvc=VISA.cvc
)
CARD_WIRE = {
    "number": VISA.number,
    "expiryMonth": VISA.exp_month,
    "expiryYear": VISA.exp_year,
    "cvc": VISA.cvc,
}
URLS = {
    "success_url": SEED_REQUEST["successUrl"],
    "failure_url": SEED_REQUEST["failureUrl"],
}


def sent(recorder: Recorder) -> Any:
    return json.loads(recorder.last.body)


def test_the_default_base_url_is_bpcs_sandbox() -> None:
    """[doc: redirect-integration, direct-integration] The sandbox base URL is
    ``https://dev.bpcbt.com/api2``: the client's default."""
    assert bpcpay.DEFAULT_BASE_URL == "https://dev.bpcbt.com/api2"
    assert AsyncBpcPay(api_key=API_KEY).base_url == "https://dev.bpcbt.com/api2"


@pytest.mark.asyncio
async def test_the_seed_request_goes_out_as_published(
    wire_client: AsyncBpcPay, recorder: Recorder
) -> None:
    """[doc: redirect-integration] ``POST /sessions`` with the 4 required fields (amount in
    minor units, ISO 4217 currency, both URLs), a JSON body with ``Content-Type:
    application/json``, the key in ``X-Api-Key``, and ``X-Version: 2023-10-31``."""
    await wire_client.sessions.create(amount=10000, currency="EUR", **URLS)
    seen = recorder.last
    assert (seen.method, seen.path) == ("POST", "/api2/sessions")
    assert json.loads(seen.body) == SEED_REQUEST
    assert seen.headers["Content-Type"] == "application/json"
    assert seen.headers["X-Api-Key"] == API_KEY
    assert "Authorization" not in seen.headers
    assert seen.headers["X-Version"] == "2023-10-31" == bpcpay.DEFAULT_API_VERSION


@pytest.mark.asyncio
async def test_each_client_sends_its_own_key(recorder: Recorder) -> None:
    """[doc: api-keys] An account has many keys and rotates them (add, switch, delete): each
    client sends its own ``X-Api-Key``, so switching is creating a client with the new key."""
    for key in ("sk_test_old_key", "sk_test_new_key"):
        async with AsyncBpcPay(api_key=key, base_url=recorder.base_url) as client:
            await client.sessions.retrieve("ps_1")
        assert recorder.last.headers["X-Api-Key"] == key


@pytest.mark.asyncio
async def test_the_version_is_a_header_not_part_of_the_url(recorder: Recorder) -> None:
    """[doc: api-versions] Versions are named by date, sent in a request header (``X-Version``),
    never in the URL; another version is an option."""
    async with AsyncBpcPay(
        api_key=API_KEY, base_url=recorder.base_url, api_version="2023-11-15"
    ) as client:
        await client.sessions.retrieve("ps_1")
    assert recorder.last.headers["X-Version"] == "2023-11-15"
    assert "2023" not in recorder.last.path


@pytest.mark.asyncio
async def test_expire_sends_no_body_and_no_content_type(
    wire_client: AsyncBpcPay, recorder: Recorder
) -> None:
    """[doc: cancel-refund] ``POST /sessions/{id}/expire`` sends no body and no Content-Type,
    like the published example (aiohttp would add ``application/octet-stream``)."""
    session = await wire_client.sessions.expire(
        "ps_2GRSigkh7nHdxwjV4Yf7PpdEevc1dAwEvssZuP8TJ6mjuNmPMoV9mB"
    )
    seen = recorder.last
    assert seen.method == "POST"
    assert (
        seen.path
        == "/api2/sessions/ps_2GRSigkh7nHdxwjV4Yf7PpdEevc1dAwEvssZuP8TJ6mjuNmPMoV9mB/expire"
    )
    assert seen.body == b""
    assert "Content-Type" not in seen.headers
    assert seen.headers.get("Content-Length", "0") == "0"
    assert session.status == bpcpay.SessionStatus.EXPIRED


def test_the_sync_client_expires_a_session() -> None:
    """[doc: cancel-refund] The sync twin of ``sessions.expire`` (generated: the same request
    code runs) expires an open session: ``expired``, same ``expiresAt``, no ``paymentUrl``."""
    from bpcpay.sandbox import SandboxGateway

    with (
        SandboxGateway.run_in_thread() as gw,
        BpcPay(api_key=gw.api_key, base_url=gw.base_url) as client,
    ):
        session = client.sessions.create(amount=100, currency="EUR", **URLS)
        expired = client.sessions.expire(session.id)
        assert expired.status == "expired"
        assert expired.payment_url is None
        assert expired.expires_at == session.expires_at


@pytest.mark.asyncio
async def test_cancel_and_a_full_capture_send_no_body(
    wire_client: AsyncBpcPay, recorder: Recorder
) -> None:
    """[doc: two-step, cancel-refund] Capture is ``POST /payments/{id}/capture`` (its body
    ``{amount}`` is our reading, sent only for a partial capture); cancel, a published
    operation, is a bodiless ``POST /payments/{id}/cancel``."""
    await wire_client.payments.capture("pay_1")
    full = recorder.last
    await wire_client.payments.capture("pay_1", amount=500)
    partial = recorder.last
    await wire_client.payments.cancel("pay_1")
    cancel = recorder.last
    assert (full.path, full.body) == ("/api2/payments/pay_1/capture", b"")
    assert "Content-Type" not in full.headers
    assert json.loads(partial.body) == {"amount": 500}
    assert partial.headers["Content-Type"] == "application/json"
    assert (cancel.method, cancel.path, cancel.body) == ("POST", "/api2/payments/pay_1/cancel", b"")
    assert "Content-Type" not in cancel.headers


@pytest.mark.asyncio
async def test_every_endpoint_path(wire_client: AsyncBpcPay, recorder: Recorder) -> None:
    """[doc: redirect-integration, api-keys, api-versions, direct-integration, cancel-refund,
    webhooks] The endpoint table on the wire: sessions (create, retrieve), payments (create,
    retrieve), and the refunds that exist (their path ``/refunds`` is our reading)."""
    await wire_client.sessions.create(amount=1, currency="EUR", **URLS)
    await wire_client.sessions.retrieve("ps_1")
    await wire_client.payments.create(amount=1, currency="EUR", card=CARD)
    await wire_client.payments.retrieve("pay_1")
    await wire_client.refunds.create(payment_id="pay_1")
    await wire_client.refunds.retrieve("re_1")
    await wire_client.payment_methods.retrieve("pm_1")
    assert [(s.method, s.path) for s in recorder.seen] == [
        ("POST", "/api2/sessions"),
        ("GET", "/api2/sessions/ps_1"),
        ("POST", "/api2/payments"),
        ("GET", "/api2/payments/pay_1"),
        ("POST", "/api2/refunds"),
        ("GET", "/api2/refunds/re_1"),
        ("GET", "/api2/payment-methods/pm_1"),
    ]
    gets = [s for s in recorder.seen if s.method == "GET"]
    assert all(s.body == b"" and "Content-Type" not in s.headers for s in gets)


@pytest.mark.asyncio
async def test_session_body_with_every_field_of_the_table(
    wire_client: AsyncBpcPay, recorder: Recorder
) -> None:
    """[doc: two-step, stored-payment-methods, redirect-integration] A session's capture mode
    is ``paymentData.captureMethod``; ``merchantCustomerId`` and ``setupFutureUsage`` nest as
    published; ``merchantReferenceId``, ``locale``, ``metadata`` and ``customerDetails`` (which
    the gateway returns) are sent under the same names."""
    await wire_client.sessions.create(
        amount=10000,
        currency="EUR",
        **URLS,
        capture_method="manual",
        merchant_customer_id="cust_0001",
        setup_future_usage=SetupFutureUsage(
            category="recurrent",
            recurring_model=RecurringModel(
                recurrent=RecurrentTerms(expiry=date(2026, 12, 31), frequency=30)
            ),
        ),
        merchant_reference_id="4000",
        locale="EN",
        metadata={"cart": "42"},
        customer_details=CustomerDetails(address=Address(city="Test city", country="CY")),
    )
    assert sent(recorder) == {
        **SEED_REQUEST,
        "paymentData": {"captureMethod": "manual"},
        **STORED_CARD_NESTING,
        "merchantReferenceId": "4000",
        "locale": "EN",
        "metadata": {"cart": "42"},
        "customerDetails": {"address": {"city": "Test city", "country": "CY"}},
    }


@pytest.mark.asyncio
async def test_direct_payment_body_as_published(
    wire_client: AsyncBpcPay, recorder: Recorder
) -> None:
    """[doc: direct-integration, two-step] The direct-integration example: amount, a top-level
    ``captureMethod`` (not ``paymentData``, Contradictions 7), currency, and
    ``customerDetails.address{city, country, line1, line2, postalCode}``; the card goes in the
    ``paymentMethod`` block, its members named as [doc: sdk_core_apiv2] names them: ``number``,
    ``expiryMonth``, ``expiryYear``, ``cvc``."""
    address = DIRECT_PAYMENT_PREFIX["customerDetails"]["address"]
    await wire_client.payments.create(
        amount=70000,
        currency="EUR",
        capture_method="automatic",
        customer_details=CustomerDetails(
            address=Address(
                city=address["city"],
                country=address["country"],
                line1=address["line1"],
                line2=address["line2"],
                postal_code=address["postalCode"],
            )
        ),
        card=CARD,
    )
    body = sent(recorder)
    assert body == {**DIRECT_PAYMENT_PREFIX, "paymentMethod": {"card": CARD_WIRE}}
    assert "paymentData" not in body


@pytest.mark.asyncio
async def test_a_plain_dict_is_wire_form_and_sent_as_given(
    wire_client: AsyncBpcPay, recorder: Recorder
) -> None:
    """[doc: direct-integration, stored-payment-methods] Typed arguments also take plain
    mappings in wire form: the published address and stored-card nesting go out unchanged,
    unknown members included."""
    customer = {**DIRECT_PAYMENT_PREFIX["customerDetails"], "loyaltyTier": "gold"}
    await wire_client.payments.create(
        amount=70000,
        currency="EUR",
        card={**CARD_WIRE, "holderName": "Ann Example"},
        customer_details=customer,
        merchant_customer_id=STORED_CARD_NESTING["merchantCustomerId"],
        setup_future_usage=STORED_CARD_NESTING["setupFutureUsage"],
    )
    body = sent(recorder)
    assert body["customerDetails"] == customer
    assert body["paymentMethod"] == {"card": {**CARD_WIRE, "holderName": "Ann Example"}}
    assert {k: body[k] for k in STORED_CARD_NESTING} == STORED_CARD_NESTING


@pytest.mark.asyncio
async def test_a_stored_card_is_charged_by_its_id(
    wire_client: AsyncBpcPay, recorder: Recorder
) -> None:
    """[doc: direct-integration, stored-payment-methods] A stored method is reused as
    ``storedPaymentMethodId`` (instead of the ``paymentMethod`` block), with the customer's
    ``merchantCustomerId``."""
    await wire_client.payments.create(
        amount=2500,
        currency="EUR",
        stored_payment_method_id="pm_1",
        merchant_customer_id="cust_0001",
        setup_future_usage={"category": "unscheduled"},
    )
    assert sent(recorder) == {
        "amount": 2500,
        "currency": "EUR",
        "storedPaymentMethodId": "pm_1",
        "merchantCustomerId": "cust_0001",
        "setupFutureUsage": {"category": "unscheduled"},
    }


@pytest.mark.asyncio
async def test_extra_body_reaches_the_wire(wire_client: AsyncBpcPay, recorder: Recorder) -> None:
    """[doc: api-versions] Within a version BPC may add optional fields: every create takes
    ``extra_body`` to send one bpcpay does not know yet."""
    await wire_client.sessions.create(amount=1, currency="EUR", **URLS, extra_body={"newField": 1})
    assert sent(recorder)["newField"] == 1
    await wire_client.payments.create(
        amount=1, currency="EUR", card=CARD, extra_body={"returnUrl": "https://shop.example/3ds"}
    )
    assert sent(recorder)["returnUrl"] == "https://shop.example/3ds"
    await wire_client.refunds.create(payment_id="pay_1", extra_body={"note": {"a": [1]}})
    assert sent(recorder) == {"payment": "pay_1", "note": {"a": [1]}}
