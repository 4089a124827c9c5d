"""Three partial captures end to end: the client captures, the sandbox emits and delivers, a
real WebhookRouter receives.

The gateway runs on a manual clock, so the three ``payment.funded`` events are created in the
same second: three different events (each payment snapshot differs) that a router must handle
all three times, none as a ``duplicate``. This needs the exactly-once issue's de-duplication
keys (issue 18); with the keys of ``type + object id + created`` the second and third merge
into the first.
"""

from __future__ import annotations

import pytest
from _sandbox_receivers import RouterReceiver

from bpcpay import AsyncBpcPay, Event, Payment
from bpcpay.sandbox import SandboxGateway


@pytest.mark.asyncio
async def test_three_partial_captures_are_three_handled_events(
    gw: SandboxGateway, router_receiver: RouterReceiver
) -> None:
    """[doc: two-step, webhooks] Partial and multiple captures, each a ``payment.funded``: the
    router handles all three (one second apart or not), and the last capture's
    ``payment.succeeded`` too."""
    router = router_receiver.router
    funded: list[tuple[int, int]] = []

    @router.on("payment.funded")
    def book(event: Event[Payment]) -> None:
        payment = event.data.object
        assert isinstance(payment, Payment)
        assert payment.amount_received is not None
        assert payment.amount_capturable is not None
        funded.append((payment.amount_received, payment.amount_capturable))

    async with AsyncBpcPay(api_key=gw.api_key, base_url=gw.base_url) as client:
        session = await client.sessions.create(
            amount=10000,
            currency="EUR",
            success_url="https://shop.example/done",
            failure_url="https://shop.example/retry",
            capture_method="manual",
        )
        assert (await gw.pay(session.id)).succeeded
        gw.add_webhook_endpoint(router_receiver.url, events=["payment.funded", "payment.succeeded"])
        payment_id = (await client.sessions.retrieve(session.id)).payment
        assert payment_id is not None
        for amount in (3000, 3000, 4000):
            await client.payments.capture(payment_id, amount=amount)
        final = await client.payments.retrieve(payment_id)
    await gw.wait_for_deliveries()

    assert (final.status, final.amount_received, final.amount_capturable) == ("succeeded", 10000, 0)
    created = {e.created for e in gw.events if e.type == "payment.funded"}
    assert len(created) == 1  # the three in one second: the case that must not merge
    # Deliveries run side by side: their order of arrival is not the order of the events.
    assert sorted(router_receiver.reasons) == ["handled"] * 3 + ["unhandled"]
    assert sorted(funded) == [(3000, 7000), (6000, 4000), (10000, 0)]
