"""The delivery store contract, shared by every store: claims are leases with an owner token.

Owns :class:`Claim`, the :class:`DeliveryStore` / :class:`AsyncDeliveryStore` protocols, the
owner tokens, and hands every store the checks of the options they share (``lease=``,
``retention=``, ``timeout=``, connection counts: the SDK's one vocabulary, ``_core._checks``).
Pure: imports no I/O library, no database driver.

The contract, for every store:

- ``claim(key)`` answers ``claimed`` (with a fresh owner token; the caller must process the
  delivery and then ``complete`` or ``release``), ``done`` (processed before: a duplicate), or
  ``in_flight`` (someone holds a lease on it; ``until`` says when that lease lapses). A claim
  whose lease has lapsed is claimed again by the next caller, with a new token.
- ``complete(key, token)`` marks the key done, only for the holder of ``token``; a worker whose
  lease lapsed and was claimed by another cannot complete the other's claim (it gets False).
- ``release(key, token)`` forgets the claim, only for the holder of ``token``, so the gateway's
  retry (or the reconciler) runs the handlers again.

A lease is fixed when it is claimed; nothing renews it. It must outlast the slowest handler:
a handler still running when its lease lapses may run a second time elsewhere.
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

#: Seconds a claim stays in flight before it lapses (the slowest handler must finish sooner).
DEFAULT_LEASE: Final = 300.0
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
        token: the owner token, for ``claimed`` only; pass it to ``complete`` / ``release``.
        until: for ``in_flight``, when the holder's lease lapses (POSIX seconds, store clock).
    """

    status: str
    token: str | None = attrs.field(default=None, repr=False)
    until: float | None = None

    @classmethod
    def claimed(cls, token: str) -> Claim:
        """The caller now holds the lease, as ``token``."""
        return cls(ClaimStatus.CLAIMED, token=token)

    @classmethod
    def done(cls) -> Claim:
        """The key was processed before."""
        return cls(ClaimStatus.DONE)

    @classmethod
    def in_flight(cls, until: float) -> Claim:
        """Someone else holds the lease until ``until``."""
        return cls(ClaimStatus.IN_FLIGHT, until=until)


@runtime_checkable
class DeliveryStore(Protocol):
    """A store with plain methods (usable by ``handle_sync`` and ``handle``)."""

    lease: float

    def claim(self, key: str) -> Claim:
        """Claim ``key`` for processing (see the module docstring for the three answers)."""
        ...

    def complete(self, key: str, token: str) -> bool:
        """Mark ``key`` done if ``token`` still owns it; False otherwise."""
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

    def complete(self, key: str, token: str) -> Awaitable[bool]:
        """Mark ``key`` done if ``token`` still owns it."""
        ...

    def release(self, key: str, token: str) -> Awaitable[bool]:
        """Forget ``key`` if ``token`` still owns it."""
        ...


T = TypeVar("T")


class StorePlans(Protocol):
    """A store's logic as sans-I/O plans (``_sql.SqlLogic``, ``_redis.RedisPlans``)."""

    def claim_plan(self, key: str) -> Plan[Claim]: ...
    def complete_plan(self, key: str, token: str) -> Plan[bool]: ...
    def release_plan(self, key: str, token: str) -> Plan[bool]: ...


class PlanStore:
    """The store methods of every blocking store: run its plans with its ``_execute``."""

    lease: float
    _plans: StorePlans

    def _execute(self, plan: Plan[T]) -> T:
        raise NotImplementedError

    def claim(self, key: str) -> Claim:
        """Claim ``key``: ``claimed`` (with a token), ``done``, or ``in_flight`` (until when).

        Returns:
            The :class:`Claim`.
        """
        return self._execute(self._plans.claim_plan(key))

    def complete(self, key: str, token: str) -> bool:
        """Mark ``key`` done if ``token`` still owns it.

        Returns:
            False when the claim is not ``token``'s any more (its lease lapsed and was taken).
        """
        return self._execute(self._plans.complete_plan(key, token))

    def release(self, key: str, token: str) -> bool:
        """Forget ``key`` if ``token`` still owns it, so that the next delivery runs it.

        Returns:
            False when the claim is not ``token``'s (or the key is done).
        """
        return self._execute(self._plans.release_plan(key, token))


class AsyncPlanStore:
    """The store methods of every asyncio store: run its plans with its async ``_execute``."""

    lease: float
    _plans: StorePlans

    async def _execute(self, plan: Plan[T]) -> T:
        raise NotImplementedError

    async def claim(self, key: str) -> Claim:
        return await self._execute(self._plans.claim_plan(key))

    async def complete(self, key: str, token: str) -> bool:
        return await self._execute(self._plans.complete_plan(key, token))

    async def release(self, key: str, token: str) -> bool:
        return await self._execute(self._plans.release_plan(key, token))

    # The same contract as the blocking methods, so the same words.
    claim.__doc__ = PlanStore.claim.__doc__
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
