"""Argument checks and request building (pure), plus the client options they guard."""

from __future__ import annotations

import json
from datetime import datetime, timedelta, timezone
from typing import Any

import pytest
from _support import API_KEY

import bpcpay
from bpcpay import AsyncBpcPay, InvalidArgumentError
from bpcpay._constants import DEFAULT_API_VERSION, DEFAULT_BASE_URL
from bpcpay._core._endpoints import ENDPOINTS, SESSIONS_RETRIEVE, Endpoint
from bpcpay._core._requests import (
    MAX_AMOUNT,
    build_request,
    check_amount,
    check_api_key,
    check_api_version,
    check_base_url,
    check_capture_method,
    check_card,
    check_currency,
    check_customer_details,
    check_datetime,
    check_metadata,
    check_recurring_model,
    check_string,
    check_url,
    compact,
    encode_json,
    optional,
    static_headers,
)
from bpcpay._types import NOT_GIVEN
from bpcpay.models import CustomerDetails, PaymentCard, RecurringModel

VISA = "4111111111111111"


def card(**changes: Any) -> PaymentCard:
    fields: dict[str, Any] = {"number": VISA, "exp_month": 12, "exp_year": 2030, "cvc": "123"}
    fields.update(changes)
    return PaymentCard(**fields)


def test_invalid_argument_error_is_a_value_error_naming_the_argument() -> None:
    with pytest.raises(ValueError) as info:
        check_amount("amount", 0)
    assert isinstance(info.value, InvalidArgumentError)
    assert info.value.argument == "amount"
    assert str(info.value).startswith("amount: ")


@pytest.mark.parametrize("value", [1, 10000, MAX_AMOUNT])
def test_amount_accepts_positive_ints(value: int) -> None:
    assert check_amount("amount", value) == value


@pytest.mark.parametrize(
    "value", [True, False, 100.0, 99.99, "100", None, 0, -1, MAX_AMOUNT + 1, [100]]
)
def test_amount_rejects_everything_else(value: object) -> None:
    with pytest.raises(InvalidArgumentError) as info:
        check_amount("amount", value)
    assert info.value.argument == "amount"


def test_amount_message_explains_minor_units() -> None:
    with pytest.raises(InvalidArgumentError, match="10000"):
        check_amount("amount", 100.0)


@pytest.mark.parametrize(("value", "sent"), [("EUR", "EUR"), ("eur", "EUR"), ("uSd", "USD")])
def test_currency_is_normalised_to_upper_case(value: str, sent: str) -> None:
    assert check_currency("currency", value) == sent


@pytest.mark.parametrize("value", ["EU", "EURO", "E1R", "", " EUR", "ЕВР", 978, None])
def test_currency_rejects_non_three_letter_codes(value: object) -> None:
    with pytest.raises(InvalidArgumentError) as info:
        check_currency("currency", value)
    assert info.value.argument == "currency"


@pytest.mark.parametrize(
    "value",
    ["https://shop.example/success", "http://shop.example/ok?x=1", "https://127.0.0.1:8443/a"],
)
def test_url_accepts_absolute_http_urls(value: str) -> None:
    assert check_url("success_url", value) == value


@pytest.mark.parametrize(
    "value",
    [
        "/success",
        "shop.example/success",
        "ftp://shop.example/x",
        "javascript:alert(1)",
        "https://",
        "https:///path",
        " https://shop.example/x",
        "https://shop.example/x\n",
        "http://[::1/x",
        "",
        None,
        b"https://shop.example",
    ],
)
def test_url_rejects_the_rest(value: object) -> None:
    with pytest.raises(InvalidArgumentError) as info:
        check_url("failure_url", value)
    assert info.value.argument == "failure_url"


def test_string_checks() -> None:
    assert check_string("locale", "en") == "en"
    for bad in ("", "   ", None, 5):
        with pytest.raises(InvalidArgumentError, match="non-empty string"):
            check_string("locale", bad)
    with pytest.raises(InvalidArgumentError, match="at most 3 characters"):
        check_string("locale", "abcd", max_length=3)


def test_metadata_checks() -> None:
    assert check_metadata("metadata", {"a": "b"}) == {"a": "b"}
    for bad in ({"a": 1}, {1: "a"}, {"a": None}, [("a", "b")], "a=b"):
        with pytest.raises(InvalidArgumentError) as info:
            check_metadata("metadata", bad)
        assert info.value.argument == "metadata"


def test_datetime_must_be_aware() -> None:
    when = datetime(2030, 1, 1, 12, 0, tzinfo=timezone(timedelta(hours=1)))
    assert check_datetime("expires_at", when) == "2030-01-01T11:00:00Z"
    with pytest.raises(InvalidArgumentError, match="timezone-aware"):
        check_datetime("expires_at", datetime(2030, 1, 1))
    with pytest.raises(InvalidArgumentError, match="must be a datetime"):
        check_datetime("expires_at", "2030-01-01T00:00:00Z")


def test_capture_method_checks() -> None:
    assert check_capture_method("capture_method", "manual") == "manual"
    assert check_capture_method("capture_method", "automatic") == "automatic"
    for bad in ("MANUAL", "auto", None, ["manual"]):
        with pytest.raises(InvalidArgumentError) as info:
            check_capture_method("capture_method", bad)
        assert info.value.argument == "capture_method"


def test_customer_details_checks() -> None:
    assert check_customer_details("customer_details", CustomerDetails(email="a@example.com")) == {
        "email": "a@example.com"
    }
    assert check_customer_details("customer_details", {"phone": "+100"}) == {"phone": "+100"}
    for bad in ("a@example.com", {"email": 5}):
        with pytest.raises(InvalidArgumentError) as info:
            check_customer_details("customer_details", bad)
        assert info.value.argument == "customer_details"


def test_recurring_model_checks() -> None:
    model = RecurringModel(frequency=30, end_date="2030-01-01")
    assert check_recurring_model("recurring_model", model) == {
        "frequency": 30,
        "endDate": "2030-01-01",
    }
    assert check_recurring_model("recurring_model", {"frequency": 7}) == {"frequency": 7}
    for bad in ([("frequency", 7)], {7: "x"}, "monthly"):
        with pytest.raises(InvalidArgumentError) as info:
            check_recurring_model("recurring_model", bad)
        assert info.value.argument == "recurring_model"


def test_card_is_sent_in_wire_form() -> None:
    assert check_card("card", card(number="4111 1111 1111 1111", holder="Ada L")) == {
        "number": VISA,
        "expMonth": 12,
        "expYear": 2030,
        "cvc": "123",
        "holder": "Ada L",
    }
    assert "holder" not in check_card("card", card())


@pytest.mark.parametrize(
    ("changes", "argument"),
    [
        ({"number": "4111111111111112"}, "card.number"),  # Luhn
        ({"number": "41111111111"}, "card.number"),  # too short
        ({"number": "4111-1111-1111-1111"}, "card.number"),
        ({"number": "٤١١١١١١١١١١١١١١١"}, "card.number"),  # non-ASCII digits
        ({"number": 4111111111111111}, "card.number"),
        ({"exp_month": 0}, "card.exp_month"),
        ({"exp_month": 13}, "card.exp_month"),
        ({"exp_month": True}, "card.exp_month"),
        ({"exp_month": "12"}, "card.exp_month"),
        ({"exp_year": 30}, "card.exp_year"),
        ({"exp_year": 2030.0}, "card.exp_year"),
        ({"cvc": "12"}, "card.cvc"),
        ({"cvc": "12345"}, "card.cvc"),
        ({"cvc": 123}, "card.cvc"),
        ({"cvc": "1a3"}, "card.cvc"),
        ({"holder": ""}, "card.holder"),
    ],
)
def test_invalid_card_fields_are_named_and_never_echoed(
    changes: dict[str, Any], argument: str
) -> None:
    with pytest.raises(InvalidArgumentError) as info:
        check_card("card", card(**changes))
    assert info.value.argument == argument
    for secret in (VISA, "4111111111111112", "41111111111", "12345", "1a3"):
        assert secret not in str(info.value)


def test_card_must_be_a_payment_card() -> None:
    with pytest.raises(InvalidArgumentError, match="must be a PaymentCard") as info:
        check_card("card", {"number": VISA})
    assert VISA not in str(info.value)


def test_compact_and_optional() -> None:
    assert compact(a=1, b=NOT_GIVEN, c=None) == {"a": 1, "c": None}
    assert optional(check_amount, "amount", NOT_GIVEN) is NOT_GIVEN
    assert optional(check_amount, "amount", 5) == 5


def test_encode_json_is_compact_utf8() -> None:
    assert encode_json({"a": [1, "é"]}) == '{"a":[1,"é"]}'.encode()


@pytest.mark.parametrize(
    ("value", "normalised"),
    [
        ("https://dev.bpcbt.com/api2", "https://dev.bpcbt.com/api2"),
        ("https://gw.example/api2/", "https://gw.example/api2"),
        ("http://127.0.0.1:8080", "http://127.0.0.1:8080"),
        ("http://127.5.6.7/api2", "http://127.5.6.7/api2"),
        ("http://[::1]:8080/api2", "http://[::1]:8080/api2"),
        ("http://localhost:9000/", "http://localhost:9000"),
        ("http://sandbox.localhost/api2", "http://sandbox.localhost/api2"),
    ],
)
def test_base_url_accepts_https_and_loopback_http(value: str, normalised: str) -> None:
    assert check_base_url(value) == normalised


@pytest.mark.parametrize(
    ("value", "problem"),
    [
        ("http://dev.bpcbt.com/api2", "loopback"),
        ("http://10.0.0.1/api2", "loopback"),
        ("http://localhost.evil.example/", "loopback"),
        ("https://gw.example/api2?key=1", "query"),
        ("https://gw.example/api2#frag", "fragment"),
        ("https://gw.example/api2?", "query"),
        ("https://gw.example/api2/#", "fragment"),
        ("gw.example/api2", "absolute"),
        ("ftp://gw.example", "absolute"),
    ],
)
def test_base_url_refusals(value: str, problem: str) -> None:
    with pytest.raises(InvalidArgumentError, match=problem) as info:
        check_base_url(value)
    assert info.value.argument == "base_url"


@pytest.mark.parametrize("value", ["", "   ", "key with space", "key\nX-Evil: 1", "ключ", None, 5])
def test_api_key_refusals_never_echo_the_key(value: object) -> None:
    with pytest.raises(InvalidArgumentError) as info:
        check_api_key(value)
    assert info.value.argument == "api_key"
    if isinstance(value, str) and value.strip():
        assert value not in str(info.value)
        assert value not in repr(info.value)
        assert all(value not in str(arg) for arg in info.value.args)


def test_api_key_accepts_visible_ascii() -> None:
    assert check_api_key(API_KEY) == API_KEY


@pytest.mark.parametrize("value", ["2023-11-15", "2023-10-31"])
def test_api_version_accepts_dates(value: str) -> None:
    assert check_api_version(value) == value


@pytest.mark.parametrize("value", ["2023-11", "20231115", "v2", "", "2023-11-15 ", None])
def test_api_version_refusals(value: object) -> None:
    with pytest.raises(InvalidArgumentError) as info:
        check_api_version(value)
    assert info.value.argument == "api_version"


def test_static_headers() -> None:
    headers = static_headers(api_key=API_KEY, api_version="2023-10-31", user_agent="ua/1")
    assert headers == {
        "X-Api-Key": API_KEY,
        "X-Version": "2023-10-31",
        "User-Agent": "ua/1",
        "Accept": "application/json",
    }


def test_build_request() -> None:
    headers = {"X-Api-Key": API_KEY}
    req = build_request(
        "POST",
        "/sessions",
        base_url="https://gw.example/api2",
        headers=headers,
        json_body={"amount": 1},
        merchant_reference_id="o-1",
    )
    assert req.url == "https://gw.example/api2/sessions"
    assert req.path == "/sessions"
    assert json.loads(req.body or b"") == {"amount": 1}
    assert req.headers is headers
    assert req.merchant_reference_id == "o-1"
    assert API_KEY not in repr(req)
    get = build_request("GET", "/sessions/ps_1", base_url="https://gw.example", headers={})
    assert get.body is None
    with pytest.raises(InvalidArgumentError) as info:
        build_request("GET", "sessions", base_url="https://gw.example", headers={})
    assert info.value.argument == "path"


def test_endpoint_table_matches_the_contract() -> None:
    table = {name: (e.method, e.path, e.source) for name, e in ENDPOINTS.items()}
    assert table == {
        "sessions.create": ("POST", "/sessions", "doc"),
        "sessions.retrieve": ("GET", "/sessions/{session_id}", "doc"),
        "payments.create": ("POST", "/payments", "doc"),
        "payments.retrieve": ("GET", "/payments/{payment_id}", "doc"),
        "payments.capture": ("POST", "/payments/{payment_id}/capture", "inferred"),
        "payments.cancel": ("POST", "/payments/{payment_id}/cancel", "inferred"),
        "refunds.create": ("POST", "/refunds", "inferred"),
        "refunds.retrieve": ("GET", "/refunds/{refund_id}", "inferred"),
        "payment_methods.retrieve": ("GET", "/payment-methods/{payment_method_id}", "inferred"),
    }


def test_endpoint_render_quotes_and_refuses_empty_ids() -> None:
    assert SESSIONS_RETRIEVE.render(session_id="ps_1") == "/sessions/ps_1"
    assert SESSIONS_RETRIEVE.render(session_id="a/../b c") == "/sessions/a%2F..%2Fb%20c"
    assert SESSIONS_RETRIEVE.render(session_id="...") == "/sessions/..."
    for bad in ("", "  ", None, 7, ".", ".."):
        with pytest.raises(InvalidArgumentError) as info:
            SESSIONS_RETRIEVE.render(session_id=bad)  # type: ignore[arg-type]
        assert info.value.argument == "session_id"
    assert Endpoint("x", "GET", "/x", "doc").note == ""


# --- the same checks, through the client's constructor ----------------------------------------


def test_client_defaults() -> None:
    client = AsyncBpcPay(api_key=API_KEY)
    assert client.base_url == DEFAULT_BASE_URL == "https://dev.bpcbt.com/api2"
    assert client.api_version == DEFAULT_API_VERSION == bpcpay.DEFAULT_API_VERSION
    assert client.timeout == bpcpay.Timeout(connect=5.0, read=20.0)
    assert client.max_retries == 2
    assert not client.closed


@pytest.mark.parametrize("base_url", ["http://dev.bpcbt.com/api2", "http://192.168.1.10:8080"])
def test_client_refuses_plain_http_off_loopback(base_url: str) -> None:
    with pytest.raises(InvalidArgumentError) as info:
        AsyncBpcPay(api_key=API_KEY, base_url=base_url)
    assert info.value.argument == "base_url"
    assert API_KEY not in str(info.value)


@pytest.mark.parametrize(
    "base_url",
    ["http://127.0.0.1:8080", "http://[::1]:8080", "http://localhost:8080", "https://x.example"],
)
def test_client_accepts_loopback_http_and_https(base_url: str) -> None:
    assert AsyncBpcPay(api_key=API_KEY, base_url=base_url).base_url == base_url


@pytest.mark.parametrize(
    ("options", "argument"),
    [
        ({"api_key": ""}, "api_key"),
        ({"api_key": "   "}, "api_key"),
        ({"api_key": f" {API_KEY} "}, "api_key"),
        ({"api_version": "latest"}, "api_version"),
        ({"max_retries": -1}, "max_retries"),
        ({"max_retries": True}, "max_retries"),
        ({"max_retries": 1.0}, "max_retries"),
        ({"pool_size": 0}, "pool_size"),
        ({"pool_size": True}, "pool_size"),
        ({"timeout": None}, "timeout"),
        ({"timeout": 0}, "timeout.connect"),
        ({"timeout": "5"}, "timeout"),
        ({"session": "not a session"}, "session"),
    ],
)
def test_client_option_errors(options: dict[str, Any], argument: str) -> None:
    kwargs: dict[str, Any] = {"api_key": API_KEY, **options}
    with pytest.raises(InvalidArgumentError) as info:
        AsyncBpcPay(**kwargs)
    assert info.value.argument == argument
    assert API_KEY not in str(info.value)
    assert API_KEY not in repr(info.value)


def test_client_repr_never_shows_the_key() -> None:
    client = AsyncBpcPay(api_key=API_KEY, api_version="2023-10-31")
    assert API_KEY not in repr(client)
    assert "2023-10-31" in repr(client)
    assert API_KEY not in repr(client.sessions)


def test_from_env_reads_all_three(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("BPCPAY_API_KEY", API_KEY)
    monkeypatch.setenv("BPCPAY_BASE_URL", "http://127.0.0.1:8765/api2")
    monkeypatch.setenv("BPCPAY_API_VERSION", "2023-10-31")
    client = AsyncBpcPay.from_env(max_retries=0, timeout=3)
    assert client.base_url == "http://127.0.0.1:8765/api2"
    assert client.api_version == "2023-10-31"
    assert client.max_retries == 0
    assert client.timeout == bpcpay.Timeout(connect=3.0, read=3.0)
    assert client._get_headers["X-Api-Key"] == API_KEY


def test_from_env_defaults_when_only_the_key_is_set(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("BPCPAY_API_KEY", API_KEY)
    monkeypatch.setenv("BPCPAY_BASE_URL", "")
    monkeypatch.delenv("BPCPAY_API_VERSION", raising=False)
    client = AsyncBpcPay.from_env()
    assert client.base_url == DEFAULT_BASE_URL
    assert client.api_version == DEFAULT_API_VERSION


@pytest.mark.parametrize("value", [None, ""])
def test_from_env_without_a_key_fails_clearly(
    monkeypatch: pytest.MonkeyPatch, value: str | None
) -> None:
    if value is None:
        monkeypatch.delenv("BPCPAY_API_KEY", raising=False)
    else:
        monkeypatch.setenv("BPCPAY_API_KEY", value)
    with pytest.raises(InvalidArgumentError, match="BPCPAY_API_KEY") as info:
        AsyncBpcPay.from_env()
    assert info.value.argument == "BPCPAY_API_KEY"


def test_from_env_validates_values(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("BPCPAY_API_KEY", API_KEY)
    monkeypatch.setenv("BPCPAY_BASE_URL", "http://gw.example/api2")
    with pytest.raises(InvalidArgumentError) as info:
        AsyncBpcPay.from_env()
    assert info.value.argument == "base_url"
    assert API_KEY not in str(info.value)


def test_not_given_sentinel() -> None:
    assert repr(NOT_GIVEN) == "NOT_GIVEN"
    assert not NOT_GIVEN
    assert bpcpay.NOT_GIVEN is NOT_GIVEN
    assert isinstance(NOT_GIVEN, bpcpay.NotGiven)
