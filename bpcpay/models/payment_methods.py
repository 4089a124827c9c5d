"""PaymentMethod: a stored card. The object exists in BPC's docs; its fields are [inferred]."""

from __future__ import annotations

from datetime import datetime

import attrs

from ._base import APIObject

__all__ = ["Card", "PaymentMethod"]


@attrs.frozen(kw_only=True)
class Card:
    """The safe-to-show part of a stored card: never the full number."""

    brand: str | None = None
    last4: str | None = None
    exp_month: int | None = None
    exp_year: int | None = None


@attrs.frozen(kw_only=True)
class PaymentMethod(APIObject):
    """A stored payment method."""

    id: str
    type: str
    created: datetime | None = None
    card: Card | None = None
    status: str | None = None
