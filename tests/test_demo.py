"""``bpcpay demo``: the --auto flow end to end, and the demo store's pages in process against a
real sandbox gateway (aiohttp's test client for the store)."""

from __future__ import annotations

import asyncio
import base64
import hashlib
import os
import queue
import re
import signal
import subprocess
import sys
import threading
import urllib.request
from collections.abc import AsyncIterator
from datetime import timedelta
from html import escape
from typing import IO, TYPE_CHECKING

import pytest
import pytest_asyncio
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer

from bpcpay import EventType
from bpcpay.cli import main
from bpcpay.sandbox import SandboxGateway, TestCards
from bpcpay.testing import FAST_RETRY_SCHEDULE, webhook_delivery
from bpcpay_demo import (
    DECLINE_REASONS,
    STORE_EVENTS,
    Demo,
    DemoStore,
    OrderStatus,
    decline_reason,
    play_customer,
)

if TYPE_CHECKING:
    Shop = tuple[DemoStore, TestClient[web.Request, web.Application]]

STEPS = [
    "session created",
    "customer redirected to the payment page",
    "entered, 3-D Secure passed",
    "redirected back to the store",
    "webhook verified",
    "paid, confirmed by",
]


def _numbered(out: str) -> list[str]:
    return [line for line in out.splitlines() if re.match(r"\d\. ", line)]


def _no_secrets(out: str) -> None:
    assert "sk_test_" not in out
    assert "whsec_" not in out
    for card in TestCards.ALL:
        assert card.number not in out.replace(" ", "")


def test_auto_prints_the_six_steps_in_order_and_exits_0(
    capsys: pytest.CaptureFixture[str],
) -> None:
    assert main(["demo", "--auto", "--port", "0"]) == 0
    out = capsys.readouterr().out
    steps = _numbered(out)
    assert [line[:2] for line in steps] == ["1.", "2.", "3.", "4.", "5.", "6."]
    for line, words in zip(steps, STEPS, strict=True):
        assert words in line, line
        assert re.search(r"\[\+\d+\.\d ms\]$", line), line
    assert re.search(r"session created: ps_\w+ \(order ord_\w+\)", steps[0])
    assert "•••• 5599" in steps[2]
    assert "(page shows: paid)" in steps[3]
    assert re.search(r"delivery req_[0-9a-f-]{36}", steps[4])
    assert "confirmed by the verified webhook" in steps[5]
    assert "the order is paid, proven by a verified webhook" in out
    _no_secrets(out)


def test_auto_with_a_frictionless_card(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["demo", "--auto", "--port", "0", "--card", "4111 1111 1111 1111"]) == 0
    steps = _numbered(capsys.readouterr().out)
    assert len(steps) == 6
    assert "•••• 1111 entered, no 3-D Secure challenge needed" in steps[2]


def test_auto_with_the_declining_card_does_not_claim_payment(
    capsys: pytest.CaptureFixture[str],
) -> None:
    assert main(["demo", "--auto", "--port", "0", "--card", "5168 4948 9505 5780"]) == 1
    out = capsys.readouterr().out
    steps = _numbered(out)
    assert [line[:2] for line in steps] == ["1.", "2.", "3.", "4."]
    assert "•••• 5780 entered: declined" in steps[2]
    assert "/failure (page shows: not paid)" in steps[3]
    assert "is not paid: the card was declined" in out
    assert out.splitlines()[-1].startswith("FAILED after ")
    assert out.splitlines()[-1].endswith("is not paid: the card was declined")
    _no_secrets(out)


def test_auto_decline_exits_0_when_the_decline_is_seen_end_to_end() -> None:
    # As a person runs it: the console command, in its own process. The sandbox declines the card
    # on its page and sends a signed payment.failed; the store verifies it and its failure page
    # says why: that, and nothing less, is an exit status of 0.
    result = subprocess.run(
        [sys.executable, "-m", "bpcpay.cli", "demo", "--auto", "--decline", "--timeout", "20"],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    out = result.stdout
    steps = _numbered(out)
    assert [line[:2] for line in steps] == ["1.", "2.", "3.", "4.", "5.", "6."]
    assert "•••• 5780 entered: declined" in steps[2]
    assert "/failure (page shows: not paid)" in steps[3]
    assert "webhook verified: payment.failed, decline code card_declined" in steps[4]
    assert steps[5].startswith(
        "6. the failure page says why: the bank that issued the card declined the payment "
        "(code card_declined)"
    )
    assert "the decline was seen end to end, and the store says why" in out
    assert "Traceback" not in result.stderr
    _no_secrets(out + result.stderr)


@pytest.mark.asyncio
async def test_a_decline_seen_end_to_end() -> None:
    # In process, to look at the gateway's side too: the payment.failed the store verified is
    # the sandbox's own delivery for the card declined on its page, answered 200 once.
    lines: list[str] = []
    async with Demo() as demo:
        ok = await play_customer(
            demo, card=TestCards.DECLINED, emit=lines.append, expect="declined", timeout=10
        )
        await asyncio.wait_for(demo.gateway.wait_for_deliveries(), 10)
        (order,) = demo.store.orders.values()
        failed = [d for d in demo.gateway.deliveries if d.event.type == "payment.failed"]
    assert ok is True
    assert len(failed) == 1
    assert failed[0].succeeded
    assert [attempt.status for attempt in failed[0].attempts] == [200]
    assert failed[0].event.object["session"] == order.session_id
    steps = [line for line in lines if re.match(r"\d\. ", line)]
    assert [line[:2] for line in steps] == ["1.", "2.", "3.", "4.", "5.", "6."]
    assert "webhook verified: payment.failed, decline code card_declined" in steps[4]
    assert order.decline_code == "card_declined"
    assert not order.paid


@pytest.mark.asyncio
async def test_auto_decline_waits_for_the_verified_payment_failed() -> None:
    # A decline the store never hears about is not "seen end to end": its endpoint subscribes
    # to session.completed only, so the wait for payment.failed ends at the deadline.
    lines: list[str] = []
    async with Demo(store_events=(EventType.SESSION_COMPLETED,)) as demo:
        ok = await play_customer(
            demo, card=TestCards.DECLINED, emit=lines.append, expect="declined", timeout=0.5
        )
        (order,) = demo.store.orders.values()
    assert ok is False
    assert [line[:2] for line in lines if re.match(r"\d\. ", line)] == ["1.", "2.", "3.", "4."]
    assert lines[-1] == "timed out after 0.5 s: no verified payment.failed told the store why"
    assert order.decline_code is None


def test_card_options_need_auto(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["demo", "--decline"]) == 2
    assert "--auto" in capsys.readouterr().err


def _pump(stream: IO[str], lines: queue.Queue[str]) -> None:
    for line in stream:
        lines.put(line)


def test_interactive_demo_serves_the_store_until_sigint() -> None:
    proc = subprocess.Popen(
        [sys.executable, "-m", "bpcpay.cli", "demo", "--port", "0"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )
    lines: queue.Queue[str] = queue.Queue()
    assert proc.stdout is not None and proc.stderr is not None
    stdout = proc.stdout
    reader = threading.Thread(target=_pump, args=(stdout, lines), daemon=True)
    reader.start()
    try:
        while "Open the store:" not in (line := lines.get(timeout=20)):
            pass
        store_url = line.split()[-1].rstrip("/")
        assert store_url.startswith("http://127.0.0.1:")
        # urllib follows the store's 303 to the gateway's payment page.
        buy = urllib.request.Request(store_url + "/buy", data=b"", method="POST")  # noqa: S310
        with urllib.request.urlopen(buy, timeout=10) as page:  # noqa: S310 - loopback only
            assert "/payment/merchants/ecom/payment.html" in page.url
            assert 'id="cardNumber"' in page.read().decode()
        proc.send_signal(signal.SIGINT)
        assert proc.wait(timeout=20) == 0
        reader.join(10)
        err = proc.stderr.read()
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(timeout=10)
        stdout.close()
        proc.stderr.close()
    rest = []
    while not lines.empty():
        rest.append(lines.get())
    assert rest[-1].strip() == "demo stopped"
    assert "Traceback" not in err
    assert "POST /api2/sessions -> 200" in err
    assert re.search(r"bpcpay.demo order ord_\w+: session ps_\w+ created", err)


@pytest.mark.asyncio
async def test_auto_times_out_without_the_webhook() -> None:
    lines: list[str] = []
    # The store never hears from the gateway: its endpoint subscribes to no event.
    async with Demo(store_events=()) as demo:
        ok = await play_customer(demo, emit=lines.append, timeout=0.5)
        order = next(iter(demo.store.orders.values()))
    assert ok is False
    assert lines[-1] == "timed out after 0.5 s: the order was not paid from a verified webhook"
    assert [line[:2] for line in lines if line[:1].isdigit()] == ["1.", "2.", "3.", "4."]
    # The success page's retrieve fallback did prove the payment, but that is not enough.
    assert order.paid
    assert order.confirmed_by == "sessions.retrieve"
    assert not order.webhook_verified


# --- the store's pages, in process -------------------------------------------------------------


@pytest_asyncio.fixture
async def gateway() -> AsyncIterator[SandboxGateway]:
    async with SandboxGateway(webhook_retry_schedule=FAST_RETRY_SCHEDULE) as gw:
        yield gw


@pytest_asyncio.fixture
async def store(gateway: SandboxGateway) -> AsyncIterator[Shop]:
    shop = DemoStore(
        api_key=gateway.api_key, base_url=gateway.base_url, webhook_secret=gateway.webhook_secret
    )
    async with TestClient(TestServer(shop.app, host="127.0.0.1")) as client:
        yield shop, client


async def _buy(client: TestClient[web.Request, web.Application]) -> str:
    response = await client.post("/buy", allow_redirects=False)
    assert response.status == 303
    return response.headers["Location"]


@pytest.mark.asyncio
async def test_product_page_has_the_buy_button(store: Shop) -> None:
    _, client = store
    response = await client.get("/")
    assert response.status == 200
    html = await response.text()
    assert 'id="buy"' in html
    assert 'id="price">24.00 EUR<' in html
    assert "<link" not in html
    assert "src=" not in html  # no external assets


@pytest.mark.asyncio
async def test_buy_creates_the_session_with_the_order_id_and_redirects(
    gateway: SandboxGateway,
    store: Shop,
) -> None:
    shop, client = store
    location = await _buy(client)
    (order,) = shop.orders.values()
    assert order.session_id is not None
    assert location == order.payment_url
    assert location.startswith(gateway.url + "/payment/merchants/ecom/payment.html?mdOrder=")
    session = gateway.state.sessions[order.session_id]
    assert session.request.merchant_reference_id == order.id
    assert session.request.amount == 2400
    assert session.request.success_url == str(client.make_url("/success"))
    assert order.status == OrderStatus.PENDING
    # The product page lists it.
    assert order.id in await (await client.get("/")).text()


@pytest.mark.asyncio
async def test_success_page_without_payment_does_not_say_paid(
    store: Shop,
) -> None:
    shop, client = store
    await _buy(client)
    (order,) = shop.orders.values()
    # The customer types the success URL without paying: retrieve says unpaid.
    html = await (await client.get(f"/success?sessionId={order.session_id}")).text()
    assert 'data-status="pending">awaiting payment<' in html
    assert not order.paid
    assert (await client.get("/success?sessionId=ps_unknown")).status == 404


@pytest.mark.asyncio
async def test_the_webhook_marks_the_order_paid_once_per_delivery(
    gateway: SandboxGateway,
    store: Shop,
) -> None:
    shop, client = store
    gateway.add_webhook_endpoint(str(client.make_url("/webhooks")), STORE_EVENTS)
    await _buy(client)
    (order,) = shop.orders.values()
    assert order.session_id is not None
    assert (await gateway.pay(order.session_id, card=TestCards.SUCCESS_CHALLENGE)).succeeded
    (delivery,) = await gateway.wait_for_deliveries()
    assert delivery.attempts[-1].status == 200
    assert order.paid
    assert order.confirmed_by == "webhook"
    assert order.webhook_request_id == delivery.id
    assert order.payment_id is not None
    # A repeat of the same delivery is acknowledged and ignored.
    await gateway.resend(delivery.id)
    assert shop.duplicate_deliveries == 1
    html = await (await client.get(f"/success?sessionId={order.session_id}")).text()
    assert 'data-status="paid">paid<' in html
    assert f'id="webhook">verified, delivery {delivery.id}<' in html
    assert "<script" not in html  # nothing left to wait for
    status = await (await client.get(f"/orders/{order.id}.json")).json()
    assert status == {
        "id": order.id,
        "status": "paid",
        "confirmedBy": "webhook",
        "webhook": delivery.id,
        "payment": order.payment_id,
        "session": order.session_id,
        "declineCode": None,
        "declineReason": None,
    }


@pytest.mark.asyncio
async def test_forged_and_mismatched_webhooks_do_not_mark_paid(
    gateway: SandboxGateway,
    store: Shop,
) -> None:
    shop, client = store
    await _buy(client)
    (order,) = shop.orders.values()
    paid_session = {
        "id": order.session_id,
        "amount": 2400,
        "currency": "EUR",
        "status": "complete",
        "paymentStatus": "paid",
        "merchantReferenceId": order.id,
    }
    body, headers = webhook_delivery("session.completed", paid_session, secret="whsec_wrong")
    forged = await client.post("/webhooks", data=body, headers=headers)
    assert forged.status == 400
    cheaper = {**paid_session, "amount": 1}
    body, headers = webhook_delivery(
        "session.completed", cheaper, secret=gateway.webhook_secret, request_id="req_cheap"
    )
    assert (await client.post("/webhooks", data=body, headers=headers)).status == 200
    assert not order.paid
    assert not order.webhook_verified


@pytest.mark.asyncio
async def test_success_page_falls_back_to_retrieve_when_the_webhook_is_late(
    gateway: SandboxGateway,
    store: Shop,
) -> None:
    shop, client = store  # no webhook endpoint: the delivery never comes
    await _buy(client)
    (order,) = shop.orders.values()
    assert order.session_id is not None
    result = await gateway.pay(order.session_id, card=TestCards.SUCCESS_FRICTIONLESS)
    assert result.redirect_url == str(client.make_url(f"/success?sessionId={order.session_id}"))
    html = await (await client.get(f"/success?sessionId={order.session_id}")).text()
    assert 'data-status="paid">paid<' in html
    assert 'id="confirmed-by">sessions.retrieve<' in html
    assert "waiting for the signed session.completed" in html
    assert "<script data-url=" in html  # keeps polling for the webhook
    assert order.confirmed_by == "sessions.retrieve"
    assert not order.webhook_verified


@pytest.mark.asyncio
async def test_failure_page_offers_to_try_again_on_the_open_session(
    gateway: SandboxGateway,
    store: Shop,
) -> None:
    shop, client = store
    gateway.add_webhook_endpoint(str(client.make_url("/webhooks")), STORE_EVENTS)
    await _buy(client)
    (order,) = shop.orders.values()
    assert order.session_id is not None
    declined = await gateway.pay(order.session_id, card=TestCards.DECLINED)
    assert declined.outcome == "failed"
    assert declined.redirect_url == str(client.make_url(f"/failure?sessionId={order.session_id}"))
    html = await (await client.get(f"/failure?sessionId={order.session_id}")).text()
    assert 'id="title">Payment failed<' in html
    assert 'data-status="failed">not paid<' in html
    assert f'id="retry" href="{order.payment_url}"'.replace("&", "&amp;") in html
    # The session is still open: a second card pays the same order.
    assert (await gateway.pay(order.session_id, card=TestCards.SUCCESS_NO_3DS)).succeeded
    await gateway.wait_for_deliveries()
    assert order.paid
    assert order.confirmed_by == "webhook"


@pytest.mark.asyncio
async def test_an_expired_session_expires_the_order(
    gateway: SandboxGateway,
    store: Shop,
) -> None:
    shop, client = store
    gateway.add_webhook_endpoint(str(client.make_url("/webhooks")), STORE_EVENTS)
    await _buy(client)
    (order,) = shop.orders.values()
    gateway.advance_clock(timedelta(minutes=21))
    await gateway.wait_for_deliveries()
    assert order.status == OrderStatus.EXPIRED
    html = await (await client.get(f"/failure?sessionId={order.session_id}")).text()
    assert 'id="retry" href="/">Start a new order<' in html


@pytest.mark.asyncio
async def test_a_gateway_error_on_buy_shows_a_page_not_a_traceback(
    gateway: SandboxGateway,
    store: Shop,
) -> None:
    shop, client = store
    gateway.faults.add(method="POST", path="/api2/sessions", status=500)
    response = await client.post("/buy", allow_redirects=False)
    assert response.status == 502
    assert "The payment could not start" in await response.text()
    assert shop.orders == {}
    assert gateway.api_key not in repr(shop)


@pytest.mark.asyncio
async def test_webhooks_the_store_does_not_act_on(
    gateway: SandboxGateway,
    store: Shop,
) -> None:
    shop, client = store
    too_big = await client.post("/webhooks", data=b"x" * (256 * 1024 + 1))
    assert too_big.status == 413
    payment = {"id": "pay_1", "amount": 2400, "currency": "EUR", "status": "succeeded"}
    body, headers = webhook_delivery("payment.succeeded", payment, secret=gateway.webhook_secret)
    assert (await client.post("/webhooks", data=body, headers=headers)).status == 200
    stranger = {
        "id": "ps_other",
        "amount": 2400,
        "currency": "EUR",
        "status": "complete",
        "paymentStatus": "paid",
        "merchantReferenceId": "ord_nope",
    }
    body, headers = webhook_delivery("session.completed", stranger, secret=gateway.webhook_secret)
    assert (await client.post("/webhooks", data=body, headers=headers)).status == 200
    assert shop.orders == {}
    assert len(shop.processed_deliveries) == 2
    assert await shop.wait_for(lambda: bool(shop.orders), timeout=0.01) is False
    assert (await client.get("/orders/ord_nope.json")).status == 404


@pytest.mark.asyncio
async def test_a_failing_retrieve_leaves_the_order_pending(
    gateway: SandboxGateway,
    store: Shop,
) -> None:
    shop, client = store
    await _buy(client)
    (order,) = shop.orders.values()
    assert order.session_id is not None
    assert shop.order_for_session(order.session_id) is order
    assert (await gateway.pay(order.session_id)).succeeded  # no webhook endpoint
    gateway.faults.add(method="GET", path=f"/api2/sessions/{order.session_id}", status=404)
    html = await (await client.get(f"/success?sessionId={order.session_id}")).text()
    assert 'data-status="pending">awaiting payment<' in html
    assert not order.paid
    # A "failure" redirect for an order that turns out paid shows the truth.
    await (await client.get(f"/success?sessionId={order.session_id}")).text()
    assert order.paid
    html = await (await client.get(f"/failure?sessionId={order.session_id}")).text()
    assert 'data-status="paid">paid<' in html


@pytest.mark.asyncio
async def test_demo_lifecycle_errors() -> None:
    demo = Demo()
    with pytest.raises(RuntimeError, match="not running"):
        _ = demo.store
    async with Demo() as first:
        port = int(first.store_url.rsplit(":", 1)[1])
        busy = Demo(port=port)
        with pytest.raises(OSError):
            await busy.start()
        assert not busy.gateway.running  # the gateway it had started is stopped again
    await demo.aclose()  # never started: nothing to do


@pytest.mark.asyncio
async def test_auto_reports_what_went_wrong() -> None:
    async with Demo() as demo:
        lines: list[str] = []
        assert await play_customer(demo, card="12", emit=lines.append) is False
        assert lines[-2].startswith("3. card •••• 12 entered: rejected (Enter the card number")
        assert lines[-1] == "the order is not paid"

        lines.clear()
        demo.gateway.faults.add(
            method="GET", path="/payment/merchants/ecom/payment.html", status=500
        )
        assert await play_customer(demo, emit=lines.append) is False
        assert lines[-1] == "failed: the payment page answered 500"

        lines.clear()
        demo.gateway.faults.add(method="POST", path="/api2/sessions", status=500)
        assert await play_customer(demo, emit=lines.append) is False
        assert lines[-1] == "failed: the store answered 502 instead of a redirect"


@pytest.mark.asyncio
async def test_the_failure_page_says_why_once_payment_failed_is_verified(
    gateway: SandboxGateway,
    store: Shop,
) -> None:
    shop, client = store
    await _buy(client)
    (order,) = shop.orders.values()
    assert order.session_id is not None
    assert (await gateway.pay(order.session_id, card=TestCards.DECLINED)).outcome == "failed"
    failure = f"/failure?sessionId={order.session_id}"
    html = await (await client.get(failure)).text()
    assert 'id="decline">waiting for the gateway&#x27;s signed payment.failed<' in html
    assert 'id="decline-code">-<' in html
    assert "<script data-url=" in html  # polls until the reason is in

    failed = {
        "id": "pay_1",
        "amount": 2400,
        "currency": "EUR",
        "status": "failed",
        "session": order.session_id,
        "failureCode": "71015",
        "failureMessage": "Input error",
    }
    body, headers = webhook_delivery("payment.failed", failed, secret="whsec_guessed")
    assert (await client.post("/webhooks", data=body, headers=headers)).status == 400
    assert order.decline_code is None
    body, headers = webhook_delivery("payment.failed", failed, secret=gateway.webhook_secret)
    assert (await client.post("/webhooks", data=body, headers=headers)).status == 200
    assert (await client.post("/webhooks", data=body, headers=headers)).status == 200
    assert shop.duplicate_deliveries == 1

    html = await (await client.get(failure)).text()
    assert f'id="decline">{escape(DECLINE_REASONS["71015"])}<' in html
    assert 'id="decline-code">71015<' in html
    assert "<script" not in html
    status = await (await client.get(f"/orders/{order.id}.json")).json()
    assert status["declineCode"] == "71015"
    assert status["declineReason"] == DECLINE_REASONS["71015"]
    assert not order.paid

    # Found by the order id when the payment does not name the session; other orders untouched.
    other = {
        **failed,
        "id": "pay_2",
        "session": None,
        "merchantReferenceId": order.id,
        "failureCode": "do_not_honour",
        "failureMessage": "Do not honour",
    }
    body, headers = webhook_delivery("payment.failed", other, secret=gateway.webhook_secret)
    assert (await client.post("/webhooks", data=body, headers=headers)).status == 200
    assert order.decline_reason == "Do not honour"
    stranger = {**failed, "id": "pay_3", "session": "ps_other", "failureCode": "card_declined"}
    body, headers = webhook_delivery("payment.failed", stranger, secret=gateway.webhook_secret)
    assert (await client.post("/webhooks", data=body, headers=headers)).status == 200
    assert order.decline_code == "do_not_honour"


def test_decline_reasons_fall_back_on_the_gateways_words() -> None:
    assert decline_reason("card_declined") == DECLINE_REASONS["card_declined"]
    assert decline_reason("x1", "Do not honour") == "Do not honour"
    assert decline_reason("x1") == "the gateway gave no reason"
    assert decline_reason(None) == "the gateway gave no reason"


# --- the store's pages are as guarded as the gateway's (issue 19) ------------------------------

SECURITY_HEADERS = {
    "X-Frame-Options": "DENY",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
}


def _inline(html: str, tag: str) -> list[str]:
    return re.findall(rf"<{tag}[^>]*>(.*?)</{tag}>", html, re.S)


def _hash_source(text: str) -> str:
    digest = hashlib.sha256(text.encode()).digest()
    return f"'sha256-{base64.b64encode(digest).decode()}'"


@pytest.mark.asyncio
async def test_every_answer_sends_the_security_headers(
    gateway: SandboxGateway, store: Shop
) -> None:
    shop, client = store
    await _buy(client)
    (order,) = shop.orders.values()
    paths = [
        "/",
        f"/success?sessionId={order.session_id}",
        f"/failure?sessionId={order.session_id}",
        "/success?sessionId=ps_unknown",  # a 404 page
        f"/orders/{order.id}.json",
        "/no-such-page",
    ]
    inline: dict[str, set[str]] = {"style": set(), "script": set()}
    for path in paths:
        response = await client.get(path)
        for name, value in SECURITY_HEADERS.items():
            assert response.headers.get(name) == value, (path, name)
        policy = response.headers["Content-Security-Policy"]
        assert policy.startswith("default-src 'none'; "), path
        assert "frame-ancestors 'none'" in policy and "base-uri 'none'" in policy
        assert f"form-action 'self' {gateway.url};" in policy  # Buy redirects to the gateway
        html = await response.text()
        # Every inline style and script of the page is one the policy allows by its hash, so
        # the browser runs them (the polling) and would run no injected one.
        for tag in inline:
            for text in _inline(html, tag):
                inline[tag].add(text)
                assert _hash_source(text) in policy, (path, tag)
        assert "unsafe-inline" not in policy
    # The control: the pages above did carry a style sheet and both polling scripts.
    assert len(inline["style"]) == 1 and len(inline["script"]) == 2


@pytest.mark.parametrize(
    "headers",
    [
        {"Origin": "http://evil.example"},
        {"Origin": "null"},  # a sandboxed frame or a data: page
        {"Sec-Fetch-Site": "cross-site"},
        {"Sec-Fetch-Site": "same-site"},  # another port of the same host
        {"Origin": "http://127.0.0.1:1"},  # a browser without Sec-Fetch-*: another origin
    ],
)
@pytest.mark.asyncio
async def test_buy_refuses_a_post_from_another_sites_page(
    store: Shop, gateway: SandboxGateway, headers: dict[str, str]
) -> None:
    shop, client = store
    response = await client.post("/buy", headers=headers, allow_redirects=False)
    assert response.status == 403
    assert "can only be placed from the store" in await response.text()
    assert shop.orders == {}
    assert not any(r.path == "/api2/sessions" for r in gateway.requests)


@pytest.mark.asyncio
async def test_buy_takes_a_post_from_its_own_page_or_from_no_browser(store: Shop) -> None:
    shop, client = store
    own = str(client.make_url("/")).rstrip("/")
    for headers in (
        {"Origin": "null", "Sec-Fetch-Site": "same-origin"},  # a referrer policy's null origin
        {"Origin": own},  # a browser without Sec-Fetch-*
        {},  # curl, the automatic customer: no browser, so no forged form
    ):
        response = await client.post("/buy", headers=headers, allow_redirects=False)
        assert response.status == 303, headers
    assert len(shop.orders) == 3
