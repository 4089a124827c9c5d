"""Read and check request bodies with the SDK's own checkers (``_core._requests`` and
``_core._bodies``), plus what only a server can know (an unknown currency, a body that is not
JSON, the test rule for ``merchantCustomerId``).

Each problem raises :class:`GatewayError` with ``param`` set to the wire name of the field
(``successUrl``, ``paymentMethod.card.expiryMonth``). Redirect URLs that are not absolute
http(s) get 412, as BPC answers; everything else 400. Card numbers and CVCs never appear in a
message. Fields a body's table does not know are kept, to be returned as they were sent.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Mapping
from datetime import datetime
from typing import Any, Final, TypeVar

import attrs

from .._core._wire import (
    PAYMENT_CREATE_FIELDS,
    REFUND_CREATE_FIELDS,
    SESSION_CREATE_FIELDS,
    BodyField,
    check_amount,
    check_capture_method,
    check_card,
    check_currency,
    check_customer_details,
    check_metadata,
    check_setup_future_usage,
    check_string,
    check_url,
    parse_datetime,
)
from .._exceptions import InvalidArgumentError
from ..models import CaptureMethod
from ._errors import ErrorType, GatewayError, invalid
from ._money import is_known_currency

__all__ = [
    "MAX_BODY_DEPTH",
    "CaptureInput",
    "CardInput",
    "OrderInput",
    "PaymentInput",
    "RefundInput",
    "SessionInput",
    "parse_body",
    "parse_capture",
    "parse_payment",
    "parse_refund",
    "parse_session",
]

T = TypeVar("T")
#: JSON nested deeper than this is refused with 400 (no request of the API comes close).
MAX_BODY_DEPTH: Final = 32
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
class PaymentInput(OrderInput):
    """A checked ``POST /payments`` body: exactly one of ``card`` and
    ``stored_payment_method_id``."""

    card: CardInput | None = None
    stored_payment_method_id: str | None = None


@attrs.frozen(kw_only=True)
class CaptureInput:
    """A checked ``POST /payments/{id}/capture`` body (none at all means everything)."""

    amount: int | None = None


@attrs.frozen(kw_only=True)
class RefundInput:
    """A checked ``POST /refunds`` body."""

    payment: str
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


# --- field checks: the SDK's checkers, answered as the gateway answers ---------------------


def _field(check: Callable[[str, Any], T], param: str, value: Any) -> T:
    """Run one of the SDK's checkers on a wire value; its refusal becomes a 400."""
    try:
        return check(param, value)
    except InvalidArgumentError as err:
        raise invalid(err.argument, f"{err}.") from None


def _optional(
    data: Mapping[str, Any], name: str, check: Callable[[str, Any], T], parent: str = ""
) -> T | None:
    value = data.get(name)
    return None if value is None else _field(check, parent + name, value)


def _required(data: Mapping[str, Any], name: str) -> Any:
    if data.get(name) is None:
        raise invalid(name, f"{name} is required.", "parameter_missing")
    return data[name]


def _currency(param: str, value: Any) -> str:
    code = _field(check_currency, param, value)
    if not is_known_currency(code):
        raise invalid(
            param, f"{param} {code} is not a currency this gateway accepts.", "currency_unsupported"
        )
    return code


def _redirect_url(param: str, value: Any) -> str:
    if not isinstance(value, str):
        raise invalid(param, f"{param} must be a string holding an absolute http(s) URL.")
    try:
        return check_url(param, value)
    except InvalidArgumentError as err:
        raise GatewayError(
            412, ErrorType.INVALID_REQUEST, "url_invalid", f"{err}.", err.argument
        ) from None


def _expires_at(param: str, value: Any, now: datetime) -> datetime:
    if not isinstance(value, str):
        raise invalid(param, f"{param} must be an ISO 8601 timestamp string.")
    try:
        parsed = parse_datetime(value)
    except (TypeError, ValueError):
        raise invalid(param, f"{param} must be an ISO 8601 timestamp.") from None
    if parsed <= now:
        raise invalid(param, f"{param} must be in the future.")
    return parsed


def _test_customer_id(param: str, value: Any) -> str:
    """The SDK's string check, then the published test rule."""
    check_string(param, value)
    if not _TEST_CUSTOMER_ID.fullmatch(value):
        raise InvalidArgumentError(
            param, "must be 8 to 50 digits, latin letters, '_' or '-' in the test environment"
        )
    return str(value)


def _extra(data: Mapping[str, Any], fields: tuple[BodyField, ...]) -> dict[str, Any]:
    known = {field.wire for field in fields}
    return {key: value for key, value in data.items() if key not in known}


def _stored_card_fields(data: Mapping[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    customer_id = _optional(data, "merchantCustomerId", _test_customer_id)
    if customer_id is not None:
        out["merchant_customer_id"] = customer_id
    usage = _optional(data, "setupFutureUsage", check_setup_future_usage)
    if usage is not None:
        out["setup_future_usage"] = usage
    return out


def _common_optional(data: Mapping[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = _stored_card_fields(data)
    for name, key, check in (
        ("merchantReferenceId", "merchant_reference_id", check_string),
        ("metadata", "metadata", check_metadata),
        ("customerDetails", "customer_details", check_customer_details),
    ):
        value = _optional(data, name, check)
        if value is not None:
            out[key] = value
    return out


# --- bodies -----------------------------------------------------------------------------------


def parse_session(data: Mapping[str, Any], *, now: datetime) -> SessionInput:
    """Check a ``POST /sessions`` body (400/412 on the first bad field)."""
    fields: dict[str, Any] = {
        "amount": _field(check_amount, "amount", _required(data, "amount")),
        "currency": _currency("currency", _required(data, "currency")),
        "success_url": _redirect_url("successUrl", _required(data, "successUrl")),
        "failure_url": _redirect_url("failureUrl", _required(data, "failureUrl")),
        **_common_optional(data),
        "extra": _extra(data, SESSION_CREATE_FIELDS),
    }
    locale = _optional(data, "locale", check_string)
    if locale is not None:
        fields["locale"] = locale
    if data.get("paymentData") is not None:
        payment_data = data["paymentData"]
        if not isinstance(payment_data, Mapping):
            raise invalid("paymentData", "paymentData must be an object.")
        method = _optional(payment_data, "captureMethod", check_capture_method, "paymentData.")
        if method is not None:
            fields["capture_method"] = method
    if data.get("expiresAt") is not None:
        fields["expires_at"] = _expires_at("expiresAt", data["expiresAt"], now)
    return SessionInput(**fields)


def _card(data: Mapping[str, Any]) -> CardInput:
    block = data["paymentMethod"]
    if not isinstance(block, Mapping):
        raise invalid("paymentMethod", "paymentMethod must be an object.")
    if block.get("card") is None:
        raise invalid("paymentMethod.card", "paymentMethod.card is required.", "parameter_missing")
    card = _field(check_card, "paymentMethod.card", block["card"])
    return CardInput(
        number=card["number"],
        exp_month=card["expiryMonth"],
        exp_year=card["expiryYear"],
        cvc=card["cvc"],
    )


def parse_payment(data: Mapping[str, Any]) -> PaymentInput:
    """Check a ``POST /payments`` body: exactly one of ``paymentMethod`` (a card block) and
    ``storedPaymentMethodId``."""
    fields: dict[str, Any] = {
        "amount": _field(check_amount, "amount", _required(data, "amount")),
        "currency": _currency("currency", _required(data, "currency")),
    }
    has_card = data.get("paymentMethod") is not None
    if has_card == (data.get("storedPaymentMethodId") is not None):
        raise invalid(
            "paymentMethod", "Give exactly one of paymentMethod and storedPaymentMethodId."
        )
    if has_card:
        fields["card"] = _card(data)
    else:
        fields["stored_payment_method_id"] = _field(
            check_string, "storedPaymentMethodId", data["storedPaymentMethodId"]
        )
    method = _optional(data, "captureMethod", check_capture_method)
    if method is not None:
        fields["capture_method"] = method
    fields.update(_common_optional(data))
    fields["extra"] = _extra(data, PAYMENT_CREATE_FIELDS)
    return PaymentInput(**fields)


def parse_capture(data: Mapping[str, Any]) -> CaptureInput:
    """Check a capture body: none, or an optional positive ``amount`` (other fields are
    ignored: the answer is the payment, not an echo of the body)."""
    return CaptureInput(amount=_optional(data, "amount", check_amount))


def parse_refund(data: Mapping[str, Any]) -> RefundInput:
    """Check a ``POST /refunds`` body."""
    return RefundInput(
        payment=_field(check_string, "payment", _required(data, "payment")),
        amount=_optional(data, "amount", check_amount),
        reason=_optional(data, "reason", check_string),
        metadata=_optional(data, "metadata", check_metadata) or {},
        extra=_extra(data, REFUND_CREATE_FIELDS),
    )
