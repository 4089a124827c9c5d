"""A loopback aiohttp.web server for benchmarks, run in its own process.

It answers ``POST /api2/sessions`` and ``GET /api2/sessions/{id}`` with the same ~670-byte
session body, so every client under test pays for the same bytes.
"""

from __future__ import annotations

import json
import multiprocessing
import socket
from typing import Any

BODY: dict[str, Any] = {
    "id": "ps_2GRSigkh7m3hqz5pMCAYCzJaXjsHgypQui6nMBss3XLVLF8gwDASHP",
    "amount": 10000,
    "created": "2024-03-28T08:26:37Z",
    "currency": "EUR",
    "customerDetails": {},
    "expiresAt": "2024-03-28T08:46:37Z",
    "failureUrl": "https://shop.example/failure",
    "locale": "EN",
    "merchantReferenceId": "4000",
    "metadata": {},
    "paymentData": {"captureMethod": "automatic"},
    "paymentStatus": "unpaid",
    "paymentUrl": "https://dev.bpcbt.com/payment/merchants/ecom/payment.html?"
    "mdOrder=12a19f56-50e6-74bc-a289-c93d00a9c8eb&language=en",
    "status": "open",
    "successUrl": "https://shop.example/success",
}
RAW = json.dumps(BODY).encode()


def _serve(sock: socket.socket) -> None:
    from aiohttp import web

    headers = {"Content-Type": "application/json", "API-Request-Id": "req_bench"}

    async def answer(request: web.Request) -> web.Response:
        await request.read()
        return web.Response(body=RAW, headers=headers)

    app = web.Application()
    app.router.add_post("/api2/sessions", answer)
    app.router.add_get("/api2/sessions/{id}", answer)
    web.run_app(app, sock=sock, print=None, access_log=None, handle_signals=True)


def start() -> tuple[str, multiprocessing.Process]:
    """Start the server in a child process; returns its base URL and the process."""
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    sock.listen(1024)
    port = sock.getsockname()[1]
    ctx = multiprocessing.get_context("fork")
    proc = ctx.Process(target=_serve, args=(sock,), daemon=True)
    proc.start()
    sock.close()
    return f"http://127.0.0.1:{port}/api2", proc
