"""Typed webhook handlers that mypy --strict and pyright must refuse: each line marked
``# expect-error`` (or the line after it, where a checker reports a decorated function) must
get an error, and no other line. Checked by ``python tests/typing/run.py``; never run."""

from __future__ import annotations

from bpcpay import Event, EventType, Payment, Refund, Session
from bpcpay.webhooks import WebhookRouter

router = WebhookRouter("whsec_typing_snippet")


@router.on("session.completed")  # expect-error: a Payment handler for a session event
def wrong_object(event: Event[Payment]) -> None:
    pass


@router.on(EventType.REFUND_CREATED)  # expect-error: a Session handler for a refund event
def wrong_family(event: Event[Session]) -> None:
    pass


@router.on("payment.*")
def attribute_of_another_object(event: Event[Payment]) -> None:
    print(event.data.object.payment_url)  # expect-error: a Payment has no payment_url


def refund_handler(event: Event[Refund]) -> None:
    pass


router.add_handler("payment.funded", refund_handler)  # expect-error: a Refund handler
