"""Who pays, and how a card is kept for later: shapes sent in requests and returned in objects.

``CustomerDetails.address`` and the stored-payment-method terms (``SetupFutureUsage``) are as
BPC publishes them; ``CustomerDetails``' other fields are [inferred].
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date
from typing import Any, Final

import attrs

__all__ = [
    "Address",
    "CustomerDetails",
    "RecurrentTerms",
    "RecurringModel",
    "SetupFutureUsage",
    "StoredCardCategory",
]


@attrs.frozen(kw_only=True)
class Address:
    """The customer's address [doc: direct-integration]: ``country`` is a code such as ``"CY"``."""

    city: str | None = None
    country: str | None = None
    line1: str | None = None
    line2: str | None = None
    postal_code: str | None = None


@attrs.frozen(kw_only=True)
class CustomerDetails:
    """Who pays. ``address`` is published; ``email``, ``phone`` and ``name`` are [inferred]."""

    email: str | None = None
    phone: str | None = None
    name: str | None = None
    address: Address | None = None


class StoredCardCategory:
    """Values of ``setupFutureUsage.category`` [doc: stored-payment-methods]."""

    #: Do not store the card.
    EMPTY: Final = "empty"
    UNSCHEDULED: Final = "unscheduled"
    RECURRENT: Final = "recurrent"
    INSTALLMENT: Final = "installment"


@attrs.frozen(kw_only=True)
class RecurrentTerms:
    """``recurringModel.recurrent``: no payment after ``expiry``, at least ``frequency`` days
    between payments (at most 4000) [doc: stored-payment-methods]."""

    expiry: date
    frequency: int


@attrs.frozen(kw_only=True)
class RecurringModel:
    """Terms of a recurrent or installment series [doc: stored-payment-methods].

    ``installment``'s fields are unpublished: it is sent and returned as a plain JSON object.
    """

    recurrent: RecurrentTerms | None = None
    installment: Mapping[str, Any] | None = None


@attrs.frozen(kw_only=True)
class SetupFutureUsage:
    """Whether and how to keep the card for later payments [doc: stored-payment-methods].

    ``category`` is one of :class:`StoredCardCategory`; ``recurring_model`` is mandatory for
    ``recurrent`` (with ``recurrent``) and ``installment`` (with ``installment``).
    """

    category: str
    recurring_model: RecurringModel | None = None
