"""Card tokens, as BPC's mobile SDK makes them on the customer's device: the sandbox issues them
for its test cards (``gw.card_token`` and an endpoint a device can call) and accepts them in a
direct payment with the card's behaviour."""

from __future__ import annotations

from typing import Any

import aiohttp
import attrs
import pytest
from _sandbox_receivers import RouterReceiver

import bpcpay
from bpcpay import AsyncBpcPay
from bpcpay.models import CardToken, Event, Payment
from bpcpay.sandbox import INPUT_ERROR_CODE, SandboxGateway, TestCard, TestCards
from bpcpay.webhooks import WebhookRouter


def token_card(token: str) -> dict[str, Any]:
    return {"card": {"token": token}}


@pytest.mark.asyncio
@pytest.mark.parametrize(
    ("card", "status", "events"),
    [
        (TestCards.SUCCESS_FRICTIONLESS, "succeeded", ["payment.created", "payment.succeeded"]),
        (TestCards.SUCCESS_NO_3DS, "succeeded", ["payment.created", "payment.succeeded"]),
        (TestCards.SUCCESS_CHALLENGE, "requiresAction", ["payment.created"]),
        (TestCards.DECLINED, "failed", ["payment.created", "payment.failed"]),
    ],
)
async def test_a_token_pays_with_its_cards_behaviour(
    api: Any, gw: SandboxGateway, card: TestCard, status: str, events: list[str]
) -> None:
    """[doc: sdk_core_apiv2] The server passes the device's token in ``paymentMethod -> card ->
    token``: the payment goes as the card would (frictionless, challenge, decline)."""
    token = gw.card_token(card.number)
    payment = await api.create_payment(paymentMethod=token_card(token))
    assert payment["status"] == status
    assert [e.type for e in gw.events] == events
    assert token not in str(payment)
    if status == "requiresAction":
        assert payment["nextAction"]["url"].startswith(gw.url)
        result = await gw.authenticate(payment["id"])
        assert result.outcome == "succeeded"


@pytest.mark.asyncio
async def test_a_token_keeps_the_cvc_and_expiry_it_was_made_with(
    api: Any, gw: SandboxGateway
) -> None:
    """A token made with a wrong CVC declines with BPC's input error, as the card would."""
    card = TestCards.SUCCESS_NO_3DS
    token = gw.card_token(card.number, cvc="999")
    payment = await api.create_payment(paymentMethod=token_card(token))
    assert (payment["status"], payment["failureCode"]) == ("failed", INPUT_ERROR_CODE)
    expired = gw.card_token(card.number, exp_month=1, exp_year=2020)
    payment = await api.create_payment(paymentMethod=token_card(expired))
    assert payment["failureCode"] == INPUT_ERROR_CODE


@pytest.mark.asyncio
@pytest.mark.parametrize("member", ["number", "expiryMonth", "expiryYear", "cvc"])
async def test_a_token_with_card_data_is_400_naming_the_member(
    api: Any, gw: SandboxGateway, member: str
) -> None:
    """[doc: sdk_core_apiv2] "Don't specify cvc, expiryMonth, expiryYear, and number" with a
    token."""
    card = TestCards.SUCCESS_FRICTIONLESS
    values = {"number": card.number, "expiryMonth": 12, "expiryYear": 2030, "cvc": "123"}
    block = {"card": {"token": gw.card_token(card.number), member: values[member]}}
    answer = await api.call(
        "POST", "/payments", json_body={"amount": 100, "currency": "EUR", "paymentMethod": block}
    )
    assert answer.status == 400
    assert answer.error["param"] == f"paymentMethod.card.{member}"
    assert card.number not in answer.text


@pytest.mark.asyncio
async def test_an_unknown_token_is_400_and_never_echoed(api: Any, gw: SandboxGateway) -> None:
    forged = "tok_" + "A" * 40
    body = {"amount": 100, "currency": "EUR", "paymentMethod": token_card(forged)}
    answer = await api.call("POST", "/payments", json_body=body)
    assert answer.status == 400
    assert answer.error["param"] == "paymentMethod.card.token"
    assert answer.error["code"] == "token_unknown"
    assert forged not in answer.text
    assert gw.events == []


@pytest.mark.asyncio
async def test_a_device_gets_a_token_from_the_sandboxs_endpoint(
    gw: SandboxGateway, http: aiohttp.ClientSession
) -> None:
    """An app that tests from a device (no API key there) posts the card to the sandbox's
    token endpoint and gets the token it would get from BPC's SDK [inferred: sandbox only]."""
    card = TestCards.SUCCESS_FRICTIONLESS
    wire = {"number": card.number, "expiryMonth": 12, "expiryYear": 2026, "cvc": "123"}
    async with http.post(gw.url + "/sandbox/card-tokens", json=wire) as response:
        assert response.status == 200
        token = (await response.json())["token"]
    assert token.startswith("tok_")
    async with AsyncBpcPay(api_key=gw.api_key, base_url=gw.base_url) as client:
        payment = await client.payments.create(
            amount=100, currency="EUR", card=CardToken(token=token)
        )
    assert payment.status == "succeeded"
    bad = {**wire, "number": "4111111111111112"}
    async with http.post(gw.url + "/sandbox/card-tokens", json=bad) as response:
        assert response.status == 400
        body = await response.text()
    assert '"param":"number"' in body
    assert bad["number"] not in body


@pytest.mark.asyncio
async def test_the_gateway_keeps_no_number_or_cvc_for_a_token(api: Any, gw: SandboxGateway) -> None:
    card = TestCards.SUCCESS_CHALLENGE
    token = gw.card_token(card.number, cvc="123")
    await api.create_payment(paymentMethod=token_card(token))
    held = repr([attrs.asdict(facts) for facts in gw.state.tokens.values()])
    held += repr([attrs.asdict(rec, recurse=True) for rec in gw.state.payments.values()])
    assert card.number not in held
    assert "'cvc'" not in held
    assert "'123'" not in held


def test_card_token_checks_its_arguments() -> None:
    with SandboxGateway.run_in_thread() as gw:
        assert gw.card_token(TestCards.SUCCESS_FRICTIONLESS.number).startswith("tok_")
        for bad, argument in (
            ({"number": "4111111111111112"}, "number"),
            ({"number": "4111 1111 1111 1111", "exp_month": 13}, "exp_month"),
            ({"number": "4111111111111111", "cvc": "12"}, "cvc"),
        ):
            with pytest.raises(bpcpay.InvalidArgumentError) as info:
                gw.card_token(**bad)
            assert info.value.argument == argument
            assert "4111111111111112" not in str(info.value)


@pytest.mark.asyncio
async def test_a_token_payment_end_to_end(
    gw: SandboxGateway, router_receiver: RouterReceiver
) -> None:
    """Client, events and the webhook router: a token payment's deliveries reach a router
    whose handler sees the Payment."""
    seen: list[tuple[str, Payment]] = []
    router: WebhookRouter = router_receiver.router

    @router.on("payment.*")
    def paid(event: Event[Payment]) -> None:
        assert isinstance(event.data.object, Payment)
        seen.append((event.type, event.data.object))

    gw.add_webhook_endpoint(router_receiver.url)
    token = gw.card_token(TestCards.SUCCESS_NO_3DS.number)
    async with AsyncBpcPay(api_key=gw.api_key, base_url=gw.base_url) as client:
        payment = await client.payments.create(amount=4200, currency="EUR", card={"token": token})
    await gw.wait_for_deliveries()
    assert [(kind, p.id) for kind, p in seen] == [
        ("payment.created", payment.id),
        ("payment.succeeded", payment.id),
    ]
    assert seen[-1][1].amount_received == 4200
    assert router_receiver.reasons == ["handled", "handled"]


@pytest.mark.asyncio
async def test_the_mobile_sdk_payment_flow(gw: SandboxGateway) -> None:
    """[doc: sdk_payment-apiv2] The server creates a session, the app pays it (the redirect to
    ``successUrl`` is its marker to close the web view), and the server retrieves the session
    by its id to see it paid."""
    async with AsyncBpcPay(api_key=gw.api_key, base_url=gw.base_url) as client:
        session = await client.sessions.create(
            amount=990,
            currency="EUR",
            success_url="https://app.example/close?done=1",
            failure_url="https://app.example/close?done=0",
        )
        result = await gw.pay(session.id)  # what the app's web view does
        assert result.redirect_url is not None
        assert result.redirect_url.startswith("https://app.example/close?done=1")
        assert f"sessionId={session.id}" in result.redirect_url
        paid = await client.sessions.retrieve(session.id)
    assert (paid.status, paid.payment_status) == ("complete", "paid")
