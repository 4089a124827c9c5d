"""When to retry and how long to wait: small pure functions (no sleeping here).

The policy:

* GET: retried on connection errors (refused, dropped, timeouts), 429 and 5xx.
* Anything else (POST): retried only when the request provably never reached the gateway,
  i.e. the connection was never made. BPC documents no idempotency keys, so a POST that may
  have arrived is never sent twice.
* Never: a connection refused for good (a certificate that does not verify, a client
  certificate the server wants, a proxy that wants credentials): the same refusal would follow.
* Backoff: exponential from ``INITIAL_RETRY_DELAY``, capped at ``MAX_RETRY_DELAY``, with "full
  jitter" between half and all of it; a ``Retry-After`` header (seconds or an HTTP date) wins
  when present, capped at ``MAX_RETRY_AFTER``.
"""

from __future__ import annotations

import enum
from collections.abc import Callable
from datetime import datetime, timezone
from email.utils import parsedate_to_datetime

from .._constants import INITIAL_RETRY_DELAY, MAX_RETRY_AFTER, MAX_RETRY_DELAY

__all__ = ["Failure", "backoff", "parse_retry_after", "should_retry"]

_RETRY_STATUSES = frozenset({429})


class Failure(enum.Enum):
    """How an attempt failed without an HTTP answer."""

    #: The connection was never made (refused, DNS, connect timeout): the request never left.
    NOT_SENT = "not_sent"
    #: The request may have been sent: dropped connection, read timeout.
    MAYBE_SENT = "maybe_sent"
    #: The connection was refused for good, before the request reached the gateway: its
    #: certificate did not verify, it wants a client certificate, the proxy wants credentials.
    #: Trying again would meet the same refusal, so it is never retried.
    REFUSED = "refused"


def should_retry(*, method: str, attempt: int, max_retries: int, outcome: int | Failure) -> bool:
    """Whether attempt number ``attempt`` (0-based) may be followed by another.

    ``outcome`` is the attempt's HTTP status, or its :class:`Failure` when no answer arrived.
    """
    if attempt >= max_retries or outcome is Failure.REFUSED:
        return False
    if outcome is Failure.NOT_SENT:
        return True
    if method != "GET":
        return False
    if outcome is Failure.MAYBE_SENT:
        return True
    return outcome in _RETRY_STATUSES or outcome >= 500


def parse_retry_after(value: str | None, *, now: datetime | None = None) -> float | None:
    """Seconds from a ``Retry-After`` header (delta-seconds or an HTTP date); None if unusable."""
    if not value:
        return None
    text = value.strip()
    try:
        seconds = float(text)
    except ValueError:
        try:
            when = parsedate_to_datetime(text)
        except (TypeError, ValueError, IndexError):
            return None
        if when.tzinfo is None:
            when = when.replace(tzinfo=timezone.utc)
        seconds = (when - (now or datetime.now(timezone.utc))).total_seconds()
    if seconds != seconds or seconds < 0:  # NaN or in the past
        return 0.0 if seconds == seconds else None
    return seconds


def backoff(
    attempt: int,
    *,
    retry_after: str | None = None,
    now: datetime | None = None,
    rand: Callable[[], float],
) -> float:
    """Seconds to wait before the retry that follows attempt ``attempt`` (0-based).

    Args:
        attempt: the attempt that just failed.
        retry_after: the raw ``Retry-After`` header of its answer, if any.
        now: the current time, for HTTP-date headers (injectable for tests).
        rand: a source of floats in [0, 1) for jitter (``random.random`` in production).
    """
    hinted = parse_retry_after(retry_after, now=now)
    if hinted is not None:
        return min(hinted, MAX_RETRY_AFTER)
    # The exponent is bounded: 2.0**attempt overflows a float after ~1024 attempts.
    ceiling = min(MAX_RETRY_DELAY, INITIAL_RETRY_DELAY * 2.0 ** min(attempt, 32))
    return ceiling * (0.5 + 0.5 * rand())
