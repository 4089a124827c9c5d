"""AsyncBpcPay: headers, options, lifecycle, the request() escape hatch and the transport."""

from __future__ import annotations

import asyncio
import gc
import json
import logging
import re
import socket
import threading
import time
from collections.abc import AsyncIterator

import aiohttp
import pytest
import pytest_asyncio
from _support import (
    API_KEY,
    BASE_URL,
    PAYMENT_JSON,
    REQUEST_ID,
    SESSION_EXAMPLE,
    SleepRecorder,
    calls,
    sent_count,
    url,
)
from aiohttp import web
from aioresponses import aioresponses

import bpcpay
from bpcpay import AsyncBpcPay, Timeout
from bpcpay._async._client import SyncSupport
from bpcpay._async._transport import AiohttpTransport
from bpcpay._constants import DEFAULT_API_VERSION, MAX_RETRY_AFTER
from bpcpay._core._endpoints import SESSIONS_CREATE
from bpcpay._core._requests import build_request
from bpcpay.models import Session

SESSION_PATH = f"/sessions/{SESSION_EXAMPLE['id']}"
CREATE = {
    "amount": 10000,
    "currency": "EUR",
    "success_url": "https://shop.example/success",
    "failure_url": "https://shop.example/failure",
}


# --- what every request carries ----------------------------------------------------------------


@pytest.mark.asyncio
async def test_every_request_sends_key_version_and_user_agent(
    client: AsyncBpcPay, mocked: aioresponses
) -> None:
    mocked.get(url(SESSION_PATH), payload=SESSION_EXAMPLE)
    mocked.post(url("/sessions"), payload=SESSION_EXAMPLE)
    await client.sessions.retrieve(SESSION_EXAMPLE["id"])
    await client.sessions.create(**CREATE)
    sent = calls(mocked)
    assert len(sent) == 2
    for method, _, kwargs in sent:
        headers = kwargs["headers"]
        assert headers["X-Api-Key"] == API_KEY
        assert headers["X-Version"] == DEFAULT_API_VERSION == "2023-10-31"
        assert re.fullmatch(
            rf"bpcpay/{re.escape(bpcpay.__version__)} aiohttp/\S+ \w+/\d+\.\d+\.\d+\S*",
            headers["User-Agent"],
        )
        assert headers["Accept"] == "application/json"
        assert ("Content-Type" in headers) is (method == "POST")


@pytest.mark.asyncio
async def test_api_version_is_overridable(mocked: aioresponses) -> None:
    async with AsyncBpcPay(api_key=API_KEY, base_url=BASE_URL, api_version="2023-10-31") as c:
        mocked.get(url(SESSION_PATH), payload=SESSION_EXAMPLE)
        await c.sessions.retrieve(SESSION_EXAMPLE["id"])
    ((_, _, kwargs),) = calls(mocked)
    assert kwargs["headers"]["X-Version"] == "2023-10-31"


@pytest.mark.asyncio
async def test_base_url_with_trailing_slash(mocked: aioresponses) -> None:
    async with AsyncBpcPay(api_key=API_KEY, base_url=BASE_URL + "/") as c:
        mocked.get(url(SESSION_PATH), payload=SESSION_EXAMPLE)
        await c.sessions.retrieve(SESSION_EXAMPLE["id"])
    ((_, target, _),) = calls(mocked)
    assert target == url(SESSION_PATH)


# --- timeouts ----------------------------------------------------------------------------------


@pytest.mark.asyncio
async def test_default_and_per_call_timeouts_reach_aiohttp(
    client: AsyncBpcPay, mocked: aioresponses
) -> None:
    mocked.get(url(SESSION_PATH), payload=SESSION_EXAMPLE, repeat=True)
    await client.sessions.retrieve(SESSION_EXAMPLE["id"])
    await client.sessions.retrieve(SESSION_EXAMPLE["id"], timeout=2.5)
    await client.sessions.retrieve(SESSION_EXAMPLE["id"], timeout=Timeout(connect=1, read=9))
    await client.with_options(timeout=Timeout(connect=3, read=4)).sessions.retrieve(
        SESSION_EXAMPLE["id"]
    )
    # connect bounds getting a connection (pool wait included), total = connect + read caps
    # the attempt; no per-chunk sock_read. read is bpcpay's own deadline, started when the
    # request is sent (tests/reliability/test_timeouts_cancellation.py shows it per call).
    got = [
        (kw["timeout"].connect, kw["timeout"].total, kw["timeout"].sock_read)
        for _, _, kw in calls(mocked)
    ]
    assert got == [(5.0, 25.0, None), (2.5, 5.0, None), (1, 10, None), (3, 7, None)]
    assert client.timeout == Timeout()


@pytest.mark.asyncio
async def test_every_distinct_timeout_gets_its_own_client_timeout(
    client: AsyncBpcPay, mocked: aioresponses
) -> None:
    # The transport caches up to 64 of them; past that each is built per call, still right.
    mocked.get(url(SESSION_PATH), payload=SESSION_EXAMPLE, repeat=True)
    timeouts = [Timeout(connect=1, read=2)] * 2 + [Timeout(connect=n, read=n) for n in range(2, 80)]
    for timeout in timeouts:
        await client.sessions.retrieve(SESSION_EXAMPLE["id"], timeout=timeout)
    sent = [kw["timeout"] for _, _, kw in calls(mocked)]
    assert [(t.connect, t.total) for t in sent] == [(t.connect, t.total) for t in timeouts]
    assert all(t.sock_connect is None and t.sock_read is None for t in sent)


def test_timeout_value() -> None:
    t = Timeout(connect=2, read=3)
    assert t.total == 5
    assert bpcpay._types.to_timeout(7) == Timeout(connect=7.0, read=7.0)
    assert bpcpay._types.to_timeout(t) is t
    for bad in (
        {"connect": 0},
        {"read": -1},
        {"read": float("nan")},
        {"connect": True},
        {"read": "1"},
    ):
        with pytest.raises(bpcpay.InvalidArgumentError) as info:
            Timeout(**bad)
        assert info.value.argument == f"timeout.{next(iter(bad))}"


# --- options and lifecycle ---------------------------------------------------------------------


@pytest.mark.asyncio
async def test_with_options_shares_connections_and_keeps_the_original(
    client: AsyncBpcPay, mocked: aioresponses
) -> None:
    fast = client.with_options(timeout=1, max_retries=0)
    assert fast is not client
    assert fast.timeout == Timeout(connect=1.0, read=1.0)
    assert fast.max_retries == 0
    assert client.timeout == Timeout()
    assert client.max_retries == 2
    same = client.with_options()
    assert (same.timeout, same.max_retries) == (client.timeout, client.max_retries)
    with pytest.raises(bpcpay.InvalidArgumentError):
        client.with_options(max_retries=-1)
    mocked.get(url(SESSION_PATH), payload=SESSION_EXAMPLE, repeat=True)
    assert isinstance(await fast.sessions.retrieve(SESSION_EXAMPLE["id"]), Session)
    await client.sessions.retrieve(SESSION_EXAMPLE["id"])
    # Each client's resources send with that client's options.
    assert [kw["timeout"].total for _, _, kw in calls(mocked)] == [2.0, Timeout().total]


@pytest.mark.asyncio
async def test_closing_a_with_options_twin_closes_the_shared_session(
    mocked: aioresponses,
) -> None:
    async with AsyncBpcPay(api_key=API_KEY, base_url=BASE_URL) as client:
        mocked.get(url(SESSION_PATH), payload=SESSION_EXAMPLE, repeat=True)
        twin = client.with_options(max_retries=0)
        await client.sessions.retrieve(SESSION_EXAMPLE["id"])
        await twin.aclose()
        assert twin.closed
        # The original is not marked closed, but its connections are gone: a clear error, not
        # aiohttp's bare RuntimeError.
        with pytest.raises(bpcpay.ClientClosedError):
            await client.sessions.retrieve(SESSION_EXAMPLE["id"])
    assert sent_count(mocked) == 1


@pytest.mark.asyncio
async def test_session_is_lazy_owned_and_closed(mocked: aioresponses) -> None:
    transport = AiohttpTransport(session=None, pool_size=100, max_response_bytes=1024)
    client = AsyncBpcPay(api_key=API_KEY, base_url=BASE_URL, _transport=transport)
    assert transport.session is None
    assert transport.owns_session
    assert repr(transport) == "<AiohttpTransport unopened pool_size=100>"
    mocked.get(url(SESSION_PATH), payload=SESSION_EXAMPLE, repeat=True)
    await client.sessions.retrieve(SESSION_EXAMPLE["id"])
    await client.sessions.retrieve(SESSION_EXAMPLE["id"])
    assert repr(transport) == "<AiohttpTransport open pool_size=100>"
    session = transport.session
    assert session is not None
    assert session.connector is not None
    assert session.connector.limit == 100
    await client.aclose()
    assert session.closed
    assert client.closed
    assert transport.closed
    assert "closed" in repr(client)
    assert repr(transport) == "<AiohttpTransport closed pool_size=100>"
    await client.aclose()  # idempotent


@pytest.mark.asyncio
async def test_closed_client_refuses_calls_without_sending(mocked: aioresponses) -> None:
    async with AsyncBpcPay(api_key=API_KEY, base_url=BASE_URL) as client:
        pass
    mocked.get(url(SESSION_PATH), payload=SESSION_EXAMPLE)
    with pytest.raises(bpcpay.ClientClosedError, match="AsyncBpcPay is closed") as info:
        await client.sessions.retrieve(SESSION_EXAMPLE["id"])
    assert isinstance(info.value, RuntimeError)
    assert sent_count(mocked) == 0


@pytest.mark.asyncio
async def test_a_borrowed_session_is_used_and_never_closed(gateway: Gateway) -> None:
    sent_by_own: list[str] = []

    async def on_request_start(
        _: object, __: object, params: aiohttp.TraceRequestStartParams
    ) -> None:
        sent_by_own.append(params.url.path)

    trace = aiohttp.TraceConfig()
    trace.on_request_start.append(on_request_start)
    async with aiohttp.ClientSession(trace_configs=[trace]) as own:
        client = AsyncBpcPay(api_key=API_KEY, base_url=gateway.url, session=own, pool_size=1)
        await client.sessions.retrieve("ps_1")
        assert sent_by_own == ["/api2/sessions/ps_1"]
        await client.aclose()
        assert not own.closed
        assert client.closed
    # The owner closed it: a new client on it gets a clear error, and nothing is sent.
    late = AsyncBpcPay(api_key=API_KEY, base_url=gateway.url, session=own)
    with pytest.raises(bpcpay.ClientClosedError):
        await late.sessions.retrieve("ps_2")
    assert len(gateway.seen) == 1


@pytest.mark.asyncio
async def test_for_forked_child_has_a_new_unopened_transport(mocked: aioresponses) -> None:
    inherited = AiohttpTransport(session=None, pool_size=7, max_response_bytes=1024)
    client = AsyncBpcPay(api_key=API_KEY, base_url=BASE_URL, max_retries=1, _transport=inherited)
    await client.aclose()  # closed in the parent: the child's twin starts open all the same
    fresh = SyncSupport(client).for_forked_child().client
    assert not fresh.closed
    assert (fresh.max_retries, fresh.max_response_bytes) == (1, 1024)
    mocked.get(url(SESSION_PATH), payload=SESSION_EXAMPLE)
    assert (await fresh.sessions.retrieve(SESSION_EXAMPLE["id"])).id == SESSION_EXAMPLE["id"]
    assert inherited.session is None  # the call went through a transport of the child's own
    await fresh.aclose()


def test_a_transport_for_a_forked_child_keeps_the_settings_and_opens_nothing() -> None:
    inherited = AiohttpTransport(session=None, pool_size=7, max_response_bytes=1024)
    child = inherited.for_forked_child()
    assert child is not inherited
    assert (child.pool_size, child.max_response_bytes, child.session) == (7, 1024, None)


def test_the_sync_deadline_bounds_every_retry() -> None:
    client = AsyncBpcPay(api_key=API_KEY, timeout=Timeout(connect=1, read=4), max_retries=2)
    support = SyncSupport(client)
    assert support.deadline() == 3 * 5 + 2 * MAX_RETRY_AFTER
    assert support.deadline(timeout=1) == 3 * 2 + 2 * MAX_RETRY_AFTER


# --- request(): the escape hatch ---------------------------------------------------------------


@pytest.mark.asyncio
async def test_request_returns_json_or_a_model(client: AsyncBpcPay, mocked: aioresponses) -> None:
    mocked.get(url("/balance"), payload={"available": [{"amount": 5, "currency": "EUR"}]})
    mocked.post(
        url("/payments/pay_1/extend"), payload=PAYMENT_JSON, headers={"API-Request-Id": REQUEST_ID}
    )
    assert await client.request("GET", "/balance") == {
        "available": [{"amount": 5, "currency": "EUR"}]
    }
    payment = await client.request(
        "POST", "/payments/pay_1/extend", json={"days": 3}, cast_to=bpcpay.Payment, timeout=4
    )
    assert isinstance(payment, bpcpay.Payment)
    assert payment.request_id == REQUEST_ID
    post = next(kw for m, _, kw in calls(mocked) if m == "POST")
    assert json.loads(post["data"]) == {"days": 3}
    assert post["timeout"].total == 8


@pytest.mark.asyncio
async def test_request_errors_are_decoded_too(client: AsyncBpcPay, mocked: aioresponses) -> None:
    mocked.delete(url("/payment-methods/pm_1"), status=409, body=b'{"message": "in use"}')
    with pytest.raises(bpcpay.ConflictError, match="in use"):
        await client.request("DELETE", "/payment-methods/pm_1")
    assert sent_count(mocked) == 1


# --- logging -----------------------------------------------------------------------------------


@pytest.mark.asyncio
async def test_debug_logs_never_contain_the_key(
    client: AsyncBpcPay, mocked: aioresponses, caplog: pytest.LogCaptureFixture
) -> None:
    mocked.get(url(SESSION_PATH), exception=aiohttp.ServerDisconnectedError())
    mocked.get(url(SESSION_PATH), status=503, body=b"")
    mocked.get(url(SESSION_PATH), payload=SESSION_EXAMPLE, headers={"API-Request-Id": REQUEST_ID})
    with caplog.at_level(logging.DEBUG, logger="bpcpay"):
        await client.sessions.retrieve(SESSION_EXAMPLE["id"])
    text = caplog.text
    assert API_KEY not in text
    assert len(caplog.records) >= 3  # one line per attempt at least
    assert "ServerDisconnectedError" in text
    assert "503" in text
    assert REQUEST_ID in text
    assert SESSION_PATH in text


@pytest.mark.asyncio
async def test_on_attempt_hook_sees_every_attempt(mocked: aioresponses) -> None:
    seen: list[bpcpay.RequestAttempt] = []
    async with AsyncBpcPay(
        api_key=API_KEY,
        base_url=BASE_URL,
        on_attempt=seen.append,
        _sleep=SleepRecorder(),
        _random=lambda: 0.5,
    ) as client:
        mocked.get(url(SESSION_PATH), exception=aiohttp.ServerDisconnectedError())
        mocked.get(url(SESSION_PATH), status=503, body=b"", headers={"API-Request-Id": "req_a"})
        mocked.get(url(SESSION_PATH), payload=SESSION_EXAMPLE, headers={"API-Request-Id": "req_b"})
        await client.sessions.retrieve(SESSION_EXAMPLE["id"])
    assert [(a.attempt, a.status, a.request_id, a.retry_in) for a in seen] == [
        (1, None, None, 0.375),
        (2, 503, "req_a", 0.75),
        (3, 200, "req_b", None),
    ]
    assert seen[0].error is not None
    assert "ServerDisconnectedError" in seen[0].error
    assert all(a.method == "GET" and a.path == SESSION_PATH for a in seen)
    assert all(a.elapsed >= 0 for a in seen)
    assert API_KEY not in repr(seen)


@pytest.mark.asyncio
async def test_a_failing_on_attempt_hook_is_logged_not_raised(
    mocked: aioresponses, caplog: pytest.LogCaptureFixture
) -> None:
    def broken(_: bpcpay.RequestAttempt) -> None:
        raise RuntimeError("hook bug")

    async with AsyncBpcPay(api_key=API_KEY, base_url=BASE_URL, on_attempt=broken) as client:
        mocked.get(url(SESSION_PATH), payload=SESSION_EXAMPLE)
        with caplog.at_level(logging.ERROR, logger="bpcpay"):
            session = await client.sessions.retrieve(SESSION_EXAMPLE["id"])
    assert session.id == SESSION_EXAMPLE["id"]
    assert "on_attempt" in caplog.text


def test_on_attempt_must_be_callable() -> None:
    with pytest.raises(bpcpay.InvalidArgumentError) as info:
        AsyncBpcPay(api_key=API_KEY, on_attempt="print")  # type: ignore[arg-type]
    assert info.value.argument == "on_attempt"


# --- the transport's mapping of aiohttp errors -------------------------------------------------


@pytest.mark.asyncio
async def test_cancellation_propagates_untouched(client: AsyncBpcPay, mocked: aioresponses) -> None:
    mocked.get(url(SESSION_PATH), exception=asyncio.CancelledError())
    with pytest.raises(asyncio.CancelledError):
        await client.sessions.retrieve(SESSION_EXAMPLE["id"])
    assert sent_count(mocked) == 1


@pytest.mark.asyncio
async def test_plain_oserror_is_a_maybe_sent_failure(
    client: AsyncBpcPay, mocked: aioresponses
) -> None:
    mocked.post(url("/sessions"), exception=OSError("network is down"))
    with pytest.raises(bpcpay.APIConnectionError) as info:
        await client.sessions.create(**CREATE)
    assert info.value.request_sent
    assert "OSError" in str(info.value)
    assert sent_count(mocked) == 1


# --- against a real aiohttp server on loopback -------------------------------------------------


class Gateway:
    def __init__(self) -> None:
        self.seen: list[tuple[str, str, dict[str, str], bytes]] = []
        self.release = asyncio.Event()
        self.url = ""

    async def handle(self, request: web.Request) -> web.Response:
        body = await request.read()
        self.seen.append((request.method, request.path, dict(request.headers), body))
        if request.path == "/api2/slow":
            await self.release.wait()
        return web.json_response(SESSION_EXAMPLE, headers={"API-Request-Id": REQUEST_ID})


async def serve(app: web.Application) -> tuple[web.AppRunner, str]:
    """Serve ``app`` on 127.0.0.1 (ephemeral port); its runner and its ``/api2`` base URL."""
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    return runner, f"http://127.0.0.1:{runner.addresses[0][1]}/api2"


@pytest_asyncio.fixture
async def gateway() -> AsyncIterator[Gateway]:
    gw = Gateway()
    app = web.Application()
    app.router.add_route("*", "/{tail:.*}", gw.handle)
    runner, gw.url = await serve(app)
    try:
        yield gw
    finally:
        gw.release.set()
        await runner.cleanup()


@pytest.mark.asyncio
async def test_real_server_round_trip(gateway: Gateway) -> None:
    async with AsyncBpcPay(api_key=API_KEY, base_url=gateway.url) as client:
        session = await client.sessions.create(**CREATE)
        assert session.request_id == REQUEST_ID
        again = await client.sessions.retrieve(SESSION_EXAMPLE["id"])
        assert again == session
    (post, get) = gateway.seen
    assert post[0:2] == ("POST", "/api2/sessions")
    assert post[2]["X-Api-Key"] == API_KEY
    assert post[2]["Content-Type"] == "application/json"
    assert json.loads(post[3])["currency"] == "EUR"
    assert get[0:2] == ("GET", SESSION_PATH.replace("/sessions", "/api2/sessions"))
    assert get[2]["X-Version"] == DEFAULT_API_VERSION


@pytest.mark.asyncio
async def test_real_read_timeout_on_a_post_is_unknown_and_not_retried(gateway: Gateway) -> None:
    async with AsyncBpcPay(
        api_key=API_KEY,
        base_url=gateway.url,
        timeout=Timeout(connect=2, read=0.2),
        _sleep=SleepRecorder(),
    ) as client:
        with pytest.raises(bpcpay.APITimeoutError) as info:
            await client.request("POST", "/slow", json={"amount": 1})
    assert info.value.phase == "read"
    assert info.value.outcome_unknown
    assert "no complete answer from 127.0.0.1:" in str(info.value)
    assert "within 0.2s (read timeout)" in str(info.value)
    assert len(gateway.seen) == 1


@pytest.mark.asyncio
async def test_real_connection_refused_is_retried_even_for_a_post() -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    # Nothing listens on the port now: every connect is refused at once.
    sleeps = SleepRecorder()
    async with AsyncBpcPay(
        api_key=API_KEY, base_url=f"http://127.0.0.1:{port}", max_retries=2, _sleep=sleeps
    ) as client:
        with pytest.raises(bpcpay.APIConnectionError) as info:
            await client.sessions.create(**CREATE)
    assert info.value.request_sent is False
    assert f"could not connect to 127.0.0.1:{port}" in str(info.value)
    assert len(sleeps.delays) == 2  # two retries: it provably never left


def test_transport_request_value_is_safe_to_log() -> None:
    request = build_request(
        SESSIONS_CREATE, base_url=BASE_URL, headers={"X-Api-Key": API_KEY}, body={}
    )
    assert API_KEY not in repr(request)


def test_resource_reprs() -> None:
    client = AsyncBpcPay(api_key=API_KEY)
    assert repr(client.sessions) == "<AsyncSessions>"
    assert repr(client.payment_methods) == "<AsyncPaymentMethods>"


# --- lifetime: a client collected unclosed closes quietly ---------------------------------------


@pytest.mark.asyncio
async def test_a_collected_client_closes_quietly_while_its_loop_runs(gateway: Gateway) -> None:
    # An unnamed client lives through its call: its resource holds it.
    assert (await AsyncBpcPay(api_key=API_KEY, base_url=gateway.url).sessions.retrieve("ps_1")).id
    transport = AiohttpTransport(session=None, pool_size=2, max_response_bytes=1 << 20)
    client = AsyncBpcPay(api_key=API_KEY, base_url=gateway.url, _transport=transport)
    await client.sessions.retrieve("ps_2")
    session = transport.session
    assert session is not None and session.connector is not None
    connector = session.connector
    del client, transport
    gc.collect()  # warnings are errors: aiohttp's "Unclosed client session" would fail this
    for _ in range(100):  # started at once (Python 3.12+) or on the next loop iteration
        if session.closed:
            break
        await asyncio.sleep(0.001)
    assert connector.closed and session.closed


def test_a_client_collected_in_another_thread_is_closed_on_its_loop() -> None:
    loop = asyncio.new_event_loop()
    thread = threading.Thread(target=loop.run_forever, daemon=True)
    thread.start()

    transport = AiohttpTransport(session=None, pool_size=2, max_response_bytes=1 << 20)

    async def answer(_: web.Request) -> web.Response:
        return web.json_response(SESSION_EXAMPLE)

    async def serve_and_use(transport: AiohttpTransport) -> tuple[web.AppRunner, AsyncBpcPay]:
        app = web.Application()
        app.router.add_get("/api2/sessions/{id}", answer)
        runner, url = await serve(app)
        client = AsyncBpcPay(api_key=API_KEY, base_url=url, _transport=transport)
        await client.sessions.retrieve("ps_1")
        return runner, client

    runner, client = asyncio.run_coroutine_threadsafe(serve_and_use(transport), loop).result(
        timeout=10
    )
    session = transport.session
    assert session is not None
    del client, transport
    gc.collect()  # in this thread: the close is handed to the loop's thread
    deadline = time.monotonic() + 5
    while not session.closed:
        assert time.monotonic() < deadline
        time.sleep(0.002)
    asyncio.run_coroutine_threadsafe(runner.cleanup(), loop).result(timeout=10)
    loop.call_soon_threadsafe(loop.stop)
    thread.join(timeout=10)
    loop.close()


# --- max_response_bytes --------------------------------------------------------------------------


@pytest.mark.parametrize("bad", [0, -1, True, 1.5, "10"])
def test_max_response_bytes_must_be_a_positive_int(bad: object) -> None:
    with pytest.raises(bpcpay.InvalidArgumentError) as info:
        AsyncBpcPay(api_key=API_KEY, max_response_bytes=bad)  # type: ignore[arg-type]
    assert info.value.argument == "max_response_bytes"
    with pytest.raises(bpcpay.InvalidArgumentError):
        bpcpay.BpcPay(api_key=API_KEY, max_response_bytes=bad)  # type: ignore[arg-type]


def test_max_response_bytes_defaults_to_ten_mebibytes() -> None:
    assert AsyncBpcPay(api_key=API_KEY).max_response_bytes == 10 * 1024 * 1024
    with bpcpay.BpcPay(api_key=API_KEY, max_response_bytes=2048) as client:
        assert client.max_response_bytes == 2048
        assert client.with_options(max_retries=0).max_response_bytes == 2048


@pytest.mark.asyncio
async def test_a_declared_length_over_the_limit_is_refused_and_not_retried(
    gateway: Gateway,
) -> None:
    size = len(json.dumps(SESSION_EXAMPLE).encode())  # what web.json_response sends
    async with AsyncBpcPay(api_key=API_KEY, base_url=gateway.url, max_response_bytes=size) as ok:
        assert (await ok.sessions.retrieve("ps_1")).id == SESSION_EXAMPLE["id"]
    attempts: list[bpcpay.RequestAttempt] = []
    async with AsyncBpcPay(
        api_key=API_KEY,
        base_url=gateway.url,
        max_response_bytes=size - 1,
        max_retries=2,
        on_attempt=attempts.append,
    ) as small:
        with pytest.raises(bpcpay.ResponseTooLargeError) as info:
            await small.sessions.retrieve("ps_1")
        with pytest.raises(bpcpay.ResponseTooLargeError) as post:
            await small.sessions.create(**CREATE, merchant_reference_id="order-big")
    err = info.value
    assert (err.limit, err.declared, err.status_code) == (size - 1, size, 200)
    assert err.request_id == REQUEST_ID
    assert f"max_response_bytes={size - 1}" in str(err) and f"Content-Length: {size}" in str(err)
    assert not any(a.retry_in for a in attempts)  # the same answer would come again
    assert len(gateway.seen) == 3  # one each, never retried
    assert "outcome is unknown" in str(post.value) and "safe to create another" in str(post.value)
    assert post.value.merchant_reference_id == "order-big"


@pytest.mark.asyncio
async def test_a_chunked_body_is_read_up_to_the_limit_and_cut_past_it() -> None:
    body = json.dumps(SESSION_EXAMPLE).encode()

    async def chunked(request: web.Request) -> web.StreamResponse:
        response = web.StreamResponse(headers={"Content-Type": "application/json"})
        response.enable_chunked_encoding()
        await response.prepare(request)
        for start in range(0, len(body), 100):
            await response.write(body[start : start + 100])
        await response.write_eof()
        return response

    app = web.Application()
    app.router.add_get("/api2/sessions/{id}", chunked)
    runner, url = await serve(app)
    try:
        async with AsyncBpcPay(api_key=API_KEY, base_url=url, max_response_bytes=len(body)) as c:
            assert (await c.sessions.retrieve("ps_1")).id == SESSION_EXAMPLE["id"]
        async with AsyncBpcPay(
            api_key=API_KEY, base_url=url, max_response_bytes=len(body) - 1
        ) as c:
            with pytest.raises(bpcpay.ResponseTooLargeError) as info:
                await c.sessions.retrieve("ps_1")
        assert info.value.declared is None
        assert "went past the limit while being read" in str(info.value)
    finally:
        await runner.cleanup()


def test_a_stuck_call_is_described_from_the_endpoint_table() -> None:
    client = AsyncBpcPay(api_key=API_KEY)
    support = SyncSupport(client)
    err = support.stuck_call_error(client.payments.retrieve, ("pay_1",), {}, 3.0)
    assert (err.method, err.path, err.outcome_unknown) == ("GET", "/payments/pay_1", False)
    # An id that would not render (refused before sending) falls back to the template.
    err = support.stuck_call_error(client.sessions.retrieve, (".",), {}, 3.0)
    assert err.path == "/sessions/{session_id}"
    # A method the table does not know is described as what it may be: an unsafe POST.
    err = support.stuck_call_error(client.sessions.__repr__, (), {}, 3.0)  # type: ignore[arg-type]
    assert (err.method, err.outcome_unknown) == ("POST", True)
    assert err.path == "/sessions.__repr__"


@pytest.mark.asyncio
async def test_the_deadline_connector_leaves_plain_aiohttp_timeouts_alone(
    gateway: Gateway,
) -> None:
    transport = AiohttpTransport(session=None, pool_size=2, max_response_bytes=1 << 20)
    client = AsyncBpcPay(api_key=API_KEY, base_url=gateway.url, _transport=transport)
    await client.sessions.retrieve("ps_0")  # opens the session, with bpcpay's connector
    session = transport.session
    assert session is not None
    async with session.get(
        f"{gateway.url}/sessions/ps_1", timeout=aiohttp.ClientTimeout(total=5)
    ) as response:
        assert response.status == 200
    await transport.aclose()
    assert session.closed
