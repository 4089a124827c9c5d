"""The SDK against the sandbox: every endpoint through AsyncBpcPay and BpcPay, the pytest
plugin's fixtures, and the threaded gateway."""

from __future__ import annotations

import threading
import warnings
from datetime import datetime, timedelta, timezone

import aiohttp
import pytest

import bpcpay
from bpcpay import AsyncBpcPay, BpcPay, PaymentCard
from bpcpay.sandbox import SandboxGateway, TestCards, ThreadedSandboxGateway
from bpcpay.testing import webhook_delivery
from bpcpay.webhooks import construct_event

SUCCESS_URL = "https://shop.example/success"
FAILURE_URL = "https://shop.example/failure"


def card(test_card: bpcpay.sandbox.TestCard) -> PaymentCard:
    return PaymentCard(
        number=test_card.number,
        exp_month=test_card.exp_month,
        exp_year=test_card.exp_year,
        cvc=test_card.cvc,
        holder="Ann",
    )


@pytest.mark.asyncio
async def test_sessions_create_and_retrieve(
    bpcpay_sandbox: SandboxGateway, bpcpay_client: AsyncBpcPay
) -> None:
    expires = datetime.now(timezone.utc).replace(microsecond=0) + timedelta(minutes=5)
    session = await bpcpay_client.sessions.create(
        amount=10000,
        currency="eur",
        success_url=SUCCESS_URL,
        failure_url=FAILURE_URL,
        merchant_reference_id="4000",
        locale="en",
        metadata={"k": "v"},
        customer_details={"email": "ann@example.com", "address": {"country": "CY"}},
        capture_method="manual",
        expires_at=expires,
        merchant_customer_id="cust_0001",
        setup_future_usage=bpcpay.models.SetupFutureUsage(category="unscheduled"),
        extra_body={"brandNewField": {"x": [1]}},
    )
    assert session.id.startswith("ps_")
    assert session.currency == "EUR"
    assert session.status == "open"
    assert session.payment_status == "unpaid"
    assert session.expires_at == expires
    assert session.metadata == {"k": "v"}
    assert session.customer_details is not None
    assert session.customer_details.email == "ann@example.com"
    assert session.customer_details.address == bpcpay.models.Address(country="CY")
    assert session.payment_data is not None
    assert session.payment_data.capture_method == "manual"
    assert session.merchant_customer_id == "cust_0001"
    assert session.setup_future_usage == bpcpay.models.SetupFutureUsage(category="unscheduled")
    assert session.raw["brandNewField"] == {"x": [1]}
    assert session.request_id == bpcpay_sandbox.requests[-1].request_id
    assert session.payment_url is not None
    assert session.payment_url.startswith(bpcpay_sandbox.url)
    result = await bpcpay_sandbox.pay(session.id, card=TestCards.SUCCESS_CHALLENGE)
    assert result.succeeded
    assert result.redirect_url == f"{SUCCESS_URL}?sessionId={session.id}"
    paid = await bpcpay_client.sessions.retrieve(session.id)
    assert paid.status == "complete"
    assert paid.payment_status == "paid"
    assert paid.payment is not None


@pytest.mark.asyncio
async def test_payments_capture_cancel_refunds_and_methods(
    bpcpay_sandbox: SandboxGateway, bpcpay_client: AsyncBpcPay
) -> None:
    client = bpcpay_client
    held = await client.payments.create(
        amount=5000,
        currency="EUR",
        card=card(TestCards.SUCCESS_NO_3DS),
        capture_method="manual",
        merchant_reference_id="o-1",
        metadata={"a": "b"},
        merchant_customer_id="cust_0001",
        setup_future_usage={"category": "unscheduled"},
    )
    assert held.status == bpcpay.PaymentStatus.REQUIRES_CAPTURE
    assert held.amount_capturable == 5000
    part = await client.payments.capture(held.id, amount=3000)
    assert (part.status, part.amount_received, part.amount_capturable) == (
        "requiresCapture",
        3000,
        2000,
    )
    with pytest.raises(bpcpay.InvalidRequestError) as too_much:
        await client.payments.capture(held.id, amount=2001)
    assert too_much.value.param == "amount"
    captured = await client.payments.capture(held.id, amount=1000)
    assert captured.status == "requiresCapture"
    assert captured.amount_received == 4000
    with pytest.raises(bpcpay.ConflictError):
        await client.payments.cancel(held.id)  # only before the first capture
    captured = await client.payments.capture(held.id)  # the rest
    assert (captured.status, captured.amount_received) == ("succeeded", 5000)
    with pytest.raises(bpcpay.ConflictError):
        await client.payments.capture(held.id)
    refund = await client.refunds.create(payment_id=held.id, amount=1000, reason="late")
    assert refund.amount == 1000
    assert refund.status == "succeeded"
    assert (await client.refunds.retrieve(refund.id)) == refund
    with pytest.raises(bpcpay.InvalidRequestError) as over:
        await client.refunds.create(payment_id=held.id, amount=4001)
    assert over.value.param == "amount"
    assert over.value.status_code == 400
    fetched = await client.payments.retrieve(held.id)
    assert fetched.amount_refunded == 1000
    assert fetched.stored_payment_method_id is not None
    method = await client.payment_methods.retrieve(fetched.stored_payment_method_id)
    assert method.card is not None
    assert method.card.last4 == "3333"
    assert method.card.brand == "visa"
    assert method.merchant_customer_id == "cust_0001"
    voided = await client.payments.create(
        amount=700, currency="EUR", stored_payment_method_id=method.id, capture_method="manual"
    )
    canceled = await client.payments.cancel(voided.id)
    assert canceled.status == "canceled"
    challenged = await client.payments.create(
        amount=700, currency="EUR", card=card(TestCards.SUCCESS_CHALLENGE)
    )
    assert challenged.status == "requiresAction"
    assert (await bpcpay_sandbox.authenticate(challenged.id)).succeeded
    assert (await client.payments.retrieve(challenged.id)).status == "succeeded"


@pytest.mark.asyncio
async def test_sdk_errors_from_the_sandbox(
    bpcpay_sandbox: SandboxGateway, bpcpay_client: AsyncBpcPay
) -> None:
    with pytest.raises(bpcpay.NotFoundError) as missing:
        await bpcpay_client.sessions.retrieve("ps_nope")
    assert missing.value.request_id is not None
    with pytest.raises(bpcpay.NotFoundError):
        await bpcpay_client.payments.retrieve("pay_nope")
    with pytest.raises(bpcpay.NotFoundError):
        await bpcpay_client.refunds.retrieve("re_nope")
    with pytest.raises(bpcpay.NotFoundError):
        await bpcpay_client.payment_methods.retrieve("pm_nope")
    with pytest.raises(bpcpay.InvalidRequestError) as currency:
        await bpcpay_client.sessions.create(
            amount=100, currency="ZZZ", success_url=SUCCESS_URL, failure_url=FAILURE_URL
        )
    assert currency.value.param == "currency"
    async with AsyncBpcPay(api_key="sk_wrong", base_url=bpcpay_sandbox.base_url) as wrong:
        with pytest.raises(bpcpay.AuthenticationError) as auth:
            await wrong.sessions.retrieve("ps_x")
    assert "sk_wrong" not in str(auth.value)
    async with AsyncBpcPay(
        api_key=bpcpay_sandbox.restricted_api_key, base_url=bpcpay_sandbox.base_url
    ) as restricted:
        with pytest.raises(bpcpay.PermissionDeniedError):
            await restricted.sessions.retrieve("ps_x")


@pytest.mark.asyncio
async def test_low_level_request_reaches_the_sandbox(
    bpcpay_sandbox: SandboxGateway, bpcpay_client: AsyncBpcPay
) -> None:
    data = await bpcpay_client.request(
        "POST",
        "/sessions",
        json={"amount": 1, "currency": "JPY", "successUrl": SUCCESS_URL, "failureUrl": FAILURE_URL},
    )
    assert data["currency"] == "JPY"
    assert data["id"] in bpcpay_sandbox.state.sessions


def test_sync_client_fixture_every_endpoint(
    bpcpay_sync_sandbox: ThreadedSandboxGateway, bpcpay_sync_client: BpcPay
) -> None:
    client = bpcpay_sync_client
    session = client.sessions.create(
        amount=2500,
        currency="USD",
        success_url=SUCCESS_URL,
        failure_url=FAILURE_URL,
        capture_method="manual",
        setup_future_usage={"category": "unscheduled"},
    )
    result = bpcpay_sync_sandbox.pay(session.id, card=TestCards.SUCCESS_ATTEMPT)
    assert result.succeeded
    session = client.sessions.retrieve(session.id)
    assert session.payment is not None
    payment = client.payments.capture(session.payment)
    assert payment.status == "succeeded"
    assert payment.session == session.id
    refund = client.refunds.create(payment_id=payment.id)
    assert client.refunds.retrieve(refund.id).amount == 2500
    assert payment.stored_payment_method_id is not None
    assert client.payment_methods.retrieve(payment.stored_payment_method_id).card is not None
    expiring = client.sessions.create(
        amount=10, currency="USD", success_url=SUCCESS_URL, failure_url=FAILURE_URL
    )
    assert client.sessions.expire(expiring.id).status == "expired"
    with pytest.raises(bpcpay.ConflictError):
        client.sessions.expire(expiring.id)
    direct = client.payments.create(amount=10, currency="USD", card=card(TestCards.DECLINED))
    assert direct.status == "failed"
    manual = client.payments.create(
        amount=10, currency="USD", card=card(TestCards.SUCCESS_NO_3DS), capture_method="manual"
    )
    assert client.payments.cancel(manual.id).status == "canceled"
    assert client.payments.retrieve(manual.id).status == "canceled"
    types = [e.type for e in bpcpay_sync_sandbox.events]
    assert types.count("session.completed") == 1
    assert "payment.funded" in types


def test_run_in_thread_lifecycle_and_helpers() -> None:
    received: list[tuple[bytes, dict[str, str]]] = []
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        with SandboxGateway.run_in_thread(webhook_retry_schedule=(0.01,)) as gw:
            assert gw.base_url.startswith("http://127.0.0.1:")
            assert repr(gw).endswith(gw.base_url + ">")

            async def receiver_app() -> str:
                from aiohttp import web

                async def hook(request: web.Request) -> web.Response:
                    received.append((await request.read(), dict(request.headers)))
                    return web.Response()

                app = web.Application()
                app.router.add_post("/hook", hook)
                runner = web.AppRunner(app, access_log=None)
                await runner.setup()
                await web.TCPSite(runner, "127.0.0.1", 0).start()
                cleanup.append(runner)
                return f"http://127.0.0.1:{runner.addresses[0][1]}/hook"

            cleanup: list[object] = []
            url = gw.run(receiver_app)
            endpoint = gw.add_webhook_endpoint(url, events=["session.expired"])
            assert endpoint.events == frozenset({"session.expired"})
            with BpcPay(api_key=gw.api_key, base_url=gw.base_url) as client:
                session = client.sessions.create(
                    amount=100, currency="EUR", success_url=SUCCESS_URL, failure_url=FAILURE_URL
                )
            before = gw.now()
            after = gw.advance_clock(timedelta(minutes=21))
            assert after - before >= timedelta(minutes=21)
            assert gw.expire_due() == []
            deliveries = gw.wait_for_deliveries()
            assert [d.event.type for d in deliveries] == ["session.expired"]
            (again,) = gw.resend(deliveries[0].id)
            assert len(again.attempts) == 2
            gw.faults.add(path="/api2/sessions/*", status=500)
            assert gw.faults.pending[0].status == 500
            assert [r.method for r in gw.requests] == ["POST"]
            with pytest.raises(LookupError, match="HTTP 500"):
                gw.pay(session.id)  # the fault answered the customer's session lookup
            assert gw.pay(session.id).outcome == "unavailable"

            async def close_receiver() -> None:
                for runner in cleanup:
                    await runner.cleanup()  # type: ignore[attr-defined]

            gw.run(close_receiver)
        thread_names = [t.name for t in threading.enumerate()]
    assert "bpcpay-sandbox" not in thread_names
    event = construct_event(*received[0], secret=gw.webhook_secret)
    assert event.type == "session.expired"
    with pytest.raises(RuntimeError, match="stopped"):
        gw.now()
    gw.stop()  # idempotent


def test_run_in_thread_reports_a_port_in_use() -> None:
    with SandboxGateway.run_in_thread() as first, pytest.raises(OSError):
        SandboxGateway.run_in_thread(port=first.gateway.port)


@pytest.mark.asyncio
async def test_plugin_fixture_is_a_running_gateway(bpcpay_sandbox: SandboxGateway) -> None:
    assert bpcpay_sandbox.running
    async with aiohttp.ClientSession() as http, http.get(bpcpay_sandbox.url + "/") as response:
        assert response.status == 200
        assert bpcpay_sandbox.base_url in await response.text()


def test_webhook_delivery_helper_builds_a_verifiable_delivery() -> None:
    session = bpcpay.Session(id="ps_1", amount=100, currency="EUR", status="complete")
    body, headers = webhook_delivery(
        "session.completed", session, secret="whsec_test", request_id="req_1"
    )
    event = construct_event(body, headers, secret="whsec_test")
    assert event.type == "session.completed"
    assert isinstance(event.data.object, bpcpay.Session)
    assert event.data.object.id == "ps_1"
    assert event.request_id == "req_1"
    raw_body, raw_headers = webhook_delivery("custom.thing", {"id": "x"}, secret="s")
    assert construct_event(raw_body, raw_headers, secret="s").data.object == {"id": "x"}


def test_pytest_plugin_is_registered(pytestconfig: pytest.Config) -> None:
    plugin = pytestconfig.pluginmanager.get_plugin("bpcpay")
    assert plugin is not None
    assert plugin.__name__ == "_bpcpay_pytestplugin"
