"""THE endpoint table: every call bpcpay wraps, with its method, path, body and provenance.

``source`` says where the path comes from: ``"doc: <page>"`` (the BPC page that publishes it) or
``"inferred"`` (our best reading). ``body`` is the table of the JSON body's fields
(``_bodies.py``), or None for a call that sends no body at all (no ``Content-Type`` either, as
in BPC's expire example). Correcting an inferred path is a one-line change here;
``docs/inferred.md`` lists the same rows. The sandbox registers its routes from this table.
"""

from __future__ import annotations

import re
from urllib.parse import quote

import attrs

from .._exceptions import InvalidArgumentError
from .._types import HTTPMethod
from ._bodies import (
    CAPTURE_FIELDS,
    PAYMENT_CREATE_FIELDS,
    REFUND_CREATE_FIELDS,
    SESSION_CREATE_FIELDS,
    BodyField,
)

__all__ = ["ENDPOINTS", "Endpoint"]

#: Ids made only of these characters are used in a path as they are.
_PLAIN_ID = re.compile(r"[A-Za-z0-9_\-]+").fullmatch


@attrs.frozen
class Endpoint:
    """One API call: ``path`` is a template below the base URL, e.g. ``/sessions/{id}``."""

    name: str
    method: HTTPMethod
    path: str
    source: str
    body: tuple[BodyField, ...] | None = None
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


SESSIONS_CREATE = Endpoint(
    "sessions.create", "POST", "/sessions", "doc: redirect-integration", SESSION_CREATE_FIELDS
)
SESSIONS_RETRIEVE = Endpoint(
    "sessions.retrieve", "GET", "/sessions/{session_id}", "doc: api-keys, api-versions"
)
SESSIONS_EXPIRE = Endpoint(
    "sessions.expire", "POST", "/sessions/{session_id}/expire", "doc: cancel-refund",
    note="only an open session; no body",
)  # fmt: skip
PAYMENTS_CREATE = Endpoint(
    "payments.create", "POST", "/payments", "doc: direct-integration", PAYMENT_CREATE_FIELDS,
    note="PCI DSS merchants only",
)  # fmt: skip
PAYMENTS_RETRIEVE = Endpoint(
    "payments.retrieve", "GET", "/payments/{payment_id}", "doc: direct-integration"
)
PAYMENTS_CAPTURE = Endpoint(
    "payments.capture", "POST", "/payments/{payment_id}/capture", "doc: two-step", CAPTURE_FIELDS,
    note="the body {amount?} is inferred; without an amount no body is sent",
)  # fmt: skip
PAYMENTS_CANCEL = Endpoint(
    "payments.cancel", "POST", "/payments/{payment_id}/cancel", "inferred",
    note="the operation is published (cancel-refund), the path is ours",
)  # fmt: skip
REFUNDS_CREATE = Endpoint(
    "refunds.create", "POST", "/refunds", "inferred", REFUND_CREATE_FIELDS,
    note="refunds exist (cancel-refund, webhooks); the path and body are ours",
)  # fmt: skip
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
        SESSIONS_EXPIRE,
        PAYMENTS_CREATE,
        PAYMENTS_RETRIEVE,
        PAYMENTS_CAPTURE,
        PAYMENTS_CANCEL,
        REFUNDS_CREATE,
        REFUNDS_RETRIEVE,
        PAYMENT_METHODS_RETRIEVE,
    )
}
