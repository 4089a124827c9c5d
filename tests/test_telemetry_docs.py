"""docs/observability.md's picture of one payment's traces is a real run's
(``scripts/payment_trace.py``): a fresh run must still have its shape (span names, nesting,
kinds and the attributes shown; times, ports and ids aside)."""

from __future__ import annotations

import importlib.util
import re
import subprocess
import sys
from pathlib import Path
from types import ModuleType

ROOT = Path(__file__).resolve().parent.parent
SCRIPT = ROOT / "scripts" / "payment_trace.py"


def _script() -> ModuleType:
    spec = importlib.util.spec_from_file_location("payment_trace", SCRIPT)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_the_page_s_trace_has_the_shape_of_a_fresh_run_s() -> None:
    result = subprocess.run(
        [sys.executable, "-W", "error", str(SCRIPT), "--check"],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=ROOT,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_the_shape_ignores_times_and_ids_but_not_spans() -> None:
    script = _script()
    picture = script.page_picture()
    assert "bpcpay sessions.create" in picture
    assert "bpcpay webhook session.completed" in picture
    retimed = re.sub(r" (\d+)\.(\d) ", r" 9\1.\2 ", picture).replace("ps_", "ps_x", 1)
    assert retimed != picture
    assert script.shape(retimed) == script.shape(picture)
    renamed = picture.replace("bpcpay store.complete", "bpcpay store.release")
    assert script.shape(renamed) != script.shape(picture)
    regrown = picture.replace("├─ bpcpay store.claim", "└─ bpcpay store.claim")
    assert script.shape(regrown) != script.shape(picture)
