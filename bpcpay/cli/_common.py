"""What the ``bpcpay`` commands share: their parsers' building blocks, the way they refuse,
and serving until Ctrl-C or SIGTERM.

Imports only the standard library, so that registering a command stays cheap.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import ipaddress
import logging
import signal
import sys
from collections.abc import Awaitable, Callable, Coroutine, Iterator, Sequence
from typing import Any, NoReturn

__all__ = [
    "CommandParser",
    "add_command",
    "add_host_option",
    "host_is_loopback",
    "log_to_stderr",
    "port_number",
    "positive_seconds",
    "refuse",
    "run_server",
    "sentence",
    "serve_until_signalled",
]

_LOG_FORMAT = "%(asctime)s.%(msecs)03d %(name)s %(message)s"
_TIME_FORMAT = "%H:%M:%S"


class CommandParser(argparse.ArgumentParser):
    """argparse's parser, refusing bad usage in two lines whatever the terminal's width: a short
    usage line and the message (argparse's own prints the whole usage first, a dozen wrapped
    lines for ``bpcpay sandbox``, which bury the one line that matters). Subcommands' parsers
    are of the same class (``add_subparsers`` makes them with the parent's class)."""

    #: The action ``add_subparsers`` made (its ``choices`` are the subcommands' parsers).
    subcommands: Any = None

    def add_subparsers(self, **kwargs: Any) -> Any:
        """argparse's, remembered in :attr:`subcommands`."""
        self.subcommands = super().add_subparsers(**kwargs)
        return self.subcommands

    def command_parser(self, words: Sequence[str | None]) -> CommandParser:
        """The parser of the subcommand ``words`` name (``["sessions", "get"]``), as deep as
        they go."""
        parser = self
        for word in words:
            if word is None or parser.subcommands is None:
                break
            parser = parser.subcommands.choices[word]
        return parser

    def short_usage(self) -> str:
        """``usage: bpcpay sandbox [options]``, with the positional arguments' names."""
        words = [self.prog, "[options]"]
        for action in self._actions:
            if not action.option_strings and action.help is not argparse.SUPPRESS:
                words.append(str(action.metavar or action.dest))
        return f"usage: {' '.join(words)}  ('{self.prog} --help' explains)"

    def error(self, message: str) -> NoReturn:
        """Print the short usage and ``PROG: error: MESSAGE`` to stderr; exit 2."""
        self.exit(2, f"{self.short_usage()}\n{self.prog}: error: {message}\n")


def port_number(text: str) -> int:
    """argparse's type= for a TCP port: 0-65535, or a usage error saying so (a bigger number
    would otherwise reach the socket layer and end in a traceback)."""
    try:
        value = int(text)
    except ValueError:
        value = -1
    if not 0 <= value <= 65535:
        raise argparse.ArgumentTypeError(
            f"takes a port number from 0 to 65535 (0 picks a free one), got {text!r}"
        )
    return value


def positive_seconds(text: str) -> float:
    """argparse's type= for a duration: a positive number of seconds, or a usage error."""
    try:
        value = float(text)
    except ValueError:
        value = 0.0
    if not 0 < value < float("inf"):
        raise argparse.ArgumentTypeError(f"takes a positive number of seconds, got {text!r}")
    return value


def host_is_loopback(host: str) -> bool:
    """True when a server bound to ``host`` is reachable from this machine only."""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def sentence(text: str) -> str:
    """``text`` as a sentence: a capital first letter and a full stop."""
    return f"{text[0].upper()}{text[1:]}."


def add_command(
    subparsers: Any, name: str, summary: str, description: str | None = None
) -> argparse.ArgumentParser:
    """A subcommand: ``summary`` is its line in its parent's ``--help``, ``description`` opens
    its own (the summary as a sentence when not given)."""
    parser: argparse.ArgumentParser = subparsers.add_parser(
        name, help=summary, description=description or sentence(summary)
    )
    return parser


def add_host_option(parser: argparse.ArgumentParser, default: str) -> None:
    """``--host``: the interface a server command listens on."""
    parser.add_argument(
        "--host",
        default=default,
        help="the interface to listen on (default: %(default)s, this machine only)",
    )


def refuse(command: str, message: str, status: int = 2) -> int:
    """Print ``bpcpay <command>: <message>`` to stderr; returns ``status`` (2: bad usage)."""
    print(f"bpcpay {command}: {message}", file=sys.stderr)
    return status


def run_server(command: str, main: Coroutine[Any, Any, int | None], *, where: str = "") -> int:
    """Run ``main`` in a new event loop; its exit status (0 for None), or 1, said on stderr,
    when the address (``where``, e.g. `` on 127.0.0.1:8081``) cannot be listened on."""
    try:
        status = asyncio.run(main)
    except OSError as exc:
        return refuse(command, f"cannot listen{where}: {exc}", 1)
    return 0 if status is None else status


@contextlib.contextmanager
def log_to_stderr(*names: str) -> Iterator[None]:
    """Send INFO lines of the named loggers to stderr while the block runs, then restore them.

    Restoring matters because ``bpcpay.cli.main`` also runs in process (tests, notebooks),
    where a handler left behind would print into every later test.
    """
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter(_LOG_FORMAT, _TIME_FORMAT))
    saved = []
    for name in names:
        logger = logging.getLogger(name)
        saved.append((logger, logger.level, logger.propagate))
        logger.addHandler(handler)
        logger.setLevel(logging.INFO)
        # Not propagated: a root handler configured by the user would print every line twice.
        logger.propagate = False
    try:
        yield
    finally:
        for logger, level, propagate in saved:
            logger.removeHandler(handler)
            logger.setLevel(level)
            logger.propagate = propagate


async def serve_until_signalled(
    start: Callable[[], Awaitable[None]], stop: Callable[[], Awaitable[None]]
) -> None:
    """Run ``start()``, wait for SIGINT or SIGTERM, then run ``stop()``.

    The handlers are installed before ``start`` so that a signal during startup also ends in
    a clean stop rather than a KeyboardInterrupt traceback from inside aiohttp.
    """
    loop = asyncio.get_running_loop()
    stopping = asyncio.Event()
    signals = (signal.SIGINT, signal.SIGTERM)
    for signum in signals:
        loop.add_signal_handler(signum, stopping.set)
    try:
        await start()
        try:
            await stopping.wait()  # deadline: a server runs until Ctrl-C or SIGTERM
        finally:
            await stop()
    finally:
        for signum in signals:
            loop.remove_signal_handler(signum)
