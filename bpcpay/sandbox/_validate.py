"""Read and check request bodies with the SDK's own body declarations (``_core._bodies``:
the fields, their kinds and limits, what is required), plus what only a server can know (an
unknown currency, a deadline in the past, a body that is not JSON, the test rule for a
merchant's customer id, the size of the fields it does not know).

This module names no field of a body: the declarations do, and the server's own rules below are
keyed by the SDK's keyword of the field they judge. Each problem raises :class:`GatewayError`
with ``param`` set to the wire path of the field (``successUrl``,
``paymentMethod.card.expiryMonth``). Redirect URLs that are not absolute http(s) get 412, as
BPC answers; everything else 400. Card numbers and CVCs never appear in a message. Fields a
declaration does not know are kept (within :data:`MAX_UNKNOWN_BYTES`), to be returned as they
were sent.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Mapping
from datetime import datetime
from typing import Any, Final

import attrs

from .._core._wire import (
    CAPTURE,
    MAX_URL_LENGTH,
    PAYMENT_CREATE,
    REFUND_CREATE,
    SESSION_CREATE,
    Body,
    FieldMissing,
)
from .._exceptions import InvalidArgumentError
from ..models import CaptureMethod
from ._errors import ErrorType, GatewayError, invalid
from ._money import is_known_currency

__all__ = [
    "MAX_BODY_DEPTH",
    "MAX_UNKNOWN_BYTES",
    "CaptureInput",
    "CardInput",
    "OrderInput",
    "PaymentInput",
    "RefundInput",
    "SessionInput",
    "TokenInput",
    "parse_body",
    "parse_capture",
    "parse_card",
    "parse_payment",
    "parse_refund",
    "parse_session",
]

#: JSON nested deeper than this is refused with 400 (no request of the API comes close).
MAX_BODY_DEPTH: Final = 32
#: The fields of a body that its declaration does not know, kept to be returned as sent: at most
#: this many bytes of JSON in all (larger is refused with 400 naming the largest) [inferred].
MAX_UNKNOWN_BYTES: Final = 16 * 1024
#: In test, ``merchantCustomerId`` is 8 to 50 digits, latin letters, ``_`` or ``-``
#: [doc: stored-payment-methods].
_TEST_CUSTOMER_ID = re.compile(r"[0-9A-Za-z_-]{8,50}")
#: A JSON escape of a UTF-16 surrogate: decoded alone it is text that cannot be sent back.
_SURROGATE_ESCAPE = re.compile(rb"\\u[dD][89a-fA-F]")


@attrs.frozen(kw_only=True)
class OrderInput:
    """What a ``POST /sessions`` and a ``POST /payments`` body share: the terms a payment is
    made on. ``extra`` holds the fields bpcpay does not know."""

    amount: int
    currency: str
    capture_method: str = CaptureMethod.AUTOMATIC
    customer_details: dict[str, Any] = attrs.field(factory=dict)
    merchant_customer_id: str | None = None
    setup_future_usage: dict[str, Any] | None = None
    merchant_reference_id: str | None = None
    metadata: dict[str, str] = attrs.field(factory=dict)
    extra: dict[str, Any] = attrs.field(factory=dict)


@attrs.frozen(kw_only=True)
class SessionInput(OrderInput):
    """A checked ``POST /sessions`` body."""

    success_url: str
    failure_url: str
    locale: str | None = None
    expires_at: datetime | None = None


@attrs.frozen(kw_only=True)
class CardInput:
    """Card data of a direct payment; number and CVC stay out of every repr."""

    number: str = attrs.field(repr=False)
    exp_month: int
    exp_year: int
    cvc: str = attrs.field(repr=False)


@attrs.frozen(kw_only=True)
class TokenInput:
    """A card token in place of the card [doc: sdk_core_apiv2]; never shown in a repr."""

    token: str = attrs.field(repr=False)
    #: Its wire path, for the refusal of a token the gateway never issued.
    param: str


@attrs.frozen(kw_only=True)
class PaymentInput(OrderInput):
    """A checked ``POST /payments`` body: exactly one of ``card`` (card data or a token) and
    ``stored_payment_method_id``."""

    card: CardInput | TokenInput | None = None
    stored_payment_method_id: str | None = None


@attrs.frozen(kw_only=True)
class CaptureInput:
    """A checked ``POST /payments/{id}/capture`` body (none at all means everything)."""

    amount: int | None = None


@attrs.frozen(kw_only=True)
class RefundInput:
    """A checked ``POST /refunds`` body."""

    payment_id: str
    amount: int | None = None
    reason: str | None = None
    metadata: dict[str, str] = attrs.field(factory=dict)
    extra: dict[str, Any] = attrs.field(factory=dict)


def _no_constant(name: str) -> Any:
    raise ValueError(f"{name} is not JSON")


def _too_deep(data: Any) -> bool:
    """True when ``data`` nests objects or arrays deeper than MAX_BODY_DEPTH (no recursion)."""
    stack = [(data, 1)]
    while stack:
        value, depth = stack.pop()
        if isinstance(value, dict):
            children = value.values()
        elif isinstance(value, list):
            children = value  # type: ignore[assignment]
        else:
            continue
        if depth > MAX_BODY_DEPTH:
            return True
        stack.extend((child, depth + 1) for child in children)
    return False


def parse_body(raw: bytes, *, allow_empty: bool = False) -> dict[str, Any]:
    """The body as a JSON object, or 400: not UTF-8 JSON, ``NaN``, nested deeper than
    MAX_BODY_DEPTH, a lone surrogate, or not an object."""
    if not raw.strip():
        if allow_empty:
            return {}
        raise invalid(None, "The request body must be a JSON object.", "body_missing")
    try:
        data = json.loads(raw, parse_constant=_no_constant)
    except (ValueError, RecursionError):  # UnicodeDecodeError is a ValueError
        raise invalid(None, "The request body is not valid JSON.", "body_not_json") from None
    if not isinstance(data, dict):
        raise invalid(None, "The request body must be a JSON object.", "body_not_object")
    # Counting brackets first keeps the walk off the common, shallow bodies.
    if raw.count(b"{") + raw.count(b"[") > MAX_BODY_DEPTH and _too_deep(data):
        raise invalid(
            None, f"The request body nests deeper than {MAX_BODY_DEPTH} levels.", "body_too_deep"
        )
    if _SURROGATE_ESCAPE.search(raw) is not None:
        try:
            json.dumps(data, ensure_ascii=False).encode("utf-8")
        except UnicodeEncodeError:
            raise invalid(
                None, "The request body holds text that is not valid Unicode.", "body_not_unicode"
            ) from None
    return data


# --- the server's own rules, keyed by the SDK's keyword of the field they judge -------------

#: Fields whose refusal BPC answers with 412 when a string was sent (redirect URLs).
_ANSWERED_412: Final = frozenset({"success_url", "failure_url"})
Rule = Callable[[str, Any], Any]


def _known_currency(param: str, code: str) -> str:
    if not is_known_currency(code):
        raise invalid(
            param, f"{param} {code} is not a currency this gateway accepts.", "currency_unsupported"
        )
    return code


def _in_future(now: datetime) -> Rule:
    def check(param: str, when: datetime) -> datetime:
        if when <= now:
            raise InvalidArgumentError(param, "must be in the future")
        return when

    return check


def _test_customer_id(param: str, value: str) -> str:
    """The published test rule, on top of the declaration's string check."""
    if not _TEST_CUSTOMER_ID.fullmatch(value):
        raise InvalidArgumentError(
            param, "must be 8 to 50 digits, latin letters, '_' or '-' in the test environment"
        )
    return value


def _card_input(param: str, card: dict[str, Any]) -> CardInput | TokenInput:
    if "token" in card:
        return TokenInput(token=card["token"], param=f"{param}.token")
    return CardInput(
        number=card["number"],
        exp_month=card["expiryMonth"],
        exp_year=card["expiryYear"],
        cvc=card["cvc"],
    )


def _order_rules() -> dict[str, Rule]:
    """The rules every order (a session, a direct payment) is held to."""
    return {"currency": _known_currency, "merchant_customer_id": _test_customer_id}


def _refusal(data: Mapping[str, Any], err: InvalidArgumentError, keyword: str) -> GatewayError:
    """The gateway's answer to a refused field: 412 for a redirect URL sent as a string (of a
    length allowed) that is not one (as BPC answers a redirect URL it refuses), 400 otherwise."""
    value = data.get(err.argument)
    if keyword in _ANSWERED_412 and isinstance(value, str) and len(value) <= MAX_URL_LENGTH:
        return GatewayError(412, ErrorType.INVALID_REQUEST, "url_invalid", f"{err}.", err.argument)
    return invalid(err.argument, f"{err}.")


def _unknown(body: Body, data: Mapping[str, Any]) -> dict[str, Any]:
    """The fields ``body`` does not know, at most MAX_UNKNOWN_BYTES of JSON in all."""
    extra = body.unknown(data)
    sizes = {key: len(json.dumps(value, ensure_ascii=False)) for key, value in extra.items()}
    if sum(sizes.values()) > MAX_UNKNOWN_BYTES:
        largest = max(sizes, key=lambda key: sizes[key])
        raise invalid(
            largest,
            f"{largest}: fields this gateway does not know may hold at most "
            f"{MAX_UNKNOWN_BYTES} bytes of JSON in all.",
            "parameter_too_large",
        )
    return extra


def _parse(body: Body, data: Mapping[str, Any], rules: Mapping[str, Rule]) -> dict[str, Any]:
    """``data`` checked against its declaration, then the server's rules: the values by SDK
    keyword, and ``extra``, the fields the declaration does not know."""
    keyword_of = {field.wire: field.argument for field in body.fields}
    try:
        values = body.parse(data)
        for field in body.fields:
            rule = rules.get(field.argument)
            if rule is not None and field.argument in values:
                values[field.argument] = rule(field.wire, values[field.argument])
    except FieldMissing as err:
        raise invalid(err.argument, f"{err.argument} is required.", "parameter_missing") from None
    except InvalidArgumentError as err:
        keyword = keyword_of.get(err.argument, "")
        raise _refusal(data, err, keyword) from None
    values["extra"] = _unknown(body, data)
    return values


# --- bodies -----------------------------------------------------------------------------------


def parse_session(data: Mapping[str, Any], *, now: datetime) -> SessionInput:
    """Check a ``POST /sessions`` body (400/412 on the first bad field)."""
    rules = {**_order_rules(), "expires_at": _in_future(now)}
    return SessionInput(**_parse(SESSION_CREATE, data, rules))


def parse_payment(data: Mapping[str, Any]) -> PaymentInput:
    """Check a ``POST /payments`` body: exactly one of ``paymentMethod`` (a card block) and
    ``storedPaymentMethodId``."""
    rules = {**_order_rules(), "card": _card_input}
    return PaymentInput(**_parse(PAYMENT_CREATE, data, rules))


def parse_capture(data: Mapping[str, Any]) -> CaptureInput:
    """Check a capture body: none, or an optional positive ``amount`` (other fields are
    ignored: the answer is the payment, not an echo of the body)."""
    values = _parse(CAPTURE, data, {})
    del values["extra"]
    return CaptureInput(**values)


def parse_refund(data: Mapping[str, Any]) -> RefundInput:
    """Check a ``POST /refunds`` body."""
    return RefundInput(**_parse(REFUND_CREATE, data, {}))


#: The card of a direct payment, as its declaration describes it.
_CARD = next(field for field in PAYMENT_CREATE.fields if field.argument == "card")


def parse_card(data: Mapping[str, Any]) -> CardInput:
    """Check a card sent on its own in wire form (the sandbox's token endpoint): the same
    rules as a direct payment's card, each member named as it is (``number``)."""
    if "token" in data:
        raise invalid("token", "Send the card's number, expiry and CVC to get a token.")
    try:
        card = _CARD.kind.receive("card", data)
    except InvalidArgumentError as err:
        param = err.argument.removeprefix("card.")
        raise invalid(param, f"{param}: {err.problem}.") from None
    checked = _card_input(_CARD.wire, card)
    assert isinstance(checked, CardInput)
    return checked
