"""``bpcpay --help`` and every subcommand's: what a newcomer reads before anything else.

Every command (and group of commands) has a description, every option and argument a help
text, and every option says its default (or that it is required); a default the parser holds
is printed in the help as it is. ``--amount`` explains minor units when it refuses a value, the
sandbox's help shows its port, and ``bpcpay --version`` answers. The installed ``bpcpay``
console script is run as a subprocess for what a person types first.
"""

from __future__ import annotations

import argparse
import re
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from bpcpay import __version__
from bpcpay.cli import build_parser, main

#: The installed console script next to this interpreter (the venv's, or a nox session's).
BPCPAY = Path(sys.executable).parent / "bpcpay"
#: Options whose help argparse writes itself.
_BUILTIN = (argparse._HelpAction, argparse._VersionAction)


def _commands(
    parser: argparse.ArgumentParser, path: tuple[str, ...] = ()
) -> Iterator[tuple[tuple[str, ...], argparse.ArgumentParser]]:
    """Every (sub)command parser, with the words that reach it: ``("sessions", "create")``."""
    yield path, parser
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for name, sub in action.choices.items():
                yield from _commands(sub, (*path, name))


COMMANDS = dict(_commands(build_parser()))


def _run(*argv: str) -> subprocess.CompletedProcess[str]:
    assert BPCPAY.exists(), f"the console script is not installed next to {sys.executable}"
    return subprocess.run(
        [str(BPCPAY), *argv], capture_output=True, text=True, timeout=60, check=False
    )


def test_the_walk_sees_every_command() -> None:
    # The control for the tests below: a walk that found nothing would make them vacuous.
    names = {" ".join(path) for path in COMMANDS}
    assert {
        "sandbox",
        "demo",
        "listen",
        "reconcile",
        "sessions expire",
        "payments capture",
        "refunds create",
        "payment-methods get",
    } <= names
    assert len(COMMANDS) >= 18


@pytest.mark.parametrize("path", list(COMMANDS), ids=lambda p: " ".join(p) or "bpcpay")
def test_every_command_and_option_explains_itself(path: tuple[str, ...]) -> None:
    parser = COMMANDS[path]
    assert parser.description, f"bpcpay {' '.join(path)} has no description"
    text = parser.format_help()
    for action in parser._actions:
        if isinstance(action, _BUILTIN):
            continue
        if isinstance(action, argparse._SubParsersAction):
            for choice in action._choices_actions:  # each command listed with a summary
                assert choice.help, f"{choice.dest} has no summary"
            continue
        name = "/".join(action.option_strings) or action.dest
        assert action.help, f"{name} has no help"
        if not action.option_strings:
            continue  # a positional argument: always given, no default
        words = action.help % {"default": action.default}
        if action.required:
            assert "(required)" in words, name
        else:
            assert "(default: " in words, f"{name} does not say its default"
        default = action.default
        if default not in (None, False, [], argparse.SUPPRESS):  # the value, as it is
            shown = f"{default:g}" if isinstance(default, float) else str(default)
            assert f"(default: {shown}" in " ".join(text.split()), name


def test_every_help_page_prints_and_exits_0(capsys: pytest.CaptureFixture[str]) -> None:
    for path in COMMANDS:
        with pytest.raises(SystemExit) as info:
            main([*path, "--help"])
        assert info.value.code == 0
        out = capsys.readouterr().out
        assert out.startswith(f"usage: bpcpay {' '.join(path)}".rstrip())


def test_the_sandbox_help_shows_its_port() -> None:
    result = _run("sandbox", "--help")
    assert result.returncode == 0, result.stderr
    flat = " ".join(result.stdout.split())
    assert "http://127.0.0.1:8081" in flat
    assert "0 picks a free one (default: 8081)" in flat
    listing = _run("--help")
    assert "run the local sandbox gateway on port 8081" in " ".join(listing.stdout.split())


def test_version() -> None:
    result = _run("--version")
    assert result.returncode == 0, result.stderr
    assert result.stdout == f"bpcpay {__version__}\n"
    assert result.stderr == ""


AMOUNTS = [
    ("sessions", "create", "--currency", "EUR", "--amount"),
    ("payments", "capture", "pay_1", "--amount"),
    ("refunds", "create", "--payment", "pay_1", "--amount"),
]


@pytest.mark.parametrize("command", AMOUNTS, ids=lambda c: " ".join(c[:2]))
@pytest.mark.parametrize("value", ["10.00", "0", "-5", "ten"])
def test_an_amount_that_is_not_minor_units_is_a_usage_error_that_says_so(
    command: tuple[str, ...], value: str, capsys: pytest.CaptureFixture[str]
) -> None:
    # Refused before any configuration is read or anything is sent (no gateway here at all).
    with pytest.raises(SystemExit) as info:
        main([*command, value])
    assert info.value.code == 2
    err = capsys.readouterr().err
    assert (
        f"argument --amount: takes a positive whole number in minor units (10.00 EUR is "
        f"1000), got {value!r}" in err
    )


def test_the_amount_error_as_a_person_sees_it() -> None:
    result = _run("sessions", "create", "--amount", "24.00", "--currency", "EUR")
    assert result.returncode == 2
    assert "minor units (10.00 EUR is 1000), got '24.00'" in result.stderr
    assert "Traceback" not in result.stderr


def test_the_servers_a_developer_runs_at_once_default_to_different_ports() -> None:
    # `bpcpay demo` and `mkdocs serve` both took 8000: the second one started failed.
    config = (Path(__file__).resolve().parent.parent / "mkdocs.yml").read_text(encoding="utf-8")
    dev_addr = re.search(r"^dev_addr: \S+:(\d+)$", config, re.M)
    defaults = {
        "mkdocs serve": int(dev_addr.group(1)) if dev_addr else 8000,  # mkdocs' own default
        **{
            f"bpcpay {name}": COMMANDS[(name,)].get_default("port")
            for name in ("sandbox", "listen")
        },
        "bpcpay demo": int(
            re.search(
                r"\(default: (\d+);", " ".join(COMMANDS[("demo",)].format_help().split())
            ).group(1)  # type: ignore[union-attr]
        ),
    }
    assert defaults["bpcpay demo"] == 8082
    assert len(set(defaults.values())) == len(defaults), defaults
