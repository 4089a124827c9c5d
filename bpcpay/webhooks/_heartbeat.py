"""The heartbeat: one daemon thread per process that renews the claims held while handlers run.

A claim is a lease; the heartbeat keeps it with its holder. While a router's handlers run, the
driver registers the claim (:meth:`Heartbeat.start`) with a ``renew`` function and an interval
(a third of the store's lease) and unregisters it when they end (:meth:`Heartbeat.stop`). One
thread serves every claim of every router in the process: ``handle_sync`` runs its handlers on
the caller's thread, which cannot renew anything meanwhile, and a thread per delivery would cost
more than the renewals. The thread starts on the first claim, ends after a while without any,
and starts again in a forked child (the parent's claims are not the child's to renew).

A renewal that raises (the store down) or answers False (the lease lapsed, or another worker
took the key) never touches the handler: it is counted on the claim's
:class:`~bpcpay.webhooks._plan.Hold`, logged, and the router's result reports it. Each renewal
is bounded by the ``renew`` function (a store call with its timeout); every wait of the thread
itself is bounded.
"""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Callable
from typing import Final

from .._log import library_logger
from ._plan import Hold

__all__ = ["HEARTBEAT", "Beat", "Heartbeat", "HolderGone"]

logger = library_logger("webhooks")

#: Seconds the thread lingers without any claim before it ends.
_IDLE: Final = 30.0


class HolderGone(Exception):
    """Raised by a ``renew`` function whose holder is gone (its event loop closed)."""


class Beat:
    """One registered claim: what to renew, how often, when next."""

    __slots__ = ("active", "due", "hold", "interval", "renew")

    def __init__(self, hold: Hold, renew: Callable[[], bool], interval: float) -> None:
        self.hold = hold
        self.renew = renew
        self.interval = interval
        self.due = time.monotonic() + interval
        self.active = True


class Heartbeat:
    """Renews every registered claim at its interval, on one lazily started daemon thread."""

    def __init__(self) -> None:
        self._reset()
        os.register_at_fork(after_in_child=self._reset)

    def _reset(self) -> None:
        # Fresh in a forked child: the parent's lock may have been held by its thread, and the
        # parent's claims are not the child's.
        self._lock = threading.Lock()
        self._changed = threading.Condition(self._lock)
        self._beats: set[Beat] = set()
        self._thread: threading.Thread | None = None

    def start(self, hold: Hold, renew: Callable[[], bool], interval: float) -> Beat:
        """Renew ``hold``'s claim with ``renew()`` every ``interval`` seconds until stopped.

        Returns:
            The registration, for :meth:`stop`.
        """
        beat = Beat(hold, renew, interval)
        with self._lock:
            self._beats.add(beat)
            if self._thread is None:
                self._thread = threading.Thread(
                    target=self._run, name="bpcpay-webhook-heartbeat", daemon=True
                )
                self._thread.start()
            self._changed.notify()
        return beat

    def stop(self, beat: Beat) -> None:
        """Stop renewing (idempotent; a renewal under way is not waited for, and its answer is
        ignored)."""
        with self._lock:
            beat.active = False
            self._beats.discard(beat)

    def _run(self) -> None:
        while True:
            with self._lock:
                due = self._next_due()
                if due is None:
                    self._thread = None
                    return
            for beat in due:
                self._beat(beat)

    def _next_due(self) -> list[Beat] | None:
        """The beats due now, waiting (bounded) for one; None after ``_IDLE`` without any."""
        idle_until = time.monotonic() + _IDLE
        while True:
            now = time.monotonic()
            due = [beat for beat in self._beats if beat.due <= now]
            if due:
                return due
            if not self._beats and now >= idle_until:
                return None
            wake = min((beat.due for beat in self._beats), default=idle_until)
            self._changed.wait(max(0.0, min(wake, idle_until) - now))

    def _beat(self, beat: Beat) -> None:
        if not beat.active:
            return
        hold = beat.hold
        try:
            renewed = beat.renew()
        except HolderGone:
            self.stop(beat)
            return
        except Exception as exc:
            beat.due = time.monotonic() + beat.interval
            if _still(beat):
                hold.failures += 1
                logger.warning(
                    "webhook: renewing the claim on %s failed (%s); the handler keeps running, "
                    "and the claim lapses unless a renewal succeeds in time",
                    hold.key,
                    type(exc).__name__,
                )
            return
        if not _still(beat):
            return  # the handlers ended meanwhile: the answer no longer matters
        if renewed:
            beat.due = time.monotonic() + beat.interval
            return
        hold.lost = True
        self.stop(beat)
        logger.warning(
            "webhook: the claim on %s was lost while its handler ran (its lease lapsed, or "
            "another worker took it): the event may be handled twice",
            hold.key,
        )


def _still(beat: Beat) -> bool:
    """Whether ``beat`` is still registered (another thread may have stopped it meanwhile)."""
    return beat.active


#: The process's heartbeat, shared by every router.
HEARTBEAT: Final = Heartbeat()
