"""``bpcpay sandbox`` as a subprocess: the startup banner's credentials work with the SDK, a paid
session is delivered (signed with the printed secret) to the --webhook-url, requests and
deliveries are logged to stderr, and SIGINT / SIGTERM stop it cleanly."""

from __future__ import annotations

import asyncio
import os
import queue
import signal
import socket
import subprocess
import sys
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import IO

import aiohttp
import pytest
from _processes import Program

from bpcpay import BpcPay
from bpcpay.cli import main
from bpcpay.sandbox import TestCards
from bpcpay.sandbox._customer import Customer
from bpcpay.webhooks import construct_event

TIMEOUT = 20.0


class Receiver:
    """A webhook endpoint on loopback (stdlib, its own thread) that queues what it gets."""

    def __init__(self) -> None:
        self.received: queue.Queue[tuple[bytes, dict[str, str]]] = queue.Queue()
        received = self.received

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers["Content-Length"]))
                received.put((body, dict(self.headers.items())))
                self.send_response(200)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, format: str, *args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hooks"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def __enter__(self) -> Receiver:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.shutdown()
        self.server.server_close()
        self.thread.join(TIMEOUT)


def _pump(stream: IO[str], lines: queue.Queue[str]) -> None:
    for line in stream:
        lines.put(line)


class Sandbox:
    """``bpcpay sandbox`` in a subprocess; stdout and stderr lines are read by threads into
    queues, so the test can wait for a line without ever blocking past a timeout."""

    def __init__(self, *args: str) -> None:
        env = {**os.environ, "PYTHONUNBUFFERED": "1"}
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "bpcpay.cli", "sandbox", "--port", "0", *args],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env=env,
        )
        assert self.proc.stdout is not None and self.proc.stderr is not None
        self.lines: queue.Queue[str] = queue.Queue()
        self.log: queue.Queue[str] = queue.Queue()
        self.readers = [
            threading.Thread(target=_pump, args=(self.proc.stdout, self.lines), daemon=True),
            threading.Thread(target=_pump, args=(self.proc.stderr, self.log), daemon=True),
        ]
        for reader in self.readers:
            reader.start()
        self.banner: list[str] = []
        self.seen_log: list[str] = []

    def read_banner(self) -> dict[str, str]:
        """The banner up to its last line; returns the ``export NAME=value`` pairs."""
        while True:
            line = self.lines.get(timeout=TIMEOUT).rstrip("\n")
            self.banner.append(line)
            if line.endswith("Ctrl-C to stop."):
                break
        pairs = [line.split()[1] for line in self.banner if line.lstrip().startswith("export ")]
        return dict(pair.split("=", 1) for pair in pairs)

    def wait_for_log(self, text: str) -> None:
        """Block (at most TIMEOUT) until a stderr line contains ``text``."""
        while not any(text in line for line in self.seen_log):
            self.seen_log.append(self.log.get(timeout=TIMEOUT))

    def stop(self, signum: int) -> tuple[int, str, str]:
        """Send ``signum``; (exit status, rest of stdout, all of stderr)."""
        self.proc.send_signal(signum)
        status = self.proc.wait(timeout=TIMEOUT)
        for reader in self.readers:
            reader.join(TIMEOUT)
        rest = []
        while not self.lines.empty():
            rest.append(self.lines.get())
        while not self.log.empty():
            self.seen_log.append(self.log.get())
        return status, "".join(rest), "".join(self.seen_log)

    def kill(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(timeout=TIMEOUT)
        for reader in self.readers:
            reader.join(TIMEOUT)
        for stream in (self.proc.stdout, self.proc.stderr):
            if stream is not None:
                stream.close()


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    with Receiver() as r:
        yield r


def _pay(base_url: str, api_key: str, session_id: str) -> bool:
    async def run() -> bool:
        async with aiohttp.ClientSession() as http:
            result = await Customer(http, base_url, api_key).pay(
                session_id,
                card=TestCards.SUCCESS_CHALLENGE,
                cvc=None,
                expiry=None,
                holder="T",
                three_ds="succeed",
            )
        return result.succeeded

    return asyncio.run(run())


def test_banner_credentials_work_and_sigint_stops_cleanly(receiver: Receiver) -> None:
    sandbox = Sandbox("--webhook-url", receiver.url, "--events", "session.completed")
    try:
        env = sandbox.read_banner()
        base_url = env["BPCPAY_BASE_URL"]
        api_key = env["BPCPAY_API_KEY"]
        secret = env["BPCPAY_WEBHOOK_SECRET"]
        assert base_url.startswith("http://127.0.0.1:") and base_url.endswith("/api2")
        assert api_key.startswith("sk_test_")
        assert secret.startswith("whsec_")
        text = "\n".join(sandbox.banner)
        assert "sandbox-only credentials" in text
        assert f"webhooks        {receiver.url} (session.completed)" in text
        port = base_url.removeprefix("http://127.0.0.1:").removesuffix("/api2")
        assert f"  listening on    127.0.0.1:{port} (this machine only)" in sandbox.banner
        # Printed once: the banner, and nowhere else.
        assert text.count(api_key) == 2 and text.count(secret) == 2

        with BpcPay(api_key=api_key, base_url=base_url, timeout=TIMEOUT) as client:
            session = client.sessions.create(
                amount=1500,
                currency="EUR",
                success_url="https://shop.example/ok",
                failure_url="https://shop.example/no",
                merchant_reference_id="order-7",
            )
            assert session.id.startswith("ps_")
            assert client.sessions.retrieve(session.id).merchant_reference_id == "order-7"
        assert _pay(base_url, api_key, session.id)
        body, headers = receiver.received.get(timeout=TIMEOUT)
        event = construct_event(body, headers, secret=secret)
        assert event.type == "session.completed"
        assert event.data.object.id == session.id  # type: ignore[union-attr]
        # The delivery's log line comes once the receiver has answered: wait for it.
        sandbox.wait_for_log(f"webhook session.completed -> {receiver.url}: 200 (attempt 1")

        status, out, err = sandbox.stop(signal.SIGINT)
    finally:
        sandbox.kill()
    assert status == 0, err
    assert out.strip() == ""  # stopping is said once, by the log line on stderr
    assert err.count("stopped") == 1
    assert "Traceback" not in err
    assert "Warning" not in err
    assert "KeyboardInterrupt" not in err
    # Every request and the delivery are logged; the credentials never are.
    assert "POST /api2/sessions -> 200" in err
    assert f"GET /api2/sessions/{session.id} -> 200" in err
    assert f"webhook session.completed -> {receiver.url}: 200 (attempt 1" in err
    assert api_key not in err
    assert secret not in err


def test_sigterm_also_stops_cleanly() -> None:
    sandbox = Sandbox()
    try:
        env = sandbox.read_banner()
        assert "  webhooks        none (--webhook-url URL)" in sandbox.banner
        assert env["BPCPAY_BASE_URL"].endswith("/api2")
        status, out, err = sandbox.stop(signal.SIGTERM)
    finally:
        sandbox.kill()
    assert status == 0, err
    assert out.strip() == ""
    assert "Traceback" not in err
    assert err.count("stopped") == 1 and "sandbox gateway stopped" in err


def test_a_busy_port_is_an_error_not_a_traceback(capsys: pytest.CaptureFixture[str]) -> None:
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        assert main(["sandbox", "--port", str(port)]) == 1
    err = capsys.readouterr().err
    assert f"cannot listen on 127.0.0.1:{port}" in err
    assert "Traceback" not in err


def test_a_bad_webhook_url_is_refused(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["sandbox", "--port", "0", "--webhook-url", "ftp://x"]) == 2
    assert "--webhook-url must be an http(s) URL" in capsys.readouterr().err


# --- pinned credentials, the bound address, the network warning ---------------------------------

PINNED_KEY = "sk_test_pinned_for_tests_0001"
PINNED_SECRET = "whsec_pinned_for_tests_0001"


def _environment(**pinned: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("BPCPAY_")}
    return {**env, **pinned}


@pytest.mark.parametrize("how", ["options", "variables"])
def test_pinned_credentials_survive_a_restart(how: str, receiver: Receiver) -> None:
    if how == "options":
        args = ["--api-key", PINNED_KEY, "--webhook-secret", PINNED_SECRET]
        env = _environment()
        origin = "pinned with an option"
    else:
        args = []
        env = _environment(
            BPCPAY_SANDBOX_API_KEY=PINNED_KEY, BPCPAY_SANDBOX_WEBHOOK_SECRET=PINNED_SECRET
        )
        origin = "pinned by $BPCPAY_SANDBOX_"
    for _run in range(2):  # the same credentials after a restart
        with Program(
            [
                "-m",
                "bpcpay",
                "sandbox",
                "--port",
                "0",
                "--webhook-url",
                receiver.url,
                "--events",
                "session.completed",
                *args,
            ],
            env=env,
        ) as sandbox:
            sandbox.wait_for_line("Ctrl-C to stop.")
            base_url = sandbox.wait_for_line("export BPCPAY_BASE_URL=").split("=", 1)[1]
            assert f"  export BPCPAY_API_KEY={PINNED_KEY}" in sandbox.text("out")
            assert f"  export BPCPAY_WEBHOOK_SECRET={PINNED_SECRET}" in sandbox.text("out")
            assert f"API key         {PINNED_KEY} ({origin}" in sandbox.text("out")
            with BpcPay(api_key=PINNED_KEY, base_url=base_url, timeout=TIMEOUT) as client:
                session = client.sessions.create(
                    amount=100,
                    currency="EUR",
                    success_url="https://shop.example/ok",
                    failure_url="https://shop.example/no",
                )
            assert _pay(base_url, PINNED_KEY, session.id)
            body, headers = receiver.received.get(timeout=TIMEOUT)
            assert construct_event(body, headers, secret=PINNED_SECRET).type == "session.completed"
            assert sandbox.stop() == 0
        assert PINNED_KEY not in sandbox.text("err")  # the log never shows them
        assert PINNED_SECRET not in sandbox.text("err")


@pytest.mark.parametrize(
    ("argv", "env", "message"),
    [
        (
            ["--api-key", "sk test key\twith spaces"],
            {},
            "--api-key (or $BPCPAY_SANDBOX_API_KEY) must be visible ASCII characters without "
            "spaces (clients send it in a header)",
        ),
        (
            [],
            {"BPCPAY_SANDBOX_API_KEY": "sk_test_ключ"},
            "--api-key (or $BPCPAY_SANDBOX_API_KEY) must be visible ASCII characters",
        ),
        (
            ["--webhook-secret", "   "],
            {},
            "--webhook-secret (or $BPCPAY_SANDBOX_WEBHOOK_SECRET) is empty or only whitespace",
        ),
        (["--api-key", ""], {}, "--api-key (or $BPCPAY_SANDBOX_API_KEY) must be visible ASCII"),
        (["--webhook-secret", ""], {}, "--webhook-secret (or $BPCPAY_SANDBOX_WEBHOOK_SECRET) is"),
    ],
)
def test_a_bad_pinned_credential_is_refused_without_showing_it(
    argv: list[str],
    env: dict[str, str],
    message: str,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    assert main(["sandbox", "--port", "0", *argv]) == 2
    out, err = capsys.readouterr()
    assert out == ""
    assert err.startswith(f"bpcpay sandbox: {message}")
    assert len(err.splitlines()) == 1
    for value in [*argv[1:], *env.values()]:
        if value.strip():
            assert value not in err


def test_an_empty_variable_counts_as_unset(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("BPCPAY_SANDBOX_API_KEY", "")
    with Program(["-m", "bpcpay", "sandbox", "--port", "0"], env=os.environ.copy()) as sandbox:
        line = sandbox.wait_for_line("  API key ")
        assert line.split()[2].startswith("sk_test_") and line.endswith("(made for this run)")
        assert sandbox.stop() == 0


@pytest.mark.parametrize(
    ("events", "shown"),
    [
        ("session.completed", "session.completed"),
        ("payment.*", "payment.amountCapturableUpdated, payment.canceled, payment.created"),
        ("session.expired,session.*", "session.expired, session.completed"),
    ],
)
def test_events_take_known_types_and_patterns(events: str, shown: str) -> None:
    with Program(
        [
            "-m",
            "bpcpay",
            "sandbox",
            "--port",
            "0",
            "--webhook-url",
            "http://127.0.0.1:9/x",
            "--events",
            events,
        ]
    ) as sandbox:
        line = sandbox.wait_for_line("  webhooks        ")
        assert sandbox.stop() == 0
    assert f"http://127.0.0.1:9/x ({shown}" in line


@pytest.mark.parametrize(
    ("events", "message"),
    [
        ("bogus.event", "--events: 'bogus.event' is no event type; the known ones: "),
        ("session.completed,Session.Expired", "'Session.Expired' is no event type"),
        ("charge.*", "--events: 'charge.*' matches no event type; the known ones: "),
    ],
)
def test_unknown_events_are_refused(
    events: str, message: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["sandbox", "--port", "0", "--events", events]) == 2
    err = capsys.readouterr().err
    assert message in err and "session.completed" in err
    assert len(err.splitlines()) == 1


def _listening(port: int) -> set[str]:
    """The local addresses of the TCP sockets listening on ``port`` (IPv4, /proc/net/tcp)."""
    found = set()
    for row in Path("/proc/net/tcp").read_text().splitlines()[1:]:
        local, state = row.split()[1], row.split()[3]
        address, hex_port = local.split(":")
        if state == "0A" and int(hex_port, 16) == port:
            found.add(socket.inet_ntoa(bytes.fromhex(address)[::-1]))
    return found


def test_the_wildcard_host_says_so_and_warns() -> None:
    # The issue: bound with --host 0.0.0.0, it printed 127.0.0.1 and said nothing of the network.
    # (Bound for under a second, and nothing is sent: the test talks to loopback only.)
    with Program(["-m", "bpcpay", "sandbox", "--host", "0.0.0.0", "--port", "0"]) as sandbox:
        listening = sandbox.wait_for_line("  listening on ")
        base_url = sandbox.wait_for_line("  base URL ").split()[-1]
        warning = sandbox.wait_for_line("warning", stream="err")
        port = int(base_url.removeprefix("http://127.0.0.1:").removesuffix("/api2"))
        bound = _listening(port)
        logged = sandbox.wait_for_line("sandbox gateway listening on", stream="err")
        assert sandbox.stop() == 0
    assert bound == {"0.0.0.0"}
    assert listening == f"  listening on    0.0.0.0:{port} (REACHABLE FROM THE NETWORK)"
    assert warning == (
        "bpcpay sandbox: warning: --host 0.0.0.0 makes the sandbox reachable from the network: "
        "anyone who can reach this machine can call its API and pay its sessions "
        "(the default, 127.0.0.1, keeps it to this machine)"
    )
    assert logged.endswith(f"listening on 0.0.0.0:{port} (http://127.0.0.1:{port}/api2)")


def test_loopback_binds_loopback_and_does_not_warn() -> None:
    with Program(["-m", "bpcpay", "sandbox", "--port", "0"]) as sandbox:
        base_url = sandbox.wait_for_line("  base URL ").split()[-1]
        port = int(base_url.removeprefix("http://127.0.0.1:").removesuffix("/api2"))
        assert _listening(port) == {"127.0.0.1"}
        assert sandbox.stop() == 0
    assert "warning" not in sandbox.text("err")


def test_ctrl_c_is_reported_once_on_the_terminal() -> None:
    # A terminal shows stdout and stderr together: "stopped" once there, not twice.
    with Program(["-m", "bpcpay", "sandbox", "--port", "0"]) as sandbox:
        sandbox.wait_for_line("Ctrl-C to stop.")
        assert sandbox.stop() == 0
    said = [line for _, line in sandbox.lines if "stopped" in line]
    assert len(said) == 1 and said[0].endswith("bpcpay.sandbox sandbox gateway stopped")
