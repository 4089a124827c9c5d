"""What every top-level API object shares: the raw JSON and the request id it came with.

Models are plain attrs classes; they never import cattrs (the converter in ``_core`` maps them).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import attrs

__all__ = ["WIRE_NAME", "APIObject", "upper_currency", "wire_name"]

#: The attrs metadata key holding a field's JSON name, for the few fields whose JSON name is not
#: the camelCase of their Python name (the converter reads it; models never import cattrs).
WIRE_NAME = "bpcpay.wire_name"


def wire_name(name: str) -> dict[str, str]:
    """attrs field metadata: ``attrs.field(metadata=wire_name("expiryMonth"))``.

    Args:
        name: the field's JSON key.

    Returns:
        The metadata mapping the converter reads.
    """
    return {WIRE_NAME: name}


def _raw_field() -> Any:
    return attrs.field(factory=dict, eq=False, repr=False, kw_only=True)


def _request_id_field() -> Any:
    return attrs.field(default=None, eq=False, repr=False, kw_only=True)


def upper_currency(value: str) -> str:
    """A currency code in upper case: BPC's pages show both ``EUR`` and ``eur``.

    The model holds the upper-case code, so ``payment.currency == "EUR"`` whatever the gateway
    sent; ``raw`` keeps what was sent. Anything that is not a string is left for the converter
    to refuse.

    Args:
        value: the code as given.

    Returns:
        The code in upper case.
    """
    return value.upper() if isinstance(value, str) else value


@attrs.frozen(kw_only=True)
class APIObject:
    """Base of Session, Payment, Refund, PaymentMethod and Event.

    Attributes:
        raw: the JSON object exactly as the gateway sent it, unknown keys included.
        request_id: the ``API-Request-Id`` of the response (or webhook delivery) it came from.
    """

    raw: Mapping[str, Any] = _raw_field()
    request_id: str | None = _request_id_field()

    def __getitem__(self, key: str) -> Any:
        """Read a key of the raw JSON (camelCase, as on the wire); handy for unknown fields."""
        return self.raw[key]
