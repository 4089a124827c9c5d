"""Slow bodies against real servers: senders that stall mid-body are cut off at the async
adapters' deadline (408), the memory they held is given back, the size cap still holds, and
real deliveries sent meanwhile are answered (issue 18, item 7).

The servers run in their own processes (aiohttp's web runner, uvicorn); their memory is read
from outside, in ``/proc``. Tests use a short ``body_timeout``; one checks the default.
"""

from __future__ import annotations

import asyncio
import inspect
import json
import time
from collections.abc import MutableMapping
from typing import Any

import anyio
import pytest
from _contrib_apps import PATH
from _contrib_servers import (
    Stalled,
    aiohttp_runner,
    chunked,
    deliver,
    exchange,
    request_head,
    rss_mib,
    serve,
    settle,
    signed_headers,
    uvicorn,
)
from aiohttp import web
from aiohttp.test_utils import TestServer
from starlette.applications import Starlette

from bpcpay import InvalidArgumentError
from bpcpay.contrib import DEFAULT_BODY_TIMEOUT
from bpcpay.contrib.aiohttp import setup_webhooks as aiohttp_setup
from bpcpay.contrib.aiohttp import webhook_handler as aiohttp_handler
from bpcpay.contrib.asgi import WebhookASGIApp
from bpcpay.contrib.asgi import setup_webhooks as asgi_setup
from bpcpay.webhooks import WebhookRouter, sign

SECRET = "whsec_slow_bodies_not_real"
MIB = 1024 * 1024
CAP = MIB  # the router's default size cap
STALLED = 200
SENT = CAP - 64 * 1024  # about 1 MiB each, short of the Content-Length they declare
BODY_TIMEOUT = 2.0
#: What a wave of 200 stalled senders may leave behind once cut off: the allocator's slack
#: from the servers' own read buffers (measured: 20 to 45 MiB), not the ~200 MiB of bodies
#: that stayed for good before the deadline (measured: +194 MiB on aiohttp, +197 on uvicorn).
LEFT_BEHIND_MIB = 64.0

SERVERS = {"aiohttp": aiohttp_runner(), "asgi": uvicorn("_contrib_apps:asgi_app")}


def event(session_id: str) -> bytes:
    obj = {"id": session_id, "amount": 1000, "currency": "EUR", "status": "complete"}
    body = {"created": "2026-03-28T08:30:00Z", "type": "session.completed", "data": {"object": obj}}
    return json.dumps(body).encode()


@pytest.mark.parametrize("adapter", sorted(SERVERS))
def test_stalled_bodies_are_cut_off_and_their_memory_given_back(adapter: str) -> None:
    env = {"BPCPAY_WEBHOOK_SECRET": SECRET, "BODY_TIMEOUT": str(BODY_TIMEOUT)}
    with serve(SERVERS[adapter], env=env) as server:
        pid = server.process.pid
        for n in range(5):  # imports done, first handler run: the baseline is the warm server
            assert deliver(server.port, PATH, event(f"ps_warm{n}"), SECRET) == (200, "handled\n")
        before = rss_mib(pid)
        for wave in range(2):  # the second wave shows the first left nothing to pile up on
            with Stalled(server.port, PATH, count=STALLED, declared=CAP, sent=SENT) as stalled:
                # Meanwhile real deliveries are answered.
                live = event(f"ps_live{wave}")
                assert deliver(server.port, PATH, live, SECRET) == (200, "handled\n")
                answers = stalled.answers(timeout=BODY_TIMEOUT + 15)
                assert answers == [408] * STALLED, server.text()
                after = settle(pid, below=before + LEFT_BEHIND_MIB, timeout=5)
                print(f"{adapter} wave {wave}: RSS {before:.0f} MiB before, {after:.0f} after")
                assert after - before < LEFT_BEHIND_MIB
            assert deliver(server.port, PATH, event(f"ps_after{wave}"), SECRET) == (
                200,
                "handled\n",
            )


@pytest.mark.parametrize("adapter", sorted(SERVERS))
def test_the_size_cap_still_holds_with_the_deadline(adapter: str) -> None:
    env = {"BPCPAY_WEBHOOK_SECRET": SECRET, "BODY_TIMEOUT": str(BODY_TIMEOUT)}
    with serve(SERVERS[adapter], env=env) as server:
        big = b"x" * (CAP + 1)
        head = request_head(PATH, signed_headers(big, SECRET), length=len(big))
        assert exchange(server.port, head)[0] == 413  # refused on its Content-Length, unread
        streamed = request_head(PATH, {}, length=None) + chunked(big, 64 * 1024)
        assert exchange(server.port, streamed)[0] == 413  # refused once past the cap
        body = event("ps_chunked")
        whole = request_head(PATH, signed_headers(body, SECRET), length=None) + chunked(body)
        assert exchange(server.port, whole)[0] == 200


class Trickle:
    """ASGI receive: ``pieces`` of a body, ``gap`` seconds apart; then the end of the body, or
    (``stall``) nothing ever again."""

    def __init__(self, pieces: list[bytes], gap: float, *, stall: bool = False) -> None:
        self.pieces = list(pieces)
        self.gap = gap
        self.stall = stall
        self.sent: list[dict[str, Any]] = []

    async def receive(self) -> dict[str, Any]:
        if not self.pieces:
            await anyio.sleep_forever()  # deadline: the adapter's body_timeout cancels it
        await anyio.sleep(self.gap)
        piece = self.pieces.pop(0)
        return {"type": "http.request", "body": piece, "more_body": self.stall or bool(self.pieces)}

    async def send(self, message: MutableMapping[str, Any]) -> None:
        self.sent.append(dict(message))


def asgi_post(body: bytes) -> dict[str, Any]:
    headers = [(b"x-signature", sign(body, SECRET).encode())]
    return {"type": "http", "method": "POST", "path": PATH, "headers": headers}


@pytest.mark.asyncio
async def test_the_deadline_is_for_the_whole_body() -> None:
    # A slow but steady sender done inside the deadline is handled; one that stops short of
    # its end is answered 408 at the deadline, with its connection closed.
    app = WebhookASGIApp(WebhookRouter(SECRET), body_timeout=1.0)
    body = event("ps_trickled")
    steady = Trickle([body[i : i + 50] for i in range(0, len(body), 50)], gap=0.1)
    await app(asgi_post(body), steady.receive, steady.send)
    assert steady.sent[0]["status"] == 200

    stalled = Trickle([body[:-1]], gap=0, stall=True)
    started = time.monotonic()
    await app(asgi_post(body), stalled.receive, stalled.send)
    assert 0.9 < time.monotonic() - started < 5
    assert stalled.sent[0]["status"] == 408
    assert (b"connection", b"close") in stalled.sent[0]["headers"]
    assert stalled.sent[1]["body"] == b"too_slow\n"


@pytest.mark.asyncio
async def test_the_default_deadline_is_ten_seconds_untuned() -> None:
    # What a user gets without tuning: built without body_timeout, both async adapters answer
    # a stalled body 408 ten seconds after it started, not before. One real wait of 10 s for
    # both, side by side: the aiohttp one on a real socket.
    router = WebhookRouter(SECRET)
    for entry in (aiohttp_handler, aiohttp_setup, asgi_setup, WebhookASGIApp):
        default = inspect.signature(entry).parameters["body_timeout"].default
        assert default == DEFAULT_BODY_TIMEOUT == 10.0
    app = web.Application()
    aiohttp_setup(app, router)
    body = event("ps_default")

    async def over_aiohttp() -> tuple[float, bytes]:
        async with TestServer(app, host="127.0.0.1") as server:
            reader, writer = await asyncio.open_connection("127.0.0.1", server.port)
            head = request_head(PATH, signed_headers(body, SECRET), length=len(body))
            writer.write(head + body[:-1])
            started = time.monotonic()
            answer = await asyncio.wait_for(reader.readline(), 30)
            writer.close()
            return time.monotonic() - started, answer

    async def over_asgi() -> tuple[float, int]:
        stalled = Trickle([body[:-1]], gap=0, stall=True)
        started = time.monotonic()
        await WebhookASGIApp(router)(asgi_post(body), stalled.receive, stalled.send)
        return time.monotonic() - started, stalled.sent[0]["status"]

    (aiohttp_took, aiohttp_answer), (asgi_took, asgi_status) = await asyncio.gather(
        over_aiohttp(), over_asgi()
    )
    assert aiohttp_answer.startswith(b"HTTP/1.1 408 ")
    assert asgi_status == 408
    assert 9.9 < aiohttp_took < 14 and 9.9 < asgi_took < 14


@pytest.mark.parametrize("bad", [0, -1, float("nan"), float("inf"), True, "10", None])
def test_body_timeout_is_checked_like_every_seconds_argument(bad: object) -> None:
    router = WebhookRouter(SECRET)
    builders = [
        lambda: aiohttp_handler(router, body_timeout=bad),  # type: ignore[arg-type]
        lambda: aiohttp_setup(web.Application(), router, body_timeout=bad),  # type: ignore[arg-type]
        lambda: WebhookASGIApp(router, body_timeout=bad),  # type: ignore[arg-type]
        lambda: asgi_setup(Starlette(), router, body_timeout=bad),  # type: ignore[arg-type]
    ]
    for build in builders:
        with pytest.raises(InvalidArgumentError) as caught:
            build()
        assert caught.value.argument == "body_timeout"
