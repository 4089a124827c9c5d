"""THE endpoint table: every call bpcpay wraps, with its method, path and provenance.

``source`` says where the path comes from: ``"doc"`` (BPC's published docs) or ``"inferred"``
(our best reading). Correcting an inferred path is a one-line change here; the README's
"What is inferred" section lists the same rows.
"""

from __future__ import annotations

import re
from typing import Literal
from urllib.parse import quote

import attrs

from .._exceptions import InvalidArgumentError
from .._types import HTTPMethod

__all__ = ["ENDPOINTS", "Endpoint"]

#: Ids made only of these characters are used in a path as they are.
_PLAIN_ID = re.compile(r"[A-Za-z0-9_\-]+").fullmatch


@attrs.frozen
class Endpoint:
    """One API call: ``path`` is a template below the base URL, e.g. ``/sessions/{id}``."""

    name: str
    method: HTTPMethod
    path: str
    source: Literal["doc", "inferred"]
    note: str = ""

    def render(self, **params: str) -> str:
        """Fill the path template; each value must be a non-empty string and is URL-quoted.

        Raises:
            InvalidArgumentError: a value is empty or not a string (named as the caller's
                argument, e.g. ``session_id``).
        """
        values: dict[str, str] = {}
        for argument, value in params.items():
            if value.__class__ is str and _PLAIN_ID(value):
                # BPC's ids (ps_..., base58) need no quoting; skip the general path.
                values[argument] = value
                continue
            if not isinstance(value, str) or not value.strip():
                raise InvalidArgumentError(argument, f"must be a non-empty string, got {value!r}")
            if value in (".", ".."):
                # quote() keeps dots, and URL normalisation would turn "/payments/../capture"
                # into "/capture": a request to another endpoint.
                raise InvalidArgumentError(argument, f"must be an id, got {value!r}")
            try:
                values[argument] = quote(value, safe="")
            except UnicodeEncodeError:
                raise InvalidArgumentError(
                    argument, "must be an id (it contains a lone surrogate)"
                ) from None
        return self.path.format(**values)


SESSIONS_CREATE = Endpoint("sessions.create", "POST", "/sessions", "doc")
SESSIONS_RETRIEVE = Endpoint("sessions.retrieve", "GET", "/sessions/{session_id}", "doc")
PAYMENTS_CREATE = Endpoint(
    "payments.create", "POST", "/payments", "doc", "body fields partly inferred; PCI DSS only"
)
PAYMENTS_RETRIEVE = Endpoint("payments.retrieve", "GET", "/payments/{payment_id}", "doc")
PAYMENTS_CAPTURE = Endpoint(
    "payments.capture", "POST", "/payments/{payment_id}/capture", "inferred",
    "BPC says a second call captures a two-step payment; the path is ours",
)  # fmt: skip
PAYMENTS_CANCEL = Endpoint("payments.cancel", "POST", "/payments/{payment_id}/cancel", "inferred")
REFUNDS_CREATE = Endpoint("refunds.create", "POST", "/refunds", "inferred")
REFUNDS_RETRIEVE = Endpoint("refunds.retrieve", "GET", "/refunds/{refund_id}", "inferred")
PAYMENT_METHODS_RETRIEVE = Endpoint(
    "payment_methods.retrieve", "GET", "/payment-methods/{payment_method_id}", "inferred"
)

#: Every endpoint by name, in the order of the contract's table.
ENDPOINTS: dict[str, Endpoint] = {
    e.name: e
    for e in (
        SESSIONS_CREATE,
        SESSIONS_RETRIEVE,
        PAYMENTS_CREATE,
        PAYMENTS_RETRIEVE,
        PAYMENTS_CAPTURE,
        PAYMENTS_CANCEL,
        REFUNDS_CREATE,
        REFUNDS_RETRIEVE,
        PAYMENT_METHODS_RETRIEVE,
    )
}
