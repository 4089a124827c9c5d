"""What every top-level API object shares: the raw JSON and the request id it came with.

Models are plain attrs classes; they never import cattrs (the converter in ``_core`` maps them).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import attrs

__all__ = ["APIObject"]


def _raw_field() -> Any:
    return attrs.field(factory=dict, eq=False, repr=False, kw_only=True)


def _request_id_field() -> Any:
    return attrs.field(default=None, eq=False, repr=False, kw_only=True)


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
