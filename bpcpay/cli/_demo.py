"""``bpcpay demo``: the sandbox gateway and the demo store, for a person to try in a browser, or
played end to end by an automatic customer with ``--auto``.

``--auto`` exits 0 only when the store marked the order paid and verified the signed
``session.completed`` webhook for it; 1 otherwise (a declined card, a timeout), its last line
then saying FAILED and why. With
``--decline`` it pays with the declining test card and exits 0 only when the decline was seen
end to end: declined on the gateway's page, the customer on the store's failure page, the signed
``payment.failed`` verified, and the failure page saying why. It prints card numbers by their
last four digits only and never prints the API key or the webhook secret.
``register`` stays cheap: aiohttp is imported only when the command runs.
"""

from __future__ import annotations

import argparse
import time
from typing import TYPE_CHECKING, Any

from ._common import (
    add_command,
    log_to_stderr,
    port_number,
    positive_seconds,
    refuse,
    run_server,
    serve_until_signalled,
)

if TYPE_CHECKING:
    from bpcpay_demo import Demo, Expect

__all__ = ["register"]

#: The store's port: not 8000, where ``mkdocs serve`` shows the docs, nor 8081 (``bpcpay
#: sandbox``) or 8080 (``bpcpay listen``), so that all of them can run at once.
_DEFAULT_PORT = 8082
_DECLINED_CARD = "5168494895055780"


def _out(line: str) -> None:
    print(line, flush=True)


def _interactive_banner(demo: Demo) -> str:
    return "\n".join(
        [
            "bpcpay demo: a store and a sandbox gateway on this machine "
            "(test cards only, no real money moves)",
            "",
            f"  Open the store:   {demo.store_url}/",
            f"  Sandbox gateway:  {demo.gateway.base_url}",
            "",
            "  Click Buy, then pay with a test card (CVC 123). The payment page lists them:",
            "  the card ending 5599 asks for 3-D Secure, the one ending 5780 is declined.",
            "",
            "Logging the store and the gateway to stderr. Ctrl-C to stop.",
        ]
    )


async def _auto(args: argparse.Namespace) -> int:
    from bpcpay_demo import Demo, play_customer

    card = _DECLINED_CARD if args.decline else args.card
    expect: Expect = "declined" if args.decline else "paid"
    lines: list[str] = []

    def emit(line: str) -> None:
        lines.append(line)
        _out(line)

    started = time.monotonic()
    async with Demo(port=args.port if args.port is not None else 0) as demo:
        emit(f"bpcpay demo --auto: store {demo.store_url}, sandbox gateway {demo.gateway.base_url}")
        if card is None:
            ok = await play_customer(demo, emit=emit, timeout=args.timeout)
        else:
            ok = await play_customer(
                demo, card=card, emit=emit, timeout=args.timeout, expect=expect
            )
    elapsed = time.monotonic() - started
    if ok and expect == "declined":
        _out(f"done in {elapsed:.2f} s: the decline was seen end to end, and the store says why")
        return 0
    if ok:
        _out(f"done in {elapsed:.2f} s: the order is paid, proven by a verified webhook")
        return 0
    # The customer's last line says what went wrong: a decline, a timeout, a refusal.
    _out(f"FAILED after {elapsed:.2f} s: {lines[-1]}")
    return 1


def _interactive(args: argparse.Namespace) -> int:
    from bpcpay_demo import Demo

    demo = Demo(port=_DEFAULT_PORT if args.port is None else args.port)

    async def start() -> None:
        await demo.start()
        _out(_interactive_banner(demo))

    with log_to_stderr("bpcpay.sandbox", "bpcpay.demo"):
        status = run_server("demo", serve_until_signalled(start, demo.aclose))
    if status == 0:
        _out("demo stopped")
    return status


def _run(args: argparse.Namespace) -> int:
    if not args.auto and (args.card is not None or args.decline):
        return refuse("demo", "--card and --decline go with --auto")
    if args.auto:
        return run_server("demo", _auto(args))
    return _interactive(args)


def register(subparsers: Any) -> None:
    """Add ``bpcpay demo``."""
    parser = add_command(
        subparsers,
        "demo",
        "run a demo store against the sandbox gateway (--auto plays the customer)",
        "Start the sandbox gateway and a small demo store that takes payments with bpcpay. Open "
        f"the printed URL (port {_DEFAULT_PORT}) and buy with a test card, or pass --auto to "
        "watch the whole redirect flow run by itself on free ports.",
    )
    parser.add_argument(
        "--port",
        type=port_number,
        default=None,
        help=f"the store's port; 0 picks a free one (default: {_DEFAULT_PORT}; "
        "with --auto, a free one)",
    )
    parser.add_argument(
        "--auto",
        action="store_true",
        help="play the customer, print each step with its timing, and exit: 0 when the order "
        "ends as expected, 1 otherwise (default: off: serve the store until Ctrl-C)",
    )
    cards = parser.add_mutually_exclusive_group()
    cards.add_argument(
        "--card",
        metavar="NUMBER",
        help="with --auto: the test card to pay with "
        "(default: 5555 5555 5555 5599, which asks for 3-D Secure)",
    )
    cards.add_argument(
        "--decline",
        action="store_true",
        help="with --auto: pay with the declining test card (the one ending 5780) and exit 0 only "
        "when the store's failure page says why (default: off)",
    )
    parser.add_argument(
        "--timeout",
        type=positive_seconds,
        default=15.0,
        metavar="SECONDS",
        help="with --auto: how long the whole flow may take (default: %(default)g)",
    )
    parser.set_defaults(handler=_run)
