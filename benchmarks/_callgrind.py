"""Reading valgrind's callgrind output for ``instructions.py``: run a probe, find the section
between two markers, and (with Python's perf trampoline) the instructions of each Python
function.

The probe marks the calls it wants counted with two C functions nothing else on its path calls:
``sys.getallocatedblocks()`` before them and ``gc.get_freeze_count()`` after them. valgrind is
told to zero its counters when the first is entered and to write them out when the second is,
so that part of the output holds exactly the measured calls: start-up, imports, the warm-up and
the exit are never counted, and one process per measurement is enough. valgrind zeroes only the
counters of the thread that enters the marker: what another thread did before it stays in the
part (``instructions.py`` counts probes with a second thread twice, with two numbers of calls,
and takes the difference).

Python 3.12+ can put a small native trampoline in front of every Python function
(``sys.activate_stack_trampoline("perf")``) and writes their addresses and names to
``/tmp/perf-<pid>.map``. callgrind then sees each Python function as a native function of its
own (with the interpreter's inlining of Python-to-Python calls switched off, which costs some
instructions of its own), so the inclusive cost of every call edge gives each Python function's
instructions, everything it calls included.
"""

from __future__ import annotations

import collections
import re
import subprocess
import tempfile
from collections.abc import Mapping, Sequence
from pathlib import Path

#: The C functions that mark the measured section (see the module docstring). Patterns, because
#: an interpreter may keep the argument-clinic wrapper and its ``_impl`` apart or inline one.
ZERO_AT = "sys_getallocatedblocks*"
DUMP_AT = "gc_get_freeze_count*"

_SUMMARY = re.compile(r"^summary:\s*(\d+)", re.M)
_PID = re.compile(r"^pid:\s*(\d+)", re.M)


class Profile:
    """The measured section of one probe: its total, and per function (native, or a Python
    function by its perf-map name ``py::qualname:file``) its calls and inclusive instructions.

    Inclusive costs are summed over a function's call edges from its callers, counting only a
    function's outermost activation (callgrind names the deeper ones ``fn'2``), so recursion is
    never counted twice.
    """

    def __init__(self, total: int, inclusive: dict[str, int], calls: dict[str, int]) -> None:
        self.total = total
        self.inclusive = inclusive
        self.calls = calls


def run_probe(
    command: Sequence[str],
    *,
    functions: bool,
    timeout: float = 1800,
    env: Mapping[str, str] | None = None,
) -> Profile:
    """Run ``command`` (a probe that calls the two markers) under callgrind.

    Args:
        command: the probe's argv.
        functions: also read the per-function costs (needs the probe to switch the perf
            trampoline on, for Python functions).
        timeout: seconds before the probe is given up.
        env: the probe's environment (this process's by default).

    Returns:
        The measured section.

    Raises:
        RuntimeError: valgrind failed, or the probe never reached the second marker (an
            interpreter stripped of its symbols cannot be measured this way).
    """
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "out"
        result = subprocess.run(
            [
                "valgrind",
                "--tool=callgrind",
                f"--callgrind-out-file={out}",
                f"--zero-before={ZERO_AT}",
                f"--dump-before={DUMP_AT}",
                "--compress-strings=no",
                "--compress-pos=no",
                *command,
            ],
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
            env=None if env is None else dict(env),
        )
        part = Path(f"{out}.1")
        if result.returncode != 0 or not part.exists():
            raise RuntimeError(
                f"valgrind failed ({result.returncode}) or the probe's markers were not seen "
                f"({ZERO_AT}, {DUMP_AT}; is the interpreter stripped?): {result.stderr[-2000:]}"
            )
        text = part.read_text(encoding="utf-8", errors="replace")
        found = _SUMMARY.search(text)
        if found is None:
            raise RuntimeError("callgrind wrote no summary line")
        total = int(found.group(1))
        if not functions:
            return Profile(total, {}, {})
        inclusive, calls = _edges(text.splitlines())
        pid = _PID.search(text)
        names = _perf_map(int(pid.group(1))) if pid else {}
        return Profile(
            total,
            {names.get(fn, fn): cost for fn, cost in inclusive.items()},
            {names.get(fn, fn): count for fn, count in calls.items()},
        )


def _edges(lines: list[str]) -> tuple[dict[str, int], dict[str, int]]:
    """Per callee: the inclusive cost and the count of its incoming calls."""
    inclusive: collections.Counter[str] = collections.Counter()
    calls: collections.Counter[str] = collections.Counter()
    callee = ""
    pending = False
    for line in lines:
        if pending:
            # The line after ``calls=`` holds the call's inclusive cost.
            inclusive[callee] += int(line.split()[1])
            pending = False
        elif line.startswith("cfn="):
            callee = line[4:].strip()
        elif line.startswith("calls="):
            calls[callee] += int(line[6:].split()[0])
            pending = True
    return dict(inclusive), dict(calls)


def _perf_map(pid: int) -> dict[str, str]:
    """callgrind's name of each trampoline (``0x...``) -> the Python function's perf-map name.
    The map is removed once read."""
    path = Path(f"/tmp/perf-{pid}.map")  # noqa: S108 - where CPython writes it
    names: dict[str, str] = {}
    try:
        text = path.read_text(encoding="utf-8", errors="replace")
    except OSError:
        return names
    for line in text.splitlines():
        address, _, name = line.split(" ", 2)
        names[f"0x{int(address, 16):016x}"] = name
    path.unlink(missing_ok=True)
    return names
