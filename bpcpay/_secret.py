"""Secret: a value that cannot print itself. Imports nothing from bpcpay and no I/O library.

The API key and the webhook secrets are held in a :class:`Secret` from the moment bpcpay is
given them. Error trackers (Sentry, Rollbar, Bugsnag), tracebacks printed with their locals and
debuggers show the local variables of every frame an error passed through, by ``repr``: a
Secret in a local, an argument or an attribute shows ``Secret('[redacted]')``, and so do its
``str``, its ``format`` and its pickle. Its plain value is read with :meth:`Secret.reveal` at
the one place it is used (the request header, the HMAC), inside an expression, so no frame
keeps it in a name.

What it cannot do: Python has no private memory, so code that looks for the value on purpose
(``object.__getattribute__``, ``gc.get_referents``, a memory dump) finds it.
"""

from __future__ import annotations

__all__ = ["REDACTED", "Secret", "hold"]

#: What a secret shows instead of its value.
REDACTED = "[redacted]"

# typing is not imported at run time (it costs milliseconds, and ``import bpcpay.webhooks``
# stays cheap): type checkers see a generic class, the interpreter a class whose subscription
# (``Secret[bytes]`` in a type alias) is the class itself.
TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Generic, TypeVar, overload

    V = TypeVar("V", str, bytes)
    T = TypeVar("T")

    class _Generic(Generic[V]):
        __slots__ = ()
else:
    V = "V"

    class _Generic:
        __slots__ = ()

        def __class_getitem__(cls, item: object) -> type:
            return cls


class Secret(_Generic[V]):
    """A str or bytes secret whose ``repr``, ``str``, ``format`` and pickle show ``[redacted]``.

    Args:
        value: the plain value.
    """

    __slots__ = ("_value",)

    _value: V

    def __init__(self, value: V) -> None:
        self._value = value

    def reveal(self) -> V:
        """The plain value: call it where the value is used, never to keep it in a name."""
        return self._value

    def __bool__(self) -> bool:
        return bool(self._value)

    def __repr__(self) -> str:
        return f"Secret({REDACTED!r})"

    def __str__(self) -> str:
        return REDACTED

    def __format__(self, spec: str) -> str:
        return format(REDACTED, spec)

    def __reduce__(self) -> tuple[type[Secret[V]], tuple[str | bytes]]:
        # A pickle (or a copy made through one) carries the redacted form, never the value.
        redacted: str | bytes = REDACTED if isinstance(self._value, str) else REDACTED.encode()
        return (Secret, (redacted,))

    def __copy__(self) -> Secret[V]:
        return self  # immutable: a copy (copy.copy, a deepcopy of a holder) is the same secret

    def __deepcopy__(self, memo: object) -> Secret[V]:
        return self


if TYPE_CHECKING:

    @overload
    def hold(value: str) -> Secret[str]: ...
    @overload
    def hold(value: bytes) -> Secret[bytes]: ...
    @overload
    def hold(value: T) -> T: ...
    def hold(value: object) -> object:
        """The typed face of ``hold`` below (the module imports no typing at run time)."""

else:

    def hold(value):
        """``value`` held in a :class:`Secret` when it is a plain ``str`` or ``bytes``;
        anything else (a Secret already, None, NOT_GIVEN, a value of the wrong type) as it is.

        A constructor rebinds each secret argument with it first thing
        (``api_key = hold(api_key)``), so no frame an error later leaves through holds the
        plain value.
        """
        return Secret(value) if isinstance(value, (str, bytes)) else value
