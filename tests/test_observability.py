"""The on_attempt hook and the ``bpcpay`` logger."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator

import pytest
import pytest_asyncio
from _fake_gateway import FakeGateway

import bpcpay

API_KEY = "test_key_not_real_observe"


@pytest_asyncio.fixture
async def gateway() -> AsyncIterator[FakeGateway]:
    gw = FakeGateway()
    await gw.start()
    yield gw
    await gw.stop()


async def _no_sleep(_: float) -> None:
    return None


@pytest.mark.asyncio
async def test_on_attempt_sees_every_attempt_and_retry(gateway: FakeGateway) -> None:
    seen: list[bpcpay.RequestAttempt] = []
    gateway.fail_next = [503, 429]
    async with bpcpay.AsyncBpcPay(
        api_key=API_KEY, base_url=gateway.base_url, on_attempt=seen.append, _sleep=_no_sleep
    ) as client:
        session = await client.sessions.retrieve("ps_1")
    assert session.id == "ps_1"
    assert [(a.attempt, a.status, a.request_id) for a in seen] == [
        (1, 503, "req_1"),
        (2, 429, "req_2"),
        (3, 200, session.request_id),
    ]
    assert [a.retry_in for a in seen] == [0.0, 0.0, None]
    assert all(a.method == "GET" and a.path == "/sessions/ps_1" for a in seen)
    assert all(a.elapsed >= 0 and a.error is None for a in seen)


@pytest.mark.asyncio
async def test_on_attempt_reports_connection_failures() -> None:
    seen: list[bpcpay.RequestAttempt] = []
    # A port nobody listens on: bind, read the port, close.
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    async with bpcpay.AsyncBpcPay(
        api_key=API_KEY,
        base_url=f"http://127.0.0.1:{port}/api2",
        max_retries=1,
        on_attempt=seen.append,
        _sleep=_no_sleep,
    ) as client:
        with pytest.raises(bpcpay.APIConnectionError) as info:
            await client.sessions.create(
                amount=100,
                currency="EUR",
                success_url="https://shop.example/s",
                failure_url="https://shop.example/f",
            )
    assert info.value.request_sent is False
    assert [(a.attempt, a.status) for a in seen] == [(1, None), (2, None)]
    assert seen[0].retry_in is not None and seen[1].retry_in is None
    assert all(a.error and "could not connect" in a.error for a in seen)


@pytest.mark.asyncio
async def test_a_failing_hook_is_logged_not_raised(
    gateway: FakeGateway, caplog: pytest.LogCaptureFixture
) -> None:
    def broken(_: bpcpay.RequestAttempt) -> None:
        raise RuntimeError("metrics backend down")

    async with bpcpay.AsyncBpcPay(
        api_key=API_KEY, base_url=gateway.base_url, on_attempt=broken
    ) as client:
        with caplog.at_level(logging.ERROR, logger="bpcpay"):
            session = await client.sessions.retrieve("ps_1")
    assert session.id == "ps_1"
    assert "on_attempt hook raised" in caplog.text


def test_on_attempt_must_be_callable() -> None:
    with pytest.raises(bpcpay.InvalidArgumentError) as info:
        bpcpay.AsyncBpcPay(api_key=API_KEY, on_attempt="not callable")  # type: ignore[arg-type]
    assert info.value.argument == "on_attempt"


@pytest.mark.asyncio
async def test_debug_log_has_the_facts_and_never_the_key(
    gateway: FakeGateway, caplog: pytest.LogCaptureFixture
) -> None:
    async with bpcpay.AsyncBpcPay(api_key=API_KEY, base_url=gateway.base_url) as client:
        with caplog.at_level(logging.DEBUG, logger="bpcpay"):
            session = await client.sessions.create(
                amount=100,
                currency="EUR",
                success_url="https://shop.example/s",
                failure_url="https://shop.example/f",
            )
    records = [r for r in caplog.records if r.name == "bpcpay"]
    assert len(records) == 1
    line = records[0].getMessage()
    assert line.startswith("POST /sessions -> 200 ")
    assert f"request_id={session.request_id}" in line
    assert "(attempt 1, " in line and " ms)" in line
    assert API_KEY not in caplog.text


@pytest.mark.asyncio
async def test_on_attempt_and_the_log_report_an_answer_over_the_size_limit(
    gateway: FakeGateway, caplog: pytest.LogCaptureFixture
) -> None:
    seen: list[bpcpay.RequestAttempt] = []
    async with bpcpay.AsyncBpcPay(
        api_key=API_KEY, base_url=gateway.base_url, on_attempt=seen.append, max_response_bytes=16
    ) as client:
        with (
            caplog.at_level(logging.DEBUG, logger="bpcpay"),
            pytest.raises(bpcpay.ResponseTooLargeError),
        ):
            await client.sessions.retrieve("ps_big")
    (attempt,) = seen  # never retried
    assert (attempt.status, attempt.retry_in) == (200, None)
    assert attempt.request_id is not None and attempt.request_id.startswith("req_")
    assert attempt.error == "answer over max_response_bytes=16"
    assert "GET /sessions/ps_big failed: answer over max_response_bytes=16" in caplog.text
