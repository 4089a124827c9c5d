"""Test helpers for the webhook adapters: a threaded loopback WSGI server, and real signed
deliveries captured from the sandbox gateway (to replay into frameworks' in-process clients)."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from socketserver import ThreadingMixIn
from typing import Any
from wsgiref.simple_server import WSGIRequestHandler, WSGIServer, make_server

import attrs

from bpcpay import BpcPay
from bpcpay.sandbox import SandboxGateway

WSGIApp = Callable[[dict[str, Any], Any], Iterable[bytes]]


class _QuietHandler(WSGIRequestHandler):
    def log_message(self, format: str, *args: Any) -> None:
        pass


class _ThreadingWSGIServer(ThreadingMixIn, WSGIServer):
    daemon_threads = True


@contextmanager
def serve_wsgi(app: WSGIApp) -> Iterator[str]:
    """Serve a WSGI app on 127.0.0.1 (a free port, a thread per request); yields its root URL."""
    server = make_server(
        "127.0.0.1", 0, app, server_class=_ThreadingWSGIServer, handler_class=_QuietHandler
    )
    thread = threading.Thread(
        target=server.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True
    )
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}"
    finally:
        server.shutdown()
        server.server_close()
        thread.join(5)


@attrs.frozen
class Captured:
    """One delivery as it arrived: the raw body and the headers that matter."""

    body: bytes
    headers: dict[str, str]

    @property
    def type(self) -> str:
        import json

        return str(json.loads(self.body)["type"])


def capture_sandbox_deliveries(webhook_secret: str | None = None) -> tuple[str, list[Captured]]:
    """Create a session on a sandbox, pay it, and capture every delivery the gateway signs.

    Args:
        webhook_secret: the sandbox's signing secret (generated when None).

    Returns:
        (the webhook secret, the deliveries in arrival order).
    """
    captured: list[Captured] = []
    lock = threading.Lock()

    def capture(environ: dict[str, Any], start_response: Any) -> list[bytes]:
        body = environ["wsgi.input"].read(int(environ.get("CONTENT_LENGTH") or 0))
        headers = {
            "Content-Type": environ.get("CONTENT_TYPE", ""),
            "X-Signature": environ.get("HTTP_X_SIGNATURE", ""),
            "API-Request-Id": environ.get("HTTP_API_REQUEST_ID", ""),
            "X-Version": environ.get("HTTP_X_VERSION", ""),
        }
        with lock:
            captured.append(Captured(body, headers))
        start_response("200 OK", [("Content-Type", "text/plain")])
        return [b"ok"]

    with (
        serve_wsgi(capture) as url,
        SandboxGateway.run_in_thread(webhook_secret=webhook_secret) as gw,
    ):
        gw.add_webhook_endpoint(url + "/capture")
        with BpcPay(api_key=gw.api_key, base_url=gw.base_url) as client:
            session = client.sessions.create(
                amount=1500,
                currency="EUR",
                success_url="https://shop.example/success",
                failure_url="https://shop.example/failure",
                merchant_reference_id="order-1",
                # The card is kept, so a paymentMethod.created delivery comes too.
                setup_future_usage={"category": "unscheduled"},
            )
        assert gw.pay(session.id).succeeded
        gw.wait_for_deliveries()
        secret = gw.webhook_secret
    assert any(c.type == "session.completed" for c in captured), captured
    return secret, captured
