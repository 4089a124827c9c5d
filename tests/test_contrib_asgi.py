"""bpcpay.contrib.asgi with Starlette's TestClient, replaying deliveries signed by the sandbox."""

from __future__ import annotations

from collections.abc import Iterator, MutableMapping
from typing import Any

import pytest
from _webhook_capture import Captured, capture_sandbox_deliveries
from starlette.applications import Starlette
from starlette.routing import Mount, Route
from starlette.testclient import TestClient

from bpcpay.contrib import content_length
from bpcpay.contrib.asgi import WebhookASGIApp
from bpcpay.models import Event, Session
from bpcpay.webhooks import WebhookRouter


@pytest.fixture(scope="module")
def sandbox_deliveries() -> tuple[str, list[Captured]]:
    return capture_sandbox_deliveries()


def make_router(secret: str, seen: list[Event]) -> WebhookRouter:
    router = WebhookRouter(secret)

    @router.on("session.completed")
    async def completed(event: Event) -> None:
        seen.append(event)

    router.add_handler("payment.*", lambda event: seen.append(event))
    return router


@pytest.mark.parametrize("style", ["mount", "route"])
def test_sandbox_deliveries_through_starlette(
    sandbox_deliveries: tuple[str, list[Captured]], style: str
) -> None:
    secret, deliveries = sandbox_deliveries
    seen: list[Event] = []
    endpoint = WebhookASGIApp(make_router(secret, seen))
    routes = (
        [Mount("/webhooks/bpc", app=endpoint)]
        if style == "mount"
        else [Route("/webhooks/bpc", endpoint, methods=["POST"])]
    )
    app = Starlette(routes=routes)
    url = "/webhooks/bpc/" if style == "mount" else "/webhooks/bpc"
    with TestClient(app) as client:
        answers = [client.post(url, content=d.body, headers=d.headers) for d in deliveries]
        assert [a.status_code for a in answers] == [200] * len(deliveries)
        reasons = {d.type: a.text.strip() for d, a in zip(deliveries, answers, strict=True)}
        assert reasons["session.completed"] == "handled"
        assert reasons["paymentMethod.created"] == "unhandled"
        # Replaying a delivery: answered 200, handled once.
        again = client.post(url, content=deliveries[0].body, headers=deliveries[0].headers)
        assert (again.status_code, again.text) == (200, "duplicate\n")
        tampered = client.post(
            url, content=deliveries[0].body + b" ", headers=deliveries[0].headers
        )
        assert (tampered.status_code, tampered.text) == (400, "mismatch\n")
    (completed,) = [e for e in seen if e.type == "session.completed"]
    assert isinstance(completed.data.object, Session)
    assert completed.data.object.merchant_reference_id == "order-1"
    assert completed.request_id in {d.headers["API-Request-Id"] for d in deliveries}
    assert sorted(e.type for e in seen) == sorted(
        d.type for d in deliveries if d.type.startswith(("payment.", "session."))
    )


def test_size_cap_on_content_length_and_on_a_streamed_body(
    sandbox_deliveries: tuple[str, list[Captured]],
) -> None:
    secret, deliveries = sandbox_deliveries
    router = WebhookRouter(secret)
    app = Starlette(routes=[Mount("/hook", app=WebhookASGIApp(router, max_bytes=300))])
    big = max(deliveries, key=lambda d: len(d.body))
    assert len(big.body) > 300

    def stream() -> Iterator[bytes]:
        for i in range(0, len(big.body), 50):
            yield big.body[i : i + 50]

    with TestClient(app) as client:
        declared = client.post("/hook/", content=big.body, headers=big.headers)
        assert (declared.status_code, declared.text) == (413, "too_large\n")
        streamed = client.post("/hook/", content=stream(), headers=big.headers)
        assert streamed.status_code == 413
        assert streamed.request.headers.get("transfer-encoding") == "chunked"


def test_standalone_app_answers_lifespan_and_refuses_other_methods() -> None:
    app = WebhookASGIApp(WebhookRouter("whsec_asgi_not_real"))
    with TestClient(app) as client:  # runs lifespan startup and shutdown
        got = client.get("/")
        assert got.status_code == 405
        assert got.headers["allow"] == "POST"
        unsigned = client.post("/", content=b"{}")
        assert (unsigned.status_code, unsigned.text) == (400, "missing_header\n")
    assert "whsec_asgi_not_real" not in repr(app)


class Channel:
    """Hand-fed ASGI receive/send, for what a test client cannot do (disconnects, chunks)."""

    def __init__(self, *messages: dict[str, Any]) -> None:
        self.incoming = list(messages)
        self.sent: list[dict[str, Any]] = []

    async def receive(self) -> dict[str, Any]:
        return self.incoming.pop(0)

    async def send(self, message: MutableMapping[str, Any]) -> None:
        self.sent.append(dict(message))


def http_scope(headers: list[tuple[bytes, bytes]]) -> dict[str, Any]:
    return {"type": "http", "method": "POST", "path": "/", "headers": headers}


@pytest.mark.asyncio
async def test_a_body_in_several_messages_and_a_client_that_goes_away(
    sandbox_deliveries: tuple[str, list[Captured]],
) -> None:
    secret, deliveries = sandbox_deliveries
    d = deliveries[0]
    app = WebhookASGIApp(WebhookRouter(secret))
    headers = [(b"x-signature", d.headers["X-Signature"].encode())]
    half = len(d.body) // 2
    chunked = Channel(
        {"type": "http.request", "body": d.body[:half], "more_body": True},
        {"type": "http.request", "body": d.body[half:], "more_body": False},
    )
    await app(http_scope(headers), chunked.receive, chunked.send)
    assert chunked.sent[0]["status"] == 200
    assert chunked.sent[1]["body"] == b"unhandled\n"

    gone = Channel(
        {"type": "http.request", "body": d.body[:half], "more_body": True},
        {"type": "http.disconnect"},
    )
    await app(http_scope(headers), gone.receive, gone.send)
    assert gone.sent == []  # nothing to answer, nothing handled


@pytest.mark.asyncio
async def test_head_gets_the_405_headers_and_no_body() -> None:
    # A body after a HEAD answer would be read as the start of the next response on a kept-alive
    # connection by a server that passes it through (uvicorn drops it; the app must not rely on
    # that). The headers are those a GET gets, Content-Length included.
    app = WebhookASGIApp(WebhookRouter("whsec_asgi_not_real"))
    answers = {}
    for method in ("HEAD", "GET"):
        channel = Channel()
        await app({**http_scope([]), "method": method}, channel.receive, channel.send)
        answers[method] = channel.sent
    head, get = answers["HEAD"], answers["GET"]
    assert head[0] == get[0]  # status 405, Allow: POST, Content-Length of the GET's body
    assert (head[0]["status"], dict(head[0]["headers"])[b"allow"]) == (405, b"POST")
    assert get[1]["body"] == b"method_not_allowed\n"
    assert head[1] == {"type": "http.response.body", "body": b""}


@pytest.mark.asyncio
async def test_non_http_scopes() -> None:
    app = WebhookASGIApp(WebhookRouter("whsec_asgi_not_real"))
    with pytest.raises(RuntimeError, match="websocket"):
        await app({"type": "websocket"}, Channel().receive, Channel().send)
    life = Channel(
        {"type": "lifespan.startup"}, {"type": "lifespan.other"}, {"type": "lifespan.shutdown"}
    )
    await app({"type": "lifespan"}, life.receive, life.send)
    assert [m["type"] for m in life.sent] == [
        "lifespan.startup.complete",
        "lifespan.shutdown.complete",
    ]


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (None, None),
        ("12", 12),
        (" 7 ", 7),
        ("12x", None),
        ("-1", None),
        ("", None),
        ("\u0663", None),
    ],
)
def test_content_length_parsing(value: str | None, expected: int | None) -> None:
    assert content_length(value) == expected
