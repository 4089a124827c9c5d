"""Error decoding: pure functions first, then the whole path through AsyncBpcPay."""

from __future__ import annotations

import json
import pickle
import re
from typing import Any

import pytest
from _support import API_KEY, REQUEST_ID, SESSION_EXAMPLE, sent_count, url
from aioresponses import aioresponses

import bpcpay
from bpcpay import AsyncBpcPay
from bpcpay._core._responses import (
    decode_json,
    decode_response,
    error_class_for_status,
    header,
    make_status_error,
    parse_error_body,
    scrub_error,
    scrub_text,
)
from bpcpay.models import Session

SANDBOX_ERROR = {
    "error": {
        "type": "invalid_request_error",
        "code": "amount_invalid",
        "message": "amount must be positive",
        "param": "amount",
    }
}


@pytest.mark.parametrize(
    ("status", "cls"),
    [
        (400, bpcpay.InvalidRequestError),
        (401, bpcpay.AuthenticationError),
        (403, bpcpay.PermissionDeniedError),
        (404, bpcpay.NotFoundError),
        (409, bpcpay.ConflictError),
        (412, bpcpay.InvalidRequestError),
        (422, bpcpay.InvalidRequestError),
        (429, bpcpay.RateLimitError),
        (418, bpcpay.InvalidRequestError),
        (500, bpcpay.InternalServerError),
        (503, bpcpay.InternalServerError),
        (599, bpcpay.InternalServerError),
        (302, bpcpay.APIStatusError),
    ],
)
def test_error_class_for_status(status: int, cls: type[Exception]) -> None:
    assert error_class_for_status(status) is cls


def test_header_lookup_is_case_insensitive_on_plain_dicts() -> None:
    headers = {"api-request-id": "req_1", "Content-Type": "text/html"}
    assert header(headers, "API-Request-Id") == "req_1"
    assert header(headers, "content-type") == "text/html"
    assert header(headers, "Retry-After") is None


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        (
            SANDBOX_ERROR,
            ("amount must be positive", "amount_invalid", "invalid_request_error", "amount"),
        ),
        ({"error": "bad key"}, ("bad key", None, None, None)),
        (
            {"message": "nope", "code": 71015, "type": "t", "param": "p"},
            ("nope", "71015", "t", "p"),
        ),
        (
            {
                "errors": [
                    {"message": "a", "code": "c1", "field": "currency"},
                    {"message": "b"},
                    "c",
                ]
            },
            ("a; b; c", "c1", None, "currency"),
        ),
        ({"errors": ["only text"]}, ("only text", None, None, None)),
        ({"errors": [{"code": "x"}]}, (None, "x", None, None)),
        ({"errors": []}, (None, None, None, None)),
        ({"message": {"nested": True}}, (None, None, None, None)),
        ([1, 2], (None, None, None, None)),
        ("just a string", (None, None, None, None)),
    ],
)
def test_parse_error_body_shapes(body: Any, expected: tuple[Any, ...]) -> None:
    details = parse_error_body(json.dumps(body).encode())
    assert (details.message, details.code, details.error_type, details.param) == expected


@pytest.mark.parametrize(
    "body", [b"", b"<html>502</html>", b"{not json", b"\xff\xfe\x00", b"[" * 100_000]
)
def test_parse_error_body_never_raises(body: bytes) -> None:
    details = parse_error_body(body)
    assert details.message is None
    assert details.code is None


def make(status: int, body: bytes, headers: dict[str, str] | None = None) -> Any:
    return make_status_error(
        status=status,
        headers={"API-Request-Id": REQUEST_ID, **(headers or {})},
        body=body,
        method="POST",
        path="/sessions",
        merchant_reference_id="order-1",
    )


def test_make_status_error_with_a_structured_body() -> None:
    err = make(400, json.dumps(SANDBOX_ERROR).encode())
    assert isinstance(err, bpcpay.InvalidRequestError)
    assert err.message == "[amount_invalid] amount must be positive (param: amount)"
    assert (err.code, err.error_type, err.param) == (
        "amount_invalid",
        "invalid_request_error",
        "amount",
    )
    assert err.merchant_reference_id == "order-1"
    assert str(err) == (
        "[amount_invalid] amount must be positive (param: amount) "
        f"(status 400, POST /sessions, request_id={REQUEST_ID})"
    )


@pytest.mark.parametrize(
    ("body", "content_type", "described"),
    [
        (b"", "application/json", "HTTP 502 with empty body"),
        (b"<!DOCTYPE html><p>Bad gateway</p>", "text/html", "an HTML page (text/html)"),
        (b"<html><p>Bad gateway</p></html>", "text/plain", "an HTML page (text/plain)"),
        (
            b"upstream timed out",
            "text/plain",
            "not a JSON error (text/plain): 'upstream timed out'",
        ),
        (b"x" * 300, "text/plain", "'..."),
    ],
)
def test_make_status_error_describes_unreadable_bodies(
    body: bytes, content_type: str, described: str
) -> None:
    err = make(502, body, {"Content-Type": content_type})
    assert isinstance(err, bpcpay.InternalServerError)
    assert described in str(err)
    assert err.body == body
    assert err.code is None


def test_make_status_error_without_content_type() -> None:
    err = make_status_error(
        status=500, headers={}, body=b"oops", method="GET", path="/sessions/ps_1"
    )
    assert "no content type" in str(err)
    assert err.request_id is None
    assert "request_id" not in str(err)


def test_decode_json_and_decode_response() -> None:
    assert decode_json(status=200, headers={}, body=b'{"a": 1}', method="GET", path="/x") == {
        "a": 1
    }
    raw = decode_response(
        status=201, headers={}, body=b"[1]", cast_to=None, method="GET", path="/x"
    )
    assert raw == [1]


@pytest.mark.parametrize(
    "body", [b"", b"{", b"<html></html>", b"\xff\xfe", b"[" * 100_000 + b"]" * 100_000]
)
def test_2xx_that_is_not_json_is_a_validation_error(body: bytes) -> None:
    with pytest.raises(bpcpay.APIResponseValidationError) as info:
        decode_response(
            status=200,
            headers={"API-Request-Id": REQUEST_ID},
            body=body,
            cast_to=Session,
            method="GET",
            path="/sessions/ps_1",
        )
    err = info.value
    assert err.body == body
    assert err.status_code == 200
    assert err.request_id == REQUEST_ID
    assert REQUEST_ID in str(err)


def test_2xx_json_that_is_not_an_object_is_a_validation_error() -> None:
    with pytest.raises(bpcpay.APIResponseValidationError, match="not a valid Session"):
        decode_response(
            status=200, headers={}, body=b"[]", cast_to=Session, method="GET", path="/x"
        )


# --- through the client, at the HTTP boundary --------------------------------------------------

STATUS_CASES: list[tuple[int, type[bpcpay.APIStatusError]]] = [
    (400, bpcpay.InvalidRequestError),
    (401, bpcpay.AuthenticationError),
    (403, bpcpay.PermissionDeniedError),
    (404, bpcpay.NotFoundError),
    (409, bpcpay.ConflictError),
    (412, bpcpay.InvalidRequestError),
    (422, bpcpay.InvalidRequestError),
    (429, bpcpay.RateLimitError),
    (500, bpcpay.InternalServerError),
    (503, bpcpay.InternalServerError),
]


def assert_no_key(err: BaseException) -> None:
    assert API_KEY not in str(err)
    assert API_KEY not in repr(err)
    assert all(API_KEY not in repr(arg) for arg in err.args)
    assert API_KEY not in repr(vars(err))
    assert API_KEY not in repr(pickle.loads(pickle.dumps(err)).__dict__)


@pytest.mark.asyncio
@pytest.mark.parametrize(("status", "cls"), STATUS_CASES)
async def test_status_errors_through_the_client(
    client: AsyncBpcPay, mocked: aioresponses, status: int, cls: type[bpcpay.APIStatusError]
) -> None:
    # A POST: never retried on a status, so exactly one request per case.
    body = json.dumps(
        {"error": {"type": "t", "code": f"c{status}", "message": f"refused {status}"}}
    ).encode()
    mocked.post(
        url("/sessions"),
        status=status,
        body=body,
        headers={"API-Request-Id": REQUEST_ID, "Retry-After": "1"},
    )
    with pytest.raises(cls) as info:
        await client.sessions.create(
            amount=100,
            currency="EUR",
            success_url="https://shop.example/s",
            failure_url="https://shop.example/f",
            merchant_reference_id="order-9",
        )
    err = info.value
    assert type(err) is cls
    assert err.status_code == status
    assert err.request_id == REQUEST_ID
    assert REQUEST_ID in str(err)
    assert f"status {status}" in str(err)
    assert f"[c{status}] refused {status}" in str(err)
    assert err.body == body
    assert err.headers["api-request-id"] == REQUEST_ID
    assert err.method == "POST"
    assert err.path == "/sessions"
    assert err.merchant_reference_id == "order-9"
    assert_no_key(err)
    assert sent_count(mocked) == 1


@pytest.mark.asyncio
@pytest.mark.parametrize(
    ("body", "content_type", "described"),
    [
        (b"", "application/json", "empty body"),
        (b"<!doctype html><title>502 Bad Gateway</title>", "text/html", "an HTML page"),
        (b'{"error": {"message": ', "application/json", "not a JSON error"),
    ],
)
async def test_unreadable_error_bodies_through_the_client(
    client: AsyncBpcPay, mocked: aioresponses, body: bytes, content_type: str, described: str
) -> None:
    mocked.get(
        url("/sessions/ps_1"),
        status=404,
        body=body,
        content_type=content_type,
        headers={"API-Request-Id": REQUEST_ID},
    )
    with pytest.raises(bpcpay.NotFoundError) as info:
        await client.sessions.retrieve("ps_1")
    err = info.value
    assert err.status_code == 404
    assert err.body == body
    assert described in str(err)
    assert REQUEST_ID in str(err)
    assert_no_key(err)


@pytest.mark.asyncio
@pytest.mark.parametrize("body", [b"", b"{", b"<html>maintenance</html>", b'"a string"'])
async def test_2xx_with_a_bad_body_through_the_client(
    client: AsyncBpcPay, mocked: aioresponses, body: bytes
) -> None:
    mocked.get(url("/sessions/ps_1"), status=200, body=body, headers={"API-Request-Id": REQUEST_ID})
    with pytest.raises(bpcpay.APIResponseValidationError) as info:
        await client.sessions.retrieve("ps_1")
    assert info.value.body == body
    assert info.value.request_id == REQUEST_ID
    assert_no_key(info.value)
    # Not retried: a 2xx means the gateway answered.
    assert sent_count(mocked) == 1


@pytest.mark.asyncio
async def test_a_good_answer_through_the_client(client: AsyncBpcPay, mocked: aioresponses) -> None:
    mocked.get(
        url(f"/sessions/{SESSION_EXAMPLE['id']}"),
        payload=SESSION_EXAMPLE,
        headers={"API-Request-Id": REQUEST_ID},
    )
    session = await client.sessions.retrieve(SESSION_EXAMPLE["id"])
    assert session.raw == SESSION_EXAMPLE
    assert session.request_id == REQUEST_ID


# --- scrubbing secrets, and the messages of answers that are not errors of the API ---------------


@pytest.mark.parametrize("secret", ["test_key_not_real", 'k/"\\+=%', "whsec_ünï☃", "emoji_🔑_key"])
def test_scrub_text_removes_every_spelling_of_a_secret(secret: str) -> None:
    from urllib.parse import quote

    spellings = [
        secret,
        json.dumps(secret)[1:-1],  # " and \ escaped
        json.dumps(secret, ensure_ascii=True)[1:-1],  # non-ASCII as \\uXXXX (pairs past the BMP)
        re.sub(
            r"\\u[0-9a-f]{4}",
            lambda m: m.group(0).upper().replace("U", "u"),
            json.dumps(secret, ensure_ascii=True)[1:-1],
        ),
        json.dumps(secret)[1:-1].replace("/", "\\/"),
        quote(secret, safe=""),
        quote(secret, safe="").lower(),
        "".join(f"\\u{ord(c):04x}" if c.isascii() else c for c in secret),  # mixed forms
    ]
    for spelled in spellings:
        text = f"before {spelled} after"
        assert scrub_text(text, secret) == "before [redacted] after", spelled
    assert scrub_text("nothing to see", secret) == "nothing to see"
    assert scrub_text(secret, "") == secret  # no secret, nothing to scrub


def test_scrub_error_covers_every_text_field_and_leaves_the_rest() -> None:
    err = make(
        401,
        b'{"error": {"message": "bad key KEY"}}',
        {"X-Echo": "KEY", "API-Request-Id": "req_KEY"},
    )
    scrub_error(err, "")
    assert err.headers["x-echo"] == "KEY"  # an empty secret changes nothing
    scrub_error(err, "KEY")
    assert err.headers == {"x-echo": "[redacted]", "api-request-id": "req_[redacted]"}
    assert err.request_id == "req_[redacted]"
    assert err.body == b'{"error": {"message": "bad key [redacted]"}}'
    assert err.message == "bad key [redacted]" and err.args == ("bad key [redacted]",)
    assert err.status_code == 401


def test_a_redirect_is_named_and_never_followed() -> None:
    err = make(302, b"", {"Location": "https://elsewhere.example/login"})
    assert type(err) is bpcpay.APIStatusError
    assert "a redirect to 'https://elsewhere.example/login'" in err.message
    assert "does not follow redirects" in err.message
    assert "a redirect;" in make(301, b"").message  # no Location header


def test_a_200_with_an_error_body_says_what_the_gateway_said() -> None:
    body = json.dumps({"error": {"code": "E1", "message": "backend down"}}).encode()
    with pytest.raises(bpcpay.APIResponseValidationError) as info:
        decode_response(
            status=200, headers={}, body=body, cast_to=Session, method="GET", path="/sessions/ps_1"
        )
    assert "answer is an error, not a Session: [E1] backend down" in str(info.value)
    body = json.dumps({"error": {"message": "no code"}}).encode()
    with pytest.raises(bpcpay.APIResponseValidationError) as info:
        decode_response(
            status=200, headers={}, body=body, cast_to=Session, method="GET", path="/sessions/ps_1"
        )
    assert "answer is an error, not a Session: no code" in str(info.value)


def test_a_redirect_with_a_json_error_body_still_says_redirect() -> None:
    err = make(307, b'{"error": {"message": "moved"}}', {"Location": "https://x.example/"})
    assert "a redirect to 'https://x.example/'" in err.message
