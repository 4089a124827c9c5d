"""The delivery store contract, shared by every store: claims are leases with an owner token.

Owns :class:`Claim`, the :class:`DeliveryStore` / :class:`AsyncDeliveryStore` protocols, the
owner tokens, and hands every store the checks of the options they share (``lease=``,
``retention=``, ``timeout=``, connection counts: the SDK's one vocabulary, ``_core._checks``).
Pure: imports no I/O library, no database driver.

The contract, for every store:

- ``claim(key)`` answers ``claimed`` (with a fresh owner token; the caller must process the
  delivery and then ``complete`` or ``release``), ``done`` (processed before: a duplicate), or
  ``in_flight`` (someone holds a lease on it; ``remaining`` says how many seconds it has left).
  A claim whose lease has lapsed is claimed again by the next caller, with a new token.
- ``renew(key, token)`` extends the holder's live lease by ``lease`` seconds from the store's
  now; False when ``token`` no longer holds a live lease on the key (it lapsed, it was taken
  over, completed or released). The router renews every claim it holds at a third of the
  lease while the handlers run, so a lease follows its holder: a live handler keeps it, a dead
  one loses it within one lease.
- ``complete(key, token)`` marks the key done, whether or not the lease lapsed meanwhile,
  unless another caller has taken the key over since (then it answers False).
- ``release(key, token)`` forgets the claim, only for the holder of ``token``, so the gateway's
  retry (or the reconciler) runs the handlers again.

Whose clock: every comparison of lease times happens on one clock, the store's. Redis keeps
leases as key expiries and reads ``TIME``; PostgreSQL compares with ``clock_timestamp()`` inside
each statement; SQLite and the in-memory store serve one host, whose processes share its clock.
A caller's own clock never meets a store time: an in-flight :class:`Claim` says how long is
left (``remaining``, in seconds), not only when it ends.
"""

from __future__ import annotations

import re
import secrets
from collections.abc import Awaitable
from typing import Final, Protocol, TypeVar, runtime_checkable

import attrs

from ..._core._checks import check_int, check_seconds
from ..._exceptions import InvalidArgumentError
from .._effects import Plan

__all__ = [
    "DEFAULT_LEASE",
    "DEFAULT_RETENTION",
    "DEFAULT_STORE_TIMEOUT",
    "AsyncDeliveryStore",
    "AsyncPlanStore",
    "Claim",
    "ClaimStatus",
    "DeliveryStore",
    "PlanStore",
    "StorePlans",
    "check_identifier",
    "check_positive_int",
    "check_seconds",
    "new_token",
]

#: Seconds a claim stays in flight unless its holder renews it (the router does, at a third of
#: the lease, while the handlers run). Short, so that a killed worker's claim is free again
#: well before the gateway's first retry: BPC retries 30 s after a failed attempt
#: (docs/inferred.md), and a dead holder's lease lapses at most 20 s after its last renewal.
DEFAULT_LEASE: Final = 20.0
#: Seconds a completed key is remembered by the shared stores (30 days).
DEFAULT_RETENTION: Final = 30 * 24 * 3600.0
#: Seconds any one database or Redis call (and getting a connection) may take.
DEFAULT_STORE_TIMEOUT: Final = 5.0


class ClaimStatus:
    """The three answers of ``claim``."""

    CLAIMED: Final = "claimed"
    DONE: Final = "done"
    IN_FLIGHT: Final = "in_flight"


@attrs.frozen
class Claim:
    """What ``store.claim(key)`` answered.

    Attributes:
        status: one of :class:`ClaimStatus`.
        token: the owner token, for ``claimed`` only; pass it to ``renew`` / ``complete`` /
            ``release``.
        until: for ``in_flight``, when the holder's lease lapses, in POSIX seconds on the
            store's clock (for logs: compare it with no other clock).
        remaining: for ``in_flight``, the seconds the holder's lease has left, measured on the
            store's clock: what a caller waits for, whatever its own clock says.
    """

    status: str
    token: str | None = attrs.field(default=None, repr=False)
    until: float | None = None
    remaining: float | None = None

    @classmethod
    def claimed(cls, token: str) -> Claim:
        """The caller now holds the lease, as ``token``."""
        return cls(ClaimStatus.CLAIMED, token=token)

    @classmethod
    def done(cls) -> Claim:
        """The key was processed before."""
        return cls(ClaimStatus.DONE)

    @classmethod
    def in_flight(cls, until: float, remaining: float | None = None) -> Claim:
        """Someone else holds the lease until ``until``, ``remaining`` seconds from now (both
        on the store's clock)."""
        return cls(ClaimStatus.IN_FLIGHT, until=until, remaining=remaining)


@runtime_checkable
class DeliveryStore(Protocol):
    """A store with plain methods (usable by ``handle_sync`` and ``handle``)."""

    lease: float

    def claim(self, key: str) -> Claim:
        """Claim ``key`` for processing (see the module docstring for the three answers)."""
        ...

    def renew(self, key: str, token: str) -> bool:
        """Extend ``token``'s live lease on ``key`` by ``lease`` seconds; False otherwise."""
        ...

    def complete(self, key: str, token: str) -> bool:
        """Mark ``key`` done unless another token has taken it over; False then."""
        ...

    def release(self, key: str, token: str) -> bool:
        """Forget ``key`` if ``token`` still owns it; False otherwise."""
        ...


@runtime_checkable
class AsyncDeliveryStore(Protocol):
    """A store with ``async`` methods (usable by ``handle`` only)."""

    lease: float

    def claim(self, key: str) -> Awaitable[Claim]:
        """Claim ``key`` for processing."""
        ...

    def renew(self, key: str, token: str) -> Awaitable[bool]:
        """Extend ``token``'s live lease on ``key`` by ``lease`` seconds."""
        ...

    def complete(self, key: str, token: str) -> Awaitable[bool]:
        """Mark ``key`` done unless another token has taken it over."""
        ...

    def release(self, key: str, token: str) -> Awaitable[bool]:
        """Forget ``key`` if ``token`` still owns it."""
        ...


T = TypeVar("T")


class StorePlans(Protocol):
    """A store's logic as sans-I/O plans (``_sql.SqlLogic``, ``_redis.RedisPlans``)."""

    def claim_plan(self, key: str) -> Plan[Claim]: ...
    def renew_plan(self, key: str, token: str) -> Plan[bool]: ...
    def complete_plan(self, key: str, token: str) -> Plan[bool]: ...
    def release_plan(self, key: str, token: str) -> Plan[bool]: ...


class _Failures:
    """What a store's failed call raises, for :class:`PlanStore` and :class:`AsyncPlanStore`."""

    def _outage(self, exc: Exception) -> Exception:
        """``exc`` itself, unless the store swaps it for an error of its own (the pooled
        stores do: a database driver's frames hold the credentials)."""
        return exc


class PlanStore(_Failures):
    """The store methods of every blocking store: run its plans with its ``_execute``."""

    lease: float
    _plans: StorePlans

    def _execute(self, plan: Plan[T]) -> T:
        raise NotImplementedError

    def _run(self, plan: Plan[T]) -> T:
        try:
            return self._execute(plan)
        except Exception as exc:
            failure = self._outage(exc)
        # Raised here, not in the except clause, so that a swapped error chains nothing.
        raise failure

    def claim(self, key: str) -> Claim:
        """Claim ``key``: ``claimed`` (with a token), ``done``, or ``in_flight`` (until when).

        Returns:
            The :class:`Claim`.
        """
        return self._run(self._plans.claim_plan(key))

    def renew(self, key: str, token: str) -> bool:
        """Extend ``token``'s lease on ``key`` by ``lease`` seconds from the store's now.

        Returns:
            False when ``token`` holds no live lease on ``key`` any more (it lapsed, or the key
            was taken over, completed or released).
        """
        return self._run(self._plans.renew_plan(key, token))

    def complete(self, key: str, token: str) -> bool:
        """Mark ``key`` done, whether or not ``token``'s lease lapsed meanwhile.

        Returns:
            False when another caller has taken the key over since (its lease lapsed and the
            key was claimed again).
        """
        return self._run(self._plans.complete_plan(key, token))

    def release(self, key: str, token: str) -> bool:
        """Forget ``key`` if ``token`` still owns it, so that the next delivery runs it.

        Returns:
            False when the claim is not ``token``'s (or the key is done).
        """
        return self._run(self._plans.release_plan(key, token))


class AsyncPlanStore(_Failures):
    """The store methods of every asyncio store: run its plans with its async ``_execute``."""

    lease: float
    _plans: StorePlans

    async def _execute(self, plan: Plan[T]) -> T:
        raise NotImplementedError

    async def _run(self, plan: Plan[T]) -> T:
        try:
            return await self._execute(plan)
        except Exception as exc:
            failure = self._outage(exc)
        raise failure

    async def claim(self, key: str) -> Claim:
        return await self._run(self._plans.claim_plan(key))

    async def renew(self, key: str, token: str) -> bool:
        return await self._run(self._plans.renew_plan(key, token))

    async def complete(self, key: str, token: str) -> bool:
        return await self._run(self._plans.complete_plan(key, token))

    async def release(self, key: str, token: str) -> bool:
        return await self._run(self._plans.release_plan(key, token))

    # The same contract as the blocking methods, so the same words.
    claim.__doc__ = PlanStore.claim.__doc__
    renew.__doc__ = PlanStore.renew.__doc__
    complete.__doc__ = PlanStore.complete.__doc__
    release.__doc__ = PlanStore.release.__doc__


def new_token() -> str:
    """A fresh owner token: 128 random bits as hex."""
    return secrets.token_hex(16)


def check_positive_int(argument: str, value: object) -> int:
    """``value`` as an int >= 1 (a store's capacity or connection count).

    Raises:
        InvalidArgumentError: naming ``argument``.
    """
    return check_int(argument, value, minimum=1)


_IDENTIFIER = re.compile(r"[A-Za-z_][A-Za-z0-9_]{0,62}")


def check_identifier(argument: str, value: object) -> str:
    """``value`` as a plain SQL identifier (it is put into SQL text, so nothing else passes).

    Raises:
        InvalidArgumentError: naming ``argument``.
    """
    if not isinstance(value, str) or not _IDENTIFIER.fullmatch(value):
        raise InvalidArgumentError(
            argument, f"must be letters, digits and '_' (a plain SQL name), got {value!r}"
        )
    return value
