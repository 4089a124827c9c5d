"""Run the whole benchmark suite and write ``benchmarks/RESULTS.md``.

    python benchmarks/run.py [--quick] [--out benchmarks/RESULTS.md] [--only i,a,d,...]
                             [--attribution-python PATH]

Writes the tables to ``--out`` and the plot (latency and throughput per client) beside it, as
``RESULTS.png``; ``docs/RESULTS.png`` links to it so the docs show it too.

Sections (each also runs alone: ``python benchmarks/<module>.py [--quick]``):

i        ``instructions.py``    instructions per call (valgrind), issue 23's targets, and where
         ``allocations.py``     the overhead goes (needs a Python 3.12+ for its probes:
                                ``--attribution-python``, this one when it is 3.12+); memory per
                                call (tracemalloc)
a, b, c  ``http_clients.py``    AsyncBpcPay vs raw aiohttp; BpcPay vs the hop floors,
                                requests and httpx; vs stripe
d        ``pure_paths.py``      construct_event vs hmac + json.loads; parsing vs json.loads
e        ``imports.py``         import times in fresh interpreters
f        ``memory.py``          RSS per idle client, after parsing many sessions
g        ``sandbox_throughput.py``  the sandbox gateway's sessions.create/s
t        ``telemetry.py``       what OpenTelemetry costs a call, in instructions (valgrind), in
                                three worlds: not installed, the API alone, the SDK

``--quick`` makes every measurement tiny (two repetitions of turns of a few milliseconds; the
instruction probes run once each without valgrind): it proves the scripts work, in CI, and its
numbers mean nothing. ``sync_overhead.py`` remains as a
one-table shortcut for the sync facade's cost.
"""

from __future__ import annotations

import argparse
import importlib.metadata
import os
import platform
import subprocess
import sys
import time
import traceback
from collections.abc import Callable
from datetime import datetime, timezone
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _harness import Config, Section, Table
from _server import BenchServer

HERE = Path(__file__).resolve().parent

SECTION_KEYS = "iabcdefgt"
#: The sections that raised in this run (written to RESULTS.md as failed; the exit status is 1).
FAILED: list[str] = []
PACKAGES = (
    "bpcpay",
    "aiohttp",
    "cattrs",
    "attrs",
    "anyio",
    "orjson",
    "stripe",
    "httpx",
    "requests",
    "matplotlib",
    "opentelemetry-api",
    "opentelemetry-sdk",
)

HOW_MEASURED = """\
- **Instructions** (section i): valgrind's callgrind counts what the client process executes
  for 1000 sequential calls after a warm-up (the probe marks them; start-up and imports are not
  counted). Load from other processes does not move these counts: they repeat to within about
  1%, so they are what targets are judged on, and a count within 1% of its goal is "within
  noise". The attribution runs the same probes with Python's perf trampoline (3.12+), which
  names every Python function to callgrind. **Memory per call**: tracemalloc, sequential calls.
- **Server**: a bare asyncio protocol on 127.0.0.1 in a separate process (`_server.py`) that
  writes one of two answers built before the first request: a {bpc}-byte BPC session, or for
  paths under `/v1/` a {stripe}-byte Stripe Checkout Session. No HTTP framework, no routing: it
  stays far from being the bottleneck, and the most CPU it used in any turn is printed under
  each table. With the server in another process, `time.process_time()` of the benchmark
  process is the client's CPU alone (all its threads, so BpcPay's loop thread is included).
- **Same request**: the raw clients (aiohttp, requests, httpx) send bpcpay's exact headers and
  compact JSON body, encoded per call, check the status and `json.loads` the answer; raw
  aiohttp runs with bpcpay's settings (5 s to connect, 25 s in all, a pool of 100 connections).
  bpcpay additionally validates arguments and builds a `Session` model. stripe-python sends the
  same order as a one-line Checkout Session and builds its `StripeObject`.
- **JSON decoders**: "AsyncBpcPay" decodes with the standard library (the default without
  `bpcpay[speedups]`); "AsyncBpcPay + orjson" is the same client with `bpcpay[speedups]`. Both
  are measured in the same run, switching the decoder between turns.
- **Repetitions**: after a warm-up (pools opened as wide as the runs need, every code path run
  once), each comparison is repeated {repeats} times; in each repetition every client has one
  turn of {turn:g} s, in an order that rotates, so a burst of load from other processes falls on
  all of them alike. Values are medians over repetitions with their range in parentheses;
  ratios and differences are medians of the per-repetition ratios (paired, which is what makes
  them meaningful on a shared, noisy machine). Garbage is collected before each turn; the
  collector stays on during it. For req/s a ratio above 1 means bpcpay is faster; for µs,
  below 1. "Overhead" is bpcpay's client CPU per call minus raw aiohttp's.
- **Concurrency**: "@N" is N asyncio tasks in flight on one event loop; "N threads" is N OS
  threads sharing one BpcPay / one httpx.Client (one requests.Session per thread).
- **The hop**: BpcPay's latency minus AsyncBpcPay's, next to two floors measured on a plain
  asyncio loop thread: a bare `call_soon_threadsafe` + lock round trip, and the least a hop
  that runs a coroutine costs (`run_coroutine_threadsafe(...).result()`).
- **OpenTelemetry** (section t): the instruction probes of section i, run in three worlds by
  `benchmarks/_otel_site/sitecustomize.py` (not installed, the API alone, the SDK with in-memory
  exporters); section i itself runs in the API world when the API is installed.
- **Imports** are timed inside fresh interpreters (start-up excluded); **memory** is VmRSS from
  `/proc/self/status` in fresh interpreters.
- Absolute numbers move with the machine and its load; compare ratios, and re-run on a quiet
  machine before drawing conclusions.
"""


def _version(package: str) -> str:
    try:
        return importlib.metadata.version(package)
    except importlib.metadata.PackageNotFoundError:
        return "not installed"


def _cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def _git(*args: str) -> str:
    return subprocess.run(
        ["git", *args], cwd=HERE, capture_output=True, text=True, check=True, timeout=10
    ).stdout.strip()


def _git_revision() -> str:
    try:
        rev = _git("rev-parse", "--short", "HEAD")
        dirty = _git("status", "--porcelain", "--untracked-files=no")
    except (OSError, subprocess.SubprocessError):
        return "unknown"
    return f"{rev}{' (uncommitted changes)' if dirty else ''}"


def machine() -> list[tuple[str, str]]:
    load = os.getloadavg() if hasattr(os, "getloadavg") else (0.0, 0.0, 0.0)
    rows = [
        ("date", datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC")),
        ("cores", str(os.cpu_count())),
        ("CPU", _cpu_model()),
        ("OS", f"{platform.system()} {platform.release()}"),
        ("Python", f"{platform.python_implementation()} {platform.python_version()}"),
        ("load average at start (1/5/15 min)", " / ".join(f"{x:.2f}" for x in load)),
        ("git", _git_revision()),
    ]
    rows += [(name, _version(name)) for name in PACKAGES]
    return rows


def render(
    sections: list[Section],
    cfg: Config,
    info: list[tuple[str, str]],
    took: float,
    plot: str | None = None,
) -> str:
    from _server import BPC_RAW, STRIPE_RAW

    out = ["# bpcpay benchmark results", ""]
    out.append(
        "Generated by `python benchmarks/run.py"
        + (" --quick" if cfg.quick else "")
        + f"` in {took:.0f} s. Numbers are medians of {cfg.repeats} interleaved repetitions "
        "with their range in parentheses; ratios compare against a baseline measured in the "
        "same run."
    )
    if cfg.quick:
        out += [
            "",
            "> **Quick mode**: tiny runs that only prove the scripts work. "
            "Do not read anything into these numbers.",
        ]
    out += ["", "## Machine", "", "| | |", "|---|---|"]
    out += [f"| {key} | {value} |" for key, value in info]
    counted = [t for s in sections if s.key == "i" for t in s.targets]
    if counted:
        out += ["", "## Targets (issue 23): instructions per call", ""]
        out += ["| target | measured | |", "|---|---:|---|"]
        out += [f"| {t.goal} | {t.measured} | {t.cell()} |" for t in counted]

    def write(section: Section) -> None:
        out.extend(["", f"## {section.key}. {section.title}"])
        for table in section.tables:
            out.extend(["", table.markdown()])

    # The counts, the memory per call and the attribution lead: they are what is steered by.
    for section in sections:
        if section.key == "i":
            write(section)
    timed = [t for s in sections if s.key != "i" for t in s.targets]
    if timed:
        out += ["", "## Wall clock against issue 13's goals", ""]
        out.append(
            "Medians with their range over the repetitions; a verdict only when the whole range "
            'is on one side of the goal, else "within noise": on this shared machine the '
            "ranges are wide, and the instruction counts above are what the work is judged by."
        )
        out += ["", "| goal | measured | |", "|---|---:|---|"]
        out += [f"| {t.goal} | {t.measured} | {t.cell()} |" for t in timed]
    if plot is not None:
        out += ["", f"![Latency and throughput per client]({plot})"]
    for section in sections:
        if section.key != "i":
            write(section)
    out += ["", "## How measured", ""]
    out.append(
        HOW_MEASURED.format(
            bpc=len(BPC_RAW), stripe=len(STRIPE_RAW), repeats=cfg.repeats, turn=cfg.turn
        )
    )
    return "\n".join(out)


def _log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def run_sections(cfg: Config, only: str, attribution_python: str | None) -> list[Section]:
    # Imported here so that a missing peer package fails the sections that need it, loudly.
    import allocations
    import http_clients
    import imports
    import instructions
    import memory
    import model_layout
    import pure_paths
    import sandbox_throughput
    import telemetry

    sections: list[Section] = []
    failed: list[str] = []

    def step(keys: str, fn: Callable[[], list[Section]]) -> None:
        if not set(keys) & set(only):
            return
        _log(f"[{keys}] running...")
        started = time.perf_counter()
        try:
            produced = [s for s in fn() if s.key in only]
        except Exception as exc:
            # One failed section must not lose the others' half hour: it is written down as
            # failed (with why), and run.py exits non-zero at the end.
            stderr = getattr(exc, "stderr", None) or ""
            _log(traceback.format_exc() + stderr)
            failed.append(keys)
            note = Table(f"{keys}. this section failed in this run", ["error"])
            why = f"{type(exc).__name__}: {exc} {stderr[-300:]}".replace("\n", " ")
            note.add(why.replace("|", "/"))
            produced = [Section(keys[0], "failed", tables=[note])]
        _log(f"[{keys}] done in {time.perf_counter() - started:.1f} s")
        for section in produced:
            for table in section.tables:
                print(table.markdown() + "\n", flush=True)
        sections.extend(produced)

    def counted() -> list[Section]:
        # One section: the counts, the memory per call, then the attribution.
        (counts,) = instructions.run(cfg, server, attribution_python=attribution_python)
        (memory_per_call,) = allocations.run(cfg, server)
        counts.tables[1:1] = memory_per_call.tables
        counts.tables.append(
            model_layout.table(200 if cfg.quick else 10_000, None if cfg.quick else 2000)
        )
        return [counts]

    server = BenchServer()
    try:
        step("i", counted)
        step("abc", lambda: http_clients.run(cfg, server))
        step("d", lambda: pure_paths.run(cfg))
        step("e", lambda: imports.run(cfg))
        step("f", lambda: memory.run(cfg, server))
        step("t", lambda: telemetry.run(cfg, server))
    finally:
        server.close()
    step("g", lambda: sandbox_throughput.run(cfg))
    if failed:
        _log(f"sections that failed: {', '.join(failed)} (their tables say why)")
        FAILED.extend(failed)
    return sections


def standalone(run: Callable[..., list[Section]], *, server: bool) -> None:
    """``main()`` of a section module run on its own: print its tables and targets."""
    parser = argparse.ArgumentParser()
    parser.add_argument("--quick", action="store_true", help="tiny runs; proves the script works")
    cfg = Config.sized(quick=parser.parse_args().quick)
    bench_server = BenchServer() if server else None
    try:
        sections = run(cfg, bench_server) if bench_server else run(cfg)
    finally:
        if bench_server is not None:
            bench_server.close()
    for section in sections:
        for table in section.tables:
            print(table.markdown() + "\n")
        for t in section.targets:
            print(f"{t.verdict:12}  {t.goal}: {t.measured}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="tiny runs; proves the scripts work")
    parser.add_argument("--out", type=Path, default=HERE / "RESULTS.md")
    parser.add_argument("--only", default=SECTION_KEYS, help="sections to run, e.g. 'iad'")
    parser.add_argument(
        "--attribution-python",
        default=sys.executable if sys.version_info >= (3, 12) else None,
        help="a Python 3.12+ with bpcpay installed, for section i's attribution",
    )
    args = parser.parse_args()
    cfg = Config.sized(quick=args.quick)
    info = machine()
    started = time.perf_counter()
    sections = run_sections(cfg, args.only, args.attribution_python)
    took = time.perf_counter() - started
    from _plot import write_plot

    png = args.out.with_suffix(".png")
    title = f"bpcpay benchmark{' (quick mode: meaningless numbers)' if cfg.quick else ''}, " + (
        f"{dict(info)['date']}, {dict(info)['cores']} cores, Python {dict(info)['Python']}"
    )
    plotted = write_plot(sections, png, title=title)
    text = render(sections, cfg, info, took, png.name if plotted else None)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(text + "\n", encoding="utf-8")
    for section in sections:
        for t in section.targets:
            print(f"{t.verdict:12}  {t.goal}: {t.measured}")
    _log(f"wrote {args.out}{' and ' + str(png) if plotted else ''} ({took:.0f} s)")
    if FAILED:
        raise SystemExit(1)


if __name__ == "__main__":
    main()
