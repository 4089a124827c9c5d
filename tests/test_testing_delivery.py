"""``bpcpay.testing.sandbox_delivery``: a sandbox event as the delivery the gateway really sends
(the same bytes, the same signed headers), for a framework's test client; checked against a
delivery the gateway made to a real endpoint on loopback."""

from __future__ import annotations

import pytest
from aiohttp import web
from aiohttp.test_utils import TestServer

from bpcpay import AsyncBpcPay, BpcPay, InvalidArgumentError, Session
from bpcpay.sandbox import SandboxEvent, SandboxGateway
from bpcpay.testing import FAST_RETRY_SCHEDULE, sandbox_delivery, sync_sandbox
from bpcpay.webhooks import construct_event

#: The headers a delivery carries that a receiver reads (the gateway adds its User-Agent).
DELIVERY_HEADERS = ("Content-Type", "X-Signature", "X-Version", "API-Request-Id")


def _create(client: BpcPay) -> str:
    return client.sessions.create(
        amount=2400,
        currency="EUR",
        success_url="https://shop.example/ok",
        failure_url="https://shop.example/no",
    ).id


@pytest.mark.asyncio
async def test_it_is_what_the_gateway_sends() -> None:
    received: list[tuple[bytes, dict[str, str]]] = []

    async def endpoint(request: web.Request) -> web.Response:
        received.append((await request.read(), dict(request.headers)))
        return web.Response(text="ok")

    app = web.Application()
    app.router.add_post("/hooks", endpoint)
    async with (
        TestServer(app, host="127.0.0.1") as server,
        SandboxGateway(
            webhook_retry_schedule=FAST_RETRY_SCHEDULE,
            webhook_endpoints=[str(server.make_url("/hooks"))],
        ) as gw,
        AsyncBpcPay(api_key=gw.api_key, base_url=gw.base_url) as client,
    ):
        session = await client.sessions.create(
            amount=2400,
            currency="EUR",
            success_url="https://shop.example/ok",
            failure_url="https://shop.example/no",
        )
        assert (await gw.pay(session.id)).succeeded
        await gw.wait_for_deliveries()
        assert len(received) == len(gw.events) >= 2
        for event, (sent_body, sent_headers) in zip(gw.events, received, strict=True):
            body, headers = sandbox_delivery(gw, event, request_id=sent_headers["API-Request-Id"])
            assert body == sent_body
            assert {h: headers[h] for h in DELIVERY_HEADERS} == {
                h: sent_headers[h] for h in DELIVERY_HEADERS
            }
        # Without a request id, each call is a new delivery of the event, as the gateway's are.
        first, second = (sandbox_delivery(gw, gw.events[-1])[1] for _ in range(2))
        assert first["API-Request-Id"] != second["API-Request-Id"]
        parsed = construct_event(*sandbox_delivery(gw, gw.events[-1]), secret=gw.webhook_secret)
        assert parsed.type == "session.completed"
        assert isinstance(parsed.data.object, Session) and parsed.data.object.id == session.id


def test_the_threaded_gateway_too() -> None:
    with sync_sandbox() as gw, BpcPay(api_key=gw.api_key, base_url=gw.base_url) as client:
        session_id = _create(client)
        assert gw.pay(session_id).succeeded
        body, headers = sandbox_delivery(gw, gw.events[-1])
        event = construct_event(body, headers, secret=gw.webhook_secret)
        assert event.type == "session.completed"
        assert headers["X-Version"] == gw.gateway.api_version


def test_an_event_of_another_gateway_is_refused() -> None:
    with (
        sync_sandbox() as one,
        sync_sandbox() as other,
        BpcPay(api_key=one.api_key, base_url=one.base_url) as client,
    ):
        assert one.pay(_create(client)).succeeded
        event = one.events[-1]
        assert isinstance(event, SandboxEvent)
        with pytest.raises(InvalidArgumentError, match="event: must be one of the gateway"):
            sandbox_delivery(other, event)
        with pytest.raises(InvalidArgumentError, match="event: "):
            sandbox_delivery(one, "evt_x")  # type: ignore[arg-type]
