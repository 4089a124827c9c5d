"""InMemoryDeliveryStore: leases in a bounded, thread-safe LRU, for one process.

Owns nothing but a dict and a lock. Imports no I/O library. Two processes (two gunicorn
workers) do not see each other's keys: use the SQLite, Redis or PostgreSQL store for those.
"""

from __future__ import annotations

import threading
import time
from collections import OrderedDict
from collections.abc import Callable
from typing import Final

import attrs

from ._base import DEFAULT_LEASE, Claim, check_positive_int, check_seconds, new_token

__all__ = ["DEFAULT_DEDUP_CAPACITY", "InMemoryDeliveryStore"]

#: Keys the in-memory store remembers before it forgets the least recently seen.
DEFAULT_DEDUP_CAPACITY: Final = 10_000


@attrs.define
class _Entry:
    done: bool
    token: str | None
    expires: float


class InMemoryDeliveryStore:
    """The default store: a bounded LRU of leases, thread-safe, for one process.

    Args:
        capacity: keys kept; past it the least recently seen key is forgotten (a delivery that
            old arriving again would run again, so handlers should still be idempotent).
        lease: seconds a claim stays in flight unless renewed (the router renews it while the
            handlers run) before another caller may claim it again.

    Raises:
        InvalidArgumentError: ``capacity`` is not an int >= 1, or ``lease`` is not > 0.
    """

    #: Its calls never block, so the async router calls it on the loop, not in a thread.
    blocking = False

    def __init__(
        self,
        capacity: int = DEFAULT_DEDUP_CAPACITY,
        *,
        lease: float = DEFAULT_LEASE,
        _clock: Callable[[], float] = time.time,
    ) -> None:
        self.capacity = check_positive_int("capacity", capacity)
        self.lease = check_seconds("lease", lease)
        self._clock = _clock
        self._entries: OrderedDict[str, _Entry] = OrderedDict()
        self._lock = threading.Lock()

    def claim(self, key: str) -> Claim:
        """Claim ``key``: ``claimed`` (with a token), ``done``, or ``in_flight`` (until when)."""
        now = self._clock()
        with self._lock:
            entry = self._entries.get(key)
            if entry is not None:
                self._entries.move_to_end(key)
                if entry.done:
                    return Claim.done()
                if entry.expires > now:
                    return Claim.in_flight(entry.expires, entry.expires - now)
            token = new_token()
            self._entries[key] = _Entry(done=False, token=token, expires=now + self.lease)
            self._entries.move_to_end(key)
            while len(self._entries) > self.capacity:
                self._entries.popitem(last=False)
            return Claim.claimed(token)

    def _owned(self, key: str, token: str) -> _Entry | None:
        entry = self._entries.get(key)
        if entry is None or entry.done or entry.token != token:
            return None
        return entry

    def renew(self, key: str, token: str) -> bool:
        """Extend ``token``'s live lease on ``key`` by ``lease`` seconds."""
        now = self._clock()
        with self._lock:
            entry = self._owned(key, token)
            if entry is None or entry.expires <= now:
                return False
            entry.expires = now + self.lease
            return True

    def complete(self, key: str, token: str) -> bool:
        """Mark ``key`` done unless another token took it over (a lapsed lease nobody took,
        and a key evicted while in flight, count as the caller's)."""
        with self._lock:
            entry = self._entries.get(key)
            if entry is None:
                # Evicted while in progress: nobody else can own it, so remember it as done.
                self._entries[key] = _Entry(done=True, token=None, expires=0.0)
                while len(self._entries) > self.capacity:
                    self._entries.popitem(last=False)
                return True
            if self._owned(key, token) is None:
                return False
            entry.done, entry.token = True, None
            self._entries.move_to_end(key)
            return True

    def release(self, key: str, token: str) -> bool:
        """Forget ``key`` if ``token`` still owns it."""
        with self._lock:
            if self._owned(key, token) is None:
                return False
            del self._entries[key]
            return True

    def is_done(self, key: str) -> bool:
        """True when ``key`` was processed successfully (and is still remembered)."""
        with self._lock:
            entry = self._entries.get(key)
            return entry is not None and entry.done

    def __len__(self) -> int:
        with self._lock:
            return len(self._entries)

    def __repr__(self) -> str:
        return f"<InMemoryDeliveryStore {len(self)}/{self.capacity} keys lease={self.lease:g}s>"
