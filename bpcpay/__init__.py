"""bpcpay: the Python SDK for BPC's Payment Gateway (eCommerce API v2).

``AsyncBpcPay`` for asyncio code, ``BpcPay`` for synchronous code, ``bpcpay.webhooks`` to
verify deliveries, ``bpcpay.models`` for the API's objects.

Only the errors, the constants and the version are imported with the package. Everything else
(the clients, the models, ``Timeout``, ``NOT_GIVEN`` ...) is imported on first access (PEP 562),
so that ``import bpcpay.webhooks`` in a webhook receiver or a worker loads neither aiohttp nor
anyio, asyncio, attrs or the models until an event is parsed. ``from bpcpay import X`` works
for every name in ``__all__``; type checkers and IDEs read the ``TYPE_CHECKING`` imports below.

The ``bpcpay`` logger has a ``NullHandler`` (``bpcpay/_log.py``): an application that configures
no logging sees nothing from bpcpay on stderr; one that does sees bpcpay's records like any
other library's.
"""

from __future__ import annotations

import importlib
import sys

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
    DeliveryStoreError,
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
from ._version import __version__

# typing.TYPE_CHECKING without importing typing (a few ms at import): type checkers treat any
# TYPE_CHECKING this way.
TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

    from . import models, webhooks
    from ._async._client import AsyncBpcPay
    from ._secret import Secret
    from ._sync._client import BpcPay
    from ._telemetry import OutgoingRequest
    from ._types import NOT_GIVEN, NotGiven, RequestAttempt, Timeout
    from .models import (
        Address,
        CaptureMethod,
        CardToken,
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

if "logging" in sys.modules:
    # An application that imported logging first gets the NullHandler now; otherwise the first
    # bpcpay module that logs attaches it.
    from . import _log  # noqa: F401

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
    "CardToken",
    "ClientClosedError",
    "ConflictError",
    "CustomerDetails",
    "DeliveryStoreError",
    "Event",
    "EventType",
    "InternalServerError",
    "InvalidArgumentError",
    "InvalidRequestError",
    "NotFoundError",
    "NotGiven",
    "OutgoingRequest",
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
    "Secret",
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

#: Where the lazily imported names live (a module, relative to the package, whose attribute of
#: the same name each is; the two subpackages are the modules themselves). Every other name of
#: ``__all__`` that is not defined above is a model.
_ELSEWHERE = {
    "AsyncBpcPay": "._async._client",
    "BpcPay": "._sync._client",
    "OutgoingRequest": "._telemetry",
    **dict.fromkeys(["NOT_GIVEN", "NotGiven", "RequestAttempt", "Timeout"], "._types"),
    "Secret": "._secret",
    "models": ".models",
    "webhooks": ".webhooks",
}
_LAZY = {name: _ELSEWHERE.get(name, ".models") for name in __all__ if name not in globals()}


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'bpcpay' has no attribute {name!r}")
    loaded = importlib.import_module(module, __name__)
    value = loaded if name in ("models", "webhooks") else getattr(loaded, name)
    globals()[name] = value  # later lookups are plain
    return value


def __dir__() -> list[str]:
    return sorted(__all__)
