"""Defences that go beyond the contract: an echoed key, credentials in a URL, shared state."""

from __future__ import annotations

import aiohttp
import pytest
from _support import API_KEY, BASE_URL
from aioresponses import aioresponses

import bpcpay
import bpcpay.webhooks
from bpcpay._async._client import AsyncBpcPay


@pytest.mark.asyncio
async def test_a_gateway_echoing_the_key_does_not_leak_it(
    client: AsyncBpcPay, mocked: aioresponses
) -> None:
    mocked.get(
        f"{BASE_URL}/sessions/ps_1",
        status=401,
        body=f'{{"error": {{"message": "invalid key {API_KEY}", "code": "{API_KEY}"}}}}',
        headers={"API-Request-Id": "req_echo"},
    )
    with pytest.raises(bpcpay.AuthenticationError) as info:
        await client.sessions.retrieve("ps_1")
    err = info.value
    for text in (str(err), repr(err), err.message, err.code or "", repr(err.args)):
        assert API_KEY not in text
    assert API_KEY.encode() not in err.body
    assert "[redacted]" in str(err)
    assert "req_echo" in str(err)


@pytest.mark.asyncio
async def test_a_2xx_echoing_the_key_does_not_leak_it(
    client: AsyncBpcPay, mocked: aioresponses
) -> None:
    mocked.get(f"{BASE_URL}/sessions/ps_1", status=200, body=f"not json {API_KEY}")
    with pytest.raises(bpcpay.APIResponseValidationError) as info:
        await client.sessions.retrieve("ps_1")
    assert API_KEY not in str(info.value)
    assert API_KEY.encode() not in info.value.body


def test_credentials_in_the_base_url_are_refused_without_echoing_them() -> None:
    with pytest.raises(bpcpay.InvalidArgumentError) as info:
        AsyncBpcPay(api_key=API_KEY, base_url="https://user:hunter2@gateway.test/api2")
    assert info.value.argument == "base_url"
    assert "hunter2" not in str(info.value)


@pytest.mark.asyncio
async def test_a_timed_out_capture_says_to_retrieve_the_payment(
    client: AsyncBpcPay, mocked: aioresponses
) -> None:
    mocked.post(f"{BASE_URL}/payments/pay_1/capture", exception=TimeoutError())
    with pytest.raises(bpcpay.APITimeoutError) as info:
        await client.payments.capture("pay_1")
    assert "retrieve the payment and check its status" in str(info.value)
    assert info.value.outcome_unknown


@pytest.mark.asyncio
async def test_closing_a_twin_marks_the_original_closed(mocked: aioresponses) -> None:
    original = AsyncBpcPay(api_key=API_KEY, base_url=BASE_URL)
    twin = original.with_options(max_retries=0)
    mocked.get(f"{BASE_URL}/sessions/ps_1", payload={"id": "ps_1", "amount": 1,
               "currency": "EUR", "status": "open"})  # fmt: skip
    await twin.sessions.retrieve("ps_1")
    await twin.aclose()
    assert original.closed
    with pytest.raises(bpcpay.ClientClosedError):
        await original.sessions.retrieve("ps_1")
    await original.aclose()


@pytest.mark.asyncio
async def test_a_borrowed_session_is_used_and_never_closed(mocked: aioresponses) -> None:
    mocked.get(f"{BASE_URL}/sessions/ps_1", payload={"id": "ps_1", "amount": 1,
               "currency": "EUR", "status": "open"})  # fmt: skip
    async with aiohttp.ClientSession() as http:
        async with AsyncBpcPay(api_key=API_KEY, base_url=BASE_URL, session=http) as client:
            assert client._transport.session is http
            await client.sessions.retrieve("ps_1")
        assert not http.closed


def test_client_webhooks_is_the_same_function() -> None:
    client = AsyncBpcPay(api_key=API_KEY, base_url=BASE_URL)
    assert client.webhooks.construct_event is bpcpay.webhooks.construct_event
    assert client.webhooks.verify_signature is bpcpay.webhooks.verify_signature
    assert client.webhooks.sign is bpcpay.webhooks.sign
    sync = bpcpay.BpcPay(api_key=API_KEY, base_url=BASE_URL)
    assert sync.webhooks.construct_event is bpcpay.webhooks.construct_event
    sync.close()
