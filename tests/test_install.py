"""Installing bpcpay into one's own project, as the docs say: every ``pip install`` the README,
the docs and the examples print is one of the forms that work from a clone (editable in the
clone, a git URL of the clone, or a wheel built in it; never a PyPI release, which does not
exist), naming extras that exist; and the two forms for one's own project really install, with
an extra, into a fresh virtual environment, offline."""

from __future__ import annotations

import os
import re
import shlex
import subprocess
import sys
import sysconfig
import time
from importlib.metadata import metadata
from pathlib import Path

import pytest

from bpcpay import __version__

ROOT = Path(__file__).resolve().parent.parent
PAGES = [
    ROOT / "README.md",
    *sorted((ROOT / "docs").rglob("*.md")),
    *sorted((ROOT / "examples").rglob("README.md")),
]
EXTRAS = set(metadata("bpcpay").get_all("Provides-Extra") or [])
WHEEL = f"bpcpay-{__version__}-py3-none-any.whl"


def _pip_installs() -> list[tuple[str, str]]:
    """(page, the words after ``pip install``) for every command a page prints: in inline code
    (wrapped lines joined) and in fenced blocks (one command per ``&&``)."""
    found = []
    for page in PAGES:
        text = page.read_text(encoding="utf-8")
        fences = re.findall(r"^```\w*\n(.*?)^```", text, re.S | re.M)
        prose = re.sub(r"^```\w*\n.*?^```", "", text, flags=re.S | re.M)
        commands = [" ".join(span.split()) for span in re.findall(r"`([^`]+)`", prose)]
        for block in fences:
            for line in block.splitlines():
                commands += line.split("#", 1)[0].split("&&")
        for command in commands:
            if "pip install" in command:
                found.append((page.name, command.split("pip install", 1)[1].strip()))
    return found


def _documented(words: list[str]) -> str | None:
    """What is wrong with ``pip install WORDS``, or None when it is a form that works."""
    if words == ["--upgrade", "pip"]:
        return None  # an old pip refuses git+file URLs: the docs say to upgrade it
    options = [w for w in words if w.startswith("-") and w != "-e"]
    targets = [w for w in words if not w.startswith("-")]
    if options:
        return f"options the docs do not explain: {options}"
    if words[:1] == ["-e"]:
        match = re.fullmatch(r"\.(?:\[([\w,]+)\])?", targets[0] if targets else "")
        extras = match.group(1) if match else None
        return None if match and set((extras or "").split(",")) - {""} <= EXTRAS else "-e ?"
    if targets == ["build"]:
        return None  # the build frontend, for the wheel form
    (target,) = targets
    match = re.fullmatch(
        rf"bpcpay\[([\w,]+)\] @ git\+(?:file|https|ssh)://\S+"
        rf"|/path/to/bpcpay/dist/{re.escape(WHEEL)}\[([\w,]+)\]",
        target,
    )
    if match is None:
        return f"{target!r} is not installable from a clone (bpcpay is not on PyPI)"
    extras = set((match.group(1) or match.group(2)).split(","))
    return None if extras <= EXTRAS else f"no such extra: {sorted(extras - EXTRAS)}"


def test_every_pip_install_in_the_docs_works_from_a_clone() -> None:
    installs = _pip_installs()
    # The control: the README's two commands, getting-started's forms, the examples' extras.
    assert len(installs) >= 8
    forms = {words for _, words in installs}
    assert "'bpcpay[redis] @ git+file:///path/to/bpcpay'" in forms
    assert f"'/path/to/bpcpay/dist/{WHEEL}[redis]'" in forms
    wrong = [
        (page, words, problem)
        for page, words in installs
        if (problem := _documented(shlex.split(words))) is not None
    ]
    assert wrong == []


@pytest.mark.parametrize(
    "words",
    ["'bpcpay[redis]'", "bpcpay", "-e '.[no_such_extra]'", "'bpcpay[nope] @ git+file:///x'"],
)
def test_the_check_refuses_what_does_not_work_from_a_clone(words: str) -> None:
    # The control for the test above: the line the issue found (a PyPI release) is refused.
    assert _documented(shlex.split(words)) is not None


def _dependencies_only(tmp_path: Path) -> Path:
    """A directory holding this environment's installed distributions but bpcpay: what a fresh
    venv sees (through a .pth) instead of an index, so that ``pip --no-index`` can resolve
    bpcpay's dependencies and extras offline, while bpcpay itself comes from the wheel."""
    view = tmp_path / "deps"
    view.mkdir()
    site = Path(sysconfig.get_paths()["purelib"])
    for entry in site.iterdir():
        if entry.name.lower().startswith(("bpcpay", "_bpcpay", "__editable__", "_editable")):
            continue
        if entry.suffix == ".pth":
            continue
        (view / entry.name).symlink_to(entry)
    return view


def _fresh_venv(path: Path, deps: Path) -> Path:
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(path)], check=True)
    where = "import sysconfig; print(sysconfig.get_paths()['purelib'])"
    purelib = subprocess.run(
        [str(path / "bin" / "python"), "-c", where],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()
    Path(purelib, "deps.pth").write_text(f"{deps}\n", encoding="utf-8")
    return path / "bin" / "python"


def _pip_install(python: Path, *words: str) -> None:
    # This environment's pip, installing into the fresh one (--python): no pip download there.
    result = subprocess.run(
        [sys.executable, "-m", "pip", "--python", str(python), "install", "--no-index", *words],
        capture_output=True,
        text=True,
        timeout=120,
        env={**os.environ, "PIP_DISABLE_PIP_VERSION_CHECK": "1"},
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr


def _check_installed(python: Path, cwd: Path) -> None:
    # Away from the checkout, so that only the installed copy can be imported.
    probe = (
        "import bpcpay, redis, sys; "
        "assert 'site-packages' in bpcpay.__file__ and sys.prefix in bpcpay.__file__, "
        "bpcpay.__file__; print(bpcpay.__version__)"
    )
    result = subprocess.run(
        [str(python), "-c", probe], capture_output=True, text=True, cwd=cwd, check=False
    )
    assert result.stdout.strip() == __version__, result.stderr
    command = subprocess.run(
        [str(python.parent / "bpcpay"), "--version"], capture_output=True, text=True, check=False
    )
    assert command.stdout == f"bpcpay {__version__}\n", command.stderr


@pytest.mark.slow
def test_the_documented_forms_install_with_an_extra_offline(tmp_path: Path) -> None:
    started = time.monotonic()
    deps = _dependencies_only(tmp_path)
    # The wheel, built as getting-started says (here without build isolation: offline, with
    # the build backend of the dev extra).
    dist = tmp_path / "dist"
    built = subprocess.run(
        [sys.executable, "-m", "build", "--wheel", "--no-isolation", "--outdir", str(dist), "."],
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=120,
        check=False,
    )
    assert built.returncode == 0, built.stdout + built.stderr
    assert [p.name for p in dist.iterdir()] == [WHEEL]

    python = _fresh_venv(tmp_path / "from-wheel", deps)
    _pip_install(python, f"{dist / WHEEL}[redis]")
    _check_installed(python, tmp_path)

    # The git URL form, from a clone of this repository (its committed files).
    python = _fresh_venv(tmp_path / "from-git", deps)
    _pip_install(python, "--no-build-isolation", f"bpcpay[redis] @ git+file://{ROOT}")
    _check_installed(python, tmp_path)
    assert time.monotonic() - started < 60  # a generous bound: a hang, not a speed
