"""The request path through the transport seam: a client given an in-memory transport.

No aiohttp and no network: the transport is a plain object that keeps to the ``Transport``
protocol, which is all the client may rely on. One request record per call flows through
every attempt and every report; the last attempt is settled into the endpoint's model or the
endpoint's error; the JSON decoder is the standard library's or orjson, alike.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping
from typing import Any

import pytest
from _support import API_KEY, SESSION_EXAMPLE

import bpcpay
from bpcpay import AsyncBpcPay, Timeout
from bpcpay._async._client import SyncSupport
from bpcpay._core import _json
from bpcpay._core._outcomes import (
    Response,
    ResponseTooLarge,
    TransportError,
    TransportFailure,
)
from bpcpay._core._requests import Request
from bpcpay._core._retry import Failure

BASE_URL = "https://gateway.test/api2"
ANSWER = json.dumps(SESSION_EXAMPLE).encode()
HEADERS = {"API-Request-Id": "req_1", "Content-Type": "application/json"}


class MemoryTransport:
    """A Transport that answers from a script: each item an answer tuple or an error."""

    def __init__(self, *script: Response | TransportError) -> None:
        self.script = list(script)
        self.sent: list[tuple[Request, Timeout]] = []
        self._closed = False
        self.forked: list[MemoryTransport] = []

    @property
    def closed(self) -> bool:
        return self._closed

    @property
    def pool_size(self) -> int:
        return 1

    @property
    def max_response_bytes(self) -> int:
        return 1024

    async def send(self, request: Request, timeout: Timeout) -> Response:
        self.sent.append((request, timeout))
        item = self.script.pop(0) if len(self.script) > 1 else self.script[0]
        if isinstance(item, TransportError):
            raise item
        return item

    async def aclose(self) -> None:
        self._closed = True

    def for_forked_child(self) -> MemoryTransport:
        child = MemoryTransport(*self.script)
        self.forked.append(child)
        return child


def client_with(
    *script: Response | TransportError, **options: Any
) -> tuple[AsyncBpcPay, MemoryTransport]:
    async def no_sleep(_: float) -> None:
        return None

    transport = MemoryTransport(*script)
    client = AsyncBpcPay(
        api_key=API_KEY, base_url=BASE_URL, _transport=transport, _sleep=no_sleep, **options
    )
    return client, transport


@pytest.fixture(params=["json", "orjson"])
def decoder(request: pytest.FixtureRequest) -> Iterator[str]:
    """Both decoders: the standard library's (the default without bpcpay[speedups]) and
    orjson (installed by the test extra, so this path runs in CI too)."""
    with _json.use(request.param):
        yield request.param


@pytest.mark.asyncio
async def test_one_call_builds_one_request_and_returns_the_endpoints_model(decoder: str) -> None:
    client, transport = client_with((200, HEADERS, ANSWER))
    session = await client.sessions.retrieve("ps_1", timeout=3)
    assert isinstance(session, bpcpay.Session)
    assert session.raw == SESSION_EXAMPLE
    assert session.request_id == "req_1"
    [(request, timeout)] = transport.sent
    assert (request.method, request.path, request.url) == (
        "GET",
        "/sessions/ps_1",
        BASE_URL + "/sessions/ps_1",
    )
    assert request.body is None
    assert timeout == Timeout(connect=3, read=3)
    assert request.endpoint.name == "sessions.retrieve"


@pytest.mark.asyncio
async def test_a_create_sends_its_body_and_keeps_the_order_id_on_errors(decoder: str) -> None:
    lost = TransportFailure(Failure.MAYBE_SENT, "dropped", timeout_phase="read")
    client, transport = client_with(lost, max_retries=3)
    with pytest.raises(bpcpay.APITimeoutError) as info:
        await client.sessions.create(
            amount=100,
            currency="eur",
            success_url="https://s.example/ok",
            failure_url="https://s.example/no",
            merchant_reference_id="order-1",
        )
    # A POST that may have been sent is never retried; the endpoint says what to do now.
    assert len(transport.sent) == 1
    assert info.value.merchant_reference_id == "order-1"
    assert "outcome is unknown" in str(info.value)
    assert "safe to create another" in str(info.value)
    request = transport.sent[0][0]
    assert json.loads(request.body or b"")["currency"] == "EUR"
    assert request.headers["Content-Type"] == "application/json"


@pytest.mark.asyncio
async def test_a_get_is_retried_through_the_same_request_and_reported_once_per_attempt() -> None:
    seen: list[bpcpay.RequestAttempt] = []
    busy = (503, {"Retry-After": "0"}, b'{"error": {"message": "busy"}}')
    client, transport = client_with(busy, (200, HEADERS, ANSWER), on_attempt=seen.append)
    assert (await client.sessions.retrieve("ps_1")).id == SESSION_EXAMPLE["id"]
    assert transport.sent[0][0] is transport.sent[1][0]  # one request record per call
    assert [(a.attempt, a.status, a.retry_in) for a in seen] == [(1, 503, 0.0), (2, 200, None)]
    assert seen[1].request_id == "req_1"


@pytest.mark.asyncio
async def test_an_answer_too_large_is_reported_and_never_retried() -> None:
    seen: list[bpcpay.RequestAttempt] = []
    big = ResponseTooLarge(200, {"API-Request-Id": f"r-{API_KEY}"}, 1024, 4096)
    client, transport = client_with(big, on_attempt=seen.append)
    with pytest.raises(bpcpay.ResponseTooLargeError) as info:
        await client.payments.cancel("pay_1")
    assert len(transport.sent) == 1
    assert info.value.declared == 4096
    assert API_KEY not in repr(info.value.__dict__)
    assert "check its status" in str(info.value)  # the endpoint's hint: the POST's outcome
    [attempt] = seen
    assert (attempt.status, attempt.error) == (200, "answer over max_response_bytes=1024")
    assert API_KEY not in (attempt.request_id or "")


@pytest.mark.asyncio
async def test_the_escape_hatch_takes_the_same_path(decoder: str) -> None:
    client, transport = client_with((200, HEADERS, b'{"ok": [1, 2]}'))
    assert await client.request("POST", "/things/a b", json=None) == {"ok": [1, 2]}
    request = transport.sent[0][0]
    assert (request.path, request.body) == ("/things/a%20b", b"null")
    assert request.endpoint.name == "request"
    assert request.endpoint.model is None


@pytest.mark.asyncio
async def test_a_body_that_is_not_json_is_a_validation_error_with_either_decoder(
    decoder: str,
) -> None:
    client, _ = client_with((200, HEADERS, b"<html>oops</html>"))
    with pytest.raises(bpcpay.APIResponseValidationError, match="HTML page"):
        await client.sessions.retrieve("ps_1")


@pytest.mark.asyncio
async def test_a_closed_transport_closes_the_client() -> None:
    client, transport = client_with((200, HEADERS, ANSWER))
    await client.aclose()
    assert transport.closed and client.closed
    with pytest.raises(bpcpay.ClientClosedError):
        await client.sessions.retrieve("ps_1")
    assert transport.sent == []


@pytest.mark.asyncio
async def test_a_forked_child_gets_the_transports_fresh_twin() -> None:
    client, transport = client_with((200, HEADERS, ANSWER))
    child = SyncSupport(client).for_forked_child().client
    (fresh,) = transport.forked
    assert (await child.sessions.retrieve("ps_1")).id
    # The child's resources send through the fresh twin, never the inherited transport.
    assert (len(fresh.sent), transport.sent) == (1, [])
    assert child.max_response_bytes == 1024


def test_the_decoder_switch_restores_the_default() -> None:
    default = _json.loads
    with _json.use("json"):
        stdlib = _json.loads
        with _json.use("orjson"):
            assert _json.loads is not stdlib
            assert _json.loads(b'{"a": 1}') == {"a": 1}
        assert _json.loads is stdlib
    assert _json.loads is default
    # The test extra installs orjson, so the speedups path is the default here.
    assert _json.SPEEDUPS
    assert default is not stdlib


@pytest.mark.parametrize(
    "body",
    [
        b'{"a": [1, "\\ud800"]}',
        '\ufeff{"a": "\u00e9"}'.encode(),
        '{"a": "\u00e9"}'.encode("utf-16-le"),
        '{"a": "\u00e9"}'.encode("utf-16-be"),
        '["x"]'.encode("utf-32-le"),
        b"[1]",
        b"{",
        b'"text"',
        b"  {}",
    ],
)
def test_the_standard_library_path_decodes_what_json_loads_does(body: bytes) -> None:
    # Its shortcut for a plain UTF-8 object or array must not change any other encoding.
    try:
        expected: object = json.loads(body)
    except ValueError as exc:
        expected = type(exc)
    with _json.use("json"):
        try:
            got: object = _json.loads(body)
        except ValueError as exc:
            got = type(exc)
    assert got == expected


@pytest.mark.parametrize(
    "body",
    [
        b"-9223372036854775809",
        b"18446744073709551616",
        b'{"amount": 100000000000000000000000, "id": "pay_1"}',
        b'[1, {"n": -18446744073709551617}]',
    ],
)
def test_both_decoders_keep_an_integer_beyond_64_bits_exact(body: bytes) -> None:
    # orjson reads such an integer as a float, losing digits: an amount must never change.
    expected = json.loads(body)
    for name in ("json", "orjson"):
        with _json.use(name):  # type: ignore[arg-type]
            value = _json.loads(body)
        assert value == expected
        assert repr(value) == repr(expected)


@pytest.mark.parametrize("body", [b"", b"{", b"\xff", b"[" * 100_000, b"NaN-ish"])
def test_both_decoders_refuse_a_bad_body_with_one_family_of_errors(body: bytes) -> None:
    for name in ("json", "orjson"):
        with _json.use(name), pytest.raises(_json.DECODE_ERRORS):  # type: ignore[arg-type]
            _json.loads(body)


def test_headers_of_an_answer_may_be_any_mapping() -> None:
    # The transport hands over aiohttp's case-insensitive headers; a plain dict works too.
    headers: Mapping[str, str] = {"api-request-id": "req_lower"}
    from bpcpay._core._endpoints import SESSIONS_RETRIEVE
    from bpcpay._core._outcomes import settle
    from bpcpay._core._requests import build_request

    request = build_request(SESSIONS_RETRIEVE, ("ps_1",), base_url=BASE_URL, headers={})
    session = settle(request, (200, headers, ANSWER), api_key=API_KEY, base_url=BASE_URL)
    assert session.request_id == "req_lower"


def test_resources_know_no_method_path_or_wire_field_of_their_own() -> None:
    # Issue 13: the endpoint table is the one place that knows the wire; a resource passes an
    # endpoint and its ids. No method or path literal, no read of an endpoint's method or path.
    import ast
    from pathlib import Path

    import bpcpay._async.resources as resources

    methods = {"GET", "POST", "PUT", "PATCH", "DELETE"}
    for path in sorted(Path(resources.__file__).parent.glob("*.py")):
        tree = ast.parse(path.read_text(encoding="utf-8"))
        docstrings = {
            id(node.body[0].value)
            for node in ast.walk(tree)
            if isinstance(node, (ast.Module, ast.ClassDef, ast.FunctionDef, ast.AsyncFunctionDef))
            and node.body
            and isinstance(node.body[0], ast.Expr)
            and isinstance(node.body[0].value, ast.Constant)
        }
        for node in ast.walk(tree):
            if isinstance(node, ast.Constant) and isinstance(node.value, str):
                if id(node) in docstrings:
                    continue
                assert node.value not in methods, f"{path.name}: {node.value!r}"
                assert not node.value.startswith("/"), f"{path.name}: {node.value!r}"
            if isinstance(node, ast.Attribute):
                assert node.attr not in ("method", "path"), f"{path.name}: .{node.attr}"
