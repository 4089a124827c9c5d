"""Payment lifecycles on the wire: capture, cancel, refunds, and direct payments by test card."""

from __future__ import annotations

import re
from typing import Any

import attrs
import pytest

from bpcpay.sandbox import INPUT_ERROR_CODE, SandboxGateway, TestCard, TestCards
from bpcpay.sandbox._ids import BASE58


def card_block(card: TestCard, **changes: Any) -> dict[str, Any]:
    """The ``paymentMethod`` block of a direct payment with one of the test cards."""
    body = {
        "number": card.number,
        "expiryMonth": card.exp_month,
        "expiryYear": card.exp_year,
        "cvc": card.cvc,
        "holderName": "Ann Example",
    }
    return {"card": {k: v for k, v in {**body, **changes}.items() if v is not None}}


async def manual_payment(api: Any, gw: SandboxGateway, amount: int = 10000) -> dict[str, Any]:
    session = await api.create_session(amount=amount, paymentData={"captureMethod": "manual"})
    assert (await gw.pay(session["id"])).succeeded
    payment_id = gw.state.sessions[session["id"]].payment_id
    return dict((await api.call("GET", f"/payments/{payment_id}")).json)


async def paid_payment(api: Any, gw: SandboxGateway, amount: int = 10000) -> dict[str, Any]:
    session = await api.create_session(amount=amount)
    assert (await gw.pay(session["id"])).succeeded
    payment_id = gw.state.sessions[session["id"]].payment_id
    return dict((await api.call("GET", f"/payments/{payment_id}")).json)


def types_since(gw: SandboxGateway, start: int) -> list[str]:
    return [e.type for e in gw.events[start:]]


@pytest.mark.asyncio
async def test_full_capture(api: Any, gw: SandboxGateway) -> None:
    """[doc: two-step, webhooks, direct-integration] A hold placed through a session is
    ``requiresCapture``; a capture (no body: all of it) makes it ``succeeded`` and emits
    ``payment.funded`` and ``payment.succeeded``: one call, several events."""
    payment = await manual_payment(api, gw)
    mark = len(gw.events)
    answer = await api.call("POST", f"/payments/{payment['id']}/capture", raw=b"")
    assert answer.status == 200
    captured = answer.json
    assert captured["status"] == "succeeded"
    assert captured["amountReceived"] == 10000
    assert captured["amountCapturable"] == 0
    assert types_since(gw, mark) == ["payment.funded", "payment.succeeded"]


@pytest.mark.asyncio
async def test_partial_and_multiple_captures(api: Any, gw: SandboxGateway) -> None:
    """[doc: two-step] Partial and multiple captures exist; their rules are our reading: each
    capture at most ``amountCapturable`` (none: all of it), each emits ``payment.funded`` with
    ``amountReceived`` and ``amountCapturable`` moved, the payment stays ``requiresCapture``
    until the last capture spends it, which makes it ``succeeded`` (``payment.succeeded``);
    after a capture it can no longer be cancelled [doc: cancel-refund]."""
    payment = await manual_payment(api, gw)
    capture = f"/payments/{payment['id']}/capture"
    mark = len(gw.events)
    seen = []
    for amount, received, left in ((2500, 2500, 7500), (4000, 6500, 3500)):
        answer = await api.call("POST", capture, json_body={"amount": amount})
        assert answer.status == 200, answer.text
        got = answer.json
        assert (got["status"], got["amountReceived"], got["amountCapturable"]) == (
            "requiresCapture",
            received,
            left,
        )
        seen.append(received)
    assert types_since(gw, mark) == ["payment.funded", "payment.funded"]
    assert [e.object["amountReceived"] for e in gw.events[mark:]] == seen
    over = await api.call("POST", capture, json_body={"amount": 3501})
    assert (over.status, over.error["code"], over.error["param"]) == (
        400,
        "amount_too_large",
        "amount",
    )
    cancel = await api.call("POST", f"/payments/{payment['id']}/cancel")
    assert (cancel.status, cancel.error["code"]) == (409, "payment_not_cancelable")
    last = await api.call("POST", capture, raw=b"")
    assert (last.json["status"], last.json["amountReceived"], last.json["amountCapturable"]) == (
        "succeeded",
        10000,
        0,
    )
    assert types_since(gw, mark + 2) == ["payment.funded", "payment.succeeded"]
    again = await api.call("POST", capture, json_body={})
    assert (again.status, again.error["code"]) == (409, "payment_not_capturable")


@pytest.mark.asyncio
async def test_captured_money_can_be_refunded_before_the_last_capture(
    api: Any, gw: SandboxGateway
) -> None:
    """[inferred] What was captured can be refunded while the rest is still held."""
    payment = await manual_payment(api, gw)
    await api.call("POST", f"/payments/{payment['id']}/capture", json_body={"amount": 3000})
    refund = await api.call("POST", "/refunds", json_body={"payment": payment["id"]})
    assert (refund.status, refund.json["amount"]) == (200, 3000)
    after = (await api.call("GET", f"/payments/{payment['id']}")).json
    assert (after["status"], after["amountRefunded"], after["amountCapturable"]) == (
        "requiresCapture",
        3000,
        7000,
    )


@pytest.mark.asyncio
@pytest.mark.parametrize(("amount", "param"), [(10001, "amount"), (0, "amount"), ("5", "amount")])
async def test_capture_amount_checks(api: Any, gw: SandboxGateway, amount: Any, param: str) -> None:
    payment = await manual_payment(api, gw)
    answer = await api.call(
        "POST", f"/payments/{payment['id']}/capture", json_body={"amount": amount}
    )
    assert answer.status == 400
    assert answer.error["param"] == param
    still = (await api.call("GET", f"/payments/{payment['id']}")).json
    assert still["status"] == "requiresCapture"


@pytest.mark.asyncio
async def test_capture_of_an_automatic_payment_is_409(api: Any, gw: SandboxGateway) -> None:
    payment = await paid_payment(api, gw)
    answer = await api.call("POST", f"/payments/{payment['id']}/capture", json_body={})
    assert answer.status == 409
    assert answer.error["type"] == "invalid_request_error"


@pytest.mark.asyncio
async def test_cancel_voids_an_uncaptured_payment(api: Any, gw: SandboxGateway) -> None:
    """[doc: cancel-refund, direct-integration] A ``requiresCapture`` hold can be cancelled
    (a bodiless POST): ``canceled``, ``payment.canceled``."""
    payment = await manual_payment(api, gw)
    mark = len(gw.events)
    answer = await api.call("POST", f"/payments/{payment['id']}/cancel")
    assert answer.status == 200
    assert answer.json["status"] == "canceled"
    assert answer.json["amountCapturable"] == 0
    assert types_since(gw, mark) == ["payment.canceled"]
    assert (await api.call("POST", f"/payments/{payment['id']}/cancel")).status == 409
    capture = await api.call("POST", f"/payments/{payment['id']}/capture", json_body={})
    assert capture.status == 409


@pytest.mark.asyncio
async def test_cancel_of_a_succeeded_payment_is_409(api: Any, gw: SandboxGateway) -> None:
    """[doc: cancel-refund] Cancellation only before the first capture; after it only a refund
    gives money back."""
    payment = await paid_payment(api, gw)
    answer = await api.call("POST", f"/payments/{payment['id']}/cancel", json_body={})
    assert answer.status == 409
    assert answer.error["code"] == "payment_not_cancelable"
    refund = await api.call("POST", "/refunds", json_body={"payment": payment["id"]})
    assert refund.json["status"] == "succeeded"


@pytest.mark.asyncio
async def test_partial_then_full_refund_never_more_than_left(api: Any, gw: SandboxGateway) -> None:
    payment = await paid_payment(api, gw)
    mark = len(gw.events)
    first = await api.call(
        "POST",
        "/refunds",
        json_body={
            "payment": payment["id"],
            "amount": 3000,
            "reason": "damaged",
            "metadata": {"ticket": "7"},
        },
    )
    assert first.status == 200
    refund = first.json
    assert re.fullmatch(f"re_[{BASE58}]+", refund["id"])
    assert refund["status"] == "succeeded"
    assert refund["amount"] == 3000
    assert refund["currency"] == "EUR"
    assert refund["reason"] == "damaged"
    assert refund["metadata"] == {"ticket": "7"}
    assert types_since(gw, mark) == ["refund.created", "refund.succeeded"]
    assert gw.events[mark].object["status"] == "pending"
    over = await api.call("POST", "/refunds", json_body={"payment": payment["id"], "amount": 7001})
    assert over.status == 400
    assert over.error["param"] == "amount"
    rest = await api.call("POST", "/refunds", json_body={"payment": payment["id"]})
    assert rest.json["amount"] == 7000
    after = (await api.call("GET", f"/payments/{payment['id']}")).json
    assert after["amountRefunded"] == 10000
    done = await api.call("POST", "/refunds", json_body={"payment": payment["id"]})
    assert done.status == 400
    assert done.error["code"] == "already_refunded"
    fetched = await api.call("GET", f"/refunds/{refund['id']}")
    assert fetched.json == refund


@pytest.mark.asyncio
async def test_refund_only_on_succeeded_payments(api: Any, gw: SandboxGateway) -> None:
    payment = await manual_payment(api, gw)
    answer = await api.call("POST", "/refunds", json_body={"payment": payment["id"]})
    assert answer.status == 400
    assert answer.error["code"] == "payment_not_refundable"


@pytest.mark.asyncio
@pytest.mark.parametrize(
    ("body", "param"),
    [
        ({}, "payment"),
        ({"payment": 5}, "payment"),
        ({"payment": "p", "amount": -1}, "amount"),
        ({"payment": "p", "reason": ""}, "reason"),
        ({"payment": "p", "metadata": 3}, "metadata"),
    ],
)
async def test_refund_validation(api: Any, body: dict[str, Any], param: str) -> None:
    answer = await api.call("POST", "/refunds", json_body=body)
    assert answer.status == 400
    assert answer.error["param"] == param


@pytest.mark.asyncio
@pytest.mark.parametrize(
    "card", [TestCards.SUCCESS_FRICTIONLESS, TestCards.SUCCESS_ATTEMPT, TestCards.SUCCESS_NO_3DS]
)
async def test_direct_payment_succeeds(api: Any, gw: SandboxGateway, card: TestCard) -> None:
    """[doc: direct-integration] A one-step direct payment: ``payment.created`` (before the
    answer), then ``payment.succeeded``; the card is not stored unless asked."""
    payment = await api.create_payment(
        paymentMethod=card_block(card), merchantReferenceId="77", metadata={"a": "b"}
    )
    assert re.fullmatch(f"pay_[{BASE58}]+", payment["id"])
    assert payment["status"] == "succeeded"
    assert payment["amountReceived"] == 5000
    assert payment["merchantReferenceId"] == "77"
    assert payment["metadata"] == {"a": "b"}
    assert payment["customerDetails"] == {}
    assert "session" not in payment
    assert "storedPaymentMethodId" not in payment
    assert "paymentMethod" not in payment
    assert card.number not in str(payment)
    assert [e.type for e in gw.events] == ["payment.created", "payment.succeeded"]
    assert gw.state.payment_methods == {}


@pytest.mark.asyncio
@pytest.mark.parametrize("card", [TestCards.SUCCESS_FRICTIONLESS, TestCards.SUCCESS_CHALLENGE])
async def test_the_gateway_keeps_no_card_number_or_cvc(
    api: Any, gw: SandboxGateway, card: TestCard
) -> None:
    """What the sandbox holds after a direct payment and a payment on the page (while their
    3-D Secure challenges wait, or after) has the card's brand and last four digits at most:
    never its number or CVC."""
    await api.create_payment(paymentMethod=card_block(card))
    session = await api.create_session(
        merchantCustomerId="cust_0001", setupFutureUsage={"category": "unscheduled"}
    )
    await gw.pay(session["id"], card=card)
    state = gw.state
    records = [state.sessions, state.payments, state.challenges, state.payment_methods]
    held = repr([attrs.asdict(rec, recurse=True) for kind in records for rec in kind.values()])
    assert len(state.payments) == 2
    assert state.payment_methods  # the page's card was stored: brand, last four, expiry
    assert card.number not in held
    assert "'cvc'" not in held


@pytest.mark.asyncio
async def test_direct_payment_declines(api: Any, gw: SandboxGateway) -> None:
    """[doc: direct-integration] A declined attempt: ``payment.created`` then
    ``payment.failed`` (decline or wrong CVC)."""
    declined = await api.create_payment(paymentMethod=card_block(TestCards.DECLINED))
    assert declined["status"] == "failed"
    assert declined["failureCode"] == "card_declined"
    wrong_cvc = await api.create_payment(
        paymentMethod=card_block(TestCards.SUCCESS_NO_3DS, cvc="321")
    )
    assert wrong_cvc["failureCode"] == INPUT_ERROR_CODE
    assert [e.type for e in gw.events] == ["payment.created", "payment.failed"] * 2
    assert gw.events[0].object["status"] == "processing"


@pytest.mark.asyncio
async def test_direct_manual_payment_then_capture(api: Any, gw: SandboxGateway) -> None:
    """[doc: two-step, direct-integration] A two-step hold: ``requiresCapture`` with
    ``amountCapturable``, ``payment.created`` then ``payment.amountCapturableUpdated``; the
    capture emits ``payment.funded`` and ``payment.succeeded``."""
    payment = await api.create_payment(
        paymentMethod=card_block(TestCards.SUCCESS_NO_3DS), captureMethod="manual"
    )
    assert payment["status"] == "requiresCapture"
    assert payment["captureMethod"] == "manual"
    assert payment["amountCapturable"] == 5000
    assert types_since(gw, 0) == ["payment.created", "payment.amountCapturableUpdated"]
    held = gw.events[-1].object
    assert (held["status"], held["amountCapturable"]) == ("requiresCapture", 5000)
    answer = await api.call("POST", f"/payments/{payment['id']}/capture")
    assert answer.json["status"] == "succeeded"
    assert types_since(gw, 2) == ["payment.funded", "payment.succeeded"]


@pytest.mark.asyncio
@pytest.mark.parametrize(
    ("three_ds", "capture"),
    [("succeed", "automatic"), ("fail", "automatic"), ("succeed", "manual")],
)
async def test_direct_challenge_needs_action(
    api: Any, gw: SandboxGateway, three_ds: Any, capture: str
) -> None:
    """[doc: two-step, direct-integration] With 3-D Secure the payment is ``requiresAction``,
    then ``requiresCapture`` (manual) or ``succeeded``; a failed challenge is
    ``payment.failed``."""
    payment = await api.create_payment(
        paymentMethod=card_block(TestCards.SUCCESS_CHALLENGE), captureMethod=capture
    )
    assert payment["status"] == "requiresAction"
    assert payment["nextAction"]["type"] == "redirect"
    assert payment["nextAction"]["url"].startswith(gw.url + "/payment/merchants/ecom/acs.html")
    result = await gw.authenticate(payment["id"], three_ds=three_ds)
    assert result.redirect_url is None
    after = (await api.call("GET", f"/payments/{payment['id']}")).json
    expected = {
        "fail": "failed",
        "succeed": "requiresCapture" if capture == "manual" else "succeeded",
    }[three_ds]
    assert after["status"] == expected
    assert result.outcome == ("succeeded" if three_ds == "succeed" else "failed")
    assert "nextAction" not in after
    last = {
        "failed": "payment.failed",
        "succeeded": "payment.succeeded",
        "requiresCapture": "payment.amountCapturableUpdated",
    }[expected]
    assert types_since(gw, 0) == ["payment.created", last]


@pytest.mark.asyncio
async def test_direct_challenge_can_be_canceled(api: Any, gw: SandboxGateway) -> None:
    """[doc: cancel-refund] A payment in ``requiresAction`` can be cancelled:
    ``payment.canceled``."""
    payment = await api.create_payment(paymentMethod=card_block(TestCards.SUCCESS_CHALLENGE))
    answer = await api.call("POST", f"/payments/{payment['id']}/cancel")
    assert answer.json["status"] == "canceled"
    assert types_since(gw, 0) == ["payment.created", "payment.canceled"]
    with pytest.raises(LookupError):
        await gw.authenticate(payment["id"])


@pytest.mark.asyncio
async def test_a_card_is_stored_only_when_asked_and_then_reused(
    api: Any, gw: SandboxGateway
) -> None:
    """[doc: stored-payment-methods, direct-integration] ``setupFutureUsage`` (with
    ``merchantCustomerId``) stores the card as a payment method attached to the customer;
    it is charged later by ``storedPaymentMethodId``."""
    first = await api.create_payment(
        paymentMethod=card_block(TestCards.SUCCESS_NO_3DS),
        merchantCustomerId="cust_0001",
        setupFutureUsage={"category": "unscheduled"},
    )
    stored = first["storedPaymentMethodId"]
    assert types_since(gw, 0) == ["payment.created", "paymentMethod.created", "payment.succeeded"]
    method = (await api.call("GET", f"/payment-methods/{stored}")).json
    assert method["merchantCustomerId"] == "cust_0001"
    assert method["card"] == {
        "brand": "visa",
        "last4": "3333",
        "expiryMonth": 12,
        "expiryYear": 2026,
    }
    again = await api.create_payment(
        storedPaymentMethodId=stored,
        merchantCustomerId="cust_0001",
        setupFutureUsage={"category": "unscheduled"},
    )
    assert again["status"] == "succeeded"
    assert again["storedPaymentMethodId"] == stored
    assert again["setupFutureUsage"] == {"category": "unscheduled"}
    assert len(gw.state.payment_methods) == 1
    not_asked = await api.create_payment(
        paymentMethod=card_block(TestCards.SUCCESS_NO_3DS),
        merchantCustomerId="cust_0001",
        setupFutureUsage={"category": "empty"},
    )
    assert "storedPaymentMethodId" not in not_asked
    assert len(gw.state.payment_methods) == 1
    missing = await api.call(
        "POST",
        "/payments",
        json_body={"amount": 100, "currency": "EUR", "storedPaymentMethodId": "pm_nope"},
    )
    assert missing.status == 404
    assert missing.error["param"] == "storedPaymentMethodId"


@pytest.mark.asyncio
async def test_unknown_payment_fields_come_back_as_sent(api: Any) -> None:
    """[doc: redirect-integration] The other fields sent are returned, unknown ones too (never
    the card)."""
    payment = await api.create_payment(
        paymentMethod=card_block(TestCards.SUCCESS_NO_3DS),
        customerDetails={"address": {"country": "CY"}, "tier": "gold"},
        returnUrl="https://shop.example/3ds",
        id="not-mine",
    )
    assert payment["returnUrl"] == "https://shop.example/3ds"
    assert payment["customerDetails"] == {"address": {"country": "CY"}, "tier": "gold"}
    assert payment["id"].startswith("pay_")


CARD = card_block(TestCards.SUCCESS_NO_3DS)


@pytest.mark.asyncio
@pytest.mark.parametrize(
    ("change", "status", "param"),
    [
        ({}, 400, "paymentMethod"),
        ({"paymentMethod": CARD, "storedPaymentMethodId": "pm_1"}, 400, "paymentMethod"),
        ({"paymentMethod": "4111111111111111"}, 400, "paymentMethod"),
        ({"paymentMethod": {"type": "card"}}, 400, "paymentMethod.card"),
        ({"paymentMethod": {"card": "4111111111111111"}}, 400, "paymentMethod.card"),
        (
            {"paymentMethod": card_block(TestCards.SUCCESS_NO_3DS, number=None)},
            400,
            "paymentMethod.card.number",
        ),
        (
            {"paymentMethod": card_block(TestCards.SUCCESS_NO_3DS, number="4111111111111112")},
            400,
            "paymentMethod.card.number",
        ),
        (
            {"paymentMethod": card_block(TestCards.SUCCESS_NO_3DS, expiryMonth=13)},
            400,
            "paymentMethod.card.expiryMonth",
        ),
        (
            {"paymentMethod": card_block(TestCards.SUCCESS_NO_3DS, expiryYear=26)},
            400,
            "paymentMethod.card.expiryYear",
        ),
        (
            {"paymentMethod": card_block(TestCards.SUCCESS_NO_3DS, cvc=123)},
            400,
            "paymentMethod.card.cvc",
        ),
        (
            {"paymentMethod": card_block(TestCards.SUCCESS_NO_3DS, holderName="")},
            400,
            "paymentMethod.card.holderName",
        ),
        ({"storedPaymentMethodId": ""}, 400, "storedPaymentMethodId"),
        ({"storedPaymentMethodId": "pm_1", "captureMethod": "soon"}, 400, "captureMethod"),
        ({"storedPaymentMethodId": "pm_1", "amount": 1.5}, 400, "amount"),
        ({"storedPaymentMethodId": "pm_1", "currency": "XXX"}, 400, "currency"),
        (
            {"storedPaymentMethodId": "pm_1", "customerDetails": {"address": {"city": 7}}},
            400,
            "customerDetails.address.city",
        ),
        (
            {"storedPaymentMethodId": "pm_1", "setupFutureUsage": {"category": "installment"}},
            400,
            "setupFutureUsage.recurringModel",
        ),
        ({"storedPaymentMethodId": "pm_1", "merchantCustomerId": "c1"}, 400, "merchantCustomerId"),
    ],
)
async def test_direct_payment_validation(
    api: Any, change: dict[str, Any], status: int, param: str
) -> None:
    """[doc: direct-integration, stored-payment-methods] The sandbox checks the shapes the SDK
    checks: a ``paymentMethod`` card block or a ``storedPaymentMethodId``, the address, the
    stored-card terms (and the test rule for ``merchantCustomerId``)."""
    body = {"amount": 100, "currency": "EUR", **change}
    answer = await api.call("POST", "/payments", json_body=body)
    assert answer.status == status
    assert answer.error["param"] == param
    assert "4111111111111112" not in answer.text
    assert "4444555511113333" not in answer.text
