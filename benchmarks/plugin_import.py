"""What bpcpay's pytest plugin costs a test run that uses none of its fixtures.

    python benchmarks/plugin_import.py [--quick] [--repeats N]

pytest loads every installed plugin in every run, so this is paid by every project that has
bpcpay installed. Two measurements, each in fresh interpreters, taking turns within each
repetition so that a busy moment favours neither side:

1. the import of the plugin module alone (``_bpcpay_pytestplugin``), after what pytest has
   imported before it loads plugins: pytest itself, and pytest-asyncio when installed (pytest
   loads that plugin in every run anyway). ``bpcpay.testing`` is timed the same way, for
   comparison: it was the plugin module until the plugin moved out of the package.
2. a whole ``pytest --collect-only`` of a one-test project, with the plugin and without it
   (``-p no:bpcpay``), back to back; the median of the paired differences is the plugin's
   share, within pytest's own noise.

Prints medians with the range; the target (under 20 ms for the import) is reported, not
asserted: no test asserts a time.
"""

from __future__ import annotations

import argparse
import importlib.util
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _harness import run_python

TARGET_MS = 20.0

PRELUDE = "import pytest\n" + (
    "import pytest_asyncio\n" if importlib.util.find_spec("pytest_asyncio") else ""
)

# The clock starts after the prelude: only the statement is timed.
PROBE = """\
import sys, time
{prelude}t = time.perf_counter()
{statement}
t = time.perf_counter() - t
loaded = sorted({{m.split(".")[0] for m in sys.modules}} & {{"aiohttp", "bpcpay"}})
print(t, ",".join(loaded) or "-")
"""

STATEMENTS = {
    "import _bpcpay_pytestplugin (the plugin)": "import _bpcpay_pytestplugin",
    "import bpcpay.testing (for comparison)": "import bpcpay.testing",
}


def time_statement(statement: str) -> tuple[float, str]:
    """Seconds the statement took in a fresh interpreter after the prelude, and which of
    aiohttp and bpcpay were imported by then."""
    out = run_python("-c", PROBE.format(prelude=PRELUDE, statement=statement)).split()
    return float(out[0]), out[1]


def time_collect(project: Path, *extra: str) -> float:
    """Wall-clock seconds of ``pytest --collect-only`` in ``project``."""
    started = time.perf_counter()
    subprocess.run(
        [
            sys.executable,
            "-m",
            "pytest",
            "--collect-only",
            "-q",
            "-p",
            "no:cacheprovider",
            *extra,
            str(project),
        ],
        capture_output=True,
        check=True,
        timeout=120,
        cwd=project,
    )
    return time.perf_counter() - started


def summary(seconds: list[float]) -> str:
    ms = sorted(s * 1000 for s in seconds)
    return f"{statistics.median(ms):7.1f} ms  (range {ms[0]:.1f}-{ms[-1]:.1f})"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="3 repetitions (a smoke run)")
    parser.add_argument("--repeats", type=int, default=15, help="repetitions (default 15)")
    args = parser.parse_args(argv)
    repeats = 3 if args.quick else args.repeats

    imports: dict[str, list[float]] = {name: [] for name in STATEMENTS}
    loaded: dict[str, str] = {}
    collect: dict[str, list[float]] = {"with the plugin": [], "-p no:bpcpay": []}
    with tempfile.TemporaryDirectory() as tmp:
        project = Path(tmp)
        (project / "test_one.py").write_text("def test_one():\n    pass\n", encoding="utf-8")
        for statement in STATEMENTS.values():  # warm the file cache and __pycache__
            time_statement(statement)
        time_collect(project)
        for rep in range(repeats):
            names = list(STATEMENTS) if rep % 2 == 0 else list(reversed(STATEMENTS))
            for name in names:
                seconds, modules = time_statement(STATEMENTS[name])
                imports[name].append(seconds)
                loaded[name] = modules
            runs = [("with the plugin", ()), ("-p no:bpcpay", ("-p", "no:bpcpay"))]
            for label, extra in runs if rep % 2 == 0 else runs[::-1]:
                collect[label].append(time_collect(project, *extra))

    print(f"bpcpay pytest plugin: median of {repeats} fresh interpreters each")
    print(f"prelude (imported before the clock starts): {PRELUDE.strip().replace(chr(10), '; ')}")
    print()
    for name, seconds in imports.items():
        print(f"  {name:45} {summary(seconds)}   imported: {loaded[name]}")
    print()
    for label, seconds in collect.items():
        print(f"  pytest --collect-only, {label:23} {summary(seconds)}")
    # Paired by repetition (the two ran back to back), so a busy moment cancels out.
    pairs = zip(collect["with the plugin"], collect["-p no:bpcpay"], strict=True)
    share = statistics.median(with_ - without for with_, without in pairs)
    print(
        f"  median paired difference: {share * 1000:+.1f} ms (pytest's own run-to-run noise "
        "is of the same order)"
    )
    print()
    plugin_ms = statistics.median(imports["import _bpcpay_pytestplugin (the plugin)"]) * 1000
    plugin_loaded = loaded["import _bpcpay_pytestplugin (the plugin)"]
    met = plugin_ms < TARGET_MS and plugin_loaded == "-"
    verdict = "met" if met else "MISSED"
    print(
        f"target: plugin import < {TARGET_MS:.0f} ms, no aiohttp, no bpcpay module: "
        f"{plugin_ms:.1f} ms, imported {plugin_loaded}: {verdict}"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
