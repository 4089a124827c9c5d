"""The loopback server every HTTP benchmark talks to: a raw asyncio protocol in its own process.

Run as a script it binds ``127.0.0.1:0``, prints one JSON line ``{"port": ..., "pid": ...}`` and
serves until its stdin closes (the parent exits or calls :meth:`ChildServer.close`) or
``--max-seconds`` pass, so a crashed benchmark never leaves a server behind. It answers every
request with one of two answers built once, before the first request (status line, headers and
body as bytes): a path under ``/v1/`` gets a Stripe Checkout Session (:data:`STRIPE_RAW`, for
stripe-python), anything else the BPC session (:data:`BPC_RAW`, for bpcpay and the raw clients).

It is a bare ``asyncio.Protocol`` (no HTTP framework, no routing, no per-request objects): it
splits the byte stream at each header block, skips the ``Content-Length`` body and writes the
ready answer, keeping the connection open. That makes it cheap enough to stay far from being the
bottleneck: :meth:`ChildServer.cpu_seconds` reads its CPU time from ``/proc``, and the benchmark
prints the most CPU it used in any turn (it must stay under half a core).

The server is in its own process so that ``time.process_time()`` in the benchmark process counts
only the client's CPU, and the two do not share one interpreter lock. Imports only the standard
library, so the parent can import the bodies without loading aiohttp.
"""

from __future__ import annotations

import argparse
import json
import os
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


def _answer(body: bytes, request_id_header: str) -> bytes:
    head = (
        "HTTP/1.1 200 OK\r\n"
        "Content-Type: application/json\r\n"
        f"{request_id_header}: req_bench\r\n"
        f"Content-Length: {len(body)}\r\n"
        "\r\n"
    )
    return head.encode("ascii") + body


#: The two answers, status line to body. stripe-python reads ``Request-Id``.
BPC_ANSWER = _answer(BPC_RAW, "API-Request-Id")
STRIPE_ANSWER = _answer(STRIPE_RAW, "Request-Id")
#: A request head larger than this closes the connection (nothing legitimate sends one).
_MAX_HEAD = 64 * 1024


def _serve(max_seconds: float) -> None:
    import asyncio
    import os
    import threading

    class Http(asyncio.Protocol):
        """HTTP/1.1 keep-alive: one pre-built answer per request head (plus its body)."""

        def __init__(self) -> None:
            self.buffer = b""
            self.transport: asyncio.Transport | None = None

        def connection_made(self, transport: asyncio.BaseTransport) -> None:
            assert isinstance(transport, asyncio.Transport)
            self.transport = transport

        def data_received(self, data: bytes) -> None:
            buffer = self.buffer + data if self.buffer else data
            transport = self.transport
            assert transport is not None
            while True:
                end = buffer.find(b"\r\n\r\n")
                if end < 0:
                    if len(buffer) > _MAX_HEAD:
                        transport.close()
                        buffer = b""
                    break
                head = buffer[:end]
                length = 0
                at = head.lower().find(b"\r\ncontent-length:")
                if at >= 0:
                    stop = head.find(b"\r\n", at + 2)
                    length = int(head[at + 17 : stop if stop >= 0 else len(head)])
                total = end + 4 + length
                if len(buffer) < total:
                    break
                line_end = head.find(b"\r\n")
                first = head[:line_end] if line_end >= 0 else head
                transport.write(STRIPE_ANSWER if b" /v1/" in first else BPC_ANSWER)
                buffer = buffer[total:]
            self.buffer = buffer

    async def main() -> None:
        loop = asyncio.get_running_loop()
        # A deep backlog: hundreds of clients connecting at once must not see refused connections.
        server = await loop.create_server(Http, "127.0.0.1", 0, backlog=1024)
        port = server.sockets[0].getsockname()[1]
        print(json.dumps({"port": port, "pid": os.getpid()}), flush=True)
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
            server.close()

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

    def cpu_seconds(self) -> float | None:
        """CPU time (user + system) the server process used so far; None where ``/proc`` is
        missing (the benchmark then prints no server CPU)."""
        pid = self.info.get("pid", self.process.pid)
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        except (OSError, IndexError):
            return None
        # Fields 14 and 15 of stat (utime, stime) are the 12th and 13th after the name.
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")

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
