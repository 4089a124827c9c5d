"""What the ``bpcpay`` commands share: their parsers' building blocks, the way they refuse,
and serving until Ctrl-C or SIGTERM.

Imports only the standard library, so that registering a command stays cheap.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import logging
import signal
import sys
from collections.abc import Awaitable, Callable, Coroutine, Iterator
from typing import Any

__all__ = [
    "add_command",
    "add_host_option",
    "log_to_stderr",
    "refuse",
    "run_server",
    "sentence",
    "serve_until_signalled",
]

_LOG_FORMAT = "%(asctime)s.%(msecs)03d %(name)s %(message)s"
_TIME_FORMAT = "%H:%M:%S"


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
