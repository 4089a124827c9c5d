"""Sections a, b and c: bpcpay's clients against raw HTTP clients and against stripe-python.

    python benchmarks/http_clients.py [--quick]

a. AsyncBpcPay against raw aiohttp (same headers, body, timeouts and pool): sequential latency,
   client CPU per call and bpcpay's overhead over raw in µs of CPU per call, throughput with 1,
   8, 64 and 256 calls in flight (256 is above ``pool_size``), for ``sessions.create`` and
   ``sessions.retrieve``; with the standard library's JSON decoder and, when installed, orjson.
b. BpcPay against AsyncBpcPay (the cost of the hop to the loop thread), next to the floors of
   such a hop (a bare ``call_soon_threadsafe`` + lock round trip, and the least a coroutine
   hop costs), ``requests.Session`` and ``httpx.Client``, from 1 and 8 threads.
c. stripe-python's ``StripeClient`` (aiohttp async client, default sync client) against bpcpay,
   on a Stripe-shaped answer of the same size: client CPU per call.

One loopback server (``_server.py``, another process) answers all of them. Async clients run on
one event loop of the main thread, driven with ``run_until_complete`` between the sync
measurements, so every client lives through the whole run with its connections warm.
"""

from __future__ import annotations

import asyncio
import sys
from collections.abc import Callable
from functools import partial
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _clients import (
    AsyncBpcPayContender,
    AsyncContender,
    BpcPayContender,
    HttpxContender,
    LoopThreadHops,
    RawAiohttp,
    RequestsContender,
    StripeAsync,
    StripeSync,
    SyncContender,
    decoder,
    json_decoders,
)
from _harness import (
    CONCURRENCY_LEVELS,
    THREADS,
    Config,
    Run,
    Sample,
    Section,
    Spread,
    Table,
    Target,
    cpu_us_per_call,
    difference_spread,
    interleaved,
    max_server_cores,
    per_second,
    ratio_spread,
    spread,
    timed,
    timed_async,
    timed_threads,
    us_per_call,
)
from _server import BPC_RAW, STRIPE_RAW, BenchServer

OPS = ("create", "retrieve")
Samples = dict[str, list[Sample]]
#: The concurrency of the throughput targets.
TARGET_LEVEL = 64


class Bench:
    """The contenders of sections a to c, opened once and warmed up."""

    def __init__(self, cfg: Config, server: BenchServer) -> None:
        self.cfg = cfg
        self.server = server
        self.loop = asyncio.new_event_loop()
        self.raw = RawAiohttp(server.bpc_url)
        self.async_bpcs = [AsyncBpcPayContender(server.bpc_url, d) for d in json_decoders()]
        self.async_bpc = self.async_bpcs[0]  # the standard library's decoder
        self.stripe_async = StripeAsync(server.stripe_url)
        self.async_all: list[AsyncContender] = [self.raw, *self.async_bpcs, self.stripe_async]
        self.sync_all: list[SyncContender] = []
        for contender in self.async_all:
            self.loop.run_until_complete(contender.open())
        self.sync_bpc = self._add(BpcPayContender(server.bpc_url))
        self.requests = self._add(RequestsContender(server.bpc_url))
        self.httpx = self._add(HttpxContender(server.bpc_url))
        self.stripe_sync = self._add(StripeSync(server.stripe_url))
        self.hops = LoopThreadHops()

    def _add(self, contender: SyncContender) -> SyncContender:
        self.sync_all.append(contender)
        return contender

    def warm_up(self) -> None:
        """Open the pools as wide as the runs will need and run every code path once."""
        seconds = self.cfg.warmup
        for contender in self.async_all:
            for op in OPS:
                for level in CONCURRENCY_LEVELS:
                    self.arun(contender, op, level)(seconds)
        for sync in self.sync_all:
            for op in OPS:
                timed(sync.ops[op], seconds)
                timed_threads([ops[op] for ops in sync.thread_ops(THREADS)], seconds)
        timed(self.hops.bare, seconds)
        timed(self.hops.coroutine, seconds)

    def arun(self, contender: AsyncContender, op: str, concurrency: int = 1) -> Run:
        """A turn of the async contender on this bench's loop (with its JSON decoder)."""
        fn = contender.ops[op]
        json_decoder = getattr(contender, "decoder", "json")

        def run(seconds: float) -> Sample:
            with decoder(json_decoder):
                return self.loop.run_until_complete(timed_async(fn, seconds, concurrency))

        return run

    def srun(self, fn: Callable[[], object]) -> Run:
        """A turn of a sync call in this thread, bpcpay on the standard library's decoder."""

        def run(seconds: float) -> Sample:
            with decoder("json"):
                return timed(fn, seconds)

        return run

    def compare(self, runs: dict[str, Run]) -> Samples:
        return interleaved(runs, self.cfg.repeats, self.cfg.turn, self.server.cpu_seconds)

    def close(self) -> None:
        try:
            self.hops.close()
            for sync in self.sync_all:
                sync.close()
            for contender in self.async_all:
                self.loop.run_until_complete(contender.close())
        finally:
            self.loop.close()


def _runs_note(cfg: Config, server_cores: float | None) -> str:
    cpu = (
        f" The server used at most {server_cores:.2f} of a core in any turn."
        if server_cores is not None
        else ""
    )
    return (
        f"Medians of {cfg.repeats} interleaved repetitions (one {cfg.turn:g} s turn per client "
        f"each), range in parentheses.{cpu}"
    )


def section_a(bench: Bench) -> Section:
    cfg = bench.cfg
    section = Section("a", "AsyncBpcPay against raw aiohttp (the baseline)")
    raw = bench.raw
    contenders: list[AsyncContender] = [raw, *bench.async_bpcs]
    latency_plot: dict[str, dict[str, Spread]] = {}
    rate_plot: dict[str, dict[str, Spread]] = {}
    for op in OPS:
        runs = {
            level: bench.compare({c.name: bench.arun(c, op, level) for c in contenders})
            for level in CONCURRENCY_LEVELS
        }
        seq = runs[1]
        table = Table(
            f"a. sessions.{op}: AsyncBpcPay vs raw aiohttp",
            ["client", "µs/call (sequential)", "CPU µs/call (sequential)"]
            + [f"req/s @{level}" for level in CONCURRENCY_LEVELS[1:]]
            + [f"CPU µs/call @{TARGET_LEVEL}"],
        )
        for c in contenders:
            table.add(
                c.name,
                spread(seq[c.name], us_per_call).fmt(),
                spread(seq[c.name], cpu_us_per_call).fmt(),
                *(spread(runs[lv][c.name], per_second).fmt() for lv in CONCURRENCY_LEVELS[1:]),
                spread(runs[TARGET_LEVEL][c.name], cpu_us_per_call).fmt(),
            )
            latency_plot.setdefault(c.name, {})[op] = spread(seq[c.name], us_per_call)
            for level in CONCURRENCY_LEVELS:
                rate_plot.setdefault(f"{c.name}, {op}", {})[str(level)] = spread(
                    runs[level][c.name], per_second
                )
        for c in bench.async_bpcs:
            latency = ratio_spread(seq[c.name], seq[raw.name], us_per_call)
            rates = {
                lv: ratio_spread(runs[lv][c.name], runs[lv][raw.name], per_second)
                for lv in CONCURRENCY_LEVELS
            }
            table.add(
                f"**{c.name} / {raw.name}**",
                latency.fmt(2, "x"),
                ratio_spread(seq[c.name], seq[raw.name], cpu_us_per_call).fmt(2, "x"),
                *(rates[lv].fmt(2, "x") for lv in CONCURRENCY_LEVELS[1:]),
                ratio_spread(
                    runs[TARGET_LEVEL][c.name], runs[TARGET_LEVEL][raw.name], cpu_us_per_call
                ).fmt(2, "x"),
            )
            overhead = difference_spread(
                runs[TARGET_LEVEL][c.name], runs[TARGET_LEVEL][raw.name], cpu_us_per_call
            )
            table.add(
                f"**{c.name} minus {raw.name}, CPU µs/call**",
                "",
                difference_spread(seq[c.name], seq[raw.name], cpu_us_per_call).fmt(1),
                *("" for _ in CONCURRENCY_LEVELS[1:]),
                overhead.fmt(1),
            )
            speedups = c.decoder != "json"
            floor = 0.90 if speedups else 0.86
            kind = "with speedups (orjson)" if speedups else "stdlib json"
            at = rates[TARGET_LEVEL]
            section.targets += [
                Target.at_most(
                    f"async {op}, {kind}: sequential latency ≤ 1.05x raw aiohttp",
                    latency,
                    1.05,
                    latency.fmt(2, "x"),
                ),
                Target.at_least(
                    f"async {op}, {kind}: throughput @{TARGET_LEVEL} ≥ {floor:.2f}x raw aiohttp",
                    at,
                    floor,
                    at.fmt(2, "x"),
                ),
            ]
            if not speedups:
                section.targets.append(
                    Target.at_most(
                        f"async {op}, stdlib json: overhead ≤ 12 µs CPU/call @{TARGET_LEVEL}",
                        overhead,
                        12,
                        overhead.fmt(1, " µs"),
                    )
                )
        table.note = (
            _runs_note(cfg, max_server_cores(*runs.values()))
            + f" @N = N tasks in flight on one event loop; the pool holds 100 connections, so "
            f"@{CONCURRENCY_LEVELS[-1]} also waits for one. Overhead rows are paired "
            "per repetition."
        )
        section.tables.append(table)
    section.plot = {"latency": latency_plot, "throughput": rate_plot}
    return section


def section_b(bench: Bench) -> Section:
    cfg = bench.cfg
    section = Section("b", "BpcPay (sync) against AsyncBpcPay, the hop floors, requests and httpx")
    sync_clients = (bench.sync_bpc, bench.requests, bench.httpx)
    bpc, abpc = bench.sync_bpc.name, bench.async_bpc.name
    bare, coro = "bare thread hop (floor)", "minimal coroutine hop (floor)"
    latency_plot: dict[str, dict[str, Spread]] = {}
    for op in OPS:
        seq_runs: dict[str, Run] = {abpc: bench.arun(bench.async_bpc, op)}
        for s in sync_clients:
            seq_runs[s.name] = bench.srun(s.ops[op])
        if op == "retrieve":
            seq_runs[bare] = bench.srun(bench.hops.bare)
            seq_runs[coro] = bench.srun(bench.hops.coroutine)
        seq = bench.compare(seq_runs)
        threaded = bench.compare(
            {
                s.name: partial(timed_threads, [ops[op] for ops in s.thread_ops(THREADS)])
                for s in sync_clients
            }
        )
        table = Table(
            f"b. sessions.{op}: BpcPay vs AsyncBpcPay, requests.Session, httpx.Client",
            [
                "client",
                "µs/call (1 thread)",
                "CPU µs/call (1 thread)",
                f"req/s ({THREADS} threads)",
                f"CPU µs/call ({THREADS} threads)",
            ],
        )
        for name in seq:
            many = threaded.get(name)
            table.add(
                name,
                spread(seq[name], us_per_call).fmt(1 if name in (bare, coro) else 0),
                spread(seq[name], cpu_us_per_call).fmt(1 if name in (bare, coro) else 0),
                spread(many, per_second).fmt() if many else "—",
                spread(many, cpu_us_per_call).fmt() if many else "—",
            )
            if name not in (bare, coro):
                latency_plot.setdefault(name, {})[op] = spread(seq[name], us_per_call)
        latency = ratio_spread(seq[bpc], seq[abpc], us_per_call)
        cpu = ratio_spread(seq[bpc], seq[abpc], cpu_us_per_call)
        table.add(f"**{bpc} / {abpc}**", latency.fmt(2, "x"), cpu.fmt(2, "x"), "—", "—")
        hop = difference_spread(seq[bpc], seq[abpc], us_per_call)
        table.add(f"**{bpc} minus {abpc}: the hop**", hop.fmt(1), "", "—", "—")
        for other in (bench.httpx.name, bench.requests.name):
            table.add(
                f"**{bpc} / {other}**",
                ratio_spread(seq[bpc], seq[other], us_per_call).fmt(2, "x"),
                ratio_spread(seq[bpc], seq[other], cpu_us_per_call).fmt(2, "x"),
                ratio_spread(threaded[bpc], threaded[other], per_second).fmt(2, "x"),
                ratio_spread(threaded[bpc], threaded[other], cpu_us_per_call).fmt(2, "x"),
            )
        section.targets.append(
            Target.at_most(
                f"sync {op}, stdlib json: latency ≤ 1.40x AsyncBpcPay",
                latency,
                1.40,
                latency.fmt(2, "x"),
            )
        )
        if op == "retrieve":
            # The hop of each repetition against that repetition's coroutine floor.
            hops = [
                (b.us_per_call - a.us_per_call) / c.us_per_call
                for a, b, c in zip(seq[abpc], seq[bpc], seq[coro], strict=True)
            ]
            vs_floor = Spread.of(hops)
            table.add(f"**the hop / {coro}**", vs_floor.fmt(2, "x"), "", "—", "—")
            section.targets.append(
                Target.at_most(
                    "BpcPay's hop ≤ 1.10x the minimal coroutine hop",
                    vs_floor,
                    1.10,
                    vs_floor.fmt(2, "x"),
                )
            )
        table.note = (
            _runs_note(cfg, max_server_cores(seq, threaded))
            + f" One BpcPay and one httpx.Client shared by the {THREADS} threads; one "
            "requests.Session per thread. The hop is BpcPay's latency minus AsyncBpcPay's, "
            "paired per repetition; the floors run on a plain asyncio loop thread of their own."
        )
        section.tables.append(table)
    section.plot = {"latency": latency_plot}
    return section


def section_c(bench: Bench) -> Section:
    cfg = bench.cfg
    section = Section("c", "stripe-python (StripeClient) as the peer SDK")
    pairs = ((bench.async_bpc, bench.stripe_async), (bench.sync_bpc, bench.stripe_sync))
    stripe_sync = bench.stripe_sync
    assert isinstance(stripe_sync, StripeSync)
    for op in OPS:
        seq = bench.compare(
            {
                bench.async_bpc.name: bench.arun(bench.async_bpc, op),
                bench.stripe_async.name: bench.arun(bench.stripe_async, op),
                bench.sync_bpc.name: bench.srun(bench.sync_bpc.ops[op]),
                stripe_sync.name: bench.srun(stripe_sync.ops[op]),
            }
        )
        table = Table(
            f"c. sessions.{op}: bpcpay vs stripe-python, sequential",
            ["client", "µs/call", "CPU µs/call", "req/s"],
        )
        for ours, theirs in pairs:
            for c in (ours, theirs):
                table.add(
                    c.name,
                    spread(seq[c.name], us_per_call).fmt(),
                    spread(seq[c.name], cpu_us_per_call).fmt(),
                    spread(seq[c.name], per_second).fmt(),
                )
            table.add(
                f"**{ours.name} / {theirs.name}**",
                ratio_spread(seq[ours.name], seq[theirs.name], us_per_call).fmt(2, "x"),
                ratio_spread(seq[ours.name], seq[theirs.name], cpu_us_per_call).fmt(2, "x"),
                ratio_spread(seq[ours.name], seq[theirs.name], per_second).fmt(2, "x"),
            )
        table.note = (
            _runs_note(cfg, max_server_cores(seq))
            + f" Answers: {len(BPC_RAW)} bytes (BPC session) and {len(STRIPE_RAW)} bytes "
            f"(Stripe Checkout Session). stripe sync uses {stripe_sync.http_client_name}; "
            "max_network_retries=0; create sends the same order as a one-line Checkout Session "
            "(form-encoded, as the Stripe API requires)."
        )
        section.tables.append(table)
    return section


def run(cfg: Config, server: BenchServer) -> list[Section]:
    bench = Bench(cfg, server)
    try:
        bench.warm_up()
        return [section_a(bench), section_b(bench), section_c(bench)]
    finally:
        bench.close()


if __name__ == "__main__":
    from run import standalone

    standalone(run, server=True)
