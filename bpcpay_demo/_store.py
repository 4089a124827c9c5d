"""The demo store: an aiohttp.web shop that takes card payments through bpcpay, written the way
a merchant would write it, with nothing but the public SDK.

The redirect flow it implements (BPC's, see ``bpc-api-v2.md``):

1. ``POST /buy`` creates an order and a session (``merchant_reference_id`` = the order id) and
   sends the customer to the session's ``payment_url`` with a 303.
2. The gateway sends the customer back to ``/success?sessionId=...`` or ``/failure?...``.
3. ``POST /webhooks`` verifies the ``session.completed`` delivery on its raw body with
   :func:`bpcpay.webhooks.construct_event` and marks the order paid; a verified
   ``payment.failed`` records why the customer's card was declined, for the failure page.
   Repeated deliveries are recognised by the event's signed content (type, object id,
   ``created``), never by the unsigned ``API-Request-Id`` header.

The redirect alone never marks an order paid: the success page shows "paid" only when the
webhook has been verified, or when ``sessions.retrieve`` (an authenticated call to the gateway)
says so. Orders live in memory; the store owns them, its routes and its one API client.
"""

from __future__ import annotations

import asyncio
import logging
import secrets
import time
from collections.abc import Callable, Mapping
from typing import Any

import attrs
from aiohttp import web
from yarl import URL

from bpcpay import (
    APIError,
    AsyncBpcPay,
    Event,
    EventType,
    Payment,
    Session,
    SignatureVerificationError,
)
from bpcpay.webhooks import construct_event

from . import _pages

__all__ = ["DECLINE_REASONS", "DemoStore", "Order", "OrderStatus", "Product", "decline_reason"]

logger = logging.getLogger("bpcpay.demo")

#: Webhook bodies above this are refused before verification (a real event is a few KB).
_MAX_WEBHOOK_BYTES = 256 * 1024

#: What the failure page tells the customer for a decline code. ``71015`` is BPC's published
#: "input error"; the other two are the sandbox's own codes [inferred], since BPC publishes no
#: list of decline codes.
DECLINE_REASONS = {
    "71015": "the card number, expiry date or CVC was not entered correctly (input error)",
    "card_declined": "the bank that issued the card declined the payment",
    "authentication_failed": "the 3-D Secure check of the card's bank did not pass",
}


def decline_reason(code: str | None, message: str | None = None) -> str:
    """The meaning of a decline code for a person: the known meaning, else the gateway's own
    message, else a plain "no reason given"."""
    if code in DECLINE_REASONS:
        return DECLINE_REASONS[code]
    return message or "the gateway gave no reason"


class OrderStatus:
    """An order's states. ``paid`` is reached only through a verified webhook or retrieve."""

    PENDING = "pending"
    PAID = "paid"
    EXPIRED = "expired"


@attrs.frozen(kw_only=True)
class Product:
    """What the store sells: one product, priced in minor units."""

    sku: str
    name: str
    description: str
    amount: int
    currency: str

    @property
    def price(self) -> str:
        """The price for display, e.g. ``24.00 EUR``."""
        major, minor = divmod(self.amount, 100)
        return f"{major:,}.{minor:02d} {self.currency}"


DEFAULT_PRODUCT = Product(
    sku="dripper-01",
    name="Ceramic pour-over dripper",
    description=(
        "Hand-glazed stoneware, one to two cups. Brews a clean, bright cup in three minutes, "
        "and looks good doing it."
    ),
    amount=2400,
    currency="EUR",
)


@attrs.define(kw_only=True)
class Order:
    """One order and how its payment was confirmed.

    Attributes:
        id: the store's order id, sent as ``merchant_reference_id``.
        product: what was bought.
        session_id: the payment session, once created.
        payment_url: where the customer pays (kept for "try again").
        status: an :class:`OrderStatus` value.
        confirmed_by: ``"webhook"`` or ``"sessions.retrieve"``: what proved the payment.
        webhook_request_id: the ``API-Request-Id`` of the verified ``session.completed``
            (shown to the person watching; never used to recognise a repeat).
        payment_id: the gateway's payment, once paid.
        decline_code: why the last attempt was declined, from a verified ``payment.failed``.
        decline_message: the gateway's own words for it, if any.
        times: ``time.monotonic()`` of each milestone (``created``, ``webhook``, ``paid``,
            ``declined``).
    """

    id: str
    product: Product
    session_id: str | None = None
    payment_url: str | None = None
    status: str = OrderStatus.PENDING
    confirmed_by: str | None = None
    webhook_request_id: str | None = None
    payment_id: str | None = None
    decline_code: str | None = None
    decline_message: str | None = None
    times: dict[str, float] = attrs.field(factory=dict)

    @property
    def paid(self) -> bool:
        """True once the payment is proven (webhook or retrieve)."""
        return self.status == OrderStatus.PAID

    @property
    def webhook_verified(self) -> bool:
        """True once a signed ``session.completed`` for this order has been verified."""
        return self.webhook_request_id is not None

    @property
    def decline_reason(self) -> str | None:
        """What the failure page says about the last decline; None until one is known."""
        if self.decline_code is None:
            return None
        return decline_reason(self.decline_code, self.decline_message)

    def as_json(self) -> dict[str, Any]:
        """What the status endpoint returns (for the success page's polling)."""
        return {
            "id": self.id,
            "status": self.status,
            "confirmedBy": self.confirmed_by,
            "webhook": self.webhook_request_id,
            "payment": self.payment_id,
            "session": self.session_id,
            "declineCode": self.decline_code,
            "declineReason": self.decline_reason,
        }


class DemoStore:
    """The shop. Mount :attr:`app` on a server; the API client is created on first use.

    Args:
        api_key: the merchant's API key.
        base_url: the gateway's API root.
        webhook_secret: the secret deliveries are verified with.
        public_url: the store's own root URL for the gateway's redirects; when None it is taken
            from each ``POST /buy`` request (fine on loopback, where no proxy rewrites hosts).
        product: what the store sells.
    """

    def __init__(
        self,
        *,
        api_key: str,
        base_url: str,
        webhook_secret: str,
        public_url: str | None = None,
        product: Product = DEFAULT_PRODUCT,
    ) -> None:
        self.public_url = public_url
        self.product = product
        self._api_key = api_key
        self._base_url = base_url
        self._webhook_secret = webhook_secret
        self._client: AsyncBpcPay | None = None
        #: Every order, by id, oldest first.
        self.orders: dict[str, Order] = {}
        self._by_session: dict[str, Order] = {}
        #: Events already handled, by their signed content (type, object id, ``created``): a
        #: repeated delivery is acknowledged and ignored.
        self.processed_deliveries: set[str] = set()
        #: How many deliveries were repeats.
        self.duplicate_deliveries = 0
        self._changed = asyncio.Condition()
        self.app = self._build_app()

    def __repr__(self) -> str:
        # Never the key or the secret.
        return f"<DemoStore {len(self.orders)} orders, gateway {self._base_url}>"

    # --- plumbing -----------------------------------------------------------------------------

    def _build_app(self) -> web.Application:
        app = web.Application()
        app.on_response_prepare.append(self._secure)
        app.router.add_get("/", self._product_page)
        app.router.add_post("/buy", self._buy)
        app.router.add_post("/webhooks", self._webhook)
        app.router.add_get("/success", self._success)
        app.router.add_get("/failure", self._failure)
        app.router.add_get("/orders/{id}.json", self._order_json)
        app.on_cleanup.append(self._close_client)
        return app

    async def _secure(self, request: web.Request, response: web.StreamResponse) -> None:
        """Every answer's security headers, the sandbox's own: the pages' policy (their inline
        style and scripts by hash, forms to the store and the gateway), no framing (a Buy
        button clickjacked), no MIME sniffing. The referrer (order and session ids in its
        query) stays on the store's own site; ``no-referrer`` would also make a browser send
        ``Origin: null`` with the store's own Buy form."""
        gateway = URL(self._base_url).origin()
        response.headers.update(
            {
                "Content-Security-Policy": _pages.CONTENT_SECURITY_POLICY.format(gateway=gateway),
                "X-Frame-Options": "DENY",
                "X-Content-Type-Options": "nosniff",
                "Referrer-Policy": "same-origin",
            }
        )

    def _cross_site(self, request: web.Request) -> bool:
        """True for a form sent from another site's page (a forged Buy). A browser says where a
        POST comes from: ``Sec-Fetch-Site`` (current browsers), else ``Origin`` (``null`` from
        an opaque origin); a request with neither is no browser's (the automatic customer,
        curl), and a page of another site cannot send one."""
        site = request.headers.get("Sec-Fetch-Site")
        if site is not None:
            return site not in ("same-origin", "none")
        origin = request.headers.get("Origin")
        if origin is None:
            return False
        own = URL(self.public_url).origin() if self.public_url else request.url.origin()
        return origin != str(own)

    @property
    def client(self) -> AsyncBpcPay:
        """The store's API client, created on the serving loop at first use."""
        if self._client is None:
            self._client = AsyncBpcPay(api_key=self._api_key, base_url=self._base_url)
        return self._client

    async def _close_client(self, _app: web.Application) -> None:
        if self._client is not None:
            await self._client.aclose()
            self._client = None

    async def _touch(self) -> None:
        async with self._changed:
            self._changed.notify_all()

    async def wait_for(self, predicate: Callable[[], bool], timeout: float | None) -> bool:
        """Wait until ``predicate()`` holds (checked now and after every change to an order);
        False when ``timeout`` seconds pass first (None: no limit)."""
        try:
            async with self._changed:
                await asyncio.wait_for(self._changed.wait_for(predicate), timeout)
        except asyncio.TimeoutError:  # not the builtin before Python 3.11
            return False
        return True

    def order_for_session(self, session_id: str) -> Order | None:
        """The order paid through ``session_id``, if any."""
        return self._by_session.get(session_id)

    def _new_order_id(self) -> str:
        return f"ord_{len(self.orders) + 1:04d}{secrets.token_hex(2)}"

    # --- the proofs of payment ----------------------------------------------------------------

    def _matches(self, order: Order, session: Session) -> bool:
        """The paid session is this order's, for its full price (never trust an id alone)."""
        return (
            session.id == order.session_id
            and session.amount == order.product.amount
            and session.currency == order.product.currency
        )

    def _mark_paid(self, order: Order, session: Session, confirmed_by: str) -> None:
        if order.paid:
            return
        order.status = OrderStatus.PAID
        order.confirmed_by = confirmed_by
        order.payment_id = session.payment
        order.times["paid"] = time.monotonic()
        logger.info("order %s paid (confirmed by %s)", order.id, confirmed_by)

    async def _webhook(self, request: web.Request) -> web.Response:
        if (request.content_length or 0) > _MAX_WEBHOOK_BYTES:
            return web.Response(status=413, text="too large")
        # The raw bytes: the signature covers exactly what was sent, not re-serialised JSON.
        body = await request.read()
        try:
            event = construct_event(body, request.headers, secret=self._webhook_secret)
        except SignatureVerificationError as exc:
            logger.warning("webhook refused: %s", exc.reason)
            return web.Response(status=400, text="bad signature")
        # Keyed on what the signature covers; the API-Request-Id header is not signed.
        key = _event_key(event)
        if key in self.processed_deliveries:
            self.duplicate_deliveries += 1
            logger.info("webhook %s %s: already handled", event.type, event.request_id)
            return web.Response(text="duplicate")
        obj = event.data.object
        if isinstance(obj, Session):
            order = self.orders.get(obj.merchant_reference_id or "") or self._by_session.get(obj.id)
            if order is not None and order.session_id == obj.id:
                self._apply(event.type, order, obj, event.request_id)
        elif isinstance(obj, Payment) and event.type == EventType.PAYMENT_FAILED:
            self._declined(obj)
        self.processed_deliveries.add(key)
        await self._touch()
        return web.Response(text="ok")

    def _declined(self, payment: Payment) -> None:
        """A verified ``payment.failed``: remember why, for the failure page."""
        order = self._by_session.get(payment.session or "")
        if order is None:
            order = self.orders.get(payment.merchant_reference_id or "")
        if order is None or order.paid:
            return
        order.decline_code = payment.failure_code or "-"
        order.decline_message = payment.failure_message
        order.times["declined"] = time.monotonic()
        logger.info("order %s: payment %s declined (%s)", order.id, payment.id, order.decline_code)

    def _apply(self, event_type: str, order: Order, session: Session, delivery: str | None) -> None:
        if event_type == EventType.SESSION_COMPLETED:
            if session.payment_status != "paid" or not self._matches(order, session):
                logger.warning("order %s: session.completed does not prove payment", order.id)
                return
            order.webhook_request_id = delivery or "-"
            order.times["webhook"] = time.monotonic()
            logger.info("order %s: session.completed verified (delivery %s)", order.id, delivery)
            self._mark_paid(order, session, "webhook")
        elif event_type == EventType.SESSION_EXPIRED and not order.paid:
            order.status = OrderStatus.EXPIRED
            logger.info("order %s expired unpaid", order.id)

    async def _confirm_by_retrieve(self, order: Order) -> None:
        """The success page's fallback when the webhook has not arrived yet."""
        if order.paid or order.session_id is None:
            return
        try:
            session = await self.client.sessions.retrieve(order.session_id)
        except APIError as exc:
            logger.warning("order %s: sessions.retrieve failed: %s", order.id, exc)
            return
        if session.payment_status == "paid" and self._matches(order, session):
            self._mark_paid(order, session, "sessions.retrieve")
            await self._touch()
        elif session.status == "expired":
            order.status = OrderStatus.EXPIRED

    # --- pages --------------------------------------------------------------------------------

    async def _product_page(self, request: web.Request) -> web.Response:
        recent = list(self.orders.values())[-5:][::-1]
        return _html(_pages.product_page(self.product, recent))

    async def _buy(self, request: web.Request) -> web.Response:
        if self._cross_site(request):
            logger.warning("POST /buy refused: sent from another site's page")
            page = _pages.message_page(
                "Not from this store",
                "An order can only be placed from the store's own page.",
                back="/",
            )
            return _html(page, status=403)
        order = Order(id=self._new_order_id(), product=self.product)
        root = (self.public_url or str(request.url.origin())).rstrip("/")
        try:
            session = await self.client.sessions.create(
                amount=self.product.amount,
                currency=self.product.currency,
                success_url=f"{root}/success",
                failure_url=f"{root}/failure",
                merchant_reference_id=order.id,
                locale="en",
                metadata={"sku": self.product.sku},
            )
        except APIError as exc:
            logger.warning("order %s: sessions.create failed: %s", order.id, exc)
            page = _pages.message_page(
                "The payment could not start",
                "The payment gateway did not answer as expected. Please try again.",
                back="/",
            )
            return _html(page, status=502)
        order.session_id = session.id
        order.payment_url = session.payment_url
        order.times["created"] = time.monotonic()
        self.orders[order.id] = order
        self._by_session[session.id] = order
        logger.info("order %s: session %s created", order.id, session.id)
        await self._touch()
        if session.payment_url is None:
            return _html(_pages.message_page("No payment page", "Please try again.", back="/"), 502)
        raise web.HTTPSeeOther(session.payment_url)

    def _order_from_query(self, request: web.Request) -> Order:
        order = self._by_session.get(request.query.get("sessionId", ""))
        if order is None:
            page = _pages.message_page(
                "Order not found", "This link does not belong to an order of this store.", back="/"
            )
            raise web.HTTPNotFound(text=page, content_type="text/html")
        return order

    async def _success(self, request: web.Request) -> web.Response:
        order = self._order_from_query(request)
        if not order.paid:
            await self._confirm_by_retrieve(order)
        return _html(_pages.order_page(order))

    async def _failure(self, request: web.Request) -> web.Response:
        order = self._order_from_query(request)
        if order.paid:
            # A late "failure" redirect for an order that is in fact paid: show the truth.
            return _html(_pages.order_page(order))
        return _html(_pages.failure_page(order))

    async def _order_json(self, request: web.Request) -> web.Response:
        order = self.orders.get(request.match_info["id"])
        if order is None:
            raise web.HTTPNotFound()
        return web.json_response(order.as_json(), headers={"Cache-Control": "no-store"})


def _event_key(event: Event) -> str:
    """What identifies an event among repeats, from signed content only."""
    obj = event.data.object
    ident = obj.get("id") if isinstance(obj, Mapping) else getattr(obj, "id", None)
    created = event.created.isoformat() if event.created else "-"
    return f"{event.type}:{ident}:{created}"


def _html(text: str, status: int = 200) -> web.Response:
    return web.Response(text=text, status=status, content_type="text/html")
