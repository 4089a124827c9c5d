"""Read and check request bodies: every field the SDK checks before sending is checked here
again, plus what only a server can know (an unknown currency, a body that is not JSON).

Each problem raises :class:`GatewayError` with ``param`` set to the wire name of the field
(``successUrl``, ``card.expMonth``). Redirect URLs that are not absolute http(s) get 412, as BPC
answers; everything else 400. Card numbers and CVCs never appear in a message.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from datetime import datetime
from typing import Any
from urllib.parse import urlsplit

import attrs

from .._core._converter import parse_datetime
from .._core._requests import MAX_AMOUNT, luhn_ok
from ..models import CaptureMethod, StoredCardCategory
from ._errors import ErrorType, GatewayError, invalid
from ._money import is_known_currency

__all__ = [
    "CaptureInput",
    "CardInput",
    "PaymentInput",
    "RefundInput",
    "SessionInput",
    "parse_body",
    "parse_capture",
    "parse_payment",
    "parse_refund",
    "parse_session",
]

_CURRENCY = re.compile(r"[A-Za-z]{3}")
_CAPTURE_METHODS = (CaptureMethod.AUTOMATIC, CaptureMethod.MANUAL)
_CATEGORIES = (
    StoredCardCategory.EMPTY,
    StoredCardCategory.UNSCHEDULED,
    StoredCardCategory.RECURRENT,
    StoredCardCategory.INSTALLMENT,
)
_MAX_STRING = 1024


@attrs.frozen(kw_only=True)
class SessionInput:
    """A checked ``POST /sessions`` body."""

    amount: int
    currency: str
    success_url: str
    failure_url: str
    merchant_reference_id: str | None = None
    locale: str | None = None
    metadata: dict[str, str] = attrs.field(factory=dict)
    customer_details: dict[str, str] = attrs.field(factory=dict)
    capture_method: str = CaptureMethod.AUTOMATIC
    expires_at: datetime | None = None
    category: str | None = None
    recurring_model: dict[str, Any] | None = None


@attrs.frozen(kw_only=True)
class CardInput:
    """Card data of a direct payment; number and CVC stay out of every repr."""

    number: str = attrs.field(repr=False)
    exp_month: int
    exp_year: int
    cvc: str = attrs.field(repr=False)
    holder: str | None = None


@attrs.frozen(kw_only=True)
class PaymentInput:
    """A checked ``POST /payments`` body."""

    amount: int
    currency: str
    card: CardInput | None = None
    payment_method: str | None = None
    capture_method: str = CaptureMethod.AUTOMATIC
    merchant_reference_id: str | None = None
    return_url: str | None = None
    metadata: dict[str, str] = attrs.field(factory=dict)
    category: str | None = None
    recurring_model: dict[str, Any] | None = None


@attrs.frozen(kw_only=True)
class CaptureInput:
    """A checked ``POST /payments/{id}/capture`` body."""

    amount: int | None = None


@attrs.frozen(kw_only=True)
class RefundInput:
    """A checked ``POST /refunds`` body."""

    payment: str
    amount: int | None = None
    reason: str | None = None
    metadata: dict[str, str] = attrs.field(factory=dict)


def parse_body(raw: bytes, *, allow_empty: bool = False) -> dict[str, Any]:
    """The body as a JSON object, or 400."""
    if not raw.strip():
        if allow_empty:
            return {}
        raise invalid(None, "The request body must be a JSON object.", "body_missing")
    try:
        data = json.loads(raw)
    except (ValueError, UnicodeDecodeError):
        raise invalid(None, "The request body is not valid JSON.", "body_not_json") from None
    if not isinstance(data, dict):
        raise invalid(None, "The request body must be a JSON object.", "body_not_object")
    return data


# --- field checks: each takes the wire name and the raw value -------------------------------


def _missing(param: str) -> GatewayError:
    return invalid(param, f"{param} is required.", "parameter_missing")


def _amount(param: str, value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise invalid(param, f"{param} must be an integer in minor units (100.00 is 10000).")
    if value <= 0:
        raise invalid(param, f"{param} must be positive.")
    if value > MAX_AMOUNT:
        raise invalid(param, f"{param} must be at most {MAX_AMOUNT}.")
    return value


def _currency(param: str, value: Any) -> str:
    if not isinstance(value, str) or not _CURRENCY.fullmatch(value):
        raise invalid(param, f"{param} must be a three-letter ISO 4217 code such as EUR.")
    code = value.upper()
    if not is_known_currency(code):
        raise invalid(param, f"{param} {code} is not a currency this gateway accepts.",
                      "currency_unsupported")  # fmt: skip
    return code


def _redirect_url(param: str, value: Any) -> str:
    if not isinstance(value, str):
        raise invalid(param, f"{param} must be a string holding an absolute http(s) URL.")
    try:
        parts = urlsplit(value)
        host = parts.hostname
        scheme = parts.scheme
    except ValueError:
        host, scheme = None, ""
    if scheme not in ("http", "https") or not host or value != value.strip():
        raise GatewayError(
            412,
            ErrorType.INVALID_REQUEST,
            "url_invalid",
            f"{param} must be an absolute http(s) URL.",
            param,
        )
    return value


def _string(param: str, value: Any, max_length: int = _MAX_STRING) -> str:
    if not isinstance(value, str) or not value.strip():
        raise invalid(param, f"{param} must be a non-empty string.")
    if len(value) > max_length:
        raise invalid(param, f"{param} must be at most {max_length} characters.")
    return value


def _string_map(param: str, value: Any) -> dict[str, str]:
    if not isinstance(value, Mapping):
        raise invalid(param, f"{param} must be an object of string values.")
    for key, item in value.items():
        if not isinstance(item, str):
            raise invalid(param, f"{param}.{key} must be a string.")
    return dict(value)


def _choice(param: str, value: Any, choices: tuple[str, ...]) -> str:
    if value not in choices:
        raise invalid(param, f"{param} must be one of: {', '.join(choices)}.")
    return str(value)


def _object(param: str, value: Any) -> dict[str, Any]:
    if not isinstance(value, Mapping):
        raise invalid(param, f"{param} must be an object.")
    return dict(value)


def _int_range(param: str, value: Any, low: int, high: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
        raise invalid(param, f"{param} must be an integer from {low} to {high}.")
    return value


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


def _card(param: str, value: Any) -> CardInput:
    if not isinstance(value, Mapping):
        raise invalid(param, f"{param} must be an object.")
    if "number" not in value:
        raise _missing(f"{param}.number")
    number = value["number"]
    if isinstance(number, str):
        number = number.replace(" ", "")
    if not (
        isinstance(number, str)
        and number.isascii()
        and number.isdigit()
        and 12 <= len(number) <= 19
        and luhn_ok(number)
    ):
        raise invalid(f"{param}.number", "The card number must be 12 to 19 digits with a valid "
                      "check digit.", "card_number_invalid")  # fmt: skip
    for name in ("expMonth", "expYear", "cvc"):
        if name not in value:
            raise _missing(f"{param}.{name}")
    month = _int_range(f"{param}.expMonth", value["expMonth"], 1, 12)
    year = _int_range(f"{param}.expYear", value["expYear"], 2000, 2100)
    cvc = value["cvc"]
    if not (isinstance(cvc, str) and cvc.isascii() and cvc.isdigit() and len(cvc) in (3, 4)):
        raise invalid(f"{param}.cvc", "The security code must be 3 or 4 digits.")
    holder = value.get("holder")
    if holder is not None:
        holder = _string(f"{param}.holder", holder, 200)
    return CardInput(number=number, exp_month=month, exp_year=year, cvc=cvc, holder=holder)


def _common_optional(data: Mapping[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    if data.get("merchantReferenceId") is not None:
        out["merchant_reference_id"] = _string("merchantReferenceId", data["merchantReferenceId"])
    if data.get("metadata") is not None:
        out["metadata"] = _string_map("metadata", data["metadata"])
    if data.get("category") is not None:
        out["category"] = _choice("category", data["category"], _CATEGORIES)
    if data.get("recurringModel") is not None:
        out["recurring_model"] = _object("recurringModel", data["recurringModel"])
    return out


def _required(data: Mapping[str, Any], name: str) -> Any:
    if data.get(name) is None:
        raise _missing(name)
    return data[name]


# --- bodies -----------------------------------------------------------------------------------


def parse_session(data: Mapping[str, Any], *, now: datetime) -> SessionInput:
    """Check a ``POST /sessions`` body (400/412 on the first bad field)."""
    fields: dict[str, Any] = {
        "amount": _amount("amount", _required(data, "amount")),
        "currency": _currency("currency", _required(data, "currency")),
        "success_url": _redirect_url("successUrl", _required(data, "successUrl")),
        "failure_url": _redirect_url("failureUrl", _required(data, "failureUrl")),
        **_common_optional(data),
    }
    if data.get("locale") is not None:
        fields["locale"] = _string("locale", data["locale"], 35)
    if data.get("customerDetails") is not None:
        fields["customer_details"] = _string_map("customerDetails", data["customerDetails"])
    if data.get("paymentData") is not None:
        payment_data = _object("paymentData", data["paymentData"])
        if payment_data.get("captureMethod") is not None:
            fields["capture_method"] = _choice(
                "paymentData.captureMethod", payment_data["captureMethod"], _CAPTURE_METHODS
            )
    if data.get("expiresAt") is not None:
        fields["expires_at"] = _expires_at("expiresAt", data["expiresAt"], now)
    return SessionInput(**fields)


def parse_payment(data: Mapping[str, Any]) -> PaymentInput:
    """Check a ``POST /payments`` body: exactly one of ``card`` and ``paymentMethod``."""
    fields: dict[str, Any] = {
        "amount": _amount("amount", _required(data, "amount")),
        "currency": _currency("currency", _required(data, "currency")),
    }
    has_card = data.get("card") is not None
    has_method = data.get("paymentMethod") is not None
    if has_card == has_method:
        raise invalid("card", "Give exactly one of card and paymentMethod.")
    if has_card:
        fields["card"] = _card("card", data["card"])
    else:
        fields["payment_method"] = _string("paymentMethod", data["paymentMethod"])
    if data.get("captureMethod") is not None:
        fields["capture_method"] = _choice("captureMethod", data["captureMethod"], _CAPTURE_METHODS)
    if data.get("returnUrl") is not None:
        fields["return_url"] = _redirect_url("returnUrl", data["returnUrl"])
    fields.update(_common_optional(data))
    return PaymentInput(**fields)


def parse_capture(data: Mapping[str, Any]) -> CaptureInput:
    """Check a capture body: an optional positive ``amount``."""
    if data.get("amount") is None:
        return CaptureInput()
    return CaptureInput(amount=_amount("amount", data["amount"]))


def parse_refund(data: Mapping[str, Any]) -> RefundInput:
    """Check a ``POST /refunds`` body."""
    payment = _string("payment", _required(data, "payment"))
    amount = None if data.get("amount") is None else _amount("amount", data["amount"])
    reason = None if data.get("reason") is None else _string("reason", data["reason"])
    metadata = {} if data.get("metadata") is None else _string_map("metadata", data["metadata"])
    return RefundInput(payment=payment, amount=amount, reason=reason, metadata=metadata)
