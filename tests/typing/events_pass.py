"""Typed webhook handlers that mypy --strict and pyright must accept, with the types they must
see (``assert_type``). Checked by ``python tests/typing/run.py`` (a step of .ci/run); never run."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from typing_extensions import assert_type

from bpcpay import Event, EventType, Payment, PaymentMethod, Refund, Session
from bpcpay.webhooks import WebhookRouter, construct_event

router = WebhookRouter("whsec_typing_snippet")


@router.on("session.completed")
def completed(event: Event[Session]) -> None:
    # The object is a Session, no isinstance needed.
    assert_type(event.data.object, Session)
    assert_type(event.data.object.payment_status, str | None)
    assert_type(event.data.object.payment, str | None)


@router.on(EventType.SESSION_EXPIRED)
def expired(event: Event[Session]) -> None:
    assert_type(event.data.object.expires_at, datetime | None)


@router.on("payment.*")
async def any_payment(event: Event[Payment]) -> None:
    assert_type(event.data.object, Payment)
    assert_type(event.data.object.amount_capturable, int | None)


@router.on(EventType.PAYMENT_FUNDED, EventType.PAYMENT_SUCCEEDED, "payment.canceled")
def funded(event: Event[Payment]) -> None:
    assert_type(event.data.object.amount_received, int | None)


@router.on(EventType.REFUND_SUCCEEDED)
def refunded(event: Event[Refund]) -> None:
    assert_type(event.data.object.payment, str)


@router.on("paymentMethod.created")
def stored(event: Event[PaymentMethod]) -> None:
    assert_type(event.data.object, PaymentMethod)


@router.on("session.completed")
def loose(event: Event) -> None:
    # A handler of any event may take a known type too; a bare Event is Event[Any].
    obj = event.data.object
    if isinstance(obj, Session):
        assert_type(obj, Session)


@router.on("merchant.somethingNew", "*")
def unknown(event: Event[Any]) -> None:
    # An unknown type is accepted, with Event[Any]-like typing.
    assert_type(event.data.object, Any)


def typed_elsewhere(event: Event[Session]) -> None:
    pass


router.add_handler("session.completed", typed_elsewhere)
router.add_handler(EventType.SESSION_COMPLETED, typed_elsewhere)
router.add_handler("payment.funded", funded)
router.add_handler("not.known.yet", loose)

# The decorator gives the function back as it was declared.
assert_type(completed(construct_event(b"{}", {}, secret="s")), None)
assert_type(construct_event(b"{}", {}, secret="s"), Event[Any])
