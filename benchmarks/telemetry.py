"""What OpenTelemetry costs a call (issue 22): AsyncBpcPay against raw aiohttp in three worlds.

    python benchmarks/telemetry.py [--calls 200,1200] [--worlds absent,api,sdk]
                                   [--tree PATH] [--wall 7] [--no-valgrind]

The worlds (``_otel_site/sitecustomize.py``): ``absent``, opentelemetry cannot be imported;
``api``, the API is there and no SDK is configured (bpcpay must cost at most 3% more
instructions per call than without it); ``sdk``, the SDK is configured with an in-memory span
exporter and metric reader (every call then makes two spans and records a duration).

Instructions per call are counted as ``instructions.py`` counts them: each client makes N
sequential calls to the benchmark server inside ``valgrind --tool=callgrind``, for two values of
N, and the difference of the totals divided by the difference of N is one call's work. The row
printed per world is ``instructions.py``'s summary row, ``AsyncBpcPay / raw aiohttp``, and the
change against the ``absent`` world of the same run. ``--tree`` measures another checkout's
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
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from _server import BenchServer  # noqa: E402

SITE = HERE / "_otel_site"
WORLDS = ("absent", "api", "sdk")
OPS = ("retrieve", "create")
_COLLECTED = re.compile(r"Collected\s*:\s*(\d+)")


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


def count(world: str, tree: str | None, kind: str, op: str, calls: int, url: str) -> int:
    """Instructions of a whole probe process making ``calls`` calls."""
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
                op,
                str(calls),
                url,
            ],
            capture_output=True,
            text=True,
            timeout=1800,
            check=False,
            env=_environment(world, tree),
        )
    found = _COLLECTED.findall(result.stderr)
    if result.returncode != 0 or not found:
        raise RuntimeError(f"valgrind failed ({result.returncode}): {result.stderr[-2000:]}")
    return int(found[-1])


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
    parser.add_argument("--calls", default="200,1200", help="the two call counts")
    parser.add_argument("--worlds", default=",".join(WORLDS))
    parser.add_argument("--tree", default=None, help="a checkout whose bpcpay to measure")
    parser.add_argument("--wall", type=int, default=0, help="timed repetitions per world")
    parser.add_argument("--no-valgrind", action="store_true", help="wall-clock only")
    args = parser.parse_args()
    low, high = (int(n) for n in args.calls.split(","))
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
            rows: dict[tuple[str, str, str], float] = {}
            for world in worlds:
                for op in OPS:
                    for kind in ("raw", "async"):
                        a = count(world, tree, kind, op, low, url)
                        b = count(world, tree, kind, op, high, url)
                        rows[(world, kind, op)] = (b - a) / (high - low)
                        print(
                            f"{world:7} {kind:6} {op:9} "
                            f"{rows[(world, kind, op)]:>10,.0f} instructions/call",
                            flush=True,
                        )
            print(f"\nInstructions per call{label}, calls {low} and {high}:\n")
            print(
                "| world | raw aiohttp retrieve | AsyncBpcPay retrieve | raw aiohttp create "
                "| AsyncBpcPay create |"
            )
            print("|---|---:|---:|---:|---:|")
            for world in worlds:
                cells = [
                    f"{rows[(world, kind, op)]:,.0f}" for op in OPS for kind in ("raw", "async")
                ]
                print(f"| {world} | {' | '.join(cells)} |")
            print(
                "\n| world | **AsyncBpcPay / raw aiohttp** retrieve | create "
                "| AsyncBpcPay vs absent, retrieve | create |"
            )
            print("|---|---:|---:|---:|---:|")
            for world in worlds:
                ratios = [rows[(world, "async", op)] / rows[(world, "raw", op)] for op in OPS]
                if "absent" in worlds:
                    deltas = [
                        _pct(rows[(world, "async", op)] / rows[("absent", "async", op)] - 1)
                        for op in OPS
                    ]
                else:
                    deltas = ["—", "—"]
                cells = [f"{r:.3f}x" for r in ratios] + deltas
                print(f"| {world} | {' | '.join(cells)} |")
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
