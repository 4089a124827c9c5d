"""How many ``sessions.create`` calls per second the sandbox gateway serves, through AsyncBpcPay.

The gateway runs in its own process (so client and server do not share one interpreter lock),
the client sends ``--requests`` creates with ``--concurrency`` in flight, five times; the median
is printed. As a baseline, the same client load goes to a bare aiohttp.web handler that answers
a fixed session JSON without any checks, measured in the same run with the runs alternating: the
ratio says what the sandbox's own work (auth, validation, state, serialisation, request log)
costs. ``run.py`` runs this as section g, sized by its ``Config``.

    .venv/bin/python benchmarks/sandbox_throughput.py [--requests 2000] [--concurrency 32]
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _harness import Config, Section, Table, num, ratio
from _server import ChildServer

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


async def one_run(server: ChildServer, requests: int, concurrency: int) -> float:
    """Calls per second of one run."""
    async with AsyncBpcPay(
        api_key=server.info["api_key"], base_url=server.info["base_url"], pool_size=concurrency
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
            amount=1,
            currency="EUR",
            success_url="https://shop.example/s",
            failure_url="https://shop.example/f",
        )
        started = time.perf_counter()
        await asyncio.gather(*(worker() for _ in range(concurrency)))
        return requests / (time.perf_counter() - started)


async def measure(requests: int, concurrency: int, runs: int) -> tuple[list[float], list[float]]:
    """Calls/s of each run against the sandbox and against the bare server.

    Both servers run for the whole measurement and the runs alternate between them (the order
    flipping each time), so noise from other processes falls on both alike.
    """
    with ChildServer(["-c", SANDBOX_SERVER]) as sandbox, ChildServer(["-c", BARE_SERVER]) as bare:
        servers = {"sandbox": sandbox, "bare": bare}
        rates: dict[str, list[float]] = {"sandbox": [], "bare": []}
        for run in range(runs):
            order = ["sandbox", "bare"] if run % 2 == 0 else ["bare", "sandbox"]
            for name in order:
                rates[name].append(await one_run(servers[name], requests, concurrency))
    return rates["sandbox"], rates["bare"]


def run(cfg: Config) -> list[Section]:
    sandbox, bare = asyncio.run(measure(cfg.sandbox_requests, cfg.sandbox_concurrency, cfg.repeats))
    section = Section("g", "The sandbox gateway's own throughput")
    table = Table(
        "g. sessions.create through AsyncBpcPay: sandbox gateway vs a bare aiohttp.web handler",
        ["server", "calls/s (median)"],
    )
    table.add("bpcpay sandbox gateway", num(statistics.median(sandbox)))
    table.add("bare aiohttp.web (fixed answer)", num(statistics.median(bare)))
    table.add(
        "**sandbox / bare**",
        ratio(statistics.median(s / b for s, b in zip(sandbox, bare, strict=True))),
    )
    table.note = (
        f"{cfg.sandbox_requests} creates per run, {cfg.sandbox_concurrency} in flight, "
        f"{cfg.repeats} runs each; the ratio is what the sandbox's own work costs."
    )
    section.tables.append(table)
    return [section]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--requests", type=int, default=2000)
    parser.add_argument("--concurrency", type=int, default=32)
    args = parser.parse_args()
    sandbox_rates, bare_rates = asyncio.run(measure(args.requests, args.concurrency, RUNS))
    sandbox, bare = statistics.median(sandbox_rates), statistics.median(bare_rates)
    print(
        f"sandbox gateway:  {sandbox:8.0f} sessions.create/s (median of {RUNS} runs, "
        f"{args.requests} calls, {args.concurrency} in flight)"
    )
    print(f"bare aiohttp.web: {bare:8.0f} calls/s (same client, fixed answer)")
    print(f"ratio sandbox / bare: {sandbox / bare:.2f}")


if __name__ == "__main__":
    main()
