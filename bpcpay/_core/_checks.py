"""The argument-checking vocabulary: one function per kind of value, each naming the argument.

Every public entry point (the clients, the webhook functions, the router, the delivery stores,
the sandbox gateway and its faults, the test helpers) checks its arguments with these before
doing anything else. A bad argument raises :class:`~bpcpay.InvalidArgumentError` (a
``ValueError``) whose ``argument`` is the argument's name as the caller spelled it and whose
message starts with that name. A secret's value never appears in a message.

The checks of the API's own values (amounts, currencies, URLs, body blocks) are built on these
in ``_requests`` and ``_bodies``. Pure: imports nothing but the error tree.
"""

from __future__ import annotations

import math

from .._exceptions import InvalidArgumentError

# typing.TYPE_CHECKING without importing typing or datetime: ``import bpcpay.webhooks`` loads
# this module, and stays cheap (type checkers treat any TYPE_CHECKING this way).
TYPE_CHECKING = False
if TYPE_CHECKING:
    from datetime import datetime
    from typing import TypeVar

    T = TypeVar("T")

__all__ = [
    "check_aware",
    "check_callable",
    "check_int",
    "check_seconds",
    "check_secret",
    "check_text",
]


def check_int(
    argument: str,
    value: object,
    *,
    minimum: int | None = None,
    maximum: int | None = None,
    what: str = "an int",
) -> int:
    """An ``int`` (a ``bool`` is refused) from ``minimum`` to ``maximum`` when they are given.

    Args:
        argument: the argument's name, for the message.
        value: what the caller passed.
        minimum: the smallest value allowed, if any.
        maximum: the largest value allowed, if any.
        what: the kind of value, for the message (``"an int in minor units"``).

    Returns:
        ``value``.

    Raises:
        InvalidArgumentError: naming ``argument``.
    """
    if type(value) is not int and (isinstance(value, bool) or not isinstance(value, int)):
        raise InvalidArgumentError(argument, f"must be {what}, got {type(value).__name__}")
    if minimum is not None and value < minimum:
        raise InvalidArgumentError(argument, f"must be at least {minimum}, got {value}")
    if maximum is not None and value > maximum:
        raise InvalidArgumentError(argument, f"must be at most {maximum}, got {value}")
    return value


def check_seconds(argument: str, value: object, *, allow_zero: bool = False) -> float:
    """A finite number of seconds (``int`` or ``float``; a ``bool`` is refused), positive, or
    also zero with ``allow_zero``.

    Returns:
        ``value`` as a float.

    Raises:
        InvalidArgumentError: naming ``argument``.
    """
    least = "non-negative" if allow_zero else "positive"
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise InvalidArgumentError(
            argument, f"must be a {least} number of seconds, got {type(value).__name__}"
        )
    if not math.isfinite(value) or value < 0 or (value == 0 and not allow_zero):
        raise InvalidArgumentError(argument, f"must be a {least} number of seconds, got {value!r}")
    return float(value)


def check_secret(argument: str, value: object) -> bytes:
    """A secret (``str`` or ``bytes``, not empty or only whitespace) as the bytes of its key.

    The message never shows the value: it says what is wrong with it, not what it is.

    Raises:
        InvalidArgumentError: naming ``argument``.
    """
    if isinstance(value, str):
        if not value.strip():
            raise InvalidArgumentError(argument, "is empty or only whitespace")
        try:
            return value.encode("utf-8")
        except UnicodeEncodeError:
            raise InvalidArgumentError(argument, "cannot be encoded as UTF-8") from None
    if isinstance(value, (bytes, bytearray)):
        if not value.strip():
            raise InvalidArgumentError(argument, "is empty or only whitespace")
        return bytes(value)
    raise InvalidArgumentError(argument, f"must be str or bytes, got {type(value).__name__}")


def check_text(
    argument: str, value: object, *, max_length: int | None = None, empty: bool = True
) -> str:
    """A ``str`` that can be sent as UTF-8 (no lone surrogate), of at most ``max_length``
    characters, and not empty or only whitespace unless ``empty``.

    Returns:
        ``value``.

    Raises:
        InvalidArgumentError: naming ``argument``.
    """
    if not isinstance(value, str) or not (empty or value.strip()):
        kind = "a string" if empty else "a non-empty string"
        shown = repr(value) if isinstance(value, str) else type(value).__name__
        raise InvalidArgumentError(argument, f"must be {kind}, got {shown}")
    if max_length is not None and len(value) > max_length:
        raise InvalidArgumentError(argument, f"must be at most {max_length} characters")
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        raise InvalidArgumentError(
            argument, "must be valid Unicode text (it contains a lone surrogate)"
        ) from None
    return value


def check_aware(argument: str, value: object) -> datetime:
    """A timezone-aware ``datetime``.

    Returns:
        ``value``.

    Raises:
        InvalidArgumentError: naming ``argument``.
    """
    from datetime import datetime  # here: the sandbox's clock is its only caller

    if not isinstance(value, datetime):
        raise InvalidArgumentError(argument, f"must be a datetime, got {type(value).__name__}")
    if value.tzinfo is None or value.utcoffset() is None:
        raise InvalidArgumentError(
            argument, "must be timezone-aware (e.g. datetime.now(timezone.utc))"
        )
    return value


def check_callable(argument: str, value: T, what: str = "a callable") -> T:
    """Something callable (a handler, a key function, a clock).

    Returns:
        ``value``.

    Raises:
        InvalidArgumentError: naming ``argument``.
    """
    if not callable(value):
        raise InvalidArgumentError(argument, f"must be {what}, got {type(value).__name__}")
    return value
