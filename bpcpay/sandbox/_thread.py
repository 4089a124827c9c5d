"""ThreadedSandboxGateway: a SandboxGateway on its own event loop in a daemon thread, with a
synchronous face, for Flask or Django test suites and the sync client.

Every call that touches the gateway's state runs on the gateway's loop, so the state is never
shared between threads; plain attributes (URLs, credentials, the fault set) are read directly.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Awaitable, Callable, Coroutine, Iterable
from concurrent.futures import Future
from datetime import datetime, timedelta
from types import TracebackType
from typing import Any, Literal, TypeVar

from ._app import RequestRecord
from ._cards import TestCard, TestCards
from ._customer import PayResult
from ._faults import Faults
from ._gateway import SandboxGateway
from ._webhooks import Delivery, SandboxEvent, WebhookEndpoint

__all__ = ["ThreadedSandboxGateway"]

T = TypeVar("T")
_START_TIMEOUT = 10.0


class ThreadedSandboxGateway:
    """A running :class:`SandboxGateway` in a background thread. Stop it with :meth:`stop` or
    a ``with`` block."""

    def __init__(self, gateway: SandboxGateway) -> None:
        self.gateway = gateway
        self._loop: asyncio.AbstractEventLoop | None = None
        self._stop_event: asyncio.Event | None = None
        self._ready = threading.Event()
        # A list, not an Optional attribute: the thread fills it in after __init__ reads it.
        self._errors: list[BaseException] = []
        self._thread = threading.Thread(target=self._main, name="bpcpay-sandbox", daemon=True)
        self._thread.start()
        if not self._ready.wait(_START_TIMEOUT):
            raise RuntimeError("the sandbox gateway did not start in time")
        if self._errors:
            self._thread.join()
            raise self._errors[0]

    def _main(self) -> None:
        asyncio.run(self._serve())

    async def _serve(self) -> None:
        self._loop = asyncio.get_running_loop()
        self._stop_event = asyncio.Event()
        try:
            await self.gateway.start()
        except BaseException as exc:
            self._errors.append(exc)
            self._ready.set()
            return
        self._ready.set()
        try:
            await self._stop_event.wait()
        finally:
            await self.gateway.aclose()

    def _run(self, make: Callable[[], Coroutine[Any, Any, T]]) -> T:
        if self._loop is None or not self._thread.is_alive():
            raise RuntimeError("the sandbox gateway is stopped")

        async def call() -> T:
            return await make()

        future: Future[T] = asyncio.run_coroutine_threadsafe(call(), self._loop)
        return future.result()

    def _call(self, fn: Callable[[], T]) -> T:
        async def wrapped() -> T:
            return fn()

        return self._run(wrapped)

    def stop(self) -> None:
        """Stop the gateway and its thread. Idempotent."""
        loop, stop_event = self._loop, self._stop_event
        if loop is not None and stop_event is not None and self._thread.is_alive():
            loop.call_soon_threadsafe(stop_event.set)
        self._thread.join()

    def __enter__(self) -> ThreadedSandboxGateway:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    def __repr__(self) -> str:
        return f"<ThreadedSandboxGateway {self.base_url}>"

    # --- the same attributes -----------------------------------------------------------------

    @property
    def url(self) -> str:
        """The root URL."""
        return self.gateway.url

    @property
    def base_url(self) -> str:
        """The API's base URL."""
        return self.gateway.base_url

    @property
    def api_key(self) -> str:
        """The API key."""
        return self.gateway.api_key

    @property
    def restricted_api_key(self) -> str:
        """The key that gets 403."""
        return self.gateway.restricted_api_key

    @property
    def webhook_secret(self) -> str:
        """The webhook signing secret."""
        return self.gateway.webhook_secret

    @property
    def faults(self) -> Faults:
        """The fault set (thread-safe)."""
        return self.gateway.faults

    @property
    def requests(self) -> list[RequestRecord]:
        """The request log."""
        return self._call(lambda: list(self.gateway.requests))

    @property
    def events(self) -> list[SandboxEvent]:
        """Every event emitted so far."""
        return self._call(lambda: self.gateway.events)

    @property
    def deliveries(self) -> list[Delivery]:
        """Every delivery so far."""
        return self._call(lambda: self.gateway.deliveries)

    # --- the same methods, synchronous -------------------------------------------------------

    def now(self) -> datetime:
        """The gateway's current time."""
        return self._call(self.gateway.now)

    def advance_clock(self, delta: timedelta) -> datetime:
        """See :meth:`SandboxGateway.advance_clock`."""
        return self._call(lambda: self.gateway.advance_clock(delta))

    def expire_due(self) -> list[str]:
        """See :meth:`SandboxGateway.expire_due`."""
        return self._call(self.gateway.expire_due)

    def add_webhook_endpoint(
        self, url: str, events: Iterable[str] | None = None
    ) -> WebhookEndpoint:
        """See :meth:`SandboxGateway.add_webhook_endpoint`."""
        selection = None if events is None else list(events)
        return self._call(lambda: self.gateway.add_webhook_endpoint(url, selection))

    def wait_for_deliveries(self, timeout: float = 5.0) -> list[Delivery]:
        """See :meth:`SandboxGateway.wait_for_deliveries`."""
        return self._run(lambda: self.gateway.wait_for_deliveries(timeout))

    def resend(self, ident: str) -> list[Delivery]:
        """See :meth:`SandboxGateway.resend`."""
        return self._run(lambda: self.gateway.resend(ident))

    def pay(
        self,
        session_id: str,
        *,
        card: str | TestCard = TestCards.SUCCESS_FRICTIONLESS,
        cvc: str | None = None,
        expiry: str | None = None,
        holder: str = "Test Customer",
        three_ds: Literal["succeed", "fail"] = "succeed",
    ) -> PayResult:
        """See :meth:`SandboxGateway.pay`."""
        return self._run(
            lambda: self.gateway.pay(
                session_id, card=card, cvc=cvc, expiry=expiry, holder=holder, three_ds=three_ds
            )
        )

    def authenticate(
        self, payment_id: str, *, three_ds: Literal["succeed", "fail"] = "succeed"
    ) -> PayResult:
        """See :meth:`SandboxGateway.authenticate`."""
        return self._run(lambda: self.gateway.authenticate(payment_id, three_ds=three_ds))

    def run(self, make: Callable[[], Awaitable[T]]) -> T:
        """Run ``make()`` (a coroutine function) on the gateway's loop and return its result."""

        async def call() -> T:
            return await make()

        return self._run(call)
