"""Memory per call, by ``tracemalloc``: what one call allocates at its peak, and what its result
keeps, for raw aiohttp and AsyncBpcPay (beside the instruction counts in RESULTS.md).

    python benchmarks/allocations.py [--quick]

Each client makes sequential calls to the benchmark server, after a warm-up, with tracemalloc
on: before each call the peak is reset, so "peak" is the most memory the call held at once above
what was allocated before it (the request, the answer's bytes, the decoded JSON, the model, and
aiohttp's own buffers); every result is kept, so "kept" is what a result holds once the call is
over (raw aiohttp: the decoded JSON; AsyncBpcPay: the model, which keeps that JSON as ``raw``).
Medians over the calls; tracemalloc counts Python's allocations, not the C libraries' own.
"""

from __future__ import annotations

import asyncio
import gc
import statistics
import sys
import tracemalloc
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _clients import AsyncBpcPayContender, AsyncContender, RawAiohttp, json_decoders
from _harness import Config, Section, Table, num
from _server import BenchServer

OPS = ("retrieve", "create")


async def _measure(contender: AsyncContender, op: str, calls: int) -> tuple[float, float, float]:
    """(peak bytes per call, bytes kept per result, blocks kept per result), medians."""
    await contender.open()
    try:
        call = contender.ops[op]
        for _ in range(20):
            await call()
        gc.collect()
        kept: list[object] = []
        peaks: list[int] = []
        tracemalloc.start()
        try:
            start = tracemalloc.get_traced_memory()[0]
            blocks = sys.getallocatedblocks()
            for _ in range(calls):
                before = tracemalloc.get_traced_memory()[0]
                tracemalloc.reset_peak()
                kept.append(await call())
                peaks.append(tracemalloc.get_traced_memory()[1] - before)
            gc.collect()
            # The list holding the results grows by one pointer per call: not the result's.
            held = tracemalloc.get_traced_memory()[0] - start - sys.getsizeof(kept)
            held_blocks = sys.getallocatedblocks() - blocks - 1
        finally:
            tracemalloc.stop()
        return statistics.median(peaks), held / calls, held_blocks / calls
    finally:
        await contender.close()


def run(cfg: Config, server: BenchServer) -> list[Section]:
    calls = 5 if cfg.quick else 300
    contenders: list[AsyncContender] = [RawAiohttp(server.bpc_url)]
    contenders += [AsyncBpcPayContender(server.bpc_url, d) for d in json_decoders()]
    from _clients import decoder

    table = Table(
        "i2. memory per call (tracemalloc)",
        ["client", *(f"{what}, {op}" for op in OPS for what in ("peak KiB", "kept bytes"))],
    )
    for contender in contenders:
        cells = []
        for op in OPS:
            with decoder(getattr(contender, "decoder", "json")):
                peak, kept, _ = asyncio.run(_measure(contender, op, calls))
            cells += [num(peak / 1024, 1), num(kept)]
        table.add(contender.name, *cells)
    table.note = (
        f"Median of {calls} sequential calls per client after a warm-up. Peak: the most memory "
        "a call held at once above what was allocated before it; kept: what its result holds "
        "afterwards (raw aiohttp keeps the decoded JSON, AsyncBpcPay the model with that JSON "
        "as `raw`)."
    )
    return [Section("i", "Instructions and memory per call", tables=[table])]


if __name__ == "__main__":
    from run import standalone

    standalone(run, server=True)
