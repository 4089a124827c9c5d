"""Instructions per call, counted by valgrind: a measure that load on a shared machine cannot move.

    python benchmarks/instructions.py [--calls 200,1200]

Each client makes N sequential calls to the benchmark server (``_server.py``, outside valgrind)
inside ``valgrind --tool=callgrind``, for two values of N; the difference of the two totals
divided by the difference of N is what one call costs in the client process, start-up, imports
and warm-up cancelling out. Wall-clock medians (``run.py``) say how fast; these counts say how
much work, and they repeat to within about 1% from run to run, so they show changes of a few
percent that timing on a busy 2-core machine cannot.

Clients: raw aiohttp (with bpcpay's timeouts), AsyncBpcPay with the standard library's JSON and
with orjson, for ``sessions.retrieve`` and ``sessions.create``; BpcPay's ``retrieve`` (its loop
thread included: valgrind runs the threads one at a time, so the count is the work of the hop,
not its latency), and the two floors of such a hop without a request (shown in the retrieve
column). Needs valgrind on PATH.
"""

from __future__ import annotations

import argparse
import asyncio
import re
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _server import BenchServer

HERE = Path(__file__).resolve().parent
CLIENTS = {
    "raw aiohttp": ("raw", "json"),
    "AsyncBpcPay": ("async", "json"),
    "AsyncBpcPay + orjson": ("async", "orjson"),
    "BpcPay": ("sync", "json"),
    # The floors of a hop to a loop thread and back (no request): see _clients.LoopThreadHops.
    "minimal coroutine hop (floor)": ("hop-coroutine", "json"),
    "bare thread hop (floor)": ("hop-bare", "json"),
}
_COLLECTED = re.compile(r"Collected\s*:\s*(\d+)")


def _probe(kind: str, decoder_name: str, op: str, calls: int, url: str) -> None:
    """In the process valgrind watches: warm up, then make ``calls`` calls."""
    from _clients import (
        AsyncBpcPayContender,
        BpcPayContender,
        LoopThreadHops,
        RawAiohttp,
        decoder,
    )

    with decoder(decoder_name):
        if kind.startswith("hop-"):
            hops = LoopThreadHops()
            hop = hops.coroutine if kind == "hop-coroutine" else hops.bare
            for _ in range(20 + calls):
                hop()
            hops.close()
            return
        if kind == "sync":
            sync = BpcPayContender(url)
            fn = sync.ops[op]
            for _ in range(20 + calls):
                fn()
            sync.close()
            return

        async def main() -> None:
            contender = RawAiohttp(url) if kind == "raw" else AsyncBpcPayContender(url)
            await contender.open()
            call = contender.ops[op]
            for _ in range(20 + calls):
                await call()
            await contender.close()

        asyncio.run(main())


def count(kind: str, decoder_name: str, op: str, calls: int, url: str) -> int:
    """Instructions of a whole probe process with ``calls`` calls."""
    with tempfile.TemporaryDirectory() as tmp:
        result = subprocess.run(
            [
                "valgrind",
                "--tool=callgrind",
                f"--callgrind-out-file={tmp}/out",
                sys.executable,
                str(Path(__file__).resolve()),
                "--probe",
                kind,
                decoder_name,
                op,
                str(calls),
                url,
            ],
            capture_output=True,
            text=True,
            timeout=1800,
            check=False,
        )
    found = _COLLECTED.findall(result.stderr)
    if result.returncode != 0 or not found:
        raise RuntimeError(f"valgrind failed ({result.returncode}): {result.stderr[-2000:]}")
    return int(found[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--calls", default="200,1200", help="the two call counts, e.g. 200,1200")
    args = parser.parse_args()
    low, high = (int(n) for n in args.calls.split(","))
    if shutil.which("valgrind") is None:
        raise SystemExit("valgrind is not installed")
    from _clients import json_decoders

    clients = {name: how for name, how in CLIENTS.items() if how[1] in json_decoders()}
    rows: dict[tuple[str, str], float] = {}
    with BenchServer() as server:
        for op in ("retrieve", "create"):
            for name, (kind, decoder_name) in clients.items():
                if kind != "raw" and kind != "async" and op == "create":
                    continue
                a = count(kind, decoder_name, op, low, server.bpc_url)
                b = count(kind, decoder_name, op, high, server.bpc_url)
                rows[(name, op)] = (b - a) / (high - low)
                print(f"{name:22} {op:9} {rows[(name, op)]:>12,.0f} instructions/call", flush=True)
    print()
    print("| client | sessions.retrieve | sessions.create |")
    print("|---|---:|---:|")
    for name in clients:
        cells = [
            f"{rows[(name, op)]:,.0f}" if (name, op) in rows else "—"
            for op in ("retrieve", "create")
        ]
        print(f"| {name} | {' | '.join(cells)} |")
    raw = {op: rows[("raw aiohttp", op)] for op in ("retrieve", "create")}
    for name in [n for n in clients if n.startswith("AsyncBpcPay")]:
        cells = [f"{rows[(name, op)] / raw[op]:.2f}x" for op in ("retrieve", "create")]
        print(f"| **{name} / raw aiohttp** | {' | '.join(cells)} |")
    hop = rows[("BpcPay", "retrieve")] - rows[("AsyncBpcPay", "retrieve")]
    print(f"| **BpcPay minus AsyncBpcPay (the hop)** | {hop:,.0f} | — |")
    floor = rows[("minimal coroutine hop (floor)", "retrieve")]
    print(f"| **the hop / minimal coroutine hop** | {hop / floor:.2f}x | — |")


if __name__ == "__main__":
    if len(sys.argv) > 1 and sys.argv[1] == "--probe":
        kind, decoder_name, op, calls, url = sys.argv[2:7]
        _probe(kind, decoder_name, op, int(calls), url)
    else:
        main()
