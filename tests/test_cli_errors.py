"""Every way a person can get a ``bpcpay`` command wrong ends in a short refusal, never a
traceback: at most three lines on stderr (``usage: bpcpay COMMAND [options]`` and the message),
exit status 2, whatever the terminal's width and when piped. Ports out of range, bad numbers,
unknown options and missing arguments, for every subcommand; ``python -m bpcpay`` is the same
command."""

from __future__ import annotations

import subprocess
import sys

import pytest

from bpcpay import __version__
from bpcpay.cli import build_parser, main
from bpcpay.cli._common import CommandParser, host_is_loopback


def _commands(
    parser: CommandParser, path: tuple[str, ...] = ()
) -> list[tuple[tuple[str, ...], CommandParser]]:
    found = [(path, parser)]
    if parser.subcommands is not None:
        for name, sub in parser.subcommands.choices.items():
            found += _commands(sub, (*path, name))
    return found


COMMANDS = dict(_commands(build_parser()))
#: Every command that listens on a port.
SERVERS = [path for path, parser in COMMANDS.items() if "--port" in parser.format_usage()]


def _refusal(argv: list[str], capsys: pytest.CaptureFixture[str]) -> list[str]:
    """The stderr lines of a refused command line (exit status 2, nothing on stdout)."""
    with pytest.raises(SystemExit) as info:
        main(argv)
    assert info.value.code == 2
    out, err = capsys.readouterr()
    assert out == ""
    return err.splitlines()


def test_the_walk_sees_every_command_and_every_server() -> None:
    # The control for the tests below (a walk that found nothing would make them vacuous).
    assert len(COMMANDS) >= 18
    assert {("sandbox",), ("demo",), ("listen",)} <= set(SERVERS)
    assert all(isinstance(parser, CommandParser) for parser in COMMANDS.values())


@pytest.mark.parametrize("path", list(COMMANDS), ids=lambda p: " ".join(p) or "bpcpay")
def test_an_unknown_option_is_two_lines(
    path: tuple[str, ...], capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("COLUMNS", "40")  # a narrow terminal: argparse would wrap its usage
    lines = _refusal([*path, "--no-such-option"], capsys)
    prog = " ".join(("bpcpay", *path))
    assert len(lines) == 2, lines
    assert lines[0].startswith(f"usage: {prog} [options]")
    assert lines[0].endswith(f"('{prog} --help' explains)")
    assert lines[1].startswith(f"{prog}: error: ")


@pytest.mark.parametrize("path", SERVERS, ids=" ".join)
@pytest.mark.parametrize("port", ["99999", "70000", "65536", "-1", "eighty"])
def test_a_port_out_of_range_is_a_usage_error(
    path: tuple[str, ...], port: str, capsys: pytest.CaptureFixture[str]
) -> None:
    lines = _refusal([*path, "--port", port], capsys)
    assert len(lines) == 2
    assert lines[1].endswith(
        f"argument --port: takes a port number from 0 to 65535 (0 picks a free one), got {port!r}"
    )


@pytest.mark.parametrize("timeout", ["0", "-3", "inf", "nan", "soon"])
def test_the_demos_timeout_must_be_positive_seconds(
    timeout: str, capsys: pytest.CaptureFixture[str]
) -> None:
    lines = _refusal(["demo", "--auto", "--timeout", timeout], capsys)
    assert lines[1].endswith(f"takes a positive number of seconds, got {timeout!r}")


def test_a_missing_command_and_a_missing_argument(capsys: pytest.CaptureFixture[str]) -> None:
    assert _refusal([], capsys) == [
        "usage: bpcpay [options] COMMAND  ('bpcpay --help' explains)",
        "bpcpay: error: the following arguments are required: COMMAND",
    ]
    lines = _refusal(["sessions", "get"], capsys)
    assert lines[0].startswith("usage: bpcpay sessions get [options] id ")


@pytest.mark.parametrize(
    "argv",
    [
        ["sandbox", "--port", "99999"],
        ["listen", "--port", "70000", "--secret", "whsec_x"],
        ["demo", "--port", "70000"],
        ["sandbox", "--events", "bogus.event"],
        ["sessions", "create", "--amount", "24.00", "--currency", "EUR"],
    ],
    ids=" ".join,
)
def test_as_a_person_sees_it_piped(argv: list[str]) -> None:
    # The issue's own examples, run as the console command with stderr piped: 14 to 39 lines
    # of traceback each, before.
    result = subprocess.run(
        [sys.executable, "-m", "bpcpay", *argv],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 2
    assert "Traceback" not in result.stderr
    assert 1 <= len(result.stderr.splitlines()) <= 3, result.stderr
    assert result.stdout == ""


def test_python_dash_m_bpcpay_is_the_command() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "bpcpay", "--version"],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert (result.returncode, result.stdout, result.stderr) == (0, f"bpcpay {__version__}\n", "")


def test_a_misspelt_option_never_echoes_its_value(capsys: pytest.CaptureFixture[str]) -> None:
    # argparse would print "unrecognized arguments: --api_key sk_test_secret": the value after a
    # misspelt option may be a key.
    lines = _refusal(["sandbox", "--api_key", "sk_test_NotToBeShown", "--bogus=x"], capsys)
    assert lines[1] == (
        "bpcpay sandbox: error: unrecognized option(s): --api_key --bogus (and 1 more word)"
    )
    assert "NotToBeShown" not in "".join(lines)


def test_a_word_too_many_is_counted_not_shown(capsys: pytest.CaptureFixture[str]) -> None:
    lines = _refusal(["sessions", "get", "ps_1", "sk_live_NotToBeShown"], capsys)
    assert lines[1] == "bpcpay sessions get: error: unexpected argument(s): 1 word(s) too many"


def test_a_value_the_sdk_refuses_is_one_line_too() -> None:
    # Past the parser: the SDK's own check refuses it (a byte that is no UTF-8, as a shell in
    # a UTF-8 locale passes it on), and the refusal is its one line, not a traceback.
    result = subprocess.run(
        [
            sys.executable.encode(),
            b"-m",
            b"bpcpay",
            b"sandbox",
            b"--port",
            b"0",
            b"--host",
            b"\xff",
        ],
        capture_output=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 2
    assert result.stderr.decode() == (
        "bpcpay sandbox: host: must be valid Unicode text (it contains a lone surrogate)\n"
    )


@pytest.mark.parametrize(
    ("host", "loopback"),
    [
        ("127.0.0.1", True),
        ("127.0.0.2", True),
        ("::1", True),
        ("localhost", True),
        ("0.0.0.0", False),
        ("", False),
        ("::", False),
        ("192.0.2.7", False),
        ("shop.example", False),
    ],
)
def test_which_hosts_keep_a_server_to_this_machine(host: str, loopback: bool) -> None:
    assert host_is_loopback(host) is loopback
