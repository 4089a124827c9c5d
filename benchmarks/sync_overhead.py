"""What one sync call costs over the async call, and both over raw aiohttp.

    python benchmarks/sync_overhead.py [--calls N] [--repeats R]

Sequential ``sessions.retrieve`` against a loopback server in another process. Prints the
median microseconds per call of R runs for raw aiohttp (awaited, ``json.loads`` of the body),
AsyncBpcPay and BpcPay, measured in the same run, and their ratios. A quick look at the sync
facade's cost; ``run.py`` (section b) measures it in full, interleaved, with CPU and threads.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import aiohttp
from _server import start

import bpcpay

KEY = "bench_key_not_real"


async def raw_aiohttp(base_url: str, calls: int) -> float:
    headers = {"X-Api-Key": KEY, "X-Version": bpcpay.DEFAULT_API_VERSION}
    async with aiohttp.ClientSession() as session:
        started = time.perf_counter()
        for _ in range(calls):
            async with session.get(f"{base_url}/sessions/ps_1", headers=headers) as response:
                json.loads(await response.read())
        return (time.perf_counter() - started) / calls


async def async_client(base_url: str, calls: int) -> float:
    async with bpcpay.AsyncBpcPay(api_key=KEY, base_url=base_url) as client:
        started = time.perf_counter()
        for _ in range(calls):
            await client.sessions.retrieve("ps_1")
        return (time.perf_counter() - started) / calls


def sync_client(base_url: str, calls: int) -> float:
    with bpcpay.BpcPay(api_key=KEY, base_url=base_url) as client:
        started = time.perf_counter()
        for _ in range(calls):
            client.sessions.retrieve("ps_1")
        return (time.perf_counter() - started) / calls


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--calls", type=int, default=2000)
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()
    server = start()
    base_url = server.bpc_url
    try:
        # Warm-up: connections, code paths, the loop thread.
        asyncio.run(raw_aiohttp(base_url, 200))
        asyncio.run(async_client(base_url, 200))
        sync_client(base_url, 200)
        runs: dict[str, list[float]] = {"raw aiohttp": [], "AsyncBpcPay": [], "BpcPay": []}
        for _ in range(args.repeats):
            runs["raw aiohttp"].append(asyncio.run(raw_aiohttp(base_url, args.calls)))
            runs["AsyncBpcPay"].append(asyncio.run(async_client(base_url, args.calls)))
            runs["BpcPay"].append(sync_client(base_url, args.calls))
    finally:
        server.close()
    medians = {name: statistics.median(values) * 1e6 for name, values in runs.items()}
    print(f"sequential sessions.retrieve, {args.calls} calls x {args.repeats} runs (median)")
    print(f"{'client':<14}{'us/call':>10}{'vs raw':>9}{'vs async':>10}")
    for name, value in medians.items():
        print(
            f"{name:<14}{value:>10.0f}{value / medians['raw aiohttp']:>8.2f}x"
            f"{value / medians['AsyncBpcPay']:>9.2f}x"
        )
    print(f"sync overhead over async: {medians['BpcPay'] - medians['AsyncBpcPay']:.0f} us/call")


if __name__ == "__main__":
    main()
