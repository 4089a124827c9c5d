"""Retries: the pure policy, then the client's loop counting the requests actually sent."""

from __future__ import annotations

import asyncio
from datetime import datetime, timedelta, timezone
from email.utils import format_datetime
from types import SimpleNamespace
from typing import Any

import aiohttp
import pytest
from _support import (
    PAYMENT_JSON,
    REFUND_JSON,
    SESSION_EXAMPLE,
    SleepRecorder,
    calls,
    sent_count,
    url,
)
from aioresponses import aioresponses

import bpcpay
from bpcpay import AsyncBpcPay
from bpcpay._constants import INITIAL_RETRY_DELAY, MAX_RETRY_AFTER, MAX_RETRY_DELAY
from bpcpay._core._retry import Failure, backoff, parse_retry_after, should_retry

NOW = datetime(2024, 3, 28, 8, 0, 0, tzinfo=timezone.utc)


def http_date(when: datetime) -> str:
    return format_datetime(when, usegmt=True)


def connector_error() -> aiohttp.ClientConnectorError:
    """What aiohttp raises when the TCP connection is refused: the request never left."""
    key = SimpleNamespace(host="gateway.test", port=443, ssl=True, is_ssl=True)
    return aiohttp.ClientConnectorError(key, ConnectionRefusedError(111, "Connection refused"))  # type: ignore[arg-type]


# --- should_retry ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("method", "outcome", "retry"),
    [
        ("GET", 429, True),
        ("GET", 500, True),
        ("GET", 502, True),
        ("GET", 503, True),
        ("GET", 400, False),
        ("GET", 404, False),
        ("GET", 409, False),
        ("GET", Failure.NOT_SENT, True),
        ("GET", Failure.MAYBE_SENT, True),
        ("POST", 429, False),
        ("POST", 500, False),
        ("POST", 503, False),
        ("POST", Failure.MAYBE_SENT, False),
        ("POST", Failure.NOT_SENT, True),
        ("DELETE", 503, False),
    ],
)
def test_should_retry(method: str, outcome: int | Failure, retry: bool) -> None:
    assert should_retry(method=method, attempt=0, max_retries=2, outcome=outcome) is retry


def test_should_retry_stops_when_retries_are_spent() -> None:
    assert should_retry(method="GET", attempt=1, max_retries=2, outcome=503)
    assert not should_retry(method="GET", attempt=2, max_retries=2, outcome=503)
    assert not should_retry(method="GET", attempt=0, max_retries=0, outcome=Failure.NOT_SENT)


# --- Retry-After -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "seconds"),
    [
        (None, None),
        ("", None),
        ("3", 3.0),
        (" 2.5 ", 2.5),
        ("0", 0.0),
        ("-4", 0.0),
        ("nan", None),
        ("soon", None),
        ("Thu, 99 Foo 2024 99:99:99 GMT", None),
        (http_date(NOW + timedelta(seconds=7)), 7.0),
        (http_date(NOW - timedelta(minutes=5)), 0.0),
        # An RFC 2822 date with a "-0000" zone parses as naive: it is read as UTC.
        ("Thu, 28 Mar 2024 08:00:30 -0000", 30.0),
    ],
)
def test_parse_retry_after(value: str | None, seconds: float | None) -> None:
    assert parse_retry_after(value, now=NOW) == seconds


def test_parse_retry_after_uses_the_clock_by_default() -> None:
    far = http_date(datetime.now(timezone.utc) + timedelta(days=1))
    parsed = parse_retry_after(far)
    assert parsed is not None
    assert 86_000 < parsed <= 86_400


# --- backoff -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("attempt", "rand", "delay"),
    [
        (0, 0.0, INITIAL_RETRY_DELAY / 2),
        (0, 0.5, INITIAL_RETRY_DELAY * 0.75),
        (0, 0.999, INITIAL_RETRY_DELAY * 0.9995),
        (1, 0.0, INITIAL_RETRY_DELAY),
        (2, 0.0, INITIAL_RETRY_DELAY * 2),
        (3, 1.0, INITIAL_RETRY_DELAY * 8),
        (4, 1.0, MAX_RETRY_DELAY),
        (6, 1.0, MAX_RETRY_DELAY),
        (10, 0.0, MAX_RETRY_DELAY / 2),
        (5000, 1.0, MAX_RETRY_DELAY),  # no float overflow for absurd attempt counts
    ],
)
def test_backoff_is_exponential_with_jitter_and_capped(
    attempt: int, rand: float, delay: float
) -> None:
    assert backoff(attempt, rand=lambda: rand) == pytest.approx(delay)


def test_backoff_grows_and_jitter_stays_within_half_and_all() -> None:
    ceilings = [min(MAX_RETRY_DELAY, INITIAL_RETRY_DELAY * 2**n) for n in range(8)]
    for attempt, ceiling in enumerate(ceilings):
        low = backoff(attempt, rand=lambda: 0.0)
        high = backoff(attempt, rand=lambda: 0.999999)
        assert low == pytest.approx(ceiling / 2)
        assert ceiling / 2 <= high < ceiling
    assert ceilings == sorted(ceilings)


@pytest.mark.parametrize(
    ("header", "delay"),
    [
        ("3", 3.0),
        ("0", 0.0),
        ("3600", MAX_RETRY_AFTER),
        (http_date(NOW + timedelta(seconds=12)), 12.0),
        (http_date(NOW + timedelta(hours=1)), MAX_RETRY_AFTER),
        (http_date(NOW - timedelta(hours=1)), 0.0),
    ],
)
def test_backoff_honours_retry_after_with_a_cap(header: str, delay: float) -> None:
    assert backoff(5, retry_after=header, now=NOW, rand=lambda: 0.5) == delay


def test_backoff_ignores_an_unusable_retry_after() -> None:
    assert backoff(0, retry_after="later", now=NOW, rand=lambda: 0.0) == INITIAL_RETRY_DELAY / 2


# --- through the client ------------------------------------------------------------------------

SESSION_PATH = f"/sessions/{SESSION_EXAMPLE['id']}"


async def create_session(client: AsyncBpcPay, **extra: Any) -> bpcpay.Session:
    return await client.sessions.create(
        amount=10000,
        currency="EUR",
        success_url="https://shop.example/success",
        failure_url="https://shop.example/failure",
        **extra,
    )


@pytest.mark.asyncio
async def test_get_retries_5xx_then_succeeds(
    client: AsyncBpcPay, mocked: aioresponses, sleeps: SleepRecorder
) -> None:
    mocked.get(url(SESSION_PATH), status=503, body=b"")
    mocked.get(url(SESSION_PATH), status=500, body=b"")
    mocked.get(url(SESSION_PATH), payload=SESSION_EXAMPLE)
    session = await client.sessions.retrieve(SESSION_EXAMPLE["id"])
    assert session.id == SESSION_EXAMPLE["id"]
    assert sent_count(mocked) == 3
    # Jitter fixed at 0.5: three quarters of 0.5 s, then of 1 s.
    assert sleeps.delays == [0.375, 0.75]


@pytest.mark.asyncio
async def test_get_honours_retry_after_seconds_on_429(
    client: AsyncBpcPay, mocked: aioresponses, sleeps: SleepRecorder
) -> None:
    mocked.get(url(SESSION_PATH), status=429, headers={"Retry-After": "3"}, body=b"")
    mocked.get(url(SESSION_PATH), status=429, headers={"Retry-After": "600"}, body=b"")
    mocked.get(url(SESSION_PATH), payload=SESSION_EXAMPLE)
    await client.sessions.retrieve(SESSION_EXAMPLE["id"])
    assert sent_count(mocked) == 3
    assert sleeps.delays == [3.0, MAX_RETRY_AFTER]


@pytest.mark.asyncio
async def test_get_honours_retry_after_http_dates(
    client: AsyncBpcPay, mocked: aioresponses, sleeps: SleepRecorder
) -> None:
    # The client reads the real clock, so only dates far from now are deterministic.
    past = http_date(datetime(2000, 1, 1, tzinfo=timezone.utc))
    future = http_date(datetime.now(timezone.utc) + timedelta(days=365))
    mocked.get(url(SESSION_PATH), status=503, headers={"Retry-After": past}, body=b"")
    mocked.get(url(SESSION_PATH), status=503, headers={"Retry-After": future}, body=b"")
    mocked.get(url(SESSION_PATH), payload=SESSION_EXAMPLE)
    await client.sessions.retrieve(SESSION_EXAMPLE["id"])
    assert sleeps.delays == [0.0, MAX_RETRY_AFTER]


@pytest.mark.asyncio
async def test_get_exhausted_retries_raise_the_last_status_error(
    client: AsyncBpcPay, mocked: aioresponses, sleeps: SleepRecorder
) -> None:
    mocked.get(
        url(SESSION_PATH), status=503, body=b"", headers={"API-Request-Id": "req_last"}, repeat=True
    )
    with pytest.raises(bpcpay.InternalServerError) as info:
        await client.sessions.retrieve(SESSION_EXAMPLE["id"])
    assert info.value.request_id == "req_last"
    assert sent_count(mocked) == 3  # max_retries=2: one attempt plus two retries
    assert len(sleeps.delays) == 2


@pytest.mark.asyncio
async def test_get_exhausted_429_raises_rate_limit_error(
    client: AsyncBpcPay, mocked: aioresponses
) -> None:
    mocked.get(url(SESSION_PATH), status=429, body=b"", headers={"Retry-After": "1"}, repeat=True)
    with pytest.raises(bpcpay.RateLimitError) as info:
        await client.sessions.retrieve(SESSION_EXAMPLE["id"])
    assert info.value.retry_after == "1"
    assert sent_count(mocked) == 3


@pytest.mark.asyncio
@pytest.mark.parametrize("status", [400, 401, 404, 409])
async def test_get_does_not_retry_other_4xx(
    client: AsyncBpcPay, mocked: aioresponses, sleeps: SleepRecorder, status: int
) -> None:
    mocked.get(url(SESSION_PATH), status=status, body=b"", repeat=True)
    with pytest.raises(bpcpay.APIStatusError):
        await client.sessions.retrieve(SESSION_EXAMPLE["id"])
    assert sent_count(mocked) == 1
    assert sleeps.delays == []


@pytest.mark.asyncio
async def test_max_retries_zero_sends_once(mocked: aioresponses, sleeps: SleepRecorder) -> None:
    async with AsyncBpcPay(
        api_key="test_key_not_real",
        base_url="https://gateway.test/api2",
        max_retries=0,
        _sleep=sleeps,
    ) as client:
        mocked.get(url(SESSION_PATH), status=503, body=b"", repeat=True)
        with pytest.raises(bpcpay.InternalServerError):
            await client.sessions.retrieve(SESSION_EXAMPLE["id"])
    assert sent_count(mocked) == 1
    assert sleeps.delays == []


@pytest.mark.asyncio
async def test_with_options_changes_retries_for_one_call(
    client: AsyncBpcPay, mocked: aioresponses
) -> None:
    mocked.get(url(SESSION_PATH), status=503, body=b"", repeat=True)
    with pytest.raises(bpcpay.InternalServerError):
        await client.with_options(max_retries=0).sessions.retrieve(SESSION_EXAMPLE["id"])
    assert sent_count(mocked) == 1
    with pytest.raises(bpcpay.InternalServerError):
        await client.with_options(max_retries=4).sessions.retrieve(SESSION_EXAMPLE["id"])
    assert sent_count(mocked) == 1 + 5
    # The original keeps its own default.
    assert client.max_retries == 2


@pytest.mark.asyncio
@pytest.mark.parametrize(
    "exc",
    [
        aiohttp.ServerDisconnectedError(),
        aiohttp.ClientOSError(104, "Connection reset by peer"),
        aiohttp.ServerTimeoutError("read timeout"),
        asyncio.TimeoutError(),
        connector_error(),
        aiohttp.ConnectionTimeoutError("connect timeout"),
    ],
    ids=lambda e: type(e).__name__,
)
async def test_get_retries_connection_failures(
    client: AsyncBpcPay, mocked: aioresponses, sleeps: SleepRecorder, exc: Exception
) -> None:
    mocked.get(url(SESSION_PATH), exception=exc)
    mocked.get(url(SESSION_PATH), payload=SESSION_EXAMPLE)
    session = await client.sessions.retrieve(SESSION_EXAMPLE["id"])
    assert session.amount == 10000
    assert sent_count(mocked) == 2
    assert sleeps.delays == [0.375]


@pytest.mark.asyncio
async def test_get_exhausted_on_read_timeouts_raises_api_timeout_error(
    client: AsyncBpcPay, mocked: aioresponses
) -> None:
    mocked.get(url(SESSION_PATH), exception=aiohttp.ServerTimeoutError("t"), repeat=True)
    with pytest.raises(bpcpay.APITimeoutError) as info:
        await client.sessions.retrieve(SESSION_EXAMPLE["id"])
    err = info.value
    assert sent_count(mocked) == 3
    assert err.phase == "read"
    assert err.method == "GET"
    assert err.path == SESSION_PATH
    assert not err.outcome_unknown  # a GET changes nothing
    assert "unknown" not in str(err)
    # aiohttp's exception is not chained (its frames hold the key): it is named as data.
    assert err.__cause__ is None
    assert err.transport_error == "ServerTimeoutError"


@pytest.mark.asyncio
async def test_get_exhausted_on_disconnects_raises_api_connection_error(
    client: AsyncBpcPay, mocked: aioresponses
) -> None:
    mocked.get(url(SESSION_PATH), exception=aiohttp.ServerDisconnectedError(), repeat=True)
    with pytest.raises(bpcpay.APIConnectionError) as info:
        await client.sessions.retrieve(SESSION_EXAMPLE["id"])
    assert type(info.value) is bpcpay.APIConnectionError
    assert info.value.request_sent is True
    assert "mid-request: ServerDisconnectedError" in str(info.value)
    assert sent_count(mocked) == 3


@pytest.mark.asyncio
@pytest.mark.parametrize("status", [429, 500, 502, 503])
async def test_post_is_never_retried_on_a_status(
    client: AsyncBpcPay, mocked: aioresponses, sleeps: SleepRecorder, status: int
) -> None:
    mocked.post(
        url("/sessions"), status=status, body=b"", headers={"Retry-After": "1"}, repeat=True
    )
    with pytest.raises(bpcpay.APIStatusError) as info:
        await create_session(client)
    assert info.value.status_code == status
    assert sent_count(mocked) == 1
    assert sleeps.delays == []


@pytest.mark.asyncio
@pytest.mark.parametrize(
    "exc",
    [
        aiohttp.ServerTimeoutError("read timeout"),
        aiohttp.SocketTimeoutError("read timeout"),
        asyncio.TimeoutError(),
    ],
    ids=lambda e: type(e).__name__,
)
async def test_post_that_timed_out_is_not_retried_and_says_the_outcome_is_unknown(
    client: AsyncBpcPay, mocked: aioresponses, sleeps: SleepRecorder, exc: Exception
) -> None:
    mocked.post(url("/sessions"), exception=exc, repeat=True)
    with pytest.raises(bpcpay.APITimeoutError) as info:
        await create_session(client, merchant_reference_id="order-42")
    err = info.value
    assert sent_count(mocked) == 1
    assert sleeps.delays == []
    assert err.method == "POST"
    assert err.path == "/sessions"
    assert err.merchant_reference_id == "order-42"
    assert err.phase == "read"
    assert err.request_sent
    assert err.outcome_unknown
    message = str(err)
    assert "outcome is unknown" in message
    assert "safe to create another" in message  # how to check, for a session
    assert "test_key_not_real" not in message


@pytest.mark.asyncio
@pytest.mark.parametrize(
    ("path", "hint"),
    [
        ("/payments", "wait for the payment.created webhook"),
        ("/refunds", "refund webhook"),
        ("/invoices", "Check the object's state with a GET"),
    ],
)
async def test_unknown_outcome_hints_per_endpoint(
    client: AsyncBpcPay, mocked: aioresponses, path: str, hint: str
) -> None:
    mocked.post(url(path), exception=asyncio.TimeoutError(), repeat=True)
    calls_by_path: dict[str, Any] = {
        "/payments": lambda: client.payments.create(
            amount=100, currency="EUR", stored_payment_method_id="pm_1", merchant_reference_id="o-1"
        ),
        "/refunds": lambda: client.refunds.create(payment_id="pay_1", amount=100),
        "/invoices": lambda: client.request("POST", path, json={"a": 1}),
    }
    with pytest.raises(bpcpay.APITimeoutError) as info:
        await calls_by_path[path]()
    assert hint in str(info.value)
    assert "outcome is unknown" in str(info.value)
    assert sent_count(mocked) == 1
    if path == "/payments":
        assert info.value.merchant_reference_id == "o-1"


@pytest.mark.asyncio
async def test_post_disconnect_is_not_retried_and_is_unknown(
    client: AsyncBpcPay, mocked: aioresponses
) -> None:
    mocked.post(url("/refunds"), exception=aiohttp.ServerDisconnectedError(), repeat=True)
    with pytest.raises(bpcpay.APIConnectionError) as info:
        await client.refunds.create(payment_id="pay_1")
    assert type(info.value) is bpcpay.APIConnectionError
    assert info.value.outcome_unknown
    assert "outcome is unknown" in str(info.value)
    assert sent_count(mocked) == 1


@pytest.mark.asyncio
async def test_post_is_retried_when_the_connection_was_never_made(
    client: AsyncBpcPay, mocked: aioresponses, sleeps: SleepRecorder
) -> None:
    mocked.post(url("/refunds"), exception=connector_error())
    mocked.post(url("/refunds"), exception=aiohttp.ConnectionTimeoutError("connect"))
    mocked.post(url("/refunds"), payload=REFUND_JSON)
    refund = await client.refunds.create(payment_id="pay_1", amount=1000)
    assert refund.id == "re_1"
    assert sent_count(mocked) == 3
    assert sleeps.delays == [0.375, 0.75]
    # Every attempt sent the same body.
    bodies = {c[2]["data"] for c in calls(mocked)}
    assert len(bodies) == 1


@pytest.mark.asyncio
async def test_post_connection_refused_exhausted(client: AsyncBpcPay, mocked: aioresponses) -> None:
    mocked.post(url("/payments"), exception=connector_error(), repeat=True)
    with pytest.raises(bpcpay.APIConnectionError) as info:
        await client.payments.create(
            amount=100, currency="EUR", stored_payment_method_id="pm_1", merchant_reference_id="o-5"
        )
    err = info.value
    assert type(err) is bpcpay.APIConnectionError
    assert err.request_sent is False
    assert not err.outcome_unknown
    assert "could not connect" in str(err)
    assert "unknown" not in str(err)
    assert err.merchant_reference_id == "o-5"
    assert sent_count(mocked) == 3


@pytest.mark.asyncio
async def test_post_connect_timeout_exhausted(client: AsyncBpcPay, mocked: aioresponses) -> None:
    mocked.post(url("/sessions"), exception=aiohttp.ConnectionTimeoutError("c"), repeat=True)
    with pytest.raises(bpcpay.APITimeoutError) as info:
        await create_session(client)
    assert info.value.phase == "connect"
    assert not info.value.outcome_unknown
    assert "no connection to gateway.test:443 within 5s" in str(info.value)
    assert sent_count(mocked) == 3


@pytest.mark.asyncio
async def test_capture_and_cancel_are_posts_too(client: AsyncBpcPay, mocked: aioresponses) -> None:
    mocked.post(url("/payments/pay_1/capture"), status=503, body=b"", repeat=True)
    mocked.post(url("/payments/pay_1/cancel"), status=500, body=b"", repeat=True)
    with pytest.raises(bpcpay.InternalServerError):
        await client.payments.capture("pay_1")
    with pytest.raises(bpcpay.InternalServerError):
        await client.payments.cancel("pay_1")
    assert sent_count(mocked) == 2
    mocked.get(url("/payments/pay_1"), payload=PAYMENT_JSON)
    assert (await client.payments.retrieve("pay_1")).id == "pay_1"


@pytest.mark.asyncio
async def test_real_random_jitter_is_used_by_default(mocked: aioresponses) -> None:
    recorder = SleepRecorder()
    async with AsyncBpcPay(
        api_key="test_key_not_real", base_url="https://gateway.test/api2", _sleep=recorder
    ) as c:
        mocked.get(url(SESSION_PATH), status=503, body=b"")
        mocked.get(url(SESSION_PATH), payload=SESSION_EXAMPLE)
        await c.sessions.retrieve(SESSION_EXAMPLE["id"])
    (delay,) = recorder.delays
    assert INITIAL_RETRY_DELAY / 2 <= delay <= INITIAL_RETRY_DELAY
