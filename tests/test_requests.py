"""Argument checks and request building (pure), plus the client options they guard."""

from __future__ import annotations

import asyncio
import json
from datetime import datetime, timedelta, timezone
from typing import Any

import pytest
from _support import API_KEY, VISA, card
from aioresponses import aioresponses

import bpcpay
from bpcpay import AsyncBpcPay, InvalidArgumentError
from bpcpay._constants import DEFAULT_API_VERSION, DEFAULT_BASE_URL
from bpcpay._core._bodies import (
    PAYMENT_CREATE_FIELDS,
    SESSION_CREATE_FIELDS,
    _python_path,
    check_card,
    check_customer_details,
    check_metadata,
    check_setup_future_usage,
    merge_extra_body,
    stores_card,
)
from bpcpay._core._endpoints import (
    ENDPOINTS,
    GENERIC_HINT,
    REFUNDS_CREATE,
    SESSIONS_CREATE,
    SESSIONS_RETRIEVE,
    Endpoint,
    ad_hoc,
)
from bpcpay._core._requests import (
    MAX_AMOUNT,
    build_request,
    check_amount,
    check_api_key,
    check_api_version,
    check_base_url,
    check_capture_method,
    check_currency,
    check_datetime,
    check_string,
    check_url,
    encode_json,
    static_headers,
)
from bpcpay._types import NOT_GIVEN
from bpcpay.models import (
    Address,
    CustomerDetails,
    RecurrentTerms,
    RecurringModel,
    SetupFutureUsage,
)


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
    details = CustomerDetails(email="a@example.com", address=Address(city="Nicosia", country="CY"))
    assert check_customer_details("customer_details", details) == {
        "email": "a@example.com",
        "address": {"city": "Nicosia", "country": "CY"},
    }
    wire = {"phone": "+100", "address": {"postalCode": "1010", "line2": ""}, "tier": {"x": 1}}
    assert check_customer_details("customer_details", wire) == wire
    for bad, argument in (
        ("a@example.com", "customer_details"),
        ({1: "x"}, "customer_details"),
        ({"email": 5}, "customer_details.email"),
        ({"address": "Nicosia"}, "customer_details.address"),
        ({"address": {"postalCode": 1010}}, "customer_details.address.postalCode"),
        ({"name": "x" * 1025}, "customer_details.name"),
        ({"name": "\ud800"}, "customer_details.name"),
    ):
        with pytest.raises(InvalidArgumentError) as info:
            check_customer_details("customer_details", bad)
        assert info.value.argument == argument


RECURRENT = {
    "category": "recurrent",
    "recurringModel": {"recurrent": {"expiry": "2026-12-31", "frequency": 30}},
}


def test_setup_future_usage_accepts_the_published_nesting() -> None:
    """[doc: stored-payment-methods] ``setupFutureUsage {category, recurringModel {recurrent
    {expiry, frequency}, installment}}``, as the model or as the published nesting."""
    model = SetupFutureUsage(
        category="recurrent",
        recurring_model=RecurringModel(
            recurrent=RecurrentTerms(expiry=datetime(2026, 12, 31).date(), frequency=30)
        ),
    )
    assert check_setup_future_usage("setup_future_usage", model) == RECURRENT
    assert check_setup_future_usage("setup_future_usage", RECURRENT) == RECURRENT
    for category in ("empty", "unscheduled"):
        assert check_setup_future_usage("s", {"category": category}) == {"category": category}
    installment = {"category": "installment", "recurringModel": {"installment": {"count": 3}}}
    assert check_setup_future_usage("s", installment) == installment


def _recurrent(**changes: Any) -> dict[str, Any]:
    return {
        "category": "recurrent",
        "recurringModel": {"recurrent": {"expiry": "2026-12-31", "frequency": 30, **changes}},
    }


@pytest.mark.parametrize(
    ("value", "argument"),
    [
        ({}, "s.category"),
        ({"category": "sometimes"}, "s.category"),
        ({"category": "recurrent"}, "s.recurringModel"),
        ({"category": "installment"}, "s.recurringModel"),
        ({"category": "recurrent", "recurringModel": []}, "s.recurringModel"),
        ({"category": "recurrent", "recurringModel": {}}, "s.recurringModel.recurrent"),
        ({"category": "installment", "recurringModel": {}}, "s.recurringModel.installment"),
        (
            {"category": "installment", "recurringModel": {"installment": 3}},
            "s.recurringModel.installment",
        ),
        (
            {"category": "unscheduled", "recurringModel": {"recurrent": 1}},
            "s.recurringModel.recurrent",
        ),
        (_recurrent(expiry=None), "s.recurringModel.recurrent.expiry"),
        (_recurrent(expiry="31/12/2026"), "s.recurringModel.recurrent.expiry"),
        (_recurrent(expiry="2026-02-30"), "s.recurringModel.recurrent.expiry"),
        (_recurrent(frequency=None), "s.recurringModel.recurrent.frequency"),
        (_recurrent(frequency=0), "s.recurringModel.recurrent.frequency"),
        (_recurrent(frequency=4001), "s.recurringModel.recurrent.frequency"),
        (_recurrent(frequency=30.0), "s.recurringModel.recurrent.frequency"),
        (_recurrent(frequency=True), "s.recurringModel.recurrent.frequency"),
        (SetupFutureUsage(category="recurrent"), "s.recurring_model"),
        ("recurrent", "s"),
    ],
)
def test_setup_future_usage_refusals_name_the_nested_field(value: object, argument: str) -> None:
    """[doc: stored-payment-methods] ``category`` is mandatory (empty, unscheduled, recurrent,
    installment); ``recurringModel`` is mandatory for recurrent and installment; ``expiry`` is
    ``YYYY-MM-dd``; ``frequency`` is a number of days, at most 4000."""
    with pytest.raises(InvalidArgumentError) as info:
        check_setup_future_usage("s", value)
    assert info.value.argument == argument


def test_a_refusal_inside_a_model_names_its_attributes() -> None:
    terms = RecurrentTerms(expiry=datetime(2026, 12, 31).date(), frequency=0)
    usage = SetupFutureUsage(category="recurrent", recurring_model=RecurringModel(recurrent=terms))
    with pytest.raises(InvalidArgumentError) as info:
        check_setup_future_usage("setup_future_usage", usage)
    assert info.value.argument == "setup_future_usage.recurring_model.recurrent.frequency"
    with pytest.raises(InvalidArgumentError) as info:
        check_customer_details("c", CustomerDetails(address=Address(postal_code="x" * 2000)))
    assert info.value.argument == "c.address.postal_code"
    # Past a member that is not a model, the wire names stay as they are.
    deeper = _python_path(SetupFutureUsage, "recurringModel.installment.count")
    assert deeper == "recurring_model.installment.count"
    with pytest.raises(InvalidArgumentError) as info:
        check_customer_details("c", CustomerDetails(name="ok", address=Address(city="\ud800")))
    assert info.value.argument == "c.address.city"


def test_stores_card_unless_the_category_is_empty() -> None:
    assert not stores_card(None)
    assert not stores_card({"category": "empty"})
    assert stores_card({"category": "unscheduled"})
    assert stores_card(RECURRENT)


def test_card_is_sent_in_wire_form() -> None:
    wire = {"number": VISA, "expiryMonth": 12, "expiryYear": 2030, "cvc": "123"}
    assert check_card("card", card(number="4111 1111 1111 1111", holder="Ada L")) == {
        **wire,
        "holderName": "Ada L",
    }
    assert check_card("card", card()) == wire
    assert check_card("card", wire) == wire


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


def test_a_card_mapping_is_checked_as_it_is() -> None:
    with pytest.raises(InvalidArgumentError) as info:
        check_card("card", {"number": "4111 1111 1111 1111", "expiryMonth": 1})
    assert info.value.argument == "card.number"  # a mapping is wire form: no spaces
    with pytest.raises(InvalidArgumentError) as info:
        check_card("card", {"number": VISA})
    assert info.value.argument == "card.expiryMonth"
    assert VISA not in str(info.value)
    with pytest.raises(InvalidArgumentError, match="PaymentCard, a CardToken or a mapping") as info:
        check_card("card", VISA)
    assert VISA not in str(info.value)


def test_extra_body_merges_new_fields_only() -> None:
    body = {"amount": 1}
    assert merge_extra_body(body, {"newField": [1, {"a": None}]}) == {
        "amount": 1,
        "newField": [1, {"a": None}],
    }
    assert body == {"amount": 1}
    for bad, problem in (
        ({"amount": 2}, "already set"),
        ({1: "x"}, "keys must be strings"),
        ({"x": float("nan")}, "cannot be sent as JSON"),
        ({"x": object()}, "cannot be sent as JSON"),
        ([("a", 1)], "must be a mapping"),
    ):
        with pytest.raises(InvalidArgumentError, match=problem) as info:
            merge_extra_body(body, bad)
        assert info.value.argument == "extra_body"


def test_body_tables_name_every_keyword_and_wire_field_once() -> None:
    for fields in (SESSION_CREATE_FIELDS, PAYMENT_CREATE_FIELDS):
        assert len({f.wire for f in fields}) == len({f.argument for f in fields}) == len(fields)
        assert all(f.source == "inferred" or f.source.startswith("doc: ") for f in fields)
    required = [f.wire for f in SESSION_CREATE_FIELDS if f.required]
    assert required == ["amount", "currency", "successUrl", "failureUrl"]


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
    assert check_api_key(API_KEY).reveal() == API_KEY  # held in a Secret


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


def test_build_request_takes_everything_from_the_endpoint() -> None:
    headers = {"X-Api-Key": API_KEY}
    req = build_request(
        SESSIONS_CREATE,
        base_url="https://gw.example/api2",
        headers=headers,
        body={"amount": 1, "merchantReferenceId": "o-1"},
    )
    assert (req.method, req.endpoint) == ("POST", SESSIONS_CREATE)
    assert req.url == "https://gw.example/api2/sessions"
    assert req.path == "/sessions"
    assert json.loads(req.body or b"") == {"amount": 1, "merchantReferenceId": "o-1"}
    assert req.headers is headers
    # The order id is read from the body by the endpoint's table, never by the resource.
    assert req.merchant_reference_id == "o-1"
    assert API_KEY not in repr(req)
    assert repr(req) == "<Request POST /sessions>"
    get = build_request(SESSIONS_RETRIEVE, ("ps_1",), base_url="https://gw.example", headers={})
    assert (get.method, get.path, get.body) == ("GET", "/sessions/ps_1", None)
    assert get.merchant_reference_id is None
    with pytest.raises(InvalidArgumentError) as info:
        build_request(SESSIONS_RETRIEVE, ("",), base_url="https://gw.example", headers={})
    assert info.value.argument == "session_id"
    with pytest.raises(TypeError, match="takes 1 id"):
        build_request(SESSIONS_RETRIEVE, base_url="https://gw.example", headers={})
    # An endpoint whose body has no order id never reads one, whatever the body holds.
    refund = build_request(
        REFUNDS_CREATE, base_url="", headers={}, body={"merchantReferenceId": "o-2"}
    )
    assert refund.merchant_reference_id is None
    # A JSON null body is a body: sent as such, with a Content-Type by the caller's headers.
    assert build_request(ad_hoc("POST", "/x", None), base_url="", headers={}, body=None).body == (
        b"null"
    )


def test_endpoints_know_their_model_and_what_a_lost_answer_means() -> None:
    for endpoint in ENDPOINTS.values():
        assert endpoint.outcome_unknown_when_lost == (endpoint.method != "GET")
        assert endpoint.model is not None
        assert endpoint.hint.endswith(".")
    assert SESSIONS_CREATE.model is bpcpay.Session
    assert "safe to create another" in SESSIONS_CREATE.hint
    assert [e.name for e in ENDPOINTS.values() if e.sends_reference] == [
        "sessions.create",
        "payments.create",
    ]
    assert repr(SESSIONS_RETRIEVE) == "<Endpoint sessions.retrieve: GET /sessions/{session_id}>"
    # The path of a call that never ran, for messages: the template when the ids do not fit.
    assert SESSIONS_RETRIEVE.describe(("ps_1", "extra")) == "/sessions/ps_1"
    assert SESSIONS_RETRIEVE.describe(()) == "/sessions/{session_id}"
    assert SESSIONS_RETRIEVE.describe((".",)) == "/sessions/{session_id}"
    raw = ad_hoc("GET", "/a%7Bb%7D", None)
    assert (raw.path, raw.params, raw.fill(()), raw.hint) == (
        "/a%7Bb%7D",
        (),
        "/a%7Bb%7D",
        GENERIC_HINT,
    )


def test_endpoint_table_matches_the_contract() -> None:
    """[doc: redirect-integration, api-keys, api-versions, cancel-refund, direct-integration,
    two-step] The contract's endpoint table, row by row, with each path's source."""
    table = {name: (e.method, e.path, e.source) for name, e in ENDPOINTS.items()}
    assert table == {
        "sessions.create": ("POST", "/sessions", "doc: redirect-integration"),
        "sessions.retrieve": ("GET", "/sessions/{session_id}", "doc: api-keys, api-versions"),
        "sessions.expire": ("POST", "/sessions/{session_id}/expire", "doc: cancel-refund"),
        "payments.create": ("POST", "/payments", "doc: direct-integration"),
        "payments.retrieve": ("GET", "/payments/{payment_id}", "doc: direct-integration"),
        "payments.capture": ("POST", "/payments/{payment_id}/capture", "doc: two-step"),
        "payments.cancel": ("POST", "/payments/{payment_id}/cancel", "inferred"),
        "refunds.create": ("POST", "/refunds", "inferred"),
        "refunds.retrieve": ("GET", "/refunds/{refund_id}", "inferred"),
        "payment_methods.retrieve": ("GET", "/payment-methods/{payment_method_id}", "inferred"),
    }
    bodiless = [name for name, e in ENDPOINTS.items() if e.method == "POST" and e.body is None]
    assert bodiless == ["sessions.expire", "payments.cancel"]


def test_endpoint_render_quotes_and_refuses_empty_ids() -> None:
    assert SESSIONS_RETRIEVE.render(session_id="ps_1") == "/sessions/ps_1"
    assert SESSIONS_RETRIEVE.render(session_id="a/../b c") == "/sessions/a%2F..%2Fb%20c"
    assert SESSIONS_RETRIEVE.render(session_id="...") == "/sessions/..."
    for bad in ("", "  ", None, 7, ".", ".."):
        with pytest.raises(InvalidArgumentError) as info:
            SESSIONS_RETRIEVE.render(session_id=bad)  # type: ignore[arg-type]
        assert info.value.argument == "session_id"
    assert Endpoint("x", "GET", "/x", "inferred", None).note == ""
    two = Endpoint("x", "GET", "/a/{a_id}/b/{b_id}", "inferred", None)
    assert two.render(a_id="1", b_id="x y") == "/a/1/b/x%20y"
    assert two.fill(("1", "2")) == "/a/1/b/2"


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
        ({"timeout": 0}, "timeout"),
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

    async def one_call() -> None:
        async with client:
            await client.request("GET", "/sessions/ps_1")

    with aioresponses() as mocked:
        mocked.get("http://127.0.0.1:8765/api2/sessions/ps_1", payload={"id": "ps_1"})
        asyncio.run(one_call())
        (calls,) = mocked.requests.values()
    assert calls[0].kwargs["headers"]["X-Api-Key"] == API_KEY


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


# --- each body described once ------------------------------------------------------------------


def _resource_methods() -> dict[str, Any]:
    from bpcpay._async.resources.payments import AsyncPayments
    from bpcpay._async.resources.refunds import AsyncRefunds
    from bpcpay._async.resources.sessions import AsyncSessions

    return {
        "sessions.create": AsyncSessions.create,
        "payments.create": AsyncPayments.create,
        "payments.capture": AsyncPayments.capture,
        "refunds.create": AsyncRefunds.create,
    }


def test_each_body_has_one_declaration_that_its_method_takes_keyword_for_keyword() -> None:
    """A resource method's keywords are its body's declared fields, in the declared order (plus
    ``extra_body``, ``extra_headers`` and ``timeout``): a field added to a declaration and not
    to the method, or the other way round, fails here."""
    import inspect

    from bpcpay._core._bodies import BODIES

    methods = _resource_methods()
    assert set(BODIES) == set(methods)
    for name, body in BODIES.items():
        keywords = [
            p.name
            for p in inspect.signature(methods[name]).parameters.values()
            if p.kind is inspect.Parameter.KEYWORD_ONLY
            and p.name not in ("extra_body", "extra_headers", "timeout")
        ]
        assert keywords == [f.argument for f in body.fields], name
        assert ENDPOINTS[name].body == body.fields, name


def test_each_method_hands_every_keyword_to_its_declaration_as_itself() -> None:
    """``BODY.build(amount=amount, ...)``: every declared keyword, each passed as the argument
    of the same name (never ``locale=metadata``), and nothing else."""
    import ast
    import inspect
    import textwrap

    from bpcpay._core._bodies import BODIES

    for name, method in _resource_methods().items():
        tree = ast.parse(textwrap.dedent(inspect.getsource(method)))
        (call,) = [
            node
            for node in ast.walk(tree)
            if isinstance(node, ast.Call)
            and isinstance(node.func, ast.Attribute)
            and node.func.attr == "build"
        ]
        passed = [
            (k.arg, k.value.id if isinstance(k.value, ast.Name) else None) for k in call.keywords
        ]
        assert passed == [(f.argument, f.argument) for f in BODIES[name].fields], name
        assert not call.args, name


def test_no_resource_builds_a_body_by_hand() -> None:
    """No dict display with string keys, no ``compact``, no argument checker called in the
    resources: every body comes from its declaration."""
    import ast
    from pathlib import Path

    folder = Path(bpcpay.__file__).parent / "_async" / "resources"
    for path in sorted(folder.glob("*.py")):
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for node in ast.walk(tree):
            if isinstance(node, ast.Dict):
                keys = [k for k in node.keys if isinstance(k, ast.Constant)]
                assert not keys, f"{path.name}:{node.lineno} builds a body by hand"
            if isinstance(node, ast.Call) and isinstance(node.func, ast.Name):
                name = node.func.id
                assert not name.startswith("check_") and name not in ("compact", "optional"), (
                    f"{path.name}:{node.lineno} checks {name} by hand"
                )


def test_the_sandbox_has_no_field_list_of_its_own() -> None:
    """sandbox/_validate.py names no wire field of a declared body: it reads them all from the
    declarations (its server-side rules are keyed by the SDK's argument names)."""
    import ast
    from pathlib import Path

    from bpcpay._core._bodies import BODIES

    wire = {
        part
        for body in BODIES.values()
        for field in body.fields
        for part in field.wire.split(".")
        if part != part.lower()  # camelCase: what only the wire calls so
    }
    source = (Path(bpcpay.__file__).parent / "sandbox" / "_validate.py").read_text("utf-8")
    named = {
        node.value
        for node in ast.walk(ast.parse(source))
        if isinstance(node, ast.Constant) and isinstance(node.value, str)
    }
    assert wire
    assert not wire & named


def test_the_reference_tables_are_rendered_from_the_declarations() -> None:
    """docs/reference/bodies.md holds each body's parameter table exactly as its declaration
    renders it (``python scripts/gen_body_tables.py`` rewrites them)."""
    from pathlib import Path

    from bpcpay._core._bodies import BODIES

    page = (Path(bpcpay.__file__).parent.parent / "docs" / "reference" / "bodies.md").read_text(
        "utf-8"
    )
    for name, body in BODIES.items():
        assert body.table() in page, f"the table of {name} in docs/reference/bodies.md is stale"


def test_a_body_declaration_builds_checks_and_parses() -> None:
    from bpcpay._core._bodies import PAYMENT_CREATE, SESSION_CREATE

    args: dict[str, Any] = {f.argument: NOT_GIVEN for f in SESSION_CREATE.fields}
    args.update(
        amount=10,
        currency="eur",
        success_url="https://shop.example/s",
        failure_url="https://shop.example/f",
        capture_method="manual",
    )
    wire = SESSION_CREATE.build(**args)
    assert wire == {
        "amount": 10,
        "currency": "EUR",
        "successUrl": "https://shop.example/s",
        "failureUrl": "https://shop.example/f",
        "paymentData": {"captureMethod": "manual"},
    }
    parsed = SESSION_CREATE.parse({**wire, "newThing": 1})
    assert parsed == {
        "amount": 10,
        "currency": "EUR",
        "success_url": "https://shop.example/s",
        "failure_url": "https://shop.example/f",
        "capture_method": "manual",
    }
    assert SESSION_CREATE.unknown({**wire, "newThing": 1}) == {"newThing": 1}
    with pytest.raises(InvalidArgumentError) as info:
        SESSION_CREATE.parse({**wire, "paymentData": {"captureMethod": "later"}})
    assert info.value.argument == "paymentData.captureMethod"
    with pytest.raises(InvalidArgumentError) as info:
        SESSION_CREATE.build(**{**args, "locale": ""})
    assert info.value.argument == "locale"
    payment = {f.argument: NOT_GIVEN for f in PAYMENT_CREATE.fields}
    with pytest.raises(InvalidArgumentError, match="exactly one of card= or stored") as info:
        PAYMENT_CREATE.build(**{**payment, "amount": 1, "currency": "EUR"})
    assert info.value.argument == "card"
    with pytest.raises(InvalidArgumentError, match="exactly one of paymentMethod and") as info:
        PAYMENT_CREATE.parse({"amount": 1, "currency": "EUR"})
    assert info.value.argument == "paymentMethod"


# --- limits: every free-form field has one -----------------------------------------------------


def test_metadata_limits_are_stripes() -> None:
    """[inferred] BPC publishes no limit; Stripe's: 50 keys, keys of 40 characters, values of
    500, and (ours) 16 KiB of JSON in all. At the limits it passes; one past, it is refused
    naming ``metadata``."""
    at_limit = {f"k{i:02d}": "v" * 300 for i in range(50)}
    assert check_metadata("metadata", at_limit) == at_limit
    assert check_metadata("metadata", {"k" * 40: "v" * 500}) == {"k" * 40: "v" * 500}
    for bad, problem in (
        ({f"k{i}": "v" for i in range(51)}, "at most 50 keys"),
        ({"k" * 41: "v"}, "at most 40 characters"),
        ({"note": "v" * 501}, "at most 500 characters"),
        ({f"k{i:02d}": "v" * 400 for i in range(50)}, "at most 16384 bytes"),
    ):
        with pytest.raises(InvalidArgumentError, match=problem) as info:
            check_metadata("metadata", bad)
        assert info.value.argument == "metadata"


HUGE = "x" * 1_000_000
#: A value past any limit for each keyword that takes free-form data, as the SDK is given it
#: (None: a kind whose values are bounded by their type: numbers, codes, choices, datetimes).
OVERSIZED: dict[str, Any] = {
    "amount": None,
    "currency": None,
    "capture_method": None,
    "expires_at": None,
    "success_url": "https://shop.example/" + HUGE,
    "failure_url": "https://shop.example/" + HUGE,
    "merchant_reference_id": HUGE,
    "locale": HUGE,
    "metadata": {"note": HUGE},
    "customer_details": {"notes": HUGE},
    "merchant_customer_id": HUGE,
    "setup_future_usage": {
        "category": "installment",
        "recurringModel": {"installment": {"plan": HUGE}},
    },
    "card": {"number": VISA, "expiryMonth": 12, "expiryYear": 2030, "cvc": "123", "x": HUGE},
    "stored_payment_method_id": HUGE,
    "payment_id": HUGE,
    "reason": HUGE,
}


def test_every_free_form_field_has_a_limit() -> None:
    """Each declared field that takes free-form data refuses a megabyte of it before sending,
    naming its keyword; the sandbox parses with the same declaration (``Body.parse``) and
    refuses it naming the wire path."""
    from bpcpay._core._bodies import BODIES

    for body in BODIES.values():
        for field in body.fields:
            assert field.argument in OVERSIZED, f"{body.name}: no oversized value for {field}"
            value = OVERSIZED[field.argument]
            if value is None:
                continue
            with pytest.raises(InvalidArgumentError) as info:
                field.kind.to_wire(field.argument, value)
            assert info.value.argument.split(".")[0] == field.argument
            assert HUGE not in str(info.value)
            with pytest.raises(InvalidArgumentError) as info:
                field.kind.receive(field.wire, value)
            assert info.value.argument.startswith(field.wire)


def test_open_objects_are_bounded_in_bytes() -> None:
    """customerDetails, setupFutureUsage and the card keep unknown members (sent as given),
    within a size in bytes of JSON; the limits are in the reference tables."""
    details = {"notes": "x" * 8000}
    assert check_customer_details("c", details) == details
    with pytest.raises(InvalidArgumentError, match="at most 8192 bytes") as info:
        check_customer_details("c", {"notes": "x" * 8200})
    assert info.value.argument == "c"
    with pytest.raises(InvalidArgumentError, match="at most 4096 bytes"):
        check_setup_future_usage(
            "s", {"category": "installment", "recurringModel": {"installment": {"p": "x" * 4096}}}
        )
    with pytest.raises(InvalidArgumentError, match="at most 35 characters"):
        check_string("locale", "x" * 36, max_length=35)


# --- card tokens (BPC's mobile SDK) --------------------------------------------------------------

TOKEN = "eyJhbGciOiJSU0EtT0FFUCJ9.c2VjcmV0LWNhcmQtZGF0YQ"


def test_a_card_token_is_sent_as_paymentmethod_card_token_only() -> None:
    """[doc: sdk_core_apiv2] The server passes the device's token "in ``paymentMethod -> card
    -> token``": a CardToken or a mapping with ``token`` is the card object ``{"token": ...}``,
    nothing else added."""
    from bpcpay.models import CardToken

    assert check_card("card", CardToken(token=TOKEN)) == {"token": TOKEN}
    assert check_card("card", {"token": TOKEN}) == {"token": TOKEN}
    assert TOKEN not in repr(CardToken(token=TOKEN))
    assert TOKEN not in str(CardToken(token=TOKEN))


@pytest.mark.parametrize("member", ["number", "expiryMonth", "expiryYear", "cvc"])
def test_a_token_with_card_data_is_refused_before_sending(member: str) -> None:
    """[doc: sdk_core_apiv2] "Don't specify ``cvc``, ``expiryMonth``, ``expiryYear``, and
    ``number`` parameters in this case": each is refused alongside a token, named."""
    values = {"number": VISA, "expiryMonth": 12, "expiryYear": 2030, "cvc": "123"}
    with pytest.raises(InvalidArgumentError, match="token") as info:
        check_card("card", {"token": TOKEN, member: values[member]})
    assert info.value.argument == f"card.{member}"
    assert TOKEN not in str(info.value)
    assert VISA not in str(info.value)


@pytest.mark.parametrize("token", ["", "   ", 5, None, "x" * 8193, "tok with space", "tök"])
def test_a_malformed_token_is_refused_and_never_echoed(token: object) -> None:
    from bpcpay.models import CardToken

    for value in ({"token": token}, CardToken(token=token)):  # type: ignore[arg-type]
        with pytest.raises(InvalidArgumentError) as info:
            check_card("card", value)
        assert info.value.argument == "card.token"
        if isinstance(token, str) and token.strip():
            assert token not in str(info.value)


# --- the checks' fast paths agree with the general checks ---------------------------------------


class _Text(str):
    """A str subclass: never on a fast path (its methods could say anything)."""


#: Values each check's fast path could be fooled by: edges of length, white space (ASCII and
#: not), non-ASCII letters and digits, lone surrogates, bool for int, subclasses, None.
_HOSTILE: list[object] = [
    "", " ", "\t\n", "\x1c", "\u00a0", "\u3000", "a", " a ", "4000", "EUR", "eur", "EU", "EURO",
    "EÜR", "ЕUR", "E1R", "E R", "\ud800", "ab\ud800", "x" * 1024, "x" * 1025, "ﬀ", "ǅ",
    "https://shop.example/success", "https://shop.example/ok ", "ftp://shop.example/",
    "https://\ud800.example/", "https:///nohost", _Text("EUR"), _Text("4000"),
    0, 1, -1, True, False, MAX_AMOUNT, MAX_AMOUNT + 1, 10000, 1.0, None, b"EUR",
]  # fmt: skip


def _outcome(check: Any, value: object) -> object:
    try:
        return ("ok", check("x", value))
    except InvalidArgumentError as err:
        return ("refused", err.argument, str(err))


@pytest.mark.parametrize("value", _HOSTILE, ids=repr)
def test_the_fast_paths_accept_and_refuse_exactly_what_the_general_checks_do(value: object) -> None:
    from bpcpay._core._checks import check_int, check_text

    def general_string(argument: str, value: object) -> str:
        return check_text(argument, value, max_length=1024, empty=False)

    def general_amount(argument: str, value: object) -> int:
        return check_int(
            argument, value, minimum=1, maximum=MAX_AMOUNT,
            what="an int in minor units (10000 is 100.00)",
        )  # fmt: skip

    def general_currency(argument: str, value: object) -> str:
        if not isinstance(value, str) or len(value) != 3 or not value.isascii():
            return check_currency(argument, _Text(value) if isinstance(value, str) else value)
        return check_currency(argument, _Text(value))  # the subclass takes the pattern's path

    assert _outcome(check_string, value) == _outcome(general_string, value)
    assert _outcome(check_amount, value) == _outcome(general_amount, value)
    assert _outcome(check_currency, value) == _outcome(general_currency, value)
    as_subclass = _Text(value) if isinstance(value, str) else value
    assert _outcome(check_url, value) == _outcome(check_url, as_subclass)


@pytest.mark.parametrize(
    ("value", "path"),
    [
        ("ps_7Ue2yqbQ3UDZ9Wd4bwsJ8ZLi", "/sessions/ps_7Ue2yqbQ3UDZ9Wd4bwsJ8ZLi"),
        ("1abc", "/sessions/1abc"),
        ("ps-1", "/sessions/ps-1"),  # not an identifier: the pattern's path
        ("pé_1", "/sessions/p%C3%A9_1"),  # an identifier, not ASCII: quoted
        ("ǅx", "/sessions/%C7%85x"),
        ("a/b", "/sessions/a%2Fb"),
        (_Text("ps_1"), "/sessions/ps_1"),
    ],
)
def test_an_id_is_sent_plain_only_when_it_is_ascii_letters_digits_and_dashes(
    value: str, path: str
) -> None:
    assert SESSIONS_RETRIEVE.fill((value,)) == path
