"""bpcpay.contrib.django: Django's test Client and RequestFactory with sandbox-signed
deliveries, Django's WSGI handler on loopback receiving from the sandbox directly, and under
gunicorn a raw chunked delivery (issue 18, item 7)."""

from __future__ import annotations

import json

import django
import pytest
from _contrib_servers import chunked, exchange, gunicorn, request_head, serve, signed_headers
from _webhook_capture import Captured, capture_sandbox_deliveries, serve_wsgi
from django.conf import settings
from django.urls import path

from bpcpay import BpcPay
from bpcpay.models import Event, Session
from bpcpay.sandbox import SandboxGateway
from bpcpay.webhooks import InMemoryDeliveryStore, WebhookRouter

if not settings.configured:
    settings.configure(
        DEBUG=False,
        SECRET_KEY="django-test-only-not-secret",
        ALLOWED_HOSTS=["testserver", "127.0.0.1"],
        ROOT_URLCONF=__name__,
        MIDDLEWARE=[
            "django.middleware.common.CommonMiddleware",
            "django.middleware.csrf.CsrfViewMiddleware",
        ],
        INSTALLED_APPS=[],
        USE_TZ=True,
    )
    django.setup()

from django.core.wsgi import get_wsgi_application
from django.test import Client, RequestFactory

from bpcpay.contrib.django import webhook_view

SECRET = "whsec_django_test_not_real"
#: What the URLconf's router handled (Django's URLconf is process-wide, so the router is too).
SEEN: list[Event] = []
ROUTER = WebhookRouter(SECRET)
ROUTER.add_handler("session.completed", SEEN.append)
VIEW = webhook_view(ROUTER)

urlpatterns = [path("webhooks/bpc/", VIEW)]


@pytest.fixture(scope="module")
def sandbox_deliveries() -> tuple[str, list[Captured]]:
    return capture_sandbox_deliveries(webhook_secret=SECRET)


@pytest.fixture
def seen() -> list[Event]:
    # A fresh de-duplication memory and record for each test.
    ROUTER.store = InMemoryDeliveryStore()
    SEEN.clear()
    return SEEN


def test_client_posts_with_csrf_checks_on(
    sandbox_deliveries: tuple[str, list[Captured]], seen: list[Event]
) -> None:
    _, deliveries = sandbox_deliveries
    assert getattr(VIEW, "csrf_exempt", False) is True
    client = Client(enforce_csrf_checks=True)
    answers = [
        client.post(
            "/webhooks/bpc/",
            data=d.body,
            content_type="application/json",
            headers={
                "X-Signature": d.headers["X-Signature"],
                "API-Request-Id": d.headers["API-Request-Id"],
            },
        )
        for d in deliveries
    ]
    assert [a.status_code for a in answers] == [200] * len(deliveries)
    (event,) = seen
    assert isinstance(event.data.object, Session)
    assert event.data.object.merchant_reference_id == "order-1"
    assert event.request_id in {d.headers["API-Request-Id"] for d in deliveries}
    bad = client.post(
        "/webhooks/bpc/",
        data=deliveries[0].body,
        content_type="application/json",
        headers={"X-Signature": "a" * 64},
    )
    assert (bad.status_code, bad.content) == (400, b"mismatch\n")
    assert client.get("/webhooks/bpc/").status_code == 405


def test_size_cap_and_an_already_read_body(sandbox_deliveries: tuple[str, list[Captured]]) -> None:
    secret, deliveries = sandbox_deliveries
    d = deliveries[0]
    router = WebhookRouter(secret)
    factory = RequestFactory()
    capped = webhook_view(router, max_bytes=len(d.body) - 1)
    over = factory.post(
        "/h",
        data=d.body,
        content_type="application/json",
        headers={"X-Signature": d.headers["X-Signature"]},
    )
    assert capped(over).status_code == 413

    view = webhook_view(router)
    # A middleware read request.body first: the cached copy is used.
    early = factory.post(
        "/h",
        data=d.body,
        content_type="application/json",
        headers={"X-Signature": d.headers["X-Signature"]},
    )
    assert early.body == d.body
    answer = view(early)
    assert (answer.status_code, answer.content) == (200, b"unhandled\n")
    early_big = factory.post(
        "/h",
        data=d.body,
        content_type="application/json",
        headers={"X-Signature": d.headers["X-Signature"]},
    )
    early_big.META.pop("CONTENT_LENGTH")
    assert early_big.body == d.body
    assert capped(early_big).status_code == 413


def test_the_sandbox_delivers_to_django_over_loopback(seen: list[Event]) -> None:
    with (
        SandboxGateway.run_in_thread(webhook_retry_schedule=(0.05,), webhook_secret=SECRET) as gw,
        serve_wsgi(get_wsgi_application()) as url,
    ):
        gw.add_webhook_endpoint(url + "/webhooks/bpc/", events=["session.completed"])
        with BpcPay(api_key=gw.api_key, base_url=gw.base_url) as client:
            session = client.sessions.create(
                amount=700,
                currency="EUR",
                success_url="https://shop.example/success",
                failure_url="https://shop.example/failure",
            )
        assert gw.pay(session.id).succeeded
        (delivery,) = gw.wait_for_deliveries()
    assert [a.status for a in delivery.attempts] == [200]
    (event,) = seen
    assert isinstance(event.data.object, Session)
    assert event.data.object.id == session.id


def test_a_stream_longer_than_the_cap_is_cut_off() -> None:
    # Django bounds the stream by Content-Length; a server that streams without one (or a
    # custom request class) still meets the cap.
    from bpcpay.contrib.django import _read_body

    class Streaming:
        def __init__(self) -> None:
            self.META: dict[str, str] = {}
            self.reads = 0

        def read(self, size: int) -> bytes:
            self.reads += 1
            return b"x" * size

    request = Streaming()
    assert _read_body(request, 100_000) is None
    assert request.reads == 2  # stopped as soon as the cap was passed


def test_a_chunked_delivery_is_handled_under_gunicorn() -> None:
    # Transfer-Encoding: chunked, no Content-Length: Django's own stream reads as empty, so the
    # view answered 400, which the gateway retries until it gives up (the event was lost).
    body = completed_body("ps_chunked")
    raw = request_head("/webhooks/bpc", signed_headers(body, SECRET), length=None)
    env = {"BPCPAY_WEBHOOK_SECRET": SECRET}
    with serve(gunicorn("_contrib_apps:django_app()"), env=env) as server:
        status, answer = exchange(server.port, raw + chunked(body, 40))
        assert (status, answer.partition(b"\r\n\r\n")[2]) == (200, b"handled\n"), server.text()
        status, answer = exchange(server.port, raw + chunked(body, 40))
        assert (status, answer.partition(b"\r\n\r\n")[2]) == (200, b"duplicate\n")
        # Over the cap while streaming: refused, not read to the end.
        big = b"x" * (1024 * 1024 + 1)
        streamed = request_head("/webhooks/bpc", {}, length=None) + chunked(big, 64 * 1024)
        assert exchange(server.port, streamed)[0] == 413


def completed_body(session_id: str) -> bytes:
    obj = {"id": session_id, "amount": 1000, "currency": "EUR", "status": "complete"}
    event = {
        "created": "2026-03-28T08:30:00Z",
        "type": "session.completed",
        "data": {"object": obj},
    }
    return json.dumps(event).encode()
