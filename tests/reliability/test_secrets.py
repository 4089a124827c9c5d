"""Secrets stay secret: the whole client + sandbox flow with ``bpcpay`` and ``bpcpay.sandbox``
logging at DEBUG, every warning recorded, and every error, model and client repr collected;
none may contain the API key, the webhook secret, a full card number (with or without spaces)
or a CVC as a value. The debug log still tells, for every request: method, path, status,
``API-Request-Id``, attempt number and elapsed time.
"""

from __future__ import annotations

import logging
import re
import warnings
from collections.abc import AsyncIterator
from typing import Any

import attrs
import pytest
import pytest_asyncio
from _rel_support import FAILURE_URL, LOOPBACK, SUCCESS_URL, SleepRecorder
from aiohttp import web

import bpcpay
from bpcpay import AsyncBpcPay, PaymentCard, Timeout, webhooks
from bpcpay.sandbox import SandboxGateway, TestCards

API_KEY = "sk_test_SECRET_api_key_5f1e2d"
WEBHOOK_SECRET = "whsec_SECRET_webhook_9a8b7c"
CARD_SPACED = "4111 1111 1111 1111"
CHALLENGE_SPACED = "5555 5555 5555 5599"
DIRECT_CARD = TestCards.SUCCESS_ATTEMPT.number
CVC = "123"
FORBIDDEN = [
    API_KEY,
    WEBHOOK_SECRET,
    CARD_SPACED,
    CARD_SPACED.replace(" ", ""),
    CHALLENGE_SPACED,
    CHALLENGE_SPACED.replace(" ", ""),
    DIRECT_CARD,
]
#: A CVC as a value: cvc=123, "cvc": "123", 'cvv': 123, security code: 123 ...
CVC_VALUE = re.compile(r"(cvc|cvv|cvc2|security.?code)[\"']?\s*[:=]\s*[\"']?\d{3,4}", re.IGNORECASE)
#: The SDK's per-attempt line: "GET /sessions/ps_x -> 200 request_id=req_... (attempt 1, 1.2 ms)".
ATTEMPT_LINE = re.compile(
    r"(?P<method>GET|POST) (?P<path>/\S+) (?:-> (?P<status>\d{3}) request_id=(?P<rid>\S+)"
    r"|failed: .+) \(attempt (?P<attempt>\d+), (?P<ms>\d+\.\d) ms\)"
)


@attrs.define
class Receiver:
    url: str = ""
    received: list[tuple[bytes, dict[str, str]]] = attrs.Factory(list)

    async def handle(self, request: web.Request) -> web.Response:
        self.received.append((await request.read(), dict(request.headers)))
        return web.Response(text="ok")


@pytest_asyncio.fixture
async def receiver() -> AsyncIterator[Receiver]:
    rec = Receiver()
    app = web.Application()
    app.router.add_post("/hook", rec.handle)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, LOOPBACK, 0)
    await site.start()
    rec.url = f"http://{LOOPBACK}:{runner.addresses[0][1]}/hook"
    try:
        yield rec
    finally:
        await runner.cleanup()


def card(number: str, cvc: str = CVC) -> PaymentCard:
    return PaymentCard(number=number, exp_month=12, exp_year=2030, cvc=cvc)


@pytest.mark.asyncio
async def test_nothing_secret_leaks_and_the_debug_log_tells_every_request(
    caplog: pytest.LogCaptureFixture, receiver: Receiver
) -> None:
    caplog.set_level(logging.DEBUG)
    for name in ("bpcpay", "bpcpay.sandbox"):
        logging.getLogger(name).setLevel(logging.DEBUG)
    seen: list[Any] = []  # exceptions, models, clients: everything a user might print
    attempts: list[bpcpay.RequestAttempt] = []
    sleeps = SleepRecorder()

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        async with (
            SandboxGateway(
                api_key=API_KEY,
                webhook_secret=WEBHOOK_SECRET,
                webhook_endpoints=[receiver.url],
                webhook_retry_schedule=(0.01, 0.01),
            ) as gw,
            AsyncBpcPay(
                api_key=API_KEY, base_url=gw.base_url, on_attempt=attempts.append, _sleep=sleeps
            ) as client,
        ):
            seen += [client, client.sessions, client.payments, client.webhooks, gw]

            # The redirect flow, paid with a full card number typed with spaces.
            session = await client.sessions.create(
                amount=10000,
                currency="EUR",
                success_url=SUCCESS_URL,
                failure_url=FAILURE_URL,
                merchant_reference_id="order-secret",
                setup_future_usage={"category": "unscheduled"},
            )
            paid = await gw.pay(session.id, card=CARD_SPACED, cvc=CVC)
            seen.append(paid)
            session = await client.sessions.retrieve(session.id)
            assert session.payment_status == "paid"
            assert session.payment is not None
            payment = await client.payments.retrieve(session.payment)
            assert payment.stored_payment_method_id is not None
            method = await client.payment_methods.retrieve(payment.stored_payment_method_id)
            seen += [session, payment, method]

            # A two-step payment with 3-D Secure, captured later.
            manual = await client.sessions.create(
                amount=5000,
                currency="EUR",
                success_url=SUCCESS_URL,
                failure_url=FAILURE_URL,
                capture_method="manual",
            )
            seen.append(await gw.pay(manual.id, card=CHALLENGE_SPACED, cvc=CVC))
            manual = await client.sessions.retrieve(manual.id)
            assert manual.payment is not None
            captured = await client.payments.capture(manual.payment, amount=4000)
            refund = await client.refunds.create(payment_id=payment.id, amount=2500)
            seen += [manual, captured, refund, await client.refunds.retrieve(refund.id)]

            # A direct (PCI DSS) payment carrying the card data through the SDK itself.
            direct = await client.payments.create(
                amount=700, currency="EUR", card=card(DIRECT_CARD), capture_method="manual"
            )
            seen += [direct, card(DIRECT_CARD), await client.payments.cancel(direct.id)]

            # Failures: a 404, a bad CVC refused before sending, a retried 503, timeouts.
            with pytest.raises(bpcpay.NotFoundError) as not_found:
                await client.payments.retrieve("pay_missing")
            with pytest.raises(bpcpay.InvalidArgumentError) as bad_cvc:
                await client.payments.create(amount=1, currency="EUR", card=card(DIRECT_CARD, "12"))
            gw.faults.add(method="GET", path=f"/api2/sessions/{session.id}", status=503)
            assert (await client.sessions.retrieve(session.id)).id == session.id
            assert len(sleeps.delays) == 1
            gw.faults.add(method="POST", path="/api2/payments", stall=0.3)
            with pytest.raises(bpcpay.APITimeoutError) as post_timeout:
                await client.payments.create(
                    amount=800,
                    currency="EUR",
                    card=card(DIRECT_CARD),
                    merchant_reference_id="order-timeout",
                    timeout=Timeout(connect=1, read=0.05),
                )
            gw.faults.add(method="GET", path=f"/api2/sessions/{session.id}", stall=0.3)
            with pytest.raises(bpcpay.APITimeoutError) as get_timeout:
                await client.with_options(max_retries=0).sessions.retrieve(
                    session.id, timeout=Timeout(connect=1, read=0.05)
                )
            seen += [not_found.value, bad_cvc.value, post_timeout.value, get_timeout.value]
            assert post_timeout.value.outcome_unknown
            assert post_timeout.value.merchant_reference_id == "order-timeout"

            # Webhooks: every delivery verifies with the secret and parses.
            deliveries = await gw.wait_for_deliveries()
            assert deliveries
            assert len(receiver.received) >= len(deliveries)
            events = [
                webhooks.construct_event(body, headers, secret=WEBHOOK_SECRET)
                for body, headers in receiver.received
            ]
            seen += events
            assert {"payment.succeeded", "refund.succeeded"} <= {e.type for e in events}
            body, headers = receiver.received[0]
            with pytest.raises(bpcpay.SignatureVerificationError) as forged:
                webhooks.construct_event(body + b" ", headers, secret=WEBHOOK_SECRET)
            seen.append(forged.value)
            requests = list(gw.requests)
        seen.append(client)  # closed

    assert {r.name for r in caplog.records} >= {"bpcpay", "bpcpay.sandbox"}
    # --- nothing secret anywhere --------------------------------------------------------------
    texts: list[str] = []
    for record in caplog.records:
        texts += [record.getMessage(), str(record.msg), repr(record.args)]
        if record.exc_info:
            texts.append(logging.Formatter().formatException(record.exc_info))
    for thing in seen:
        texts += [str(thing), repr(thing)]
        if isinstance(thing, BaseException):
            texts += [repr(thing.args), repr(vars(thing))]
    texts += [str(w.message) for w in caught]
    texts += [repr(a) for a in attempts]
    for text in texts:
        for secret in FORBIDDEN:
            assert secret not in text, (secret, text)
        assert not CVC_VALUE.search(text), text
    assert [str(w.message) for w in caught] == []

    # --- the debug log tells every request the client made ------------------------------------
    lines = [
        ATTEMPT_LINE.fullmatch(r.getMessage().split("; retry in")[0])
        for r in caplog.records
        if r.name == "bpcpay" and r.levelno == logging.DEBUG
    ]
    assert all(lines), [r.getMessage() for r in caplog.records if r.name == "bpcpay"]
    matches = [m for m in lines if m is not None]
    assert len(matches) == len(attempts)
    by_id = {r.request_id: r for r in requests}
    answered = 0
    for match, attempt in zip(matches, attempts, strict=True):
        assert match["method"] == attempt.method
        assert match["path"] == attempt.path
        assert int(match["attempt"]) == attempt.attempt
        assert float(match["ms"]) >= 0
        if attempt.status is None:
            assert "failed: no complete answer from" in match.group(0)
            assert "within 0.05s (read timeout)" in match.group(0)
            continue
        answered += 1
        assert match["status"] == str(attempt.status)
        record = by_id[match["rid"]]
        assert (record.method, record.path, record.status) == (
            attempt.method,
            "/api2" + attempt.path,
            attempt.status,
        )
    assert answered == len(attempts) - 2  # every attempt but the two timeouts had an answer
    assert any(m["attempt"] == "2" for m in matches)  # the retried 503
