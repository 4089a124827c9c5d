"""The sandbox's in-memory state and every state change: sessions, payments, refunds, payment
methods and 3-D Secure challenges, with the events each change emits.

All methods run on the gateway's event loop (never concurrently), take the time as an argument
and raise :class:`GatewayError` for an API error. JSON snapshots are built from the SDK's own
models through the shared converter (``unstructure``), so the SDK and the sandbox cannot disagree
on a field name or a timestamp format. No card number or CVC is ever stored here.
"""

from __future__ import annotations

import heapq
import json
import logging
from collections.abc import Callable, Mapping
from datetime import datetime, timedelta
from typing import Any, Final, Literal, TypeVar
from urllib.parse import urlencode

import attrs

from .._core._wire import stores_card, unstructure
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
from ._cards import CardFacts, Decision
from ._errors import ErrorType, GatewayError, conflict, invalid, not_found
from ._ids import (
    new_card_token,
    new_challenge_id,
    new_md_order,
    new_payment_id,
    new_payment_method_id,
    new_refund_id,
    new_session_id,
)
from ._limits import OBJECT_OVERHEAD, StateLimit
from ._validate import OrderInput, PaymentInput, RefundInput, SessionInput

__all__ = [
    "CHALLENGE_PATH",
    "DEFAULT_SESSION_LIFETIME",
    "MAX_PAGE_ATTEMPTS",
    "PAGE_PATH",
    "Challenge",
    "PageAttempt",
    "PaymentRecord",
    "Record",
    "RefundRecord",
    "SessionRecord",
    "Store",
    "failed_challenge",
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
#: ``locale`` of a session created without one, as in BPC's example [doc: redirect-integration].
DEFAULT_LOCALE: Final = "EN"
#: The first ``merchantReferenceId`` the gateway gives a session created without one: BPC's
#: examples return ``"4000"`` and ``"4002"`` for sessions that sent none [inferred: a counter].
FIRST_MERCHANT_REFERENCE: Final = 4000
#: Card entries a session remembers (``SessionRecord.attempts``): the latest ones.
MAX_PAGE_ATTEMPTS: Final = 100
#: Payment states after which nothing more happens to a payment but refunds.
FINISHED_PAYMENT: Final = (PaymentStatus.SUCCEEDED, PaymentStatus.CANCELED, PaymentStatus.FAILED)
#: Payment states that can still be cancelled [doc: cancel-refund].
CANCELLABLE: Final = (
    PaymentStatus.REQUIRES_PAYMENT_METHOD,
    PaymentStatus.REQUIRES_ACTION,
    PaymentStatus.REQUIRES_CAPTURE,
)

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
    merchant_reference_id: str
    status: str = SessionStatus.OPEN
    payment_status: str = SessionPaymentStatus.UNPAID
    payment_id: str | None = None
    #: The latest card entries (at most MAX_PAGE_ATTEMPTS).
    attempts: list[PageAttempt] = attrs.Factory(list)
    #: Expired by ``POST /sessions/{id}/expire``: it then has no ``paymentUrl`` [doc].
    expired_early: bool = False
    #: Its 3-D Secure challenges (at most one unanswered: a new card entry supersedes it).
    challenge_ids: list[str] = attrs.Factory(list)


@attrs.define(kw_only=True)
class PaymentRecord:
    """A payment as the sandbox holds it: the terms it was made on, and where it stands."""

    id: str = attrs.field(factory=new_payment_id)
    #: As the request sent them, without card data (a direct payment's card is dropped once
    #: decided); a session's payment has the session's terms and reference, without the
    #: session's unknown fields (those are the session's own).
    order: OrderInput
    status: str
    created: datetime
    amount_capturable: int = 0
    amount_received: int = 0
    amount_refunded: int = 0
    session_id: str | None = None
    stored_payment_method_id: str | None = None
    failure_code: str | None = None
    failure_message: str | None = None
    challenge_id: str | None = None


@attrs.define(kw_only=True)
class RefundRecord:
    """A refund as the sandbox holds it: the API's object, and the request's unknown fields."""

    refund: Refund
    #: Request fields the gateway does not know, returned as they were sent.
    extra: dict[str, Any] = attrs.Factory(dict)


@attrs.define(kw_only=True)
class Challenge:
    """A pending 3-D Secure challenge, for a session's page or a direct payment."""

    id: str
    created: datetime
    decision: Decision
    session_id: str | None = None
    payment_id: str | None = None
    used: bool = False


#: Any object the API answers with; a stored card is held as the API's object itself.
Record = SessionRecord | PaymentRecord | RefundRecord | PaymentMethod
R = TypeVar("R")


def _found(record: R | None, what: str, param: str | None = None) -> R:
    """``record``, or the gateway's 404 for a ``what`` that does not exist."""
    if record is None:
        raise not_found(what, param)
    return record


def _prune(value: Any) -> Any:
    """Drop None members of JSON objects: BPC leaves absent fields out rather than null."""
    if isinstance(value, dict):
        return {k: _prune(v) for k, v in value.items() if v is not None}
    return value


def failed_challenge(decision: Decision) -> Decision:
    """What a 3-D Secure challenge the customer failed leads to: a decline [inferred code]."""
    return attrs.evolve(
        decision,
        outcome="decline",
        code=AUTHENTICATION_FAILED_CODE,
        message="3-D Secure authentication failed.",
    )


def _json_size(*values: Any) -> int:
    """What ``values`` hold, as bytes of JSON (ASCII-escaped, so never fewer than UTF-8's)."""
    return len(json.dumps(values, default=str))


def _order_size(order: OrderInput) -> int:
    """The charge of an order's terms: its free-form members and a record's overhead."""
    return OBJECT_OVERHEAD + _json_size(attrs.asdict(order, recurse=False))


def _whole_seconds(value: datetime) -> datetime:
    return value.replace(microsecond=0)


def _answered(
    model: Session | Payment | Refund | PaymentMethod,
    extra: Mapping[str, Any],
    order: OrderInput | None = None,
) -> dict[str, Any]:
    """An object as the API returns it: the model's JSON (absent fields left out rather than
    null, as BPC does), with what ``order`` sent that the models know only in part echoed as
    it was sent, under the request's ``extra`` fields (never in place of one the gateway
    writes)."""
    data: dict[str, Any] = _prune(unstructure(model))
    if order is not None:
        data["customerDetails"] = order.customer_details
        if order.setup_future_usage is not None:
            data["setupFutureUsage"] = order.setup_future_usage
    return {**extra, **data} if extra else data


class Store:
    """Every object of one gateway, and the transitions between their states.

    Events follow the contract's flow table [doc: direct-integration, webhooks]: a paid session
    ``payment.created`` (at the first card entry) ... ``session.completed``; a declined attempt
    ``payment.created`` then ``payment.failed``; a two-step hold
    ``payment.amountCapturableUpdated``; a capture ``payment.funded`` and ``payment.succeeded``;
    an expiry ``session.expired``. A card is stored (``paymentMethod.created``) only when the
    request's ``setupFutureUsage`` asks for it.

    Every object kept is charged to ``limit`` (see ``_limits.py``): the oldest finished ones
    are dropped first when something new needs room, and a new session, payment or refund that
    still does not fit is refused with 503 ``state_full``.

    Args:
        emit: called with (event type, JSON snapshot) for every event, in order.
        root_url: the gateway's root, for payment page and challenge URLs.
        limit: the ledger of the gateway's whole state.
    """

    def __init__(self, *, emit: Emit, root_url: str, limit: StateLimit) -> None:
        self._emit = emit
        self.root_url = root_url
        self._limit = limit
        self.sessions: dict[str, SessionRecord] = {}
        self.payments: dict[str, PaymentRecord] = {}
        self.refunds: dict[str, RefundRecord] = {}
        self.payment_methods: dict[str, PaymentMethod] = {}
        self.challenges: dict[str, Challenge] = {}
        #: Card tokens issued (``gw.card_token``): what the rules need of each card, never
        #: its number or CVC.
        self.tokens: dict[str, CardFacts] = {}
        self._by_md_order: dict[str, SessionRecord] = {}
        self._next_reference = FIRST_MERCHANT_REFERENCE
        # (deadline, id) of sessions that may still be open: expiry checks run on every
        # request, so they must not scan every session.
        self._deadlines: list[tuple[datetime, str]] = []

    # --- JSON snapshots ---------------------------------------------------------------------

    def session_json(self, rec: SessionRecord) -> dict[str, Any]:
        """The session as the API returns it: every field sent (unknown ones included), and
        the defaults of BPC's example for those not sent."""
        req = rec.request
        model = Session(
            id=rec.id,
            amount=req.amount,
            currency=req.currency,
            status=rec.status,
            payment_status=rec.payment_status,
            payment_url=None if rec.expired_early else rec.payment_url,
            success_url=req.success_url,
            failure_url=req.failure_url,
            created=rec.created,
            expires_at=rec.expires_at,
            locale=DEFAULT_LOCALE if req.locale is None else req.locale,
            merchant_reference_id=rec.merchant_reference_id,
            metadata=req.metadata,
            payment_data=PaymentData(capture_method=req.capture_method),
            merchant_customer_id=req.merchant_customer_id,
            payment=rec.payment_id,
        )
        return _answered(model, req.extra, req)

    def payment_json(self, rec: PaymentRecord) -> dict[str, Any]:
        """The payment as the API returns it (never card data)."""
        order = rec.order
        model = Payment(
            id=rec.id,
            amount=order.amount,
            currency=order.currency,
            status=rec.status,
            created=rec.created,
            capture_method=order.capture_method,
            amount_capturable=rec.amount_capturable,
            amount_received=rec.amount_received,
            amount_refunded=rec.amount_refunded,
            session=rec.session_id,
            stored_payment_method_id=rec.stored_payment_method_id,
            merchant_customer_id=order.merchant_customer_id,
            merchant_reference_id=order.merchant_reference_id,
            metadata=order.metadata,
            failure_code=rec.failure_code,
            failure_message=rec.failure_message,
        )
        data = _answered(model, order.extra, order)
        if rec.status == PaymentStatus.REQUIRES_ACTION and rec.challenge_id is not None:
            # [inferred] where a direct payment sends the customer for 3-D Secure.
            data["nextAction"] = {"type": "redirect", "url": self.challenge_url(rec.challenge_id)}
        return data

    def snapshot(self, rec: Record) -> dict[str, Any]:
        """Any object as the API returns it."""
        if isinstance(rec, SessionRecord):
            return self.session_json(rec)
        if isinstance(rec, PaymentRecord):
            return self.payment_json(rec)
        if isinstance(rec, RefundRecord):
            return _answered(rec.refund, rec.extra)
        return _answered(rec, {})

    def challenge_url(self, challenge_id: str) -> str:
        """Where the customer answers a 3-D Secure challenge."""
        return f"{self.root_url}{CHALLENGE_PATH}?{urlencode({'challenge': challenge_id})}"

    # --- lookups -----------------------------------------------------------------------------

    def session(self, session_id: str) -> SessionRecord:
        """A session by id, or 404."""
        return _found(self.sessions.get(session_id), "session")

    def payment(self, payment_id: str, param: str | None = None) -> PaymentRecord:
        """A payment by id, or 404."""
        return _found(self.payments.get(payment_id), "payment", param)

    def refund(self, refund_id: str) -> RefundRecord:
        """A refund by id, or 404."""
        return _found(self.refunds.get(refund_id), "refund")

    def payment_method(self, pm_id: str, param: str | None = None) -> PaymentMethod:
        """A payment method by id, or 404."""
        return _found(self.payment_methods.get(pm_id), "payment method", param)

    def session_by_md_order(self, md_order: str) -> SessionRecord | None:
        """The session whose payment page is ``?mdOrder=md_order``."""
        return self._by_md_order.get(md_order)

    # --- the state's bound --------------------------------------------------------------------

    def _admit(self, size: int, keep: tuple[str, str] | None = None) -> None:
        """Room for a new object of ``size`` bytes, the oldest finished dropped for it (never
        ``keep``, the object the change is about); or 503."""
        if not self._limit.make_room(size, keep=keep):
            raise GatewayError(
                503,
                ErrorType.API,
                "state_full",
                f"The sandbox keeps {self._limit.total} bytes of objects still in use and its "
                f"limit is {self._limit.limit} (state_limit_bytes): let sessions expire or "
                "finish payments, or start it with a larger state_limit_bytes.",
            )

    def _keep_session(self, rec: SessionRecord, size: int) -> None:
        def drop() -> None:
            del self.sessions[rec.id]
            self._by_md_order.pop(rec.md_order, None)
            self._drop_challenges(rec.challenge_ids)

        self._limit.charge(
            ("session", rec.id),
            size,
            finished=lambda: rec.status != SessionStatus.OPEN,
            drop=drop,
        )

    def _keep_payment(self, payment: PaymentRecord, size: int) -> None:
        def drop() -> None:
            del self.payments[payment.id]
            if payment.challenge_id is not None:
                self._drop_challenges([payment.challenge_id])

        self._limit.charge(
            ("payment", payment.id),
            size,
            finished=lambda: payment.status in FINISHED_PAYMENT,
            drop=drop,
        )

    def _keep(self, kind: str, ident: str, table: dict[str, Any], size: int) -> None:
        """Charge an object that is finished as soon as it is made (a refund, a stored card)."""
        self._limit.charge(
            (kind, ident), size, finished=lambda: True, drop=lambda: table.pop(ident)
        )

    def _drop_challenges(self, challenge_ids: list[str]) -> None:
        for challenge_id in challenge_ids:
            if self.challenges.pop(challenge_id, None) is not None:
                self._limit.forget(("challenge", challenge_id))

    @property
    def size(self) -> int:
        """The bytes charged for everything kept."""
        return self._limit.total

    # --- sessions ----------------------------------------------------------------------------

    def create_session(self, req: SessionInput, now: datetime) -> SessionRecord:
        """A new open session; its page is ready at ``payment_url``. 503 ``state_full`` when
        the state's limit leaves no room for it."""
        size = _order_size(req)
        self._admit(size)
        created = _whole_seconds(now)
        md_order = new_md_order()
        reference = req.merchant_reference_id
        if reference is None:
            reference = str(self._next_reference)
            self._next_reference += 1
        query = urlencode({"mdOrder": md_order, "language": (req.locale or "en").lower()})
        rec = SessionRecord(
            id=new_session_id(),
            md_order=md_order,
            request=req,
            created=created,
            expires_at=req.expires_at or created + DEFAULT_SESSION_LIFETIME,
            payment_url=f"{self.root_url}{PAGE_PATH}?{query}",
            merchant_reference_id=reference,
        )
        self.sessions[rec.id] = rec
        self._by_md_order[md_order] = rec
        self._keep_session(rec, size)
        heapq.heappush(self._deadlines, (rec.expires_at, rec.id))
        return rec

    def _expire(self, rec: SessionRecord, *, early: bool) -> None:
        rec.status = SessionStatus.EXPIRED
        rec.expired_early = early
        logger.info("session %s expired%s", rec.id, " on request" if early else "")
        self._emit(EventType.SESSION_EXPIRED, self.session_json(rec))

    def expire_session(self, session_id: str) -> SessionRecord:
        """``POST /sessions/{id}/expire``: an open session expires now [doc: cancel-refund].

        It keeps its ``expiresAt`` and loses its ``paymentUrl``; emits ``session.expired``.
        Any other state is 409 ``session_not_open`` [inferred status and code].
        """
        rec = self.session(session_id)
        if rec.status != SessionStatus.OPEN:
            raise conflict(
                "session_not_open", f"Only an open session can be expired; it is {rec.status}."
            )
        self._expire(rec, early=True)
        return rec

    def expire_due(self, now: datetime) -> list[SessionRecord]:
        """Expire every open session whose deadline has passed; emits ``session.expired``."""
        expired = []
        while self._deadlines and self._deadlines[0][0] <= now:
            _, session_id = heapq.heappop(self._deadlines)
            rec = self.sessions.get(session_id)
            if rec is not None and rec.status == SessionStatus.OPEN:
                self._expire(rec, early=False)
                expired.append(rec)
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
        del rec.attempts[:-MAX_PAGE_ATTEMPTS]

    def _session_payment(self, rec: SessionRecord, now: datetime, status: str) -> PaymentRecord:
        """The session's payment, created (``payment.created``) at the first card entry."""
        payment = None if rec.payment_id is None else self.payments.get(rec.payment_id)
        # Another card after a decline (or an abandoned 3-D Secure step) reuses it; one the
        # merchant cancelled meanwhile (or dropped since) is left alone and a new payment starts.
        if payment is not None and payment.status in (
            PaymentStatus.REQUIRES_PAYMENT_METHOD,
            PaymentStatus.REQUIRES_ACTION,
        ):
            payment.status = status
            return payment
        order = attrs.evolve(rec.request, merchant_reference_id=rec.merchant_reference_id, extra={})
        created = _whole_seconds(now)
        payment = PaymentRecord(order=order, status=status, created=created, session_id=rec.id)
        self.payments[payment.id] = payment
        # Its terms are the session's own objects (not copies): only the record is charged.
        self._keep_payment(payment, OBJECT_OVERHEAD)
        rec.payment_id = payment.id
        self._emit(EventType.PAYMENT_CREATED, self.payment_json(payment))
        return payment

    def decline_session_attempt(
        self, rec: SessionRecord, decision: Decision, now: datetime
    ) -> PaymentRecord:
        """A card entry on the page was declined: ``payment.failed``; the customer may try
        again, so the payment waits for another card (``requiresPaymentMethod``)."""
        self.record_attempt(rec, decision, now)
        payment = self._session_payment(rec, now, PaymentStatus.PROCESSING)
        self._fail(payment, decision, status=PaymentStatus.REQUIRES_PAYMENT_METHOD)
        return payment

    def challenge_session(self, rec: SessionRecord, decision: Decision, now: datetime) -> Challenge:
        """A card entry on the page needs 3-D Secure: the payment ``requiresAction``."""
        self.record_attempt(rec, decision, now)
        self._session_payment(rec, now, PaymentStatus.REQUIRES_ACTION)
        for earlier in rec.challenge_ids:  # a new card entry supersedes an unanswered one
            if earlier in self.challenges:
                self.challenges[earlier].used = True
        challenge = self.open_challenge(decision, now, session_id=rec.id)
        rec.challenge_ids.append(challenge.id)
        return challenge

    def pay_session(self, rec: SessionRecord, decision: Decision, now: datetime) -> PaymentRecord:
        """The customer paid on the page: authorise the session's payment, store the card when
        asked, complete the session. Emits ``payment.created`` (unless an earlier attempt
        did), ``paymentMethod.created`` (when asked), ``payment.succeeded`` or
        ``payment.amountCapturableUpdated``, then ``session.completed``."""
        if decision.outcome == "approve":
            self.record_attempt(rec, decision, now)
        payment = self._session_payment(rec, now, PaymentStatus.PROCESSING)
        payment.failure_code = payment.failure_message = None
        self._store_card_if_asked(payment, decision, now)
        self._authorize(payment)
        rec.status = SessionStatus.COMPLETE
        rec.payment_status = SessionPaymentStatus.PAID
        logger.info("session %s paid: %s", rec.id, payment.id)
        self._emit(EventType.SESSION_COMPLETED, self.session_json(rec))
        return payment

    def open_challenge(
        self,
        decision: Decision,
        now: datetime,
        *,
        session_id: str | None = None,
        payment_id: str | None = None,
    ) -> Challenge:
        """A 3-D Secure challenge the customer must pass or fail."""
        challenge = Challenge(
            id=new_challenge_id(),
            created=now,
            decision=decision,
            session_id=session_id,
            payment_id=payment_id,
        )
        self.challenges[challenge.id] = challenge
        self._limit.charge(
            ("challenge", challenge.id),
            OBJECT_OVERHEAD,
            finished=lambda: challenge.used,
            drop=lambda: self.challenges.pop(challenge.id),
        )
        self._limit.make_room()
        return challenge

    # --- card tokens -------------------------------------------------------------------------

    def issue_token(self, facts: CardFacts) -> str:
        """A new card token for a card entry's facts [inferred: how long BPC's tokens last and
        whether one pays more than once are unpublished; here one lasts until the state's
        limit drops it, oldest first, and pays as often as it is used]."""
        self._admit(OBJECT_OVERHEAD)
        token = new_card_token()
        self.tokens[token] = facts
        self._keep("token", token, self.tokens, OBJECT_OVERHEAD)
        return token

    def token_facts(self, token: str, param: str) -> CardFacts:
        """The facts of an issued token, or 400 ``token_unknown`` (the token is not echoed)."""
        facts = self.tokens.get(token)
        if facts is None:
            raise invalid(
                param, f"{param} is not a card token this gateway issued.", "token_unknown"
            )
        return facts

    # --- payments ----------------------------------------------------------------------------

    def _store_card_if_asked(
        self, payment: PaymentRecord, decision: Decision, now: datetime
    ) -> None:
        """Store the card (``paymentMethod.created``) when ``setupFutureUsage`` asks to."""
        if not stores_card(payment.order.setup_future_usage):
            return
        card = Card(
            brand=decision.brand,
            last4=decision.last4,
            exp_month=decision.exp_month,
            exp_year=decision.exp_year,
        )
        pm = PaymentMethod(
            id=new_payment_method_id(),
            type="card",
            created=_whole_seconds(now),
            card=card,
            status="active",
            merchant_customer_id=payment.order.merchant_customer_id,
        )
        self.payment_methods[pm.id] = pm
        self._keep("payment_method", pm.id, self.payment_methods, OBJECT_OVERHEAD)
        self._limit.make_room()
        payment.stored_payment_method_id = pm.id
        self._emit(EventType.PAYMENT_METHOD_CREATED, self.snapshot(pm))

    def _authorize(self, payment: PaymentRecord) -> None:
        """Authorisation succeeded: hold the money (manual: ``requiresCapture`` and
        ``payment.amountCapturableUpdated``) or take it (``payment.succeeded``)."""
        if payment.order.capture_method == CaptureMethod.MANUAL:
            payment.status = PaymentStatus.REQUIRES_CAPTURE
            payment.amount_capturable = payment.order.amount
            self._emit(EventType.PAYMENT_AMOUNT_CAPTURABLE_UPDATED, self.payment_json(payment))
            return
        payment.status = PaymentStatus.SUCCEEDED
        payment.amount_received = payment.order.amount
        self._emit(EventType.PAYMENT_SUCCEEDED, self.payment_json(payment))

    def _fail(self, payment: PaymentRecord, decision: Decision, *, status: str) -> None:
        payment.status = status
        payment.failure_code = decision.code
        payment.failure_message = decision.message
        self._emit(EventType.PAYMENT_FAILED, self.payment_json(payment))

    def create_payment(
        self, req: PaymentInput, decision: Decision | None, now: datetime
    ) -> PaymentRecord:
        """A direct payment: ``payment.created`` first, then what the card leads to.

        ``decision`` is None for a stored payment method (approved without 3-D Secure, as a
        merchant-initiated charge).
        """
        stored = None
        if decision is None:
            assert req.stored_payment_method_id is not None
            stored = self.payment_method(req.stored_payment_method_id, "storedPaymentMethodId").id
        challenged = decision is not None and decision.outcome == "challenge"
        status = PaymentStatus.REQUIRES_ACTION if challenged else PaymentStatus.PROCESSING
        created = _whole_seconds(now)
        # The card's number and CVC are done with once decided: the sandbox never keeps them.
        order = attrs.evolve(req, card=None)
        size = _order_size(order)
        self._admit(size)
        payment = PaymentRecord(
            order=order, status=status, created=created, stored_payment_method_id=stored
        )
        self.payments[payment.id] = payment
        self._keep_payment(payment, size)
        if challenged:
            assert decision is not None
            payment.challenge_id = self.open_challenge(decision, now, payment_id=payment.id).id
        self._emit(EventType.PAYMENT_CREATED, self.payment_json(payment))
        if decision is None:
            self._authorize(payment)
        elif decision.outcome == "decline":
            self._fail(payment, decision, status=PaymentStatus.FAILED)
        elif not challenged:
            self._store_card_if_asked(payment, decision, now)
            self._authorize(payment)
        return payment

    def finish_payment_challenge(self, payment: PaymentRecord, passed: bool, now: datetime) -> None:
        """The customer answered a direct payment's 3-D Secure challenge."""
        if payment.status != PaymentStatus.REQUIRES_ACTION or payment.challenge_id is None:
            return
        decision = self.challenges[payment.challenge_id].decision
        if not passed:
            self._fail(payment, failed_challenge(decision), status=PaymentStatus.FAILED)
            return
        self._store_card_if_asked(payment, decision, now)
        self._authorize(payment)

    def capture(self, payment_id: str, amount: int | None) -> PaymentRecord:
        """Capture a ``requiresCapture`` payment in full or in part, as often as something is
        left to capture [doc: two-step: partial and multiple captures exist; the rules are our
        reading, inferred]: at most ``amountCapturable`` (none: all of it), each capture emits
        ``payment.funded`` [doc: direct-integration] with ``amountReceived`` and
        ``amountCapturable`` moved, and the one that spends the rest makes the payment
        ``succeeded`` (``payment.succeeded``); until then it stays ``requiresCapture``."""
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
        payment.amount_received += amount
        payment.amount_capturable -= amount
        if payment.amount_capturable == 0:
            payment.status = PaymentStatus.SUCCEEDED
        self._emit(EventType.PAYMENT_FUNDED, self.payment_json(payment))
        if payment.status == PaymentStatus.SUCCEEDED:
            self._emit(EventType.PAYMENT_SUCCEEDED, self.payment_json(payment))
        return payment

    def cancel(self, payment_id: str) -> PaymentRecord:
        """Cancel a payment before its first capture [doc: cancel-refund]: ``payment.canceled``.
        After a (partial) capture only refunds give money back."""
        payment = self.payment(payment_id)
        if payment.status not in CANCELLABLE or payment.amount_received:
            raise conflict(
                "payment_not_cancelable",
                f"Only a payment not yet captured can be canceled; it is {payment.status}.",
            )
        payment.status = PaymentStatus.CANCELED
        payment.amount_capturable = 0
        if payment.challenge_id is not None:
            self.challenges[payment.challenge_id].used = True
        self._emit(EventType.PAYMENT_CANCELED, self.payment_json(payment))
        return payment

    # --- refunds -----------------------------------------------------------------------------

    def create_refund(self, req: RefundInput, now: datetime) -> RefundRecord:
        """Refund all (default) or part of what is left of what a payment captured: a
        succeeded payment, or one still ``requiresCapture`` after a partial capture [inferred].
        Emits ``refund.created`` (pending) and ``refund.succeeded``."""
        payment = self.payment(req.payment_id, "payment")
        captured = payment.status == PaymentStatus.REQUIRES_CAPTURE and payment.amount_received
        if payment.status != PaymentStatus.SUCCEEDED and not captured:
            raise invalid(
                "payment",
                f"Only a payment with money captured can be refunded; it is {payment.status}.",
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
        pending = Refund(
            id=new_refund_id(),
            payment=payment.id,
            amount=amount,
            currency=payment.order.currency,
            status=RefundStatus.PENDING,
            created=_whole_seconds(now),
            reason=req.reason,
            metadata=dict(req.metadata),
        )
        size = OBJECT_OVERHEAD + _json_size(req.metadata, req.reason, req.extra)
        self._admit(size, keep=("payment", payment.id))
        rec = RefundRecord(refund=pending, extra=dict(req.extra))
        self.refunds[pending.id] = rec
        self._keep("refund", pending.id, self.refunds, size)
        self._emit(EventType.REFUND_CREATED, self.snapshot(rec))
        payment.amount_refunded += amount
        rec.refund = attrs.evolve(pending, status=RefundStatus.SUCCEEDED)
        self._emit(EventType.REFUND_SUCCEEDED, self.snapshot(rec))
        return rec
