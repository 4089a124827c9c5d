"""Refund: money returned on a payment. BPC documents the object; its fields are [inferred]."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any, Final

import attrs

from ._base import APIObject, upper_currency

__all__ = ["Refund", "RefundStatus"]


class RefundStatus:
    """Known values of ``Refund.status`` [inferred]."""

    PENDING: Final = "pending"
    SUCCEEDED: Final = "succeeded"
    FAILED: Final = "failed"


@attrs.frozen(kw_only=True)
class Refund(APIObject):
    """A refund of all or part of a payment."""

    id: str
    payment: str
    amount: int
    currency: str = attrs.field(converter=upper_currency)
    status: str
    created: datetime | None = None
    reason: str | None = None
    #: Your own keys; values are whatever JSON the gateway returns.
    metadata: Mapping[str, Any] = attrs.field(factory=dict)
