"""Shared machinery of the benchmark suite: run sizes, timed turns, interleaving, tables, targets.

Every comparison in the suite is made the same way: the contenders take turns of a fixed
duration (half a second in a full run), one turn each per repetition in an order that rotates
from one repetition to the next, so that a burst of noise from other processes on a shared
machine hits all of them alike. A value is the median over repetitions, printed with its range
(lowest and highest repetition); a ratio is the median of the per-repetition ratios (paired),
with their range. Imports neither bpcpay nor any HTTP library.
"""

from __future__ import annotations

import asyncio
import gc
import statistics
import subprocess
import sys
import threading
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TypeVar

#: Tasks in flight in the async throughput tables (1 is the sequential run). 256 is above the
#: connection pool (``pool_size``, 100 by default): the calls then also queue for a connection.
CONCURRENCY_LEVELS = (1, 8, 64, 256)
#: Caller threads in the sync throughput tables.
THREADS = 8

_N = TypeVar("_N", int, float)


def run_python(*args: str, timeout: float = 120) -> str:
    """Run ``python *args`` in a fresh interpreter (this one's executable); its stdout.

    Raises:
        subprocess.CalledProcessError: it exited with a status other than 0.
    """
    result = subprocess.run(
        [sys.executable, *args], capture_output=True, text=True, check=False, timeout=timeout
    )
    if result.returncode != 0:
        # With the probe's stderr: run.py reports it when a section fails.
        raise subprocess.CalledProcessError(
            result.returncode, result.args, result.stdout, result.stderr
        )
    return result.stdout


@dataclass(frozen=True)
class Config:
    """How big each measurement is. ``quick`` only proves the scripts work."""

    quick: bool
    #: Interleaved repetitions of every comparison.
    repeats: int
    #: Seconds of one contender's turn.
    turn: float
    #: Seconds each contender runs before measuring (pools opened, code paths warm).
    warmup: float
    import_repeats: int
    memory_clients: int
    parse_sessions: int
    sandbox_requests: int
    sandbox_concurrency: int

    @classmethod
    def sized(cls, *, quick: bool) -> Config:
        """The sizes of a full run, or of a quick one: each line says both (full, quick)."""

        def pick(full: _N, small: _N) -> _N:
            return small if quick else full

        return cls(
            quick=quick,
            repeats=pick(10, 2),
            turn=pick(0.5, 0.03),
            warmup=pick(0.5, 0.03),
            import_repeats=pick(9, 2),
            memory_clients=pick(50, 3),
            parse_sessions=pick(100_000, 2000),
            sandbox_requests=pick(2000, 100),
            sandbox_concurrency=pick(32, 8),
        )


@dataclass(frozen=True)
class Sample:
    """One turn: wall seconds, client-process CPU seconds, the calls it made, and the CPU
    seconds the server process used meanwhile (None when not measured)."""

    wall: float
    cpu: float
    calls: int
    server_cpu: float | None = None

    @property
    def us_per_call(self) -> float:
        return self.wall / self.calls * 1e6

    @property
    def cpu_us_per_call(self) -> float:
        return self.cpu / self.calls * 1e6

    @property
    def per_second(self) -> float:
        return self.calls / self.wall

    @property
    def server_cores(self) -> float | None:
        """How many cores the server used during the turn."""
        return None if self.server_cpu is None else self.server_cpu / self.wall


def _start() -> tuple[float, float]:
    # Collect first so one contender does not pay for the garbage another one left behind.
    gc.collect()
    return time.perf_counter(), time.process_time()


def _sample(started: tuple[float, float], calls: int) -> Sample:
    return Sample(time.perf_counter() - started[0], time.process_time() - started[1], calls)


def timed(fn: Callable[[], object], seconds: float, batch: int = 1) -> Sample:
    """Call ``fn`` in this thread for ``seconds`` (the clock is read every ``batch`` calls)."""
    started = _start()
    deadline = started[0] + seconds
    calls = 0
    clock = time.perf_counter
    while not calls or clock() < deadline:
        for _ in range(batch):
            fn()
        calls += batch
    return _sample(started, calls)


async def timed_async(
    fn: Callable[[], Awaitable[object]], seconds: float, concurrency: int
) -> Sample:
    """Awaited calls for ``seconds`` with ``concurrency`` tasks in flight (1 = sequential)."""
    clock = time.perf_counter
    if concurrency == 1:
        started = _start()
        deadline = started[0] + seconds
        calls = 0
        while not calls or clock() < deadline:
            await fn()
            calls += 1
        return _sample(started, calls)
    counts = [0] * concurrency

    async def worker(index: int, deadline: float) -> None:
        # At least one call each: on a loaded machine a short turn can be over before a
        # task first runs, and a turn of no calls has no time per call.
        while True:
            await fn()
            counts[index] += 1
            if clock() >= deadline:
                return

    started = _start()
    deadline = started[0] + seconds
    await asyncio.gather(*(worker(i, deadline) for i in range(concurrency)))
    return _sample(started, sum(counts))


def timed_threads(fns: Sequence[Callable[[], object]], seconds: float) -> Sample:
    """One thread per entry of ``fns``, each calling its own ``fn`` for ``seconds``."""
    barrier = threading.Barrier(len(fns) + 1)
    errors: list[BaseException] = []
    counts = [0] * len(fns)
    deadline = [0.0]

    def worker(index: int, fn: Callable[[], object]) -> None:
        barrier.wait(timeout=60)
        clock = time.perf_counter
        try:
            while True:  # at least one call each, as in timed_async
                fn()
                counts[index] += 1
                if clock() >= deadline[0]:
                    return
        except BaseException as exc:  # reported by the measuring thread, never swallowed
            errors.append(exc)

    threads = [
        threading.Thread(target=worker, args=(i, fn), daemon=True) for i, fn in enumerate(fns)
    ]
    for thread in threads:
        thread.start()
    started = _start()
    deadline[0] = started[0] + seconds
    barrier.wait(timeout=60)
    for thread in threads:
        thread.join(timeout=seconds + 120)
    sample = _sample(started, sum(counts))
    if errors:
        raise errors[0]
    return sample


#: One turn of a contender: runs for the given seconds and returns its Sample.
Run = Callable[[float], Sample]
#: Reads the server process's CPU seconds so far (None: not available).
CpuProbe = Callable[[], "float | None"]


def interleaved(
    contenders: dict[str, Run],
    repeats: int,
    seconds: float,
    server_cpu: CpuProbe | None = None,
) -> dict[str, list[Sample]]:
    """``repeats`` turns of ``seconds`` per contender, the contenders taking turns.

    Within a repetition every contender has one turn, in an order that rotates from one
    repetition to the next, so a burst of load from other processes lands on all contenders
    of a repetition alike and their per-repetition ratio stays meaningful. With
    ``server_cpu``, each sample also records what the server process used during the turn.
    """
    names = list(contenders)
    samples: dict[str, list[Sample]] = {name: [] for name in names}
    for rep in range(repeats):
        shift = rep % len(names)
        for name in names[shift:] + names[:shift]:
            before = server_cpu() if server_cpu is not None else None
            sample = contenders[name](seconds)
            if server_cpu is not None and before is not None:
                after = server_cpu()
                if after is not None:
                    sample = Sample(sample.wall, sample.cpu, sample.calls, after - before)
            samples[name].append(sample)
    return samples


# --- statistics --------------------------------------------------------------------------------

Metric = Callable[[Sample], float]


@dataclass(frozen=True)
class Spread:
    """A median and the range it came from."""

    median: float
    low: float
    high: float

    @classmethod
    def of(cls, values: Sequence[float]) -> Spread:
        return cls(statistics.median(values), min(values), max(values))

    def fmt(self, digits: int = 0, suffix: str = "") -> str:
        m, lo, hi = (f"{v:,.{digits}f}" for v in (self.median, self.low, self.high))
        return f"{m}{suffix} ({lo} .. {hi})"


def spread(samples: Sequence[Sample], metric: Metric) -> Spread:
    return Spread.of([metric(s) for s in samples])


def ratio_spread(num: Sequence[Sample], den: Sequence[Sample], metric: Metric) -> Spread:
    """Per-repetition ``metric(num) / metric(den)``, paired by repetition."""
    return Spread.of([metric(a) / metric(b) for a, b in zip(num, den, strict=True)])


def difference_spread(num: Sequence[Sample], den: Sequence[Sample], metric: Metric) -> Spread:
    """Per-repetition ``metric(num) - metric(den)``, paired by repetition."""
    return Spread.of([metric(a) - metric(b) for a, b in zip(num, den, strict=True)])


def us_per_call(s: Sample) -> float:
    return s.us_per_call


def cpu_us_per_call(s: Sample) -> float:
    return s.cpu_us_per_call


def per_second(s: Sample) -> float:
    return s.per_second


def max_server_cores(*groups: dict[str, list[Sample]]) -> float | None:
    """The most CPU (in cores) the server used in any turn of these runs."""
    cores = [
        s.server_cores
        for group in groups
        for samples in group.values()
        for s in samples
        if s.server_cores is not None
    ]
    return max(cores) if cores else None


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
    """A goal, next to what this run measured and the verdict: ``"pass"`` or ``"miss"`` only
    when the whole measured range is on one side of the goal, else ``"within noise"`` (a
    wall-clock range on this machine often spans the goal: its median alone says nothing)."""

    goal: str
    measured: str
    verdict: str

    @classmethod
    def at_most(cls, goal: str, measured: Spread, bound: float, shown: str) -> Target:
        """``measured`` ≤ ``bound``: pass when even its highest value is, miss when even its
        lowest is not."""
        verdict = "pass" if measured.high <= bound else "miss" if measured.low > bound else NOISE
        return cls(goal, shown, verdict)

    @classmethod
    def at_least(cls, goal: str, measured: Spread, bound: float, shown: str) -> Target:
        """``measured`` ≥ ``bound``, by its whole range as for :meth:`at_most`."""
        verdict = "pass" if measured.low >= bound else "miss" if measured.high < bound else NOISE
        return cls(goal, shown, verdict)

    def cell(self) -> str:
        """The verdict as a table cell (a miss in bold)."""
        return "**miss**" if self.verdict == "miss" else self.verdict


#: The verdict of a measured range that spans its goal.
NOISE = "within noise"


@dataclass
class Section:
    """What one part of the suite produced. ``plot`` holds the series the plot draws:
    ``{client: {label: Spread}}`` for latency and throughput."""

    key: str
    title: str
    tables: list[Table] = field(default_factory=list)
    targets: list[Target] = field(default_factory=list)
    plot: dict[str, dict[str, dict[str, Spread]]] = field(default_factory=dict)


def ratio(value: float) -> str:
    return f"{value:.2f}x"


def num(value: float, digits: int = 0) -> str:
    return f"{value:,.{digits}f}"
