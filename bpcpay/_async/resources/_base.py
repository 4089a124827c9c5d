"""What every async resource shares: the request function its client hands it, and the last
step of every ``create``.

A resource never sees its client: it is given ``request`` (the client's ``_request``), the one
path every call takes (``bpcpay/_async/_client.py``). Holding that bound method keeps the client
alive for as long as the resource is, so ``AsyncBpcPay(...).sessions`` works on its own.
"""

from __future__ import annotations

from collections.abc import Awaitable, Mapping
from typing import Any, Protocol, TypeVar

from ..._core._bodies import merge_extra_body
from ..._core._endpoints import Endpoint
from ..._types import JSON, NOT_GIVEN, NotGiven, TimeoutLike

__all__ = ["AsyncResource", "Requester"]

T = TypeVar("T")


class Requester(Protocol):
    """The request function a resource is given: one call of an endpoint of the table."""

    def __call__(
        self,
        endpoint: Endpoint[T],
        /,
        *ids: str,
        body: JSON | NotGiven = NOT_GIVEN,
        timeout: TimeoutLike | NotGiven = NOT_GIVEN,
        extra_headers: Mapping[str, str] | NotGiven = NOT_GIVEN,
    ) -> Awaitable[T]:
        """Send ``endpoint`` with the path's ``ids``, ``body``, ``timeout`` and
        ``extra_headers``; the model."""


class AsyncResource:
    """Base of AsyncSessions, AsyncPayments, ...: holds the request function it calls."""

    __slots__ = ("_request",)

    def __init__(self, request: Requester) -> None:
        self._request = request

    def __repr__(self) -> str:
        return f"<{type(self).__name__}>"

    def _send_body(
        self,
        endpoint: Endpoint[T],
        body: dict[str, Any],
        extra_body: Mapping[str, Any] | NotGiven,
        timeout: TimeoutLike | NotGiven,
        extra_headers: Mapping[str, str] | NotGiven,
    ) -> Awaitable[T]:
        """Send the body a method built from its keyword arguments, with the caller's
        ``extra_body`` fields merged in (``merge_extra_body`` refuses one that repeats a field).
        Not a coroutine of its own: it hands back the request's, one frame less per ``create``.

        Args:
            endpoint: what to call.
            body: the checked fields, in wire form.
            extra_body: the method's ``extra_body`` argument, as given.
            timeout: the method's ``timeout`` argument, as given.
            extra_headers: the method's ``extra_headers`` argument, as given.

        Returns:
            What to await for the endpoint's model.

        Raises:
            InvalidArgumentError: ``extra_body`` is invalid (raised here, before anything is
                sent).
        """
        if not isinstance(extra_body, NotGiven):
            body = merge_extra_body(body, extra_body)
        return self._request(endpoint, body=body, timeout=timeout, extra_headers=extra_headers)
