"""The README as a newcomer meets it: the two commands on top, the quick start that runs against
``bpcpay sandbox`` exactly as the README says, its links, and the promised Python versions.

Every Python block of the README (and of docs/) is also run by ``tests/test_docs.py``.
"""

from __future__ import annotations

import asyncio
import functools
import importlib.metadata
import json
import os
import re
import subprocess
import sys
from pathlib import Path

import aiohttp
from _processes import Program

from bpcpay.sandbox._customer import Customer

ROOT = Path(__file__).resolve().parent.parent
README = (ROOT / "README.md").read_text(encoding="utf-8")
VERSIONS = ["3.10", "3.11", "3.12", "3.13"]


def _fenced(language: str) -> list[str]:
    return re.findall(rf"^```{language}\n(.*?)^```", README, re.S | re.M)


def _python_block(marker: str) -> str:
    matching = [b for b in _fenced("python") if marker in b]
    assert len(matching) == 1, f"expected one README block containing {marker!r}"
    return matching[0]


# --- the two commands ------------------------------------------------------------------------


def test_the_first_bash_block_is_try_it_then_develop_it() -> None:
    first = _fenced("bash")[0]
    commands = [line for line in first.splitlines() if line.strip() and not line.startswith("#")]
    assert len(commands) == 2
    try_it, develop_it = commands
    assert try_it.endswith(".venv/bin/bpcpay demo --auto")
    assert develop_it.endswith("bash scripts/test")
    for command in commands:
        # Each runs on its own from the repository root, in a fresh shell.
        assert command.startswith("python3 -m venv .venv && .venv/bin/pip install -e ")
        assert not command.startswith("$")
        assert "cd " not in command
        assert "git clone" not in command
    comments = [line for line in first.splitlines() if line.startswith("#")]
    assert comments[0].startswith("# try it")
    assert comments[1].startswith("# develop it")
    # The flow comes first: a diagram, then the commands.
    assert README.index("```mermaid") < README.index("```bash")


def test_the_browser_and_its_installer_are_mentioned() -> None:
    # The tests that skip without them name the same installers (and fail under CI=true).
    assert ".ci/install-browser" in README
    assert ".ci/install-servers" in README
    assert (ROOT / ".ci" / "install-servers").exists()


# --- the quick start, as written ---------------------------------------------------------------


def _sandbox_exports(sandbox: Program) -> dict[str, str]:
    """The environment after pasting the ``export`` lines ``bpcpay sandbox`` printed."""
    sandbox.wait_for_line("export BPCPAY_WEBHOOK_SECRET=")  # the last of the three
    exported = [line.strip() for _, line in sandbox.lines if line.startswith("  export ")]
    return dict(line.removeprefix("export ").split("=", 1) for line in exported)


def test_the_quick_start_runs_against_bpcpay_sandbox_as_written(tmp_path: Path) -> None:
    # The README's words: start the sandbox, paste its export lines, run quickstart.py, pay on
    # the printed page, then ask again with `bpcpay sessions get` and the printed session id.
    assert "\n.venv/bin/bpcpay sandbox\n" in README
    assert "`.venv/bin/python quickstart.py`" in README
    assert "`.venv/bin/bpcpay sessions get ps_...`" in README
    quickstart = _python_block("AsyncBpcPay.from_env()")
    (tmp_path / "quickstart.py").write_text(quickstart, encoding="utf-8")

    with Program(["-m", "bpcpay.cli", "sandbox", "--port", "0"]) as sandbox:
        exports = _sandbox_exports(sandbox)
        assert set(exports) == {"BPCPAY_BASE_URL", "BPCPAY_API_KEY", "BPCPAY_WEBHOOK_SECRET"}
        # A shell with the exports pasted, and nothing else of bpcpay's.
        env = {k: v for k, v in os.environ.items() if not k.startswith("BPCPAY_")}
        env.update(exports)
        run = functools.partial(
            subprocess.run,
            capture_output=True,
            text=True,
            timeout=60,
            cwd=tmp_path,
            env=env,
            check=False,
        )
        result = run([sys.executable, "-W", "error", "quickstart.py"])
        assert result.returncode == 0, result.stderr
        session, link, status = result.stdout.splitlines()
        session_id = session.removeprefix("session ")
        assert _pay_on_the_page(exports, session_id)  # the reader, in a browser
        again = run([sys.executable, "-m", "bpcpay.cli", "sessions", "get", session_id])
        assert sandbox.stop() == 0
    gateway = exports["BPCPAY_BASE_URL"].removesuffix("/api2")
    assert re.fullmatch(r"ps_\w+", session_id)
    assert link.startswith(f"pay here: {gateway}/payment/merchants/ecom/payment.html?")
    assert status == "open unpaid"
    assert "POST /api2/sessions -> 200" in sandbox.text("err")  # it really went there
    assert again.returncode == 0, again.stderr
    answer = json.loads(again.stdout)
    assert (answer["status"], answer["paymentStatus"]) == ("complete", "paid")
    assert '`"status": "complete"` and `"paymentStatus": "paid"`' in " ".join(README.split())


def _pay_on_the_page(exports: dict[str, str], session_id: str) -> bool:
    """What the README asks of the reader: the 3-D Secure card on the payment page, "succeed"."""

    async def pay_over_http() -> bool:
        async with aiohttp.ClientSession() as http:
            customer = Customer(http, exports["BPCPAY_BASE_URL"], exports["BPCPAY_API_KEY"])
            result = await customer.pay(
                session_id,
                card="5555 5555 5555 5599",
                cvc="123",
                expiry="12/34",
                holder="A Reader",
                three_ds="succeed",
            )
        return result.succeeded and result.challenged

    return asyncio.run(asyncio.wait_for(pay_over_http(), 30))


# --- what the README says, and does not say ------------------------------------------------------


def test_no_de_duplication_on_the_unsigned_request_id() -> None:
    # API-Request-Id is not signed: a replay can carry any id it likes.
    assert "event.request_id" not in README
    assert "never by the unsigned `API-Request-Id` header" in " ".join(README.split())


def test_the_docs_never_suggest_keying_on_the_request_id() -> None:
    # Every paragraph of the docs that names the request id as something to use says "never"
    # or "not" about keying on it (the API reference renders request_id_key's own docstring,
    # which says "Not recommended").
    paragraphs = [
        paragraph
        for page in sorted((ROOT / "docs").rglob("*.md"))
        for paragraph in page.read_text(encoding="utf-8").split("\n\n")
        if ("event.request_id" in paragraph or "request_id_key" in paragraph)
        and not paragraph.startswith(":::")
    ]
    assert len(paragraphs) >= 2
    for paragraph in paragraphs:
        assert re.search(r"\b(never|not)\b", paragraph), paragraph


def _pending_pages() -> set[str]:
    """The docs pages other branches are writing: the commented-out entries of mkdocs.yml's
    nav (the one list of them)."""
    nav = (ROOT / "mkdocs.yml").read_text(encoding="utf-8")
    return set(re.findall(r"^\s*# - [^:]+: ([\w/-]+\.md)", nav, re.M))


def test_every_relative_link_leads_to_a_file() -> None:
    links = re.findall(r"\]\(([^)#]+)(?:#[^)]*)?\)", README)
    relative = [link for link in links if "://" not in link]
    assert len(relative) >= 10
    pending = {f"docs/{page}" for page in _pending_pages()}
    for link in relative:
        if link in pending and not (ROOT / link).exists():
            continue  # written on another branch; in the site's nav once it lands
        assert (ROOT / link).exists(), link


def test_a_pending_page_is_one_that_has_not_landed() -> None:
    # webhooks-deploying.md (issue 9), inferred.md (issue 11) and reliability.md (issue 10) have
    # all landed: a commented-out nav entry is only for a page still on its way.
    pending = _pending_pages()
    assert pending <= {"webhooks-deploying.md", "reliability.md", "inferred.md"}
    for page in pending:
        assert not (ROOT / "docs" / page).exists(), (
            f"docs/{page} landed: uncomment it in mkdocs.yml"
        )


def test_the_promised_python_versions_are_the_tested_ones() -> None:
    assert "Python 3.10, 3.11, 3.12 and 3.13" in README
    classifiers = importlib.metadata.metadata("bpcpay").get_all("Classifier") or []
    listed = sorted(c.rsplit(" :: ", 1)[1] for c in classifiers if re.search(r":: 3\.\d+$", c))
    assert listed == VERSIONS
    noxfile = (ROOT / "noxfile.py").read_text(encoding="utf-8")
    assert f"PYTHONS = {VERSIONS!r}".replace("'", '"') in noxfile
    assert importlib.metadata.metadata("bpcpay")["Requires-Python"] == ">=3.10"


# --- the README's test, in a project of the reader's own --------------------------------------


def _fresh_project(tmp_path: Path, pyproject: str) -> subprocess.CompletedProcess[str]:
    """The README's test, run by pytest in a new directory with ``pyproject`` as its only
    configuration (none of this repository's)."""
    (tmp_path / "pyproject.toml").write_text(pyproject, encoding="utf-8")
    test = _python_block("def test_checkout(")
    (tmp_path / "test_checkout.py").write_text(test, encoding="utf-8")
    return subprocess.run(
        [sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "-rw"],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=tmp_path,
        env={k: v for k, v in os.environ.items() if not k.startswith(("BPCPAY_", "PYTEST_"))},
        check=False,
    )


def test_the_readmes_test_runs_without_a_warning_in_a_fresh_project(tmp_path: Path) -> None:
    (config,) = _fenced("toml")
    result = _fresh_project(tmp_path, config)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "1 passed" in result.stdout
    assert "warning" not in result.stdout.lower(), result.stdout


def test_without_that_configuration_pytest_asyncio_warns(tmp_path: Path) -> None:
    # The control: the trap the README's configuration avoids is real.
    result = _fresh_project(tmp_path, "[project]\nname = 'shop'\n")
    assert result.returncode == 0, result.stdout + result.stderr
    assert "asyncio_default_fixture_loop_scope" in result.stdout
