"""Instructions per call, counted by valgrind: a measure that load on a shared machine cannot move.

    python benchmarks/instructions.py [--calls 1000] [--jobs 2]
    python benchmarks/instructions.py --by-function [--decoders json,orjson] [--top 40]

Each client makes a warm-up, then N sequential calls to the benchmark server (``_server.py``,
outside valgrind) inside ``valgrind --tool=callgrind``; only the N calls are counted (the probe
marks them, see ``_callgrind.py``), so start-up, imports and warm-up never enter the figure
(a probe with a second thread, BpcPay's or the hops', is counted with N and N/5 calls and the
difference taken, since what that thread did before the marker stays in its count).
Wall-clock medians (``run.py``) say how fast; these counts say how much work, and they repeat
to within about 1% from run to run, so they show changes of a few percent that timing on a
busy 2-core machine cannot.

Clients: raw aiohttp (with bpcpay's timeouts), AsyncBpcPay with the standard library's JSON and
with orjson, for ``sessions.retrieve`` and ``sessions.create``; BpcPay's ``retrieve`` (its loop
thread included: valgrind runs the threads one at a time, so the count is the work of the hop,
not its latency), and the two floors of such a hop without a request (shown in the retrieve
column). Needs valgrind on PATH.

``--by-function`` says where AsyncBpcPay's extra instructions go: the same probes run with
Python's perf trampoline (Python 3.12+: ``--python`` names the interpreter, by default this
one; ``nox -s instructions`` runs it in a 3.12 environment), which lets callgrind count every
Python function with everything it calls. Each part of a call (``COMPONENTS``) is the inclusive
count of its functions, minus what raw aiohttp spends in the same functions, minus the parts
nested in it; the row "unattributed" is what is left of the total difference (the event loop,
the garbage collector, C calls made from several parts). The trampoline switches off the
interpreter's inlining of Python-to-Python calls, so every function call costs more than in the
plain count: the parts are a map, their sum is the trampoline run's own difference, shown
beside the plain one.
"""

from __future__ import annotations

import argparse
import asyncio
import concurrent.futures
import json
import shutil
import subprocess
import sys
from collections.abc import Callable, Iterable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _callgrind import Profile, run_probe
from _harness import Config, Section, Spread, Table, Target
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
OPS = ("retrieve", "create")
#: Calls made before the counted ones: pools opened, caches and cattrs' functions built.
WARM_UP = 20

#: The parts of a call: (key, what it is, the functions that enter it, the key of the part it is
#: nested in). Functions are Python functions by qualified name, optionally ``:`` and the end of
#: their file's name; ``*`` at the end of a name matches any rest of it. A part's own cost is
#: what its functions spend minus the parts nested in it (the nearest ones that ran); its row is
#: that cost in AsyncBpcPay minus the same in raw aiohttp. The entry functions of one part never
#: call each other (they would be counted twice). Raw aiohttp runs only the root, aiohttp's
#: request and the JSON parts; the parts it lacks are skipped over when nesting is resolved, and
#: its own function (the ``async with``, the status check) is compared with the transport
#: wrapper, which does that for AsyncBpcPay.
COMPONENTS: tuple[tuple[str, str, tuple[str, ...], str | None], ...] = (
    (
        "call",
        "resource method and argument checks",
        ("AsyncSessions.*", "AsyncBpcPayContender.open.<locals>.*", "RawAiohttp.open.<locals>.*"),
        None,
    ),
    (
        "retry",
        "retry loop (closed check, timeout choice, retry bookkeeping)",
        ("AsyncBpcPay._request",),
        "call",
    ),
    (
        "report",
        "on_attempt and logging (is DEBUG on?)",
        ("Logger.isEnabledFor", "AsyncBpcPay._report"),
        "retry",
    ),
    ("build", "request and headers build", ("build_request",), "retry"),
    ("fill", "Endpoint.fill (the id in the path)", ("Endpoint.fill",), "build"),
    ("encode", "JSON encoding of the body", ("encode_json", "encode:_clients.py"), "build"),
    (
        "wrapper",
        "transport wrapper (raw aiohttp: its own function)",
        ("AiohttpTransport.send",),
        "retry",
    ),
    (
        "aiohttp",
        "aiohttp's request (more arguments than raw aiohttp's)",
        (
            "ClientSession.get",
            "ClientSession.post",
            "ClientSession.request",
            "_BaseRequestContextManager.__aenter__",
            "_BaseRequestContextManager.__aexit__",
            "ClientResponse.read",
        ),
        "wrapper",
    ),
    (
        "deadline",
        "read deadline: expect and finish (the transport's entry per attempt)",
        ("_ReadDeadlines.expect", "_ReadDeadlines.finish"),
        "wrapper",
    ),
    (
        "arm",
        "read deadline: start (request_class's send, the shared loop timer)",
        ("_ReadDeadlines.request_class.<locals>._DeadlineRequest.send",),
        "aiohttp",
    ),
    ("settle", "response decoding (settle, status check)", ("settle",), "retry"),
    ("request_id", "request_id (header lookup)", ("header:_headers.py",), "settle"),
    ("json", "JSON decoding", ("loads:json/__init__.py", "_stdlib_loads", "_fast_loads"), "settle"),
    ("model", "model structuring (raw kept)", ("structure_object",), "settle"),
)


def _probe(kind: str, decoder_name: str, op: str, calls: int, url: str, trampoline: bool) -> None:
    """In the process valgrind watches: warm up, then make ``calls`` calls between the two
    markers of ``_callgrind`` (only those are counted)."""
    if trampoline:
        # Python 3.12+: every Python function behind a native trampoline callgrind can name.
        sys.activate_stack_trampoline("perf")  # type: ignore[attr-defined,unused-ignore]
    import gc

    from _clients import (
        AsyncBpcPayContender,
        BpcPayContender,
        LoopThreadHops,
        RawAiohttp,
        decoder,
    )

    def measured(fn: Callable[[], object]) -> None:
        for _ in range(WARM_UP):
            fn()
        sys.getallocatedblocks()  # valgrind zeroes its counters here
        for _ in range(calls):
            fn()
        gc.get_freeze_count()  # ... and writes them out here

    with decoder(decoder_name):
        if kind.startswith("hop-"):
            hops = LoopThreadHops()
            measured(hops.coroutine if kind == "hop-coroutine" else hops.bare)
            hops.close()
            return
        if kind == "sync":
            sync = BpcPayContender(url)
            measured(sync.ops[op])
            sync.close()
            return

        async def main() -> None:
            contender = RawAiohttp(url) if kind == "raw" else AsyncBpcPayContender(url)
            await contender.open()
            call = contender.ops[op]
            for _ in range(WARM_UP):
                await call()
            sys.getallocatedblocks()
            for _ in range(calls):
                await call()
            gc.get_freeze_count()
            await contender.close()

        asyncio.run(main())


def probe_command(
    kind: str, decoder_name: str, op: str, calls: int, url: str, *, python: str, trampoline: bool
) -> list[str]:
    """The argv of one probe process."""
    return [
        python,
        str(Path(__file__).resolve()),
        "--probe",
        kind,
        decoder_name,
        op,
        str(calls),
        url,
        "trampoline" if trampoline else "plain",
    ]


def measure(
    jobs: Iterable[tuple[str, str, str, int]],
    *,
    python: str,
    url: str,
    parallel: int,
    trampoline: bool = False,
    env: dict[str, str] | None = None,
) -> dict[tuple[str, str, str, int], Profile]:
    """One probe per (kind, decoder, op, calls), ``parallel`` at a time (the counts do not
    depend on how busy the machine is, only the time they take), in ``env`` when given (an
    OpenTelemetry world of ``telemetry.py``)."""
    wanted = list(dict.fromkeys(jobs))
    with concurrent.futures.ThreadPoolExecutor(max_workers=max(1, parallel)) as pool:
        futures = {
            job: pool.submit(
                run_probe,
                probe_command(*job, url, python=python, trampoline=trampoline),
                functions=trampoline,
                env=env,
            )
            for job in wanted
        }
        return {job: future.result() for job, future in futures.items()}


#: Probes with a thread of their own (BpcPay's loop thread, the hops' loop). valgrind zeroes
#: only the counters of the thread that enters the first marker, so the other thread's work
#: before it (start-up, warm-up) stays in the count: these are counted twice, with ``calls``
#: and a fifth of it, and the difference of the two divided by the difference of the calls
#: (what came before the marker cancels out).
THREADED = ("sync", "hop-coroutine", "hop-bare")


def summary(
    *, calls: int = 1000, parallel: int = 2, python: str = sys.executable, url: str
) -> dict[tuple[str, str], float]:
    """Instructions per call of every client (``CLIENTS``) and operation it is measured on."""
    from _clients import json_decoders

    decoders = json_decoders()
    wanted = {
        (name, op): (kind, decoder_name, op)
        for op in OPS
        for name, (kind, decoder_name) in CLIENTS.items()
        if decoder_name in decoders and (kind in ("raw", "async") or op == "retrieve")
    }
    fewer = calls // 5
    jobs = [(*job, calls) for job in wanted.values()]
    jobs += [(*job, fewer) for job in wanted.values() if job[0] in THREADED]
    profiles = measure(jobs, python=python, url=url, parallel=parallel)
    counts = {}
    for key, job in wanted.items():
        total = profiles[(*job, calls)].total
        if job[0] in THREADED:
            counts[key] = (total - profiles[(*job, fewer)].total) / (calls - fewer)
        else:
            counts[key] = total / calls
    return counts


def summary_rows(rows: dict[tuple[str, str], float]) -> list[list[str]]:
    """The summary's rows: every client, then the ratios to raw aiohttp and the hop."""
    names = list(dict.fromkeys(name for name, _ in rows))
    out = []
    for name in names:
        counts = [f"{rows[(name, op)]:,.0f}" if (name, op) in rows else "—" for op in OPS]
        out.append([name, *counts])
    raw = {op: rows[("raw aiohttp", op)] for op in OPS}
    for name in [n for n in names if n.startswith("AsyncBpcPay")]:
        ratios = [f"{rows[(name, op)] / raw[op]:.2f}x" for op in OPS]
        out.append([f"**{name} / raw aiohttp**", *ratios])
    if ("BpcPay", "retrieve") in rows:
        hop = rows[("BpcPay", "retrieve")] - rows[("AsyncBpcPay", "retrieve")]
        out.append(["**BpcPay minus AsyncBpcPay (the hop)**", f"{hop:,.0f}", "—"])
        floor = rows[("minimal coroutine hop (floor)", "retrieve")]
        out.append(["**the hop / minimal coroutine hop**", f"{hop / floor:.2f}x", "—"])
    return out


#: Issue 23's goals: AsyncBpcPay / raw aiohttp at most this, per JSON decoder.
GOALS = {"AsyncBpcPay": 1.15, "AsyncBpcPay + orjson": 1.10}
#: How far two counts of the same code may differ (different memory layouts of the processes).
REPEATABILITY = 0.01


def targets(rows: dict[tuple[str, str], float]) -> list[Target]:
    """Issue 23's targets, judged on the counts: within ``REPEATABILITY`` of a goal is noise."""
    out = []

    def judge(goal: str, value: float, bound: float) -> Target:
        band = Spread(value, value * (1 - REPEATABILITY), value * (1 + REPEATABILITY))
        return Target.at_most(goal, band, bound, f"{value:.3f}x")

    for name, bound in GOALS.items():
        for op in OPS:
            if (name, op) in rows:
                value = rows[(name, op)] / rows[("raw aiohttp", op)]
                goal = f"{name} / raw aiohttp, sessions.{op}: ≤ {bound:.2f}x instructions"
                out.append(judge(goal, value, bound))
    if ("BpcPay", "retrieve") in rows:
        hop = rows[("BpcPay", "retrieve")] - rows[("AsyncBpcPay", "retrieve")]
        floor = rows[("minimal coroutine hop (floor)", "retrieve")]
        goal = "BpcPay's hop ≤ the minimal coroutine hop, in instructions"
        out.append(judge(goal, hop / floor, 1.0))
    return out


def run(cfg: Config, server: BenchServer, *, attribution_python: str | None) -> list[Section]:
    """The instruction counts for ``run.py``: the summary, issue 23's targets, and the
    attribution when ``attribution_python`` (3.12+) is given. In quick mode the probes run
    without valgrind, once each, only to show they work: nothing is counted."""
    section = Section("i", "Instructions and memory per call")
    columns = ["client", "sessions.retrieve", "sessions.create"]
    table = Table("i1. instructions per call (valgrind)", columns)
    section.tables.append(table)
    if cfg.quick:
        for kind, decoder_name in CLIENTS.values():
            command = probe_command(
                kind,
                decoder_name,
                "retrieve",
                2,
                server.bpc_url,
                python=sys.executable,
                trampoline=False,
            )
            subprocess.run(command, check=True, timeout=300, capture_output=True)
        table.add("(quick mode: the probes ran without valgrind; nothing was counted)", "—", "—")
        return [section]
    rows = summary(calls=1000, parallel=2, url=server.bpc_url)
    for cells in summary_rows(rows):
        table.add(*cells)
    table.note = (
        "1000 sequential calls per client counted by callgrind after a warm-up "
        "(`python benchmarks/instructions.py`); the counts repeat to within about 1%."
    )
    section.targets += targets(rows)
    if attribution_python is not None:
        args = argparse.Namespace(
            python=attribution_python,
            decoders=",".join(_decoders()),
            calls=1000,
            jobs=2,
            top=0,
            json=None,
        )
        section.tables.append(attribution_table(args, server.bpc_url))
    return [section]


def _decoders() -> list[str]:
    from _clients import json_decoders

    return json_decoders()


def _matches(name: str, pattern: str) -> bool:
    """``name`` is a perf-map name, ``py::<qualified name>:<file>``."""
    if not name.startswith("py::"):
        return False
    function, _, where = name[4:].partition(":")
    if pattern.endswith("*"):
        return function.startswith(pattern[:-1])
    wanted, _, file = pattern.partition(":")
    return function == wanted and where.endswith(file)


def _inclusive(profile: Profile, patterns: tuple[str, ...]) -> int:
    """What the functions matching ``patterns`` spend, everything they call included (each
    function's outermost activations only: callgrind names the recursive ones ``fn'2``)."""
    return sum(
        cost
        for name, cost in profile.inclusive.items()
        if "'" not in name and any(_matches(name, p) for p in patterns)
    )


def _own(profile: Profile) -> dict[str, int]:
    """Per part (by key), what it spends itself: its inclusive cost minus that of the nearest
    nested parts that ran in this profile."""
    spent = {key: _inclusive(profile, patterns) for key, _, patterns, _ in COMPONENTS}
    children: dict[str | None, list[str]] = {}
    for key, _, _, parent in COMPONENTS:
        children.setdefault(parent, []).append(key)

    def nearest(key: str) -> int:
        return sum(spent[c] if spent[c] else nearest(c) for c in children.get(key, []))

    return {key: spent[key] - nearest(key) if spent[key] else 0 for key in spent}


def attribute(sdk: Profile, raw: Profile, calls: int) -> list[tuple[str, float]]:
    """AsyncBpcPay's extra instructions per call, part by part (``COMPONENTS``), then the rest
    and the total (of this run, with the trampoline)."""
    ours, theirs = _own(sdk), _own(raw)
    # Raw aiohttp's own function is compared with the transport wrapper (see COMPONENTS).
    theirs["wrapper"], theirs["call"] = theirs["wrapper"] + theirs["call"], 0
    rows = [(label, (ours[key] - theirs[key]) / calls) for key, label, _, _ in COMPONENTS]
    extra = (sdk.total - raw.total) / calls
    rest = extra - sum(value for _, value in rows)
    rows.append(("the rest: event loop, protocol callbacks, garbage collector", rest))
    rows.append(("total extra (trampoline run)", extra))
    return rows


def top_functions(sdk: Profile, raw: Profile, calls: int, limit: int) -> list[str]:
    """The Python functions whose inclusive count differs most between the two, per call."""
    names = {n for n in (*sdk.inclusive, *raw.inclusive) if n.startswith("") and "'" not in n}
    rows = sorted(
        (
            (sdk.inclusive.get(n, 0) - raw.inclusive.get(n, 0)) / calls,
            (sdk.calls.get(n, 0) - raw.calls.get(n, 0)) / calls,
            n,
        )
        for n in names
    )
    rows.sort(key=lambda row: -abs(row[0]))
    return [f"{cost:>10,.0f} {count:>6.2f}  {name}" for cost, count, name in rows[:limit]]


def attribution_table(args: argparse.Namespace, url: str) -> Table:
    """Run the trampoline probes; the attribution as a table (and the top functions printed
    when ``args.top``)."""
    version = subprocess.run(
        [args.python, "-c", "import sys; print(sys.version_info >= (3, 12))"],
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
    ).stdout.strip()
    if version != "True":
        raise SystemExit(
            "--by-function needs Python 3.12+ for the probes (the perf trampoline): pass "
            "--python, or run `nox -s instructions`"
        )
    decoders = args.decoders.split(",")
    n = args.calls
    jobs = [("raw", "json", op, n) for op in OPS]
    jobs += [("async", decoder_name, op, n) for decoder_name in decoders for op in OPS]
    profiles = measure(jobs, python=args.python, url=url, parallel=args.jobs, trampoline=True)
    columns = [(decoder_name, op) for decoder_name in decoders for op in OPS]
    pairs = {c: (profiles[("async", *c, n)], profiles[("raw", "json", c[1], n)]) for c in columns}
    tables = {c: attribute(sdk, raw, args.calls) for c, (sdk, raw) in pairs.items()}
    table = Table(
        "i3. where AsyncBpcPay's extra instructions go (callgrind by function)",
        ["part of a call (AsyncBpcPay minus raw aiohttp)"]
        + [f"sessions.{op}{'' if d == 'json' else ' + ' + d}" for d, op in columns],
    )
    for index, (name, _) in enumerate(tables[columns[0]]):
        table.add(name, *(f"{tables[c][index][1]:,.0f}" for c in columns))
    raw_totals = [f"{pairs[c][1].total / args.calls:,.0f}" for c in columns]
    table.add("raw aiohttp itself (trampoline run)", *raw_totals)
    table.note = (
        "`python benchmarks/instructions.py --by-function` on Python 3.12+ with the perf "
        "trampoline, which lets callgrind count each Python function (and switches off the "
        "inlining of Python calls, so every call costs more than in the plain count: the parts "
        "are a map of the overhead, their total the trampoline run's own). Each part is what "
        "its functions spend minus the parts nested in them, in AsyncBpcPay minus raw aiohttp "
        "(`COMPONENTS` in instructions.py)."
    )
    if args.json:
        shares = {f"{d} {op}": dict(rows) for (d, op), rows in tables.items()}
        args.json.write_text(json.dumps(shares, indent=1))
    for column in columns if args.top else ():
        print(f"\n{column[1]} ({column[0]}): per call, AsyncBpcPay minus raw aiohttp, inclusive")
        print("\n".join(top_functions(*pairs[column], args.calls, args.top)))
    return table


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--calls", type=int, default=1000, help="calls counted per client")
    parser.add_argument("--jobs", type=int, default=2, help="probes run at once")
    parser.add_argument("--python", default=sys.executable, help="the probes' interpreter")
    parser.add_argument("--by-function", action="store_true", help="where the overhead goes")
    parser.add_argument("--decoders", default="json", help="with --by-function: json,orjson")
    parser.add_argument("--top", type=int, default=0, help="with --by-function: list N functions")
    parser.add_argument("--json", type=Path, help="also write the figures to this file")
    args = parser.parse_args()
    if shutil.which("valgrind") is None:
        raise SystemExit("valgrind is not installed")
    with BenchServer() as server:
        if args.by_function:
            print(attribution_table(args, server.bpc_url).markdown())
            return
        rows = summary(calls=args.calls, parallel=args.jobs, python=args.python, url=server.bpc_url)
    table = Table("instructions per call", ["client", "sessions.retrieve", "sessions.create"])
    for cells in summary_rows(rows):
        table.add(*cells)
    print(table.markdown())
    for target in targets(rows):
        print(f"{target.verdict:12}  {target.goal}: {target.measured}")
    if args.json:
        args.json.write_text(
            json.dumps({f"{name} | {op}": value for (name, op), value in rows.items()}, indent=1)
        )


if __name__ == "__main__":
    if len(sys.argv) > 1 and sys.argv[1] == "--probe":
        kind, decoder_name, op, calls, url, how = sys.argv[2:8]
        _probe(kind, decoder_name, op, int(calls), url, how == "trampoline")
    else:
        main()
