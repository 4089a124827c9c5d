"""The hosted payment page and the 3-D Secure page, driven over HTTP like a browser."""

from __future__ import annotations

import logging
from datetime import date, timedelta
from typing import Any

import pytest

from bpcpay import AsyncBpcPay
from bpcpay.sandbox import (
    DECLINED_CODE,
    INPUT_ERROR_CODE,
    ManualClock,
    SandboxGateway,
    TestCards,
    expiry_accepted,
    format_amount,
)
from bpcpay.sandbox._app import parse_expiry, with_query

SUCCESS_URL = "https://shop.example/success"
FAILURE_URL = "https://shop.example/failure"


def form(card: str, expiry: str = "12/26", cvc: str = "123") -> dict[str, str]:
    return {"cardNumber": card, "expiry": expiry, "cvc": cvc, "cardholder": "Ann Example"}


@pytest.mark.parametrize(
    ("amount", "currency", "text"),
    [
        (10000, "EUR", "100.00 EUR"),
        (5, "USD", "0.05 USD"),
        (123456789, "USD", "1,234,567.89 USD"),
        (1000, "JPY", "1,000 JPY"),
        (1234, "KWD", "1.234 KWD"),
    ],
)
def test_amounts_are_formatted_with_the_currency_exponent(
    amount: int, currency: str, text: str
) -> None:
    assert format_amount(amount, currency) == text


def test_expiry_rule() -> None:
    card = TestCards.SUCCESS_FRICTIONLESS  # documented 12/26
    before = date(2026, 6, 1)
    after = date(2027, 2, 1)
    assert expiry_accepted(card, 12, 2026, before)
    assert expiry_accepted(card, 11, 2030, before)  # a later one that has not passed
    assert not expiry_accepted(card, 11, 2026, before)  # an earlier one is wrong
    assert expiry_accepted(card, 12, 2026, after)  # the documented date always works
    assert expiry_accepted(card, 3, 2027, after)  # once it has passed, any future date does
    assert expiry_accepted(card, 2, 2027, after)  # valid through the end of its month
    assert not expiry_accepted(card, 1, 2027, after)


@pytest.mark.parametrize(
    ("text", "parsed"),
    [
        ("12/26", (12, 2026)),
        ("1/30", (1, 2030)),
        ("12 / 2034", (12, 2034)),
        ("1226", (12, 2026)),
        ("13/26", None),
        ("ab/cd", None),
        ("", None),
    ],
)
def test_parse_expiry(text: str, parsed: tuple[int, int] | None) -> None:
    assert parse_expiry(text) == parsed


def test_redirect_keeps_the_existing_query() -> None:
    assert with_query("https://s.example/ok?order=7#top", sessionId="ps_1") == (
        "https://s.example/ok?order=7&sessionId=ps_1#top"
    )


@pytest.mark.asyncio
async def test_page_shows_amount_and_a_plain_form(api: Any) -> None:
    session = await api.create_session(amount=10000, merchantReferenceId="A-<1>")
    page = await api.get(session["paymentUrl"])
    assert page.status == 200
    assert page.headers["Content-Type"].startswith("text/html")
    assert "100.00 EUR" in page.text
    assert "A-&lt;1&gt;" in page.text
    for name in ("cardNumber", "expiry", "cvc", "cardholder"):
        assert f'name="{name}"' in page.text
    assert '<form method="post"' in page.text
    assert "<script" not in page.text
    assert "<span>5555</span><span>5555</span><span>5555</span><span>5599</span>" in page.text
    assert "http://" not in page.text.split("<main>")[0].split("<style>")[1]  # no external assets


@pytest.mark.asyncio
async def test_yen_page_has_no_decimals(api: Any) -> None:
    session = await api.create_session(amount=1500, currency="JPY")
    page = await api.get(session["paymentUrl"])
    assert "1,500 JPY" in page.text


@pytest.mark.asyncio
@pytest.mark.parametrize(
    "card",
    [TestCards.SUCCESS_FRICTIONLESS, TestCards.SUCCESS_ATTEMPT, TestCards.SUCCESS_NO_3DS],
)
async def test_cards_that_pay_without_a_challenge(api: Any, gw: SandboxGateway, card: Any) -> None:
    """[doc: redirect-integration, stored-payment-methods] A paid session redirects to
    ``successUrl?sessionId=`` and emits ``session.completed`` (payment events alongside); the
    card is stored because the session asked (``setupFutureUsage``)."""
    session = await api.create_session(
        successUrl=SUCCESS_URL + "?order=9",
        merchantCustomerId="cust_0001",
        setupFutureUsage={"category": "unscheduled"},
    )
    spaced = " ".join(card.number[i : i + 4] for i in range(0, 16, 4))
    answer = await api.post_form(session["paymentUrl"], form(spaced, card.expiry))
    assert answer.status == 303
    assert answer.headers["Location"] == f"{SUCCESS_URL}?order=9&sessionId={session['id']}"
    paid = (await api.call("GET", f"/sessions/{session['id']}")).json
    assert paid["status"] == "complete"
    assert paid["paymentStatus"] == "paid"
    payment = (await api.call("GET", f"/payments/{paid['payment']}")).json
    assert payment["status"] == "succeeded"
    assert payment["session"] == session["id"]
    assert payment["amountReceived"] == 10000
    method = (await api.call("GET", f"/payment-methods/{payment['storedPaymentMethodId']}")).json
    assert method["card"]["last4"] == card.last4
    assert method["merchantCustomerId"] == "cust_0001"
    assert card.number not in str(method)
    types = [e.type for e in gw.events]
    assert types == [
        "payment.created",
        "paymentMethod.created",
        "payment.succeeded",
        "session.completed",
    ]


@pytest.mark.asyncio
async def test_a_session_that_did_not_ask_stores_no_card(api: Any, gw: SandboxGateway) -> None:
    """[doc: stored-payment-methods] Without ``setupFutureUsage`` (or with category ``empty``)
    nothing is stored."""
    for fields in ({}, {"setupFutureUsage": {"category": "empty"}}):
        session = await api.create_session(merchantCustomerId="cust_0001", **fields)
        assert (await gw.pay(session["id"])).succeeded
    assert gw.state.payment_methods == {}
    assert "paymentMethod.created" not in [e.type for e in gw.events]


@pytest.mark.asyncio
async def test_challenge_card_then_succeed(api: Any, gw: SandboxGateway) -> None:
    session = await api.create_session()
    card = TestCards.SUCCESS_CHALLENGE
    answer = await api.post_form(session["paymentUrl"], form(card.number, card.expiry))
    assert answer.status == 303
    acs = answer.headers["Location"]
    assert acs.startswith(gw.url + "/payment/merchants/ecom/acs.html?challenge=")
    challenge = await api.get(acs)
    assert challenge.status == 200
    assert "100.00 EUR" in challenge.text
    assert 'value="succeed"' in challenge.text
    assert 'value="fail"' in challenge.text
    assert "5599" in challenge.text
    assert card.number not in challenge.text
    assert gw.state.sessions[session["id"]].status == "open"  # nothing paid before the answer
    challenge_id = acs.split("challenge=")[1]
    done = await api.post_form(
        gw.url + "/payment/merchants/ecom/acs.html",
        {"challenge": challenge_id, "result": "succeed"},
    )
    assert done.status == 303
    assert done.headers["Location"] == f"{SUCCESS_URL}?sessionId={session['id']}"
    assert gw.state.sessions[session["id"]].status == "complete"
    again = await api.get(acs)
    assert again.status == 410
    assert [e.type for e in gw.events] == [
        "payment.created",
        "payment.succeeded",
        "session.completed",
    ]
    assert gw.events[0].object["status"] == "requiresAction"


@pytest.mark.asyncio
async def test_challenge_card_then_fail_keeps_the_session_open(
    api: Any, gw: SandboxGateway
) -> None:
    session = await api.create_session()
    result = await gw.pay(session["id"], card=TestCards.SUCCESS_CHALLENGE, three_ds="fail")
    assert result.outcome == "failed"
    assert result.challenged
    assert result.redirect_url == f"{FAILURE_URL}?sessionId={session['id']}"
    state = gw.state.sessions[session["id"]]
    assert state.status == "open"
    assert [a.outcome for a in state.attempts] == ["challenged", "declined"]
    retry = await gw.pay(session["id"], card=TestCards.SUCCESS_CHALLENGE)
    assert retry.succeeded
    assert [e.type for e in gw.events] == [
        "payment.created",
        "payment.failed",
        "payment.succeeded",
        "session.completed",
    ]


@pytest.mark.asyncio
async def test_declined_card_redirects_to_failure_and_stays_open(
    api: Any, gw: SandboxGateway
) -> None:
    """[doc: direct-integration, cancel-refund] A declined attempt emits ``payment.created``
    then ``payment.failed``; the customer may try again, so the session stays open and its
    payment waits for a payment method (``requiresPaymentMethod``, cancellable)."""
    session = await api.create_session(failureUrl=FAILURE_URL + "?why=x")
    card = TestCards.DECLINED
    answer = await api.post_form(session["paymentUrl"], form(card.number, card.expiry))
    assert answer.status == 303
    assert answer.headers["Location"] == f"{FAILURE_URL}?why=x&sessionId={session['id']}"
    after = (await api.call("GET", f"/sessions/{session['id']}")).json
    assert after["status"] == "open"
    assert after["paymentStatus"] == "unpaid"
    assert gw.state.sessions[session["id"]].attempts[-1].code == DECLINED_CODE
    assert [e.type for e in gw.events] == ["payment.created", "payment.failed"]
    failed = gw.events[-1].object
    assert (failed["status"], failed["failureCode"]) == ("requiresPaymentMethod", DECLINED_CODE)
    assert after["payment"] == failed["id"]
    page = await api.get(session["paymentUrl"])
    assert page.status == 200
    assert 'name="cardNumber"' in page.text
    assert (await gw.pay(session["id"])).succeeded
    assert [e.type for e in gw.events][2:] == ["payment.succeeded", "session.completed"]
    paid = (await api.call("GET", f"/payments/{failed['id']}")).json
    assert paid["status"] == "succeeded"
    assert "failureCode" not in paid


@pytest.mark.asyncio
async def test_a_payment_waiting_for_a_card_can_be_cancelled(api: Any, gw: SandboxGateway) -> None:
    """[doc: cancel-refund] ``requiresPaymentMethod`` is cancellable; the session's next card
    entry then starts a new payment."""
    session = await api.create_session()
    assert (await gw.pay(session["id"], card=TestCards.DECLINED)).outcome == "failed"
    first = gw.events[0].object["id"]
    canceled = await api.call("POST", f"/payments/{first}/cancel")
    assert canceled.json["status"] == "canceled"
    assert (await gw.pay(session["id"])).succeeded
    paid = (await api.call("GET", f"/sessions/{session['id']}")).json
    assert paid["payment"] != first
    later = ["payment.canceled", "payment.created", "payment.succeeded", "session.completed"]
    assert [e.type for e in gw.events][2:] == later


@pytest.mark.asyncio
@pytest.mark.parametrize(
    ("cvc", "expiry"), [("124", "12/26"), ("123", "11/26"), ("123", "12/25"), ("999", "01/25")]
)
async def test_wrong_cvc_or_expiry_declines_71015(
    api: Any, gw: SandboxGateway, cvc: str, expiry: str
) -> None:
    session = await api.create_session()
    answer = await api.post_form(
        session["paymentUrl"], form(TestCards.SUCCESS_FRICTIONLESS.number, expiry, cvc)
    )
    assert answer.status == 303
    assert answer.headers["Location"].startswith(FAILURE_URL)
    assert gw.state.sessions[session["id"]].attempts[-1].code == INPUT_ERROR_CODE


@pytest.mark.asyncio
async def test_unknown_card_declines(api: Any, gw: SandboxGateway) -> None:
    session = await api.create_session()
    result = await gw.pay(session["id"], card="4242 4242 4242 4242")
    assert result.outcome == "failed"
    assert gw.state.sessions[session["id"]].attempts[-1].code == DECLINED_CODE


@pytest.mark.asyncio
async def test_fixed_expiry_that_passed_accepts_a_future_date(clock: ManualClock) -> None:
    clock.advance(timedelta(days=400))  # 2027-04: 12/26 is in the past
    async with (
        SandboxGateway(clock=clock) as gateway,
        AsyncBpcPay(api_key=gateway.api_key, base_url=gateway.base_url) as client,
    ):
        session = await client.sessions.create(
            amount=100, currency="EUR", success_url=SUCCESS_URL, failure_url=FAILURE_URL
        )
        card = TestCards.SUCCESS_FRICTIONLESS
        assert (await gateway.pay(session.id, card=card, expiry="05/29")).succeeded
        session = await client.sessions.create(
            amount=100, currency="EUR", success_url=SUCCESS_URL, failure_url=FAILURE_URL
        )
        assert (await gateway.pay(session.id, card=card, expiry="01/27")).outcome == "failed"


@pytest.mark.asyncio
@pytest.mark.parametrize(
    ("fields", "message"),
    [
        (form("4111 1111 abcd"), "card number"),
        (form("4111111111111111", expiry="2026-12"), "expiry"),
        (form("4111111111111111", cvc="12"), "security code"),
    ],
)
async def test_malformed_entries_rerender_without_echoing_card_data(
    api: Any, gw: SandboxGateway, fields: dict[str, str], message: str
) -> None:
    session = await api.create_session()
    answer = await api.post_form(session["paymentUrl"], fields)
    assert answer.status == 400
    assert message in answer.text
    assert 'role="alert"' in answer.text
    assert "Ann Example" in answer.text  # the cardholder is refilled
    for card in TestCards.ALL:
        assert card.number not in answer.text
        assert " ".join(card.number[i : i + 4] for i in range(0, 16, 4)) not in answer.text
    assert fields["cardNumber"] not in answer.text
    assert 'value="123"' not in answer.text
    assert gw.state.sessions[session["id"]].attempts == []


@pytest.mark.asyncio
async def test_card_data_never_reaches_logs_or_state(
    api: Any, gw: SandboxGateway, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    session = await api.create_session()
    for card in TestCards.ALL:
        await gw.pay(session["id"], card=card, three_ds="fail")
    text = caplog.text + repr(gw.state.sessions) + repr(gw.state.challenges)
    text += repr(gw.state.payment_methods) + "".join(e.body.decode() for e in gw.events)
    for card in TestCards.ALL:
        assert card.number not in text
    assert "cvc=123" not in text
    assert gw.api_key not in caplog.text
    assert gw.webhook_secret not in caplog.text


@pytest.mark.asyncio
async def test_expired_session_page_says_so(api: Any, gw: SandboxGateway) -> None:
    session = await api.create_session()
    gw.advance_clock(timedelta(minutes=21))
    page = await api.get(session["paymentUrl"])
    assert page.status == 410
    assert "expired" in page.text
    assert "<form" not in page.text
    posted = await api.post_form(session["paymentUrl"], form(TestCards.SUCCESS_NO_3DS.number))
    assert posted.status == 410
    result = await gw.pay(session["id"])
    assert result.outcome == "unavailable"
    assert result.message is not None and "expired" in result.message


@pytest.mark.asyncio
async def test_challenge_page_of_an_expired_session_is_refused(
    api: Any, gw: SandboxGateway
) -> None:
    session = await api.create_session()
    card = TestCards.SUCCESS_CHALLENGE
    answer = await api.post_form(session["paymentUrl"], form(card.number, card.expiry))
    gw.advance_clock(timedelta(minutes=30))
    challenge = await api.get(answer.headers["Location"])
    assert challenge.status == 410
    assert "expired" in challenge.text


@pytest.mark.asyncio
async def test_completed_session_page_says_so(api: Any, gw: SandboxGateway) -> None:
    session = await api.create_session()
    assert (await gw.pay(session["id"])).succeeded
    page = await api.get(session["paymentUrl"])
    assert page.status == 200
    assert "already been paid" in page.text
    assert "<form" not in page.text
    second = await gw.pay(session["id"])
    assert second.outcome == "unavailable"
    assert len(gw.state.payments) == 1


@pytest.mark.asyncio
async def test_unknown_page_and_challenge_are_404(api: Any, gw: SandboxGateway) -> None:
    page = await api.get(gw.url + "/payment/merchants/ecom/payment.html?mdOrder=nope")
    assert page.status == 404
    challenge = await api.get(gw.url + "/payment/merchants/ecom/acs.html?challenge=nope")
    assert challenge.status == 404
    other = await api.get(gw.url + "/favicon.ico")
    assert other.status == 404
    assert other.headers["Content-Type"].startswith("text/html")


@pytest.mark.asyncio
async def test_manual_capture_session_leaves_payment_requires_capture(
    api: Any, gw: SandboxGateway
) -> None:
    session = await api.create_session(paymentData={"captureMethod": "manual"})
    assert (await gw.pay(session["id"], card=TestCards.SUCCESS_NO_3DS)).succeeded
    payment_id = gw.state.sessions[session["id"]].payment_id
    payment = (await api.call("GET", f"/payments/{payment_id}")).json
    assert payment["status"] == "requiresCapture"
    assert payment["amountCapturable"] == 10000
    assert payment["captureMethod"] == "manual"
    assert "payment.succeeded" not in [e.type for e in gw.events]
    assert [e.type for e in gw.events][-1] == "session.completed"


@pytest.mark.asyncio
async def test_pay_helper_reports_a_rejected_form(api: Any, gw: SandboxGateway) -> None:
    session = await api.create_session()
    result = await gw.pay(session["id"], card=TestCards.SUCCESS_NO_3DS, cvc="12")
    assert result.outcome == "rejected"
    assert result.status == 400
    assert result.message is not None and "security code" in result.message
    assert result.redirect_url is None


@pytest.mark.asyncio
async def test_pay_helper_with_one_return_url_for_both_outcomes(
    api: Any, gw: SandboxGateway
) -> None:
    back = "https://shop.example/return"
    declined = await api.create_session(successUrl=back, failureUrl=back)
    result = await gw.pay(declined["id"], card=TestCards.DECLINED)
    assert result.outcome == "failed"
    assert result.redirect_url == f"{back}?sessionId={declined['id']}"
    paid = await api.create_session(successUrl=back, failureUrl=back)
    assert (await gw.pay(paid["id"], card="4444 5555 1111 3333")).succeeded
