"""Models: the contract's examples parse field by field; leniency and strictness where promised."""

from __future__ import annotations

import json
import pickle
from datetime import date, datetime, timedelta, timezone
from typing import Any

import attrs
import pytest
from _support import (
    PAYMENT_JSON,
    PAYMENT_METHOD_JSON,
    REFUND_JSON,
    REQUEST_ID,
    SESSION_EXAMPLE,
    WEBHOOK_EXAMPLE,
)

import bpcpay
from bpcpay._core._converter import structure_object
from bpcpay._core._responses import decode_response
from bpcpay.models import (
    Card,
    CustomerDetails,
    Event,
    EventType,
    Payment,
    PaymentCard,
    PaymentData,
    PaymentMethod,
    PaymentStatus,
    RecurrentTerms,
    RecurringModel,
    Refund,
    RefundStatus,
    Session,
    SessionPaymentStatus,
    SessionStatus,
    SetupFutureUsage,
    StoredCardCategory,
)

UTC = timezone.utc


def decode(data: Any, cls: type[Any], *, request_id: str | None = REQUEST_ID) -> Any:
    headers = {"Content-Type": "application/json"}
    if request_id is not None:
        headers["API-Request-Id"] = request_id
    return decode_response(
        status=200,
        headers=headers,
        body=json.dumps(data).encode(),
        cast_to=cls,
        method="GET",
        path="/x",
    )


def test_session_example_parses_field_by_field() -> None:
    s = decode(SESSION_EXAMPLE, Session)
    assert isinstance(s, Session)
    assert s.id == "ps_2GRSigkh7m3hqz5pMCAYCzJaXjsHgypQui6nMBss3XLVLF8gwDASHP"
    assert s.amount == 10000
    assert type(s.amount) is int
    assert s.currency == "EUR"
    assert s.created == datetime(2024, 3, 28, 8, 26, 37, tzinfo=UTC)
    assert s.created.tzinfo is not None
    assert s.expires_at == datetime(2024, 3, 28, 8, 46, 37, tzinfo=UTC)
    # The contract's default lifetime: 20 minutes from created to expiresAt.
    assert s.expires_at - s.created == timedelta(minutes=20)
    assert s.customer_details == CustomerDetails()
    assert s.failure_url == "https://shop.example/failure"
    assert s.success_url == "https://shop.example/success"
    assert s.locale == "EN"
    assert s.merchant_reference_id == "4000"
    assert s.metadata == {}
    assert s.payment_data == PaymentData(capture_method="automatic")
    assert s.payment_data.capture_method == bpcpay.CaptureMethod.AUTOMATIC
    assert s.payment_status == SessionPaymentStatus.UNPAID
    assert s.payment_url == SESSION_EXAMPLE["paymentUrl"]
    assert s.status == SessionStatus.OPEN
    assert s.payment is None
    assert s.request_id == REQUEST_ID
    assert s.raw == SESSION_EXAMPLE
    assert s["paymentUrl"] == SESSION_EXAMPLE["paymentUrl"]


def test_webhook_example_parses_field_by_field() -> None:
    event = structure_object(WEBHOOK_EXAMPLE, Event, request_id=REQUEST_ID)
    assert event.type == EventType.SESSION_EXPIRED
    assert event.created == datetime(2022, 2, 17, 16, 30, 55, tzinfo=UTC)
    assert event.request_id == REQUEST_ID
    assert event.raw == WEBHOOK_EXAMPLE
    s = event.data.object
    assert isinstance(s, Session)
    assert s.id == "ps_2njmpfC9BUCfsmALYNEQv5eoR8SdVsEHuXZC7D3uLiRxqfb8g2wJzWo8UvE9QL"
    assert s.amount == 90000
    assert s.created == datetime(2022, 2, 17, 16, 10, 54, tzinfo=UTC)
    assert s.expires_at == datetime(2022, 2, 17, 16, 10, 54, tzinfo=UTC)
    assert s.currency == "EUR"
    assert s.failure_url == "https://shop.example/failure"
    assert s.success_url == "https://shop.example/success"
    assert s.locale == "en"
    assert s.payment_data == PaymentData(capture_method="automatic")
    assert s.payment_status == "unpaid"
    assert s.payment_url.endswith("mdOrder=...")
    assert s.status == SessionStatus.EXPIRED
    # Absent optional fields take their defaults.
    assert s.merchant_reference_id is None
    assert s.metadata == {}
    assert s.customer_details is None
    assert s.raw == WEBHOOK_EXAMPLE["data"]["object"]


@pytest.mark.parametrize(
    "stamp", ["2024-03-28T08:26:37Z", "2024-03-28T08:26:37+00:00", "2024-03-28T10:26:37+02:00"]
)
def test_timestamps_are_aware_and_equal_whatever_the_suffix(stamp: str) -> None:
    s = structure_object({**SESSION_EXAMPLE, "created": stamp}, Session)
    assert s.created.tzinfo is not None
    assert s.created.utcoffset() is not None
    assert s.created == datetime(2024, 3, 28, 8, 26, 37, tzinfo=UTC)


@pytest.mark.parametrize("locale", ["EN", "en", "pt-BR"])
def test_locale_stays_a_plain_string(locale: str) -> None:
    assert structure_object({**SESSION_EXAMPLE, "locale": locale}, Session).locale == locale


def test_unknown_fields_and_statuses_parse_and_stay_reachable() -> None:
    data = {
        **SESSION_EXAMPLE,
        "status": "partiallyRefunded",
        "paymentStatus": "somethingNew",
        "brandNewField": {"nested": [1, 2]},
        "paymentData": {"captureMethod": "automatic", "futureOption": True},
    }
    s = decode(data, Session)
    assert s.status == "partiallyRefunded"
    assert s.payment_status == "somethingNew"
    assert s.raw["brandNewField"] == {"nested": [1, 2]}
    assert s["brandNewField"] == {"nested": [1, 2]}
    assert s["paymentData"]["futureOption"] is True
    assert not hasattr(s, "brand_new_field")
    with pytest.raises(KeyError):
        s["neverSent"]


def test_a_field_called_raw_on_the_wire_does_not_clobber_the_raw_json() -> None:
    s = structure_object({**SESSION_EXAMPLE, "raw": "from the gateway"}, Session)
    assert s.raw["raw"] == "from the gateway"
    assert s.raw["id"] == SESSION_EXAMPLE["id"]


@pytest.mark.parametrize(
    ("data", "cls"),
    [(SESSION_EXAMPLE, Session), (PAYMENT_JSON, Payment), (REFUND_JSON, Refund)],
)
def test_every_result_carries_the_request_id(data: dict[str, Any], cls: type[Any]) -> None:
    assert decode(data, cls).request_id == REQUEST_ID
    assert decode(data, cls, request_id=None).request_id is None


def test_request_id_header_is_read_case_insensitively() -> None:
    obj = decode_response(
        status=200,
        headers={"api-request-id": "req_lower"},
        body=json.dumps(PAYMENT_JSON).encode(),
        cast_to=Payment,
        method="GET",
        path="/payments/pay_1",
    )
    assert obj.request_id == "req_lower"


@pytest.mark.parametrize("amount", [100.0, 100.5, "100", "1e2", True, None, [100]])
def test_amounts_that_are_not_json_integers_are_rejected(amount: object) -> None:
    with pytest.raises(bpcpay.APIResponseValidationError) as info:
        decode({**SESSION_EXAMPLE, "amount": amount}, Session)
    err = info.value
    assert err.status_code == 200
    assert err.request_id == REQUEST_ID
    assert b'"amount"' in err.body
    assert "Session" in str(err)


@pytest.mark.parametrize("field", ["amountCapturable", "amountReceived", "amountRefunded"])
def test_optional_payment_amounts_are_strict_too(field: str) -> None:
    assert decode({**PAYMENT_JSON, field: 7}, Payment).raw[field] == 7
    with pytest.raises(bpcpay.APIResponseValidationError):
        decode({**PAYMENT_JSON, field: 7.5}, Payment)


@pytest.mark.parametrize(
    "patch",
    [
        {"created": "yesterday"},
        {"created": 1711614397},
        {"id": None},
        {"customerDetails": "alice@example.com"},
        {"paymentData": ["automatic"]},
        {"metadata": None},
    ],
)
def test_malformed_fields_are_validation_errors(patch: dict[str, Any]) -> None:
    with pytest.raises(bpcpay.APIResponseValidationError):
        decode({**SESSION_EXAMPLE, **patch}, Session)


def test_missing_required_field_is_a_validation_error() -> None:
    data = {k: v for k, v in SESSION_EXAMPLE.items() if k != "id"}
    with pytest.raises(bpcpay.APIResponseValidationError, match="not a valid Session"):
        decode(data, Session)


def test_payment_parses() -> None:
    p = decode(PAYMENT_JSON, Payment)
    assert p.id == "pay_1"
    assert p.amount == 2500
    assert p.status == PaymentStatus.REQUIRES_CAPTURE
    assert p.capture_method == "manual"
    assert p.amount_capturable == 2500
    assert p.merchant_reference_id == "order-7"
    assert p.metadata == {"cart": "42"}
    assert p.created == datetime(2024, 3, 28, 8, 26, 37, tzinfo=UTC)
    assert p.setup_future_usage is None
    stored = decode(
        {
            **PAYMENT_JSON,
            "merchantCustomerId": "cust_0001",
            "storedPaymentMethodId": "pm_1",
            "setupFutureUsage": {
                "category": StoredCardCategory.RECURRENT,
                "recurringModel": {"recurrent": {"expiry": "2026-12-31", "frequency": 30}},
            },
        },
        Payment,
    )
    assert stored.merchant_customer_id == "cust_0001"
    assert stored.stored_payment_method_id == "pm_1"
    assert stored.setup_future_usage == SetupFutureUsage(
        category="recurrent",
        recurring_model=RecurringModel(
            recurrent=RecurrentTerms(expiry=date(2026, 12, 31), frequency=30)
        ),
    )


@pytest.mark.parametrize("expiry", ["31-12-2026", "2026-13-01", "20261231", 20261231])
def test_a_recurrent_expiry_must_be_a_yyyy_mm_dd_date(expiry: object) -> None:
    data = {
        **PAYMENT_JSON,
        "setupFutureUsage": {
            "category": "recurrent",
            "recurringModel": {"recurrent": {"expiry": expiry, "frequency": 30}},
        },
    }
    with pytest.raises(bpcpay.APIResponseValidationError):
        decode(data, Payment)


def test_refund_and_payment_method_parse() -> None:
    r = decode(REFUND_JSON, Refund)
    assert (r.id, r.payment, r.amount, r.status) == ("re_1", "pay_1", 1000, RefundStatus.SUCCEEDED)
    assert r.created == datetime(2024, 3, 28, 9, 0, tzinfo=UTC)
    assert r.reason == "damaged"
    pm = decode(PAYMENT_METHOD_JSON, PaymentMethod)
    assert pm.card == Card(brand="visa", last4="1111", exp_month=12, exp_year=2030)
    assert pm.type == "card"
    assert pm.request_id == REQUEST_ID


def test_numeric_merchant_reference_id_becomes_a_string() -> None:
    assert decode(
        {**SESSION_EXAMPLE, "merchantReferenceId": 4000}, Session
    ).merchant_reference_id == ("4000")


@pytest.mark.parametrize(
    "obj",
    [
        Session(id="ps_1", amount=1, currency="EUR", status="open"),
        Payment(id="pay_1", amount=1, currency="EUR", status="succeeded"),
        Refund(id="re_1", payment="pay_1", amount=1, currency="EUR", status="pending"),
        PaymentMethod(id="pm_1", type="card"),
        CustomerDetails(email="a@example.com"),
        PaymentCard(number="4111111111111111", exp_month=12, exp_year=2030, cvc="123"),
    ],
)
def test_models_are_frozen(obj: Any) -> None:
    name = attrs.fields(type(obj))[0].name
    with pytest.raises(attrs.exceptions.FrozenInstanceError):
        setattr(obj, name, "changed")


def test_parsed_models_are_frozen_and_raw_is_not_part_of_equality() -> None:
    a = decode(SESSION_EXAMPLE, Session, request_id="req_a")
    b = structure_object({**SESSION_EXAMPLE, "extra": 1}, Session)
    with pytest.raises(attrs.exceptions.FrozenInstanceError):
        a.status = "complete"  # type: ignore[misc]
    assert a == b
    assert "raw" not in repr(a)
    assert "request_id" not in repr(a)


def test_models_pickle() -> None:
    s = decode(SESSION_EXAMPLE, Session)
    again = pickle.loads(pickle.dumps(s))
    assert again == s
    assert again.raw == SESSION_EXAMPLE
    assert again.request_id == REQUEST_ID


def test_payment_card_repr_hides_number_and_cvc() -> None:
    card = PaymentCard(
        number="4111111111111111", exp_month=12, exp_year=2030, cvc="987", holder="A B"
    )
    text = repr(card)
    assert "4111111111111111" not in text
    assert "411111" not in text
    assert "987" not in text
    assert "cvc" not in text
    assert "'****1111'" in text
    assert str(card) == text
    assert card.number == "4111111111111111"  # still usable


@pytest.mark.parametrize(("number", "shown"), [("123", "'****'"), (4111111111111111, "'****1111'")])
def test_payment_card_repr_never_raises(number: Any, shown: str) -> None:
    text = repr(PaymentCard(number=number, exp_month=1, exp_year=2030, cvc="123"))
    assert f"number={shown}" in text
    assert "4111111111111111" not in text


def test_status_and_type_constants_match_the_contract() -> None:
    assert (SessionStatus.OPEN, SessionStatus.EXPIRED) == ("open", "expired")
    assert (PaymentStatus.SUCCEEDED, PaymentStatus.REQUIRES_CAPTURE) == (
        "succeeded",
        "requiresCapture",
    )
    assert {
        EventType.SESSION_COMPLETED,
        EventType.SESSION_EXPIRED,
        EventType.PAYMENT_CREATED,
        EventType.PAYMENT_SUCCEEDED,
        EventType.PAYMENT_FUNDED,
    } == {
        "session.completed",
        "session.expired",
        "payment.created",
        "payment.succeeded",
        "payment.funded",
    }


def test_each_event_family_names_the_known_types_and_parses_to_its_model() -> None:
    """The Literal families the router's overloads read (``SessionEventType`` ...) and the
    EventType constants name the same event types, and each family's types (and its
    ``prefix.*``) parse to the model its handlers are typed with."""
    from typing import get_args

    from bpcpay._core._converter import object_class_for_event
    from bpcpay.models import EventType, Payment, PaymentMethod, Refund, Session
    from bpcpay.models.events import (
        PaymentEventType,
        PaymentMethodEventType,
        RefundEventType,
        SessionEventType,
    )

    families = {
        SessionEventType: Session,
        PaymentEventType: Payment,
        RefundEventType: Refund,
        PaymentMethodEventType: PaymentMethod,
    }
    named = set()
    for family, model in families.items():
        for value in get_args(family):
            probe = value[:-1] + "somethingNew" if value.endswith(".*") else value
            assert object_class_for_event(probe) is model, value
            if not value.endswith(".*"):
                named.add(value)
    known = {value for name, value in vars(EventType).items() if name.isupper()}
    assert named == known


def test_a_parsed_event_is_typed_by_its_object_at_runtime_too() -> None:
    """``Event[Session]`` is a real subscript (for annotations and ``get_type_hints``), and the
    parsed event's object is the model its family's handlers are typed with."""
    from typing import get_type_hints

    from bpcpay.models import Event, Session

    assert Event[Session].__origin__ is Event  # type: ignore[attr-defined]
    event = structure_object(
        {"type": "session.completed", "created": None, "data": {"object": SESSION_EXAMPLE}},
        Event,
    )
    assert isinstance(event.data.object, Session)

    def handler(event: Event[Session]) -> None:
        pass

    assert get_type_hints(handler)["event"] == Event[Session]
