"""``scripts/test``, the README's test command: the coverage report is printed whatever pytest's
outcome, and the exit status is pytest's (or the report's, when pytest passed).

Each case runs the real script on a tiny project in a temporary directory, whose
``.venv/bin/python`` hands over to this interpreter.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

SCRIPT = Path(__file__).resolve().parent.parent / "scripts" / "test"

PYPROJECT = """\
[tool.pytest.ini_options]
testpaths = ["tests"]

[tool.coverage.run]
source = ["tiny"]

[tool.coverage.report]
fail_under = {fail_under}
"""

TESTS = """\
import tiny

def test_half():
    assert tiny.half(4) == 2

def test_outcome():
    assert {outcome}
"""


def _project(tmp_path: Path, *, passing: bool, fail_under: int = 0) -> Path:
    (tmp_path / "scripts").mkdir()
    shutil.copy(SCRIPT, tmp_path / "scripts" / "test")
    (tmp_path / "pyproject.toml").write_text(PYPROJECT.format(fail_under=fail_under))
    (tmp_path / "tiny.py").write_text(
        "def half(n):\n    return n // 2\n\n\ndef never_called():\n    return 1\n"
    )
    (tmp_path / "tests").mkdir()
    (tmp_path / "tests" / "test_tiny.py").write_text(TESTS.format(outcome=passing))
    venv_python = tmp_path / ".venv" / "bin" / "python"
    venv_python.parent.mkdir(parents=True)
    venv_python.write_text(f'#!/bin/sh\nexec "{sys.executable}" "$@"\n')
    venv_python.chmod(0o755)
    return tmp_path


def _run(project: Path) -> subprocess.CompletedProcess[str]:
    # A clean slate: no coverage of the outer run follows into this one.
    env = {k: v for k, v in os.environ.items() if not k.startswith("COVERAGE")}
    env["PYTHONPATH"] = str(project)
    return subprocess.run(
        ["bash", str(project / "scripts" / "test"), "-q", "-p", "no:cacheprovider"],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=project,
        env=env,
        check=False,
    )


@pytest.mark.parametrize(("passing", "status"), [(True, 0), (False, 1)])
def test_the_report_is_printed_and_pytest_decides_the_status(
    tmp_path: Path, passing: bool, status: int
) -> None:
    result = _run(_project(tmp_path, passing=passing))
    assert result.returncode == status, result.stdout + result.stderr
    assert ("1 failed" in result.stdout) is not passing
    # The report, after pytest's summary, in both cases.
    report = result.stdout[result.stdout.index("Name") :]
    assert "tiny.py" in report
    assert "TOTAL" in report


def test_low_coverage_fails_a_passing_run(tmp_path: Path) -> None:
    result = _run(_project(tmp_path, passing=True, fail_under=100))
    assert result.returncode == 2, result.stdout + result.stderr
    assert "2 passed" in result.stdout
    assert "TOTAL" in result.stdout
    assert "Coverage failure" in result.stdout + result.stderr
