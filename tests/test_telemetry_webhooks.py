"""OpenTelemetry of the webhook router (issue 22): a span per delivery (and per reconciled
object) with the store's claim and completion and each handler as children, the
``bpcpay.webhook.*`` metrics, lease take-overs counted, and the router's span under a web
framework's own server span (OpenTelemetry's aiohttp server and ASGI instrumentations).

Deliveries are signed as the gateway signs them (``bpcpay.testing.webhook_delivery``) or are the
sandbox gateway's real ones, POSTed over loopback to an instrumented aiohttp server. The SDK's
in-memory exporter and reader record everything; the secret scan of everything exported is at
the end.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import threading
import time
from collections.abc import AsyncIterator, Iterator
from typing import Any

import pytest
import pytest_asyncio
from _otel import Recorder, attrs, count, exported_text, leaks, parent_id, span_id
from _support import VISA, serving
from aiohttp import web
from opentelemetry.instrumentation.aiohttp_server import AioHttpServerInstrumentor
from opentelemetry.instrumentation.asgi import OpenTelemetryMiddleware
from opentelemetry.trace import SpanKind, StatusCode, get_current_span

import bpcpay
from bpcpay import AsyncBpcPay
from bpcpay.contrib.aiohttp import setup_webhooks
from bpcpay.contrib.asgi import WebhookASGIApp
from bpcpay.models import PaymentCard
from bpcpay.sandbox import SandboxGateway
from bpcpay.testing import async_sandbox, webhook_delivery
from bpcpay.webhooks import Claim, InMemoryDeliveryStore, WebhookRouter, event_key

SECRET = "whsec_telemetry_test_secret_0123456789"
SESSION = {
    "id": "ps_tel_1",
    "amount": 1000,
    "currency": "EUR",
    "status": "complete",
    "paymentStatus": "paid",
    "payment": "pay_tel_1",
}
COMPLETED = "bpcpay webhook session.completed"
URLS = {"success_url": "https://shop.example/ok", "failure_url": "https://shop.example/ko"}


@pytest.fixture
def recorder() -> Iterator[Recorder]:
    r = Recorder()
    yield r
    r.close()


def router(recorder: Recorder, **options: Any) -> WebhookRouter:
    return WebhookRouter(SECRET, **recorder.providers, **options)


def delivery(event_type: str = "session.completed", obj: Any = None) -> tuple[bytes, Any]:
    return webhook_delivery(event_type, SESSION if obj is None else obj, secret=SECRET)


def _names(spans: list[Any]) -> list[str]:
    return [s.name for s in spans]


# --- one delivery --------------------------------------------------------------------------


@pytest.mark.asyncio
async def test_a_delivery_is_a_span_over_its_claim_handlers_and_completion(
    recorder: Recorder,
) -> None:
    r = router(recorder)
    ran: list[str] = []

    @r.on("session.completed")
    def mark_paid(event: bpcpay.Event) -> None:
        ran.append("plain")

    @r.on("session.*")
    async def notify(event: bpcpay.Event) -> None:
        ran.append("async")

    body, headers = delivery()
    result = await r.handle(body, headers)
    assert (result.status, result.reason, ran) == (200, "handled", ["plain", "async"])

    span = recorder.one(COMPLETED)
    assert span.kind is SpanKind.INTERNAL
    assert span.status.status_code is StatusCode.UNSET
    assert parent_id(span) is None
    assert attrs(span) == {
        "bpcpay.event.type": "session.completed",
        "bpcpay.session.id": "ps_tel_1",
        "bpcpay.payment.id": "pay_tel_1",
        "bpcpay.webhook.result": "handled",
        "bpcpay.webhook.reason": "handled",
        "bpcpay.webhook.reconciled": False,
        "bpcpay.webhook.store.kind": "memory",
        "bpcpay.webhook.key": result.key,
        "bpcpay.request_id": headers["API-Request-Id"],
        "http.response.status_code": 200,
    }
    claim, plain, coroutine, complete = recorder.children(span)
    assert _names([claim, plain, coroutine, complete]) == [
        "bpcpay store.claim",
        "bpcpay handler mark_paid",
        "bpcpay handler notify",
        "bpcpay store.complete",
    ]
    assert attrs(claim) == {
        "bpcpay.webhook.store.kind": "memory",
        "bpcpay.webhook.store.operation": "claim",
        "bpcpay.webhook.claim": "claimed",
    }
    assert attrs(complete)["bpcpay.webhook.recorded"] is True
    where = f"{__name__}.test_a_delivery_is_a_span_over_its_claim_handlers_and_completion"
    assert attrs(plain) == {
        "code.function.name": f"{where}.<locals>.mark_paid",
        "bpcpay.event.type": "session.completed",
    }
    assert attrs(coroutine)["code.function.name"] == f"{where}.<locals>.notify"
    assert {s.context.trace_id for s in (claim, plain, coroutine, complete)} == {  # type: ignore[union-attr]
        span.context.trace_id  # type: ignore[union-attr]
    }

    deliveries = recorder.points("bpcpay.webhook.deliveries")
    assert [a for a, _ in deliveries] == [
        {"bpcpay.event.type": "session.completed", "bpcpay.webhook.result": "handled"}
    ]
    assert count(deliveries) == 1
    handlers = recorder.points("bpcpay.webhook.handler.duration")
    assert count(handlers, code__function__name=f"{where}.<locals>.mark_paid") == 1
    assert count(handlers, code__function__name=f"{where}.<locals>.notify") == 1
    assert recorder.metrics()["bpcpay.webhook.handler.duration"].unit == "s"
    stores = recorder.points("bpcpay.webhook.store.duration")
    assert sorted(a["bpcpay.webhook.store.operation"] for a, _ in stores) == ["claim", "complete"]
    assert all(a["bpcpay.webhook.store.kind"] == "memory" for a, _ in stores)
    assert recorder.points("bpcpay.webhook.lease.takeovers") == []


@pytest.mark.asyncio
async def test_a_duplicate_is_answered_from_the_claim_alone(recorder: Recorder) -> None:
    r = router(recorder)
    r.add_handler("*", lambda event: None)
    body, headers = delivery()
    assert (await r.handle(body, headers)).reason == "handled"
    again = await r.handle(body, headers)
    assert (again.status, again.reason) == (200, "duplicate")
    first, second = recorder.named(COMPLETED)
    assert attrs(first)["bpcpay.webhook.result"] == "handled"
    assert attrs(second)["bpcpay.webhook.result"] == "duplicate"
    assert attrs(second)["http.response.status_code"] == 200
    (claim,) = recorder.children(second)
    assert attrs(claim)["bpcpay.webhook.claim"] == "done"
    deliveries = recorder.points("bpcpay.webhook.deliveries")
    assert count(deliveries, bpcpay__webhook__result="handled") == 1
    assert count(deliveries, bpcpay__webhook__result="duplicate") == 1


def test_handle_sync_is_traced_the_same_way(recorder: Recorder) -> None:
    r = router(recorder)
    r.add_handler("session.completed", lambda event: None)
    body, headers = delivery()
    assert r.handle_sync(body, headers).reason == "handled"
    span = recorder.one(COMPLETED)
    assert _names(recorder.children(span)) == [
        "bpcpay store.claim",
        "bpcpay handler <lambda>",
        "bpcpay store.complete",
    ]


@pytest.mark.asyncio
async def test_a_handler_that_raises_is_recorded_on_its_span(recorder: Recorder) -> None:
    r = router(recorder)

    @r.on("session.completed")
    def fulfil(event: bpcpay.Event) -> None:
        raise LookupError("order 42 is not in the database")

    body, headers = delivery()
    result = await r.handle(body, headers)
    assert (result.status, result.reason) == (500, "handler_error")
    span = recorder.one(COMPLETED)
    assert span.status.status_code is StatusCode.ERROR
    assert attrs(span)["bpcpay.webhook.result"] == "failed"
    assert attrs(span)["error.type"] == "LookupError"
    assert attrs(span)["http.response.status_code"] == 500
    claim, handler, release = recorder.children(span)
    assert _names([claim, release]) == ["bpcpay store.claim", "bpcpay store.release"]
    assert handler.status.status_code is StatusCode.ERROR
    assert attrs(handler)["error.type"] == "LookupError"
    (event,) = handler.events
    assert event.name == "exception"
    assert event.attributes["exception.type"] == "LookupError"  # type: ignore[index]
    assert event.attributes["exception.message"] == "order 42 is not in the database"  # type: ignore[index]
    assert "fulfil" in event.attributes["exception.stacktrace"]  # type: ignore[index,operator]
    handlers = recorder.points("bpcpay.webhook.handler.duration")
    assert count(handlers, error__type="LookupError") == 1
    deliveries = recorder.points("bpcpay.webhook.deliveries")
    assert count(deliveries, bpcpay__webhook__result="failed") == 1


@pytest.mark.asyncio
async def test_a_refused_delivery_is_a_span_and_a_count(recorder: Recorder) -> None:
    r = router(recorder)
    body, headers = delivery()
    result = await r.handle(body + b" ", headers)
    assert (result.status, result.reason) == (400, "mismatch")
    span = recorder.one("bpcpay webhook")
    assert span.status.status_code is StatusCode.ERROR
    assert attrs(span) == {
        "bpcpay.webhook.store.kind": "memory",
        "bpcpay.webhook.result": "refused",
        "bpcpay.webhook.reason": "mismatch",
        "http.response.status_code": 400,
        "error.type": "mismatch",
    }
    assert recorder.children(span) == []
    assert [a for a, _ in recorder.points("bpcpay.webhook.deliveries")] == [
        {"bpcpay.webhook.result": "refused"}
    ]


class _DownStore(InMemoryDeliveryStore):
    def claim(self, key: str) -> Claim:
        raise ConnectionRefusedError("the store is down")


@pytest.mark.asyncio
async def test_a_store_that_fails_is_recorded_on_the_claim_span(recorder: Recorder) -> None:
    r = router(recorder, store=_DownStore())
    body, headers = delivery()
    result = await r.handle(body, headers)
    assert (result.status, result.reason) == (503, "store_unavailable")
    span = recorder.one(COMPLETED)
    assert attrs(span)["bpcpay.webhook.result"] == "store_unavailable"
    assert attrs(span)["bpcpay.webhook.store.kind"] == "_DownStore"
    assert attrs(span)["error.type"] == "ConnectionRefusedError"
    (claim,) = recorder.children(span)
    assert claim.status.status_code is StatusCode.ERROR
    assert attrs(claim)["error.type"] == "ConnectionRefusedError"
    stores = recorder.points("bpcpay.webhook.store.duration")
    assert (
        count(
            stores, error__type="ConnectionRefusedError", bpcpay__webhook__store__kind="_DownStore"
        )
        == 1
    )


@pytest.mark.asyncio
async def test_an_interrupted_delivery_is_counted_and_its_claim_released(
    recorder: Recorder,
) -> None:
    r = router(recorder)
    started = asyncio.Event()

    @r.on("session.completed")
    async def slow(event: bpcpay.Event) -> None:
        started.set()
        await asyncio.sleep(30)

    body, headers = delivery()
    task = asyncio.ensure_future(r.handle(body, headers))
    await asyncio.wait_for(started.wait(), 5)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    span = recorder.one(COMPLETED)
    assert attrs(span)["bpcpay.webhook.result"] == "interrupted"
    assert span.status.status_code is StatusCode.UNSET  # a cancellation is no error
    assert _names(recorder.children(span)) == [
        "bpcpay store.claim",
        "bpcpay handler slow",
        "bpcpay store.release",
    ]
    assert (
        count(recorder.points("bpcpay.webhook.deliveries"), bpcpay__webhook__result="interrupted")
        == 1
    )


# --- leases taken over ---------------------------------------------------------------------


@pytest.mark.asyncio
async def test_a_claim_whose_holder_died_is_taken_over_and_counted(recorder: Recorder) -> None:
    store = InMemoryDeliveryStore(lease=0.3)
    r = router(recorder, store=store)
    r.add_handler("*", lambda event: None)
    body, headers = delivery()
    # Another worker claimed the event, then died: it never renews nor completes.
    event = bpcpay.webhooks.construct_event(body, headers, secret=SECRET)
    assert store.claim(event_key(event, body)).status == "claimed"
    result = await r.handle(body, headers)
    assert (result.status, result.reason) == (200, "handled")
    span = recorder.one(COMPLETED)
    assert attrs(span)["bpcpay.webhook.lease.takeover"] == "taken"
    claims = [c for c in recorder.children(span) if c.name == "bpcpay store.claim"]
    # It waited on the dead holder's claim (polling) until its lease lapsed, then took it.
    seen = [attrs(c)["bpcpay.webhook.claim"] for c in claims]
    assert seen[:-1] == ["in_flight"] * (len(seen) - 1) and len(seen) >= 2
    assert seen[-1] == "claimed"
    assert [a for a, _ in recorder.points("bpcpay.webhook.lease.takeovers")] == [
        {"bpcpay.webhook.store.kind": "memory", "bpcpay.webhook.lease.side": "taken"}
    ]


@pytest.mark.asyncio
async def test_a_claim_released_by_a_live_holder_is_no_takeover(recorder: Recorder) -> None:
    store = InMemoryDeliveryStore(lease=5.0)
    r = router(recorder, store=store)
    r.add_handler("*", lambda event: None)
    body, headers = delivery()
    event = bpcpay.webhooks.construct_event(body, headers, secret=SECRET)
    key = event_key(event, body)
    claim = store.claim(key)
    assert claim.token is not None
    # The other worker's handler failed: it releases the claim after 0.2 s.
    timer = threading.Timer(0.2, store.release, (key, claim.token))
    timer.start()
    try:
        assert (await r.handle(body, headers)).reason == "handled"
    finally:
        timer.join()
    assert "bpcpay.webhook.lease.takeover" not in attrs(recorder.one(COMPLETED))
    assert recorder.points("bpcpay.webhook.lease.takeovers") == []


class _OvertakenStore(InMemoryDeliveryStore):
    """Completion answers that another worker took the key over meanwhile."""

    def complete(self, key: str, token: str) -> bool:
        return False


@pytest.mark.asyncio
async def test_a_claim_lost_to_another_worker_is_counted(recorder: Recorder) -> None:
    r = router(recorder, store=_OvertakenStore())
    r.add_handler("*", lambda event: None)
    body, headers = delivery()
    result = await r.handle(body, headers)
    assert (result.reason, result.recorded) == ("handled", False)
    span = recorder.one(COMPLETED)
    assert attrs(span)["bpcpay.webhook.lease.takeover"] == "lost"
    complete = recorder.children(span)[-1]
    assert attrs(complete)["bpcpay.webhook.recorded"] is False
    assert [a for a, _ in recorder.points("bpcpay.webhook.lease.takeovers")] == [
        {"bpcpay.webhook.store.kind": "_OvertakenStore", "bpcpay.webhook.lease.side": "lost"}
    ]


class _LosingStore(InMemoryDeliveryStore):
    """Every renewal answers that the lease is no longer this worker's."""

    def renew(self, key: str, token: str) -> bool:
        return False


def test_a_renewal_answered_lost_is_counted(recorder: Recorder) -> None:
    r = router(recorder, store=_LosingStore(lease=0.15))
    r.add_handler("*", lambda event: time.sleep(0.2))  # outlives a renewal (every 0.05 s)
    body, headers = delivery()
    result = r.handle_sync(body, headers)
    assert result.reason == "handled" and result.renewal_failures >= 1
    span = recorder.one(COMPLETED)
    assert attrs(span)["bpcpay.webhook.lease.takeover"] == "lost"
    assert attrs(span)["bpcpay.webhook.renewal_failures"] == result.renewal_failures
    assert (
        count(
            recorder.points("bpcpay.webhook.lease.takeovers"), bpcpay__webhook__lease__side="lost"
        )
        == 1
    )


def test_a_handler_that_stops_the_worker_ends_the_delivery_in_error(recorder: Recorder) -> None:
    r = router(recorder)

    @r.on("session.completed")
    def timed_out(event: bpcpay.Event) -> None:
        raise SystemExit(1)  # what a WSGI server's worker timeout raises

    body, headers = delivery()
    with pytest.raises(SystemExit):
        r.handle_sync(body, headers)
    span = recorder.one(COMPLETED)
    assert attrs(span)["bpcpay.webhook.result"] == "interrupted"
    assert attrs(span)["error.type"] == "SystemExit"
    assert span.status.status_code is StatusCode.ERROR
    assert recorder.children(span)[-1].name == "bpcpay store.release"


def test_a_plan_closed_half_way_ends_its_span_and_closes_the_plan(recorder: Recorder) -> None:
    from bpcpay._telemetry import router_telemetry

    telemetry = router_telemetry(store=InMemoryDeliveryStore(), **recorder.providers)
    assert telemetry is not None
    closed: list[bool] = []

    def plan() -> Any:
        try:
            yield "an effect"
        finally:
            closed.append(True)

    observed = telemetry.delivery(plan())
    assert next(observed) == "an effect"
    observed.close()
    assert closed == [True]
    assert recorder.one("bpcpay webhook").end_time is not None
    reconciling = telemetry.reconciliation(plan())
    assert next(reconciling) == "an effect"
    reconciling.close()
    assert closed == [True, True]
    assert recorder.one("bpcpay reconcile").end_time is not None
    # Closed in the context it ran in: neither span is left current there.
    assert not get_current_span().get_span_context().is_valid


@pytest.mark.asyncio
async def test_a_meter_provider_alone_counts_deliveries_and_makes_no_span(
    recorder: Recorder,
) -> None:
    r = WebhookRouter(SECRET, meter_provider=recorder.meter_provider)
    r.add_handler("*", lambda event: None)
    assert (await r.handle(*delivery())).reason == "handled"
    assert recorder.spans() == []
    assert (
        count(recorder.points("bpcpay.webhook.deliveries"), bpcpay__webhook__result="handled") == 1
    )
    assert count(recorder.points("bpcpay.webhook.handler.duration")) == 1


def test_the_router_checks_its_providers() -> None:
    with pytest.raises(bpcpay.InvalidArgumentError, match=r"^tracer_provider: must be an Open"):
        WebhookRouter(SECRET, tracer_provider=object())  # type: ignore[arg-type]
    with pytest.raises(bpcpay.InvalidArgumentError, match=r"^meter_provider: must be an Open"):
        WebhookRouter(SECRET, meter_provider="yes")  # type: ignore[arg-type]


# --- the sandbox's real deliveries, reconciliation, frameworks -----------------------------


@pytest_asyncio.fixture
async def gw() -> AsyncIterator[SandboxGateway]:
    async with async_sandbox() as gateway:
        yield gateway


@pytest.mark.asyncio
async def test_a_reconciliation_is_one_trace_of_retrieves_and_deliveries(
    gw: SandboxGateway, recorder: Recorder
) -> None:
    r = WebhookRouter(gw.webhook_secret, **recorder.providers)
    handled: list[str] = []
    r.add_handler("session.completed", lambda event: handled.append(event.data.object.id))
    async with AsyncBpcPay(api_key=gw.api_key, base_url=gw.base_url, **recorder.providers) as c:
        session = await c.sessions.create(amount=1000, currency="EUR", **URLS)
        await gw.pay(session.id)
        first = await r.reconcile(c, [session.id])
        second = await r.reconcile(c, [session.id])
    assert [x.reason for x in first + second] == ["handled", "duplicate"]
    assert handled == [session.id]
    runs = recorder.named("bpcpay reconcile")
    assert len(runs) == 2
    retrieve, deliver = recorder.children(runs[0])
    assert retrieve.name == "bpcpay sessions.retrieve"
    assert deliver.name == COMPLETED
    assert attrs(deliver)["bpcpay.webhook.reconciled"] is True
    assert attrs(deliver)["bpcpay.webhook.result"] == "handled"
    assert attrs(deliver)["bpcpay.session.id"] == session.id
    assert "bpcpay.request_id" not in attrs(deliver)  # a reconciled event had no delivery
    assert _names(recorder.children(deliver)) == [
        "bpcpay store.claim",
        "bpcpay handler <lambda>",
        "bpcpay store.complete",
    ]
    (_, again) = recorder.children(runs[1])
    assert attrs(again)["bpcpay.webhook.result"] == "duplicate"
    assert {s.context.trace_id for s in (retrieve, deliver)} == {runs[0].context.trace_id}  # type: ignore[union-attr]


#: OpenTelemetry's aiohttp server instrumentation subclasses web.Application, which aiohttp
#: discourages with a DeprecationWarning when the subclass is made: its own, not bpcpay's.
instrumentation_warns = pytest.mark.filterwarnings(
    "ignore:Inheritance class _InstrumentedApplication:DeprecationWarning"
)


@contextlib.contextmanager
def aiohttp_instrumented(recorder: Recorder) -> Iterator[None]:
    """OpenTelemetry's aiohttp server instrumentation, as an application turns it on: every
    ``web.Application`` made meanwhile gets its server spans (the sandbox's started before)."""
    instrumentor = AioHttpServerInstrumentor()
    instrumentor.instrument(tracer_provider=recorder.tracer_provider)
    try:
        yield
    finally:
        instrumentor.uninstrument()


async def _wait_for(condition: Any, timeout: float = 10.0) -> None:
    deadline = asyncio.get_running_loop().time() + timeout
    while not condition():
        assert asyncio.get_running_loop().time() < deadline, "timed out"
        await asyncio.sleep(0.02)


@instrumentation_warns
@pytest.mark.asyncio
async def test_the_sandbox_s_deliveries_hang_under_the_aiohttp_server_span(
    gw: SandboxGateway, recorder: Recorder
) -> None:
    """A payment end to end: the shop's sessions.create, the customer paying, the gateway's
    signed webhooks into an aiohttp app under OpenTelemetry's own aiohttp instrumentation."""
    r = WebhookRouter(gw.webhook_secret, **recorder.providers)
    handled: list[str] = []
    r.add_handler("session.completed", lambda event: handled.append(event.data.object.id))
    with aiohttp_instrumented(recorder):
        app = web.Application()
    setup_webhooks(app, r)
    async with serving(app) as root:
        gw.add_webhook_endpoint(f"{root}/webhooks/bpc")
        async with AsyncBpcPay(api_key=gw.api_key, base_url=gw.base_url, **recorder.providers) as c:
            session = await c.sessions.create(amount=1000, currency="EUR", **URLS)
            await gw.pay(session.id)
            await gw.wait_for_deliveries()
            await _wait_for(lambda: handled)
    assert handled == [session.id]
    created = recorder.one("bpcpay sessions.create")
    delivered = recorder.one(COMPLETED)
    # One attribute finds the call that made the session and the webhook that settled it.
    assert attrs(created)["bpcpay.session.id"] == attrs(delivered)["bpcpay.session.id"]
    server = next(s for s in recorder.spans() if s.context.span_id == parent_id(delivered))  # type: ignore[union-attr]
    assert server.kind is SpanKind.SERVER
    assert attrs(server)["http.route"] == "/webhooks/bpc"
    assert server.context.trace_id == delivered.context.trace_id  # type: ignore[union-attr]
    # Every event of the payment was delivered once, each under its own server span.
    deliveries = recorder.points("bpcpay.webhook.deliveries")
    assert count(deliveries, bpcpay__event__type="session.completed") == 1
    assert count(deliveries, bpcpay__webhook__result="handled") == 1
    assert count(deliveries, bpcpay__webhook__result="unhandled") >= 1


@pytest.mark.asyncio
async def test_the_router_span_hangs_under_the_asgi_server_span(recorder: Recorder) -> None:
    r = router(recorder)
    r.add_handler("*", lambda event: None)
    app = OpenTelemetryMiddleware(
        WebhookASGIApp(r),
        tracer_provider=recorder.tracer_provider,
        meter_provider=recorder.meter_provider,
    )
    body, headers = delivery()
    sent: list[dict[str, Any]] = []
    received = [{"type": "http.request", "body": body, "more_body": False}]

    async def receive() -> dict[str, Any]:
        return received.pop(0) if received else {"type": "http.disconnect"}

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "POST",
        "scheme": "http",
        "path": "/webhooks/bpc",
        "raw_path": b"/webhooks/bpc",
        "query_string": b"",
        "root_path": "",
        "headers": [(k.lower().encode(), v.encode()) for k, v in headers.items()],
        "server": ("127.0.0.1", 8000),
        "client": ("127.0.0.1", 50000),
    }
    await app(scope, receive, send)
    assert sent[0]["status"] == 200
    delivered = recorder.one(COMPLETED)
    server = next(s for s in recorder.spans() if s.kind is SpanKind.SERVER)
    assert parent_id(delivered) == span_id(server)


# --- nothing secret is exported ------------------------------------------------------------


@instrumentation_warns
@pytest.mark.asyncio
async def test_no_span_event_or_metric_holds_a_key_a_secret_or_a_card(
    gw: SandboxGateway, recorder: Recorder
) -> None:
    """Everything the exporter and the reader hold, after calls that carry the key and a card
    (a payment with its number and CVC, a 404, a retry, a timeout) and deliveries signed with
    the secret (handled, duplicate, refused, a handler that raises), is scanned for them."""
    cvc = "8642"
    r = WebhookRouter(gw.webhook_secret, **recorder.providers)

    @r.on("session.completed")
    def fails_once(event: bpcpay.Event) -> None:
        if not getattr(fails_once, "ran", False):
            fails_once.ran = True  # type: ignore[attr-defined]
            raise RuntimeError("first try fails")

    with aiohttp_instrumented(recorder):
        app = web.Application()
    setup_webhooks(app, r)
    async with serving(app) as root:
        gw.add_webhook_endpoint(f"{root}/webhooks/bpc")
        async with AsyncBpcPay(
            api_key=gw.api_key,
            base_url=gw.base_url,
            timeout=bpcpay.Timeout(connect=2.0, read=0.2),
            **recorder.providers,
        ) as c:
            payment = await c.payments.create(
                amount=1000,
                currency="EUR",
                card=PaymentCard(number=VISA, exp_month=12, exp_year=2030, cvc=cvc),
                metadata={"order": "42"},
            )
            session = await c.sessions.create(amount=1000, currency="EUR", **URLS)
            gw.faults.add(method="GET", path=f"/api2/sessions/{session.id}", status=503)
            await c.sessions.retrieve(session.id)
            with pytest.raises(bpcpay.NotFoundError):
                await c.payments.retrieve("pay_missing")
            gw.faults.add(method="POST", path="/api2/sessions", stall=1.0)
            with pytest.raises(bpcpay.APITimeoutError):
                await c.sessions.create(amount=1000, currency="EUR", **URLS)
            await gw.pay(session.id)
            await gw.wait_for_deliveries()
            await r.reconcile(c, [session.id], payment_ids=[payment.id])
    body = json.dumps({"type": "session.completed", "data": {"object": SESSION}}).encode()
    await r.handle(body, {"X-Signature": "0" * 64})

    texts = exported_text(recorder)
    names = {s.name for s in recorder.spans()}
    # The scan saw what it had to see: calls, retries, errors, deliveries, a handler's error.
    assert {"bpcpay payments.create", "bpcpay sessions.retrieve", COMPLETED} <= names
    assert any(e.name == "exception" for s in recorder.spans() for e in s.events)
    secrets = {
        "API key": gw.api_key,
        "webhook secret": gw.webhook_secret,
        "card number": VISA,
        "CVC": cvc,
    }
    assert leaks(texts, secrets) == []


def test_the_scan_finds_a_planted_secret(recorder: Recorder) -> None:
    tracer = recorder.tracer_provider.get_tracer("planted")
    with tracer.start_as_current_span("x") as span:
        span.set_attribute("key", "prefix-sk_test_abcdefghijklmnop-suffix")
        span.add_event("e", {"card": f"card {VISA}"})
    counter = recorder.meter_provider.get_meter("planted").create_counter("c")
    counter.add(1, {"cvc": "cvc=8642"})
    texts = exported_text(recorder)
    found = leaks(
        texts,
        {
            "key": "sk_test_abcdefghijklmnop",
            "card": VISA,
            "cvc": "8642",
            "absent": "whsec_not_there_at_all_000",
        },
    )
    assert found == ["key", "card", "cvc"]
