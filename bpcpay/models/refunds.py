"""Refund: money returned on a payment. BPC documents the object; its fields are [inferred]."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Final

import attrs

from ._base import APIObject

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
    currency: str
    status: str
    created: datetime | None = None
    reason: str | None = None
    metadata: Mapping[str, str] = attrs.field(factory=dict)
