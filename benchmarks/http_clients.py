"""Sections a, b and c: bpcpay's clients against raw HTTP clients and against stripe-python.

    python benchmarks/http_clients.py [--quick]

a. AsyncBpcPay against raw aiohttp: sequential latency and client CPU per call, throughput with
   1, 8 and 64 calls in flight, for ``sessions.create`` and ``sessions.retrieve``.
b. BpcPay from 1 and 8 threads against AsyncBpcPay, ``requests.Session`` and ``httpx.Client``.
c. stripe-python's ``StripeClient`` (aiohttp async client, default sync client) against bpcpay,
   on a Stripe-shaped answer of the same size: client CPU per call.

One loopback server (``_server.py``, another process) answers all of them. Async clients run on
one event loop of the main thread, driven with ``run_until_complete`` between the sync
measurements, so every client lives through the whole run with its connections warm.
"""

from __future__ import annotations

import asyncio
import sys
from functools import partial
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _clients import (
    AsyncBpcPayContender,
    AsyncContender,
    BpcPayContender,
    HttpxContender,
    RawAiohttp,
    RequestsContender,
    StripeAsync,
    StripeSync,
    SyncContender,
)
from _harness import (
    CONCURRENCY_LEVELS,
    THREADS,
    Config,
    Run,
    Sample,
    Section,
    Table,
    Target,
    cpu_us_per_call,
    interleaved,
    median_of,
    median_ratio,
    num,
    per_second,
    ratio,
    timed,
    timed_async,
    timed_threads,
    us_per_call,
)
from _server import BPC_RAW, STRIPE_RAW, BenchServer

OPS = ("create", "retrieve")
Samples = dict[str, list[Sample]]


class Bench:
    """The contenders of sections a to c, opened once and warmed up."""

    def __init__(self, cfg: Config, server: BenchServer) -> None:
        self.cfg = cfg
        self.loop = asyncio.new_event_loop()
        self.raw = RawAiohttp(server.bpc_url)
        self.async_bpc = AsyncBpcPayContender(server.bpc_url)
        self.stripe_async = StripeAsync(server.stripe_url)
        self.async_all: list[AsyncContender] = [self.raw, self.async_bpc, self.stripe_async]
        self.sync_all: list[SyncContender] = []
        for contender in self.async_all:
            self.loop.run_until_complete(contender.open())
        self.sync_bpc = self._add(BpcPayContender(server.bpc_url))
        self.requests = self._add(RequestsContender(server.bpc_url))
        self.httpx = self._add(HttpxContender(server.bpc_url))
        self.stripe_sync = self._add(StripeSync(server.stripe_url))

    def _add(self, contender: SyncContender) -> SyncContender:
        self.sync_all.append(contender)
        return contender

    def warm_up(self) -> None:
        """Open the pools as wide as the runs will need and run every code path once."""
        n = self.cfg.warmup
        for contender in self.async_all:
            for fn in contender.ops.values():
                self.loop.run_until_complete(timed_async(fn, n, 1))
                self.loop.run_until_complete(timed_async(fn, 2 * max(CONCURRENCY_LEVELS), 64))
        for sync in self.sync_all:
            for op in OPS:
                timed(sync.ops[op], n)
                timed_threads([ops[op] for ops in sync.thread_ops(THREADS)], 2 * THREADS)

    def arun(self, contender: AsyncContender, op: str, concurrency: int = 1) -> Run:
        """A run of the async contender on this bench's loop."""
        fn = contender.ops[op]
        return lambda calls: self.loop.run_until_complete(timed_async(fn, calls, concurrency))

    def close(self) -> None:
        try:
            for sync in self.sync_all:
                sync.close()
            for contender in self.async_all:
                self.loop.run_until_complete(contender.close())
        finally:
            self.loop.close()


def _seq_row(name: str, runs: list[Sample]) -> list[str]:
    return [
        name,
        num(median_of(runs, us_per_call)),
        num(median_of(runs, cpu_us_per_call)),
        num(median_of(runs, per_second)),
    ]


def section_a(bench: Bench) -> Section:
    cfg = bench.cfg
    section = Section("a", "AsyncBpcPay against raw aiohttp (the baseline)")
    raw, bpc = bench.raw, bench.async_bpc
    for op in OPS:
        seq = interleaved(
            {c.name: bench.arun(c, op) for c in (raw, bpc)},
            cfg.repeats,
            cfg.seq_calls,
            cfg.seq_rounds,
        )
        conc = {
            level: interleaved(
                {c.name: bench.arun(c, op, level) for c in (raw, bpc)},
                cfg.repeats,
                cfg.conc_calls,
                cfg.conc_rounds,
            )
            for level in CONCURRENCY_LEVELS
        }
        table = Table(
            f"a. sessions.{op}: AsyncBpcPay vs raw aiohttp",
            ["client", "µs/call (sequential)", "CPU µs/call", "req/s @1"]
            + [f"req/s @{level}" for level in CONCURRENCY_LEVELS]
            + ["CPU µs/call @64"],
        )
        for c in (raw, bpc):
            table.add(
                *_seq_row(c.name, seq[c.name]),
                *(num(median_of(conc[level][c.name], per_second)) for level in CONCURRENCY_LEVELS),
                num(median_of(conc[64][c.name], cpu_us_per_call)),
            )
        latency = median_ratio(seq[bpc.name], seq[raw.name], us_per_call)
        rates = {
            level: median_ratio(conc[level][bpc.name], conc[level][raw.name], per_second)
            for level in CONCURRENCY_LEVELS
        }
        table.add(
            f"**{bpc.name} / {raw.name}**",
            ratio(latency),
            ratio(median_ratio(seq[bpc.name], seq[raw.name], cpu_us_per_call)),
            ratio(median_ratio(seq[bpc.name], seq[raw.name], per_second)),
            *(ratio(rates[level]) for level in CONCURRENCY_LEVELS),
            ratio(median_ratio(conc[64][bpc.name], conc[64][raw.name], cpu_us_per_call)),
        )
        table.note = (
            f"Per repetition and client: {cfg.seq_calls} sequential calls in {cfg.seq_rounds} "
            f"turns, {cfg.conc_calls} calls per concurrency level in {cfg.conc_rounds} turns. "
            "@N = N tasks in flight on one event loop; @1 is the sequential run."
        )
        section.tables.append(table)
        section.targets += [
            Target(f"async {op}: latency ≤ 1.10x raw aiohttp (sequential)", ratio(latency),
                   latency <= 1.10),
            Target(f"async {op}: throughput ≥ 0.90x raw aiohttp @64", ratio(rates[64]),
                   rates[64] >= 0.90),
        ]  # fmt: skip
    return section


def section_b(bench: Bench) -> Section:
    cfg = bench.cfg
    section = Section("b", "BpcPay (sync) against AsyncBpcPay, requests and httpx")
    sync_clients = (bench.sync_bpc, bench.requests, bench.httpx)
    for op in OPS:
        seq_runs: dict[str, Run] = {bench.async_bpc.name: bench.arun(bench.async_bpc, op)}
        for s in sync_clients:
            seq_runs[s.name] = partial(timed, s.ops[op])
        seq = interleaved(seq_runs, cfg.repeats, cfg.seq_calls, cfg.seq_rounds)
        threaded = interleaved(
            {
                s.name: partial(timed_threads, [ops[op] for ops in s.thread_ops(THREADS)])
                for s in sync_clients
            },
            cfg.repeats,
            cfg.conc_calls,
            cfg.conc_rounds,
        )
        table = Table(
            f"b. sessions.{op}: BpcPay vs AsyncBpcPay, requests.Session, httpx.Client",
            ["client", "µs/call (1 thread)", "CPU µs/call", "req/s (1 thread)",
             f"req/s ({THREADS} threads)", f"CPU µs/call ({THREADS} threads)"],
        )  # fmt: skip
        for name in seq:
            many = threaded.get(name)
            table.add(
                *_seq_row(name, seq[name]),
                num(median_of(many, per_second)) if many else "—",
                num(median_of(many, cpu_us_per_call)) if many else "—",
            )
        bpc = bench.sync_bpc.name
        for other in (bench.async_bpc.name, bench.httpx.name, bench.requests.name):
            many = threaded.get(other)
            table.add(
                f"**{bpc} / {other}**",
                ratio(median_ratio(seq[bpc], seq[other], us_per_call)),
                ratio(median_ratio(seq[bpc], seq[other], cpu_us_per_call)),
                ratio(median_ratio(seq[bpc], seq[other], per_second)),
                ratio(median_ratio(threaded[bpc], many, per_second)) if many else "—",
                ratio(median_ratio(threaded[bpc], many, cpu_us_per_call)) if many else "—",
            )
        table.note = (
            f"One BpcPay and one httpx.Client shared by the {THREADS} threads; one "
            f"requests.Session per thread. Per repetition and client: {cfg.seq_calls} "
            f"sequential calls in {cfg.seq_rounds} turns, {cfg.conc_calls} threaded calls in "
            f"{cfg.conc_rounds} turns."
        )
        section.tables.append(table)
        latency = median_ratio(seq[bpc], seq[bench.async_bpc.name], us_per_call)
        vs_httpx = median_ratio(threaded[bpc], threaded[bench.httpx.name], per_second)
        section.targets += [
            Target(f"sync {op}: latency ≤ 1.35x AsyncBpcPay (sequential)", ratio(latency),
                   latency <= 1.35),
            Target(f"sync {op}: throughput ≥ 1.5x httpx.Client ({THREADS} threads)",
                   ratio(vs_httpx), vs_httpx >= 1.5),
        ]  # fmt: skip
    return section


def section_c(bench: Bench) -> Section:
    cfg = bench.cfg
    section = Section("c", "stripe-python (StripeClient) as the peer SDK")
    pairs = ((bench.async_bpc, bench.stripe_async), (bench.sync_bpc, bench.stripe_sync))
    stripe_sync = bench.stripe_sync
    assert isinstance(stripe_sync, StripeSync)
    for op in OPS:
        runs: dict[str, Run] = {
            bench.async_bpc.name: bench.arun(bench.async_bpc, op),
            bench.stripe_async.name: bench.arun(bench.stripe_async, op),
            bench.sync_bpc.name: partial(timed, bench.sync_bpc.ops[op]),
            stripe_sync.name: partial(timed, stripe_sync.ops[op]),
        }
        seq = interleaved(runs, cfg.repeats, cfg.stripe_calls, cfg.seq_rounds)
        table = Table(
            f"c. sessions.{op}: bpcpay vs stripe-python, sequential",
            ["client", "µs/call", "CPU µs/call", "req/s"],
        )
        for ours, theirs in pairs:
            table.add(*_seq_row(ours.name, seq[ours.name]))
            table.add(*_seq_row(theirs.name, seq[theirs.name]))
            cpu = median_ratio(seq[ours.name], seq[theirs.name], cpu_us_per_call)
            table.add(
                f"**{ours.name} / {theirs.name}**",
                ratio(median_ratio(seq[ours.name], seq[theirs.name], us_per_call)),
                ratio(cpu),
                ratio(median_ratio(seq[ours.name], seq[theirs.name], per_second)),
            )
            kind = "async" if ours is bench.async_bpc else "sync"
            section.targets.append(
                Target(f"{kind} {op}: client CPU/call ≤ 0.5x stripe-python", ratio(cpu), cpu <= 0.5)
            )
        table.note = (
            f"{cfg.stripe_calls} calls per repetition and client, in {cfg.seq_rounds} turns. "
            f"Answers: {len(BPC_RAW)} bytes (BPC session) and "
            f"{len(STRIPE_RAW)} bytes (Stripe Checkout Session). stripe sync uses "
            f"{stripe_sync.http_client_name}; max_network_retries=0; create sends the same order "
            "as a one-line Checkout Session (form-encoded, as the Stripe API requires)."
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
