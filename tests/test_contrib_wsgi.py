"""bpcpay.contrib.wsgi: a WSGI server the sandbox delivers to, and a Flask view (test client)."""

from __future__ import annotations

import contextlib
import http.client
import io
import threading
from collections.abc import Iterator
from typing import Any

import pytest
from _webhook_capture import Captured, capture_sandbox_deliveries, serve_wsgi
from flask import Flask

from bpcpay import BpcPay
from bpcpay.contrib.wsgi import (
    WebhookWSGIApp,
    environ_headers,
    flask_view,
    read_wsgi_body,
)
from bpcpay.models import Event, Session
from bpcpay.sandbox import SandboxGateway
from bpcpay.webhooks import WebhookRouter


@pytest.fixture(scope="module")
def sandbox_deliveries() -> tuple[str, list[Captured]]:
    return capture_sandbox_deliveries()


def test_the_sandbox_delivers_to_a_threaded_wsgi_server() -> None:
    seen: list[Event] = []
    threads: set[str] = set()
    lock = threading.Lock()

    with SandboxGateway.run_in_thread(webhook_retry_schedule=(0.05,)) as gw:
        router = WebhookRouter(gw.webhook_secret)

        @router.on("*")
        def record(event: Event) -> None:
            with lock:
                seen.append(event)
                threads.add(threading.current_thread().name)

        with serve_wsgi(WebhookWSGIApp(router)) as url:
            gw.add_webhook_endpoint(url + "/webhooks/bpc")
            with BpcPay(api_key=gw.api_key, base_url=gw.base_url) as client:
                session = client.sessions.create(
                    amount=990,
                    currency="EUR",
                    success_url="https://shop.example/success",
                    failure_url="https://shop.example/failure",
                )
            assert gw.pay(session.id).succeeded
            deliveries = gw.wait_for_deliveries()
            (completed,) = [d for d in deliveries if d.event.type == "session.completed"]
            gw.resend(completed.id)
            assert completed.attempts[-1].status == 200

    assert deliveries
    assert all(d.succeeded and d.attempts[0].status == 200 for d in deliveries)
    assert sorted(e.type for e in seen) == sorted(d.event.type for d in deliveries)
    (event,) = [e for e in seen if e.type == "session.completed"]
    assert isinstance(event.data.object, Session)
    assert event.data.object.id == session.id
    assert threading.current_thread().name not in threads


def test_flask_view_with_the_test_client(sandbox_deliveries: tuple[str, list[Captured]]) -> None:
    secret, deliveries = sandbox_deliveries
    router = WebhookRouter(secret)
    paid: list[str] = []

    @router.on("session.completed")
    def completed(event: Event) -> None:
        assert isinstance(event.data.object, Session)
        paid.append(str(event.data.object.merchant_reference_id))

    app = Flask(__name__)
    app.add_url_rule("/webhooks/bpc", view_func=flask_view(router), methods=["POST"])
    app.add_url_rule(
        "/tiny", endpoint="tiny", view_func=flask_view(router, max_bytes=10), methods=["POST"]
    )
    client = app.test_client()
    answers = [client.post("/webhooks/bpc", data=d.body, headers=d.headers) for d in deliveries]
    assert [a.status_code for a in answers] == [200] * len(deliveries)
    again = [client.post("/webhooks/bpc", data=d.body, headers=d.headers) for d in deliveries]
    assert {a.get_data() for a in again} == {b"duplicate\n"}
    assert paid == ["order-1"]
    bad = client.post("/webhooks/bpc", data=deliveries[0].body, headers={"X-Signature": "f" * 64})
    assert (bad.status_code, bad.get_data()) == (400, b"mismatch\n")
    tiny = client.post("/tiny", data=deliveries[0].body, headers=deliveries[0].headers)
    assert (tiny.status_code, tiny.get_data()) == (413, b"too_large\n")
    assert client.get("/webhooks/bpc").status_code == 405


def call(app: WebhookWSGIApp, environ: dict[str, Any]) -> tuple[str, dict[str, str], bytes]:
    got: dict[str, Any] = {}

    def start_response(status: str, headers: list[tuple[str, str]], exc_info: Any = None) -> Any:
        got["status"], got["headers"] = status, dict(headers)
        return lambda data: None

    body = b"".join(app(environ, start_response))
    return got["status"], got["headers"], body


def environ(body: bytes, **extra: Any) -> dict[str, Any]:
    env: dict[str, Any] = {"REQUEST_METHOD": "POST", "wsgi.input": io.BytesIO(body)}
    env.update(extra)
    return env


def test_wsgi_app_statuses_and_size_cap(sandbox_deliveries: tuple[str, list[Captured]]) -> None:
    secret, deliveries = sandbox_deliveries
    d = deliveries[0]
    app = WebhookWSGIApp(WebhookRouter(secret), max_bytes=len(d.body))
    sig = d.headers["X-Signature"]

    ok = call(app, environ(d.body, CONTENT_LENGTH=str(len(d.body)), HTTP_X_SIGNATURE=sig))
    assert ok[0] == "200 OK"
    assert ok[2] == b"unhandled\n"
    assert ok[1]["Content-Length"] == str(len(ok[2]))
    big = d.body + b" "
    over = call(app, environ(big, CONTENT_LENGTH=str(len(big)), HTTP_X_SIGNATURE=sig))
    assert over[0] == "413 Content Too Large"
    # A chunked body (no Content-Length) the server marks as terminated: read to the cap.
    chunked = call(app, environ(big, HTTP_X_SIGNATURE=sig, **{"wsgi.input_terminated": True}))
    assert chunked[0].startswith("413")
    fits = call(app, environ(d.body, HTTP_X_SIGNATURE=sig, **{"wsgi.input_terminated": True}))
    assert fits[2] == b"duplicate\n"
    unterminated = call(app, environ(d.body, HTTP_X_SIGNATURE=sig))
    assert unterminated[0] == "411 Length Required"
    wrong = call(app, {"REQUEST_METHOD": "GET", "wsgi.input": io.BytesIO()})
    assert wrong[0] == "405 Method Not Allowed"
    assert wrong[1]["Allow"] == "POST"
    assert secret not in repr(app)


def test_read_wsgi_body_never_reads_past_content_length() -> None:
    stream = io.BytesIO(b"0123456789rest-of-the-connection")
    assert read_wsgi_body({"wsgi.input": stream, "CONTENT_LENGTH": "10"}, 100) == b"0123456789"
    assert stream.read() == b"rest-of-the-connection"
    assert read_wsgi_body({"wsgi.input": io.BytesIO(), "CONTENT_LENGTH": "101"}, 100) == 413


def test_environ_headers_rebuilds_header_names() -> None:
    headers = environ_headers(
        {
            "HTTP_X_SIGNATURE": "ab",
            "HTTP_API_REQUEST_ID": "req_1",
            "CONTENT_TYPE": "a/b",
            "CONTENT_LENGTH": "3",
            "SERVER_NAME": "x",
        }
    )
    assert headers == {
        "X-Signature": "ab",
        "Api-Request-Id": "req_1",
        "Content-Type": "a/b",
        "Content-Length": "3",
    }


# --- HEAD on a kept-alive connection, under real WSGI servers -----------------------------------


@contextlib.contextmanager
def serve_with_waitress(app: Any) -> Iterator[int]:
    from waitress.server import create_server

    server = create_server(app, host="127.0.0.1", port=0, threads=2)
    stopping = threading.Event()

    def run() -> None:
        try:
            server.run()
        except OSError:
            # close() from this thread pulls the sockets from under the loop's select(), which
            # then fails with EBADF (seen on Python 3.13): that is the stop, not a failure.
            if not stopping.is_set():
                raise

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    try:
        yield int(server.effective_port)  # type: ignore[union-attr]
    finally:
        stopping.set()
        server.close()
        thread.join(5)


def test_head_is_answered_without_a_body_on_a_kept_alive_waitress_connection(
    sandbox_deliveries: tuple[str, list[Captured]],
) -> None:
    secret, deliveries = sandbox_deliveries
    d = deliveries[0]
    with serve_with_waitress(WebhookWSGIApp(WebhookRouter(secret))) as port:
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
        try:
            conn.request("HEAD", "/webhooks/bpc")
            head = conn.getresponse()
            assert head.status == 405
            assert head.getheader("Allow") == "POST"
            assert head.read() == b""
            kept = conn.sock
            assert kept is not None  # the server kept the connection open
            # The same connection: a body sent after the HEAD answer would be read here as the
            # start of this response.
            conn.request("POST", "/webhooks/bpc", body=d.body, headers=d.headers)
            post = conn.getresponse()
            assert (post.status, post.read()) == (200, b"unhandled\n")
            conn.request("GET", "/webhooks/bpc")
            get = conn.getresponse()
            assert (get.status, get.read()) == (405, b"method_not_allowed\n")
            assert conn.sock is kept
        finally:
            conn.close()


def test_head_returns_an_empty_body_from_the_wsgi_app_itself() -> None:
    app = WebhookWSGIApp(WebhookRouter("whsec_head_not_real"))
    status, headers, body = call(app, {"REQUEST_METHOD": "HEAD", "wsgi.input": io.BytesIO()})
    assert (status, body) == ("405 Method Not Allowed", b"")
    assert headers["Content-Length"] == "0"
    assert headers["Allow"] == "POST"
