"""How many ``sessions.create`` calls per second the sandbox gateway serves, through AsyncBpcPay.

The gateway runs in its own process (so client and server do not share one interpreter lock),
the client sends ``--requests`` creates with ``--concurrency`` in flight, five times; the median
is printed. As a baseline, the same client load goes to a bare aiohttp.web handler that answers
a fixed session JSON without any checks, measured in the same run: the ratio says what the
sandbox's own work (auth, validation, state, serialisation, request log) costs.

    .venv/bin/python benchmarks/sandbox_throughput.py [--requests 2000] [--concurrency 32]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import subprocess
import sys
import time
from typing import Any

from bpcpay import AsyncBpcPay

RUNS = 5

SANDBOX_SERVER = """
import asyncio, json, sys
from bpcpay.sandbox import SandboxGateway

async def main():
    async with SandboxGateway() as gw:
        print(json.dumps({"base_url": gw.base_url, "api_key": gw.api_key}), flush=True)
        await asyncio.get_running_loop().run_in_executor(None, sys.stdin.read)

asyncio.run(main())
"""

BARE_SERVER = """
import asyncio, json, sys
from aiohttp import web

BODY = json.dumps({"id": "ps_" + "x" * 54, "amount": 100, "currency": "EUR", "status": "open",
                   "paymentStatus": "unpaid", "created": "2026-01-01T00:00:00Z"}).encode()

async def create(request):
    await request.read()
    return web.Response(body=BODY, content_type="application/json")

async def main():
    app = web.Application()
    app.router.add_post("/api2/sessions", create)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", 0).start()
    port = runner.addresses[0][1]
    print(json.dumps({"base_url": f"http://127.0.0.1:{port}/api2", "api_key": "bench"}),
          flush=True)
    await asyncio.get_running_loop().run_in_executor(None, sys.stdin.read)
    await runner.cleanup()

asyncio.run(main())
"""


class Server:
    """A server in a child process; its first stdout line says where it listens."""

    def __init__(self, code: str) -> None:
        self.process = subprocess.Popen(
            [sys.executable, "-c", code],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )
        assert self.process.stdout is not None
        info: dict[str, Any] = json.loads(self.process.stdout.readline())
        self.base_url: str = info["base_url"]
        self.api_key: str = info["api_key"]

    def close(self) -> None:
        assert self.process.stdin is not None
        self.process.stdin.close()  # the server exits when its stdin ends
        self.process.wait(timeout=10)
        if self.process.stdout is not None:
            self.process.stdout.close()


async def one_run(server: Server, requests: int, concurrency: int) -> float:
    """Calls per second of one run."""
    async with AsyncBpcPay(
        api_key=server.api_key, base_url=server.base_url, pool_size=concurrency
    ) as client:
        remaining = requests

        async def worker() -> None:
            nonlocal remaining
            while remaining > 0:
                remaining -= 1
                await client.sessions.create(
                    amount=10000,
                    currency="EUR",
                    success_url="https://shop.example/success",
                    failure_url="https://shop.example/failure",
                    merchant_reference_id="bench",
                )

        await client.sessions.create(  # warm the connection pool outside the timing
            amount=1, currency="EUR", success_url="https://shop.example/s",
            failure_url="https://shop.example/f",
        )  # fmt: skip
        started = time.perf_counter()
        await asyncio.gather(*(worker() for _ in range(concurrency)))
        return requests / (time.perf_counter() - started)


async def measure(code: str, requests: int, concurrency: int) -> float:
    server = Server(code)
    try:
        rates = [await one_run(server, requests, concurrency) for _ in range(RUNS)]
    finally:
        server.close()
    return statistics.median(rates)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--requests", type=int, default=2000)
    parser.add_argument("--concurrency", type=int, default=32)
    args = parser.parse_args()
    sandbox = asyncio.run(measure(SANDBOX_SERVER, args.requests, args.concurrency))
    bare = asyncio.run(measure(BARE_SERVER, args.requests, args.concurrency))
    print(f"sandbox gateway:  {sandbox:8.0f} sessions.create/s (median of {RUNS} runs, "
          f"{args.requests} calls, {args.concurrency} in flight)")  # fmt: skip
    print(f"bare aiohttp.web: {bare:8.0f} calls/s (same client, fixed answer)")
    print(f"ratio sandbox / bare: {sandbox / bare:.2f}")


if __name__ == "__main__":
    main()
