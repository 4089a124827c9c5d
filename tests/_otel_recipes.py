"""The drivers of docs/observability.md's FastAPI and Django set-ups (named blocks of
tests/test_docs.py): each block runs as written, in a real server (uvicorn, gunicorn) whose
OTLP exporters send to a local receiver, and what arrives there must be what the page says: the
framework's server span with bpcpay's spans under it, for a call made in a view and for a
signed webhook delivery, and bpcpay's metrics.

OpenTelemetry lets a process set its global providers once, so the set-ups only ever run in
those server processes, never in the test's.
"""

from __future__ import annotations

import contextlib
import gzip
import http.client
import json
import threading
import time
import urllib.parse
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import attrs
from _contrib_servers import gunicorn, serve, uvicorn
from _servers import run_postgres
from opentelemetry.proto.collector.metrics.v1.metrics_service_pb2 import (
    ExportMetricsServiceRequest,
)
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest
from opentelemetry.proto.common.v1.common_pb2 import AnyValue
from opentelemetry.proto.trace.v1.trace_pb2 import Span

from bpcpay.sandbox import SandboxGateway
from bpcpay.testing import sandbox_delivery

LOOPBACK = "127.0.0.1"
#: How long the exports may take to arrive (the exporters below are set to flush within 0.2 s).
DEADLINE = 20.0


@attrs.frozen
class SpanSeen:
    """One span as the receiver got it."""

    name: str
    kind: int
    trace_id: bytes
    span_id: bytes
    parent_span_id: bytes
    attributes: dict[str, Any]
    service: str


def _value(value: AnyValue) -> Any:
    kind = value.WhichOneof("value")
    return None if kind is None else getattr(value, kind)


class OTLPReceiver:
    """An OTLP/HTTP receiver (protobuf) on 127.0.0.1: it keeps every span and the name of every
    metric data point set it is sent."""

    def __init__(self) -> None:
        self.spans: list[SpanSeen] = []
        self.metrics: dict[str, list[dict[str, Any]]] = {}
        self._lock = threading.Lock()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
                if self.headers.get("Content-Encoding") == "gzip":
                    body = gzip.decompress(body)
                receiver.take(self.path, body)
                self.send_response(200)
                self.send_header("Content-Type", "application/x-protobuf")
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self._server = ThreadingHTTPServer((LOOPBACK, 0), Handler)
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    @property
    def endpoint(self) -> str:
        """``OTEL_EXPORTER_OTLP_ENDPOINT`` for an exporter sending here."""
        return f"http://{LOOPBACK}:{self._server.server_address[1]}"

    def take(self, path: str, body: bytes) -> None:
        with self._lock:
            if path == "/v1/traces":
                traces = ExportTraceServiceRequest.FromString(body)
                for resource in traces.resource_spans:
                    service = {a.key: _value(a.value) for a in resource.resource.attributes}
                    for scope in resource.scope_spans:
                        self.spans += [
                            SpanSeen(
                                name=s.name,
                                kind=s.kind,
                                trace_id=s.trace_id,
                                span_id=s.span_id,
                                parent_span_id=s.parent_span_id,
                                attributes={a.key: _value(a.value) for a in s.attributes},
                                service=str(service.get("service.name")),
                            )
                            for s in scope.spans
                        ]
            elif path == "/v1/metrics":
                exported = ExportMetricsServiceRequest.FromString(body)
                for resource in exported.resource_metrics:
                    for scope in resource.scope_metrics:
                        for metric in scope.metrics:
                            points = getattr(metric, metric.WhichOneof("data")).data_points
                            self.metrics.setdefault(metric.name, []).extend(
                                {a.key: _value(a.value) for a in p.attributes} for p in points
                            )

    def wait(self, what: str, ready: Callable[[], bool]) -> None:
        """Until ``ready()`` holds, within :data:`DEADLINE`."""
        deadline = time.monotonic() + DEADLINE
        while True:
            with self._lock:
                if ready():
                    return
            if time.monotonic() > deadline:
                names = sorted({s.name for s in self.spans})
                raise AssertionError(
                    f"no {what} within {DEADLINE:g}s; spans {names}, metrics {sorted(self.metrics)}"
                )
            time.sleep(0.05)

    def named(self, name: str) -> list[SpanSeen]:
        with self._lock:
            return [s for s in self.spans if s.name == name]

    def parent(self, span: SpanSeen) -> SpanSeen:
        with self._lock:
            (found,) = [
                s
                for s in self.spans
                if s.span_id == span.parent_span_id and s.trace_id == span.trace_id
            ]
        return found

    def __enter__(self) -> OTLPReceiver:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(10)


#: The SDK's own variables, so that the page's BatchSpanProcessor and PeriodicExportingMetricReader
#: export within a fraction of a second (their defaults are 5 s and 60 s).
FAST_EXPORT = {"OTEL_BSP_SCHEDULE_DELAY": "100", "OTEL_METRIC_EXPORT_INTERVAL": "200"}
SERVER_KIND = Span.SpanKind.SPAN_KIND_SERVER


@contextlib.contextmanager
def _shop_world() -> Iterator[tuple[OTLPReceiver, Any, dict[str, str]]]:
    """A receiver, a sandbox gateway, and the shop's environment: the page's variables and the
    exporters' endpoint."""
    with OTLPReceiver() as receiver, SandboxGateway.run_in_thread() as gw:
        env = {
            "BPCPAY_BASE_URL": gw.base_url,
            "BPCPAY_API_KEY": gw.api_key,
            "BPCPAY_WEBHOOK_SECRET": gw.webhook_secret,
            "OTEL_EXPORTER_OTLP_ENDPOINT": receiver.endpoint,
            **FAST_EXPORT,
        }
        yield receiver, gw, env


def _post(url: str, body: bytes, headers: dict[str, str]) -> tuple[int, str]:
    parts = urllib.parse.urlsplit(url)
    connection = http.client.HTTPConnection(parts.hostname or LOOPBACK, parts.port, timeout=30)
    try:
        connection.request("POST", parts.path, body=body, headers=headers)
        answer = connection.getresponse()
        return answer.status, answer.read().decode()
    finally:
        connection.close()


def _checkout_and_deliver(gw: Any, server_url: str) -> str:
    """The shop's checkout view creates a session (through the page's client), the customer
    pays it in the sandbox, and the gateway's ``session.completed`` is posted to the page's
    webhook route: the session's id."""
    status, text = _post(server_url + "/checkout", b"", {})
    assert status == 200, text
    session_id = json.loads(text)["id"]
    assert gw.pay(session_id).succeeded
    (event,) = [
        e for e in gw.events if e.type == "session.completed" and e.object["id"] == session_id
    ]
    body, headers = sandbox_delivery(gw, event)
    status, text = _post(server_url + "/webhooks/bpc", body, headers)
    assert status == 200, text
    return session_id


def _check_traces(receiver: OTLPReceiver, session_id: str, result: str) -> None:
    """The page's promise: the call made in a view and the delivery each hang under the
    framework's server span, in the shop's service, found by the session's id; the delivery's
    ``result`` is recorded on its span and counted."""
    receiver.wait(
        "delivery span",
        lambda: any(s.name == "bpcpay webhook session.completed" for s in receiver.spans),
    )
    (call,) = receiver.named("bpcpay sessions.create")
    (delivery,) = receiver.named("bpcpay webhook session.completed")
    for span in (call, delivery):
        assert span.attributes["bpcpay.session.id"] == session_id
        assert span.service == "shop"
        server = receiver.parent(span)
        assert server.kind == SERVER_KIND, server
    route = receiver.parent(delivery).attributes.get("http.route", "")
    assert "webhooks/bpc" in route, receiver.parent(delivery)
    assert delivery.attributes["bpcpay.webhook.result"] == result
    (attempt,) = [
        s for s in receiver.named("POST /api2/sessions") if s.parent_span_id == call.span_id
    ]
    assert attempt.attributes["http.response.status_code"] == 200
    receiver.wait(
        "bpcpay's metrics",
        lambda: (
            {"http.client.request.duration", "bpcpay.webhook.deliveries"} <= set(receiver.metrics)
        ),
    )
    assert {"bpcpay.event.type": "session.completed", "bpcpay.webhook.result": result} in [
        {k: p[k] for k in ("bpcpay.event.type", "bpcpay.webhook.result") if k in p}
        for p in receiver.metrics["bpcpay.webhook.deliveries"]
    ]


FASTAPI_SHOP = '''
"""The page's main.py, with one view of the shop's own: a checkout that creates a session."""
from main import app, client


@app.post("/checkout")
async def checkout() -> dict[str, str]:
    session = await client.sessions.create(
        amount=2400,
        currency="EUR",
        success_url="https://shop.example/done",
        failure_url="https://shop.example/retry",
    )
    return {"id": session.id}
'''


def fastapi_recipe(code: str, tmp_path: Path) -> None:
    """The FastAPI block as main.py, served by uvicorn with a PostgreSQL store."""
    (tmp_path / "main.py").write_text(code, encoding="utf-8")
    (tmp_path / "shop_app.py").write_text(FASTAPI_SHOP, encoding="utf-8")
    with run_postgres() as postgres, _shop_world() as (receiver, gw, env):
        env["DATABASE_URL"] = postgres.dsn
        with serve(uvicorn("shop_app:app"), env=env, cwd=tmp_path) as server:
            session_id = _checkout_and_deliver(gw, server.url())
            # The page's router has no handler yet: the delivery is answered, not handled.
            _check_traces(receiver, session_id, "unhandled")


DJANGO_FILES = {
    "shop/__init__.py": "",
    "shop/settings.py": """
SECRET_KEY = "django-test-only-not-secret"
ALLOWED_HOSTS = ["127.0.0.1"]
ROOT_URLCONF = "shop.urls"
MIDDLEWARE = ["django.middleware.common.CommonMiddleware"]
INSTALLED_APPS: list[str] = []
USE_TZ = True
""",
    # Django's own wsgi.py, with the page's one line before the application is loaded.
    "shop/wsgi.py": """
import os

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "shop.settings")

from shop import otel

otel.set_up()

from django.core.wsgi import get_wsgi_application

application = get_wsgi_application()
""",
    "shop/urls.py": """
import os

from django.http import HttpRequest, JsonResponse
from django.urls import path

import bpcpay
from bpcpay.contrib.django import webhook_urls
from bpcpay.webhooks import SQLiteDeliveryStore, WebhookRouter

client = bpcpay.BpcPay()
router = WebhookRouter(
    os.environ["BPCPAY_WEBHOOK_SECRET"], store=SQLiteDeliveryStore("webhooks.sqlite3")
)


@router.on("session.completed")
def paid(event: bpcpay.Event[bpcpay.Session]) -> None:
    assert event.data.object.payment_status == "paid"


def checkout(request: HttpRequest) -> JsonResponse:
    session = client.sessions.create(
        amount=2400,
        currency="EUR",
        success_url="https://shop.example/done",
        failure_url="https://shop.example/retry",
    )
    return JsonResponse({"id": session.id})


urlpatterns = [path("checkout", checkout), *webhook_urls(router, path="webhooks/bpc")]
""",
}


def django_recipe(code: str, tmp_path: Path) -> None:
    """The Django block as shop/otel.py of a Django project whose wsgi.py calls it, served by
    gunicorn's sync workers."""
    for name, text in {**DJANGO_FILES, "shop/otel.py": code}.items():
        path = tmp_path / name
        path.parent.mkdir(exist_ok=True)
        path.write_text(text.lstrip("\n"), encoding="utf-8")
    with (
        _shop_world() as (receiver, gw, env),
        serve(gunicorn("shop.wsgi:application"), env=env, cwd=tmp_path) as server,
    ):
        session_id = _checkout_and_deliver(gw, server.url())
        _check_traces(receiver, session_id, "handled")
