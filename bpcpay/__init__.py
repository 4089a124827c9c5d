"""bpcpay: the Python SDK for BPC's Payment Gateway (eCommerce API v2).

``AsyncBpcPay`` for asyncio code, ``BpcPay`` for synchronous code, ``bpcpay.webhooks`` to
verify deliveries, ``bpcpay.models`` for the API's objects.

The two clients are imported on first access (PEP 562), so that ``import bpcpay.webhooks`` in
a webhook receiver or a worker stays free of aiohttp and anyio.

The ``bpcpay`` logger has a ``NullHandler``: an application that configures no logging sees
nothing from bpcpay on stderr; one that does sees bpcpay's records like any other library's.
"""

import logging
from typing import TYPE_CHECKING, Any

from . import models, webhooks
from ._constants import DEFAULT_API_VERSION, DEFAULT_BASE_URL
from ._exceptions import (
    APIConnectionError,
    APIError,
    APIResponseValidationError,
    APIStatusError,
    APITimeoutError,
    AuthenticationError,
    BpcPayError,
    ClientClosedError,
    ConflictError,
    InternalServerError,
    InvalidArgumentError,
    InvalidRequestError,
    NotFoundError,
    PermissionDeniedError,
    RateLimitError,
    ResponseTooLargeError,
    SignatureVerificationError,
    SyncClientInAsyncContextError,
)
from ._types import NOT_GIVEN, NotGiven, RequestAttempt, Timeout
from ._version import __version__
from .models import (
    Address,
    CaptureMethod,
    CustomerDetails,
    Event,
    EventType,
    Payment,
    PaymentCard,
    PaymentMethod,
    PaymentStatus,
    RecurrentTerms,
    RecurringModel,
    Refund,
    RefundStatus,
    Session,
    SessionPaymentStatus,
    SessionStatus,
    SetupFutureUsage,
    StoredCardCategory,
)

__all__ = [
    "DEFAULT_API_VERSION",
    "DEFAULT_BASE_URL",
    "NOT_GIVEN",
    "APIConnectionError",
    "APIError",
    "APIResponseValidationError",
    "APIStatusError",
    "APITimeoutError",
    "Address",
    "AsyncBpcPay",
    "AuthenticationError",
    "BpcPay",
    "BpcPayError",
    "CaptureMethod",
    "ClientClosedError",
    "ConflictError",
    "CustomerDetails",
    "Event",
    "EventType",
    "InternalServerError",
    "InvalidArgumentError",
    "InvalidRequestError",
    "NotFoundError",
    "NotGiven",
    "Payment",
    "PaymentCard",
    "PaymentMethod",
    "PaymentStatus",
    "PermissionDeniedError",
    "RateLimitError",
    "RecurrentTerms",
    "RecurringModel",
    "Refund",
    "RefundStatus",
    "RequestAttempt",
    "ResponseTooLargeError",
    "Session",
    "SessionPaymentStatus",
    "SessionStatus",
    "SetupFutureUsage",
    "SignatureVerificationError",
    "StoredCardCategory",
    "SyncClientInAsyncContextError",
    "Timeout",
    "__version__",
    "models",
    "webhooks",
]

logging.getLogger(__name__).addHandler(logging.NullHandler())

if TYPE_CHECKING:
    from ._async._client import AsyncBpcPay
    from ._sync._client import BpcPay


def __getattr__(name: str) -> Any:
    if name == "AsyncBpcPay":
        from ._async._client import AsyncBpcPay

        return AsyncBpcPay
    if name == "BpcPay":
        from ._sync._client import BpcPay

        return BpcPay
    raise AttributeError(f"module 'bpcpay' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted(__all__)
