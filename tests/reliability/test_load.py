"""Load: 10,000 ``sessions.create`` through AsyncBpcPay at concurrency 100, and 2,000 through
BpcPay from 16 threads, against the sandbox.

Asserts zero errors, every session distinct and present in the gateway, the open sockets back
within the pool size afterwards (the connector's own count and the kernel's TCP table agree),
and RSS flat after warm-up. The gateway runs in a separate interpreter so that its growing
state (every session, every request record) is not counted in this process's RSS and does not
share this process's GIL. Throughput and RSS growth are printed and recorded as properties;
nothing asserts a wall-clock time.
"""

from __future__ import annotations

import asyncio
import gc
import json
import os
import subprocess
import sys
import textwrap
import threading
import time
from collections.abc import Callable, Iterator
from typing import Any

import attrs
import pytest
from _rel_support import (
    FAILURE_URL,
    LOAD_REPORT,
    SUCCESS_URL,
    new_transport,
    open_connections,
)

from bpcpay import AsyncBpcPay, BpcPay

pytestmark = pytest.mark.slow

ASYNC_TOTAL, ASYNC_CONCURRENCY, ASYNC_WARMUP = 10_000, 100, 1_000
SYNC_TOTAL, SYNC_THREADS, SYNC_WARMUP = 2_000, 16, 400
#: Generous: a leak of a few hundred bytes per call would show as megabytes over 9,000 calls.
RSS_GROWTH_LIMIT = 30 * 1024 * 1024

_GATEWAY_SCRIPT = """
import json, sys
from bpcpay.sandbox import SandboxGateway

gw = SandboxGateway.run_in_thread()
print(json.dumps({"base_url": gw.base_url, "api_key": gw.api_key, "port": gw.gateway.port}),
      flush=True)

async def session_ids():
    return list(gw.gateway.state.sessions)

for line in sys.stdin:
    if line.strip() == "ids":
        print(json.dumps(gw.run(session_ids)), flush=True)
    else:
        break
gw.stop()
"""


@attrs.define
class RemoteGateway:
    process: subprocess.Popen[str]
    base_url: str
    api_key: str
    port: int

    def session_ids(self) -> set[str]:
        assert self.process.stdin is not None and self.process.stdout is not None
        self.process.stdin.write("ids\n")
        self.process.stdin.flush()
        return set(json.loads(self.process.stdout.readline()))


@pytest.fixture(scope="module")
def remote() -> Iterator[RemoteGateway]:
    process = subprocess.Popen(
        [sys.executable, "-c", textwrap.dedent(_GATEWAY_SCRIPT)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert process.stdout is not None
        info = json.loads(process.stdout.readline())
        assert info["base_url"].startswith("http://127.0.0.1:")
        yield RemoteGateway(process, info["base_url"], info["api_key"], info["port"])
    finally:
        assert process.stdin is not None
        process.stdin.write("stop\n")
        process.stdin.close()
        process.wait(timeout=30)
        assert process.stdout is not None
        process.stdout.close()


def rss_bytes() -> int:
    with open("/proc/self/statm") as statm:
        return int(statm.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")


def established_to(port: int) -> int:
    """Established loopback TCP connections whose remote end is ``port`` (this machine's table;
    only this process connects to the gateway's port)."""
    count = 0
    with open("/proc/net/tcp") as table:
        next(table)
        for line in table:
            fields = line.split()
            remote_port = int(fields[2].split(":")[1], 16)
            if remote_port == port and fields[3] == "01":
                count += 1
    return count


def report(record_property: Callable[[str, Any], None], label: str, **values: Any) -> None:
    for key, value in values.items():
        record_property(f"{label}_{key}", value)
    line = f"[{label}] " + ", ".join(f"{k}={v}" for k, v in values.items())
    print("\n" + line)
    # Shown in the run's terminal summary (see conftest.py), so CI output states the numbers.
    LOAD_REPORT.append(line)


def create_kwargs(i: int) -> dict[str, Any]:
    return {
        "amount": 100 + i,
        "currency": "EUR",
        "success_url": SUCCESS_URL,
        "failure_url": FAILURE_URL,
        "merchant_reference_id": f"load-{i}",
    }


def test_async_10k_sessions_at_concurrency_100(
    remote: RemoteGateway, record_property: Callable[[str, Any], None]
) -> None:
    ids: list[str] = []
    errors: list[BaseException] = []

    async def batch(client: AsyncBpcPay, start: int, stop: int) -> None:
        queue = iter(range(start, stop))

        async def worker() -> None:
            for i in queue:
                try:
                    session = await client.sessions.create(**create_kwargs(i))
                except Exception as exc:
                    errors.append(exc)
                else:
                    ids.append(session.id)

        await asyncio.gather(*(worker() for _ in range(ASYNC_CONCURRENCY)))

    async def main() -> dict[str, Any]:
        transport = new_transport()
        async with AsyncBpcPay(
            api_key=remote.api_key, base_url=remote.base_url, _transport=transport
        ) as client:
            await batch(client, 0, ASYNC_WARMUP)
            gc.collect()
            rss_before = rss_bytes()
            started = time.perf_counter()
            await batch(client, ASYNC_WARMUP, ASYNC_TOTAL)
            elapsed = time.perf_counter() - started
            gc.collect()
            rss_after = rss_bytes()
            acquired, idle = open_connections(transport)
            sockets = established_to(remote.port)
            pool = transport.pool_size
        return {
            "elapsed": elapsed,
            "growth": rss_after - rss_before,
            "acquired": acquired,
            "idle": idle,
            "sockets": sockets,
            "pool": pool,
            "sockets_after_close": established_to(remote.port),
        }

    result = asyncio.run(main())
    measured = ASYNC_TOTAL - ASYNC_WARMUP
    report(
        record_property,
        "async",
        calls=ASYNC_TOTAL,
        concurrency=ASYNC_CONCURRENCY,
        throughput_rps=round(measured / result["elapsed"]),
        rss_growth_kib=result["growth"] // 1024,
        idle_connections=result["idle"],
        established_sockets=result["sockets"],
    )
    assert errors == []
    assert len(ids) == ASYNC_TOTAL
    assert len(set(ids)) == ASYNC_TOTAL
    assert set(ids) <= remote.session_ids()
    assert result["acquired"] == 0
    assert 1 <= result["idle"] <= result["pool"]
    assert result["sockets"] <= result["pool"]
    assert result["sockets"] == result["idle"]
    assert result["sockets_after_close"] == 0
    assert result["growth"] < RSS_GROWTH_LIMIT


def test_sync_2k_sessions_from_16_threads(
    remote: RemoteGateway, record_property: Callable[[str, Any], None]
) -> None:
    ids: list[str] = []
    errors: list[BaseException] = []
    lock = threading.Lock()

    def run(client: BpcPay, start: int, stop: int) -> None:
        queue = iter(range(start, stop))

        def worker() -> None:
            while True:
                with lock:
                    i = next(queue, None)
                if i is None:
                    return
                try:
                    session = client.sessions.create(**create_kwargs(100_000 + i))
                except Exception as exc:
                    errors.append(exc)
                else:
                    ids.append(session.id)

        threads = [threading.Thread(target=worker) for _ in range(SYNC_THREADS)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=120)
            assert not thread.is_alive()

    transport = new_transport()
    with BpcPay(api_key=remote.api_key, base_url=remote.base_url, _transport=transport) as client:
        run(client, 0, SYNC_WARMUP)
        gc.collect()
        rss_before = rss_bytes()
        started = time.perf_counter()
        run(client, SYNC_WARMUP, SYNC_TOTAL)
        elapsed = time.perf_counter() - started
        gc.collect()
        growth = rss_bytes() - rss_before
        acquired, idle = open_connections(transport)
        sockets = established_to(remote.port)
        pool = transport.pool_size
    report(
        record_property,
        "sync",
        calls=SYNC_TOTAL,
        threads=SYNC_THREADS,
        throughput_rps=round((SYNC_TOTAL - SYNC_WARMUP) / elapsed),
        rss_growth_kib=growth // 1024,
        idle_connections=idle,
        established_sockets=sockets,
    )
    assert errors == []
    assert len(ids) == SYNC_TOTAL
    assert len(set(ids)) == SYNC_TOTAL
    assert set(ids) <= remote.session_ids()
    assert acquired == 0
    # 16 threads never need more than 16 connections, far below the pool's limit.
    assert 1 <= idle <= min(SYNC_THREADS, pool)
    assert sockets == idle
    assert growth < RSS_GROWTH_LIMIT
    assert client.closed
    assert established_to(remote.port) == 0
