"""The sandbox answers as BPC publishes: the seed's request gets the seed's response shape,
expire works as in the cancel-refund example, and the gateway is hardened against hostile
input (URL-encoded values, malformed bodies, a bounded request log, framed pages).

Each test's docstring names the BPC page it holds the sandbox to (``[doc: page]``).
"""

from __future__ import annotations

import base64
import hashlib
import json
import re
from datetime import timedelta
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
from _published import EXPIRE_RESPONSE, SEED_REQUEST, SEED_RESPONSE, SEED_VERSION

from bpcpay import AsyncBpcPay
from bpcpay.sandbox import (
    DECLINED_CODE,
    INPUT_ERROR_CODE,
    ManualClock,
    SandboxGateway,
    TestCards,
)
from bpcpay.sandbox._gateway import DEFAULT_REQUEST_LOG_SIZE, url_host
from bpcpay.sandbox._ids import BASE58
from bpcpay.sandbox._validate import MAX_BODY_DEPTH


def shape(value: Any) -> Any:
    """A JSON value's structure: the keys of objects (recursively) and the types of leaves."""
    if isinstance(value, dict):
        return {key: shape(item) for key, item in value.items()}
    return type(value).__name__


@pytest.mark.asyncio
async def test_the_seed_request_gets_the_seed_response_shape(api: Any, gw: SandboxGateway) -> None:
    """[doc: redirect-integration] The seed's four-field request (with ``X-Version:
    2023-10-31``) is answered with the seed's response shape: ``id``, ``paymentUrl``, the
    fields sent, and the defaults, ``merchantReferenceId`` included though never sent."""
    answer = await api.call(
        "POST", "/sessions", json_body=SEED_REQUEST, headers={"X-Version": SEED_VERSION}
    )
    assert answer.status == 200
    assert answer.headers["X-Version"] == SEED_VERSION
    session = answer.json
    assert shape(session) == shape(SEED_RESPONSE)
    for name in (
        "amount",
        "currency",
        "successUrl",
        "failureUrl",
        "customerDetails",
        "locale",
        "merchantReferenceId",
        "metadata",
        "paymentData",
        "paymentStatus",
        "status",
    ):
        assert session[name] == SEED_RESPONSE[name], name
    assert re.fullmatch(f"ps_[{BASE58}]{{54}}", session["id"])
    assert len(session["id"]) == len(SEED_RESPONSE["id"])
    created, expires = session["created"], session["expiresAt"]
    assert (created, expires) == ("2026-03-01T12:00:00Z", "2026-03-01T12:20:00Z")
    page = urlsplit(session["paymentUrl"])
    assert page.path == urlsplit(SEED_RESPONSE["paymentUrl"]).path
    assert set(parse_qs(page.query)) == {"mdOrder", "language"}
    second = await api.create_session()
    assert second["merchantReferenceId"] == "4001"


@pytest.mark.asyncio
async def test_every_field_sent_comes_back_unknown_ones_too(api: Any) -> None:
    """[doc: redirect-integration, api-versions] "The other fields sent are also returned":
    fields the gateway does not know come back as sent (never in place of one it writes)."""
    session = await api.create_session(
        brandNewField={"nested": [1, True, None]},
        status="hacked",
        merchantCustomerId="cust_0001",
        setupFutureUsage={"category": "unscheduled"},
        customerDetails={"address": {"city": "Test city", "country": "CY"}, "tier": "gold"},
    )
    assert session["brandNewField"] == {"nested": [1, True, None]}
    assert session["status"] == "open"
    assert session["merchantCustomerId"] == "cust_0001"
    assert session["setupFutureUsage"] == {"category": "unscheduled"}
    assert session["customerDetails"]["tier"] == "gold"
    again = await api.call("GET", f"/sessions/{session['id']}")
    assert again.json == session


@pytest.mark.asyncio
async def test_expire_an_open_session(api: Any, gw: SandboxGateway) -> None:
    """[doc: cancel-refund] ``POST /sessions/{id}/expire`` with no body: the session is
    ``expired``, keeps its ``expiresAt``, has no ``paymentUrl`` (the published response's
    shape) and emits ``session.expired``; its page says so."""
    session = await api.create_session(amount=20000)
    answer = await api.call("POST", f"/sessions/{session['id']}/expire")
    assert answer.status == 200
    expired = answer.json
    assert shape(expired) == shape(EXPIRE_RESPONSE)
    assert expired["status"] == "expired"
    assert expired["paymentStatus"] == "unpaid"
    assert expired["expiresAt"] == session["expiresAt"]
    assert (await api.call("GET", f"/sessions/{session['id']}")).json == expired
    assert [e.type for e in gw.events] == ["session.expired"]
    assert gw.events[0].object == expired
    page = await api.get(session["paymentUrl"])
    assert page.status == 410
    assert (await gw.pay(session["id"])).outcome == "unavailable"
    with_empty_object = await api.create_session()
    done = await api.call("POST", f"/sessions/{with_empty_object['id']}/expire", json_body={})
    assert done.json["status"] == "expired"


@pytest.mark.asyncio
async def test_expire_refuses_a_session_that_is_not_open(api: Any, gw: SandboxGateway) -> None:
    """[doc: cancel-refund] Only an ``open`` session can be expired: an expired or completed
    one is a 409 ``session_not_open`` (status and code are our reading), never a 404."""
    session = await api.create_session()
    await api.call("POST", f"/sessions/{session['id']}/expire")
    again = await api.call("POST", f"/sessions/{session['id']}/expire")
    assert again.status == 409
    assert again.error["code"] == "session_not_open"
    paid = await api.create_session()
    assert (await gw.pay(paid["id"])).succeeded
    completed = await api.call("POST", f"/sessions/{paid['id']}/expire")
    assert completed.status == 409
    assert completed.error["code"] == "session_not_open"
    missing = await api.call("POST", "/sessions/ps_nope/expire")
    assert missing.status == 404
    garbage = await api.call("POST", f"/sessions/{paid['id']}/expire", raw=b"{nope")
    assert garbage.status == 400
    assert [e.type for e in gw.events].count("session.expired") == 1


@pytest.mark.asyncio
async def test_the_sdk_expires_and_sees_the_conflict(gw: SandboxGateway) -> None:
    """[doc: cancel-refund] ``sessions.expire`` in the async client against the sandbox."""
    import bpcpay

    async with AsyncBpcPay(api_key=gw.api_key, base_url=gw.base_url) as client:
        session = await client.sessions.create(
            amount=100,
            currency="EUR",
            success_url=SEED_REQUEST["successUrl"],
            failure_url=SEED_REQUEST["failureUrl"],
        )
        expired = await client.sessions.expire(session.id)
        assert expired.status == bpcpay.SessionStatus.EXPIRED
        assert expired.payment_url is None
        assert expired.expires_at == session.expires_at
        with pytest.raises(bpcpay.ConflictError) as info:
            await client.sessions.expire(session.id)
    assert info.value.code == "session_not_open"
    assert info.value.status_code == 409


@pytest.mark.asyncio
async def test_a_timed_out_session_expires_with_one_event(
    api: Any, gw: SandboxGateway, clock: ManualClock
) -> None:
    """[doc: redirect-integration, cancel-refund] ``session.expired`` on timeout too, once."""
    session = await api.create_session()
    clock.advance(timedelta(minutes=20))
    assert (await api.call("GET", f"/sessions/{session['id']}")).json["status"] == "expired"
    assert [e.type for e in gw.events] == ["session.expired"]
    refused = await api.call("POST", f"/sessions/{session['id']}/expire")
    assert refused.status == 409


def test_the_test_card_table() -> None:
    """[doc: test-cards] The published test cards (CVC 123): 5555...5599 12/34 3DS challenge,
    4111...1111 12/26 frictionless, 5168...5780 12/26 frictionless declined, 4000...1118 12/30
    attempt, 4444...3333 12/26 no 3DS; a wrong CVC or expiry declines with 71015."""
    table = [(c.number, c.cvc, c.expiry, c.three_ds, c.approves) for c in TestCards.ALL]
    assert table == [
        ("5555555555555599", "123", "12/34", "challenge", True),
        ("4111111111111111", "123", "12/26", "frictionless", True),
        ("5168494895055780", "123", "12/26", "frictionless", False),
        ("4000001111111118", "123", "12/30", "attempt", True),
        ("4444555511113333", "123", "12/26", "none", True),
    ]
    assert INPUT_ERROR_CODE == "71015"
    assert DECLINED_CODE != INPUT_ERROR_CODE


# --- hardening ---------------------------------------------------------------------------------


@pytest.mark.asyncio
@pytest.mark.parametrize("locale", ["en&mdOrder=evil", "fr #frag", "pt-BR?x=1", "ü/%2e"])
async def test_values_put_into_urls_are_encoded(api: Any, gw: SandboxGateway, locale: str) -> None:
    session = await api.create_session(locale=locale)
    assert session["locale"] == locale  # kept as sent
    url = urlsplit(session["paymentUrl"])
    assert url.fragment == ""
    query = parse_qs(url.query, keep_blank_values=True)
    assert query["language"] == [locale.lower()]
    assert len(query["mdOrder"]) == 1
    page = await api.get(session["paymentUrl"])
    assert page.status == 200
    result = await gw.pay(session["id"], card=TestCards.SUCCESS_CHALLENGE)
    assert result.succeeded


@pytest.mark.asyncio
async def test_ids_from_the_caller_are_encoded_by_the_customer_helper(gw: SandboxGateway) -> None:
    with pytest.raises(LookupError, match="HTTP 404"):
        await gw.pay("ps_x/../../payments?y=1")
    with pytest.raises(LookupError, match="HTTP 404"):
        await gw.authenticate("pay_x#frag")
    # The log shows decoded paths: each id arrived whole, as one encoded segment (unencoded,
    # "ps_x/../../payments?y=1" would have reached /api2/payments with a query).
    paths = [r.path for r in gw.requests]
    assert paths == ["/api2/sessions/ps_x/../../payments?y=1", "/api2/payments/pay_x#frag"]


def _nested(depth: int) -> bytes:
    return b'{"amount":1,"x":' + b"[" * depth + b"]" * depth + b"}"


@pytest.mark.asyncio
@pytest.mark.parametrize(
    ("raw", "code"),
    [
        (b"[" * 200_000, "body_not_json"),
        (_nested(MAX_BODY_DEPTH + 1), "body_too_deep"),
        (b'{"amount": NaN}', "body_not_json"),
        (b'{"amount": Infinity}', "body_not_json"),
        (b'{"x": "\\ud800"}', "body_not_unicode"),
        (b'{"amount": 1' + b"0" * 5000 + b"}", "body_not_json"),
        (b"\xff\xfe{}", "body_not_json"),
    ],
)
async def test_any_malformed_body_is_a_400(
    api: Any, gw: SandboxGateway, raw: bytes, code: str
) -> None:
    for path in ("/sessions", "/payments", "/refunds"):
        answer = await api.call("POST", path, raw=raw)
        assert answer.status == 400, path
        assert answer.error["code"] == code
    assert all(r.status == 400 for r in gw.requests)


@pytest.mark.asyncio
async def test_nesting_up_to_the_bound_is_a_normal_request(api: Any) -> None:
    deep = json.loads(_nested(MAX_BODY_DEPTH - 2))["x"]
    session = await api.create_session(deepField=deep)
    assert session["deepField"] == deep


@pytest.mark.asyncio
async def test_the_request_log_is_a_bounded_ring(clock: ManualClock, http: Any) -> None:
    assert DEFAULT_REQUEST_LOG_SIZE == 10_000
    assert SandboxGateway()._requests.maxlen == 10_000
    async with SandboxGateway(clock=clock, request_log_size=3) as gateway:
        for index in range(7):
            async with http.get(f"{gateway.base_url}/sessions/ps_{index}") as response:
                assert response.status == 400  # no key
        assert [r.path for r in gateway.requests] == [f"/api2/sessions/ps_{i}" for i in (4, 5, 6)]
        gateway.requests.clear()  # a copy: the log itself is untouched
        assert len(gateway.requests) == 3
    for bad in (0, -1, True, 2.5):
        with pytest.raises(ValueError, match="request_log_size"):
            SandboxGateway(request_log_size=bad)


@pytest.mark.asyncio
async def test_pages_forbid_framing_and_foreign_content(api: Any, gw: SandboxGateway) -> None:
    session = await api.create_session()
    card = TestCards.SUCCESS_CHALLENGE
    challenge = await api.post_form(
        session["paymentUrl"], {"cardNumber": card.number, "expiry": card.expiry, "cvc": "123"}
    )
    pages = [
        await api.get(session["paymentUrl"]),
        await api.get(challenge.headers["Location"]),
        await api.get(gw.url + "/payment/merchants/ecom/payment.html?mdOrder=nope"),
        await api.get(gw.url + "/"),
        await api.get(gw.url + "/nothing-here"),
    ]
    for page in pages:
        assert page.headers["X-Frame-Options"] == "DENY"
        policy = page.headers["Content-Security-Policy"]
        assert "default-src 'none'" in policy
        assert "frame-ancestors 'none'" in policy
        assert "script-src" not in policy and "unsafe-inline" not in policy
        (style,) = re.findall(r"<style>(.*?)</style>", page.text, re.S)
        digest = base64.b64encode(hashlib.sha256(style.encode()).digest()).decode()
        assert f"style-src 'sha256-{digest}'" in policy
        assert " style=" not in page.text  # inline style attributes would be blocked
    assert pages[0].status == 200 and pages[2].status == 404


def test_a_wildcard_host_is_shown_as_loopback() -> None:
    from bpcpay.cli._sandbox import _banner

    gateway = SandboxGateway(host="0.0.0.0", port=8081)  # never started: nothing binds
    assert gateway.base_url == "http://127.0.0.1:8081/api2"
    assert "export BPCPAY_BASE_URL=http://127.0.0.1:8081/api2" in _banner(gateway, None)
    assert AsyncBpcPay(api_key="sk_test_x", base_url=gateway.base_url).base_url == gateway.base_url
    assert url_host("") == "127.0.0.1"
    assert url_host("::") == "[::1]"
    assert url_host("::1") == "[::1]"
    assert url_host("127.0.0.1") == "127.0.0.1"
    assert url_host("localhost") == "localhost"
