"""A payments bot on aiohttp: one process, one event loop, one ClientSession.

A user presses "Buy" in a chat; the bot creates a payment session with ``AsyncBpcPay`` (on the
bot's own ``aiohttp.ClientSession``) and sends the payment link. When the customer has paid,
BPC's ``session.completed`` webhook arrives on the same aiohttp application, is verified by
``bpcpay.contrib.aiohttp``, and the bot tells the chat. There is no chat network here: messages
go to an :class:`Outbox` that prints them (swap in your chat library's ``send_message``), and
``POST /chat/{chat_id}/buy`` stands in for the chat's "Buy" button.

Run it by hand against the local sandbox gateway: the exact commands are in this folder's
README.md. In short: ``bpcpay sandbox --webhook-url http://127.0.0.1:8090/webhooks/bpc``, paste
its export lines, ``python examples/bot/bot.py``, then ``curl -X POST
http://127.0.0.1:8090/chat/7/buy`` and open the link the bot prints.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import signal
import sys
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field

import aiohttp
from aiohttp import web

from bpcpay import AsyncBpcPay, Event, Session
from bpcpay.contrib.aiohttp import setup_webhooks
from bpcpay.webhooks import WebhookRouter

WEBHOOK_PATH = "/webhooks/bpc"
#: Not 8081 (the sandbox's default) nor 8080 (``bpcpay listen``'s) nor 8000 (the demo's).
DEFAULT_PORT = 8090


@dataclass(frozen=True)
class Message:
    """One message the bot sent to a chat."""

    chat_id: int
    text: str


class Outbox:
    """Stands in for the chat network: every message the bot sends, in order.

    Args:
        echo: also called with a line for each message (``print`` when run by hand).
    """

    def __init__(self, echo: Callable[[str], None] | None = None) -> None:
        self.messages: list[Message] = []
        self._echo = echo
        self._changed = asyncio.Condition()

    async def send(self, chat_id: int, text: str) -> None:
        if self._echo is not None:
            self._echo(f"bot -> chat {chat_id}: {text}")
        async with self._changed:
            self.messages.append(Message(chat_id, text))
            self._changed.notify_all()

    async def wait_for(self, match: Callable[[Message], bool], timeout: float = 10.0) -> Message:
        """The first message (already sent or still to come) that ``match`` accepts."""
        return await asyncio.wait_for(self._first(match), timeout)

    async def _first(self, match: Callable[[Message], bool]) -> Message:
        async with self._changed:
            while True:
                for message in self.messages:
                    if match(message):
                        return message
                await self._changed.wait()


@dataclass
class BotConfig:
    api_key: str
    base_url: str
    webhook_secret: str
    #: Where the gateway sends the customer back after paying (a deep link into the chat app).
    return_url: str = "https://t.me/example_shop_bot"


@dataclass
class Bot:
    """The bot's logic; chat handlers call :meth:`on_buy`, the webhook calls the others."""

    client: AsyncBpcPay
    outbox: Outbox
    return_url: str
    #: session id -> chat id, for sessions this process created.
    chats: dict[str, int] = field(default_factory=dict)
    #: The loop each webhook was handled on (the example's test checks it is the bot's own).
    webhook_loops: list[asyncio.AbstractEventLoop] = field(default_factory=list)
    #: The delivery id of every event handled.
    handled: list[str | None] = field(default_factory=list)
    #: Where the bot reports what it receives (``print`` when run by hand).
    log: Callable[[str], None] = field(default=lambda line: None)

    async def on_buy(self, chat_id: int, *, item: str, amount: int, currency: str) -> Session:
        """The user pressed "Buy": create a payment link and send it to the chat."""
        session = await self.client.sessions.create(
            amount=amount,
            currency=currency,
            success_url=f"{self.return_url}?start=paid",
            failure_url=f"{self.return_url}?start=failed",
            merchant_reference_id=f"chat{chat_id}-{len(self.chats) + 1}",
            metadata={"chat_id": str(chat_id), "item": item},
        )
        self.chats[session.id] = chat_id
        await self.outbox.send(chat_id, f"Pay for {item} here: {session.payment_url}")
        return session

    def _chat_of(self, session: Session) -> int | None:
        if session.id in self.chats:
            return self.chats[session.id]
        chat = session.metadata.get("chat_id")
        return int(chat) if chat and chat.isdigit() else None

    async def on_session_completed(self, event: Event) -> None:
        session = event.data.object
        if not isinstance(session, Session):
            return
        self.webhook_loops.append(asyncio.get_running_loop())
        self.handled.append(event.request_id)
        self.log(f"webhook verified: {event.type} for {session.id} ({session.payment_status})")
        chat_id = self._chat_of(session)
        if chat_id is None:
            return  # not one of ours
        item = session.metadata.get("item", "your order")
        if session.payment_status == "paid":
            await self.outbox.send(chat_id, f"Paid: {item}. Thank you!")
        else:
            await self.outbox.send(chat_id, f"The payment for {item} did not go through.")

    async def on_session_expired(self, event: Event) -> None:
        session = event.data.object
        if isinstance(session, Session):
            self.log(f"webhook verified: {event.type} for {session.id}")
        if isinstance(session, Session) and (chat_id := self._chat_of(session)) is not None:
            await self.outbox.send(chat_id, "The payment link expired; press Buy again.")


HTTP = web.AppKey("http", aiohttp.ClientSession)
BOT = web.AppKey("bot", Bot)
OUTBOX = web.AppKey("outbox", Outbox)


def create_app(config: BotConfig, *, echo: Callable[[str], None] | None = None) -> web.Application:
    """The bot's aiohttp application: its ClientSession, its client, and the webhook route.

    Args:
        config: keys and URLs.
        echo: receives a line for each message the bot sends and each webhook it handles.
    """
    app = web.Application()
    app[OUTBOX] = Outbox(echo)

    async def lifecycle(app: web.Application) -> AsyncIterator[None]:
        # One ClientSession for everything the bot does over HTTP (the chat API would use it
        # too); AsyncBpcPay borrows it and never closes it.
        async with aiohttp.ClientSession() as http:
            client = AsyncBpcPay(api_key=config.api_key, base_url=config.base_url, session=http)
            app[HTTP] = http
            app[BOT] = Bot(
                client=client,
                outbox=app[OUTBOX],
                return_url=config.return_url,
                log=echo or (lambda line: None),
            )
            yield
            await client.aclose()

    app.cleanup_ctx.append(lifecycle)

    router = WebhookRouter(config.webhook_secret)
    # Looked up per event: the Bot exists once the app has started.
    router.add_handler("session.completed", lambda event: app[BOT].on_session_completed(event))
    router.add_handler("session.expired", lambda event: app[BOT].on_session_expired(event))
    setup_webhooks(app, router, path=WEBHOOK_PATH)
    app.router.add_post("/chat/{chat_id}/buy", _press_buy)
    return app


async def _press_buy(request: web.Request) -> web.Response:
    """Stands in for the chat's "Buy" button: ``POST /chat/7/buy?item=coffee&amount=350``."""
    chat_id, amount = request.match_info["chat_id"], request.query.get("amount", "350")
    if not chat_id.isdigit() or not amount.isdigit() or int(amount) == 0:
        raise web.HTTPBadRequest(text="chat id and amount (minor units) are positive integers\n")
    session = await request.app[BOT].on_buy(
        int(chat_id),
        item=request.query.get("item", "coffee"),
        amount=int(amount),
        currency=request.query.get("currency", "EUR"),
    )
    return web.json_response({"session": session.id, "paymentUrl": session.payment_url})


async def serve(config: BotConfig, host: str, port: int) -> None:
    """Run the bot until Ctrl-C, printing what it sends and receives."""
    runner = web.AppRunner(create_app(config, echo=lambda line: print(line, flush=True)))
    await runner.setup()
    try:
        await web.TCPSite(runner, host, port).start()
        url = f"http://{host}:{runner.addresses[0][1]}"
        print(f"bot listening on {url} (Ctrl-C to stop)", flush=True)
        print(f"  webhooks: {url}{WEBHOOK_PATH}", flush=True)
        print(f"  press Buy: curl -X POST '{url}/chat/7/buy?item=coffee&amount=350'", flush=True)
        stop = asyncio.Event()
        # Ctrl-C (and SIGTERM) end the wait below, and runner.cleanup() lets the requests in
        # flight finish: before Python 3.11, asyncio.run lets KeyboardInterrupt land inside
        # whichever task runs at that moment, a webhook's handler among them.
        with contextlib.suppress(NotImplementedError):  # no signal handlers on Windows
            for signum in (signal.SIGINT, signal.SIGTERM):
                asyncio.get_running_loop().add_signal_handler(signum, stop.set)
        await stop.wait()  # deadline: the bot serves until it is told to stop
    finally:
        await runner.cleanup()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--host", default="127.0.0.1", help="interface (default 127.0.0.1)")
    parser.add_argument(
        "--port", type=int, default=DEFAULT_PORT, help=f"port (default {DEFAULT_PORT}; 0: any free)"
    )
    args = parser.parse_args(argv)
    missing = [n for n in ("BPCPAY_API_KEY", "BPCPAY_WEBHOOK_SECRET") if not os.environ.get(n)]
    if missing:
        names = " and ".join(missing)
        hint = "paste the export lines that `bpcpay sandbox` prints"
        print(f"bot.py: set {names} ({hint})", file=sys.stderr)
        return 2
    config = BotConfig(
        api_key=os.environ["BPCPAY_API_KEY"],
        base_url=os.environ.get("BPCPAY_BASE_URL", "https://dev.bpcbt.com/api2"),
        webhook_secret=os.environ["BPCPAY_WEBHOOK_SECRET"],
    )
    try:
        asyncio.run(serve(config, args.host, args.port))
    except OSError as exc:
        reason = exc.strerror or exc
        hint = "another program has that port: pick another with --port"
        print(
            f"bot.py: cannot listen on {args.host}:{args.port} ({reason}); {hint}", file=sys.stderr
        )
        return 1
    except KeyboardInterrupt:
        pass
    print("bot stopped", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
