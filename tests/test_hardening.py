"""Defences that go beyond the contract: an echoed key, credentials in a URL, shared state."""

from __future__ import annotations

import socket
import subprocess
import sys

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
    mocked.get(
        f"{BASE_URL}/sessions/ps_1",
        payload={"id": "ps_1", "amount": 1, "currency": "EUR", "status": "open"},
    )
    await twin.sessions.retrieve("ps_1")
    await twin.aclose()
    assert original.closed
    with pytest.raises(bpcpay.ClientClosedError):
        await original.sessions.retrieve("ps_1")
    await original.aclose()


@pytest.mark.asyncio
async def test_a_borrowed_session_is_used_and_never_closed(mocked: aioresponses) -> None:
    mocked.get(
        f"{BASE_URL}/sessions/ps_1",
        payload={"id": "ps_1", "amount": 1, "currency": "EUR", "status": "open"},
    )
    async with aiohttp.ClientSession() as http:
        async with AsyncBpcPay(api_key=API_KEY, base_url=BASE_URL, session=http) as client:
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


# --- errors that help ----------------------------------------------------------------------------


def _connector_error(host: str, port: int, error: OSError) -> aiohttp.ClientConnectorError:
    key = aiohttp.client_reqrep.ConnectionKey(host, port, True, True, None, None, None)
    if isinstance(error, socket.gaierror):
        return aiohttp.ClientConnectorDNSError(key, error)
    return aiohttp.ClientConnectorError(key, error)


@pytest.mark.asyncio
async def test_a_dns_failure_names_the_host_and_port(mocked: aioresponses) -> None:
    dns = socket.gaierror(-2, "Name or service not known")
    mocked.get(f"{BASE_URL}/sessions/ps_1", exception=_connector_error("gateway.test", 443, dns))
    async with AsyncBpcPay(api_key=API_KEY, base_url=BASE_URL, max_retries=0) as client:
        with pytest.raises(bpcpay.APIConnectionError) as info:
            await client.sessions.retrieve("ps_1")
    message = str(info.value)
    assert "could not connect to gateway.test:443" in message
    assert "Name or service not known" in message
    # Not the default base URL: no word about it.
    assert "BPCPAY_BASE_URL" not in message


@pytest.mark.asyncio
async def test_with_the_default_base_url_a_connection_error_says_so(mocked: aioresponses) -> None:
    refused = ConnectionRefusedError(111, "Connect call failed")
    mocked.get(
        f"{bpcpay.DEFAULT_BASE_URL}/sessions/ps_1",
        exception=_connector_error("dev.bpcbt.com", 443, refused),
        repeat=True,
    )
    async with AsyncBpcPay(api_key=API_KEY, max_retries=0) as client:
        with pytest.raises(bpcpay.APIConnectionError) as info:
            await client.sessions.retrieve("ps_1")
    message = str(info.value)
    assert "could not connect to dev.bpcbt.com:443" in message
    assert "default" in message and bpcpay.DEFAULT_BASE_URL in message
    assert "BPCPAY_BASE_URL" in message


@pytest.mark.asyncio
async def test_an_html_404_hints_at_a_base_url_without_api2(mocked: aioresponses) -> None:
    page = b"<html><head><title>404 Not Found</title></head><body>Not Found</body></html>"
    for base, says_missing in (("https://gateway.test", True), (BASE_URL, False)):
        mocked.get(
            f"{base}/sessions/ps_1", status=404, body=page, headers={"Content-Type": "text/html"}
        )
        async with AsyncBpcPay(api_key=API_KEY, base_url=base) as client:
            with pytest.raises(bpcpay.NotFoundError) as info:
                await client.sessions.retrieve("ps_1")
        message = str(info.value)
        assert "HTML page" in message and "/api2" in message
        assert ("does not end in /api2" in message) is says_missing
        if says_missing:
            assert "'https://gateway.test'" in message
    # A JSON 404 (no such session) is not about the base URL.
    mocked.get(
        f"{BASE_URL}/sessions/ps_2", status=404, payload={"error": {"message": "no such session"}}
    )
    async with AsyncBpcPay(api_key=API_KEY, base_url=BASE_URL) as client:
        with pytest.raises(bpcpay.NotFoundError) as info:
            await client.sessions.retrieve("ps_2")
    assert "api2" not in str(info.value)


def test_unconfigured_logging_prints_nothing_from_bpcpay() -> None:
    script = (
        "import logging, bpcpay; "
        "logging.getLogger('bpcpay').warning('a warning of the library'); "
        "logging.getLogger('bpcpay.webhooks').error('an error of the library')"
    )
    done = subprocess.run(
        [sys.executable, "-W", "error", "-c", script],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0
    assert done.stderr == ""
