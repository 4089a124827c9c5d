"""The loopback aiohttp.web server every HTTP benchmark talks to, run in a separate process.

Run as a script it binds ``127.0.0.1:0``, prints one JSON line ``{"port": ...}`` and serves until
its stdin closes (the parent exits or calls :meth:`ChildServer.close`) or ``--max-seconds``
pass, so a crashed benchmark never leaves a server behind. It answers:

- ``POST /api2/sessions`` and ``GET /api2/sessions/{id}``: the same BPC session body
  (:data:`BPC_RAW`, ~670 bytes), for bpcpay and the raw clients;
- ``POST /v1/checkout/sessions`` and ``GET /v1/checkout/sessions/{id}``: a Stripe Checkout
  Session of about the same size (:data:`STRIPE_RAW`), for stripe-python.

The server is in its own process so that ``time.process_time()`` in the benchmark process counts
only the client's CPU, and the two do not share one interpreter lock. Imports only the standard
library at module level, so the parent can import the bodies without loading aiohttp.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any, TypeVar

BPC_BODY: dict[str, Any] = {
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
BPC_RAW = json.dumps(BPC_BODY).encode()

# The fields of a Checkout Session that carry the same facts as BPC_BODY (a real one has ~60
# mostly-null fields and is ~2 KB; trimming it keeps the bytes on the wire equal, so the
# comparison is about client code, not payload size).
STRIPE_BODY: dict[str, Any] = {
    "id": "cs_test_a1b2c3d4e5f6g7h8i9j0k1l2m3n4o5p6q7r8s9t0u1v2w3x4y5z6",
    "object": "checkout.session",
    "amount_subtotal": 10000,
    "amount_total": 10000,
    "cancel_url": "https://shop.example/failure",
    "client_reference_id": "4000",
    "created": 1711614397,
    "currency": "eur",
    "customer_details": None,
    "expires_at": 1711615597,
    "livemode": False,
    "locale": "en",
    "metadata": {},
    "mode": "payment",
    "payment_intent": None,
    "payment_status": "unpaid",
    "status": "open",
    "success_url": "https://shop.example/success",
    "url": "https://checkout.stripe.com/c/pay/cs_test_a1b2c3d4e5f6g7h8i9j0k1l2m3n4o5p6q7r8s9t0",
}
STRIPE_RAW = json.dumps(STRIPE_BODY).encode()

S = TypeVar("S", bound="ChildServer")

BPC_PREFIX = "/api2"
STRIPE_PREFIX = ""  # stripe-python appends /v1/... to its api base itself


def _serve(max_seconds: float) -> None:
    import asyncio
    import threading

    from aiohttp import web

    bpc_headers = {"Content-Type": "application/json", "API-Request-Id": "req_bench"}
    # stripe-python reads Request-Id (and reports it back as telemetry on the next request).
    stripe_headers = {"Content-Type": "application/json", "Request-Id": "req_bench"}

    async def bpc(request: web.Request) -> web.Response:
        await request.read()
        return web.Response(body=BPC_RAW, headers=bpc_headers)

    async def stripe(request: web.Request) -> web.Response:
        await request.read()
        return web.Response(body=STRIPE_RAW, headers=stripe_headers)

    async def main() -> None:
        app = web.Application()
        app.router.add_post("/api2/sessions", bpc)
        app.router.add_get("/api2/sessions/{id}", bpc)
        app.router.add_post("/v1/checkout/sessions", stripe)
        app.router.add_get("/v1/checkout/sessions/{id}", stripe)
        runner = web.AppRunner(app, access_log=None, handle_signals=False)
        await runner.setup()
        # A deep backlog: 64 clients connecting at once must not see refused connections.
        site = web.TCPSite(runner, "127.0.0.1", 0, backlog=1024)
        await site.start()
        port = runner.addresses[0][1]
        print(json.dumps({"port": port}), flush=True)
        loop = asyncio.get_running_loop()
        stdin_closed = asyncio.Event()

        def watch_stdin() -> None:
            sys.stdin.read()
            loop.call_soon_threadsafe(stdin_closed.set)

        # A daemon thread, not run_in_executor: asyncio.run would wait for an executor thread
        # still blocked in read() after --max-seconds, and the server would never stop.
        threading.Thread(target=watch_stdin, daemon=True).start()
        try:
            await asyncio.wait_for(stdin_closed.wait(), timeout=max_seconds)
        except asyncio.TimeoutError:
            pass
        finally:
            await runner.cleanup()

    asyncio.run(main())


class ChildServer:
    """A server in a child process whose first stdout line is JSON saying where it listens.

    Stops when :meth:`close` closes its stdin; killed if it does not exit promptly.
    """

    def __init__(self, argv: Sequence[str]) -> None:
        self.process = subprocess.Popen(
            [sys.executable, *argv], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True
        )
        assert self.process.stdout is not None
        line = self.process.stdout.readline()
        if not line:
            self.close()
            raise RuntimeError(f"the benchmark server did not start: {argv!r}")
        self.info: dict[str, Any] = json.loads(line)

    def close(self) -> None:
        if self.process.stdin is not None and not self.process.stdin.closed:
            self.process.stdin.close()
        try:
            self.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait(timeout=10)
        if self.process.stdout is not None:
            self.process.stdout.close()

    def __enter__(self: S) -> S:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()


class BenchServer(ChildServer):
    """This module's server: ``bpc_url`` for bpcpay and raw clients, ``stripe_url`` for stripe."""

    def __init__(self, max_seconds: float = 1800) -> None:
        super().__init__([str(Path(__file__).resolve()), "--max-seconds", str(max_seconds)])
        origin = f"http://127.0.0.1:{self.info['port']}"
        self.bpc_url = origin + BPC_PREFIX
        self.stripe_url = origin + STRIPE_PREFIX


def start() -> BenchServer:
    """Start the server; call ``close()`` (or use ``with``) to stop it."""
    return BenchServer()


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description="benchmark server (loopback only)")
    parser.add_argument("--max-seconds", type=float, default=1800)
    _serve(parser.parse_args().max_seconds)
