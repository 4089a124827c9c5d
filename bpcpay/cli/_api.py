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
from collections.abc import Callable
from typing import Any

from ._common import add_command, sentence

__all__ = ["minor_units", "register"]

#: How the API commands' help says where they read their settings.
_ENV = (
    " Calls the gateway at $BPCPAY_BASE_URL with $BPCPAY_API_KEY (the export lines of "
    "'bpcpay sandbox', or your own) and prints the answer's JSON."
)


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


def _amount(args: argparse.Namespace) -> dict[str, int]:
    # --amount is optional: without it nothing is sent, and the gateway takes the whole amount.
    return {} if args.amount is None else {"amount": args.amount}


def _capture(client: Any, args: argparse.Namespace) -> Any:
    return client.payments.capture(args.id, **_amount(args))


def _refund(client: Any, args: argparse.Namespace) -> Any:
    return client.refunds.create(payment_id=args.payment, **_amount(args))


def _call(sub: Any, name: str, summary: str) -> argparse.ArgumentParser:
    """A subcommand that calls the API: its --help also says where it reads its settings."""
    return add_command(sub, name, summary, sentence(summary) + _ENV)


def _group(subparsers: Any, name: str, summary: str) -> Any:
    """A group of API subcommands (``sessions``, ``payments`` ...); returns its subparsers."""
    group = add_command(subparsers, name, summary)
    return group.add_subparsers(dest="action", metavar="ACTION", required=True)


def _call_on_id(
    sub: Any, name: str, summary: str, id_help: str, call: Callable[[Any, Any], Any]
) -> argparse.ArgumentParser:
    """An API subcommand that takes the object's id and runs ``call(client, args)``."""
    parser = _call(sub, name, summary)
    parser.add_argument("id", help=id_help)
    parser.set_defaults(handler=_run, call=call)
    return parser


def _add_amount(parser: argparse.ArgumentParser, what: str) -> None:
    """The optional ``--amount`` of a capture or a refund; ``what`` completes its help."""
    parser.add_argument("--amount", type=minor_units, metavar="MINOR_UNITS", help=what)


def register(subparsers: Any) -> None:
    """Add the API subcommands."""
    not_sent = "(default: not sent)"

    sub = _group(subparsers, "sessions", "create, get or expire a hosted payment session")
    create = _call(sub, "create", "create a session: its paymentUrl is where the customer pays")
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
    _call_on_id(
        sub,
        "get",
        "retrieve a session",
        "the session's id (ps_...)",
        lambda c, a: c.sessions.retrieve(a.id),
    )
    _call_on_id(
        sub,
        "expire",
        "expire an open session now, so that no one can pay it",
        "the open session's id (ps_...)",
        lambda c, a: c.sessions.expire(a.id),
    )

    sub = _group(subparsers, "payments", "get, capture or cancel a payment")
    payment_id = "the payment's id (pay_...)"
    _call_on_id(
        sub, "get", "retrieve a payment", payment_id, lambda c, a: c.payments.retrieve(a.id)
    )
    capture = _call_on_id(
        sub, "capture", "capture a two-step (requiresCapture) payment", payment_id, _capture
    )
    _add_amount(
        capture, "how much to capture, in minor units (default: all that the payment holds)"
    )
    _call_on_id(
        sub,
        "cancel",
        "cancel a payment before its capture, releasing the hold",
        payment_id,
        lambda c, a: c.payments.cancel(a.id),
    )

    sub = _group(subparsers, "refunds", "create or get a refund")
    create = _call(sub, "create", "refund a captured payment, in full or in part")
    create.add_argument(
        "--payment", required=True, metavar="ID", help="the id of the payment to refund (required)"
    )
    _add_amount(create, "how much to refund, in minor units (default: all that is left to refund)")
    create.set_defaults(handler=_run, call=_refund)
    _call_on_id(
        sub, "get", "retrieve a refund", "the refund's id", lambda c, a: c.refunds.retrieve(a.id)
    )

    sub = _group(subparsers, "payment-methods", "get a stored payment method")
    _call_on_id(
        sub,
        "get",
        "retrieve a stored payment method (a kept card)",
        "the payment method's id (pm_...), from a payment's storedPaymentMethodId",
        lambda c, a: c.payment_methods.retrieve(a.id),
    )
