"""A small Flask shop on the synchronous ``BpcPay`` client.

* ``POST /orders`` (form field ``amount`` in minor units) creates an order and a payment session,
  and redirects the customer to the gateway's ``payment_url``;
* ``POST /webhooks/bpc`` receives BPC's webhooks (``bpcpay.contrib.wsgi.flask_view``): a
  verified ``session.completed`` marks the order paid; this is the source of truth;
* ``GET /success?sessionId=...`` is where the gateway sends the customer back. The redirect
  alone proves nothing, so the page shows the order's state, and if the webhook has not
  arrived yet it asks the gateway (``sessions.retrieve``) instead of trusting the URL.

* ``GET /`` is a one-button shop window, for trying it in a browser.

Run it by hand against the local sandbox gateway: the exact commands are in this folder's
README.md. In short: ``bpcpay sandbox --webhook-url http://127.0.0.1:5000/webhooks/bpc``, paste
its export lines, ``python examples/flask_shop/shop.py``, and open http://127.0.0.1:5000/.
"""

from __future__ import annotations

import argparse
import itertools
import os
import sys
import threading
from dataclasses import dataclass

from flask import Flask, abort, jsonify, redirect, request, url_for
from markupsafe import escape
from werkzeug.wrappers import Response

from bpcpay import BpcPay, Event, Session, SessionPaymentStatus
from bpcpay.contrib.wsgi import flask_view
from bpcpay.webhooks import WebhookRouter

#: Flask's usual port; not 8081 (the sandbox's default).
DEFAULT_PORT = 5000


@dataclass
class Order:
    id: str
    amount: int
    currency: str
    session_id: str | None = None
    paid: bool = False
    #: How we learnt it was paid: "webhook" or "api" (the success page's fallback).
    paid_via: str | None = None


class Orders:
    """The shop's order table (a dict behind a lock; use your database)."""

    def __init__(self) -> None:
        self._orders: dict[str, Order] = {}
        self._lock = threading.Lock()
        self._ids = itertools.count(1001)

    def new(self, amount: int, currency: str) -> Order:
        with self._lock:
            order = Order(id=str(next(self._ids)), amount=amount, currency=currency)
            self._orders[order.id] = order
            return order

    def get(self, order_id: str) -> Order | None:
        with self._lock:
            return self._orders.get(order_id)

    def by_session(self, session_id: str) -> Order | None:
        with self._lock:
            return next((o for o in self._orders.values() if o.session_id == session_id), None)

    def mark_paid(self, session: Session, via: str) -> Order | None:
        """Idempotent: a repeated webhook, or the webhook after the fallback, changes nothing."""
        with self._lock:
            order = self._orders.get(session.merchant_reference_id or "")
            if order is None or order.session_id != session.id:
                return None  # not ours, or not this order's session
            if session.amount != order.amount or session.currency != order.currency:
                return None  # never mark paid for a different sum
            if not order.paid:
                order.paid, order.paid_via = True, via
            return order


def create_app(client: BpcPay, webhook_secret: str, *, currency: str = "EUR") -> Flask:
    """The shop. ``client`` is a sync ``BpcPay``; the app never closes it."""
    app = Flask(__name__)
    orders = Orders()
    app.extensions["orders"] = orders

    router = WebhookRouter(webhook_secret)

    @router.on("session.completed")
    def session_completed(event: Event) -> None:
        session = event.data.object
        if isinstance(session, Session) and session.payment_status == SessionPaymentStatus.PAID:
            orders.mark_paid(session, via="webhook")

    app.add_url_rule("/webhooks/bpc", view_func=flask_view(router), methods=["POST"])

    @app.get("/")
    def shop_window() -> str:
        return (
            "<h1>Flask shop</h1><form method='post' action='/orders'>"
            f"<label>Amount in minor units ({escape(currency)}) "
            "<input name='amount' value='4200'></label> <button>Pay</button></form>"
        )

    @app.post("/orders")
    def create_order() -> Response:
        amount = request.form.get("amount", type=int)
        if amount is None or amount <= 0:
            abort(400, "amount: a positive integer in minor units")
        order = orders.new(amount, currency)
        session = client.sessions.create(
            amount=amount,
            currency=currency,
            success_url=url_for("success", _external=True),
            failure_url=url_for("failure", _external=True),
            merchant_reference_id=order.id,
        )
        order.session_id = session.id
        assert session.payment_url is not None
        return redirect(session.payment_url, code=303)

    @app.get("/orders/<order_id>")
    def show_order(order_id: str) -> Response:
        order = orders.get(order_id)
        if order is None:
            abort(404)
        return jsonify(
            id=order.id,
            amount=order.amount,
            currency=order.currency,
            session=order.session_id,
            paid=order.paid,
            paid_via=order.paid_via,
        )

    @app.get("/success")
    def success() -> tuple[str, int] | str:
        order = orders.by_session(request.args.get("sessionId", ""))
        if order is None:
            return "Unknown order.", 404
        if not order.paid and order.session_id is not None:
            # The webhook has not arrived (yet): ask the gateway, never trust the redirect.
            session = client.sessions.retrieve(order.session_id)
            if session.payment_status == SessionPaymentStatus.PAID:
                orders.mark_paid(session, via="api")
        if order.paid:
            return f"Thank you! Order {order.id} is paid."
        return f"Order {order.id}: the payment is being processed.", 202

    @app.get("/failure")
    def failure() -> str:
        return "The payment did not go through. You can try again."

    return app


def create_app_from_env() -> Flask:
    """The shop configured from ``BPCPAY_API_KEY``, ``BPCPAY_BASE_URL`` and
    ``BPCPAY_WEBHOOK_SECRET`` (what ``bpcpay sandbox`` prints as export lines)."""
    return create_app(BpcPay.from_env(), os.environ["BPCPAY_WEBHOOK_SECRET"])


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="A small Flask shop on the sync BpcPay client.")
    parser.add_argument("--host", default="127.0.0.1", help="interface (default 127.0.0.1)")
    parser.add_argument(
        "--port", type=int, default=DEFAULT_PORT, help=f"port (default {DEFAULT_PORT}; 0: any free)"
    )
    args = parser.parse_args(argv)
    missing = [n for n in ("BPCPAY_API_KEY", "BPCPAY_WEBHOOK_SECRET") if not os.environ.get(n)]
    if missing:
        names = " and ".join(missing)
        hint = "paste the export lines that `bpcpay sandbox` prints"
        print(f"shop.py: set {names} ({hint})", file=sys.stderr)
        return 2
    app = create_app_from_env()
    # Flask's development server, threaded: the gateway's webhook can arrive while the success
    # page asks the gateway. Use a production WSGI server (gunicorn, waitress) for real traffic.
    app.run(host=args.host, port=args.port, threaded=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
