"""Event: the body of a webhook delivery, ``{created, type, data: {object}}``, typed by its object.

``Event`` is generic in what ``data.object`` is: ``Event[Session]`` for the ``session.*`` types,
``Event[Payment]`` for ``payment.*``, ``Event[Refund]`` for ``refund.*`` and
``Event[PaymentMethod]`` for ``paymentMethod.*``. The ``Literal`` aliases below name the known
types of each family (and their ``prefix.*`` patterns), so that the router's ``on`` and
``add_handler`` can give a handler of ``session.completed`` an ``Event[Session]``, and type
checkers refuse a handler declared for another object. A bare ``Event`` is ``Event[Any]``, as
an event of a type no one knows in advance is: its object is one of the models, or the raw
JSON mapping of an unknown type (``EventObject``), told apart with ``isinstance``.

Imports attrs and the other models only; type checkers read ``typing_extensions`` (bundled
with them) for the TypeVar's default, which the running program never imports.
"""

from __future__ import annotations

import typing
from collections.abc import Callable, Mapping
from datetime import datetime
from typing import TYPE_CHECKING, Any, Final, Generic, Literal, TypeAlias

import attrs

from ._base import APIObject
from .payment_methods import PaymentMethod
from .payments import Payment
from .refunds import Refund
from .sessions import Session

__all__ = [
    "Event",
    "EventData",
    "EventObject",
    "EventType",
    "PaymentEventType",
    "PaymentMethodEventType",
    "RefundEventType",
    "SessionEventType",
]


class EventType:
    """Known event types. ``Event.type`` stays a plain ``str``: unknown types still parse.

    Which flow emits which, in order [doc: direct-integration, redirect-integration, webhooks]:
    a paid session ``session.completed``; an expired one ``session.expired``; a direct one-step
    payment ``payment.created`` then ``payment.succeeded``; a declined attempt
    ``payment.created`` then ``payment.failed``; a two-step hold ``payment.created`` then
    ``payment.amountCapturableUpdated``; each capture ``payment.funded``, and the last one
    ``payment.succeeded`` too; a cancel ``payment.canceled``.
    """

    SESSION_COMPLETED: Final = "session.completed"
    SESSION_EXPIRED: Final = "session.expired"
    PAYMENT_CREATED: Final = "payment.created"
    PAYMENT_SUCCEEDED: Final = "payment.succeeded"
    PAYMENT_FAILED: Final = "payment.failed"
    PAYMENT_CANCELED: Final = "payment.canceled"
    PAYMENT_AMOUNT_CAPTURABLE_UPDATED: Final = "payment.amountCapturableUpdated"
    PAYMENT_FUNDED: Final = "payment.funded"
    # The names below are [inferred]: BPC documents the objects, not these event names.
    REFUND_CREATED: Final = "refund.created"
    REFUND_SUCCEEDED: Final = "refund.succeeded"
    REFUND_FAILED: Final = "refund.failed"
    PAYMENT_METHOD_CREATED: Final = "paymentMethod.created"


# The event types of each family, as types (the router's overloads read them). Each is the
# family's EventType values and its "prefix.*" pattern; tests/test_models.py checks that they
# and EventType name the same types, and that each family's prefix parses to its model.
#: Event types (and the pattern) whose object is a Session.
SessionEventType: TypeAlias = Literal["session.completed", "session.expired", "session.*"]
#: Event types (and the pattern) whose object is a Payment.
PaymentEventType: TypeAlias = Literal[
    "payment.created",
    "payment.succeeded",
    "payment.failed",
    "payment.canceled",
    "payment.amountCapturableUpdated",
    "payment.funded",
    "payment.*",
]
#: Event types (and the pattern) whose object is a Refund [inferred names].
RefundEventType: TypeAlias = Literal[
    "refund.created", "refund.succeeded", "refund.failed", "refund.*"
]
#: Event types (and the patterns) whose object is a PaymentMethod [inferred names; both
#: spellings of the prefix parse].
PaymentMethodEventType: TypeAlias = Literal[
    "paymentMethod.created", "paymentMethod.*", "payment_method.*"
]

#: What ``event.data.object`` can be: a typed snapshot, or the raw JSON for unknown types.
EventObject: TypeAlias = Session | Payment | Refund | PaymentMethod | Mapping[str, Any]

if TYPE_CHECKING:
    from typing_extensions import TypeVar

    #: The type of ``data.object``; a bare ``Event`` is ``Event[Any]``.
    ObjectT = TypeVar("ObjectT", covariant=True, default=Any)
else:
    # The default (PEP 696) is for type checkers; the running program needs none.
    ObjectT = typing.TypeVar("ObjectT", covariant=True)


@attrs.frozen(kw_only=True)
class EventData(Generic[ObjectT]):
    """The ``data`` member of an event."""

    object: ObjectT


@attrs.frozen(kw_only=True)
class Event(APIObject, Generic[ObjectT]):
    """One webhook event.

    ``data.object`` is a Session for ``session.*`` events, a Payment for ``payment.*``, a Refund
    for ``refund.*`` and a PaymentMethod for ``paymentMethod.*``; for any other type it is the
    raw JSON mapping. Annotate a handler with the type it gets (``Event[Session]`` for
    ``router.on("session.completed")``): type checkers then know ``event.data.object``'s
    fields without an ``isinstance``, and refuse a handler declared for another object.

    ``request_id`` is the delivery's ``API-Request-Id``: it identifies the delivery for logs and
    support, but it is not signed, so never de-duplicate on it (the router keys on signed
    content).

    Attributes:
        reconciled: True for an event the router synthesized while reconciling, from
            ``sessions.retrieve``, ``payments.retrieve`` or ``refunds.retrieve`` (no delivery,
            no signature, no request id); False for a delivery.
    """

    type: str
    created: datetime | None
    data: EventData[ObjectT]
    reconciled: bool = attrs.field(default=False, kw_only=True)


# Handlers of each family, for the router's decorator (``WebhookRouter.on`` returns the
# function it was given, typed as it was declared).
#: A handler of any event (of a type not known in advance): it must take every object.
AnyEventHandlerT = typing.TypeVar("AnyEventHandlerT", bound=Callable[[Event[EventObject]], object])
#: A handler of session events.
SessionHandlerT = typing.TypeVar("SessionHandlerT", bound=Callable[[Event[Session]], object])
#: A handler of payment events.
PaymentHandlerT = typing.TypeVar("PaymentHandlerT", bound=Callable[[Event[Payment]], object])
#: A handler of refund events.
RefundHandlerT = typing.TypeVar("RefundHandlerT", bound=Callable[[Event[Refund]], object])
#: A handler of payment method events.
PaymentMethodHandlerT = typing.TypeVar(
    "PaymentMethodHandlerT", bound=Callable[[Event[PaymentMethod]], object]
)
