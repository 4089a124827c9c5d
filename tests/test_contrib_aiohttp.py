"""bpcpay.contrib.aiohttp against the sandbox: the gateway delivers to a real loopback server."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest
import pytest_asyncio
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer

from bpcpay import AsyncBpcPay
from bpcpay.contrib.aiohttp import setup_webhooks, webhook_handler
from bpcpay.models import Event, Session
from bpcpay.sandbox import SandboxGateway
from bpcpay.webhooks import WebhookRouter, sign

PATH = "/webhooks/bpc"


@pytest_asyncio.fixture
async def gw() -> AsyncIterator[SandboxGateway]:
    async with SandboxGateway(webhook_retry_schedule=(0.05, 0.05)) as gateway:
        yield gateway


async def pay_one(gw: SandboxGateway) -> Session:
    async with AsyncBpcPay(api_key=gw.api_key, base_url=gw.base_url) as client:
        session = await client.sessions.create(
            amount=2500,
            currency="EUR",
            success_url="https://shop.example/success",
            failure_url="https://shop.example/failure",
        )
    assert (await gw.pay(session.id)).succeeded
    await gw.wait_for_deliveries()
    return session


@pytest.mark.asyncio
async def test_sandbox_deliveries_are_verified_and_routed_on_the_apps_loop(
    gw: SandboxGateway,
) -> None:
    router = WebhookRouter(gw.webhook_secret)
    completed: list[Event] = []
    loops: list[asyncio.AbstractEventLoop] = []
    everything: list[str] = []

    @router.on("session.completed")
    async def on_completed(event: Event) -> None:
        loops.append(asyncio.get_running_loop())
        completed.append(event)

    router.add_handler("*", lambda event: everything.append(event.type))

    app = web.Application()
    route = setup_webhooks(app, router, path=PATH)
    assert route.method == "POST"
    async with TestServer(app, host="127.0.0.1") as server:
        gw.add_webhook_endpoint(str(server.make_url(PATH)))
        session = await pay_one(gw)

        deliveries = gw.deliveries
        assert deliveries
        assert all(d.succeeded and d.attempts[-1].status == 200 for d in deliveries)
        (event,) = completed
        assert isinstance(event.data.object, Session)
        assert event.data.object.id == session.id
        assert event.request_id in {d.id for d in deliveries}
        assert loops == [asyncio.get_running_loop()]
        assert sorted(everything) == sorted(d.event.type for d in deliveries)

        # The gateway sends the same delivery again: answered 200, not handled twice.
        (done,) = [d for d in deliveries if d.event.type == "session.completed"]
        await gw.resend(done.id)
        assert done.attempts[-1].status == 200
        assert len(completed) == 1


@pytest.mark.asyncio
async def test_a_failing_handler_gets_500_and_the_gateways_retry_runs_it_again(
    gw: SandboxGateway,
) -> None:
    router = WebhookRouter(gw.webhook_secret)
    calls: list[str] = []

    @router.on("session.completed")
    def flaky(event: Event) -> None:
        calls.append(event.type)
        if len(calls) == 1:
            raise RuntimeError("temporarily broken")

    app = web.Application()
    setup_webhooks(app, router, path=PATH)
    async with TestServer(app, host="127.0.0.1") as server:
        gw.add_webhook_endpoint(str(server.make_url(PATH)), events=["session.completed"])
        await pay_one(gw)
    (delivery,) = gw.deliveries
    assert [a.status for a in delivery.attempts] == [500, 200]
    assert delivery.succeeded
    assert calls == ["session.completed", "session.completed"]


@pytest.mark.asyncio
async def test_bad_signatures_and_the_size_cap() -> None:
    secret = "whsec_aiohttp_test_not_real"
    router = WebhookRouter(secret, max_bytes=1000)
    seen: list[str] = []
    router.add_handler("*", lambda event: seen.append(event.type))
    app = web.Application()
    app.router.add_post("/hook", webhook_handler(router))
    app.router.add_post("/tiny", webhook_handler(router, max_bytes=10))
    body = b'{"created":"2024-03-28T08:30:00Z","type":"x.y","data":{"object":{"id":"x_1"}}}'

    async def chunks(total: int) -> AsyncIterator[bytes]:
        for _ in range(total // 100):
            yield b" " * 100

    async with TestClient(TestServer(app, host="127.0.0.1")) as client:
        good = await client.post("/hook", data=body, headers={"X-Signature": sign(body, secret)})
        assert (good.status, await good.text()) == (200, "handled\n")
        bad = await client.post("/hook", data=body, headers={"X-Signature": "0" * 64})
        assert (bad.status, await bad.text()) == (400, "mismatch\n")
        unsigned = await client.post("/hook", data=body)
        assert unsigned.status == 400
        declared = await client.post("/hook", data=b" " * 1001, headers={"X-Signature": "0" * 64})
        assert (declared.status, await declared.text()) == (413, "too_large\n")
        # No Content-Length (chunked): the cap stops the read.
        streamed = await client.post("/hook", data=chunks(5000), headers={"X-Signature": "0" * 64})
        assert streamed.status == 413
        assert streamed.request_info.headers.get("Transfer-Encoding") == "chunked"
        small = await client.post("/hook", data=chunks(500), headers={"X-Signature": "0" * 64})
        assert (small.status, await small.text()) == (400, "mismatch\n")
        capped = await client.post("/tiny", data=body, headers={"X-Signature": sign(body, secret)})
        assert capped.status == 413
        wrong_method = await client.get("/hook")
        assert wrong_method.status == 405
    assert seen == ["x.y"]


@pytest.mark.asyncio
async def test_a_plain_handler_runs_in_a_worker_thread_and_the_app_keeps_serving() -> None:
    import threading

    router = WebhookRouter("whsec_thread_not_real")
    entered, release = threading.Event(), threading.Event()
    threads: list[int] = []

    @router.on("*")
    def slow(event: Event) -> None:
        threads.append(threading.get_ident())
        entered.set()
        assert release.wait(10)

    async def ping(request: web.Request) -> web.Response:
        return web.Response(text="pong")

    app = web.Application()
    setup_webhooks(app, router, path=PATH)
    app.router.add_get("/ping", ping)
    body = b'{"created": null, "type": "x.y", "data": {"object": {}}}'
    headers = {"X-Signature": sign(body, "whsec_thread_not_real")}
    async with TestServer(app, host="127.0.0.1") as server, TestClient(server) as client:
        delivery = asyncio.ensure_future(client.post(PATH, data=body, headers=headers))
        await asyncio.to_thread(entered.wait, 10)
        pong = await client.get("/ping")  # served while the handler blocks its thread
        assert await pong.text() == "pong"
        release.set()
        answer = await delivery
        assert (answer.status, await answer.text()) == (200, "handled\n")
    assert threads
    assert threads[0] != threading.get_ident()
