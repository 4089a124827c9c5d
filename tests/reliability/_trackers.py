"""What error trackers read, read back by the tests: three ways to look at an exception, and
the secrets none of them may show.

* :meth:`Trackers.sentry`: sentry-sdk, initialised on its defaults (so with the local
  variables of every frame, ``include_local_variables`` / ``stack_frame_variables``) and a
  transport that keeps the envelopes in a list; the error is captured with
  ``capture_exception``, and everything sent (the error and any event the logging integration
  made from an error log line meanwhile) is serialised as Sentry would send it;
* :func:`traceback_text`: ``traceback.TracebackException.from_exception(e,
  capture_locals=True)`` formatted, which is what ``rich``/``structlog``-style tracebacks with
  locals and most debuggers print;
* :func:`chain_text`: ``repr`` and ``str`` of every exception in the ``__cause__`` /
  ``__context__`` chain, suppressed context included.

:func:`leaks` names each secret that shows in a text, whole or as any 12-character piece.
A plain module, imported by name (``tests/reliability`` is on ``sys.path``).
"""

from __future__ import annotations

import logging
import traceback
from collections.abc import Iterator
from typing import Any

#: The secrets of the suite: made up, never a real value; no 12-character piece of one is
#: anything else's (they are random letters and digits).
API_KEY = "sk_test_Qz7TrK9xWv2Np4LmA8cE6"
WEBHOOK_SECRET = "whsec_Jd8Kq3Xw7Rt2Zp9Lm5VnB4"
STORE_PASSWORD = "pwH7q2ZrT9xLm4Vc8Nb3Kd"
SECRETS = {"api key": API_KEY, "webhook secret": WEBHOOK_SECRET, "store password": STORE_PASSWORD}
PIECE = 12


def pieces(secret: str) -> list[str]:
    """Every ``PIECE``-character piece of ``secret``."""
    return [secret[i : i + PIECE] for i in range(len(secret) - PIECE + 1)]


_PIECES = {name: pieces(secret) for name, secret in SECRETS.items()}


def leaks(text: str) -> dict[str, int]:
    """For each secret found in ``text`` (whole or a piece): how many times its most frequent
    piece occurs. Empty when nothing leaks."""
    found = {}
    for name, parts in _PIECES.items():
        count = max(text.count(part) for part in parts)
        if count:
            found[name] = count
    return found


def chain(exc: BaseException) -> Iterator[BaseException]:
    """``exc`` and every exception reachable through ``__cause__`` and ``__context__``."""
    seen: set[int] = set()
    todo = [exc]
    while todo:
        current = todo.pop()
        if id(current) in seen:
            continue
        seen.add(id(current))
        yield current
        todo += [e for e in (current.__cause__, current.__context__) if e is not None]


def chain_text(exc: BaseException) -> str:
    """``repr`` and ``str`` of every exception in the chain."""
    return "\n".join(f"{e!r}\n{e}" for e in chain(exc))


def traceback_text(exc: BaseException) -> str:
    """The traceback with every frame's locals, as ``capture_locals=True`` formats it."""
    return "".join(traceback.TracebackException.from_exception(exc, capture_locals=True).format())


def frames_of(exc: BaseException) -> list[str]:
    """The qualified names of the functions in ``exc``'s traceback, outermost first."""
    names = []
    tb = exc.__traceback__
    while tb is not None:
        code = tb.tb_frame.f_code
        names.append(f"{tb.tb_frame.f_globals.get('__name__')}.{code.co_name}")
        tb = tb.tb_next
    return names


class Trackers:
    """sentry-sdk on its defaults, sending to a list. Use as a context manager; the client is
    closed and unset at the end, so nothing of it outlives the tests that use it.

    Only the logging integration is enabled besides the always-on ones (the default ones patch
    the threading and http modules for the rest of the process); it turns error log lines
    with a traceback into events, as a shop that sends its error logs to Sentry has it.
    """

    def __init__(self) -> None:
        self.envelopes: list[Any] = []

    def __enter__(self) -> Trackers:
        import sentry_sdk
        from sentry_sdk.integrations.logging import LoggingIntegration
        from sentry_sdk.transport import Transport

        kept = self.envelopes

        class ListTransport(Transport):
            def capture_envelope(self, envelope: Any) -> None:
                kept.append(envelope)

        sentry_sdk.init(
            dsn="http://public@127.0.0.1:9/1",
            transport=ListTransport,
            default_integrations=False,
            integrations=[LoggingIntegration(event_level=logging.ERROR)],
        )
        return self

    def __exit__(self, *exc_info: object) -> None:
        import sentry_sdk

        client = sentry_sdk.get_client()
        client.close()
        sentry_sdk.get_global_scope().set_client(None)

    def clear(self) -> None:
        """Forget what was sent so far."""
        self.envelopes.clear()

    def sent(self) -> str:
        """Everything sent since the last :meth:`clear`, serialised as it goes on the wire."""
        return "\n".join(e.serialize().decode("utf-8", "replace") for e in self.envelopes)

    def sentry(self, exc: BaseException) -> str:
        """Capture ``exc`` and return everything sent since the last :meth:`clear`."""
        import sentry_sdk

        sentry_sdk.capture_exception(exc)
        return self.sent()


def all_checks(trackers: Trackers, exc: BaseException) -> dict[str, dict[str, int]]:
    """The leaks each of the three checks finds in ``exc`` (empty dicts when none)."""
    return {
        "sentry": leaks(trackers.sentry(exc)),
        "traceback": leaks(traceback_text(exc)),
        "chain": leaks(chain_text(exc)),
    }


def no_leaks(found: dict[str, dict[str, int]]) -> bool:
    return not any(found.values())
