"""Time in the sandbox: an injectable clock, and a manual one tests can move.

Every timestamp the gateway writes (``created``, ``expiresAt``, event times) and every expiry
decision reads the gateway's clock, so a test can jump past a session's deadline without sleeping.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta, timezone
from typing import TypeAlias

from .._core._checks import check_aware

__all__ = ["Clock", "ManualClock", "system_clock"]

#: Anything that returns the current time as a timezone-aware datetime.
Clock: TypeAlias = Callable[[], datetime]


def system_clock() -> datetime:
    """The real time, in UTC: the gateway's clock unless it is given another.

    Examples:
        ```python
        from bpcpay.sandbox import system_clock

        print(system_clock().tzinfo)  # UTC
        ```
    """
    return datetime.now(timezone.utc)


class ManualClock:
    """A clock that only moves when told to.

    Args:
        start: the initial time (timezone-aware); the real time by default.

    Raises:
        InvalidArgumentError: ``start`` is not a timezone-aware datetime.

    Examples:
        A session's twenty minutes pass without a sleep:

        ```python
        from datetime import datetime, timedelta, timezone

        from bpcpay import BpcPay
        from bpcpay.sandbox import ManualClock, SandboxGateway

        clock = ManualClock(datetime(2030, 1, 1, 12, 0, tzinfo=timezone.utc))
        with SandboxGateway.run_in_thread(clock=clock) as gw, BpcPay(
            api_key=gw.api_key, base_url=gw.base_url
        ) as client:
            session = client.sessions.create(
                amount=2400,
                currency="EUR",
                success_url="https://shop.example/orders/1017/paid",
                failure_url="https://shop.example/orders/1017/retry",
            )
            clock.advance(timedelta(minutes=21))
            print(client.sessions.retrieve(session.id).status)  # expired
        ```
    """

    def __init__(self, start: datetime | None = None) -> None:
        self._now = system_clock() if start is None else check_aware("start", start)

    def __call__(self) -> datetime:
        return self._now

    def advance(self, delta: timedelta) -> datetime:
        """Move forward (or back, with a negative delta) and return the new time."""
        self._now = self._now + delta
        return self._now

    def set(self, value: datetime) -> None:
        """Jump to ``value`` (timezone-aware).

        Raises:
            InvalidArgumentError: ``value`` is not a timezone-aware datetime.
        """
        self._now = check_aware("value", value)

    def __repr__(self) -> str:
        return f"<ManualClock {self._now.isoformat()}>"
