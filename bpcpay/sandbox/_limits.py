"""The bound on the sandbox gateway's whole state.

Everything the gateway keeps (sessions, open ones too, payments, refunds, stored cards, 3-D
Secure challenges, card tokens, events and their deliveries) is charged what it holds: the
bytes of its free-form JSON plus a fixed :data:`OBJECT_OVERHEAD` for the Python objects around
it. When something new would pass the limit, the oldest *finished* objects (an expired or
completed session, a payment that succeeded, failed or was cancelled, a refund, an event whose
deliveries are over ...) are dropped first, oldest first; a new session or payment that still
does not fit is refused (503 ``state_full``): an open session is never dropped while it can
still be paid. The gateway's memory is then a small multiple of the limit, however long it runs.

Imports only the standard library and attrs; the state and the gateway charge it.
"""

from __future__ import annotations

from collections.abc import Callable, Hashable
from typing import Final

import attrs

__all__ = ["DEFAULT_STATE_LIMIT", "OBJECT_OVERHEAD", "StateLimit"]

#: The default limit: 64 MiB of JSON, some tens of thousands of ordinary sessions.
DEFAULT_STATE_LIMIT: Final = 64 * 1024 * 1024
#: What one kept object costs besides its free-form JSON (its record, ids, timestamps).
OBJECT_OVERHEAD: Final = 1024


@attrs.define
class _Entry:
    size: int
    finished: Callable[[], bool]
    drop: Callable[[], object]


class StateLimit:
    """The gateway's ledger: each kept object's charge, in the order they were added.

    Args:
        limit: the most bytes the charges may add up to.
    """

    __slots__ = ("_entries", "limit", "total")

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self.total = 0
        # Insertion-ordered: the first entry is the oldest object.
        self._entries: dict[Hashable, _Entry] = {}

    def __len__(self) -> int:
        return len(self._entries)

    def charge(
        self,
        key: Hashable,
        size: int,
        *,
        finished: Callable[[], bool],
        drop: Callable[[], object],
    ) -> None:
        """Keep an object (or add ``size`` to one kept already: its place stays).

        Args:
            key: the object's ledger key, e.g. ``("session", id)``.
            size: its bytes.
            finished: whether it may be dropped now.
            drop: removes it from wherever the gateway keeps it.
        """
        entry = self._entries.get(key)
        if entry is None:
            self._entries[key] = _Entry(size, finished, drop)
        else:
            entry.size += size
        self.total += size

    def forget(self, key: Hashable) -> None:
        """The object is gone already (dropped with another): stop charging it."""
        entry = self._entries.pop(key, None)
        if entry is not None:
            self.total -= entry.size

    def make_room(self, size: int = 0, *, keep: Hashable = None) -> bool:
        """Drop the oldest finished objects until ``size`` more bytes fit.

        Args:
            size: the bytes to make room for.
            keep: the key of an object not to drop (the one a change is about).

        Returns:
            Whether they fit now (False: every object left is unfinished).
        """
        if self.total + size <= self.limit:
            return True
        for key in list(self._entries):
            entry = self._entries.get(key)  # a drop may have taken others with it
            if entry is None or key == keep or not entry.finished():
                continue
            self.forget(key)
            entry.drop()
            if self.total + size <= self.limit:
                return True
        return False
