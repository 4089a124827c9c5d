"""The sandbox's API on the wire: auth, headers, validation, ids, echo, expiry, 404s."""

from __future__ import annotations

import asyncio
import re
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

import aiohttp
import pytest

import bpcpay
from bpcpay import DEFAULT_API_VERSION
from bpcpay.sandbox import ManualClock, SandboxGateway, _ids
from bpcpay.sandbox._customer import Customer
from bpcpay.sandbox._ids import BASE58

REQUEST_ID = re.compile(r"req_[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}")
B58 = f"[{BASE58}]"
VALID = {
    "amount": 10000,
    "currency": "EUR",
    "successUrl": "https://shop.example/success",
    "failureUrl": "https://shop.example/failure",
}


@pytest.mark.parametrize(
    ("new_id", "prefix", "length"),
    [
        (_ids.new_session_id, "ps_", 54),
        (_ids.new_payment_id, "pay_", 30),
        (_ids.new_refund_id, "re_", 30),
        (_ids.new_payment_method_id, "pm_", 30),
        (_ids.new_event_id, "evt_", 24),
        (_ids.new_webhook_endpoint_id, "we_", 16),
    ],
)
def test_each_kind_of_id_has_its_prefix_and_length(
    new_id: Callable[[], str], prefix: str, length: int
) -> None:
    ids = {new_id() for _ in range(50)}
    assert len(ids) == 50
    assert all(re.fullmatch(f"{prefix}{B58}{{{length}}}", ident) for ident in ids)


@pytest.mark.asyncio
async def test_gateway_binds_loopback_with_fresh_credentials(gw: SandboxGateway) -> None:
    assert gw.url.startswith("http://127.0.0.1:")
    assert gw.base_url == gw.url + "/api2"
    assert gw.port > 0
    async with SandboxGateway() as other:
        assert other.port != gw.port
        assert other.api_key != gw.api_key
        assert other.webhook_secret != gw.webhook_secret
    assert gw.api_key not in repr(gw)
    assert gw.webhook_secret not in repr(gw)


@pytest.mark.asyncio
async def test_the_customer_never_shows_the_key(gw: SandboxGateway) -> None:
    async with aiohttp.ClientSession() as http:
        customer = Customer(http, gw.base_url, gw.api_key)
        assert gw.api_key not in repr(customer)
        assert gw.base_url in repr(customer)


@pytest.mark.asyncio
async def test_missing_key_is_an_invalid_request(api: Any) -> None:
    """[doc: api-keys] No key at all is an "invalid request" error (400 is our reading of its
    unpublished status)."""
    for key in (None, ""):
        answer = await api.call("GET", "/sessions/ps_x", key=key)
        assert answer.status == 400
        assert answer.error["type"] == "invalid_request_error"
        assert answer.error["code"] == "api_key_missing"
        assert answer.error["param"] == "X-Api-Key"
        assert REQUEST_ID.fullmatch(answer.headers["API-Request-Id"])


@pytest.mark.asyncio
async def test_wrong_key_is_401_and_never_echoed(api: Any) -> None:
    """[doc: api-keys] A key that is wrong, deleted or expired is an "authentication" error."""
    answer = await api.call("POST", "/sessions", json_body=VALID, key="sk_wrong_secret_value")
    assert answer.status == 401
    assert answer.error["type"] == "authentication_error"
    assert "sk_wrong_secret_value" not in answer.text


@pytest.mark.asyncio
@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("POST", "/sessions"),
        ("GET", "/sessions/ps_x"),
        ("POST", "/sessions/ps_x/expire"),
        ("POST", "/payments"),
        ("GET", "/payments/pay_x"),
        ("POST", "/payments/pay_x/capture"),
        ("POST", "/payments/pay_x/cancel"),
        ("POST", "/refunds"),
        ("GET", "/refunds/re_x"),
        ("GET", "/payment-methods/pm_x"),
    ],
)
async def test_restricted_key_is_403_everywhere(
    api: Any, gw: SandboxGateway, method: str, path: str
) -> None:
    answer = await api.call(method, path, json_body=VALID, key=gw.restricted_api_key)
    assert answer.status == 403
    assert answer.error["type"] == "permission_error"


@pytest.mark.asyncio
async def test_version_is_echoed_or_defaulted(api: Any) -> None:
    """[doc: api-versions] Without ``X-Version`` the default version applies; every answer
    carries ``X-Version``; the versions the contract names are answered."""
    for version in ("2023-10-31", "2023-11-15"):
        sent = await api.call("GET", "/sessions/ps_x", headers={"X-Version": version})
        assert sent.status == 404  # answered: no such session
        assert sent.headers["X-Version"] == version
    default = await api.call("GET", "/sessions/ps_x")
    assert default.headers["X-Version"] == DEFAULT_API_VERSION == "2023-10-31"


@pytest.mark.asyncio
@pytest.mark.parametrize(
    "version", ["1999-01-01", "2023-11-16", "latest", "", "2023-10-31T00:00:00Z"]
)
async def test_an_unknown_version_is_a_clear_invalid_request(api: Any, version: str) -> None:
    """[doc: api-versions] Versions are named by date; one the gateway does not know is refused
    with an invalid-request error that names the versions it answers."""
    bad = await api.call("POST", "/sessions", json_body=VALID, headers={"X-Version": version})
    assert bad.status == 400
    assert bad.error["type"] == "invalid_request_error"
    assert bad.error["code"] == "api_version_unknown"
    assert bad.error["param"] == "X-Version"
    assert "2023-10-31, 2023-11-15" in bad.error["message"]
    assert bad.headers["X-Version"] == DEFAULT_API_VERSION


def test_the_gateway_speaks_only_known_versions() -> None:
    with pytest.raises(ValueError, match="api_version"):
        SandboxGateway(api_version="1999-01-01")
    assert SandboxGateway(api_version="2023-11-15").api_version == "2023-11-15"


@pytest.mark.asyncio
async def test_every_answer_has_its_own_request_id(api: Any, gw: SandboxGateway) -> None:
    session = await api.create_session()
    answers = [
        await api.call("GET", f"/sessions/{session['id']}"),
        await api.call("GET", "/sessions/ps_missing"),
        await api.call("GET", "/nope"),
        await api.get(session["paymentUrl"]),
        await api.get(gw.url + "/"),
    ]
    ids = [a.headers["API-Request-Id"] for a in answers]
    assert all(REQUEST_ID.fullmatch(i) for i in ids)
    assert len(set(ids)) == len(ids)
    assert [r.request_id for r in gw.requests[-5:]] == ids


@pytest.mark.asyncio
async def test_session_create_defaults_and_ids(api: Any, gw: SandboxGateway) -> None:
    session = await api.create_session()
    assert re.fullmatch(f"ps_{B58}{{54}}", session["id"])
    assert session["status"] == "open"
    assert session["paymentStatus"] == "unpaid"
    assert session["paymentData"] == {"captureMethod": "automatic"}
    assert session["created"] == "2026-03-01T12:00:00Z"
    assert session["expiresAt"] == "2026-03-01T12:20:00Z"
    assert session["customerDetails"] == {}
    assert session["metadata"] == {}
    assert "payment" not in session
    url = re.escape(gw.url + "/payment/merchants/ecom/payment.html")
    pattern = url + r"\?mdOrder=[0-9a-f-]{36}&language=en"
    assert re.fullmatch(pattern, session["paymentUrl"])


@pytest.mark.asyncio
async def test_session_echoes_every_request_field(api: Any) -> None:
    fields = {
        "merchantReferenceId": "4000",
        "locale": "EN",
        "metadata": {"cart": "42"},
        "customerDetails": {"email": "ann@example.com", "name": "Ann", "loyalty": "gold"},
        "paymentData": {"captureMethod": "manual"},
        "expiresAt": "2026-03-01T13:00:00+00:00",
        "category": "unscheduled",
        "recurringModel": {"frequency": 30},
    }
    session = await api.create_session(currency="eur", **fields)
    assert session["currency"] == "EUR"
    assert session["expiresAt"] == "2026-03-01T13:00:00Z"
    for name, value in fields.items():
        if name != "expiresAt":
            assert session[name] == value, name
    assert session["paymentUrl"].endswith("&language=en")
    retrieved = await api.call("GET", f"/sessions/{session['id']}")
    assert retrieved.json == session


BAD_FIELDS: list[tuple[dict[str, Any], int, str | None]] = [
    ({"amount": 0}, 400, "amount"),
    ({"amount": -5}, 400, "amount"),
    ({"amount": 10.5}, 400, "amount"),
    ({"amount": "10000"}, 400, "amount"),
    ({"amount": True}, 400, "amount"),
    ({"amount": 10**16}, 400, "amount"),
    ({"amount": None}, 400, "amount"),
    ({"currency": "EURO"}, 400, "currency"),
    ({"currency": "E1R"}, 400, "currency"),
    ({"currency": 978}, 400, "currency"),
    ({"currency": "ZZZ"}, 400, "currency"),
    ({"successUrl": None}, 400, "successUrl"),
    ({"successUrl": 5}, 400, "successUrl"),
    ({"successUrl": "/relative/path"}, 412, "successUrl"),
    ({"successUrl": "ftp://shop.example/x"}, 412, "successUrl"),
    ({"failureUrl": "shop.example/failure"}, 412, "failureUrl"),
    ({"failureUrl": "https://"}, 412, "failureUrl"),
    ({"merchantReferenceId": ""}, 400, "merchantReferenceId"),
    ({"merchantReferenceId": 4000}, 400, "merchantReferenceId"),
    ({"locale": 1}, 400, "locale"),
    ({"metadata": {"n": 1}}, 400, "metadata"),
    ({"metadata": ["a"]}, 400, "metadata"),
    ({"customerDetails": "ann"}, 400, "customerDetails"),
    ({"paymentData": []}, 400, "paymentData"),
    ({"paymentData": {"captureMethod": "later"}}, 400, "paymentData.captureMethod"),
    ({"expiresAt": "tomorrow"}, 400, "expiresAt"),
    ({"expiresAt": 1700000000}, 400, "expiresAt"),
    ({"expiresAt": "2026-03-01T11:00:00Z"}, 400, "expiresAt"),
    ({"merchantCustomerId": "short"}, 400, "merchantCustomerId"),
    ({"merchantCustomerId": "cust 0001"}, 400, "merchantCustomerId"),
    ({"merchantCustomerId": "c" * 51}, 400, "merchantCustomerId"),
    ({"setupFutureUsage": "recurrent"}, 400, "setupFutureUsage"),
    ({"setupFutureUsage": {"category": "sometimes"}}, 400, "setupFutureUsage.category"),
    ({"setupFutureUsage": {"category": "recurrent"}}, 400, "setupFutureUsage.recurringModel"),
    (
        {
            "setupFutureUsage": {
                "category": "recurrent",
                "recurringModel": {"recurrent": {"expiry": "2026-12-31", "frequency": 5000}},
            }
        },
        400,
        "setupFutureUsage.recurringModel.recurrent.frequency",
    ),
    ({"customerDetails": {"address": {"country": 196}}}, 400, "customerDetails.address.country"),
]


@pytest.mark.asyncio
@pytest.mark.parametrize(("change", "status", "param"), BAD_FIELDS)
async def test_session_validation_names_the_wire_field(
    api: Any, change: dict[str, Any], status: int, param: str
) -> None:
    body = {**VALID, **change}
    answer = await api.call("POST", "/sessions", json_body=body)
    assert answer.status == status
    assert answer.error["type"] == "invalid_request_error"
    assert answer.error["param"] == param
    assert answer.error["message"]


@pytest.mark.asyncio
@pytest.mark.parametrize("missing", ["amount", "currency", "successUrl", "failureUrl"])
async def test_required_fields(api: Any, missing: str) -> None:
    body = {k: v for k, v in VALID.items() if k != missing}
    answer = await api.call("POST", "/sessions", json_body=body)
    assert answer.status == 400
    assert answer.error["param"] == missing
    assert answer.error["code"] == "parameter_missing"


@pytest.mark.asyncio
@pytest.mark.parametrize("raw", [b"", b"not json", b"[1, 2]", b'"text"', b"\xff\xfe"])
async def test_body_must_be_a_json_object(api: Any, raw: bytes) -> None:
    answer = await api.call("POST", "/sessions", raw=raw)
    assert answer.status == 400
    assert answer.error["type"] == "invalid_request_error"
    assert answer.error["param"] is None


@pytest.mark.asyncio
@pytest.mark.parametrize(
    "path", ["/sessions/ps_x/expire", "/payments/pay_x/capture", "/payments/pay_x/cancel"]
)
async def test_a_change_to_an_unknown_id_is_404_before_its_body_is_judged(
    api: Any, path: str
) -> None:
    answer = await api.call("POST", path, raw=b"{nope")
    assert answer.status == 404
    assert answer.error["code"] == "resource_missing"


@pytest.mark.asyncio
async def test_zero_and_three_decimal_currencies_are_known(api: Any) -> None:
    for currency in ("JPY", "KWD", "USD"):
        session = await api.create_session(currency=currency)
        assert session["currency"] == currency


@pytest.mark.asyncio
@pytest.mark.parametrize(
    "path",
    [
        "/sessions/ps_unknown",
        "/payments/pay_unknown",
        "/refunds/re_unknown",
        "/payment-methods/pm_unknown",
    ],
)
async def test_unknown_ids_are_404(api: Any, path: str) -> None:
    answer = await api.call("GET", path)
    assert answer.status == 404
    assert answer.error["type"] == "not_found_error"
    assert "unknown" not in answer.error["message"]


@pytest.mark.asyncio
async def test_unknown_payment_on_capture_cancel_refund_is_404(api: Any) -> None:
    for path in ("/payments/pay_nope/capture", "/payments/pay_nope/cancel"):
        answer = await api.call("POST", path, json_body={})
        assert answer.status == 404
    refund = await api.call("POST", "/refunds", json_body={"payment": "pay_nope"})
    assert refund.status == 404
    assert refund.error["param"] == "payment"


@pytest.mark.asyncio
async def test_unknown_endpoint_and_wrong_method(api: Any) -> None:
    missing = await api.call("GET", "/orders")
    assert missing.status == 404
    assert missing.error["code"] == "unknown_endpoint"
    wrong = await api.call("DELETE", "/sessions")
    assert wrong.status == 405
    assert wrong.error["type"] == "invalid_request_error"
    unauthenticated = await api.call("GET", "/orders", key=None)
    assert unauthenticated.status == 400
    assert unauthenticated.error["code"] == "api_key_missing"


@pytest.mark.asyncio
async def test_session_expires_on_read_and_emits_once(
    api: Any, gw: SandboxGateway, clock: ManualClock
) -> None:
    session = await api.create_session()
    clock.advance(timedelta(minutes=19, seconds=59))
    still_open = await api.call("GET", f"/sessions/{session['id']}")
    assert still_open.json["status"] == "open"
    clock.advance(timedelta(seconds=1))
    expired = await api.call("GET", f"/sessions/{session['id']}")
    assert expired.json["status"] == "expired"
    assert expired.json["paymentStatus"] == "unpaid"
    await api.call("GET", f"/sessions/{session['id']}")
    events = [e for e in gw.events if e.type == "session.expired"]
    assert len(events) == 1
    assert events[0].object["id"] == session["id"]
    assert events[0].object["status"] == "expired"


@pytest.mark.asyncio
async def test_advance_clock_expires_proactively(api: Any, gw: SandboxGateway) -> None:
    short = await api.create_session(expiresAt="2026-03-01T12:05:00Z")
    long = await api.create_session()
    gw.advance_clock(timedelta(minutes=6))
    assert [e.object["id"] for e in gw.events if e.type == "session.expired"] == [short["id"]]
    assert gw.now() == gw.state.sessions[long["id"]].created + timedelta(minutes=6)
    assert gw.expire_due() == []
    gw.advance_clock(timedelta(minutes=20))
    assert gw.state.sessions[long["id"]].status == "expired"


@pytest.mark.asyncio
async def test_background_tick_expires_without_requests(clock: ManualClock) -> None:
    async with SandboxGateway(clock=clock, expiry_check_interval=0.01) as gateway:
        async with (
            aiohttp.ClientSession() as http,
            http.post(
                gateway.base_url + "/sessions",
                json=VALID,
                headers={"X-Api-Key": gateway.api_key},
            ) as response,
        ):
            session = await response.json()
        clock.advance(timedelta(hours=1))
        for _ in range(200):
            if gateway.events:
                break
            await asyncio.sleep(0.01)
        assert [e.type for e in gateway.events] == ["session.expired"]
        assert gateway.events[0].object["id"] == session["id"]


@pytest.mark.asyncio
async def test_request_log_records_method_path_status(api: Any, gw: SandboxGateway) -> None:
    await api.call("GET", "/sessions/ps_a")
    await api.call("POST", "/sessions", json_body=VALID)
    log = [(r.method, r.path, r.status, r.fault) for r in gw.requests]
    assert log == [("GET", "/api2/sessions/ps_a", 404, None), ("POST", "/api2/sessions", 200, None)]
    assert all(r.duration >= 0 for r in gw.requests)


#: A value each declared keyword refuses, as the SDK is given it and as the wire carries it. A
#: field added to a declaration without a line here fails the test below.
REFUSED: dict[str, tuple[Any, Any]] = {
    "amount": (0, 0),
    "currency": ("EURO", "EURO"),
    "success_url": ("/relative", 5),
    "failure_url": ("/relative", 5),
    "merchant_reference_id": ("", ""),
    "locale": ("", ""),
    "metadata": ({"n": 1}, {"n": 1}),
    "customer_details": ({"email": 5}, {"email": 5}),
    "capture_method": ("later", "later"),
    "expires_at": (datetime(2030, 1, 1), "tomorrow"),
    "merchant_customer_id": ("", ""),
    "setup_future_usage": ({"category": "x"}, {"category": "x"}),
    "card": ({"number": "4111"}, {"number": "4111"}),
    "stored_payment_method_id": ("", ""),
    "payment_id": ("", ""),
    "reason": ("", ""),
}
#: A valid body of each declared endpoint that takes one, as keywords and on the wire.
VALID_BODIES: dict[str, tuple[dict[str, Any], dict[str, Any]]] = {
    "sessions.create": (
        {
            "amount": 10000,
            "currency": "EUR",
            "success_url": VALID["successUrl"],
            "failure_url": VALID["failureUrl"],
        },
        VALID,
    ),
    "payments.create": (
        {"amount": 100, "currency": "EUR", "stored_payment_method_id": "pm_x"},
        {"amount": 100, "currency": "EUR", "storedPaymentMethodId": "pm_x"},
    ),
    "refunds.create": ({"payment_id": "pay_x"}, {"payment": "pay_x"}),
}


def _wire_body(body: Any, wire: str, value: Any) -> dict[str, Any]:
    out = dict(body)
    *parents, last = wire.split(".")
    node = out
    for key in parents:
        node = node.setdefault(key, {})
    node[last] = value
    return out


@pytest.mark.asyncio
@pytest.mark.parametrize("name", list(VALID_BODIES))
async def test_the_sdk_and_the_sandbox_refuse_the_same_field(api: Any, name: str) -> None:
    """Every field of every declared body: the SDK's refusal names the keyword, the sandbox's
    400 (412 for a redirect URL) names the wire path, both from the one declaration."""
    from bpcpay._core._bodies import BODIES
    from bpcpay._types import NOT_GIVEN

    body = BODIES[name]
    for field in body.fields:
        keywords, wire = VALID_BODIES[name]
        if any(field.argument in group for group in body.one_of):
            # The other members of its group make way for it.
            others = {a for group in body.one_of for a in group} - {field.argument}
            keys = {f.key for f in body.fields if f.argument in others}
            keywords = {k: v for k, v in keywords.items() if k not in others}
            wire = {k: v for k, v in wire.items() if k not in keys}
        sdk_bad, wire_bad = REFUSED[field.argument]
        arguments = {f.argument: keywords.get(f.argument, NOT_GIVEN) for f in body.fields}
        arguments[field.argument] = sdk_bad
        with pytest.raises(bpcpay.InvalidArgumentError) as info:
            body.build(**arguments)
        assert info.value.argument.split(".")[0] == field.argument
        path = "/" + name.split(".")[0]
        answer = await api.call("POST", path, json_body=_wire_body(wire, field.wire, wire_bad))
        assert answer.status in (400, 412), (field.wire, answer.text)
        assert answer.error["param"].startswith(field.wire), (field.wire, answer.error)
