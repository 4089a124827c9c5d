"""The test suite on every supported Python: ``nox`` runs it on 3.10, 3.11, 3.12 and 3.13.

    .venv/bin/nox                      # every version
    .venv/bin/nox -s tests-3.10        # one of them
    .venv/bin/nox -s tests-3.12 -- -k webhooks   # arguments after -- go to pytest
    .venv/bin/nox -s library-3.13      # the library suite only (what .ci/run runs on the others)
    .venv/bin/nox -s aiohttp-oldest aiohttp-newest   # the hostile-gateway suites on the
                                       # oldest (pyproject.toml's bound) and newest aiohttp
    .venv/bin/nox -s instructions      # where the instructions of a call go (valgrind)

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
        # Made aside and renamed into place: .ci/run starts several nox processes at once, and
        # each one imports this file (a rename replaces the link atomically; unlink-then-link
        # could fail with FileExistsError between two of them).
        link = links / f"python{version}"
        aside = links / f".python{version}.{os.getpid()}"
        aside.unlink(missing_ok=True)
        aside.symlink_to(found)
        os.replace(aside, link)
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
    """The library suite: the whole suite but PROJECT_CHECKS.

    On the oldest supported Python it runs on the oldest aiohttp the package accepts
    (pyproject.toml's lower bound, exactly), on the others on the newest release: so the
    transport's guarantees are shown at both ends of the aiohttp range (issue 23) by the whole
    library suite, at no extra run.
    """
    session.install("-e", ".[test]")
    if session.python == PYTHONS[0]:
        floor = _aiohttp_floor()
        session.install(f"aiohttp=={floor}")
        _show_aiohttp(session, exact=floor)
    else:
        _show_aiohttp(session, exact=None)
    ignored = [f"--ignore={path}" for path in PROJECT_CHECKS]
    session.run(
        "python", "-m", "pytest", "-q", "-p", "no:cacheprovider", *ignored, *session.posargs
    )


#: The suites that show the transport's guarantees (the total deadline, the size cap, safe
#: retries, cancellation) against a hostile gateway: what must hold on every aiohttp the
#: package accepts (issue 23).
AIOHTTP_SUITES = [
    "tests/reliability/test_hostile_gateway.py",
    "tests/reliability/test_timeouts_cancellation.py",
]


def _aiohttp_floor() -> str:
    """The lower bound of aiohttp in pyproject.toml's dependencies (``aiohttp>=X``): the
    oldest aiohttp the package supports, so the oldest one tested."""
    text = (Path(__file__).resolve().parent / "pyproject.toml").read_text(encoding="utf-8")
    found = re.search(r'"aiohttp>=([0-9][0-9.]*)[",;]', text)
    if found is None:
        raise RuntimeError("pyproject.toml names no lower bound for aiohttp")
    return found.group(1)


def _show_aiohttp(session: nox.Session, *, exact: str | None) -> None:
    """Print the aiohttp the session runs on; fail unless it is ``exact`` when given."""
    check = "import importlib.metadata as m; v = m.version('aiohttp'); print('aiohttp', v)" + (
        f"; assert v == {exact!r} or v.startswith({exact + '.'!r}), v" if exact else ""
    )
    session.run("python", "-c", check)


def _aiohttp_suites(session: nox.Session, requirement: str, *, exact: str | None) -> None:
    session.install("-e", ".[test]", requirement)
    _show_aiohttp(session, exact=exact)
    session.run(
        "python", "-m", "pytest", "-q", "-p", "no:cacheprovider", *AIOHTTP_SUITES, *session.posargs
    )


@nox.session(python=PYTHONS[0], name="aiohttp-oldest")
def aiohttp_oldest(session: nox.Session) -> None:
    """The hostile-gateway and timeout suites on the oldest aiohttp pyproject.toml allows (its
    lower bound, exactly), on the oldest supported Python."""
    floor = _aiohttp_floor()
    _aiohttp_suites(session, f"aiohttp=={floor}", exact=floor)


@nox.session(python=PYTHONS[-1], name="aiohttp-newest")
def aiohttp_newest(session: nox.Session) -> None:
    """The hostile-gateway and timeout suites on the newest aiohttp release, on the newest
    supported Python."""
    session.install("--upgrade", "aiohttp")
    _aiohttp_suites(session, "aiohttp", exact=None)


@nox.session(python="3.12")
def instructions(session: nox.Session) -> None:
    """Where AsyncBpcPay's extra instructions go: ``benchmarks/instructions.py --by-function``,
    whose probes need Python 3.12+ (the perf trampoline) and valgrind. Arguments after ``--``
    go to the script (``-- --top 40``)."""
    session.install("-e", ".[bench,speedups]")
    session.run(
        "python",
        "benchmarks/instructions.py",
        "--by-function",
        "--decoders",
        "json,orjson",
        *session.posargs,
    )
