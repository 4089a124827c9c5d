"""``bpcpay sandbox``: run the local sandbox gateway from the shell until Ctrl-C or SIGTERM.

Prints the base URL and the run's generated credentials once, at startup: they are sandbox-only
values made for this run (no real gateway accepts them), and printing them is the point, so the
user can paste them into an app or a shell. After that, every request and webhook delivery is
logged to stderr by the ``bpcpay.sandbox`` logger, whose lines never carry a key or a secret.

``register`` stays cheap: aiohttp is imported only when the command runs.
"""

from __future__ import annotations

import argparse
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from ._common import (
    add_command,
    add_host_option,
    log_to_stderr,
    refuse,
    run_server,
    serve_until_signalled,
)

if TYPE_CHECKING:
    from ..sandbox import SandboxGateway

__all__ = ["DEFAULT_HOST", "DEFAULT_PORT", "register"]


def _event_list(values: Sequence[str]) -> list[str] | None:
    """``--events a,b --events c`` as ``[a, b, c]``; None (every event) when not given."""
    names = [name.strip() for value in values for name in value.split(",") if name.strip()]
    return names or None


def _banner(gw: SandboxGateway, events: list[str] | None) -> str:
    selection = ", ".join(events) if events else "all events"
    urls = [f"{e.url} ({selection})" for e in gw.webhook_endpoints] or ["none (--webhook-url URL)"]
    labels = ["webhooks"] + [""] * (len(urls) - 1)
    lines = [
        "bpcpay sandbox gateway: test cards only, no real money moves",
        f"  base URL        {gw.base_url}",
        f"  API key         {gw.api_key}",
        f"  webhook secret  {gw.webhook_secret}",
        *(f"  {label:<14}  {url}" for label, url in zip(labels, urls, strict=True)),
        "",
        "The API key and webhook secret are sandbox-only credentials, generated for this run:",
        "no real gateway accepts them. To use them from a shell:",
        f"  export BPCPAY_BASE_URL={gw.base_url}",
        f"  export BPCPAY_API_KEY={gw.api_key}",
        f"  export BPCPAY_WEBHOOK_SECRET={gw.webhook_secret}",
        "",
        "Logging every request and delivery to stderr. Ctrl-C to stop.",
    ]
    return "\n".join(lines)


def _run(args: argparse.Namespace) -> int:
    from ..sandbox import SandboxGateway

    bad = [url for url in args.webhook_url if not url.startswith(("http://", "https://"))]
    if bad:
        return refuse("sandbox", f"--webhook-url must be an http(s) URL, got {bad[0]!r}")
    events = _event_list(args.events)
    gateway = SandboxGateway(host=args.host, port=args.port)
    for url in args.webhook_url:
        gateway.add_webhook_endpoint(url, events)

    async def start() -> None:
        await gateway.start()
        print(_banner(gateway, events), flush=True)

    with log_to_stderr("bpcpay.sandbox"):
        where = f" on {args.host}:{args.port}"
        status = run_server("sandbox", serve_until_signalled(start, gateway.aclose), where=where)
    if status == 0:
        print("sandbox gateway stopped", flush=True)
    return status


#: Where ``bpcpay sandbox`` listens unless told otherwise (the README and the examples' READMEs
#: say 8081; the examples listen elsewhere so that the two never collide).
DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = 8081


def register(subparsers: Any) -> None:
    """Add ``bpcpay sandbox``."""
    parser = add_command(
        subparsers,
        "sandbox",
        f"run the local sandbox gateway on port {DEFAULT_PORT} (API, payment page, webhooks)",
        "Run a local BPC gateway: the API under /api2, the hosted payment page with the test "
        f"cards, and signed webhook deliveries. It listens on http://{DEFAULT_HOST}:{DEFAULT_PORT} "
        "unless --host or --port say otherwise, prints the base URL, an API key and a webhook "
        "secret generated for this run as export lines, and logs every request and delivery "
        "until Ctrl-C.",
    )
    add_host_option(parser, DEFAULT_HOST)
    parser.add_argument(
        "--port",
        type=int,
        default=DEFAULT_PORT,
        help="the port to listen on; 0 picks a free one (default: %(default)s)",
    )
    parser.add_argument(
        "--webhook-url",
        action="append",
        default=[],
        metavar="URL",
        help="deliver webhooks to this endpoint; repeat for several "
        "(default: none: events are recorded, not delivered)",
    )
    parser.add_argument(
        "--events",
        action="append",
        default=[],
        metavar="TYPE[,TYPE]",
        help="send only these event types to the --webhook-url endpoints, e.g. "
        "session.completed,payment.succeeded; may repeat (default: all events)",
    )
    parser.set_defaults(handler=_run)
