"""Webhook deliveries: body, headers, signature, retries, event selection, resend."""

from __future__ import annotations

import json
import re
from typing import Any

import pytest

from bpcpay import DEFAULT_API_VERSION, InvalidArgumentError, Payment, Session
from bpcpay.sandbox import ManualClock, SandboxGateway, WebhookEndpoint
from bpcpay.webhooks import construct_event

REQUEST_ID = re.compile(r"req_[0-9a-f-]{36}")
SESSION = {
    "amount": 10000,
    "currency": "EUR",
    "successUrl": "https://shop.example/success",
    "failureUrl": "https://shop.example/failure",
}


async def create_and_pay(gw: SandboxGateway, http: Any) -> str:
    async with http.post(
        gw.base_url + "/sessions", json=SESSION, headers={"X-Api-Key": gw.api_key}
    ) as response:
        session_id: str = (await response.json())["id"]
    assert (await gw.pay(session_id)).succeeded
    return session_id


@pytest.mark.asyncio
async def test_deliveries_are_signed_and_parse_with_the_sdk(
    gw: SandboxGateway, http: Any, receiver: Any
) -> None:
    """[doc: webhooks, redirect-integration] Each delivery is a JSON ``POST`` with
    ``Content-Type``, ``X-Version``, ``X-Signature`` (an HMAC keyed by the secret) and
    ``API-Request-Id: req_<uuid>``; the body is ``{created, type, data.object}``, the object a
    Session or Payment snapshot; one API call (the payment) yields several events."""
    gw.add_webhook_endpoint(receiver.url)
    session_id = await create_and_pay(gw, http)
    deliveries = await gw.wait_for_deliveries()
    types = ["payment.created", "payment.succeeded", "session.completed"]
    assert [d.event.type for d in deliveries] == types
    assert all(d.succeeded and len(d.attempts) == 1 for d in deliveries)
    assert len(receiver.received) == 3
    for (body, headers), delivery in zip(receiver.received, deliveries, strict=True):
        assert headers["Content-Type"] == "application/json"
        assert headers["X-Version"] == DEFAULT_API_VERSION
        assert headers["API-Request-Id"] == delivery.id
        assert REQUEST_ID.fullmatch(delivery.id)
        assert body == delivery.event.body
        event = construct_event(body, headers, secret=gw.webhook_secret)
        assert event.request_id == delivery.id
        assert set(json.loads(body)) == {"created", "type", "data"}
    completed = construct_event(*receiver.received[-1], secret=gw.webhook_secret)
    assert completed.type == "session.completed"
    assert isinstance(completed.data.object, Session)
    assert completed.data.object.id == session_id
    assert completed.data.object.status == "complete"
    assert completed.data.object.payment_status == "paid"
    succeeded = construct_event(*receiver.received[1], secret=gw.webhook_secret)
    assert isinstance(succeeded.data.object, Payment)
    assert succeeded.data.object.session == session_id
    assert succeeded.created == gw.now().replace(microsecond=0)


@pytest.mark.asyncio
async def test_a_wrong_secret_does_not_verify(gw: SandboxGateway, http: Any, receiver: Any) -> None:
    """[doc: webhooks] The signature is keyed by the secret: another secret never verifies."""
    from bpcpay import SignatureVerificationError

    gw.add_webhook_endpoint(receiver.url)
    await create_and_pay(gw, http)
    await gw.wait_for_deliveries()
    with pytest.raises(SignatureVerificationError):
        construct_event(*receiver.received[0], secret="whsec_other")


@pytest.mark.asyncio
async def test_failed_attempts_are_retried_with_the_same_id(
    gw: SandboxGateway, http: Any, receiver: Any
) -> None:
    """[doc: direct-integration] The store answers HTTP 200: anything else is retried (the same
    bytes, the same ``API-Request-Id``)."""
    gw.add_webhook_endpoint(receiver.url, events=["session.completed"])
    receiver.answers = [500, 404]
    await create_and_pay(gw, http)
    (delivery,) = await gw.wait_for_deliveries()
    assert [a.status for a in delivery.attempts] == [500, 404, 200]
    assert [a.number for a in delivery.attempts] == [1, 2, 3]
    assert delivery.succeeded
    ids = {headers["API-Request-Id"] for _, headers in receiver.received}
    assert ids == {delivery.id}
    bodies = {body for body, _ in receiver.received}
    assert len(bodies) == 1


@pytest.mark.asyncio
async def test_delivery_gives_up_after_the_schedule(
    gw: SandboxGateway, http: Any, receiver: Any
) -> None:
    gw.add_webhook_endpoint(receiver.url, events=["session.completed"])
    receiver.answers = [503, 503, 503, 200]
    await create_and_pay(gw, http)
    (delivery,) = await gw.wait_for_deliveries()
    assert delivery.state == "failed"
    assert [a.status for a in delivery.attempts] == [503, 503, 503]
    (resent,) = await gw.resend(delivery.id)
    assert resent is delivery
    assert delivery.succeeded
    assert [a.number for a in delivery.attempts] == [1, 2, 3, 4]
    assert receiver.received[-1][1]["API-Request-Id"] == delivery.id


@pytest.mark.asyncio
async def test_connection_errors_are_retried(clock: ManualClock, http: Any) -> None:
    # A port nothing listens on: bind one, note it, close it.
    import socket

    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    sock.close()
    async with SandboxGateway(
        clock=clock,
        webhook_retry_schedule=(0.005,),
        webhook_endpoints=[
            WebhookEndpoint(
                url=f"http://127.0.0.1:{port}/hook", events=frozenset({"session.completed"})
            )
        ],
    ) as gateway:
        await create_and_pay(gateway, http)
        (delivery,) = await gateway.wait_for_deliveries()
    assert delivery.state == "failed"
    assert len(delivery.attempts) == 2
    assert all(a.status is None and a.error for a in delivery.attempts)


@pytest.mark.asyncio
async def test_event_selection_filters_per_endpoint(
    gw: SandboxGateway, http: Any, receiver: Any
) -> None:
    everything = gw.add_webhook_endpoint(receiver.url)
    only_sessions = gw.add_webhook_endpoint(
        receiver.url + "?only=sessions", events=["session.completed", "session.expired"]
    )
    await create_and_pay(gw, http)
    deliveries = await gw.wait_for_deliveries()
    assert len([d for d in deliveries if d.endpoint == everything]) == 3
    selected = [d for d in deliveries if d.endpoint == only_sessions]
    assert [d.event.type for d in selected] == ["session.completed"]
    assert len({d.id for d in deliveries}) == len(deliveries)
    assert gw.webhook_endpoints == [everything, only_sessions]


@pytest.mark.asyncio
async def test_resend_an_event_makes_new_deliveries(
    gw: SandboxGateway, http: Any, receiver: Any
) -> None:
    gw.add_webhook_endpoint(receiver.url, events=["session.completed"])
    await create_and_pay(gw, http)
    (first,) = await gw.wait_for_deliveries()
    event = next(e for e in gw.events if e.type == "session.completed")
    (again,) = await gw.resend(event.id)
    assert again.id != first.id
    assert again.event is event
    assert again.succeeded
    assert receiver.received[-1][0] == receiver.received[0][0]
    with pytest.raises(KeyError):
        await gw.resend("evt_unknown")


@pytest.mark.asyncio
async def test_deliveries_do_not_hold_up_the_api(
    clock: ManualClock, http: Any, receiver: Any
) -> None:
    receiver.answers = [500] * 10
    async with SandboxGateway(
        clock=clock, webhook_retry_schedule=(30.0,), webhook_endpoints=[receiver.url]
    ) as gateway:
        await create_and_pay(gateway, http)
        assert gateway.state.sessions  # the API answered while retries wait 30 s
        with pytest.raises(TimeoutError):
            await gateway.wait_for_deliveries(timeout=0.05)
        assert all(d.state == "pending" for d in gateway.deliveries)
    # Stopping the gateway cancels the waiting retries instead of hanging for 30 s.


@pytest.mark.asyncio
async def test_expiry_event_is_delivered(gw: SandboxGateway, http: Any, receiver: Any) -> None:
    from datetime import timedelta

    gw.add_webhook_endpoint(receiver.url)
    async with http.post(
        gw.base_url + "/sessions", json=SESSION, headers={"X-Api-Key": gw.api_key}
    ) as response:
        session_id = (await response.json())["id"]
    gw.advance_clock(timedelta(minutes=20))
    (delivery,) = await gw.wait_for_deliveries()
    event = construct_event(*receiver.received[0], secret=gw.webhook_secret)
    assert event.type == "session.expired"
    assert isinstance(event.data.object, Session)
    assert event.data.object.id == session_id
    assert event.data.object.status == "expired"
    assert delivery.succeeded


def test_endpoint_arguments_are_checked() -> None:
    gateway = SandboxGateway()
    with pytest.raises(ValueError, match="url"):
        gateway.add_webhook_endpoint("127.0.0.1:8080/hook")
    with pytest.raises(InvalidArgumentError, match="events"):
        gateway.add_webhook_endpoint("http://127.0.0.1:1/h", events="session.completed")
    with pytest.raises(ValueError, match="schedule"):
        SandboxGateway(webhook_retry_schedule=(-1.0,))
