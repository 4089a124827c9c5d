"""OpenTelemetry of the clients (issue 22): spans and metrics of real calls to the sandbox
gateway on loopback, recorded by the SDK's in-memory exporter and reader, and ``before_request``.

A call is one INTERNAL span ``bpcpay <resource>.<method>`` over one CLIENT span per attempt
(the HTTP client semantic conventions: ``{method} {url.template}``, ``http.request.method``,
``server.address``, ``server.port``, ``url.template``, ``url.full``,
``http.response.status_code``, ``error.type``, ``http.request.resend_count``), with the
``http.client.request.duration`` histogram and the ``bpcpay.client.retries`` counter. The
webhook side is in ``test_telemetry_webhooks.py``; what happens without the API, and with the
global providers, in ``test_telemetry_isolation.py`` (subprocesses).
"""

from __future__ import annotations

import asyncio
import logging
import socket
from collections.abc import AsyncIterator, Iterator
from typing import Any

import pytest
import pytest_asyncio
from _fake_gateway import FakeGateway
from _otel import SEMCONV_BUCKETS, Recorder, attrs, count, parent_id, span_id
from _support import serving
from aiohttp import web
from opentelemetry.trace import SpanKind, StatusCode
from opentelemetry.trace.propagation.tracecontext import TraceContextTextMapPropagator

import bpcpay
from bpcpay import AsyncBpcPay, BpcPay, Timeout
from bpcpay.sandbox import SandboxGateway
from bpcpay.testing import async_sandbox, sync_sandbox

URLS = {"success_url": "https://shop.example/ok", "failure_url": "https://shop.example/ko"}
DURATION = "http.client.request.duration"
KEY = "sk_test_before_request_key_0123456789"


async def _no_sleep(_: float) -> None:
    return None


@pytest.fixture
def recorder() -> Iterator[Recorder]:
    r = Recorder()
    yield r
    r.close()


@pytest_asyncio.fixture
async def gw() -> AsyncIterator[SandboxGateway]:
    async with async_sandbox() as gateway:
        yield gateway


def client(gw: SandboxGateway, recorder: Recorder, **options: Any) -> AsyncBpcPay:
    options.setdefault("_sleep", _no_sleep)
    return AsyncBpcPay(api_key=gw.api_key, base_url=gw.base_url, **recorder.providers, **options)


def server(gw: SandboxGateway) -> dict[str, Any]:
    return {"server.address": "127.0.0.1", "server.port": gw.port}


# --- one call, one attempt -----------------------------------------------------------------


@pytest.mark.asyncio
async def test_a_call_is_an_internal_span_over_a_client_span_and_a_duration(
    gw: SandboxGateway, recorder: Recorder
) -> None:
    async with client(gw, recorder) as c:
        session = await c.sessions.create(amount=1000, currency="EUR", **URLS)
    call = recorder.one("bpcpay sessions.create")
    assert call.kind is SpanKind.INTERNAL
    assert call.status.status_code is StatusCode.UNSET
    assert attrs(call) == {
        "bpcpay.session.id": session.id,
        "bpcpay.request_id": session.request_id,
        "bpcpay.attempts": 1,
    }
    (attempt,) = recorder.children(call)
    assert attempt.name == "POST /api2/sessions"
    assert attempt.kind is SpanKind.CLIENT
    assert attempt.status.status_code is StatusCode.UNSET
    assert attrs(attempt) == {
        "http.request.method": "POST",
        **server(gw),
        "url.template": "/api2/sessions",
        "url.full": f"{gw.base_url}/sessions",
        "http.response.status_code": 200,
        "bpcpay.request_id": session.request_id,
    }
    assert call.start_time <= attempt.start_time <= attempt.end_time <= call.end_time  # type: ignore[operator]

    metric = recorder.metrics()[DURATION]
    assert metric.unit == "s"
    ((measured, point),) = recorder.points(DURATION)
    assert measured == {
        "http.request.method": "POST",
        **server(gw),
        "url.template": "/api2/sessions",
        "http.response.status_code": 200,
    }
    assert tuple(point.explicit_bounds) == SEMCONV_BUCKETS
    assert point.count == 1
    # The histogram's value is the attempt's span duration (within scheduling noise).
    span_seconds = (attempt.end_time - attempt.start_time) / 1e9  # type: ignore[operator]
    assert 0 < point.sum <= span_seconds + 0.005
    assert recorder.points("bpcpay.client.retries") == []


@pytest.mark.asyncio
async def test_the_call_span_carries_the_ids_of_what_it_made_and_what_it_names(
    gw: SandboxGateway, recorder: Recorder
) -> None:
    async with client(gw, recorder) as c:
        session = await c.sessions.create(amount=1000, currency="EUR", **URLS)
        await gw.pay(session.id)
        paid = await c.sessions.retrieve(session.id)
        assert paid.payment is not None
        payment = await c.payments.retrieve(paid.payment)
    retrieve = recorder.one("bpcpay sessions.retrieve")
    assert attrs(retrieve)["bpcpay.session.id"] == session.id
    assert attrs(retrieve)["bpcpay.payment.id"] == paid.payment
    (attempt,) = recorder.children(retrieve)
    assert attempt.name == "GET /api2/sessions/{session_id}"
    assert attrs(attempt)["url.template"] == "/api2/sessions/{session_id}"
    assert attrs(attempt)["url.full"] == f"{gw.base_url}/sessions/{session.id}"
    by_payment = recorder.one("bpcpay payments.retrieve")
    assert attrs(by_payment)["bpcpay.payment.id"] == payment.id
    assert attrs(by_payment)["bpcpay.session.id"] == session.id


@pytest.mark.asyncio
async def test_url_full_encodes_ids_and_shows_no_query_value(
    gw: SandboxGateway, recorder: Recorder
) -> None:
    async with client(gw, recorder) as c:
        with pytest.raises(bpcpay.NotFoundError):
            await c.sessions.retrieve("ps a/b")
        with pytest.raises(bpcpay.NotFoundError):
            await c.request("GET", "/sessions/ps_x?limit=3&token=s3cr3t-value")
    (attempt,) = recorder.children(recorder.one("bpcpay sessions.retrieve"))
    assert attrs(attempt)["url.full"] == f"{gw.base_url}/sessions/ps%20a%2Fb"
    ad_hoc = recorder.one("bpcpay request")
    (attempt,) = recorder.children(ad_hoc)
    # A caller's own path is no template: the span is named after the method alone.
    assert attempt.name == "GET"
    assert "url.template" not in attrs(attempt)
    assert attrs(attempt)["url.full"] == (
        f"{gw.base_url}/sessions/ps_x?limit=REDACTED&token=REDACTED"
    )


# --- retries and failures ------------------------------------------------------------------


@pytest.mark.asyncio
async def test_a_retried_call_has_a_span_per_attempt_and_counts_the_retry(
    gw: SandboxGateway, recorder: Recorder
) -> None:
    async with client(gw, recorder) as c:
        session = await c.sessions.create(amount=1000, currency="EUR", **URLS)
        gw.faults.add(method="GET", path=f"/api2/sessions/{session.id}", status=503)
        again = await c.sessions.retrieve(session.id)
    call = recorder.one("bpcpay sessions.retrieve")
    assert call.status.status_code is StatusCode.UNSET
    assert attrs(call)["bpcpay.attempts"] == 2
    assert attrs(call)["bpcpay.request_id"] == again.request_id  # the last attempt's
    first, second = recorder.children(call)
    assert attrs(first)["http.response.status_code"] == 503
    assert attrs(first)["error.type"] == "503"
    assert first.status.status_code is StatusCode.ERROR
    assert "http.request.resend_count" not in attrs(first)
    assert attrs(second)["http.response.status_code"] == 200
    assert attrs(second)["http.request.resend_count"] == 1
    assert "error.type" not in attrs(second)
    assert second.status.status_code is StatusCode.UNSET
    assert first.end_time <= second.start_time  # type: ignore[operator]

    retries = recorder.points("bpcpay.client.retries")
    assert count(retries, bpcpay__retry__reason="503") == 1
    ((retried, _),) = retries
    assert retried == {
        "http.request.method": "GET",
        **server(gw),
        "url.template": "/api2/sessions/{session_id}",
        "bpcpay.retry.reason": "503",
    }
    durations = recorder.points(DURATION)
    assert count(durations, error__type="503", http__response__status_code=503) == 1
    assert count(durations, http__request__method="GET", http__response__status_code=200) == 1


@pytest.mark.asyncio
async def test_a_404_ends_both_spans_in_error(gw: SandboxGateway, recorder: Recorder) -> None:
    async with client(gw, recorder) as c:
        with pytest.raises(bpcpay.NotFoundError) as caught:
            await c.sessions.retrieve("ps_missing")
    call = recorder.one("bpcpay sessions.retrieve")
    assert call.status.status_code is StatusCode.ERROR
    assert attrs(call) == {
        "bpcpay.session.id": "ps_missing",
        "bpcpay.request_id": caught.value.request_id,
        "bpcpay.attempts": 1,
        "error.type": "bpcpay.NotFoundError",
    }
    (attempt,) = recorder.children(call)
    assert attempt.status.status_code is StatusCode.ERROR
    assert attrs(attempt)["http.response.status_code"] == 404
    assert attrs(attempt)["error.type"] == "404"
    # No exception event: an error's message may quote what the gateway sent.
    assert call.events == () and attempt.events == ()


@pytest.mark.asyncio
async def test_a_timed_out_post_says_its_outcome_is_unknown(
    gw: SandboxGateway, recorder: Recorder
) -> None:
    gw.faults.add(method="POST", path="/api2/sessions", stall=1.0)
    async with client(gw, recorder, timeout=Timeout(connect=2.0, read=0.2)) as c:
        with pytest.raises(bpcpay.APITimeoutError) as caught:
            await c.sessions.create(amount=1000, currency="EUR", **URLS)
    assert caught.value.outcome_unknown
    call = recorder.one("bpcpay sessions.create")
    assert call.status.status_code is StatusCode.ERROR
    assert attrs(call) == {
        "bpcpay.attempts": 1,
        "bpcpay.outcome_unknown": True,
        "error.type": "bpcpay.APITimeoutError",
    }
    (attempt,) = recorder.children(call)
    assert attrs(attempt)["error.type"] == "timeout"
    assert "http.response.status_code" not in attrs(attempt)
    assert attempt.status.status_code is StatusCode.ERROR
    assert count(recorder.points(DURATION), error__type="timeout") == 1


@pytest.mark.asyncio
async def test_a_timed_out_get_is_retried_and_its_outcome_is_known(
    gw: SandboxGateway, recorder: Recorder
) -> None:
    async with client(gw, recorder, timeout=Timeout(connect=2.0, read=0.2)) as c:
        session = await c.sessions.create(amount=1000, currency="EUR", **URLS)
        gw.faults.add(method="GET", path=f"/api2/sessions/{session.id}", stall=1.0)
        await c.sessions.retrieve(session.id)
    call = recorder.one("bpcpay sessions.retrieve")
    assert "bpcpay.outcome_unknown" not in attrs(call)
    first, second = recorder.children(call)
    assert attrs(first)["error.type"] == "timeout"
    assert attrs(second)["http.request.resend_count"] == 1
    assert count(recorder.points("bpcpay.client.retries"), bpcpay__retry__reason="timeout") == 1


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.mark.asyncio
async def test_a_refused_connection_is_retried_even_for_a_post(recorder: Recorder) -> None:
    port = _closed_port()
    async with AsyncBpcPay(
        api_key="sk_test_telemetry_refused",
        base_url=f"http://127.0.0.1:{port}/api2",
        max_retries=1,
        _sleep=_no_sleep,
        **recorder.providers,
    ) as c:
        with pytest.raises(bpcpay.APIConnectionError) as caught:
            await c.sessions.create(amount=1000, currency="EUR", **URLS)
    assert not caught.value.outcome_unknown
    call = recorder.one("bpcpay sessions.create")
    assert attrs(call) == {"bpcpay.attempts": 2, "error.type": "bpcpay.APIConnectionError"}
    first, second = recorder.children(call)
    for attempt in (first, second):
        assert attrs(attempt)["error.type"] == "connection_refused"
        assert attrs(attempt)["server.port"] == port
        assert "http.response.status_code" not in attrs(attempt)
    assert attrs(second)["http.request.resend_count"] == 1
    retries = recorder.points("bpcpay.client.retries")
    assert count(retries, bpcpay__retry__reason="connection_refused") == 1


@pytest.mark.asyncio
async def test_a_post_cancelled_mid_attempt_is_no_error_but_its_outcome_is_unknown(
    recorder: Recorder,
) -> None:
    fake = FakeGateway()
    fake.delay = 0.5
    await fake.start()
    try:
        async with AsyncBpcPay(api_key=KEY, base_url=fake.base_url, **recorder.providers) as c:
            task = asyncio.ensure_future(c.sessions.create(amount=1000, currency="EUR", **URLS))
            for _ in range(500):
                if fake.requests:
                    break
                await asyncio.sleep(0.01)
            assert fake.requests, "the POST never arrived"
            task.cancel()
            with pytest.raises(asyncio.CancelledError):
                await task
    finally:
        await fake.stop()
    call = recorder.one("bpcpay sessions.create")
    assert call.status.status_code is StatusCode.UNSET
    assert attrs(call) == {"bpcpay.attempts": 1, "bpcpay.outcome_unknown": True}
    (attempt,) = recorder.children(call)
    assert attempt.status.status_code is StatusCode.UNSET
    assert "error.type" not in attrs(attempt)


# --- where the spans hang ------------------------------------------------------------------


@pytest.mark.asyncio
async def test_a_call_continues_the_caller_s_trace(gw: SandboxGateway, recorder: Recorder) -> None:
    tracer = recorder.tracer_provider.get_tracer("shop")
    async with client(gw, recorder) as c:
        with tracer.start_as_current_span("checkout") as checkout:
            await c.sessions.create(amount=1000, currency="EUR", **URLS)
    call = recorder.one("bpcpay sessions.create")
    assert parent_id(call) == checkout.get_span_context().span_id
    assert call.context.trace_id == checkout.get_span_context().trace_id  # type: ignore[union-attr]


def test_the_sync_client_continues_the_calling_thread_s_trace(recorder: Recorder) -> None:
    tracer = recorder.tracer_provider.get_tracer("shop")
    with (
        sync_sandbox() as gateway,
        BpcPay(api_key=gateway.api_key, base_url=gateway.base_url, **recorder.providers) as c,
    ):
        with tracer.start_as_current_span("checkout") as checkout:
            session = c.sessions.create(amount=1000, currency="EUR", **URLS)
        c.sessions.retrieve(session.id)
    call = recorder.one("bpcpay sessions.create")
    assert parent_id(call) == checkout.get_span_context().span_id
    (attempt,) = recorder.children(call)
    assert attempt.kind is SpanKind.CLIENT
    # A call made outside any span starts a trace of its own.
    assert parent_id(recorder.one("bpcpay sessions.retrieve")) is None


@pytest.mark.asyncio
async def test_with_options_keeps_the_telemetry(gw: SandboxGateway, recorder: Recorder) -> None:
    async with client(gw, recorder) as c:
        session = await c.sessions.create(amount=1000, currency="EUR", **URLS)
        gw.faults.add(method="GET", path=f"/api2/sessions/{session.id}", status=503)
        with pytest.raises(bpcpay.InternalServerError):
            await c.with_options(max_retries=0).sessions.retrieve(session.id)
    call = recorder.one("bpcpay sessions.retrieve")
    assert attrs(call)["bpcpay.attempts"] == 1
    assert attrs(call)["error.type"] == "bpcpay.InternalServerError"


# --- before_request ------------------------------------------------------------------------


@pytest_asyncio.fixture
async def fake() -> AsyncIterator[FakeGateway]:
    gateway = FakeGateway()
    await gateway.start()
    yield gateway
    await gateway.stop()


@pytest.mark.asyncio
async def test_before_request_sees_each_attempt_and_its_edits_are_sent(fake: FakeGateway) -> None:
    seen: list[tuple[str, str, dict[str, str], int]] = []

    def hook(request: bpcpay.OutgoingRequest) -> object:
        seen.append((request.method, request.url, dict(request.headers), request.attempt))
        request.headers["X-Order-Ref"] = f"order-42/{request.attempt}"
        del request.headers["User-Agent"]
        return {"ignored": True}  # the return value is ignored

    fake.fail_next = [503]
    async with AsyncBpcPay(
        api_key=KEY, base_url=fake.base_url, before_request=hook, _sleep=_no_sleep
    ) as c:
        session = await c.sessions.retrieve("ps_1")
    assert session.id == "ps_1"
    assert [(m, u, n) for m, u, _, n in seen] == [
        ("GET", f"{fake.base_url}/sessions/ps_1", 1),
        ("GET", f"{fake.base_url}/sessions/ps_1", 2),
    ]
    for _, _, headers, _ in seen:
        assert "X-Api-Key" not in headers
        assert headers["X-Version"] == bpcpay.DEFAULT_API_VERSION
        assert KEY not in repr(headers)
    sent = [headers for _, _, headers, _ in fake.requests]
    assert [h["X-Order-Ref"] for h in sent] == ["order-42/1", "order-42/2"]
    assert all(h["X-Api-Key"] == KEY for h in sent)
    # aiohttp adds its own User-Agent when none is given: ours was removed by the hook.
    assert all(not h["User-Agent"].startswith("bpcpay/") for h in sent)


@pytest.mark.asyncio
async def test_the_before_request_object_never_shows_the_key(fake: FakeGateway) -> None:
    views: list[bpcpay.OutgoingRequest] = []
    async with AsyncBpcPay(api_key=KEY, base_url=fake.base_url, before_request=views.append) as c:
        await c.sessions.create(amount=1000, currency="EUR", **URLS)
    (view,) = views
    assert repr(view) == f"<OutgoingRequest POST {fake.base_url}/sessions attempt=1>"
    assert str(view) == repr(view)
    held = [getattr(view, name) for name in type(view).__slots__]
    assert not any(KEY in repr(value) for value in held)
    assert not any(KEY[8:20] in repr(value) for value in held)
    assert not hasattr(view, "__dict__")


@pytest.mark.parametrize(
    "edit",
    [
        pytest.param(lambda r: r.headers.__setitem__("x-api-key", "sk_other"), id="sets the key"),
        pytest.param(lambda r: r.headers.__setitem__("X-Note", "a\r\nX-Evil: 1"), id="line break"),
        pytest.param(lambda r: r.headers.__setitem__("X-Count", 3), id="not a str"),
        pytest.param(lambda r: 1 / 0, id="raises"),
        pytest.param(lambda r: setattr(r, "headers", ["X-A: 1"]), id="not a mapping"),
    ],
)
@pytest.mark.asyncio
async def test_a_failing_before_request_is_logged_and_the_attempt_is_sent_as_built(
    fake: FakeGateway, edit: Any, caplog: pytest.LogCaptureFixture
) -> None:
    def hook(request: bpcpay.OutgoingRequest) -> None:
        request.headers["X-Partial"] = "1"
        edit(request)

    caplog.set_level(logging.ERROR, logger="bpcpay")
    async with AsyncBpcPay(api_key=KEY, base_url=fake.base_url, before_request=hook) as c:
        session = await c.sessions.retrieve("ps_1")
    assert session.id == "ps_1"
    ((_, _, headers, _),) = fake.requests
    assert headers["X-Api-Key"] == KEY
    assert "X-Partial" not in headers and "X-Note" not in headers and "X-Evil" not in headers
    (record,) = [r for r in caplog.records if "before_request" in r.getMessage()]
    assert "sent as bpcpay built it" in record.getMessage()
    assert KEY not in caplog.text


@pytest.mark.parametrize("make", [AsyncBpcPay, BpcPay])
def test_before_request_and_the_providers_are_checked(make: Any) -> None:
    with pytest.raises(bpcpay.InvalidArgumentError, match=r"^before_request: must be a callable"):
        make(api_key=KEY, before_request="nope")
    with pytest.raises(bpcpay.InvalidArgumentError, match=r"^tracer_provider: must be an Open"):
        make(api_key=KEY, tracer_provider=object())
    with pytest.raises(bpcpay.InvalidArgumentError, match=r"^meter_provider: must be an Open"):
        make(api_key=KEY, meter_provider=object())


def test_the_sync_client_runs_before_request_too() -> None:
    seen: list[int] = []
    with (
        sync_sandbox() as gateway,
        BpcPay(
            api_key=gateway.api_key,
            base_url=gateway.base_url,
            before_request=lambda r: seen.append(r.attempt),
        ) as c,
    ):
        c.sessions.create(amount=1000, currency="EUR", **URLS)
    assert seen == [1]


@pytest.mark.asyncio
async def test_before_request_runs_inside_the_attempt_s_span_and_can_propagate_it(
    fake: FakeGateway, recorder: Recorder
) -> None:
    propagator = TraceContextTextMapPropagator()
    async with AsyncBpcPay(
        api_key=KEY,
        base_url=fake.base_url,
        before_request=lambda r: propagator.inject(r.headers),
        **recorder.providers,
    ) as c:
        await c.sessions.retrieve("ps_1")
    (attempt,) = recorder.children(recorder.one("bpcpay sessions.retrieve"))
    ((_, _, headers, _),) = fake.requests
    trace_id = attempt.context.trace_id  # type: ignore[union-attr]
    # W3C traceparent: version, trace id, the attempt's span id, flags (sampled).
    version, sent_trace, sent_span, flags = headers["traceparent"].split("-")
    assert (version, sent_trace, sent_span) == (
        "00",
        f"{trace_id:032x}",
        f"{span_id(attempt):016x}",
    )
    assert int(flags, 16) & 1


# --- what the gateway echoes ---------------------------------------------------------------


@pytest.mark.asyncio
async def test_a_request_id_that_echoes_the_key_is_scrubbed(recorder: Recorder) -> None:
    async def echo(request: web.Request) -> web.Response:
        key = request.headers["X-Api-Key"]
        return web.json_response(
            {"id": "ps_1", "amount": 1, "currency": "EUR", "status": "open"},
            headers={"API-Request-Id": f"req_{key}"},
        )

    app = web.Application()
    app.router.add_get("/api2/sessions/{id}", echo)
    async with (
        serving(app) as root,
        AsyncBpcPay(api_key=KEY, base_url=f"{root}/api2", **recorder.providers) as c,
    ):
        await c.sessions.retrieve("ps_1")
    call = recorder.one("bpcpay sessions.retrieve")
    (attempt,) = recorder.children(call)
    assert attrs(call)["bpcpay.request_id"] == "req_[redacted]"
    assert attrs(attempt)["bpcpay.request_id"] == "req_[redacted]"


# --- the other endings of an attempt, and partial set-ups ----------------------------------


@pytest.mark.asyncio
async def test_a_dropped_connection_and_an_answer_too_large_are_named(
    gw: SandboxGateway, recorder: Recorder
) -> None:
    async with client(gw, recorder, max_retries=2) as c:
        session = await c.sessions.create(amount=1000, currency="EUR", **URLS)
        # Twice: aiohttp itself sends a GET again once on a connection that closed under it.
        gw.faults.add(method="GET", path=f"/api2/sessions/{session.id}", drop=True, times=2)
        await c.sessions.retrieve(session.id)
        async with client(gw, recorder, max_response_bytes=64) as small:
            with pytest.raises(bpcpay.ResponseTooLargeError) as caught:
                await small.sessions.retrieve(session.id)
    *dropped, retried = recorder.children(recorder.named("bpcpay sessions.retrieve")[0])
    assert dropped
    assert all(attrs(a)["error.type"] == "connection_error" for a in dropped)
    assert attrs(retried)["http.request.resend_count"] == len(dropped)
    assert "error.type" not in attrs(retried)
    too_large = recorder.named("bpcpay sessions.retrieve")[1]
    assert attrs(too_large)["error.type"] == "bpcpay.ResponseTooLargeError"
    assert attrs(too_large)["bpcpay.request_id"] == caught.value.request_id
    (attempt,) = recorder.children(too_large)
    assert attrs(attempt)["error.type"] == "response_too_large"
    assert attrs(attempt)["http.response.status_code"] == 200


@pytest.mark.asyncio
async def test_an_answer_without_a_model_carries_no_ids(
    gw: SandboxGateway, recorder: Recorder
) -> None:
    async with client(gw, recorder) as c:
        session = await c.sessions.create(amount=1000, currency="EUR", **URLS)
        raw = await c.request("GET", f"/sessions/{session.id}")
    assert raw["id"] == session.id
    call = recorder.one("bpcpay request")
    assert set(attrs(call)) == {"bpcpay.request_id", "bpcpay.attempts"}


@pytest.mark.asyncio
async def test_a_meter_provider_alone_records_metrics_and_no_span(
    gw: SandboxGateway, recorder: Recorder
) -> None:
    async with AsyncBpcPay(
        api_key=gw.api_key, base_url=gw.base_url, meter_provider=recorder.meter_provider
    ) as c:
        await c.sessions.create(amount=1000, currency="EUR", **URLS)
    assert recorder.spans() == []
    assert count(recorder.points(DURATION), http__response__status_code=200) == 1


class _BrokenProvider:
    def get_tracer(self, name: str, version: str | None = None) -> object:
        raise RuntimeError("the application's provider is broken")


@pytest.mark.asyncio
async def test_a_provider_that_fails_fails_no_call(
    gw: SandboxGateway, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.ERROR, logger="bpcpay")
    async with AsyncBpcPay(
        api_key=gw.api_key,
        base_url=gw.base_url,
        tracer_provider=_BrokenProvider(),  # type: ignore[arg-type]
    ) as c:
        session = await c.sessions.create(amount=1000, currency="EUR", **URLS)
    assert session.id
    assert "an OpenTelemetry provider failed; bpcpay records nothing" in caplog.text


@pytest.mark.parametrize(
    ("cause", "failure", "kind"),
    [
        ("ClientConnectorCertificateError", "not_sent", "tls_error"),
        ("ClientConnectorSSLError", "not_sent", "tls_error"),
        ("ClientConnectorDNSError", "not_sent", "dns_error"),
        ("ClientConnectorError", "not_sent", "connect_error"),
        ("ServerDisconnectedError", "maybe_sent", "connection_error"),
    ],
)
def test_each_failure_without_an_answer_has_a_kind(cause: str, failure: str, kind: str) -> None:
    """The kinds a loopback test cannot provoke (DNS, TLS), from the transport's failures."""
    from bpcpay._core._outcomes import TransportFailure
    from bpcpay._core._retry import Failure
    from bpcpay._telemetry import _failure_kind

    error = type(cause, (Exception,), {})("what aiohttp said")
    made = TransportFailure(Failure(failure), "could not connect to x:443: ...", cause=error)
    assert _failure_kind(made) == kind


def test_the_per_call_question_is_answered_by_the_source_s_quiet_window() -> None:
    # traced_call skips ClientTelemetry.call while the source's clock is before quiet_until:
    # no-op providers given are quiet for ever, real ones never, and a source following a
    # global provider is quiet exactly until its next look (then current() looks again).
    from opentelemetry.metrics import NoOpMeterProvider
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.trace import NoOpTracerProvider, ProxyTracerProvider

    from bpcpay._telemetry import RECHECK_SECONDS, _api, _Source

    api = _api()
    assert api is not None
    now = [100.0]
    never = _Source(api, NoOpTracerProvider(), NoOpMeterProvider(), clock=lambda: now[0])
    assert never.quiet_until == float("inf") and never.current() is None
    real = _Source(api, TracerProvider(), NoOpMeterProvider(), clock=lambda: now[0])
    assert real.quiet_until == float("-inf") and real.current() is not None
    following = _Source(api, ProxyTracerProvider(), NoOpMeterProvider(), clock=lambda: now[0])
    if following.current() is None:  # no global SDK set in this process (yet)
        assert following.quiet_until == 100.0 + RECHECK_SECONDS
        now[0] = following.quiet_until
        following.current()  # the look at the end of the window opens the next one
        assert following.quiet_until == now[0] + RECHECK_SECONDS
    else:
        assert following.quiet_until == float("-inf")
