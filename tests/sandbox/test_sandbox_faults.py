"""Fault injection: status (with Retry-After), body, stall and drop; consumed N times."""

from __future__ import annotations

from datetime import datetime, timezone
from typing import Any

import aiohttp
import pytest

import bpcpay
from bpcpay import AsyncBpcPay, Timeout
from bpcpay.sandbox import SandboxGateway

SESSION = {
    "amount": 10000,
    "currency": "EUR",
    "successUrl": "https://shop.example/success",
    "failureUrl": "https://shop.example/failure",
}


async def create(client: AsyncBpcPay) -> bpcpay.Session:
    return await client.sessions.create(
        amount=100,
        currency="EUR",
        success_url=SESSION["successUrl"],
        failure_url=SESSION["failureUrl"],
    )


@pytest.mark.asyncio
async def test_status_fault_with_retry_after_seconds(api: Any, gw: SandboxGateway) -> None:
    fault = gw.faults.add(
        method="POST", path="/api2/sessions", status=503, retry_after="2", times=2
    )
    answers = [await api.call("POST", "/sessions", json_body=SESSION) for _ in range(3)]
    assert [a.status for a in answers] == [503, 503, 200]
    assert answers[0].headers["Retry-After"] == "2"
    assert answers[0].error["type"] == "api_error"
    assert answers[0].headers["API-Request-Id"].startswith("req_")
    assert fault.hits == 2
    assert fault.remaining == 0
    assert gw.faults.pending == []
    assert [r.fault for r in gw.requests] == ["status", "status", None]
    assert len(gw.state.sessions) == 1  # faulted requests never reached the handler


@pytest.mark.asyncio
async def test_retry_after_as_http_date_and_429(api: Any, gw: SandboxGateway) -> None:
    when = datetime(2026, 3, 1, 12, 0, 5, tzinfo=timezone.utc)
    gw.faults.add(path="/api2/sessions/*", status=429, retry_after=when)
    answer = await api.call("GET", "/sessions/ps_x")
    assert answer.status == 429
    assert answer.headers["Retry-After"] == "Sun, 01 Mar 2026 12:00:05 GMT"
    assert answer.error["type"] == "rate_limit_error"


@pytest.mark.asyncio
async def test_method_and_path_must_match(api: Any, gw: SandboxGateway) -> None:
    gw.faults.add(method="GET", path="/api2/sessions", status=500)
    assert (await api.call("POST", "/sessions", json_body=SESSION)).status == 200
    assert (await api.call("GET", "/payments/pay_x")).status == 404
    assert len(gw.faults) == 1
    gw.faults.clear()
    assert len(gw.faults) == 0


@pytest.mark.asyncio
async def test_sdk_retries_a_get_and_honours_retry_after(
    bpcpay_sandbox: SandboxGateway, bpcpay_client: AsyncBpcPay
) -> None:
    session = await create(bpcpay_client)
    slept: list[float] = []

    async def record(delay: float) -> None:
        slept.append(delay)

    bpcpay_sandbox.faults.add(path=f"/api2/sessions/{session.id}", status=503, retry_after="2")
    async with AsyncBpcPay(
        api_key=bpcpay_sandbox.api_key, base_url=bpcpay_sandbox.base_url, _sleep=record
    ) as client:
        again = await client.sessions.retrieve(session.id)
    assert again.id == session.id
    assert slept == [2.0]
    gets = [r for r in bpcpay_sandbox.requests if r.method == "GET"]
    assert [r.status for r in gets] == [503, 200]


@pytest.mark.asyncio
async def test_sdk_never_retries_a_post_that_got_5xx(
    bpcpay_sandbox: SandboxGateway, bpcpay_client: AsyncBpcPay
) -> None:
    bpcpay_sandbox.faults.add(method="POST", path="/api2/sessions", status=502)
    with pytest.raises(bpcpay.InternalServerError) as info:
        await create(bpcpay_client)
    assert info.value.status_code == 502
    assert info.value.request_id == bpcpay_sandbox.requests[-1].request_id
    assert len(bpcpay_sandbox.requests) == 1


@pytest.mark.asyncio
async def test_html_error_page_body(
    bpcpay_sandbox: SandboxGateway, bpcpay_client: AsyncBpcPay
) -> None:
    bpcpay_sandbox.faults.add(
        method="POST",
        path="/api2/sessions",
        status=502,
        body="<html><body><h1>502 Bad Gateway</h1></body></html>",
    )
    with pytest.raises(bpcpay.InternalServerError) as info:
        await create(bpcpay_client)
    assert "HTML" in str(info.value)
    assert info.value.headers["content-type"].startswith("text/html")


@pytest.mark.asyncio
async def test_truncated_json_body(
    bpcpay_sandbox: SandboxGateway, bpcpay_client: AsyncBpcPay
) -> None:
    bpcpay_sandbox.faults.add(method="POST", path="/api2/sessions", body='{"id": "ps_1", "amo')
    with pytest.raises(bpcpay.APIResponseValidationError):
        await create(bpcpay_client)
    assert bpcpay_sandbox.requests[-1].status == 200
    assert bpcpay_sandbox.requests[-1].fault == "body"


@pytest.mark.asyncio
async def test_stall_makes_a_short_read_timeout_fire(
    bpcpay_sandbox: SandboxGateway, bpcpay_client: AsyncBpcPay
) -> None:
    bpcpay_sandbox.faults.add(method="POST", path="/api2/sessions", stall=0.5)
    with pytest.raises(bpcpay.APITimeoutError):
        await bpcpay_client.sessions.create(
            amount=100,
            currency="EUR",
            success_url=SESSION["successUrl"],
            failure_url=SESSION["failureUrl"],
            timeout=Timeout(connect=1.0, read=0.05),
        )
    assert len(bpcpay_sandbox.faults) == 0


@pytest.mark.asyncio
async def test_stall_then_real_answer(api: Any, gw: SandboxGateway) -> None:
    gw.faults.add(method="POST", path="/api2/sessions", stall=0.05)
    answer = await api.call("POST", "/sessions", json_body=SESSION)
    assert answer.status == 200
    assert gw.requests[-1].fault == "stall"
    assert gw.requests[-1].duration >= 0.045  # timers may fire a hair early


@pytest.mark.asyncio
async def test_drop_closes_the_connection_without_an_answer(gw: SandboxGateway) -> None:
    gw.faults.add(method="POST", path="/api2/sessions", drop=True)
    async with aiohttp.ClientSession() as http:
        with pytest.raises(aiohttp.ServerDisconnectedError):
            await http.post(
                gw.base_url + "/sessions", json=SESSION, headers={"X-Api-Key": gw.api_key}
            )
    assert gw.requests[-1].status is None
    assert gw.requests[-1].fault == "drop"
    assert gw.state.sessions == {}


@pytest.mark.asyncio
async def test_sdk_sees_a_dropped_post_as_unknown_outcome(
    bpcpay_sandbox: SandboxGateway, bpcpay_client: AsyncBpcPay
) -> None:
    bpcpay_sandbox.faults.add(method="POST", path="/api2/sessions", drop=True)
    with pytest.raises(bpcpay.APIConnectionError) as info:
        await create(bpcpay_client)
    assert not isinstance(info.value, bpcpay.APITimeoutError)
    assert len(bpcpay_sandbox.requests) == 1


@pytest.mark.asyncio
async def test_fault_on_the_payment_page(api: Any, gw: SandboxGateway) -> None:
    session = await api.create_session()
    gw.faults.add(method="GET", path="/payment/merchants/ecom/payment.html", status=500)
    page = await api.get(session["paymentUrl"])
    assert page.status == 500
    assert (await api.get(session["paymentUrl"])).status == 200


def test_fault_arguments_are_checked() -> None:
    gateway = SandboxGateway()
    with pytest.raises(ValueError, match="times"):
        gateway.faults.add(path="/x", status=500, times=0)
    with pytest.raises(ValueError, match="at least one"):
        gateway.faults.add(path="/x")
    with pytest.raises(ValueError, match="status"):
        gateway.faults.add(path="/x", status=42)
    with pytest.raises(ValueError, match="stall"):
        gateway.faults.add(path="/x", stall=-1)
