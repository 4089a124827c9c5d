"""The argument-checking vocabulary: one function per kind of value, each naming the argument.

Every public entry point checks its arguments with these before doing anything else; a bad
argument raises :class:`~bpcpay.InvalidArgumentError` (a ``ValueError``) whose message starts
with the argument's name as the caller spelled it. A secret's value never appears in a message.
Pure: no I/O.
"""

from __future__ import annotations

from .._exceptions import InvalidArgumentError

__all__ = ["check_int", "check_seconds", "check_secret"]


def check_int(argument: str, value: object, *, minimum: int | None = None) -> int:
    """An ``int`` (a ``bool`` is refused) of at least ``minimum`` when one is given.

    Raises:
        InvalidArgumentError: naming ``argument``.
    """
    if type(value) is not int and (isinstance(value, bool) or not isinstance(value, int)):
        raise InvalidArgumentError(argument, f"must be an int, got {type(value).__name__}")
    if minimum is not None and value < minimum:
        raise InvalidArgumentError(argument, f"must be an int >= {minimum}, got {value!r}")
    return value


def check_seconds(argument: str, value: object) -> float:
    """A positive, finite number of seconds (``int`` or ``float``; a ``bool`` is refused).

    Raises:
        InvalidArgumentError: naming ``argument``.
    """
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise InvalidArgumentError(
            argument, f"must be a positive number of seconds, got {type(value).__name__}"
        )
    if not 0 < value < float("inf"):  # also refuses NaN
        raise InvalidArgumentError(argument, f"must be a positive number of seconds, got {value!r}")
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
