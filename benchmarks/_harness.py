"""Shared machinery of the benchmark suite: run sizes, timed runs, interleaving, tables, targets.

Every comparison in the suite is made the same way: the contenders are measured alternately
within each repetition (the order rotates from one repetition to the next), so that a burst of
noise from other processes on a shared machine hits all of them alike, and the ratio reported is
the median of the per-repetition ratios. Imports neither bpcpay nor any HTTP library.
"""

from __future__ import annotations

import asyncio
import gc
import statistics
import threading
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

#: Tasks in flight in the async throughput tables (concurrency 1 is the sequential run).
CONCURRENCY_LEVELS = (8, 64)
#: Caller threads in the sync throughput tables.
THREADS = 8


@dataclass(frozen=True)
class Config:
    """How big each measurement is. ``quick`` only proves the scripts work."""

    quick: bool
    repeats: int
    warmup: int
    seq_calls: int
    conc_calls: int
    stripe_calls: int
    pure_iterations: int
    #: Turns per repetition (see ``interleaved``): sequential runs, then concurrent ones.
    seq_rounds: int
    conc_rounds: int
    import_repeats: int
    memory_clients: int
    parse_sessions: int
    sandbox_requests: int
    sandbox_concurrency: int

    @classmethod
    def full(cls) -> Config:
        return cls(
            quick=False,
            repeats=5,
            warmup=200,
            seq_calls=800,
            conc_calls=2000,
            stripe_calls=500,
            pure_iterations=20_000,
            seq_rounds=10,
            conc_rounds=4,
            import_repeats=7,
            memory_clients=50,
            parse_sessions=100_000,
            sandbox_requests=2000,
            sandbox_concurrency=32,
        )

    @classmethod
    def quick_run(cls) -> Config:
        return cls(
            quick=True,
            repeats=2,
            warmup=20,
            seq_calls=60,
            conc_calls=128,
            stripe_calls=40,
            pure_iterations=500,
            seq_rounds=2,
            conc_rounds=2,
            import_repeats=2,
            memory_clients=3,
            parse_sessions=2000,
            sandbox_requests=100,
            sandbox_concurrency=8,
        )


@dataclass(frozen=True)
class Sample:
    """One timed run: wall seconds, client-process CPU seconds, and how many calls it made."""

    wall: float
    cpu: float
    calls: int

    def __add__(self, other: Sample) -> Sample:
        return Sample(self.wall + other.wall, self.cpu + other.cpu, self.calls + other.calls)

    @property
    def us_per_call(self) -> float:
        return self.wall / self.calls * 1e6

    @property
    def cpu_us_per_call(self) -> float:
        return self.cpu / self.calls * 1e6

    @property
    def per_second(self) -> float:
        return self.calls / self.wall


def _start() -> tuple[float, float]:
    # Collect first so one contender does not pay for the garbage another one left behind.
    gc.collect()
    return time.perf_counter(), time.process_time()


def _sample(started: tuple[float, float], calls: int) -> Sample:
    return Sample(time.perf_counter() - started[0], time.process_time() - started[1], calls)


def timed(fn: Callable[[], object], calls: int) -> Sample:
    """Call ``fn`` ``calls`` times in this thread."""
    started = _start()
    for _ in range(calls):
        fn()
    return _sample(started, calls)


async def timed_async(fn: Callable[[], Awaitable[object]], calls: int, concurrency: int) -> Sample:
    """Make ``calls`` awaited calls with ``concurrency`` tasks in flight (1 = sequential)."""
    if concurrency == 1:
        started = _start()
        for _ in range(calls):
            await fn()
        return _sample(started, calls)
    remaining = calls

    async def worker() -> None:
        nonlocal remaining
        while remaining > 0:
            remaining -= 1
            await fn()

    started = _start()
    await asyncio.gather(*(worker() for _ in range(concurrency)))
    return _sample(started, calls)


def timed_threads(fns: Sequence[Callable[[], object]], calls: int) -> Sample:
    """Split ``calls`` over one thread per entry of ``fns`` (each thread calls its own ``fn``)."""
    per_thread = calls // len(fns)
    barrier = threading.Barrier(len(fns) + 1)
    errors: list[BaseException] = []

    def worker(fn: Callable[[], object]) -> None:
        barrier.wait()
        try:
            for _ in range(per_thread):
                fn()
        except BaseException as exc:  # reported by the measuring thread, never swallowed
            errors.append(exc)

    threads = [threading.Thread(target=worker, args=(fn,), daemon=True) for fn in fns]
    for thread in threads:
        thread.start()
    started = _start()
    barrier.wait()
    for thread in threads:
        thread.join(timeout=600)
    sample = _sample(started, per_thread * len(fns))
    if errors:
        raise errors[0]
    return sample


#: One timed run of a contender: makes the given number of calls and returns their Sample.
Run = Callable[[int], Sample]


def interleaved(
    contenders: dict[str, Run], repeats: int, calls: int, rounds: int = 1
) -> dict[str, list[Sample]]:
    """``repeats`` samples of ``calls`` calls per contender, the contenders taking turns.

    Each repetition is made of ``rounds`` rounds; in each round every contender makes
    ``calls // rounds`` calls, in an order that rotates from round to round, and a contender's
    sample for the repetition is the sum of its rounds. Short turns mean that a burst of load
    from other processes (seconds long on a shared machine) lands on all contenders of a
    repetition alike, so their per-repetition ratio stays meaningful.
    """
    names = list(contenders)
    chunk = max(1, calls // rounds)
    samples: dict[str, list[Sample]] = {name: [] for name in names}
    turn = 0
    for _ in range(repeats):
        totals: dict[str, Sample] = {}
        for _ in range(rounds):
            shift = turn % len(names)
            turn += 1
            for name in names[shift:] + names[:shift]:
                sample = contenders[name](chunk)
                totals[name] = sample + totals[name] if name in totals else sample
        for name in names:
            samples[name].append(totals[name])
    return samples


def median_of(samples: Sequence[Sample], metric: Callable[[Sample], float]) -> float:
    return statistics.median(metric(s) for s in samples)


def median_ratio(
    num: Sequence[Sample], den: Sequence[Sample], metric: Callable[[Sample], float]
) -> float:
    """Median over repetitions of ``metric(num) / metric(den)``, paired by repetition."""
    return statistics.median(metric(a) / metric(b) for a, b in zip(num, den, strict=True))


def us_per_call(s: Sample) -> float:
    return s.us_per_call


def cpu_us_per_call(s: Sample) -> float:
    return s.cpu_us_per_call


def per_second(s: Sample) -> float:
    return s.per_second


def rss_bytes() -> int:
    """Resident set size of this process (Linux ``/proc``; 0 where unavailable)."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) * 1024
    except OSError:
        pass
    return 0


# --- reporting ---------------------------------------------------------------------------------


@dataclass
class Table:
    """A result table, rendered as Markdown in RESULTS.md and on stdout."""

    title: str
    columns: list[str]
    rows: list[list[str]] = field(default_factory=list)
    note: str = ""

    def add(self, *cells: object) -> None:
        self.rows.append([str(c) for c in cells])

    def markdown(self) -> str:
        lines = [f"#### {self.title}", ""]
        lines.append("| " + " | ".join(self.columns) + " |")
        lines.append(
            "|" + "|".join("---" if i == 0 else "---:" for i in range(len(self.columns))) + "|"
        )
        lines.extend("| " + " | ".join(row) + " |" for row in self.rows)
        if self.note:
            lines += ["", self.note]
        return "\n".join(lines)


@dataclass(frozen=True)
class Target:
    """One target of issue 6 item 2, next to what this run measured."""

    goal: str
    measured: str
    ok: bool


@dataclass
class Section:
    """What one part of the suite produced."""

    key: str
    title: str
    tables: list[Table] = field(default_factory=list)
    targets: list[Target] = field(default_factory=list)


def ratio(value: float) -> str:
    return f"{value:.2f}x"


def num(value: float, digits: int = 0) -> str:
    return f"{value:,.{digits}f}"
