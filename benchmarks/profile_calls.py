"""Where a bpcpay call spends its CPU: cProfile of sequential calls, by self time.

    python benchmarks/profile_calls.py [--calls 2000] [--top 15] [--op retrieve|create]

Profiles AsyncBpcPay and BpcPay against the loopback server of ``_server.py``. For BpcPay the
work happens on the shared loop thread, which cProfile (one profiler per thread) would not see
from the caller; a second profiler is switched on inside that thread, and the two are merged.
Both time with ``time.thread_time`` (the CPU of their own thread), so waiting for the server or
for the loop thread is not counted as anyone's self time.
Prints self time per call grouped by package, then the top entries that are bpcpay's, cattrs'
(its generated structure functions included) or attrs'. cProfile inflates every function call,
so the shares matter, not the absolute microseconds.
"""

from __future__ import annotations

import argparse
import asyncio
import cProfile
import pstats
import sys
import threading
import time
from collections import defaultdict
from collections.abc import Callable
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _clients import API_KEY, CREATE_KWARGS, SESSION_ID
from _server import BenchServer

import bpcpay
from bpcpay import _bridge

OURS = ("bpcpay", "cattrs", "attrs")


def _group(filename: str) -> str:
    """The package a profiled function belongs to."""
    path = filename.replace("\\", "/")
    if "<cattrs" in path or "/cattrs/" in path:
        return "cattrs"
    if "<attrs" in path or "/attr/" in path or "/attrs/" in path:
        return "attrs"
    for package in ("bpcpay", "aiohttp", "multidict", "yarl", "anyio", "asyncio", "json"):
        if f"/{package}/" in path:
            return package
    if filename == "~":
        return "builtins (C)"
    return "other"


def report(stats: pstats.Stats, calls: int, top: int, title: str) -> None:
    entries: dict[Any, Any] = stats.stats  # type: ignore[attr-defined]
    total = sum(v[2] for v in entries.values())
    print(f"\n== {title}: {total / calls * 1e6:.0f} µs self time per call under cProfile")
    by_group: dict[str, float] = defaultdict(float)
    for (filename, _, _), (_, _, tottime, _, _) in entries.items():
        by_group[_group(filename)] += tottime
    for group, seconds in sorted(by_group.items(), key=lambda kv: -kv[1]):
        print(f"  {group:<14}{seconds / calls * 1e6:8.1f} µs/call {seconds / total:6.1%}")
    print("  top 6 self-time entries overall:")
    overall = sorted(entries.items(), key=lambda kv: -kv[1][2])[:6]
    for (filename, line, name), (_, _, tottime, _, _) in overall:
        where = filename.split("site-packages/")[-1].split("/work/main/")[-1]
        share = tottime / total
        print(f"  {tottime / calls * 1e6:7.2f} µs/call {share:6.1%}  {name} ({where}:{line})")
    print(f"  top {top} self-time entries in {', '.join(OURS)}:")
    ours = [
        (tottime, ncalls, filename, line, name)
        for (filename, line, name), (_, ncalls, tottime, _, _) in entries.items()
        if _group(filename) in OURS
    ]
    for tottime, ncalls, filename, line, name in sorted(ours, reverse=True)[:top]:
        where = filename.split("site-packages/")[-1].split("/work/main/")[-1]
        print(
            f"  {tottime / calls * 1e6:7.2f} µs/call {tottime / total:6.1%} "
            f"{ncalls / calls:5.1f}x  {name} ({where}:{line})"
        )


def profile_async(url: str, calls: int, op: str) -> pstats.Stats:
    async def main() -> pstats.Stats:
        async with bpcpay.AsyncBpcPay(api_key=API_KEY, base_url=url) as client:
            fn = _op(client, op)
            for _ in range(200):
                await fn()
            profiler = cProfile.Profile(time.thread_time)
            profiler.enable()
            for _ in range(calls):
                await fn()
            profiler.disable()
            return pstats.Stats(profiler)

    return asyncio.run(main())


def _on_loop_thread(fn: Callable[[], None]) -> None:
    loop = _bridge.loop_thread().loop
    assert loop is not None
    done = threading.Event()

    def call() -> None:
        fn()
        done.set()

    loop.call_soon_threadsafe(call)
    done.wait(10)


def profile_sync(url: str, calls: int, op: str) -> pstats.Stats:
    with bpcpay.BpcPay(api_key=API_KEY, base_url=url) as client:
        fn = _op(client, op)
        for _ in range(200):
            fn()
        caller, loop_side = cProfile.Profile(time.thread_time), cProfile.Profile(time.thread_time)
        _on_loop_thread(loop_side.enable)
        caller.enable()
        for _ in range(calls):
            fn()
        caller.disable()
        _on_loop_thread(loop_side.disable)
    stats = pstats.Stats(caller)
    stats.add(loop_side)
    return stats


def _op(client: Any, op: str) -> Callable[[], Any]:
    if op == "create":
        return lambda: client.sessions.create(**CREATE_KWARGS)
    return lambda: client.sessions.retrieve(SESSION_ID)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--calls", type=int, default=2000)
    parser.add_argument("--top", type=int, default=15)
    parser.add_argument("--op", choices=["retrieve", "create"], action="append")
    args = parser.parse_args()
    with BenchServer() as server:
        for op in args.op or ["retrieve", "create"]:
            stats = profile_async(server.bpc_url, args.calls, op)
            report(stats, args.calls, args.top, f"AsyncBpcPay sessions.{op}")
            stats = profile_sync(server.bpc_url, args.calls, op)
            report(stats, args.calls, args.top, f"BpcPay sessions.{op} (caller + loop thread)")


if __name__ == "__main__":
    main()
