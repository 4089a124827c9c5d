"""The benchmark suite runs: ``benchmarks/run.py --quick`` end to end, in a subprocess.

Only that it ran and wrote every table: quick-mode numbers are meaningless and no test asserts
a time (issue 6, item 4). Needs the ``bench`` extra (stripe, requests, httpx) for the peers.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

BENCHMARKS = Path(__file__).resolve().parent.parent / "benchmarks"

TABLES = [
    "#### a. sessions.create: AsyncBpcPay vs raw aiohttp",
    "#### a. sessions.retrieve: AsyncBpcPay vs raw aiohttp",
    "#### b. sessions.create: BpcPay vs AsyncBpcPay, requests.Session, httpx.Client",
    "#### b. sessions.retrieve: BpcPay vs AsyncBpcPay, requests.Session, httpx.Client",
    "#### c. sessions.create: bpcpay vs stripe-python, sequential",
    "#### c. sessions.retrieve: bpcpay vs stripe-python, sequential",
    "#### d1. a signed 1024-byte session.completed event",
    "#### d2. parsing the",
    "#### e. import time",
    "#### f1. RSS per idle client",
    "#### f2. RSS after parsing",
    "#### g. sessions.create through AsyncBpcPay",
]


@pytest.mark.slow
def test_quick_run_writes_every_table(tmp_path: Path) -> None:
    # The peers come from the bench extra, which CI installs; a missing one fails the run.
    out = tmp_path / "RESULTS.md"
    result = subprocess.run(
        [sys.executable, str(BENCHMARKS / "run.py"), "--quick", "--out", str(out)],
        capture_output=True,
        text=True,
        timeout=300,
        cwd=tmp_path,
    )
    assert result.returncode == 0, result.stderr[-4000:]
    text = out.read_text(encoding="utf-8")
    for heading in ("## Machine", "## Targets (issue 6, item 2)", "## How measured"):
        assert heading in text
    for table in TABLES:
        assert table in text, table
        assert table in result.stdout, table  # the tables are also printed as they are made
    # Every target of item 2 is reported, met or not.
    assert text.count(" | pass |") + text.count(" | **miss** |") == 15
    for row in ("| cores |", "| CPU |", "| Python |", "| aiohttp |", "| cattrs |", "| stripe |"):
        assert row in text
