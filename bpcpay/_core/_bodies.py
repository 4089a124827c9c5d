"""Request bodies as the contract gives them: one table of fields per body, and one checker per
nested shape, shared by the SDK (before anything is sent) and the sandbox (on receipt).

A checker takes the name to report and a value in wire form (camelCase JSON) and raises
:class:`~bpcpay.InvalidArgumentError` naming the offending field. The SDK passes its keyword
(``setup_future_usage``), the sandbox the wire name (``setupFutureUsage``), so
``setup_future_usage.recurringModel.recurrent.frequency`` and
``setupFutureUsage.recurringModel.recurrent.frequency`` come from one piece of logic.

Typed SDK arguments accept the model (``SetupFutureUsage(...)``) or a plain mapping; a mapping
is wire form and is sent as given (checked, never reshaped). A refusal names the field as the
caller wrote it: ``card.exp_month`` for a PaymentCard, ``card.expiryMonth`` for a mapping. Card
numbers and CVCs never appear in a message. Pure: no I/O.
"""

from __future__ import annotations

import typing
from collections.abc import Callable, Mapping
from typing import Any, Final

import attrs

from .._exceptions import InvalidArgumentError
from ..models import (
    Address,
    CustomerDetails,
    PaymentCard,
    SetupFutureUsage,
    StoredCardCategory,
)
from ._checks import check_int, check_text
from ._converter import parse_date, unstructure, wire_key
from ._requests import check_string, encode_json, luhn_ok

__all__ = [
    "CAPTURE_FIELDS",
    "PAYMENT_CREATE_FIELDS",
    "REFUND_CREATE_FIELDS",
    "SESSION_CREATE_FIELDS",
    "STORED_CARD_CATEGORIES",
    "BodyField",
    "check_card",
    "check_customer_details",
    "check_payment_method",
    "check_setup_future_usage",
    "merge_extra_body",
    "stores_card",
]


@attrs.frozen
class BodyField:
    """One top-level field of a request body.

    Attributes:
        wire: the JSON key (``successUrl``).
        argument: the SDK keyword that sets it (``success_url``).
        source: ``"doc: <page>[, <page>]"`` (published) or ``"inferred"`` (our reading).
        required: the body is refused without it.
    """

    wire: str
    argument: str
    source: str
    required: bool = False


#: ``POST /sessions`` [doc: redirect-integration]; the contract's "Session create" table.
SESSION_CREATE_FIELDS: Final = (
    BodyField("amount", "amount", "doc: redirect-integration", required=True),
    BodyField("currency", "currency", "doc: redirect-integration", required=True),
    BodyField("successUrl", "success_url", "doc: redirect-integration", required=True),
    BodyField("failureUrl", "failure_url", "doc: redirect-integration", required=True),
    # paymentData.captureMethod: the only member of paymentData bpcpay sends.
    BodyField("paymentData", "capture_method", "doc: two-step"),
    BodyField("merchantCustomerId", "merchant_customer_id", "doc: stored-payment-methods"),
    BodyField("setupFutureUsage", "setup_future_usage", "doc: stored-payment-methods"),
    # Returned by the gateway [doc: redirect-integration]; that they can be sent is our reading.
    BodyField("merchantReferenceId", "merchant_reference_id", "inferred"),
    BodyField("locale", "locale", "inferred"),
    BodyField("metadata", "metadata", "inferred"),
    BodyField("customerDetails", "customer_details", "inferred"),
    BodyField("expiresAt", "expires_at", "inferred"),
)

#: ``POST /payments`` [doc: direct-integration]; the contract's "Payment create" section.
PAYMENT_CREATE_FIELDS: Final = (
    BodyField("amount", "amount", "doc: direct-integration", required=True),
    BodyField("currency", "currency", "doc: direct-integration", required=True),
    # {"card": {...}}: the block is published, the card's field names are inferred (PaymentCard).
    BodyField("paymentMethod", "card", "doc: direct-integration"),
    BodyField("storedPaymentMethodId", "stored_payment_method_id", "doc: direct-integration"),
    BodyField("captureMethod", "capture_method", "doc: two-step, direct-integration"),
    BodyField("customerDetails", "customer_details", "doc: direct-integration"),
    BodyField("merchantCustomerId", "merchant_customer_id", "doc: stored-payment-methods"),
    BodyField("setupFutureUsage", "setup_future_usage", "doc: stored-payment-methods"),
    BodyField("merchantReferenceId", "merchant_reference_id", "inferred"),
    BodyField("metadata", "metadata", "inferred"),
)

#: ``POST /payments/{id}/capture``: the path is published, the body is our reading.
CAPTURE_FIELDS: Final = (BodyField("amount", "amount", "inferred"),)

#: ``POST /refunds``: refunds exist [doc: cancel-refund, webhooks]; path and body are inferred.
REFUND_CREATE_FIELDS: Final = (
    BodyField("payment", "payment_id", "inferred", required=True),
    BodyField("amount", "amount", "inferred"),
    BodyField("reason", "reason", "inferred"),
    BodyField("metadata", "metadata", "inferred"),
)

#: ``setupFutureUsage.category`` values [doc: stored-payment-methods].
STORED_CARD_CATEGORIES: Final = (
    StoredCardCategory.EMPTY,
    StoredCardCategory.UNSCHEDULED,
    StoredCardCategory.RECURRENT,
    StoredCardCategory.INSTALLMENT,
)
#: ``recurringModel.recurrent.frequency``: minimum days between payments, at most 4000 [doc].
MAX_FREQUENCY: Final = 4000
_MAX_TEXT = 1024


# --- helpers -----------------------------------------------------------------------------------


def _prune(value: Any) -> Any:
    """A model's wire form without its unset (None) members, at every level."""
    if isinstance(value, dict):
        return {k: _prune(v) for k, v in value.items() if v is not None}
    return value


def _python_path(model: type[Any], wire_path: str) -> str:
    """``recurringModel.recurrent.frequency`` inside a model, as its attribute names
    (``recurring_model.recurrent.frequency``); segments it has no field for stay as they are."""
    names: list[str] = []
    cls: Any = model
    for segment in wire_path.split("."):
        field = None
        if cls is not None:
            attrs.resolve_types(cls)
            field = next((f for f in attrs.fields(cls) if wire_key(f) == segment), None)
        if field is None:
            names.append(segment)
            cls = None
            continue
        names.append(field.name)
        cls = next((t for t in typing.get_args(field.type) if attrs.has(t)), None)
    return ".".join(names)


def _checked_shape(
    argument: str,
    value: object,
    model: type[Any],
    check: Callable[[str, dict[str, Any]], None],
) -> dict[str, Any]:
    """``value`` (a ``model`` or a mapping in wire form) as the dict to send, once ``check``
    accepted it; a refusal inside a model names its attributes, not its wire keys."""
    if isinstance(value, model):
        data: dict[str, Any] = _prune(unstructure(value))
    elif isinstance(value, Mapping):
        if not all(isinstance(key, str) for key in value):
            raise InvalidArgumentError(argument, "must have string keys (wire form, camelCase)")
        data = dict(value)
    else:
        raise InvalidArgumentError(
            argument,
            f"must be a {model.__name__} or a mapping in wire form (camelCase keys), got "
            f"{type(value).__name__}",
        )
    try:
        check(argument, data)
    except InvalidArgumentError as err:
        prefix = argument + "."
        if not isinstance(value, model) or not err.argument.startswith(prefix):
            raise
        inner = _python_path(model, err.argument.removeprefix(prefix))
        raise InvalidArgumentError(prefix + inner, err.problem) from None
    try:
        encode_json(data)  # unknown members too: refused here, under the argument's name
    except InvalidArgumentError as err:
        raise InvalidArgumentError(argument, err.problem) from None
    return data


def _object(argument: str, value: object) -> Mapping[str, Any]:
    if not isinstance(value, Mapping):
        raise InvalidArgumentError(argument, f"must be an object, got {type(value).__name__}")
    return value


def _required(argument: str, data: Mapping[str, Any], key: str, why: str = "") -> Any:
    value = data.get(key)
    if value is None:
        raise InvalidArgumentError(f"{argument}.{key}", f"is required{why}")
    return value


# --- the card block ----------------------------------------------------------------------------


def check_card(argument: str, value: object) -> dict[str, Any]:
    """A PaymentCard, or a card in wire form: ``{number, expiryMonth, expiryYear, cvc,
    holderName?}`` [inferred names]. A PaymentCard's number may hold spaces (as printed); they
    are removed.

    Returns:
        The card object to send (``paymentMethod.card``).

    Raises:
        InvalidArgumentError: naming ``<argument>.<field>``; never the number or the CVC.
    """
    if isinstance(value, PaymentCard) and isinstance(value.number, str):
        value = attrs.evolve(value, number=value.number.replace(" ", ""))
    return _checked_shape(argument, value, PaymentCard, _check_card)


def _check_card(argument: str, card: dict[str, Any]) -> None:
    number = card.get("number")
    if not (
        isinstance(number, str)
        and number.isascii()
        and number.isdigit()
        and 12 <= len(number) <= 19
        and luhn_ok(number)
    ):
        raise InvalidArgumentError(
            f"{argument}.number", "must be 12 to 19 digits with a valid check digit"
        )
    check_int(f"{argument}.expiryMonth", card.get("expiryMonth"), minimum=1, maximum=12)
    check_int(f"{argument}.expiryYear", card.get("expiryYear"), minimum=2000, maximum=2100)
    cvc = card.get("cvc")
    if not (isinstance(cvc, str) and cvc.isascii() and cvc.isdigit() and len(cvc) in (3, 4)):
        raise InvalidArgumentError(f"{argument}.cvc", "must be 3 or 4 digits")
    if card.get("holderName") is not None:
        check_string(f"{argument}.holderName", card["holderName"], max_length=200)


def check_payment_method(argument: str, value: object) -> dict[str, Any]:
    """The ``paymentMethod`` block of a direct payment: ``{"card": <check_card(value)>}``.

    Args:
        argument: the name to report (``card``).
        value: a PaymentCard, or a card in wire form.

    Returns:
        The block to send.

    Raises:
        InvalidArgumentError: see :func:`check_card`.
    """
    return {"card": check_card(argument, value)}


# --- customerDetails ---------------------------------------------------------------------------

#: Text members of ``customerDetails`` and of its ``address``, read off the models (which hold
#: the names): ``address`` is published [doc: direct-integration], the others are [inferred].
#: Unknown members are sent and accepted as they are.
_CUSTOMER_TEXT = tuple(wire_key(f) for f in attrs.fields(CustomerDetails) if f.name != "address")
_ADDRESS_TEXT = tuple(wire_key(f) for f in attrs.fields(Address))


def check_customer_details(argument: str, value: object) -> dict[str, Any]:
    """CustomerDetails, or its wire form: text members and an ``address`` object.

    Returns:
        The object to send (a mapping as given, with its unknown members).

    Raises:
        InvalidArgumentError: naming ``<argument>.address.city`` and the like.
    """
    return _checked_shape(argument, value, CustomerDetails, _check_customer_details)


def _check_customer_details(argument: str, data: dict[str, Any]) -> None:
    for key in _CUSTOMER_TEXT:
        if data.get(key) is not None:
            check_text(f"{argument}.{key}", data[key], max_length=_MAX_TEXT)
    address = data.get("address")
    if address is not None:
        address = _object(f"{argument}.address", address)
        for key in _ADDRESS_TEXT:
            if address.get(key) is not None:
                check_text(f"{argument}.address.{key}", address[key], max_length=_MAX_TEXT)


# --- setupFutureUsage --------------------------------------------------------------------------


def _check_recurrent(argument: str, value: object) -> None:
    recurrent = _object(argument, value)
    expiry = _required(argument, recurrent, "expiry")
    try:
        parse_date(expiry)
    except (TypeError, ValueError):
        raise InvalidArgumentError(
            f"{argument}.expiry", "must be a date written YYYY-MM-DD"
        ) from None
    check_int(
        f"{argument}.frequency",
        _required(argument, recurrent, "frequency"),
        minimum=1,
        maximum=MAX_FREQUENCY,
    )


def check_setup_future_usage(argument: str, value: object) -> dict[str, Any]:
    """SetupFutureUsage, or its wire form [doc: stored-payment-methods]::

        {"category": "recurrent",
         "recurringModel": {"recurrent": {"expiry": "2026-12-31", "frequency": 30}}}

    ``category`` is mandatory; ``recurringModel`` is mandatory for ``recurrent`` (with
    ``recurrent.expiry`` and ``recurrent.frequency``) and ``installment`` (with ``installment``,
    whose fields are unpublished).

    Returns:
        The object to send (a mapping as given).

    Raises:
        InvalidArgumentError: naming the nested field, e.g.
            ``<argument>.recurringModel.recurrent.frequency``.
    """
    return _checked_shape(argument, value, SetupFutureUsage, _check_setup_future_usage)


def _check_setup_future_usage(argument: str, data: dict[str, Any]) -> None:
    category = data.get("category")
    if category not in STORED_CARD_CATEGORIES:
        raise InvalidArgumentError(
            f"{argument}.category",
            f"must be one of {', '.join(map(repr, STORED_CARD_CATEGORIES))}, got {category!r}",
        )
    model = data.get("recurringModel")
    if category in (StoredCardCategory.RECURRENT, StoredCardCategory.INSTALLMENT):
        model = _required(argument, data, "recurringModel", f" for category {category!r}")
    if model is None:
        return
    path = f"{argument}.recurringModel"
    model = _object(path, model)
    recurrent, installment = model.get("recurrent"), model.get("installment")
    if category == StoredCardCategory.RECURRENT:
        recurrent = _required(path, model, "recurrent", " for category 'recurrent'")
    if category == StoredCardCategory.INSTALLMENT:
        installment = _required(path, model, "installment", " for category 'installment'")
    if recurrent is not None:
        _check_recurrent(f"{path}.recurrent", recurrent)
    if installment is not None:
        _object(f"{path}.installment", installment)


def stores_card(setup_future_usage: Mapping[str, Any] | None) -> bool:
    """True when a checked ``setupFutureUsage`` asks to keep the card (any category but
    ``empty``) [inferred: the sandbox's rule].

    Args:
        setup_future_usage: the checked wire form, or None when the request had none.

    Returns:
        Whether the card is to be stored.
    """
    return (
        setup_future_usage is not None
        and setup_future_usage.get("category") != StoredCardCategory.EMPTY
    )


# --- extra_body --------------------------------------------------------------------------------


def merge_extra_body(body: dict[str, Any], extra_body: object) -> dict[str, Any]:
    """``body`` with the caller's extra top-level fields merged in (``extra_body=``).

    For a field bpcpay does not know yet. A key the keyword arguments already set is refused
    (pass that keyword instead), so nothing checked is silently replaced.

    Args:
        body: the body the keyword arguments built (not modified).
        extra_body: the caller's ``extra_body``.

    Returns:
        A new body with both.

    Raises:
        InvalidArgumentError: ``extra_body`` is not a str-keyed JSON object, or repeats a field.
    """
    if not isinstance(extra_body, Mapping):
        raise InvalidArgumentError(
            "extra_body", f"must be a mapping of JSON fields, got {type(extra_body).__name__}"
        )
    for key in extra_body:
        if not isinstance(key, str):
            raise InvalidArgumentError("extra_body", f"keys must be strings, got {key!r}")
        if key in body:
            raise InvalidArgumentError(
                "extra_body", f"{key!r} is already set by a keyword argument; pass it only once"
            )
    try:
        encode_json(extra_body)
    except InvalidArgumentError as exc:
        raise InvalidArgumentError("extra_body", exc.problem) from None
    return {**body, **extra_body}
