"""Payment lifecycles on the wire: capture, cancel, refunds, and direct payments by test card."""

from __future__ import annotations

import re
from typing import Any

import pytest

from bpcpay.sandbox import INPUT_ERROR_CODE, SandboxGateway, TestCard, TestCards
from bpcpay.sandbox._ids import BASE58


def card_body(card: TestCard, **changes: Any) -> dict[str, Any]:
    body = {"number": card.number, "expMonth": card.exp_month, "expYear": card.exp_year,
            "cvc": card.cvc, "holder": "Ann Example"}  # fmt: skip
    return {**body, **changes}


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
async def test_partial_capture_releases_the_rest(api: Any, gw: SandboxGateway) -> None:
    payment = await manual_payment(api, gw)
    answer = await api.call(
        "POST", f"/payments/{payment['id']}/capture", json_body={"amount": 2500}
    )
    assert answer.status == 200
    assert answer.json["amountReceived"] == 2500
    assert answer.json["amountCapturable"] == 0
    again = await api.call("POST", f"/payments/{payment['id']}/capture", json_body={})
    assert again.status == 409
    assert again.error["code"] == "payment_not_capturable"


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
    payment = await manual_payment(api, gw)
    mark = len(gw.events)
    answer = await api.call("POST", f"/payments/{payment['id']}/cancel", json_body={})
    assert answer.status == 200
    assert answer.json["status"] == "canceled"
    assert answer.json["amountCapturable"] == 0
    assert types_since(gw, mark) == ["payment.canceled"]
    assert (await api.call("POST", f"/payments/{payment['id']}/cancel")).status == 409
    capture = await api.call("POST", f"/payments/{payment['id']}/capture", json_body={})
    assert capture.status == 409


@pytest.mark.asyncio
async def test_cancel_of_a_succeeded_payment_is_409(api: Any, gw: SandboxGateway) -> None:
    payment = await paid_payment(api, gw)
    answer = await api.call("POST", f"/payments/{payment['id']}/cancel", json_body={})
    assert answer.status == 409
    assert answer.error["code"] == "payment_not_cancelable"


@pytest.mark.asyncio
async def test_partial_then_full_refund_never_more_than_left(api: Any, gw: SandboxGateway) -> None:
    payment = await paid_payment(api, gw)
    mark = len(gw.events)
    first = await api.call(
        "POST", "/refunds",
        json_body={"payment": payment["id"], "amount": 3000, "reason": "damaged",
                   "metadata": {"ticket": "7"}},
    )  # fmt: skip
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
    [({}, "payment"), ({"payment": 5}, "payment"), ({"payment": "p", "amount": -1}, "amount"),
     ({"payment": "p", "reason": ""}, "reason"), ({"payment": "p", "metadata": 3}, "metadata")],
)  # fmt: skip
async def test_refund_validation(api: Any, body: dict[str, Any], param: str) -> None:
    answer = await api.call("POST", "/refunds", json_body=body)
    assert answer.status == 400
    assert answer.error["param"] == param


@pytest.mark.asyncio
@pytest.mark.parametrize(
    "card", [TestCards.SUCCESS_FRICTIONLESS, TestCards.SUCCESS_ATTEMPT, TestCards.SUCCESS_NO_3DS]
)
async def test_direct_payment_succeeds(api: Any, gw: SandboxGateway, card: TestCard) -> None:
    payment = await api.create_payment(
        card=card_body(card), merchantReferenceId="77", metadata={"a": "b"}
    )
    assert re.fullmatch(f"pay_[{BASE58}]+", payment["id"])
    assert payment["status"] == "succeeded"
    assert payment["amountReceived"] == 5000
    assert payment["merchantReferenceId"] == "77"
    assert payment["metadata"] == {"a": "b"}
    assert "session" not in payment
    assert card.number not in str(payment)
    assert [e.type for e in gw.events] == [
        "paymentMethod.created", "payment.created", "payment.succeeded"
    ]  # fmt: skip


@pytest.mark.asyncio
async def test_direct_payment_declines(api: Any, gw: SandboxGateway) -> None:
    declined = await api.create_payment(card=card_body(TestCards.DECLINED))
    assert declined["status"] == "failed"
    assert declined["failureCode"] == "card_declined"
    wrong_cvc = await api.create_payment(card=card_body(TestCards.SUCCESS_NO_3DS, cvc="321"))
    assert wrong_cvc["failureCode"] == INPUT_ERROR_CODE
    assert "payment.failed" in [e.type for e in gw.events]


@pytest.mark.asyncio
async def test_direct_manual_payment_then_capture(api: Any) -> None:
    payment = await api.create_payment(
        card=card_body(TestCards.SUCCESS_NO_3DS), captureMethod="manual"
    )
    assert payment["status"] == "requiresCapture"
    assert payment["amountCapturable"] == 5000
    answer = await api.call("POST", f"/payments/{payment['id']}/capture", json_body={})
    assert answer.json["status"] == "succeeded"


@pytest.mark.asyncio
@pytest.mark.parametrize("three_ds", ["succeed", "fail"])
async def test_direct_challenge_needs_action(api: Any, gw: SandboxGateway, three_ds: Any) -> None:
    payment = await api.create_payment(
        card=card_body(TestCards.SUCCESS_CHALLENGE), returnUrl="https://shop.example/back?o=1"
    )
    assert payment["status"] == "requiresAction"
    assert payment["nextAction"]["type"] == "redirect"
    assert payment["nextAction"]["url"].startswith(gw.url + "/payment/merchants/ecom/acs.html")
    result = await gw.authenticate(payment["id"], three_ds=three_ds)
    assert result.redirect_url == f"https://shop.example/back?o=1&paymentId={payment['id']}"
    after = (await api.call("GET", f"/payments/{payment['id']}")).json
    assert after["status"] == ("succeeded" if three_ds == "succeed" else "failed")
    assert result.outcome == ("succeeded" if three_ds == "succeed" else "failed")
    assert "nextAction" not in after


@pytest.mark.asyncio
async def test_direct_challenge_can_be_canceled(api: Any, gw: SandboxGateway) -> None:
    payment = await api.create_payment(card=card_body(TestCards.SUCCESS_CHALLENGE))
    answer = await api.call("POST", f"/payments/{payment['id']}/cancel", json_body={})
    assert answer.json["status"] == "canceled"
    with pytest.raises(LookupError):
        await gw.authenticate(payment["id"])


@pytest.mark.asyncio
async def test_payment_with_a_stored_method(api: Any, gw: SandboxGateway) -> None:
    first = await paid_payment(api, gw)
    again = await api.create_payment(paymentMethod=first["paymentMethod"], category="unscheduled")
    assert again["status"] == "succeeded"
    assert again["paymentMethod"] == first["paymentMethod"]
    assert again["category"] == "unscheduled"
    missing = await api.call(
        "POST", "/payments",
        json_body={"amount": 100, "currency": "EUR", "paymentMethod": "pm_nope"},
    )  # fmt: skip
    assert missing.status == 404
    assert missing.error["param"] == "paymentMethod"


@pytest.mark.asyncio
@pytest.mark.parametrize(
    ("change", "status", "param"),
    [
        ({}, 400, "card"),
        ({"card": {"number": "4111"}, "paymentMethod": "pm_1"}, 400, "card"),
        ({"card": "4111111111111111"}, 400, "card"),
        ({"card": {"expMonth": 1}}, 400, "card.number"),
        ({"card": card_body(TestCards.SUCCESS_NO_3DS, number="4111111111111112")}, 400,
         "card.number"),
        ({"card": card_body(TestCards.SUCCESS_NO_3DS, expMonth=13)}, 400, "card.expMonth"),
        ({"card": card_body(TestCards.SUCCESS_NO_3DS, expYear=26)}, 400, "card.expYear"),
        ({"card": card_body(TestCards.SUCCESS_NO_3DS, cvc=123)}, 400, "card.cvc"),
        ({"card": card_body(TestCards.SUCCESS_NO_3DS, holder="")}, 400, "card.holder"),
        ({"paymentMethod": "pm_1", "captureMethod": "soon"}, 400, "captureMethod"),
        ({"paymentMethod": "pm_1", "returnUrl": "/back"}, 412, "returnUrl"),
        ({"paymentMethod": "pm_1", "amount": 1.5}, 400, "amount"),
        ({"paymentMethod": "pm_1", "currency": "XXX"}, 400, "currency"),
    ],
)  # fmt: skip
async def test_direct_payment_validation(
    api: Any, change: dict[str, Any], status: int, param: str
) -> None:
    body = {"amount": 100, "currency": "EUR", **change}
    answer = await api.call("POST", "/payments", json_body=body)
    assert answer.status == status
    assert answer.error["param"] == param
    assert "4111111111111112" not in answer.text
