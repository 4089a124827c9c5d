"""The sandbox's in-memory state and every state change: sessions, payments, refunds, payment
methods and 3-D Secure challenges, with the events each change emits.

All methods run on the gateway's event loop (never concurrently), take the time as an argument
and raise :class:`GatewayError` for an API error. JSON snapshots are built from the SDK's own
models through the shared converter (``unstructure``), so the SDK and the sandbox cannot disagree
on a field name or a timestamp format. No card number or CVC is ever stored here.
"""

from __future__ import annotations

import heapq
import logging
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any, Final, Literal

import attrs

from .._core._converter import unstructure
from ..models import (
    CaptureMethod,
    Card,
    EventType,
    Payment,
    PaymentData,
    PaymentMethod,
    PaymentStatus,
    Refund,
    RefundStatus,
    Session,
    SessionPaymentStatus,
    SessionStatus,
)
from ._cards import Decision
from ._errors import conflict, invalid, not_found
from ._ids import (
    new_challenge_id,
    new_md_order,
    new_payment_id,
    new_payment_method_id,
    new_refund_id,
    new_session_id,
)
from ._validate import PaymentInput, RefundInput, SessionInput

__all__ = [
    "CHALLENGE_PATH",
    "DEFAULT_SESSION_LIFETIME",
    "PAGE_PATH",
    "Challenge",
    "PageAttempt",
    "PaymentMethodRecord",
    "PaymentRecord",
    "RefundRecord",
    "SessionRecord",
    "Store",
]

logger = logging.getLogger("bpcpay.sandbox")

#: Created to expiresAt in BPC's example.
DEFAULT_SESSION_LIFETIME: Final = timedelta(minutes=20)
#: The hosted page's path, the same shape as BPC's.
PAGE_PATH: Final = "/payment/merchants/ecom/payment.html"
#: The 3-D Secure (ACS) page; the sandbox's own path.
CHALLENGE_PATH: Final = "/payment/merchants/ecom/acs.html"
#: Why a 3-D Secure challenge that the customer failed declines [inferred].
AUTHENTICATION_FAILED_CODE: Final = "authentication_failed"

Emit = Callable[[str, dict[str, Any]], None]
AttemptOutcome = Literal["approved", "challenged", "declined"]
_ATTEMPT_OUTCOMES: dict[str, AttemptOutcome] = {
    "approve": "approved",
    "challenge": "challenged",
    "decline": "declined",
}


@attrs.define(kw_only=True)
class PageAttempt:
    """One card entry on a session's page: what was decided, never the card data."""

    at: datetime
    outcome: AttemptOutcome
    brand: str
    last4: str
    code: str | None = None


@attrs.define(kw_only=True)
class SessionRecord:
    """A session as the sandbox holds it."""

    id: str
    md_order: str
    request: SessionInput
    created: datetime
    expires_at: datetime
    payment_url: str
    status: str = SessionStatus.OPEN
    payment_status: str = SessionPaymentStatus.UNPAID
    payment_id: str | None = None
    attempts: list[PageAttempt] = attrs.Factory(list)


@attrs.define(kw_only=True)
class PaymentRecord:
    """A payment as the sandbox holds it."""

    id: str
    amount: int
    currency: str
    status: str
    created: datetime
    capture_method: str
    amount_capturable: int = 0
    amount_received: int = 0
    amount_refunded: int = 0
    session_id: str | None = None
    payment_method_id: str | None = None
    merchant_reference_id: str | None = None
    metadata: dict[str, str] = attrs.Factory(dict)
    category: str | None = None
    recurring_model: dict[str, Any] | None = None
    failure_code: str | None = None
    failure_message: str | None = None
    return_url: str | None = None
    challenge_id: str | None = None


@attrs.define(kw_only=True)
class RefundRecord:
    """A refund as the sandbox holds it."""

    id: str
    payment: str
    amount: int
    currency: str
    status: str
    created: datetime
    reason: str | None = None
    metadata: dict[str, str] = attrs.Factory(dict)


@attrs.define(kw_only=True)
class PaymentMethodRecord:
    """A stored card: brand, last four digits and expiry only."""

    id: str
    created: datetime
    brand: str
    last4: str
    exp_month: int
    exp_year: int
    status: str = "active"


@attrs.define(kw_only=True)
class Challenge:
    """A pending 3-D Secure challenge, for a session's page or a direct payment."""

    id: str
    created: datetime
    decision: Decision
    session_id: str | None = None
    payment_id: str | None = None
    used: bool = False


def _prune(value: Any) -> Any:
    """Drop None members of JSON objects: BPC leaves absent fields out rather than null."""
    if isinstance(value, dict):
        return {k: _prune(v) for k, v in value.items() if v is not None}
    return value


def _whole_seconds(value: datetime) -> datetime:
    return value.replace(microsecond=0)


class Store:
    """Every object of one gateway, and the transitions between their states.

    Args:
        emit: called with (event type, JSON snapshot) for every event, in order.
        root_url: the gateway's root, for payment page and challenge URLs.
    """

    def __init__(self, *, emit: Emit, root_url: str) -> None:
        self._emit = emit
        self.root_url = root_url
        self.sessions: dict[str, SessionRecord] = {}
        self.payments: dict[str, PaymentRecord] = {}
        self.refunds: dict[str, RefundRecord] = {}
        self.payment_methods: dict[str, PaymentMethodRecord] = {}
        self.challenges: dict[str, Challenge] = {}
        self._by_md_order: dict[str, SessionRecord] = {}
        # (deadline, id) of sessions that may still be open: expiry checks run on every
        # request, so they must not scan every session.
        self._deadlines: list[tuple[datetime, str]] = []

    # --- JSON snapshots ---------------------------------------------------------------------

    def session_json(self, rec: SessionRecord) -> dict[str, Any]:
        """The session as the API returns it: every request field echoed."""
        req = rec.request
        model = Session(
            id=rec.id,
            amount=req.amount,
            currency=req.currency,
            status=rec.status,
            payment_status=rec.payment_status,
            payment_url=rec.payment_url,
            success_url=req.success_url,
            failure_url=req.failure_url,
            created=rec.created,
            expires_at=rec.expires_at,
            locale=req.locale,
            merchant_reference_id=req.merchant_reference_id,
            metadata=req.metadata,
            payment_data=PaymentData(capture_method=req.capture_method),
            payment=rec.payment_id,
        )
        data: dict[str, Any] = _prune(unstructure(model))
        # Kept as sent (the model knows only email/phone/name): the gateway echoes the request.
        data["customerDetails"] = dict(req.customer_details)
        if req.category is not None:
            data["category"] = req.category
        if req.recurring_model is not None:
            data["recurringModel"] = req.recurring_model
        return data

    def payment_json(self, rec: PaymentRecord) -> dict[str, Any]:
        """The payment as the API returns it."""
        model = Payment(
            id=rec.id,
            amount=rec.amount,
            currency=rec.currency,
            status=rec.status,
            created=rec.created,
            capture_method=rec.capture_method,
            amount_capturable=rec.amount_capturable,
            amount_received=rec.amount_received,
            amount_refunded=rec.amount_refunded,
            session=rec.session_id,
            payment_method=rec.payment_method_id,
            merchant_reference_id=rec.merchant_reference_id,
            metadata=rec.metadata,
            category=rec.category,
            failure_code=rec.failure_code,
            failure_message=rec.failure_message,
        )
        data: dict[str, Any] = _prune(unstructure(model))
        if rec.recurring_model is not None:
            data["recurringModel"] = rec.recurring_model
        if rec.status == PaymentStatus.REQUIRES_ACTION and rec.challenge_id is not None:
            # [inferred] where a direct payment sends the customer for 3-D Secure.
            data["nextAction"] = {"type": "redirect", "url": self.challenge_url(rec.challenge_id)}
        return data

    def refund_json(self, rec: RefundRecord) -> dict[str, Any]:
        """The refund as the API returns it."""
        model = Refund(
            id=rec.id,
            payment=rec.payment,
            amount=rec.amount,
            currency=rec.currency,
            status=rec.status,
            created=rec.created,
            reason=rec.reason,
            metadata=rec.metadata,
        )
        data: dict[str, Any] = _prune(unstructure(model))
        return data

    def payment_method_json(self, rec: PaymentMethodRecord) -> dict[str, Any]:
        """The payment method as the API returns it (never the card number)."""
        model = PaymentMethod(
            id=rec.id,
            type="card",
            created=rec.created,
            status=rec.status,
            card=Card(
                brand=rec.brand, last4=rec.last4, exp_month=rec.exp_month, exp_year=rec.exp_year
            ),
        )
        data: dict[str, Any] = _prune(unstructure(model))
        return data

    def challenge_url(self, challenge_id: str) -> str:
        """Where the customer answers a 3-D Secure challenge."""
        return f"{self.root_url}{CHALLENGE_PATH}?challenge={challenge_id}"

    # --- lookups -----------------------------------------------------------------------------

    def session(self, session_id: str) -> SessionRecord:
        """A session by id, or 404."""
        rec = self.sessions.get(session_id)
        if rec is None:
            raise not_found("session")
        return rec

    def payment(self, payment_id: str, param: str | None = None) -> PaymentRecord:
        """A payment by id, or 404."""
        rec = self.payments.get(payment_id)
        if rec is None:
            raise not_found("payment", param)
        return rec

    def refund(self, refund_id: str) -> RefundRecord:
        """A refund by id, or 404."""
        rec = self.refunds.get(refund_id)
        if rec is None:
            raise not_found("refund")
        return rec

    def payment_method(self, pm_id: str, param: str | None = None) -> PaymentMethodRecord:
        """A payment method by id, or 404."""
        rec = self.payment_methods.get(pm_id)
        if rec is None:
            raise not_found("payment method", param)
        return rec

    def session_by_md_order(self, md_order: str) -> SessionRecord | None:
        """The session whose payment page is ``?mdOrder=md_order``."""
        return self._by_md_order.get(md_order)

    # --- sessions ----------------------------------------------------------------------------

    def create_session(self, req: SessionInput, now: datetime) -> SessionRecord:
        """A new open session; its page is ready at ``payment_url``."""
        created = _whole_seconds(now)
        md_order = new_md_order()
        language = (req.locale or "en").lower()
        rec = SessionRecord(
            id=new_session_id(),
            md_order=md_order,
            request=req,
            created=created,
            expires_at=req.expires_at or created + DEFAULT_SESSION_LIFETIME,
            payment_url=f"{self.root_url}{PAGE_PATH}?mdOrder={md_order}&language={language}",
        )
        self.sessions[rec.id] = rec
        self._by_md_order[md_order] = rec
        heapq.heappush(self._deadlines, (rec.expires_at, rec.id))
        return rec

    def expire_due(self, now: datetime) -> list[SessionRecord]:
        """Expire every open session whose deadline has passed; emits ``session.expired``."""
        expired = []
        while self._deadlines and self._deadlines[0][0] <= now:
            _, session_id = heapq.heappop(self._deadlines)
            rec = self.sessions[session_id]
            if rec.status == SessionStatus.OPEN:
                rec.status = SessionStatus.EXPIRED
                expired.append(rec)
                logger.info("session %s expired", rec.id)
                self._emit(EventType.SESSION_EXPIRED, self.session_json(rec))
        return expired

    def record_attempt(self, rec: SessionRecord, decision: Decision, now: datetime) -> None:
        """Remember what a card entry on the page led to."""
        outcome = _ATTEMPT_OUTCOMES[decision.outcome]
        rec.attempts.append(
            PageAttempt(
                at=now,
                outcome=outcome,
                brand=decision.brand,
                last4=decision.last4,
                code=decision.code,
            )
        )

    def pay_session(self, rec: SessionRecord, decision: Decision, now: datetime) -> PaymentRecord:
        """The customer paid on the page: store the card, create and link the payment, complete
        the session. Emits ``paymentMethod.created``, ``payment.created``, ``payment.succeeded``
        (automatic capture only) and ``session.completed``."""
        req = rec.request
        pm = self._store_card(decision, now)
        payment = self._new_payment(
            amount=req.amount,
            currency=req.currency,
            capture_method=req.capture_method,
            now=now,
            session_id=rec.id,
            payment_method_id=pm.id,
            merchant_reference_id=req.merchant_reference_id,
            metadata=dict(req.metadata),
            category=req.category,
            recurring_model=req.recurring_model,
        )
        self._authorize(payment)
        rec.status = SessionStatus.COMPLETE
        rec.payment_status = SessionPaymentStatus.PAID
        rec.payment_id = payment.id
        logger.info("session %s paid: %s", rec.id, payment.id)
        self._emit(EventType.SESSION_COMPLETED, self.session_json(rec))
        return payment

    def open_challenge(
        self, decision: Decision, now: datetime, *, session_id: str | None = None,
        payment_id: str | None = None,
    ) -> Challenge:  # fmt: skip
        """A 3-D Secure challenge the customer must pass or fail."""
        challenge = Challenge(
            id=new_challenge_id(),
            created=now,
            decision=decision,
            session_id=session_id,
            payment_id=payment_id,
        )
        self.challenges[challenge.id] = challenge
        return challenge

    # --- payments ----------------------------------------------------------------------------

    def _store_card(self, decision: Decision, now: datetime) -> PaymentMethodRecord:
        pm = PaymentMethodRecord(
            id=new_payment_method_id(),
            created=_whole_seconds(now),
            brand=decision.brand,
            last4=decision.last4,
            exp_month=decision.exp_month,
            exp_year=decision.exp_year,
        )
        self.payment_methods[pm.id] = pm
        self._emit(EventType.PAYMENT_METHOD_CREATED, self.payment_method_json(pm))
        return pm

    def _new_payment(self, *, amount: int, currency: str, capture_method: str, now: datetime,
                     **fields: Any) -> PaymentRecord:  # fmt: skip
        payment = PaymentRecord(
            id=new_payment_id(),
            amount=amount,
            currency=currency,
            status=PaymentStatus.PROCESSING,
            created=_whole_seconds(now),
            capture_method=capture_method,
            **fields,
        )
        self.payments[payment.id] = payment
        return payment

    def _authorize(self, payment: PaymentRecord) -> None:
        """Authorisation succeeded: hold the money (manual) or take it (automatic)."""
        if payment.capture_method == CaptureMethod.MANUAL:
            payment.status = PaymentStatus.REQUIRES_CAPTURE
            payment.amount_capturable = payment.amount
            self._emit(EventType.PAYMENT_CREATED, self.payment_json(payment))
            return
        self._emit(EventType.PAYMENT_CREATED, self.payment_json(payment))
        payment.status = PaymentStatus.SUCCEEDED
        payment.amount_received = payment.amount
        self._emit(EventType.PAYMENT_SUCCEEDED, self.payment_json(payment))

    def _fail(self, payment: PaymentRecord, code: str | None, message: str | None,
              *, created: bool) -> None:  # fmt: skip
        if not created:
            self._emit(EventType.PAYMENT_CREATED, self.payment_json(payment))
        payment.status = PaymentStatus.FAILED
        payment.failure_code = code
        payment.failure_message = message
        self._emit(EventType.PAYMENT_FAILED, self.payment_json(payment))

    def create_payment(
        self, req: PaymentInput, decision: Decision | None, now: datetime
    ) -> PaymentRecord:
        """A direct payment. ``decision`` is None for a stored payment method (approved without
        3-D Secure, as a merchant-initiated charge)."""
        fields: dict[str, Any] = {
            "merchant_reference_id": req.merchant_reference_id,
            "metadata": dict(req.metadata),
            "category": req.category,
            "recurring_model": req.recurring_model,
            "return_url": req.return_url,
        }
        if decision is None:
            assert req.payment_method is not None
            pm = self.payment_method(req.payment_method, "paymentMethod")
            payment = self._new_payment(
                amount=req.amount, currency=req.currency, capture_method=req.capture_method,
                now=now, payment_method_id=pm.id, **fields,
            )  # fmt: skip
            self._authorize(payment)
            return payment
        payment = self._new_payment(
            amount=req.amount, currency=req.currency, capture_method=req.capture_method, now=now,
            **fields,
        )  # fmt: skip
        if decision.outcome == "decline":
            self._fail(payment, decision.code, decision.message, created=False)
            return payment
        payment.payment_method_id = self._store_card(decision, now).id
        if decision.outcome == "challenge":
            challenge = self.open_challenge(decision, now, payment_id=payment.id)
            payment.status = PaymentStatus.REQUIRES_ACTION
            payment.challenge_id = challenge.id
            self._emit(EventType.PAYMENT_CREATED, self.payment_json(payment))
            return payment
        self._authorize(payment)
        return payment

    def finish_payment_challenge(self, payment: PaymentRecord, passed: bool) -> None:
        """The customer answered a direct payment's 3-D Secure challenge."""
        if payment.status != PaymentStatus.REQUIRES_ACTION:
            return
        if not passed:
            self._fail(payment, AUTHENTICATION_FAILED_CODE,
                       "3-D Secure authentication failed.", created=True)  # fmt: skip
            return
        if payment.capture_method == CaptureMethod.MANUAL:
            payment.status = PaymentStatus.REQUIRES_CAPTURE
            payment.amount_capturable = payment.amount
            return
        payment.status = PaymentStatus.SUCCEEDED
        payment.amount_received = payment.amount
        self._emit(EventType.PAYMENT_SUCCEEDED, self.payment_json(payment))

    def capture(self, payment_id: str, amount: int | None) -> PaymentRecord:
        """Capture a ``requiresCapture`` payment in full or in part; the rest is released.
        Emits ``payment.funded`` then ``payment.succeeded`` [doc]."""
        payment = self.payment(payment_id)
        if payment.status != PaymentStatus.REQUIRES_CAPTURE:
            raise conflict(
                "payment_not_capturable",
                f"Only a payment in status requiresCapture can be captured; it is "
                f"{payment.status}.",
            )
        amount = payment.amount_capturable if amount is None else amount
        if amount > payment.amount_capturable:
            raise invalid(
                "amount",
                f"amount must be at most the capturable amount ({payment.amount_capturable}).",
                "amount_too_large",
            )
        payment.amount_received = amount
        payment.amount_capturable = 0
        payment.status = PaymentStatus.SUCCEEDED
        self._emit(EventType.PAYMENT_FUNDED, self.payment_json(payment))
        self._emit(EventType.PAYMENT_SUCCEEDED, self.payment_json(payment))
        return payment

    def cancel(self, payment_id: str) -> PaymentRecord:
        """Void an uncaptured payment (``requiresCapture`` or ``requiresAction``)."""
        payment = self.payment(payment_id)
        if payment.status not in (PaymentStatus.REQUIRES_CAPTURE, PaymentStatus.REQUIRES_ACTION):
            raise conflict(
                "payment_not_cancelable",
                f"Only an uncaptured payment can be canceled; it is {payment.status}.",
            )
        payment.status = PaymentStatus.CANCELED
        payment.amount_capturable = 0
        if payment.challenge_id is not None:
            self.challenges[payment.challenge_id].used = True
        self._emit(EventType.PAYMENT_CANCELED, self.payment_json(payment))
        return payment

    # --- refunds -----------------------------------------------------------------------------

    def create_refund(self, req: RefundInput, now: datetime) -> RefundRecord:
        """Refund all (default) or part of what is left of a succeeded payment.
        Emits ``refund.created`` (pending) and ``refund.succeeded``."""
        payment = self.payment(req.payment, "payment")
        if payment.status != PaymentStatus.SUCCEEDED:
            raise invalid(
                "payment",
                f"Only a succeeded payment can be refunded; it is {payment.status}.",
                "payment_not_refundable",
            )
        left = payment.amount_received - payment.amount_refunded
        if left <= 0:
            raise invalid("payment", "The payment is already fully refunded.", "already_refunded")
        amount = left if req.amount is None else req.amount
        if amount > left:
            raise invalid(
                "amount",
                f"amount must be at most what is left to refund ({left}).",
                "amount_too_large",
            )
        refund = RefundRecord(
            id=new_refund_id(),
            payment=payment.id,
            amount=amount,
            currency=payment.currency,
            status=RefundStatus.PENDING,
            created=_whole_seconds(now),
            reason=req.reason,
            metadata=dict(req.metadata),
        )
        self.refunds[refund.id] = refund
        self._emit(EventType.REFUND_CREATED, self.refund_json(refund))
        payment.amount_refunded += amount
        refund.status = RefundStatus.SUCCEEDED
        self._emit(EventType.REFUND_SUCCEEDED, self.refund_json(refund))
        return refund
