"""THE endpoint table: every call bpcpay wraps, with everything the request path needs.

Each :class:`Endpoint` knows its method, path template, the model of its answer, whether an
answer that never arrived leaves the outcome unknown (every method but GET), and the hint to
give then. Resources pass an endpoint and their ids to ``AsyncBpcPay._request`` and know
nothing else about the wire; ``client.request()`` builds an ad-hoc endpoint (:func:`ad_hoc`).

``source`` says where the path comes from: ``"doc: <page>"`` (the BPC page that publishes it) or
``"inferred"`` (our best reading). ``body`` is the table of the JSON body's fields
(``_bodies.py``), or None for a call that sends no body at all (no ``Content-Type`` either, as
in BPC's expire example). Correcting an inferred path is a one-line change here;
``docs/inferred.md`` lists the same rows. The sandbox registers its routes from this table.
Pure: no I/O.
"""

from __future__ import annotations

import re
from typing import Any, Generic, TypeVar
from urllib.parse import quote

from .._constants import REFERENCE_FIELD
from .._exceptions import InvalidArgumentError
from .._types import HTTPMethod
from ..models import Payment, PaymentMethod, Refund, Session
from ._bodies import (
    CAPTURE_FIELDS,
    PAYMENT_CREATE_FIELDS,
    REFUND_CREATE_FIELDS,
    SESSION_CREATE_FIELDS,
    BodyField,
)

__all__ = ["ENDPOINTS", "GENERIC_HINT", "Endpoint", "ad_hoc"]

T = TypeVar("T")

#: Ids made only of these characters are used in a path as they are.
_PLAIN_ID = re.compile(r"[A-Za-z0-9_\-]+").fullmatch
#: A ``{name}`` in a path template.
_PARAM = re.compile(r"\{([a-z_]+)\}")

#: What to do about a request whose answer was lost, when the endpoint names nothing better.
GENERIC_HINT = "Check the object's state with a GET before sending it again."


class Endpoint(Generic[T]):
    """One API call, and everything the request path needs to know about it.

    Attributes:
        name: ``resource.method``, e.g. ``sessions.retrieve``.
        method: the HTTP method.
        path: a template below the base URL, e.g. ``/sessions/{session_id}``; each ``{name}``
            is the caller's argument of that name.
        source: where the path comes from, ``"doc: <page>"`` or ``"inferred"``.
        model: the model class of the answer, or None for the decoded JSON.
        body: the JSON body's fields, or None for a call that sends no body at all.
        note: a remark for ``docs/inferred.md``.
        outcome_unknown_when_lost: True when an answer that never arrived leaves the outcome
            unknown (the request may have changed something: every method but GET).
        hint: what to tell the caller then (how to find out what happened).
        params: the names of the template's ``{name}`` fields, in order.
        sends_reference: the body can carry the caller's order id (:data:`REFERENCE_FIELD`).
    """

    __slots__ = (
        "_parts",
        "body",
        "hint",
        "method",
        "model",
        "name",
        "note",
        "outcome_unknown_when_lost",
        "params",
        "path",
        "sends_reference",
        "source",
    )

    def __init__(
        self,
        name: str,
        method: HTTPMethod,
        path: str,
        source: str,
        model: type[T] | None,
        body: tuple[BodyField, ...] | None = None,
        *,
        note: str = "",
        hint: str = GENERIC_HINT,
    ) -> None:
        self.name = name
        self.method: HTTPMethod = method
        self.path = path
        self.source = source
        self.model = model
        self.body = body
        self.note = note
        self.outcome_unknown_when_lost = method != "GET"
        self.hint = hint
        self.params = tuple(_PARAM.findall(path))
        #: The template split around its fields: ("/sessions/", "") for one field.
        self._parts = tuple(_PARAM.split(path)[::2])
        self.sends_reference = body is not None and any(f.wire == REFERENCE_FIELD for f in body)

    def __repr__(self) -> str:
        return f"<Endpoint {self.name}: {self.method} {self.path}>"

    def fill(self, ids: tuple[object, ...]) -> str:
        """The path with the template's fields filled in order, each id URL-quoted whole.

        Args:
            ids: one value per field of the template (``params``), in order.

        Returns:
            The path, encoded, below the base URL.

        Raises:
            InvalidArgumentError: a value is empty, not a string, ``.`` or ``..`` (named as the
                caller's argument, e.g. ``session_id``).
        """
        parts = self._parts
        if len(ids) != len(self.params):
            raise TypeError(f"{self.name} takes {len(self.params)} id(s), got {len(ids)}")
        if not ids:
            return parts[0]
        if len(ids) == 1:
            value = ids[0]
            # ASCII identifiers (BPC's ps_..., base58) are plain ids: two C calls, cheaper than
            # the pattern, which still takes the ids with a "-".
            if value.__class__ is not str or not (
                (value.isascii() and value.isidentifier()) or _PLAIN_ID(value)
            ):
                value = _quote_id(self.params[0], value)
            return f"{parts[0]}{value}{parts[1]}"
        out = [parts[0]]
        for argument, value, after in zip(self.params, ids, parts[1:], strict=True):
            if value.__class__ is str and _PLAIN_ID(value):
                # BPC's ids (ps_..., base58) need no quoting; skip the general path.
                out.append(value)
            else:
                out.append(_quote_id(argument, value))
            out.append(after)
        return "".join(out)

    def render(self, **params: str) -> str:
        """:meth:`fill` by name: ``render(session_id="ps_1")``.

        Raises:
            InvalidArgumentError: as for :meth:`fill`.
            KeyError: a field of the template is missing.
        """
        return self.fill(tuple(params[name] for name in self.params))

    def describe(self, args: tuple[Any, ...]) -> str:
        """The path a call with these positional arguments goes to, or the template when they
        do not fill it (for messages about a call that never ran)."""
        try:
            return self.fill(tuple(args[: len(self.params)]))
        except (InvalidArgumentError, TypeError):
            return self.path


def _quote_id(argument: str, value: object) -> str:
    if not isinstance(value, str) or not value.strip():
        raise InvalidArgumentError(argument, f"must be a non-empty string, got {value!r}")
    if value in (".", ".."):
        # quote() keeps dots, and URL normalisation would turn "/payments/../capture"
        # into "/capture": a request to another endpoint.
        raise InvalidArgumentError(argument, f"must be an id, got {value!r}")
    try:
        return quote(value, safe="")
    except UnicodeEncodeError:
        raise InvalidArgumentError(
            argument, "must be an id (it contains a lone surrogate)"
        ) from None


def ad_hoc(method: HTTPMethod, path: str, model: type[T] | None) -> Endpoint[T]:
    """An endpoint for ``client.request(method, path)``: a path the table does not know,
    already encoded (``encode_path``), answered with ``model`` (None: the decoded JSON).

    Args:
        method: the HTTP method.
        path: the encoded path; taken literally (it has no template fields).
        model: the model class to parse the answer into, or None.

    Returns:
        The endpoint, named ``request``, with the generic unknown-outcome hint.
    """
    endpoint: Endpoint[T] = Endpoint("request", method, "/", "caller", model)
    endpoint.path = path
    endpoint._parts = (path,)
    return endpoint


#: [inferred] The hint of capture and cancel: the payment's status tells what happened.
_PAYMENT_STATUS_HINT = "Do not send it again: retrieve the payment and check its status first."

# The endpoint table: one row per endpoint, the formatter keeps its columns as written.
# fmt: off
SESSIONS_CREATE = Endpoint(
    "sessions.create", "POST", "/sessions", "doc: redirect-integration", Session,
    SESSION_CREATE_FIELDS,
    hint="A session that was created but never used simply expires unpaid, so it is safe to "
    "create another.",
)
SESSIONS_RETRIEVE = Endpoint(
    "sessions.retrieve", "GET", "/sessions/{session_id}", "doc: api-keys, api-versions", Session
)
SESSIONS_EXPIRE = Endpoint(
    "sessions.expire", "POST", "/sessions/{session_id}/expire", "doc: cancel-refund", Session,
    note="only an open session; no body",
    hint="Retrieve the session and check its status before sending it again.",
)
PAYMENTS_CREATE = Endpoint(
    "payments.create", "POST", "/payments", "doc: direct-integration", Payment,
    PAYMENT_CREATE_FIELDS,
    note="PCI DSS merchants only",
    hint="Do not send it again: wait for the payment.created webhook, or retrieve the payment "
    "by id if you have one.",
)
PAYMENTS_RETRIEVE = Endpoint(
    "payments.retrieve", "GET", "/payments/{payment_id}", "doc: direct-integration", Payment
)
PAYMENTS_CAPTURE = Endpoint(
    "payments.capture", "POST", "/payments/{payment_id}/capture", "doc: two-step", Payment,
    CAPTURE_FIELDS,
    note="the body {amount?} is inferred; without an amount no body is sent",
    hint=_PAYMENT_STATUS_HINT,
)
PAYMENTS_CANCEL = Endpoint(
    "payments.cancel", "POST", "/payments/{payment_id}/cancel", "inferred", Payment,
    note="the operation is published (cancel-refund), the path is ours",
    hint=_PAYMENT_STATUS_HINT,
)
REFUNDS_CREATE = Endpoint(
    "refunds.create", "POST", "/refunds", "inferred", Refund, REFUND_CREATE_FIELDS,
    note="refunds exist (cancel-refund, webhooks); the path and body are ours",
    hint="Do not send it again: retrieve the payment and check amount_refunded (or wait for "
    "the refund webhook) first.",
)
REFUNDS_RETRIEVE = Endpoint("refunds.retrieve", "GET", "/refunds/{refund_id}", "inferred", Refund)
PAYMENT_METHODS_RETRIEVE = Endpoint(
    "payment_methods.retrieve", "GET", "/payment-methods/{payment_method_id}", "inferred",
    PaymentMethod,
)
# fmt: on

#: Every endpoint by name, in the order of the contract's table.
ENDPOINTS: dict[str, Endpoint[Any]] = {
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
