"""The README's runnable examples run, exactly as written there."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

README = Path(__file__).resolve().parent.parent / "README.md"


def _block(marker: str) -> str:
    blocks = re.findall(r"```python\n(.*?)```", README.read_text(encoding="utf-8"), re.S)
    matching = [b for b in blocks if marker in b]
    assert len(matching) == 1, f"expected one README block containing {marker!r}"
    return matching[0]


def test_the_in_process_sandbox_example(tmp_path: Path) -> None:
    script = tmp_path / "example.py"
    script.write_text(_block("async with SandboxGateway() as gw"), encoding="utf-8")
    result = subprocess.run(
        [sys.executable, "-W", "error", str(script)],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert lines[0].startswith("succeeded https://shop.example/success?sessionId=ps_")
    assert "'session.completed'" in lines[1]
    assert lines[2] == "complete paid"


def test_the_users_own_pytest_suite_example(tmp_path: Path) -> None:
    (tmp_path / "test_shop.py").write_text(_block("def test_checkout"), encoding="utf-8")
    result = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-W", "error",
         "-o", "asyncio_mode=strict", "-o", "asyncio_default_fixture_loop_scope=function",
         str(tmp_path)],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=tmp_path,
        check=False,
    )  # fmt: skip
    assert result.returncode == 0, result.stdout + result.stderr
    assert "2 passed" in result.stdout
