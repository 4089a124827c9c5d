"""Type-check the typed-event snippets with mypy --strict and pyright (basedpyright's bundled
pyright, from PyPI, offline), as users' code is checked.

    python tests/typing/run.py

``*_pass.py`` must give no error; in ``*_fail.py`` each line marked ``# expect-error: why`` must get
one (on that line or the next: a checker may report a decorated function at its ``def``) and
no other line may. Exit status 1 otherwise, with what differed. A step of .ci/run.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent.parent
BIN = Path(sys.executable).parent
_MYPY_LINE = re.compile(r"^(?P<file>[^:]+):(?P<line>\d+): error: (?P<message>.*)$")
#: The mark of a line that must get an error: ``# expect-error: why``.
_MARK = re.compile(r"#\s*expect-error:")


def mypy(paths: list[Path]) -> dict[Path, set[int]]:
    """The lines mypy --strict reports an error on, by file."""
    result = subprocess.run(
        [str(BIN / "mypy"), "--strict", "--no-incremental", "--show-error-codes", *map(str, paths)],
        capture_output=True,
        text=True,
        cwd=ROOT,
        check=False,
    )
    found: dict[Path, set[int]] = {path: set() for path in paths}
    for line in result.stdout.splitlines():
        match = _MYPY_LINE.match(line)
        if match:
            found[(ROOT / match["file"]).resolve()].add(int(match["line"]))
            print(f"  mypy: {line}")
    return found


def pyright(paths: list[Path]) -> dict[Path, set[int]]:
    """The lines pyright (strict) reports an error on, by file."""
    config = HERE / "pyrightconfig.json"
    result = subprocess.run(
        [
            str(BIN / "basedpyright"),
            "--outputjson",
            "--pythonpath",
            sys.executable,
            "-p",
            str(config),
            *map(str, paths),
        ],
        capture_output=True,
        text=True,
        cwd=ROOT,
        check=False,
    )
    found: dict[Path, set[int]] = {path: set() for path in paths}
    for diagnostic in json.loads(result.stdout)["generalDiagnostics"]:
        if diagnostic["severity"] != "error":
            continue
        line = diagnostic["range"]["start"]["line"] + 1
        found[Path(diagnostic["file"]).resolve()].add(line)
        print(f"  pyright: {diagnostic['file']}:{line}: {diagnostic['message'].splitlines()[0]}")
    return found


def expected(path: Path) -> set[int]:
    """The lines marked ``# expect-error``."""
    lines = path.read_text(encoding="utf-8").splitlines()
    return {number for number, text in enumerate(lines, 1) if _MARK.search(text)}


def compare(checker: str, path: Path, got: set[int]) -> list[str]:
    """What differs between the errors ``checker`` reported in ``path`` and the marks."""
    marks = expected(path)
    problems = []
    for mark in sorted(marks):
        if not {mark, mark + 1} & got:
            problems.append(f"{checker}: {path.name}:{mark} is marked but got no error")
    for line in sorted(got):
        if line not in marks and line - 1 not in marks:
            problems.append(f"{checker}: {path.name}:{line} got an error it should not")
    return problems


def main() -> int:
    paths = sorted(HERE.glob("*_pass.py")) + sorted(HERE.glob("*_fail.py"))
    problems: list[str] = []
    for checker, run in (("mypy", mypy), ("pyright", pyright)):
        print(f"{checker}:")
        for path, lines in run(paths).items():
            problems += compare(checker, path, lines)
    for problem in problems:
        print(problem)
    if problems:
        return 1
    print(f"typed events: mypy --strict and pyright agree with {len(paths)} snippets")
    return 0


if __name__ == "__main__":
    sys.exit(main())
