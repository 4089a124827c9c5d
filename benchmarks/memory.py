"""Section f: resident memory of idle clients and of parsed sessions.

    python benchmarks/memory.py [--quick]

Each probe runs in a fresh interpreter (``memory.py --probe KIND URL N``) that has already
imported bpcpay, both clients and aiohttp, so import costs are not counted, and reads its own RSS
from ``/proc/self/status``:

- ``async``: the first AsyncBpcPay after one request (its ClientSession, connector and one
  pooled connection, plus first-use allocations), then N more: the marginal cost per client;
- ``sync``: the first BpcPay after one request (this includes starting the shared loop thread),
  then N more, each with its own session on that one thread;
- ``parse`` / ``json``: N sessions parsed and kept (``structure_object(json.loads(body),
  Session)``, or ``json.loads`` alone), then dropped: what is retained, and what RSS stays
  behind once they are freed (memory the allocator keeps for reuse).
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import json
import statistics
import sys
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _harness import Config, Section, Table, rss_bytes, run_python
from _server import BenchServer

MB = 1024 * 1024


def _probe_async(url: str, n: int) -> dict[str, float]:
    from _clients import API_KEY, SESSION_ID

    from bpcpay import AsyncBpcPay

    async def main() -> dict[str, float]:
        gc.collect()
        before = rss_bytes()
        first = AsyncBpcPay(api_key=API_KEY, base_url=url)
        await first.sessions.retrieve(SESSION_ID)
        gc.collect()
        after_first = rss_bytes()
        clients = [AsyncBpcPay(api_key=API_KEY, base_url=url) for _ in range(n)]
        for client in clients:
            await client.sessions.retrieve(SESSION_ID)
        gc.collect()
        after_all = rss_bytes()
        for client in [first, *clients]:
            await client.aclose()
        return {"first": after_first - before, "each": (after_all - after_first) / n}

    return asyncio.run(main())


def _probe_sync(url: str, n: int) -> dict[str, float]:
    from _clients import API_KEY, SESSION_ID

    from bpcpay import BpcPay

    gc.collect()
    before = rss_bytes()
    first = BpcPay(api_key=API_KEY, base_url=url)
    first.sessions.retrieve(SESSION_ID)
    gc.collect()
    after_first = rss_bytes()
    clients = [BpcPay(api_key=API_KEY, base_url=url) for _ in range(n)]
    for client in clients:
        client.sessions.retrieve(SESSION_ID)
    gc.collect()
    after_all = rss_bytes()
    for client in [first, *clients]:
        client.close()
    return {"first": after_first - before, "each": (after_all - after_first) / n}


def _probe_parse(kind: str, n: int) -> dict[str, float]:
    from _server import BPC_RAW

    import bpcpay
    from bpcpay._core._converter import structure_object

    # Warm the converter so its generated structure functions are not counted as parse memory.
    structure_object(json.loads(BPC_RAW), bpcpay.Session)
    gc.collect()
    before = rss_bytes()
    kept: list[Any]
    if kind == "parse":
        kept = [structure_object(json.loads(BPC_RAW), bpcpay.Session) for _ in range(n)]
    else:
        kept = [json.loads(BPC_RAW) for _ in range(n)]
    gc.collect()
    retained = rss_bytes() - before
    del kept
    gc.collect()
    return {"retained": retained, "after_free": rss_bytes() - before}


def probe(kind: str, url: str, n: int) -> dict[str, float]:
    """Run one probe in a fresh interpreter."""
    out = run_python(str(Path(__file__).resolve()), "--probe", kind, url, str(n), timeout=300)
    result: dict[str, float] = json.loads(out)
    return result


def _median(runs: list[dict[str, float]], key: str) -> float:
    return statistics.median(r[key] for r in runs)


def run(cfg: Config, server: BenchServer) -> list[Section]:
    repeats = 1 if cfg.quick else 3
    n_clients, n_sessions = cfg.memory_clients, cfg.parse_sessions
    runs: dict[str, list[dict[str, float]]] = {k: [] for k in ("async", "sync", "parse", "json")}
    for _ in range(repeats):
        for kind in runs:
            n = n_sessions if kind in ("parse", "json") else n_clients
            runs[kind].append(probe(kind, server.bpc_url, n))
    section = Section("f", "Memory (RSS)")
    clients = Table(
        "f1. RSS per idle client (after its first request)",
        ["client", "first client, KiB", "each further client, KiB"],
    )
    clients.add(
        "AsyncBpcPay",
        f"{_median(runs['async'], 'first') / 1024:,.0f}",
        f"{_median(runs['async'], 'each') / 1024:,.1f}",
    )
    clients.add(
        "BpcPay (first one starts the shared loop thread)",
        f"{_median(runs['sync'], 'first') / 1024:,.0f}",
        f"{_median(runs['sync'], 'each') / 1024:,.1f}",
    )
    clients.note = (
        f"{n_clients} further clients per probe, each with one pooled connection; median of "
        f"{repeats} fresh interpreters; bpcpay, both clients and aiohttp imported beforehand."
    )
    parsed = Table(
        f"f2. RSS after parsing {n_sessions:,} sessions",
        ["what is kept", "retained MiB", "bytes/session", "still above baseline after del, MiB"],
    )
    for kind, label in (
        ("parse", "Session models (with their raw JSON)"),
        ("json", "json.loads dicts"),
    ):
        retained = _median(runs[kind], "retained")
        parsed.add(
            label,
            f"{retained / MB:,.1f}",
            f"{retained / n_sessions:,.0f}",
            f"{_median(runs[kind], 'after_free') / MB:,.1f}",
        )
    parsed.note = (
        "Every model keeps its decoded JSON reachable (`raw`), so it retains at least what "
        "json.loads retains."
    )
    section.tables += [clients, parsed]
    return [section]


if __name__ == "__main__":
    if len(sys.argv) > 1 and sys.argv[1] == "--probe":
        parser = argparse.ArgumentParser()
        parser.add_argument("--probe", choices=["async", "sync", "parse", "json"])
        parser.add_argument("url")
        parser.add_argument("n", type=int)
        args = parser.parse_args()
        # Everything a probe may need is imported before its first RSS reading.
        import aiohttp  # noqa: F401

        import bpcpay

        bpcpay.AsyncBpcPay, bpcpay.BpcPay  # noqa: B018 - loads both client modules
        if args.probe == "async":
            print(json.dumps(_probe_async(args.url, args.n)))
        elif args.probe == "sync":
            print(json.dumps(_probe_sync(args.url, args.n)))
        else:
            print(json.dumps(_probe_parse(args.probe, args.n)))
    else:
        from run import standalone

        standalone(run, server=True)
