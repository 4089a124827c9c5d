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

__all__ = ["register"]


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


def register(subparsers: Any) -> None:
    """Add the API subcommands."""
    env = "uses BPCPAY_API_KEY and BPCPAY_BASE_URL from the environment"

    sessions = subparsers.add_parser("sessions", help="create, get or expire a payment session")
    sub = sessions.add_subparsers(dest="action", metavar="ACTION", required=True)
    create = sub.add_parser("create", help=f"create a session ({env})")
    create.add_argument("--amount", type=int, required=True, help="minor units, e.g. 1000")
    create.add_argument("--currency", required=True, help="ISO 4217, e.g. EUR")
    create.add_argument("--success-url", default="https://shop.example/success")
    create.add_argument("--failure-url", default="https://shop.example/failure")
    create.add_argument("--merchant-reference-id")
    create.add_argument("--locale")
    create.add_argument("--capture-method", choices=["automatic", "manual"])
    create.add_argument(
        "--metadata", action="append", default=[], metavar="KEY=VALUE", type=_metadata_pair
    )
    create.add_argument("--merchant-customer-id", help="your customer's id (stored cards)")
    create.add_argument(
        "--setup-future-usage",
        type=_json_object,
        metavar="JSON",
        help='keep the card, e.g. \'{"category": "unscheduled"}\'',
    )
    create.set_defaults(handler=_run, call=_session_create)
    get = sub.add_parser("get", help=f"retrieve a session ({env})")
    get.add_argument("id")
    get.set_defaults(handler=_run, call=lambda c, a: c.sessions.retrieve(a.id))
    expire = sub.add_parser("expire", help="expire an open session now (no one can pay it)")
    expire.add_argument("id")
    expire.set_defaults(handler=_run, call=lambda c, a: c.sessions.expire(a.id))

    payments = subparsers.add_parser("payments", help="get, capture or cancel a payment")
    sub = payments.add_subparsers(dest="action", metavar="ACTION", required=True)
    get = sub.add_parser("get", help=f"retrieve a payment ({env})")
    get.add_argument("id")
    get.set_defaults(handler=_run, call=lambda c, a: c.payments.retrieve(a.id))
    capture = sub.add_parser("capture", help="capture a two-step payment")
    capture.add_argument("id")
    capture.add_argument("--amount", type=int)
    capture.set_defaults(handler=_run, call=_capture)
    cancel = sub.add_parser("cancel", help="cancel an uncaptured payment")
    cancel.add_argument("id")
    cancel.set_defaults(handler=_run, call=lambda c, a: c.payments.cancel(a.id))

    refunds = subparsers.add_parser("refunds", help="create or get a refund")
    sub = refunds.add_subparsers(dest="action", metavar="ACTION", required=True)
    create = sub.add_parser("create", help="refund a payment, in full or in part")
    create.add_argument("--payment", required=True, help="the payment id")
    create.add_argument("--amount", type=int)
    create.set_defaults(handler=_run, call=_refund)
    get = sub.add_parser("get", help="retrieve a refund")
    get.add_argument("id")
    get.set_defaults(handler=_run, call=lambda c, a: c.refunds.retrieve(a.id))

    methods = subparsers.add_parser("payment-methods", help="get a stored payment method")
    sub = methods.add_subparsers(dest="action", metavar="ACTION", required=True)
    get = sub.add_parser("get", help="retrieve a payment method")
    get.add_argument("id")
    get.set_defaults(handler=_run, call=lambda c, a: c.payment_methods.retrieve(a.id))
