"""The ``bpcpay`` command: the sandbox gateway, the demo, webhook listening and API calls.

Each group of subcommands lives in its own module with a ``register(subparsers)`` function
that adds its parsers and sets ``handler`` on them; registering must stay cheap (no aiohttp
import), so that ``bpcpay --help`` is instant.
"""

from __future__ import annotations

import importlib
import sys
from collections.abc import Sequence

from .._exceptions import InvalidArgumentError
from .._version import __version__
from ._common import CommandParser, refuse

__all__ = ["main"]

#: Modules that contribute subcommands, in the order ``--help`` lists them.
COMMAND_MODULES = [
    "bpcpay.cli._sandbox",
    "bpcpay.cli._demo",
    "bpcpay.cli._api",
    "bpcpay.cli._listen",
    "bpcpay.cli._reconcile",
    "bpcpay.cli._conformance",
]


def build_parser() -> CommandParser:
    """The full argument parser, every subcommand registered."""
    parser = CommandParser(
        prog="bpcpay",
        description="BPC Payment Gateway tools: a local sandbox gateway, a demo store, webhook "
        "listening and reconciliation, and API calls.",
        epilog="'bpcpay COMMAND --help' describes a command and its options, with their defaults. "
        "Start with 'bpcpay demo --auto', or 'bpcpay sandbox' and its export lines.",
    )
    parser.add_argument(
        "--version",
        action="version",
        version=f"bpcpay {__version__}",
        help="print bpcpay's version and exit",
    )
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for name in COMMAND_MODULES:
        importlib.import_module(name).register(subparsers)
    return parser


def _unrecognized(extra: Sequence[str]) -> str:
    """Names the unknown options only: a value after a misspelt option (``--api_key KEY``)
    may be a secret, and a refusal never shows one."""
    options = [word.split("=", 1)[0] for word in extra if word.startswith("-")]
    if not options:
        return f"unexpected argument(s): {len(extra)} word(s) too many"
    more = len(extra) - len(options)
    tail = f" (and {more} more word{'s' if more > 1 else ''})" if more else ""
    return f"unrecognized option(s): {' '.join(options)}{tail}"


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``bpcpay`` console script (and ``python -m bpcpay``); returns the
    exit status. Bad usage exits 2 with two lines on stderr, never a traceback."""
    parser = build_parser()
    args, extra = parser.parse_known_args(argv)
    if extra:
        # argparse would report them from the root parser, with the root's usage.
        words = [getattr(args, "command", None), getattr(args, "action", None)]
        parser.command_parser(words).error(_unrecognized(extra))
    try:
        status: int = args.handler(args)
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
    except InvalidArgumentError as exc:
        # A value the parser let through but the SDK refuses: its message names the argument
        # and never shows a secret's value.
        return refuse(args.command, str(exc))
    return status


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
