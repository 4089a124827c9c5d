"""bpcpay.webhooks: sign, verify (with rotation), construct_event, and every failure mode."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
from datetime import datetime, timezone
from typing import Any

import pytest
from _support import (
    API_KEY,
    PAYMENT_JSON,
    PAYMENT_METHOD_JSON,
    REFUND_JSON,
    REQUEST_ID,
    WEBHOOK_EXAMPLE,
    WEBHOOK_SECRET,
)
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import bpcpay
from bpcpay import AsyncBpcPay, InvalidArgumentError, SignatureVerificationError, webhooks
from bpcpay.models import Event, Payment, PaymentMethod, Refund, Session

OLD_SECRET = "whsec_old_not_real"
BODY = json.dumps(WEBHOOK_EXAMPLE).encode()


def headers_for(body: bytes, secret: str = WEBHOOK_SECRET, **extra: str) -> dict[str, str]:
    return {
        "Content-Type": "application/json",
        "X-Version": "2023-11-15",
        "X-Signature": webhooks.sign(body, secret),
        "API-Request-Id": REQUEST_ID,
        **extra,
    }


def reason_of(payload: Any, headers: dict[str, str], secret: Any = WEBHOOK_SECRET) -> str:
    with pytest.raises(SignatureVerificationError) as info:
        webhooks.construct_event(payload, headers, secret=secret)
    assert isinstance(info.value, ValueError)
    assert WEBHOOK_SECRET not in str(info.value)
    assert WEBHOOK_SECRET not in repr(info.value)
    return info.value.reason


# --- sign / verify -----------------------------------------------------------------------------


def test_sign_is_lower_hex_hmac_sha256_of_the_raw_bytes() -> None:
    expected = hmac.new(WEBHOOK_SECRET.encode(), BODY, hashlib.sha256).hexdigest()
    signature = webhooks.sign(BODY, WEBHOOK_SECRET)
    assert signature == expected
    assert len(signature) == 64
    assert signature == signature.lower()
    int(signature, 16)
    assert webhooks.sign(BODY, WEBHOOK_SECRET.encode()) == expected
    assert webhooks.sign(BODY.decode(), WEBHOOK_SECRET) == expected


def test_sign_refuses_a_secret_of_the_wrong_type() -> None:
    with pytest.raises(InvalidArgumentError, match="secret: must be str or bytes") as info:
        webhooks.sign(BODY, 12345)  # type: ignore[arg-type]
    assert info.value.argument == "secret"


@pytest.mark.parametrize("secret", ["", " ", "\t\n ", b"", b"  ", b"\r\n"])
def test_sign_and_verify_refuse_empty_or_whitespace_secrets(secret: str | bytes) -> None:
    with pytest.raises(InvalidArgumentError, match="secret: is empty or only whitespace"):
        webhooks.sign(BODY, secret)
    with pytest.raises(InvalidArgumentError, match="secret"):
        webhooks.verify_signature(BODY, signature="a" * 64, secret=secret)
    with pytest.raises(InvalidArgumentError, match="secret"):
        webhooks.verify_signature(BODY, signature="a" * 64, secret=[WEBHOOK_SECRET, secret])


def test_an_unencodable_secret_is_refused_without_echoing_it() -> None:
    secret = "whsec_\udcff_lone_surrogate"
    for call in (
        lambda: webhooks.sign(BODY, secret),
        lambda: webhooks.verify_signature(BODY, signature="a" * 64, secret=secret),
    ):
        with pytest.raises(InvalidArgumentError, match="cannot be encoded as UTF-8") as info:
            call()
        assert "lone_surrogate" not in str(info.value)
        assert info.value.__cause__ is None


@pytest.mark.parametrize("value", [b"abc", 123, ["a" * 64], object()])
def test_a_signature_header_that_is_not_a_str_is_a_verification_error(value: Any) -> None:
    with pytest.raises(SignatureVerificationError) as info:
        webhooks.verify_signature(BODY, signature=value, secret=WEBHOOK_SECRET)
    assert info.value.reason == "bad_format"
    headers: dict[str, Any] = {**headers_for(BODY), "X-Signature": value}
    assert reason_of(BODY, headers) == "bad_format"


def test_a_request_id_header_that_is_not_a_str_is_a_verification_error() -> None:
    headers: dict[str, Any] = {**headers_for(BODY), "API-Request-Id": b"req_1"}
    assert reason_of(BODY, headers) == "bad_format"


# --- every spelling of the contract's Signature section ----------------------------------------

MAC = hmac.new(WEBHOOK_SECRET.encode(), BODY, hashlib.sha256).digest()
B64 = base64.b64encode(MAC).decode()
B64URL = base64.urlsafe_b64encode(MAC).decode()


@pytest.mark.parametrize(
    "spelling",
    [
        MAC.hex(),
        MAC.hex().upper(),
        "sha256=" + MAC.hex(),
        "SHA256=" + MAC.hex().upper(),
        "Sha256=" + B64,
        B64,
        B64.rstrip("="),
        B64URL,
        B64URL.rstrip("="),
        "sha256=" + B64URL.rstrip("="),
        f"  {MAC.hex()}  ",
        f"{'0' * 64}, {B64}",
        f"sha1={hashlib.sha1(BODY).hexdigest()},sha256={MAC.hex()}",
        ",".join(["f" * 64] * 7 + [MAC.hex()]),
    ],
)
def test_every_published_spelling_of_the_mac_verifies(spelling: str) -> None:
    assert webhooks.verify_signature(BODY, signature=spelling, secret=WEBHOOK_SECRET) is None
    event = webhooks.construct_event(
        BODY, headers_for(BODY, **{"X-Signature": spelling}), secret=WEBHOOK_SECRET
    )
    assert event.type == "session.expired"


@pytest.mark.parametrize(
    "spelling",
    [
        MAC.hex()[:-2],  # a truncated MAC
        base64.b64encode(MAC[:31]).decode(),
        base64.b64encode(MAC + b"\0").decode(),
        "sha1=" + MAC.hex(),
        "v1=" + MAC.hex(),
        "sha512=" + B64,
        B64[:20] + "-_" + B64[22:],  # both alphabets at once
        B64 + "==",  # too much padding
        ",".join(["f" * 64] * 8 + [MAC.hex()]),  # more than 8 candidates
        MAC.hex() + "," + " " * 1024,  # more than 1 KiB
        "١" * 64,
    ],
)
def test_spellings_outside_the_contract_are_refused(spelling: str) -> None:
    with pytest.raises(SignatureVerificationError) as info:
        webhooks.verify_signature(BODY, signature=spelling, secret=WEBHOOK_SECRET)
    assert info.value.reason in {"bad_format", "mismatch"}


def test_every_candidate_is_compared_with_every_secret() -> None:
    old = hmac.new(OLD_SECRET.encode(), BODY, hashlib.sha256).digest()
    header = f"sha256={base64.b64encode(old).decode()},{'a' * 64}"
    webhooks.verify_signature(BODY, signature=header, secret=[WEBHOOK_SECRET, OLD_SECRET])
    with pytest.raises(SignatureVerificationError) as info:
        webhooks.verify_signature(BODY, signature=header, secret=WEBHOOK_SECRET)
    assert info.value.reason == "mismatch"


# --- max_age: the signed created is the only signed time -----------------------------------------

CREATED = datetime(2022, 2, 17, 16, 30, 55, tzinfo=timezone.utc).timestamp()


def test_max_age_refuses_an_event_older_than_it() -> None:
    fresh = webhooks.construct_event(
        BODY, headers_for(BODY), secret=WEBHOOK_SECRET, max_age=60, now=CREATED + 59
    )
    assert fresh.type == "session.expired"
    with pytest.raises(SignatureVerificationError) as info:
        webhooks.construct_event(
            BODY, headers_for(BODY), secret=WEBHOOK_SECRET, max_age=60, now=CREATED + 61
        )
    assert info.value.reason == "too_old"
    assert "max_age=60" in str(info.value)
    # Off by default: the same old event parses.
    assert webhooks.construct_event(BODY, headers_for(BODY), secret=WEBHOOK_SECRET).created


def test_max_age_refuses_an_event_without_created() -> None:
    body = json.dumps({"type": "x.y", "data": {"object": {}}}).encode()
    with pytest.raises(SignatureVerificationError) as info:
        webhooks.construct_event(body, headers_for(body), secret=WEBHOOK_SECRET, max_age=60)
    assert info.value.reason == "too_old"


@pytest.mark.parametrize("max_age", [0, -1, True, "60", float("nan")])
def test_max_age_must_be_positive_seconds(max_age: Any) -> None:
    with pytest.raises(InvalidArgumentError, match="max_age"):
        webhooks.construct_event(BODY, headers_for(BODY), secret=WEBHOOK_SECRET, max_age=max_age)


def test_verify_signature_accepts_upper_and_lower_hex_and_whitespace() -> None:
    signature = webhooks.sign(BODY, WEBHOOK_SECRET)
    for variant in (signature, signature.upper(), f"  {signature}\t"):
        assert webhooks.verify_signature(BODY, signature=variant, secret=WEBHOOK_SECRET) is None


@pytest.mark.parametrize(
    "secrets",
    [
        [OLD_SECRET, WEBHOOK_SECRET],
        [WEBHOOK_SECRET, OLD_SECRET],
        (OLD_SECRET.encode(), WEBHOOK_SECRET.encode()),
    ],
)
def test_verify_signature_with_rotation(secrets: Any) -> None:
    for signer in (WEBHOOK_SECRET, OLD_SECRET):
        signature = webhooks.sign(BODY, signer)
        webhooks.verify_signature(BODY, signature=signature, secret=secrets)
    with pytest.raises(SignatureVerificationError) as info:
        webhooks.verify_signature(
            BODY, signature=webhooks.sign(BODY, "whsec_other"), secret=secrets
        )
    assert info.value.reason == "mismatch"


@pytest.mark.parametrize("secret", ["", b"", [], [WEBHOOK_SECRET, ""], None])
def test_empty_secrets_are_a_configuration_error(secret: Any) -> None:
    with pytest.raises(InvalidArgumentError, match="secret") as info:
        webhooks.verify_signature(BODY, signature="a" * 64, secret=secret)
    assert not isinstance(info.value, SignatureVerificationError)


def test_bytearray_and_memoryview_payloads_verify_and_parse() -> None:
    for payload in (bytearray(BODY), memoryview(BODY)):
        event = webhooks.construct_event(payload, headers_for(BODY), secret=WEBHOOK_SECRET)  # type: ignore[arg-type]
        assert event.type == "session.expired"


# --- construct_event ---------------------------------------------------------------------------


def test_construct_event_parses_the_contract_example() -> None:
    event = webhooks.construct_event(BODY, headers_for(BODY), secret=WEBHOOK_SECRET)
    assert isinstance(event, Event)
    assert event.type == "session.expired"
    assert event.created == datetime(2022, 2, 17, 16, 30, 55, tzinfo=timezone.utc)
    assert event.request_id == REQUEST_ID
    assert event.raw == WEBHOOK_EXAMPLE
    assert isinstance(event.data.object, Session)
    assert event.data.object.status == "expired"
    assert event.data.object.locale == "en"


@pytest.mark.parametrize(
    ("event_type", "obj", "cls"),
    [
        ("session.completed", WEBHOOK_EXAMPLE["data"]["object"], Session),
        ("payment.created", PAYMENT_JSON, Payment),
        ("payment.succeeded", PAYMENT_JSON, Payment),
        ("payment.funded", PAYMENT_JSON, Payment),
        ("refund.succeeded", REFUND_JSON, Refund),
        ("paymentMethod.created", PAYMENT_METHOD_JSON, PaymentMethod),
    ],
)
def test_data_object_is_typed_by_event_type(
    event_type: str, obj: dict[str, Any], cls: type[Any]
) -> None:
    body = json.dumps(
        {"created": "2024-03-28T08:26:37Z", "type": event_type, "data": {"object": obj}}
    )
    event = webhooks.construct_event(
        body.encode(), headers_for(body.encode()), secret=WEBHOOK_SECRET
    )
    assert type(event.data.object) is cls
    assert event.data.object.raw == obj
    assert event.data.object.id == obj["id"]


def test_unknown_event_types_parse_into_a_generic_mapping() -> None:
    obj = {"id": "dsp_1", "amount": 5.5, "anything": [1, {"x": None}]}
    body = json.dumps(
        {"created": "2024-03-28T08:26:37Z", "type": "dispute.opened", "data": {"object": obj}}
    ).encode()
    event = webhooks.construct_event(body, headers_for(body), secret=WEBHOOK_SECRET)
    assert event.type == "dispute.opened"
    assert event.data.object == obj
    assert event["type"] == "dispute.opened"


def test_headers_are_matched_case_insensitively() -> None:
    lowered = {k.lower(): v for k, v in headers_for(BODY).items()}
    event = webhooks.construct_event(BODY, lowered, secret=WEBHOOK_SECRET)
    assert event.request_id == REQUEST_ID
    shouty = {k.upper(): v for k, v in headers_for(BODY).items()}
    assert webhooks.construct_event(BODY, shouty, secret=WEBHOOK_SECRET).request_id == REQUEST_ID


def test_works_with_aiohttp_multidict_headers() -> None:
    from multidict import CIMultiDict

    event = webhooks.construct_event(BODY, CIMultiDict(headers_for(BODY)), secret=WEBHOOK_SECRET)
    assert event.request_id == REQUEST_ID


def test_request_id_is_none_without_the_header() -> None:
    headers = {"X-Signature": webhooks.sign(BODY, WEBHOOK_SECRET)}
    assert webhooks.construct_event(BODY, headers, secret=WEBHOOK_SECRET).request_id is None


def test_upper_case_signature_verifies_in_construct_event() -> None:
    headers = headers_for(BODY)
    headers["X-Signature"] = headers["X-Signature"].upper()
    assert webhooks.construct_event(BODY, headers, secret=WEBHOOK_SECRET).type == "session.expired"


def test_rotation_in_construct_event() -> None:
    event = webhooks.construct_event(
        BODY, headers_for(BODY, OLD_SECRET), secret=[WEBHOOK_SECRET, OLD_SECRET]
    )
    assert event.type == "session.expired"


# --- every failure is a SignatureVerificationError with a reason -------------------------------


def test_missing_header() -> None:
    headers = headers_for(BODY)
    del headers["X-Signature"]
    assert reason_of(BODY, headers) == "missing_header"


@pytest.mark.parametrize("value", ["", "   "])
def test_empty_header(value: str) -> None:
    assert reason_of(BODY, headers_for(BODY, **{"X-Signature": value})) == "missing_header"


@pytest.mark.parametrize(
    "value",
    [
        "z" * 64,
        webhooks.sign(BODY, WEBHOOK_SECRET)[:-1] + "g",
        "md5=" + webhooks.sign(BODY, WEBHOOK_SECRET),
        webhooks.sign(BODY, WEBHOOK_SECRET)[:63],
        webhooks.sign(BODY, WEBHOOK_SECRET) + "0",
        hashlib.sha1(BODY).hexdigest(),
        "١" * 64,  # non-ASCII digits
    ],
)
def test_bad_format(value: str) -> None:
    assert reason_of(BODY, headers_for(BODY, **{"X-Signature": value})) == "bad_format"


def test_wrong_secret() -> None:
    assert reason_of(BODY, headers_for(BODY, "whsec_attacker")) == "mismatch"


def test_tampered_body() -> None:
    tampered = BODY.replace(b"90000", b"90001")
    assert tampered != BODY
    assert reason_of(tampered, headers_for(BODY)) == "mismatch"


def test_reserialised_json_does_not_verify() -> None:
    reserialised = json.dumps(json.loads(BODY), indent=2).encode()
    assert reason_of(reserialised, headers_for(BODY)) == "mismatch"


@pytest.mark.parametrize("body", [b"not json", b"\xff\xfe\xfa", b"", b"[" * 50_000])
def test_signed_but_not_json(body: bytes) -> None:
    assert reason_of(body, headers_for(body)) == "not_json"


@pytest.mark.parametrize(
    "data",
    [
        [],
        "session.expired",
        {"type": "session.expired"},
        {"type": "session.expired", "data": {"object": "ps_1"}},
        {"type": "", "data": {"object": {}}},
        {"type": "session.expired", "data": {"object": {"id": "ps_1"}}},
        {"type": "payment.succeeded", "data": {"object": {**PAYMENT_JSON, "amount": 25.0}}},
        {"type": "x.y", "created": "not a date", "data": {"object": {}}},
    ],
)
def test_signed_json_that_is_not_an_event(data: Any) -> None:
    body = json.dumps(data).encode()
    assert reason_of(body, headers_for(body)) == "not_an_event"


def test_oversize_body_is_refused_before_hashing(monkeypatch: pytest.MonkeyPatch) -> None:
    body = b"{" + b" " * 2048 + b"}"
    headers = headers_for(body)

    def no_hashing(*args: Any, **kwargs: Any) -> Any:
        raise AssertionError("hashed an oversize body")

    monkeypatch.setattr(hmac, "new", no_hashing)
    with pytest.raises(SignatureVerificationError) as info:
        webhooks.construct_event(body, headers, secret=WEBHOOK_SECRET, max_bytes=1024)
    assert info.value.reason == "too_large"


def test_default_size_cap_is_one_mebibyte() -> None:
    body = b" " * (1024 * 1024 + 1)
    assert reason_of(body, headers_for(body)) == "too_large"


def test_payload_of_the_wrong_type() -> None:
    assert reason_of(12345, headers_for(BODY)) == "bad_payload"


# --- the client exposes the same functions -----------------------------------------------------


@pytest.mark.asyncio
async def test_client_webhooks_behave_exactly_like_the_module() -> None:
    async with AsyncBpcPay(api_key=API_KEY) as client:
        hooks = client.webhooks
        assert hooks.sign(BODY, WEBHOOK_SECRET) == webhooks.sign(BODY, WEBHOOK_SECRET)
        event = hooks.construct_event(BODY, headers_for(BODY), secret=WEBHOOK_SECRET)
        assert event == webhooks.construct_event(BODY, headers_for(BODY), secret=WEBHOOK_SECRET)
        assert event.request_id == REQUEST_ID
        hooks.verify_signature(
            BODY, signature=webhooks.sign(BODY, WEBHOOK_SECRET), secret=WEBHOOK_SECRET
        )
        with pytest.raises(SignatureVerificationError) as info:
            hooks.construct_event(BODY, headers_for(BODY, "whsec_wrong"), secret=WEBHOOK_SECRET)
        assert info.value.reason == "mismatch"
        with pytest.raises(SignatureVerificationError) as info:
            hooks.verify_signature(BODY, signature=None, secret=WEBHOOK_SECRET)
        assert info.value.reason == "missing_header"
        assert repr(hooks) == "<bpcpay Webhooks>"
        assert isinstance(hooks, webhooks.Webhooks)
    assert bpcpay.webhooks is webhooks
    assert webhooks.SIGNATURE_HEADER == "X-Signature"


# --- property: nothing but an Event or a SignatureVerificationError ----------------------------

header_names = st.sampled_from(
    ["X-Signature", "x-signature", "API-Request-Id", "Content-Type", "X-Version", "Other"]
)
header_maps = st.dictionaries(header_names, st.text(max_size=80), max_size=6)
json_bodies = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=10),
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4)
    ),
    max_leaves=12,
)
objects = st.one_of(
    st.dictionaries(st.text(max_size=8), json_bodies, max_size=4),
    st.sampled_from(
        [PAYMENT_JSON, REFUND_JSON, PAYMENT_METHOD_JSON, WEBHOOK_EXAMPLE["data"]["object"]]
    ),
)
event_like = st.fixed_dictionaries(
    {
        "type": st.sampled_from(
            ["session.completed", "payment.succeeded", "refund.created", "x.y", "", 3]
        ),
        "data": st.one_of(st.fixed_dictionaries({"object": objects}), json_bodies),
    },
    optional={
        "created": st.one_of(
            st.just("2024-03-28T08:26:37Z"), st.none(), st.text(max_size=30), st.integers()
        )
    },
)
payloads = st.one_of(
    st.binary(max_size=300),
    json_bodies.map(lambda v: json.dumps(v).encode()),
    event_like.map(lambda v: json.dumps(v).encode()),
)


@settings(
    max_examples=300, deadline=None, database=None, suppress_health_check=[HealthCheck.too_slow]
)
@given(payload=payloads, headers=header_maps, signed=st.booleans(), upper=st.booleans())
def test_construct_event_only_returns_events_or_raises_signature_errors(
    payload: bytes, headers: dict[str, str], signed: bool, upper: bool
) -> None:
    headers = dict(headers)
    if signed:
        signature = webhooks.sign(payload, WEBHOOK_SECRET)
        headers["X-Signature"] = signature.upper() if upper else signature
        headers.pop("x-signature", None)
    outcome: Event | SignatureVerificationError
    try:
        outcome = webhooks.construct_event(payload, headers, secret=WEBHOOK_SECRET)
    except SignatureVerificationError as exc:
        outcome = exc
    if isinstance(outcome, SignatureVerificationError):
        assert outcome.reason in {
            "missing_header",
            "bad_format",
            "mismatch",
            "not_json",
            "not_an_event",
        }
    else:
        assert signed
        assert isinstance(outcome, Event)
        assert isinstance(outcome.type, str)
        assert outcome.type
