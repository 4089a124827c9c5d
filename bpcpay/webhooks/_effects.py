"""Run a sans-I/O plan: a generator that yields effects and receives their results.

The router's logic and each store's logic are written once, as generators that yield what
they need done (claim this key, run this handler, execute this SQL) and receive the outcome,
or have the failure thrown in at the same point. :func:`drive` performs effects with plain
calls, :func:`drive_async` with awaited ones; nothing else differs between the sync and the
async paths. Pure: imports no I/O library.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Generator
from typing import Any, Generic, TypeVar

__all__ = ["Plan", "drive", "drive_async"]

R = TypeVar("R")
Plan = Generator[Any, Any, R]


class _Cursor(Generic[R]):
    """Where a plan stands: its pending effect, or (``done``) its return value."""

    __slots__ = ("done", "effect", "plan", "value")

    def __init__(self, plan: Plan[R]) -> None:
        self.plan = plan
        self.done = False
        self.effect: Any = None
        self.value: Any = None
        self._resume(plan.send, None)

    def _resume(self, step: Callable[[Any], Any], arg: Any) -> None:
        try:
            self.effect = step(arg)
        except StopIteration as stop:
            self.done, self.value = True, stop.value

    def settle(self, outcome: tuple[bool, Any]) -> None:
        """Resume the plan with ``(True, result)``, or throw ``(False, exception)`` into it."""
        ok, value = outcome
        self._resume(self.plan.send if ok else self.plan.throw, value)


def _attempt(perform: Callable[[Any], Any], effect: Any) -> tuple[bool, Any]:
    try:
        return True, perform(effect)
    except BaseException as exc:  # every one goes back into the plan, which decides
        return False, exc


def drive(plan: Plan[R], perform: Callable[[Any], Any]) -> R:
    """Run ``plan`` to its end, performing each effect with ``perform(effect)``.

    An exception from ``perform`` (any BaseException) is thrown into the plan where it yielded,
    so the plan's own ``try`` blocks decide what happens next.

    Returns:
        The plan's return value.

    Raises:
        Whatever the plan lets escape.
    """
    cursor = _Cursor(plan)
    while not cursor.done:
        cursor.settle(_attempt(perform, cursor.effect))
    result: R = cursor.value
    return result


async def drive_async(plan: Plan[R], perform: Callable[[Any], Awaitable[Any]]) -> R:
    """:func:`drive` with an async ``perform``: each effect is awaited.

    Returns:
        The plan's return value.
    """
    cursor = _Cursor(plan)
    while not cursor.done:
        outcome: tuple[bool, Any]
        try:
            outcome = (True, await perform(cursor.effect))
        except BaseException as exc:
            outcome = (False, exc)
        cursor.settle(outcome)
    result: R = cursor.value
    return result
