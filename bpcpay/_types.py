"""Small shared types: the NOT_GIVEN sentinel, JSON aliases and the Timeout value.

Imports only ``_constants`` and the argument checks (``_core._checks``) from bpcpay; no I/O
libraries.
"""

from __future__ import annotations

import enum
from collections.abc import Mapping, Sequence
from typing import Final, Literal, TypeAlias

import attrs

from ._constants import DEFAULT_CONNECT_TIMEOUT, DEFAULT_READ_TIMEOUT
from ._core._checks import check_seconds

JSONScalar: TypeAlias = str | int | float | bool | None
JSON: TypeAlias = JSONScalar | Mapping[str, "JSON"] | Sequence["JSON"]
JSONObject: TypeAlias = Mapping[str, JSON]
HTTPMethod: TypeAlias = Literal["GET", "POST", "PUT", "PATCH", "DELETE"]


class NotGiven(enum.Enum):
    """The type of :data:`NOT_GIVEN`: "the caller did not pass this argument".

    It exists so that ``None`` can keep a meaning of its own (or be refused) instead of silently
    standing for "use the default". Every optional argument of the clients' methods defaults
    to ``NOT_GIVEN``: a function of yours that passes an optional value on can default to it
    too, and the argument is left out of the request when it was not given.

    Examples:
        ```python
        from bpcpay import NOT_GIVEN, NotGiven


        def checkout(amount: int, locale: str | NotGiven = NOT_GIVEN):
            return client.sessions.create(
                amount=amount,
                currency="EUR",
                success_url="https://shop.example/done",
                failure_url="https://shop.example/retry",
                locale=locale,  # sent only when the caller gave one
            )


        print(checkout(500).locale, checkout(500, locale="de").locale)  # EN de
        ```
    """

    NOT_GIVEN = "NOT_GIVEN"

    def __repr__(self) -> str:
        return "NOT_GIVEN"

    def __bool__(self) -> Literal[False]:
        return False


#: "Not given": the default of every optional argument of the clients' methods, so that
#: ``None`` is never taken for "use the default" (``timeout=None`` is refused, not "forever").
NOT_GIVEN: Final = NotGiven.NOT_GIVEN


@attrs.frozen
class Timeout:
    """How long one attempt of a request may take, in seconds.

    One attempt never lasts longer than ``connect + read`` (:attr:`total`): it is a hard
    deadline, however slowly the gateway trickles its answer. A call makes at most
    ``max_retries + 1`` attempts, so it ends within ``(max_retries + 1) x total`` plus the
    backoff between attempts.

    Attributes:
        connect: time to get a connection: waiting for a free one in the pool, then opening
            the TCP (and TLS) connection. A request whose connection was never made provably
            did not reach the gateway, so even a POST may be retried.
        read: time for the answer, from sending the request to its last byte. It shares one
            deadline with ``connect``: time not needed to connect is left to the answer. When it
            fires on a POST, the outcome is unknown.

    Examples:
        ```python
        from bpcpay import BpcPay, Timeout

        print(Timeout())  # Timeout(connect=5.0, read=20.0)
        with BpcPay(timeout=Timeout(connect=2, read=8)) as quick:
            print(quick.timeout.total)  # 10
            session = quick.sessions.create(
                amount=500,
                currency="EUR",
                success_url="https://shop.example/done",
                failure_url="https://shop.example/retry",
                timeout=30,  # this one call may take longer
            )
        ```
    """

    connect: float = DEFAULT_CONNECT_TIMEOUT
    read: float = DEFAULT_READ_TIMEOUT

    def __attrs_post_init__(self) -> None:
        for name in ("connect", "read"):
            check_seconds(f"timeout.{name}", getattr(self, name))

    @property
    def total(self) -> float:
        """The hard deadline of one attempt: connect plus read."""
        return self.connect + self.read


#: The default per-attempt timeout: 5 s to connect, 20 s to read.
DEFAULT_TIMEOUT: Final = Timeout()

#: What a caller may pass as ``timeout``: a Timeout, or one number used for both phases.
TimeoutLike: TypeAlias = Timeout | float | int


def to_timeout(value: TimeoutLike, *, argument: str = "timeout") -> Timeout:
    """Normalise a ``timeout`` argument; ``None`` is refused (it would mean "wait forever")."""
    if isinstance(value, Timeout):
        return value
    seconds = check_seconds(argument, value)
    return Timeout(connect=seconds, read=seconds)


@attrs.frozen(kw_only=True)
class RequestAttempt:
    """What the ``on_attempt`` hook receives after every attempt of every request.

    Attributes:
        method: the HTTP method.
        path: the path below the base URL.
        attempt: 1 for the first try, 2 for the first retry, ...
        status: the HTTP status, or None when no answer arrived.
        request_id: the answer's ``API-Request-Id``, if any.
        elapsed: seconds this attempt took.
        error: a short description when no answer arrived (never contains secrets).
        retry_in: seconds until the next attempt, or None when this was the last one.

    Examples:
        ```python
        from bpcpay import BpcPay

        attempts = []
        with BpcPay(on_attempt=attempts.append) as measured:  # or your metrics' recorder
            measured.sessions.create(
                amount=500,
                currency="EUR",
                success_url="https://shop.example/done",
                failure_url="https://shop.example/retry",
            )
        (attempt,) = attempts
        print(attempt.method, attempt.path, attempt.status)  # POST /sessions 200
        ```
    """

    method: str
    path: str
    attempt: int
    status: int | None
    request_id: str | None
    elapsed: float
    error: str | None = None
    retry_in: float | None = None


# The public names report the module users import them from (tracebacks, reprs, help()).
NotGiven.__module__ = Timeout.__module__ = RequestAttempt.__module__ = "bpcpay"
