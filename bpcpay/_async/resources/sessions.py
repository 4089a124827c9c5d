"""``client.sessions``: hosted payment sessions."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

from ..._core import _endpoints as ep
from ..._core._bodies import SESSION_CREATE
from ..._types import NOT_GIVEN, NotGiven, TimeoutLike
from ...models import CustomerDetails, Session, SetupFutureUsage
from ._base import AsyncResource

__all__ = ["AsyncSessions"]


class AsyncSessions(AsyncResource):
    """Create, retrieve and expire hosted payment sessions."""

    __slots__ = ()

    async def create(
        self,
        *,
        amount: int,
        currency: str,
        success_url: str,
        failure_url: str,
        merchant_reference_id: str | NotGiven = NOT_GIVEN,
        locale: str | NotGiven = NOT_GIVEN,
        metadata: Mapping[str, str] | NotGiven = NOT_GIVEN,
        customer_details: CustomerDetails | Mapping[str, Any] | NotGiven = NOT_GIVEN,
        capture_method: str | NotGiven = NOT_GIVEN,
        expires_at: datetime | NotGiven = NOT_GIVEN,
        merchant_customer_id: str | NotGiven = NOT_GIVEN,
        setup_future_usage: SetupFutureUsage | Mapping[str, Any] | NotGiven = NOT_GIVEN,
        extra_body: Mapping[str, Any] | NotGiven = NOT_GIVEN,
        extra_headers: Mapping[str, str] | NotGiven = NOT_GIVEN,
        timeout: TimeoutLike | NotGiven = NOT_GIVEN,
    ) -> Session:
        """Create a session and get the ``payment_url`` to send the customer to.

        Typed arguments take the model or a plain mapping; a mapping is wire form (camelCase
        keys, e.g. ``{"address": {"postalCode": ...}}``) and is sent as given once checked.

        Args:
            amount: in minor units of ``currency`` (100.00 EUR is ``10000``); a positive int.
            currency: ISO 4217 letters, e.g. ``"EUR"`` (lower case is accepted).
            success_url: where the gateway sends the customer after paying
                (``?sessionId=<id>`` is appended).
            failure_url: where it sends the customer after a failure.
            merchant_reference_id: your order id; echoed back, and kept on errors so you
                can reconcile an unknown outcome.
            locale: the payment page's language, e.g. ``"en"`` (the gateway's default is
                ``"EN"``).
            metadata: your own string key/values, echoed back.
            customer_details: who pays: a CustomerDetails, or a mapping in wire form.
            capture_method: ``"automatic"`` (default) or ``"manual"`` for a two-step payment;
                sent as ``paymentData.captureMethod``.
            expires_at: a timezone-aware deadline (the gateway's default is 20 minutes).
            merchant_customer_id: your customer's id, to which a stored card is attached.
            setup_future_usage: whether and how to keep the card for later payments: a
                SetupFutureUsage, or its wire form.
            extra_body: more top-level JSON fields, for one bpcpay does not know yet; a field
                a keyword already sets is refused.
            extra_headers: more HTTP headers for this call (a header bpcpay sets itself,
                such as ``X-Api-Key``, is refused).
            timeout: this call's timeout.

        Returns:
            The new Session (``status == "open"``).

        Raises:
            InvalidArgumentError: an argument is invalid; nothing was sent.
            APITimeoutError: no answer in time; a session may exist. It is safe to create
                another: an unused one expires unpaid.
            APIStatusError: the gateway refused (e.g. 412 for redirect URLs it rejects).
        """
        body = SESSION_CREATE.build(
            amount=amount,
            currency=currency,
            success_url=success_url,
            failure_url=failure_url,
            merchant_reference_id=merchant_reference_id,
            locale=locale,
            metadata=metadata,
            customer_details=customer_details,
            capture_method=capture_method,
            expires_at=expires_at,
            merchant_customer_id=merchant_customer_id,
            setup_future_usage=setup_future_usage,
        )
        return await self._send_body(ep.SESSIONS_CREATE, body, extra_body, timeout, extra_headers)

    async def retrieve(
        self,
        session_id: str,
        /,
        *,
        extra_headers: Mapping[str, str] | NotGiven = NOT_GIVEN,
        timeout: TimeoutLike | NotGiven = NOT_GIVEN,
    ) -> Session:
        """Fetch a session, e.g. on your success page to confirm it is paid.

        Args:
            session_id: ``ps_...``, as in the ``sessionId`` query parameter of the redirect.
            extra_headers: more HTTP headers for this call (a header bpcpay sets itself,
                such as ``X-Api-Key``, is refused).
            timeout: this call's timeout.

        Returns:
            The Session as the gateway sees it now.

        Raises:
            InvalidArgumentError: ``session_id`` is empty.
            NotFoundError: no such session.
        """
        return await self._request(
            ep.SESSIONS_RETRIEVE, session_id, timeout=timeout, extra_headers=extra_headers
        )

    async def expire(
        self,
        session_id: str,
        /,
        *,
        extra_headers: Mapping[str, str] | NotGiven = NOT_GIVEN,
        timeout: TimeoutLike | NotGiven = NOT_GIVEN,
    ) -> Session:
        """Expire an open session now, e.g. when the order is cancelled before payment.

        The request has no body. The customer can no longer pay on its page; the session keeps
        its ``expires_at`` and loses its ``payment_url``, and a ``session.expired`` webhook
        follows.

        Args:
            session_id: an open session's ``ps_...`` id.
            extra_headers: more HTTP headers for this call (a header bpcpay sets itself,
                such as ``X-Api-Key``, is refused).
            timeout: this call's timeout.

        Returns:
            The Session, ``status == "expired"``.

        Raises:
            InvalidArgumentError: ``session_id`` is empty.
            NotFoundError: no such session.
            ConflictError: the session is not open (already expired, or completed); the
                sandbox answers 409 with the code ``session_not_open``.
            APITimeoutError: the outcome is unknown; retrieve the session to see its status.
        """
        return await self._request(
            ep.SESSIONS_EXPIRE, session_id, timeout=timeout, extra_headers=extra_headers
        )
