"""The test suite on every supported Python: ``nox`` runs it on 3.10, 3.11, 3.12 and 3.13.

    .venv/bin/nox                      # every version
    .venv/bin/nox -s tests-3.10        # one of them
    .venv/bin/nox -s tests-3.12 -- -k webhooks   # arguments after -- go to pytest
    .venv/bin/nox -s library-3.13      # the library suite only (what .ci/run runs on the others)

Interpreters are found on PATH or among pyenv's builds (``$PYENV_ROOT/versions``); nothing is
ever downloaded: nox's own downloads and uv's are both switched off, and a missing version is an
error, not a skip. uv installs the packages when it is there (it is in the ``dev`` extra),
virtualenv and pip otherwise. The full suite under coverage runs in the develop venv
(``bash scripts/test``); these sessions run the same suite without coverage.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from pathlib import Path

import nox

#: Exactly the versions the README and the classifiers in pyproject.toml promise.
PYTHONS = ["3.10", "3.11", "3.12", "3.13"]

nox.options.default_venv_backend = "uv|virtualenv"
nox.options.download_python = "never"
nox.options.error_on_missing_interpreters = True
nox.options.reuse_venv = "yes"
nox.options.sessions = ["tests"]
# uv finds interpreters itself when it creates a venv; it must not fetch one either.
os.environ["UV_PYTHON_DOWNLOADS"] = "never"


def _runs_as(executable: str, version: str) -> bool:
    """True when ``executable`` starts and is Python ``version`` (a pyenv shim for a version
    that is not selected exits 127, for instance)."""
    try:
        result = subprocess.run(  # noqa: S603 - our own probe of a local interpreter
            [executable, "-c", "import sys; print('%d.%d' % sys.version_info[:2])"],
            capture_output=True,
            text=True,
            timeout=30,
            check=False,
        )
    except OSError:
        return False
    return result.returncode == 0 and result.stdout.strip() == version


def _pyenv_builds(version: str) -> list[Path]:
    """``$PYENV_ROOT/versions/X.Y.Z/bin/pythonX.Y``, newest patch release first."""
    root = Path(os.environ.get("PYENV_ROOT") or Path.home() / ".pyenv") / "versions"
    builds = [d for d in root.glob(f"{version}.*") if re.fullmatch(r"\d+\.\d+\.\d+", d.name)]
    builds.sort(key=lambda d: [int(part) for part in d.name.split(".")], reverse=True)
    return [d / "bin" / f"python{version}" for d in builds]


def _find_interpreter(version: str) -> str | None:
    """A working ``pythonX.Y``: the one on PATH, else the newest pyenv build of it."""
    on_path = shutil.which(f"python{version}")
    candidates = ([on_path] if on_path else []) + [str(p) for p in _pyenv_builds(version)]
    return next((c for c in candidates if _runs_as(c, version)), None)


def _put_interpreters_on_path() -> None:
    """Make ``pythonX.Y`` on PATH a working interpreter for every version in PYTHONS.

    nox and uv look for ``python3.10`` on PATH; when that is missing or a pyenv shim that
    refuses to run (the version is installed but not selected), a symlink to the pyenv build
    in ``.nox/interpreters`` goes first on PATH. Versions found nowhere are left alone: nox
    then reports them as missing, and fails.
    """
    links = Path(__file__).resolve().parent / ".nox" / "interpreters"
    for version in PYTHONS:
        on_path = shutil.which(f"python{version}")
        if on_path and _runs_as(on_path, version):
            continue
        found = _find_interpreter(version)
        if found is None:
            continue
        links.mkdir(parents=True, exist_ok=True)
        link = links / f"python{version}"
        if link.is_symlink() or link.exists():
            link.unlink()
        link.symlink_to(found)
    if links.is_dir() and str(links) not in os.environ["PATH"].split(os.pathsep):
        os.environ["PATH"] = os.pathsep.join([str(links), os.environ["PATH"]])


_put_interpreters_on_path()


@nox.session(python=PYTHONS)
def tests(session: nox.Session) -> None:
    """The whole test suite (browser test included when Chromium is there)."""
    session.install("-e", ".[test,bench]")
    session.run("python", "-m", "pytest", "-q", "-p", "no:cacheprovider", *session.posargs)


#: What the library suite leaves out: checks of the project around the library (the deployment
#: fleets, the documentation's examples, the browser walk-through, the benchmarks' harness, the
#: developer scripts). They run once, in the full suite under coverage that .ci/run runs on its
#: own Python; the library's behaviour is tested on every version.
PROJECT_CHECKS = [
    "tests/fleet",
    "tests/test_docs.py",
    # The docs' webhook recipes and buffering front, served as printed by real servers.
    "tests/test_contrib_recipes.py",
    "tests/test_contrib_buffering_front.py",
    "tests/test_browser_demo.py",
    "tests/test_benchmarks.py",
    "tests/test_dev_scripts.py",
    "tests/test_install.py",  # builds a wheel offline with the dev extra's build backend
    "tests/test_docs_site.py",  # builds and browses the docs site
    "tests/test_docstring_examples.py",  # the API reference's examples, against the sandbox
    "tests/test_reference.py",  # the built API reference (needs the dev extra's docs tools)
]


@nox.session(python=PYTHONS)
def library(session: nox.Session) -> None:
    """The library suite: the whole suite but PROJECT_CHECKS."""
    session.install("-e", ".[test]")
    ignored = [f"--ignore={path}" for path in PROJECT_CHECKS]
    session.run(
        "python", "-m", "pytest", "-q", "-p", "no:cacheprovider", *ignored, *session.posargs
    )
