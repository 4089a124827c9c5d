"""``bpcpay sessions|payments|refunds|payment-methods ...``: quick manual API calls.

``sessions create|get|expire``, ``payments get|capture|cancel``, ``refunds create|get``,
``payment-methods get``.

Reads ``BPCPAY_API_KEY`` and ``BPCPAY_BASE_URL`` (and ``BPCPAY_API_VERSION``), prints the
answer's raw JSON. Errors print the class, message and request id, and exit 1. Never prints
the API key.
"""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any

__all__ = ["minor_units", "register"]


def _print_object(obj: Any) -> None:
    print(json.dumps(dict(obj.raw), indent=2, sort_keys=True, ensure_ascii=False))


def _run(args: argparse.Namespace) -> int:
    import bpcpay

    try:
        with bpcpay.BpcPay.from_env() as client:
            result = args.call(client, args)
    except bpcpay.BpcPayError as exc:
        print(f"{type(exc).__name__}: {exc}", file=sys.stderr)
        return 1
    _print_object(result)
    return 0


def _metadata_pair(text: str) -> tuple[str, str]:
    # Used as argparse's type=, so a malformed pair is a usage error (exit 2), not a traceback.
    key, sep, value = text.partition("=")
    if not sep or not key:
        raise argparse.ArgumentTypeError(f"takes KEY=VALUE, got {text!r}")
    return key, value


def minor_units(text: str) -> int:
    """argparse's type= for an amount: a positive whole number of minor units, or a usage error
    (exit 2) that says so: ``--amount 10.00`` is the most likely mistake."""
    try:
        value = int(text)
    except ValueError:
        value = 0
    if value <= 0:
        raise argparse.ArgumentTypeError(
            f"takes a positive whole number in minor units (10.00 EUR is 1000), got {text!r}"
        )
    return value


def _json_object(text: str) -> dict[str, Any]:
    # argparse's type=: a JSON object in wire form (camelCase), or a usage error (exit 2).
    try:
        value = json.loads(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"takes a JSON object, got {text!r}") from None
    if not isinstance(value, dict):
        raise argparse.ArgumentTypeError(f"takes a JSON object, got {text!r}")
    return value


def _session_create(client: Any, args: argparse.Namespace) -> Any:
    options: dict[str, Any] = {}
    if args.merchant_reference_id:
        options["merchant_reference_id"] = args.merchant_reference_id
    if args.locale:
        options["locale"] = args.locale
    if args.capture_method:
        options["capture_method"] = args.capture_method
    if args.metadata:
        options["metadata"] = dict(args.metadata)
    if args.merchant_customer_id:
        options["merchant_customer_id"] = args.merchant_customer_id
    if args.setup_future_usage is not None:
        options["setup_future_usage"] = args.setup_future_usage
    return client.sessions.create(
        amount=args.amount,
        currency=args.currency,
        success_url=args.success_url,
        failure_url=args.failure_url,
        **options,
    )


def _capture(client: Any, args: argparse.Namespace) -> Any:
    if args.amount is None:
        return client.payments.capture(args.id)
    return client.payments.capture(args.id, amount=args.amount)


def _refund(client: Any, args: argparse.Namespace) -> Any:
    if args.amount is None:
        return client.refunds.create(payment_id=args.payment)
    return client.refunds.create(payment_id=args.payment, amount=args.amount)


def _command(sub: Any, name: str, summary: str, env: str = "") -> Any:
    """A subcommand whose --help opens with its summary (and where it reads its settings)."""
    return sub.add_parser(
        name, help=summary, description=f"{summary[0].upper()}{summary[1:]}.{env}"
    )


def register(subparsers: Any) -> None:
    """Add the API subcommands."""
    env = (
        " Calls the gateway at $BPCPAY_BASE_URL with $BPCPAY_API_KEY (the export lines of "
        "'bpcpay sandbox', or your own) and prints the answer's JSON."
    )
    not_sent = "(default: not sent)"

    sessions = _command(subparsers, "sessions", "create, get or expire a hosted payment session")
    sub = sessions.add_subparsers(dest="action", metavar="ACTION", required=True)
    create = _command(
        sub, "create", "create a session: its paymentUrl is where the customer pays", env
    )
    create.add_argument(
        "--amount",
        type=minor_units,
        required=True,
        metavar="MINOR_UNITS",
        help="the amount in minor units, a positive whole number: 1000 is 10.00 EUR (required)",
    )
    create.add_argument("--currency", required=True, help="ISO 4217 code, e.g. EUR (required)")
    create.add_argument(
        "--success-url",
        default="https://shop.example/success",
        metavar="URL",
        help="where the customer is sent after paying (default: %(default)s)",
    )
    create.add_argument(
        "--failure-url",
        default="https://shop.example/failure",
        metavar="URL",
        help="where the customer is sent after a failure (default: %(default)s)",
    )
    create.add_argument(
        "--merchant-reference-id",
        metavar="ID",
        help=f"your order id, echoed back on the session and its webhooks {not_sent}",
    )
    create.add_argument(
        "--locale",
        help="the payment page's language, e.g. en (default: not sent: the gateway's own, EN)",
    )
    create.add_argument(
        "--capture-method",
        choices=["automatic", "manual"],
        help="automatic charges at once; manual only holds the money until "
        "'bpcpay payments capture' (default: not sent: automatic)",
    )
    create.add_argument(
        "--metadata",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        type=_metadata_pair,
        help="a string of your own, echoed back; repeat for several (default: none)",
    )
    create.add_argument(
        "--merchant-customer-id",
        metavar="ID",
        help=f"your customer's id, to which a stored card is attached {not_sent}",
    )
    create.add_argument(
        "--setup-future-usage",
        type=_json_object,
        metavar="JSON",
        help='keep the card for later payments, in wire form, e.g. \'{"category": '
        '"unscheduled"}\' (default: not sent: no card is kept)',
    )
    create.set_defaults(handler=_run, call=_session_create)
    get = _command(sub, "get", "retrieve a session", env)
    get.add_argument("id", help="the session's id (ps_...)")
    get.set_defaults(handler=_run, call=lambda c, a: c.sessions.retrieve(a.id))
    expire = _command(sub, "expire", "expire an open session now, so that no one can pay it", env)
    expire.add_argument("id", help="the open session's id (ps_...)")
    expire.set_defaults(handler=_run, call=lambda c, a: c.sessions.expire(a.id))

    payments = _command(subparsers, "payments", "get, capture or cancel a payment")
    sub = payments.add_subparsers(dest="action", metavar="ACTION", required=True)
    get = _command(sub, "get", "retrieve a payment", env)
    get.add_argument("id", help="the payment's id (pay_...)")
    get.set_defaults(handler=_run, call=lambda c, a: c.payments.retrieve(a.id))
    capture = _command(sub, "capture", "capture a two-step (requiresCapture) payment", env)
    capture.add_argument("id", help="the payment's id (pay_...)")
    capture.add_argument(
        "--amount",
        type=minor_units,
        metavar="MINOR_UNITS",
        help="how much to capture, in minor units (default: all that the payment holds)",
    )
    capture.set_defaults(handler=_run, call=_capture)
    cancel = _command(sub, "cancel", "cancel a payment before its capture, releasing the hold", env)
    cancel.add_argument("id", help="the payment's id (pay_...)")
    cancel.set_defaults(handler=_run, call=lambda c, a: c.payments.cancel(a.id))

    refunds = _command(subparsers, "refunds", "create or get a refund")
    sub = refunds.add_subparsers(dest="action", metavar="ACTION", required=True)
    create = _command(sub, "create", "refund a captured payment, in full or in part", env)
    create.add_argument(
        "--payment", required=True, metavar="ID", help="the id of the payment to refund (required)"
    )
    create.add_argument(
        "--amount",
        type=minor_units,
        metavar="MINOR_UNITS",
        help="how much to refund, in minor units (default: all that is left to refund)",
    )
    create.set_defaults(handler=_run, call=_refund)
    get = _command(sub, "get", "retrieve a refund", env)
    get.add_argument("id", help="the refund's id")
    get.set_defaults(handler=_run, call=lambda c, a: c.refunds.retrieve(a.id))

    methods = _command(subparsers, "payment-methods", "get a stored payment method")
    sub = methods.add_subparsers(dest="action", metavar="ACTION", required=True)
    get = _command(sub, "get", "retrieve a stored payment method (a kept card)", env)
    get.add_argument(
        "id", help="the payment method's id (pm_...), from a payment's storedPaymentMethodId"
    )
    get.set_defaults(handler=_run, call=lambda c, a: c.payment_methods.retrieve(a.id))
