"""The wire contract, for the other side of it: what the sandbox gateway and the test helpers
share with the client.

The sandbox (``bpcpay.sandbox``) is a second implementation of the gateway's side of the API,
and ``bpcpay.testing`` builds deliveries by hand. Both must agree with the client to the byte,
so they take the client's own rules from here instead of copying them: the endpoint table (the
sandbox serves exactly these routes), the request-body rules (it refuses what the client would
refuse, naming the same field), and the JSON form of the models and of timestamps (it answers
and signs what the client parses).

This module defines nothing: every name is re-exported from the ``_core`` module that owns it.
It is the one ``_core`` module those layers may import, besides the argument checks of
``_core._checks`` that every public entry point uses; an import-linter contract in
pyproject.toml holds them to it. A name the sandbox needs from the core is added here, so
that this list stays the whole of what the two sides share.
"""

from __future__ import annotations

from ._bodies import (
    BODIES,
    CAPTURE,
    MAX_URL_LENGTH,
    PAYMENT_CREATE,
    REFUND_CREATE,
    SESSION_CREATE,
    Body,
    BodyField,
    FieldMissing,
    check_card,
    stores_card,
)
from ._converter import format_datetime, parse_datetime, unstructure
from ._endpoints import ENDPOINTS
from ._requests import check_url

__all__ = [
    "BODIES",
    "CAPTURE",
    "ENDPOINTS",
    "MAX_URL_LENGTH",
    "PAYMENT_CREATE",
    "REFUND_CREATE",
    "SESSION_CREATE",
    "Body",
    "BodyField",
    "FieldMissing",
    "check_card",
    "check_url",
    "format_datetime",
    "parse_datetime",
    "stores_card",
    "unstructure",
]
