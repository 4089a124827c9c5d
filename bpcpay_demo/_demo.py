"""Demo: the sandbox gateway and the demo store on one event loop, each on its own loopback
port, with the gateway's webhook endpoint pointing at the store.

The store gets only what a merchant would have: the gateway's base URL, an API key and a
webhook secret. It talks to the gateway over HTTP like any client, never through its objects.
"""

from __future__ import annotations

from collections.abc import Sequence

from aiohttp import web

from bpcpay import EventType
from bpcpay.sandbox import SandboxGateway

from ._store import DemoStore

__all__ = ["STORE_EVENTS", "Demo"]

#: The events the store subscribes to, as a merchant would select them in the gateway:
#: payment.failed tells the failure page why a card was declined.
STORE_EVENTS = (EventType.SESSION_COMPLETED, EventType.SESSION_EXPIRED, EventType.PAYMENT_FAILED)


class Demo:
    """A running sandbox and store::

        async with Demo() as demo:
            print(demo.store_url)

    Args:
        host: the interface both bind (loopback).
        port: the store's port; 0 picks a free one.
        sandbox_port: the gateway's port; 0 picks a free one.
        webhook_retry_schedule: the gateway's delays between delivery attempts.
        store_events: the event types the store's webhook endpoint subscribes to (an empty
            selection shows what happens when no webhook ever arrives).
    """

    def __init__(
        self,
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        sandbox_port: int = 0,
        webhook_retry_schedule: Sequence[float] = (0.5, 2.0),
        store_events: Sequence[str] = STORE_EVENTS,
    ) -> None:
        self.host = host
        self._store_events = tuple(store_events)
        self._port = port
        self.gateway = SandboxGateway(
            host=host, port=sandbox_port, webhook_retry_schedule=webhook_retry_schedule
        )
        self._runner: web.AppRunner | None = None
        self._store: DemoStore | None = None
        self.store_url = ""

    @property
    def store(self) -> DemoStore:
        """The store (after :meth:`start`)."""
        if self._store is None:
            raise RuntimeError("the demo is not running")
        return self._store

    async def start(self) -> Demo:
        """Start the gateway, then the store, then point the gateway's webhooks at the store."""
        await self.gateway.start()
        try:
            store = DemoStore(
                api_key=self.gateway.api_key,
                base_url=self.gateway.base_url,
                webhook_secret=self.gateway.webhook_secret,
            )
            runner = web.AppRunner(
                store.app, access_log=None, handle_signals=False, shutdown_timeout=1.0
            )
            await runner.setup()
            try:
                site = web.TCPSite(runner, self.host, self._port)
                await site.start()
            except BaseException:
                await runner.cleanup()
                raise
        except BaseException:
            await self.gateway.aclose()
            raise
        self._runner, self._store = runner, store
        self.store_url = f"http://{self.host}:{runner.addresses[0][1]}"
        store.public_url = self.store_url
        self.gateway.add_webhook_endpoint(f"{self.store_url}/webhooks", self._store_events)
        return self

    async def aclose(self) -> None:
        """Stop the store (closing its API client), then the gateway. Idempotent."""
        if self._runner is not None:
            runner, self._runner = self._runner, None
            await runner.cleanup()
        await self.gateway.aclose()

    async def __aenter__(self) -> Demo:
        return await self.start()

    async def __aexit__(self, *exc_info: object) -> None:
        await self.aclose()
