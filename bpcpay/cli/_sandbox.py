"""``bpcpay sandbox``: run the local sandbox gateway from the shell until Ctrl-C or SIGTERM.

Prints the address it is bound to, the base URL and the run's credentials once, at startup:
sandbox-only values (no real gateway accepts them), made for this run unless pinned with
``--api-key`` / ``--webhook-secret`` or ``BPCPAY_SANDBOX_API_KEY`` /
``BPCPAY_SANDBOX_WEBHOOK_SECRET``, and printing them is the point, so the user can paste them
into an app or a shell. A pinned value is checked as the SDK checks any key or secret, and a
refusal never shows it. After that, every request and webhook delivery is logged to stderr by
the ``bpcpay.sandbox`` logger, whose lines never carry a key or a secret. Bound to an address
other than loopback, it warns that the network can reach it.

``register`` stays cheap: aiohttp is imported only when the command runs.
"""

from __future__ import annotations

import argparse
import fnmatch
import os
import sys
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from .._exceptions import InvalidArgumentError
from ._common import (
    add_command,
    add_host_option,
    host_is_loopback,
    log_to_stderr,
    port_number,
    refuse,
    run_server,
    serve_until_signalled,
)

if TYPE_CHECKING:
    from ..sandbox import SandboxGateway

__all__ = ["DEFAULT_HOST", "DEFAULT_PORT", "ENV_API_KEY", "ENV_WEBHOOK_SECRET", "register"]

#: Where ``bpcpay sandbox`` listens unless told otherwise (the README and the examples' READMEs
#: say 8081; the examples listen elsewhere so that the two never collide).
DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = 8081
#: The variables that pin the sandbox's credentials across restarts (the options win).
ENV_API_KEY = "BPCPAY_SANDBOX_API_KEY"
ENV_WEBHOOK_SECRET = "BPCPAY_SANDBOX_WEBHOOK_SECRET"  # noqa: S105 (a variable's name)


def _known_event_types() -> list[str]:
    from .. import EventType

    return sorted(v for k, v in vars(EventType).items() if k.isupper() and isinstance(v, str))


def _event_list(values: Sequence[str]) -> list[str] | None:
    """``--events a,b --events 'payment.*'`` as the known types they name, in the order given;
    None (every event) when not given.

    Raises:
        ValueError: a name is no known event type, or a pattern matches none.
    """
    known = _known_event_types()
    names: list[str] = []
    for value in values:
        for name in (part.strip() for part in value.split(",")):
            if not name:
                continue
            matched = [t for t in known if fnmatch.fnmatchcase(t, name)]
            if not matched:
                what = "matches no event type" if set(name) & set("*?[") else "is no event type"
                raise ValueError(f"{name!r} {what}; the known ones: {', '.join(known)}")
            names.extend(t for t in matched if t not in names)
    return names or None


#: The options that pin a credential, by the gateway's argument name.
_OPTIONS = {
    "api_key": f"--api-key (or ${ENV_API_KEY})",
    "webhook_secret": f"--webhook-secret (or ${ENV_WEBHOOK_SECRET})",
}


#: The client's words for a bad key end with advice for its own callers; ours are the options'.
_PROBLEMS = {
    "api_key": "must be visible ASCII characters without spaces (clients send it in a header)"
}


def _credential(value: str | None, variable: str) -> tuple[str | None, str]:
    """The option's value, else the variable's (an empty variable counts as unset), and where
    it came from, for the banner."""
    if value is not None:
        return value, "pinned with an option"
    from_env = os.environ.get(variable) or None
    return from_env, f"pinned by ${variable}" if from_env else "made for this run"


def _address(host: str, port: int) -> str:
    return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"


def _banner(
    gw: SandboxGateway,
    events: list[str] | None,
    origin: tuple[str, str] = ("made for this run", "made for this run"),
) -> str:
    selection = ", ".join(events) if events else "all events"
    urls = [f"{e.url} ({selection})" for e in gw.webhook_endpoints] or ["none (--webhook-url URL)"]
    labels = ["webhooks"] + [""] * (len(urls) - 1)
    reach = "this machine only" if host_is_loopback(gw.host) else "REACHABLE FROM THE NETWORK"
    key_origin, secret_origin = origin
    lines = [
        "bpcpay sandbox gateway: test cards only, no real money moves",
        f"  listening on    {_address(gw.host, gw.port)} ({reach})",
        f"  base URL        {gw.base_url}",
        f"  API key         {gw.api_key} ({key_origin})",
        f"  webhook secret  {gw.webhook_secret} ({secret_origin})",
        *(f"  {label:<14}  {url}" for label, url in zip(labels, urls, strict=True)),
        "",
        "The API key and webhook secret are sandbox-only credentials: no real gateway accepts "
        "them.",
        f"To keep them across restarts, set {ENV_API_KEY} and {ENV_WEBHOOK_SECRET}.",
        "To use them from a shell:",
        f"  export BPCPAY_BASE_URL={gw.base_url}",
        f"  export BPCPAY_API_KEY={gw.api_key}",
        f"  export BPCPAY_WEBHOOK_SECRET={gw.webhook_secret}",
        "",
        "Logging every request and delivery to stderr. Ctrl-C to stop.",
    ]
    return "\n".join(lines)


def _network_warning(host: str) -> str:
    return (
        f"bpcpay sandbox: warning: --host {host} makes the sandbox reachable from the network: "
        "anyone who can reach this machine can call its API and pay its sessions "
        f"(the default, {DEFAULT_HOST}, keeps it to this machine)"
    )


def _run(args: argparse.Namespace) -> int:
    from .. import AsyncBpcPay
    from ..sandbox import SandboxGateway

    bad = [url for url in args.webhook_url if not url.startswith(("http://", "https://"))]
    if bad:
        return refuse("sandbox", f"--webhook-url must be an http(s) URL, got {bad[0]!r}")
    try:
        events = _event_list(args.events)
    except ValueError as exc:
        return refuse("sandbox", f"--events: {exc}")
    if args.webhook_secret == "":  # the gateway would take an empty one for "make one"
        return refuse("sandbox", f"{_OPTIONS['webhook_secret']} is empty")
    api_key, key_origin = _credential(args.api_key, ENV_API_KEY)
    secret, secret_origin = _credential(args.webhook_secret, ENV_WEBHOOK_SECRET)
    try:
        # A pinned key is checked by the client that will send it (nothing is sent here), and
        # the secret by the gateway, as the SDK checks any secret; a refusal names the option,
        # never the value.
        if api_key is not None:
            AsyncBpcPay(api_key=api_key)
        gateway = SandboxGateway(
            host=args.host, port=args.port, api_key=api_key, webhook_secret=secret
        )
    except InvalidArgumentError as exc:
        if exc.argument not in _OPTIONS:
            raise
        return refuse(
            "sandbox", f"{_OPTIONS[exc.argument]} {_PROBLEMS.get(exc.argument, exc.problem)}"
        )
    for url in args.webhook_url:
        gateway.add_webhook_endpoint(url, events)

    async def start() -> None:
        await gateway.start()
        if not host_is_loopback(gateway.host):
            print(_network_warning(gateway.host), file=sys.stderr, flush=True)
        print(_banner(gateway, events, (key_origin, secret_origin)), flush=True)

    # Stopping is reported once, by the gateway's own log line ("sandbox gateway stopped").
    with log_to_stderr("bpcpay.sandbox"):
        where = f" on {_address(args.host, args.port)}"
        return run_server("sandbox", serve_until_signalled(start, gateway.aclose), where=where)


def register(subparsers: Any) -> None:
    """Add ``bpcpay sandbox``."""
    parser = add_command(
        subparsers,
        "sandbox",
        f"run the local sandbox gateway on port {DEFAULT_PORT} (API, payment page, webhooks)",
        "Run a local BPC gateway: the API under /api2, the hosted payment page with the test "
        f"cards, and signed webhook deliveries. It listens on http://{DEFAULT_HOST}:{DEFAULT_PORT} "
        "unless --host or --port say otherwise, prints the base URL, an API key and a webhook "
        "secret (made for this run unless pinned) as export lines, and logs every request and "
        "delivery until Ctrl-C.",
    )
    add_host_option(parser, DEFAULT_HOST)
    parser.add_argument(
        "--port",
        type=port_number,
        default=DEFAULT_PORT,
        help="the port to listen on; 0 picks a free one (default: %(default)s)",
    )
    parser.add_argument(
        "--api-key",
        metavar="KEY",
        help=f"the API key to accept, kept across restarts (default: ${ENV_API_KEY}, else a "
        "new one each run); the variable keeps it out of the process list",
    )
    parser.add_argument(
        "--webhook-secret",
        metavar="SECRET",
        help=f"the secret webhooks are signed with (default: ${ENV_WEBHOOK_SECRET}, else a new "
        "one each run)",
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
        "session.completed,payment.failed or 'payment.*'; may repeat (default: all events)",
    )
    parser.set_defaults(handler=_run)
