"""Section e: import times, each in a fresh interpreter.

    python benchmarks/imports.py [--quick]

Each statement runs in a new ``python -c`` process that times only the statement itself
(interpreter start-up excluded), and reports whether aiohttp ended up in ``sys.modules``. The
statements take turns within each repetition so that a busy moment does not favour one of them.
"""

from __future__ import annotations

import statistics
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _harness import Config, Section, Spread, Table, Target, run_python

STATEMENTS = {
    "import bpcpay": "import bpcpay",
    "import bpcpay.webhooks": "import bpcpay.webhooks",
    "import aiohttp": "import aiohttp",
    "from bpcpay import AsyncBpcPay": "from bpcpay import AsyncBpcPay",
    "from bpcpay import BpcPay": "from bpcpay import BpcPay",
    "import stripe (peer)": "import stripe",
    # What the pure layer stands on: a floor for `import bpcpay.webhooks` while it uses them.
    "import attrs (dependency)": "import attrs",
    "import cattrs (dependency)": "import cattrs",
}

# Only time and sys are loaded before the clock starts: both are already in sys.modules at
# start-up, so nothing the statement needs is imported ahead of it.
PROBE = """\
import sys, time
t = time.perf_counter()
{statement}
t = time.perf_counter() - t
print(t, *(name in sys.modules for name in {watched!r}))
"""
#: Modules whose presence after the statement is reported: ``import bpcpay.webhooks`` must load
#: none of them (issue 13: no models, no attrs classes, no asyncio until first used).
WATCHED = ("aiohttp", "asyncio", "attrs", "bpcpay.models")


def time_import(statement: str) -> tuple[float, dict[str, bool]]:
    """Seconds the statement took in a fresh interpreter, and which watched modules it loaded."""
    out = run_python("-c", PROBE.format(statement=statement, watched=WATCHED)).split()
    flags = zip(WATCHED, out[1:], strict=True)
    return float(out[0]), {name: flag == "True" for name, flag in flags}


def run(cfg: Config) -> list[Section]:
    repeats = max(cfg.import_repeats, 5) if not cfg.quick else cfg.import_repeats
    names = list(STATEMENTS)
    times: dict[str, list[float]] = {name: [] for name in names}
    loaded: dict[str, dict[str, bool]] = {}
    for name in names:  # warm the OS file cache and __pycache__ before any timing
        time_import(STATEMENTS[name])
    for rep in range(repeats):
        shift = rep % len(names)
        for name in names[shift:] + names[:shift]:
            seconds, modules = time_import(STATEMENTS[name])
            times[name].append(seconds)
            loaded[name] = {m: loaded.get(name, {}).get(m, False) or modules[m] for m in WATCHED}
    section = Section("e", "Import times (fresh interpreter each)")
    table = Table(
        "e. import time",
        ["statement", "ms (median)", "range ms", "loads (of " + ", ".join(WATCHED) + ")"],
    )
    for name in names:
        table.add(
            f"`{name}`",
            f"{statistics.median(times[name]) * 1000:.1f}",
            f"{min(times[name]) * 1000:.1f} .. {max(times[name]) * 1000:.1f}",
            ", ".join(m for m in WATCHED if loaded[name][m]) or "none",
        )
    table.note = (
        f"median of {repeats} fresh interpreters per statement, after one untimed run each."
    )
    section.tables.append(table)
    webhooks = times["import bpcpay.webhooks"]
    webhooks_ms = statistics.median(webhooks) * 1000
    pulled = [m for m in WATCHED if loaded["import bpcpay.webhooks"][m]]
    goal = "`import bpcpay.webhooks` ≤ 25 ms over a bare interpreter, loading none of " + (
        ", ".join(WATCHED)
    )
    shown = f"{webhooks_ms:.1f} ms ({min(webhooks) * 1000:.1f} .. {max(webhooks) * 1000:.1f}), " + (
        "loads " + ", ".join(pulled) if pulled else "loads none"
    )
    # What it loads is no matter of noise: loading one is a miss.
    target = Target.at_most(goal, Spread.of([t * 1000 for t in webhooks]), 25, shown)
    section.targets.append(Target(goal, shown, "miss") if pulled else target)
    return [section]


if __name__ == "__main__":
    from run import standalone

    standalone(run, server=False)
