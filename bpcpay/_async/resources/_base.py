"""What every async resource shares: a reference to its client."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from .._client import AsyncBpcPay

__all__ = ["AsyncResource"]


class AsyncResource:
    """Base of AsyncSessions, AsyncPayments, ...; holds the client whose ``_request`` it calls."""

    __slots__ = ("_client",)

    def __init__(self, client: AsyncBpcPay) -> None:
        self._client = client

    def __repr__(self) -> str:
        return f"<{type(self).__name__}>"
