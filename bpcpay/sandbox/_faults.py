"""Fault injection: make the next N requests that match a method and path misbehave.

A fault can answer a given status (with an optional ``Retry-After``), answer a given body (an
HTML error page, truncated JSON), stall before answering, or drop the connection without
answering. Faults are consumed in the order they were added, one per matching request. The set
is thread-safe, so a test may add faults from another thread while the gateway runs.
"""

from __future__ import annotations

import fnmatch
import threading
from datetime import datetime
from email.utils import format_datetime as http_date

import attrs

from .._core._checks import check_int, check_seconds, check_text
from .._exceptions import InvalidArgumentError

__all__ = ["Fault", "Faults"]


@attrs.define(kw_only=True, eq=False)
class Fault:
    """One injected fault. ``remaining`` counts down; ``hits`` counts the requests it took.

    Examples:
        ```python
        # The next GET of a session answers 503 (Retry-After: 0); the client retries it.
        fault = gw.faults.add(method="GET", path="/api2/sessions/*", status=503, retry_after=0)
        session = client.sessions.create(
            amount=2400,
            currency="EUR",
            success_url="https://shop.example/orders/1019/paid",
            failure_url="https://shop.example/orders/1019/retry",
        )
        print(client.sessions.retrieve(session.id).status)  # open
        print(fault.hits, fault.remaining)  # 1 0
        ```
    """

    method: str | None
    path: str
    status: int | None = None
    retry_after: str | None = None
    stall: float = 0.0
    drop: bool = False
    body: bytes | None = attrs.field(default=None, repr=False)
    content_type: str | None = None
    remaining: int = 1
    hits: int = 0

    def matches(self, method: str, path: str) -> bool:
        """True for a request this fault applies to (``path`` may use ``*`` wildcards)."""
        if self.method is not None and self.method != method.upper():
            return False
        return self.path == path or fnmatch.fnmatchcase(path, self.path)

    @property
    def kind(self) -> str:
        """``drop``, ``stall``, ``status`` or ``body``: for the request log."""
        if self.drop:
            return "drop"
        if self.status is None and self.body is None:
            return "stall"
        return "status" if self.body is None else "body"


class Faults:
    """The gateway's pending faults (``gw.faults``).

    Examples:
        ```python
        from bpcpay import APIConnectionError

        gw.faults.add(method="POST", path="/api2/payments", drop=True)  # the line drops
        try:
            client.payments.create(amount=100, currency="EUR", stored_payment_method_id="pm_1")
        except APIConnectionError as error:
            print(error.outcome_unknown)  # True
        print(len(gw.faults))  # 0
        ```
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._faults: list[Fault] = []

    def add(
        self,
        *,
        method: str | None = None,
        path: str,
        status: int | None = None,
        retry_after: str | int | float | datetime | None = None,
        stall: float = 0.0,
        drop: bool = False,
        body: str | bytes | None = None,
        content_type: str | None = None,
        times: int = 1,
    ) -> Fault:
        """Inject a fault for the next ``times`` requests matching ``method`` and ``path``.

        Args:
            method: ``"POST"``, ``"GET"`` ...; None matches any method.
            path: the full path, e.g. ``"/api2/sessions"``; ``*`` is a wildcard
                (``"/api2/payments/*/capture"``).
            status: answer this status (an error body is made up unless ``body`` is given).
            retry_after: a ``Retry-After`` header: seconds, an HTTP date string, or a datetime.
            stall: seconds to wait before answering (then the fault's answer, or the real one).
            drop: close the connection without answering.
            body: answer these bytes (status 200 unless ``status`` is given).
            content_type: of ``body``; guessed from it by default (``<`` starts HTML, else JSON).
            times: how many matching requests the fault applies to.

        Returns:
            The fault, to inspect ``hits`` and ``remaining``.

        Raises:
            InvalidArgumentError: an argument is of the wrong kind or out of range, or none of
                ``status``, ``body``, ``stall`` and ``drop`` says what the fault does.
        """
        if method is not None:
            check_text("method", method, empty=False)
        check_text("path", path, empty=False)
        if status is not None:
            check_int("status", status, minimum=100, maximum=599, what="an HTTP status code")
        if retry_after is not None and not isinstance(retry_after, (str, int, float, datetime)):
            raise InvalidArgumentError(
                "retry_after",
                f"must be seconds, an HTTP date or a datetime, got {type(retry_after).__name__}",
            )
        stall = check_seconds("stall", stall, allow_zero=True)
        if body is not None and not isinstance(body, (str, bytes)):
            raise InvalidArgumentError("body", f"must be str or bytes, got {type(body).__name__}")
        if content_type is not None:
            check_text("content_type", content_type, empty=False)
        check_int("times", times, minimum=1)
        if not (drop or stall or status is not None or body is not None):
            raise InvalidArgumentError(
                "status", "give at least one of status=, body=, stall= or drop=True"
            )
        if isinstance(retry_after, datetime):
            retry_after = http_date(retry_after, usegmt=True)
        elif isinstance(retry_after, (int, float)):
            retry_after = str(retry_after)
        raw = body.encode("utf-8") if isinstance(body, str) else body
        if raw is not None and content_type is None:
            html = raw.lstrip()[:1] == b"<"
            content_type = "text/html; charset=utf-8" if html else "application/json"
        fault = Fault(
            method=None if method is None else method.upper(),
            path=path,
            status=status,
            retry_after=retry_after,
            stall=stall,
            drop=drop,
            body=raw,
            content_type=content_type,
            remaining=times,
        )
        with self._lock:
            self._faults.append(fault)
        return fault

    def take(self, method: str, path: str) -> Fault | None:
        """Consume one use of the first fault matching the request."""
        with self._lock:
            for fault in self._faults:
                if fault.remaining > 0 and fault.matches(method, path):
                    fault.remaining -= 1
                    fault.hits += 1
                    if fault.remaining == 0:
                        self._faults.remove(fault)
                    return fault
        return None

    def clear(self) -> None:
        """Remove every pending fault."""
        with self._lock:
            self._faults.clear()

    @property
    def pending(self) -> list[Fault]:
        """Faults with uses left, in order."""
        with self._lock:
            return list(self._faults)

    def __len__(self) -> int:
        with self._lock:
            return len(self._faults)
