"""BPC's published examples parse field by field, and the objects' published facts hold.

Each test's docstring names the BPC page it holds the models to (``[doc: page]``).
"""

from __future__ import annotations

import json
from datetime import datetime, timedelta, timezone
from typing import Any

import pytest
from _published import EXPIRE_RESPONSE, SEED_RESPONSE
from _support import WEBHOOK_EXAMPLE

import bpcpay
from bpcpay._core._converter import object_class_for_event, structure_object
from bpcpay._core._responses import decode_response
from bpcpay.models import (
    CaptureMethod,
    CustomerDetails,
    Event,
    EventType,
    Payment,
    PaymentData,
    PaymentMethod,
    PaymentStatus,
    Refund,
    Session,
    SessionPaymentStatus,
    SessionStatus,
)

UTC = timezone.utc


def parse(data: dict[str, Any], cls: type[Any]) -> Any:
    return decode_response(
        status=200,
        headers={"Content-Type": "application/json", "X-Version": "2023-10-31"},
        body=json.dumps(data).encode(),
        cast_to=cls,
        method="GET",
        path="/x",
    )


@pytest.mark.parametrize("currency", ["EUR", "eur"])
def test_the_published_expire_response_parses_field_by_field(currency: str) -> None:
    """[doc: cancel-refund] The expire example, field by field, in both copies (``EUR`` and
    ``eur``): an expired session keeps ``expiresAt`` (``created`` + 20 min) and has no
    ``paymentUrl``; the currency is upper case on the model, ``raw`` keeps what was sent."""
    data = {**EXPIRE_RESPONSE, "currency": currency}
    s = parse(data, Session)
    assert s.id == "ps_2GRSigkh7nHdxwjV4Yf7PpdEevc1dAwEvssZuP8TJ6mjuNmPMoV9mB"
    assert s.amount == 20000
    assert s.created == datetime(2024, 3, 29, 5, 33, 26, tzinfo=UTC)
    assert s.currency == "EUR"
    assert s.raw["currency"] == currency
    assert s.customer_details == CustomerDetails()
    assert s.expires_at == datetime(2024, 3, 29, 5, 53, 26, tzinfo=UTC)
    assert s.expires_at - s.created == timedelta(minutes=20)
    assert s.failure_url == "https://mybestmerchantreturnurl.com/failure"
    assert s.locale == "EN"
    assert s.merchant_reference_id == "4002"
    assert s.metadata == {}
    assert s.payment_data == PaymentData(capture_method=CaptureMethod.AUTOMATIC)
    assert s.payment_status == SessionPaymentStatus.UNPAID
    assert s.status == SessionStatus.EXPIRED == "expired"
    assert s.success_url == "https://mybestmerchantreturnurl.com/success"
    assert s.payment_url is None
    assert s.merchant_customer_id is None
    assert s.setup_future_usage is None
    assert s.payment is None
    assert s.raw == data


def test_the_seed_response_parses_field_by_field() -> None:
    """[doc: redirect-integration] The seed's create response: the 4 fields sent, ``id``,
    ``paymentUrl``, and the defaults (``locale: "EN"``, empty ``customerDetails`` and
    ``metadata``, ``paymentData.captureMethod: automatic``, ``merchantReferenceId: "4000"``
    though never sent); ``status`` ``open``, ``paymentStatus`` ``unpaid``."""
    s = parse(SEED_RESPONSE, Session)
    assert s.id.startswith("ps_")
    assert (s.amount, s.currency) == (10000, "EUR")
    assert s.success_url == "https://mybestmerchantreturnurl.com/success"
    assert s.failure_url == "https://mybestmerchantreturnurl.com/failure"
    assert s.payment_url == SEED_RESPONSE["paymentUrl"]
    assert s.locale == "EN"
    assert s.customer_details == CustomerDetails()
    assert s.metadata == {}
    assert s.payment_data == PaymentData(capture_method="automatic")
    assert s.merchant_reference_id == "4000"
    assert s.status == SessionStatus.OPEN == "open"
    assert s.payment_status == SessionPaymentStatus.UNPAID == "unpaid"
    assert s.expires_at - s.created == timedelta(minutes=20)


def test_the_webhook_example_with_its_own_spellings() -> None:
    """[doc: webhooks] The webhook example omits the defaults, writes ``locale: "en"`` and
    ``+00:00`` timestamps: all optional, ``locale`` case-preserving, offsets aware."""
    event = structure_object(WEBHOOK_EXAMPLE, Event, request_id="req_1")
    assert event.type == EventType.SESSION_EXPIRED
    assert event.created == datetime(2022, 2, 17, 16, 30, 55, tzinfo=UTC)
    s = event.data.object
    assert isinstance(s, Session)
    assert (s.amount, s.currency, s.locale) == (90000, "EUR", "en")
    assert (s.status, s.payment_status) == ("expired", "unpaid")
    assert s.created == datetime(2022, 2, 17, 16, 10, 54, tzinfo=UTC)
    assert "customerDetails" not in s.raw and "metadata" not in s.raw
    assert s.metadata == {}
    assert s.customer_details is None
    assert s.merchant_reference_id is None


@pytest.mark.parametrize(
    ("value", "kept"),
    [
        (True, True),
        (5, 5),
        (1.5, 1.5),
        (None, None),
        ([1, "a"], [1, "a"]),
        ({"nested": {"deep": [True]}}, {"nested": {"deep": [True]}}),
        ("text", "text"),
    ],
)
def test_metadata_values_are_any_json(value: Any, kept: Any) -> None:
    """[inferred] BPC shows only ``metadata: {}``: its values parse as any JSON, never coerced
    (a number stays a number, ``true`` does not break the whole object)."""
    for data, cls in ((SEED_RESPONSE, Session), (_payment(), Payment), (_refund(), Refund)):
        obj = parse({**data, "metadata": {"k": value}}, cls)
        assert obj.metadata == {"k": kept}
        assert type(obj.metadata["k"]) is type(kept)


def _payment(**fields: Any) -> dict[str, Any]:
    return {"id": "pay_1", "amount": 5000, "currency": "eur", "status": "succeeded", **fields}


def _refund() -> dict[str, Any]:
    return {"id": "re_1", "payment": "pay_1", "amount": 1, "currency": "EUR", "status": "pending"}


def test_payment_fields_of_two_step() -> None:
    """[doc: two-step] A payment has ``id``, ``status``, ``captureMethod`` and
    ``amountCapturable`` (what is still capturable)."""
    p = parse(
        _payment(status="requiresCapture", captureMethod="manual", amountCapturable=3000),
        Payment,
    )
    assert (p.id, p.status, p.capture_method, p.amount_capturable) == (
        "pay_1",
        PaymentStatus.REQUIRES_CAPTURE,
        CaptureMethod.MANUAL,
        3000,
    )
    assert p.currency == "EUR"
    assert p.raw["currency"] == "eur"


def test_payment_statuses() -> None:
    """[doc: cancel-refund, two-step, direct-integration] ``requiresPaymentMethod``,
    ``requiresAction``, ``requiresCapture`` (the three cancellable states) and ``succeeded``;
    an unknown status still parses."""
    assert PaymentStatus.REQUIRES_PAYMENT_METHOD == "requiresPaymentMethod"
    assert PaymentStatus.REQUIRES_ACTION == "requiresAction"
    assert PaymentStatus.REQUIRES_CAPTURE == "requiresCapture"
    assert PaymentStatus.SUCCEEDED == "succeeded"
    for status in ("requiresPaymentMethod", "partiallyCaptured"):
        assert parse(_payment(status=status), Payment).status == status


def test_new_fields_reordered_fields_and_odd_ids_parse() -> None:
    """[doc: api-versions] Within a version BPC may add optional fields, reorder fields and
    reshape opaque strings such as ids: unknown fields are kept, order is irrelevant, ids are
    any string."""
    data = dict(reversed(list({**SEED_RESPONSE, "someNewField": {"a": [1]}}.items())))
    data["id"] = "test_9f8e7d6c-ids-are-opaque"
    s = parse(data, Session)
    assert s.id == "test_9f8e7d6c-ids-are-opaque"
    assert s["someNewField"] == {"a": [1]}
    assert s == parse({**SEED_RESPONSE, "id": data["id"]}, Session)


def test_every_event_type_of_the_flow_table() -> None:
    """[doc: redirect-integration, cancel-refund, direct-integration, webhooks] The event types
    BPC publishes, each parsed with its object as a model (Refund and PaymentMethod events too);
    an unknown type parses as a generic event."""
    published = [
        EventType.SESSION_COMPLETED,
        EventType.SESSION_EXPIRED,
        EventType.PAYMENT_CREATED,
        EventType.PAYMENT_SUCCEEDED,
        EventType.PAYMENT_FAILED,
        EventType.PAYMENT_CANCELED,
        EventType.PAYMENT_AMOUNT_CAPTURABLE_UPDATED,
        EventType.PAYMENT_FUNDED,
    ]
    assert published == [
        "session.completed",
        "session.expired",
        "payment.created",
        "payment.succeeded",
        "payment.failed",
        "payment.canceled",
        "payment.amountCapturableUpdated",
        "payment.funded",
    ]
    assert object_class_for_event("session.expired") is Session
    assert object_class_for_event("payment.amountCapturableUpdated") is Payment
    assert object_class_for_event("refund.succeeded") is Refund
    assert object_class_for_event("paymentMethod.created") is PaymentMethod
    unknown = structure_object(
        {"created": None, "type": "dispute.opened", "data": {"object": {"id": "dp_1"}}}, Event
    )
    assert unknown.data.object == {"id": "dp_1"}


@pytest.mark.parametrize("version", ["2023-11-15", "2023-10-31", "2099-01-01", None])
def test_no_response_or_delivery_is_refused_for_its_version(version: str | None) -> None:
    """[doc: webhooks, api-versions] 2023-11-15 is the webhook ``X-Version`` example and the
    response-header example: a response or a delivery is never refused for its version."""
    from bpcpay.webhooks import construct_event, sign

    headers = {} if version is None else {"X-Version": version}
    body = json.dumps(WEBHOOK_EXAMPLE).encode()
    event = construct_event(
        body, {**headers, "X-Signature": sign(body, "whsec_x")}, secret="whsec_x"
    )
    assert event.type == "session.expired"
    session = decode_response(
        status=200,
        headers=headers,
        body=json.dumps(SEED_RESPONSE).encode(),
        cast_to=Session,
        method="GET",
        path="/sessions/ps_1",
    )
    assert session.id == SEED_RESPONSE["id"]


def test_the_sdk_pins_the_published_request_version() -> None:
    """[doc: redirect-integration, cancel-refund] 2023-10-31 is the version of every published
    request and of the only request/response pairs: the SDK's default."""
    assert bpcpay.DEFAULT_API_VERSION == "2023-10-31"
    assert bpcpay.AsyncBpcPay(api_key="sk_test_x").api_version == "2023-10-31"
