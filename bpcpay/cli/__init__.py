"""The ``bpcpay`` command: the sandbox gateway, the demo, webhook listening and API calls.

Each group of subcommands lives in its own module with a ``register(subparsers)`` function
that adds its parsers and sets ``handler`` on them; registering must stay cheap (no aiohttp
import), so that ``bpcpay --help`` is instant.
"""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Sequence

from .._version import __version__

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


def build_parser() -> argparse.ArgumentParser:
    """The full argument parser, every subcommand registered."""
    parser = argparse.ArgumentParser(
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


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``bpcpay`` console script; returns the exit status."""
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        status: int = args.handler(args)
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
    return status


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
