"""What OpenTelemetry costs a call (issue 22): AsyncBpcPay against raw aiohttp in three worlds.

    python benchmarks/telemetry.py [--calls 300] [--worlds absent,api,sdk]
                                   [--tree PATH] [--wall 7] [--no-valgrind]

The worlds (``_otel_site/sitecustomize.py``): ``absent``, opentelemetry cannot be imported;
``api``, the API is there and no SDK is configured (bpcpay must cost at most 3% more
instructions per call than without it); ``sdk``, the SDK is configured with an in-memory span
exporter and metric reader (every call then makes two spans and records a duration).

Instructions per call are counted by ``instructions.py``'s own probes, in the world's
environment: each client makes a warm-up, then N sequential calls to the benchmark server inside
``valgrind --tool=callgrind``, and only the N calls are counted (the probe marks them). The row
printed per world is ``instructions.py``'s summary row, ``AsyncBpcPay / raw aiohttp``, and the
change against the ``absent`` world of the same run. ``run.py`` writes the same table into
``RESULTS.md`` (section t, :func:`run`). ``--tree`` measures another checkout's
bpcpay (put first on ``PYTHONPATH``), e.g. the main branch, to show that without the API nothing
changed. ``--wall N`` also times N interleaved repetitions of 300 sequential retrieves per
world (medians and ranges, paired ratios against ``absent``).

Any other benchmark runs in a world the same way:
``BPCPAY_BENCH_OTEL=sdk PYTHONPATH=benchmarks/_otel_site python benchmarks/instructions.py``.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from _harness import Config, Section, Table  # noqa: E402
from _server import BenchServer  # noqa: E402

SITE = HERE / "_otel_site"
WORLDS = ("absent", "api", "sdk")
OPS = ("retrieve", "create")
#: Calls counted per probe in run.py's section (the counts repeat to about 1% at this size).
CALLS = 300


def _environment(world: str, tree: str | None) -> dict[str, str]:
    paths = [p for p in (tree, str(SITE), os.environ.get("PYTHONPATH")) if p]
    return {**os.environ, "BPCPAY_BENCH_OTEL": world, "PYTHONPATH": os.pathsep.join(paths)}


def _probe(kind: str, op: str, calls: int, url: str, timed: bool) -> None:
    """In the measured process: warm up, then ``calls`` calls (timed: print µs per call)."""
    from _clients import AsyncBpcPayContender, RawAiohttp

    async def main() -> None:
        contender = RawAiohttp(url) if kind == "raw" else AsyncBpcPayContender(url)
        await contender.open()
        call = contender.ops[op]
        for _ in range(20):
            await call()
        started = time.perf_counter()
        for _ in range(calls):
            await call()
        elapsed = time.perf_counter() - started
        await contender.close()
        if timed:
            print(f"{elapsed / calls * 1e6:.2f} {_world_seen()}")

    asyncio.run(main())


def _world_seen() -> str:
    """The world this process is really in, as bpcpay found it (after its calls)."""
    if "opentelemetry.trace" not in sys.modules:
        return "absent"
    from opentelemetry import trace

    provider = type(trace.get_tracer_provider()).__module__
    return "sdk" if provider.startswith("opentelemetry.sdk") else "api"


def per_call(
    worlds: list[str], tree: str | None, calls: int, url: str
) -> dict[tuple[str, str, str], float]:
    """Instructions per call of raw aiohttp and AsyncBpcPay (standard-library JSON), for each
    world and operation, by ``instructions.py``'s probes run in the world's environment."""
    import instructions

    rows: dict[tuple[str, str, str], float] = {}
    for world in worlds:
        jobs = [(kind, "json", op, calls) for op in OPS for kind in ("raw", "async")]
        profiles = instructions.measure(
            jobs, python=sys.executable, url=url, parallel=2, env=_environment(world, tree)
        )
        for (kind, _, op, _), profile in profiles.items():
            rows[(world, kind, op)] = profile.total / calls
    return rows


def tables(rows: dict[tuple[str, str, str], float], worlds: list[str]) -> list[Table]:
    """The counts per world, then the summary row's ratio per world and the change against
    the absent world."""
    counts = Table(
        "t1. instructions per call in each OpenTelemetry world (valgrind)",
        [
            "world",
            "raw aiohttp, retrieve",
            "AsyncBpcPay, retrieve",
            "raw aiohttp, create",
            "AsyncBpcPay, create",
        ],
    )
    for world in worlds:
        counts.add(
            world, *(f"{rows[(world, kind, op)]:,.0f}" for op in OPS for kind in ("raw", "async"))
        )
    ratios = Table(
        "t2. what the world changes",
        [
            "world",
            "**AsyncBpcPay / raw aiohttp**, retrieve",
            "create",
            "AsyncBpcPay against absent, retrieve",
            "create",
        ],
    )
    for world in worlds:
        cells = [f"{rows[(world, 'async', op)] / rows[(world, 'raw', op)]:.3f}x" for op in OPS]
        if "absent" in worlds and world != "absent":
            cells += [
                _pct(rows[(world, "async", op)] / rows[("absent", "async", op)] - 1) for op in OPS
            ]
        else:
            cells += ["—", "—"]
        ratios.add(world, *cells)
    return [counts, ratios]


def run(cfg: Config, server: BenchServer) -> list[Section]:
    """Section t of ``run.py``: the counts in the three worlds (each probe first checks, in
    a short uncounted run, that it lands in the world asked for). In quick mode only those
    checks run: nothing is counted."""
    section = Section("t", "What OpenTelemetry costs a call (issue 22), in instructions")
    for world in WORLDS:
        timed(world, None, "async", server.bpc_url, 3)  # raises if the world did not take
    if cfg.quick:
        note = Table("t1. instructions per call in each OpenTelemetry world", ["world", "—"])
        note.add("(quick mode: each world was checked; nothing was counted)", "—")
        section.tables.append(note)
        return [section]
    section.tables += tables(per_call(list(WORLDS), None, CALLS, server.bpc_url), list(WORLDS))
    section.tables[-1].note = (
        f"`python benchmarks/telemetry.py`: {CALLS} sequential calls per client after a warm-up, "
        "counted by `instructions.py`'s probes (valgrind) in each world "
        "(`benchmarks/_otel_site/sitecustomize.py`): **absent**, opentelemetry cannot be "
        "imported; **api**, the API installed and no SDK configured (the default world of every "
        "process, and of section i); **sdk**, the SDK configured before the client is made, "
        "spans exported one by one (`SimpleSpanProcessor`) to an `InMemorySpanExporter`, metrics "
        "kept for an `InMemoryMetricReader`. With the API and no SDK, bpcpay may cost at most 3% "
        "more instructions per call than without it (issue 22)."
    )
    return [section]


def timed(world: str, tree: str | None, kind: str, url: str, calls: int) -> float:
    """µs per sequential ``retrieve`` in a fresh process of ``world``.

    Raises:
        RuntimeError: the process was not in ``world`` (the site hook did not take).
    """
    result = subprocess.run(
        [sys.executable, str(Path(__file__).resolve()), "--probe-timed", kind, str(calls), url],
        capture_output=True,
        text=True,
        timeout=600,
        check=True,
        env=_environment(world, tree),
    )
    value, seen = result.stdout.split()
    if seen != world:
        raise RuntimeError(f"a probe meant for the {world} world ran in the {seen} world")
    return float(value)


def _pct(value: float) -> str:
    return f"{value:+.1%}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--calls", type=int, default=CALLS, help="calls counted per probe")
    parser.add_argument("--worlds", default=",".join(WORLDS))
    parser.add_argument("--tree", default=None, help="a checkout whose bpcpay to measure")
    parser.add_argument("--wall", type=int, default=0, help="timed repetitions per world")
    parser.add_argument("--no-valgrind", action="store_true", help="wall-clock only")
    args = parser.parse_args()
    worlds = [w for w in args.worlds.split(",") if w]
    assert all(w in WORLDS for w in worlds), worlds
    tree = str(Path(args.tree).resolve()) if args.tree else None
    label = f" ({tree})" if tree else ""
    # Valgrind runs of three worlds take longer than the server's default half hour.
    with BenchServer(max_seconds=4 * 3600) as server:
        url = server.bpc_url
        if not args.no_valgrind:
            if shutil.which("valgrind") is None:
                raise SystemExit("valgrind is not installed")
            rows = per_call(worlds, tree, args.calls, url)
            print(f"\nInstructions per call{label}, {args.calls} calls counted per probe:\n")
            for table in tables(rows, worlds):
                print(table.markdown() + "\n")
        if args.wall:
            samples: dict[str, list[float]] = {w: [] for w in worlds}
            for repetition in range(args.wall):
                order = worlds[repetition % len(worlds) :] + worlds[: repetition % len(worlds)]
                for world in order:
                    samples[world].append(timed(world, tree, "async", url, 300))
            print(
                f"\nWall clock{label}: µs per sequential retrieve, {args.wall} interleaved "
                "repetitions of 300 calls (median, range; ratio against absent, paired)\n"
            )
            print("| world | µs/call | vs absent |")
            print("|---|---:|---:|")
            for world in worlds:
                values = samples[world]
                median = statistics.median(values)
                ratio = "—"
                if "absent" in worlds and world != "absent":
                    pairs = [v / b for v, b in zip(values, samples["absent"], strict=True)]
                    ratio = (
                        f"{statistics.median(pairs):.3f}x ({min(pairs):.3f} .. {max(pairs):.3f})"
                    )
                spread = f"{min(values):.1f} .. {max(values):.1f}"
                print(f"| {world} | {median:.1f} ({spread}) | {ratio} |")


if __name__ == "__main__":
    if len(sys.argv) > 1 and sys.argv[1] == "--probe":
        kind, op, calls, url = sys.argv[2:6]
        _probe(kind, op, int(calls), url, timed=False)
    elif len(sys.argv) > 1 and sys.argv[1] == "--probe-timed":
        kind, calls, url = sys.argv[2:5]
        _probe(kind, "retrieve", int(calls), url, timed=True)
    else:
        main()
