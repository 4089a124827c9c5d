"""Real servers for the adapter tests, and the clients that load them: stalled slow bodies,
raw HTTP/1.1 requests, and the server's resident memory read from outside (``/proc``).

A server binds 127.0.0.1 on a free port (``:0``; the port is read from its own log line), runs
from the directory of the app it serves, logs to a bounded buffer, and is stopped (SIGTERM,
then SIGKILL) when its block ends. Every wait has a deadline.
"""

from __future__ import annotations

import contextlib
import os
import re
import signal
import socket
import subprocess
import sys
import threading
import time
from collections import deque
from collections.abc import Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import attrs

from bpcpay.webhooks import sign

TESTS = Path(__file__).resolve().parent
BIN = Path(sys.executable).parent
LOOPBACK = "127.0.0.1"
_LISTENING = re.compile(r"(?:Listening at|running on|listening on):? http://127\.0\.0\.1:(\d+)")


@attrs.define
class Server:
    """A running server: its process, port and the last lines of its log."""

    process: subprocess.Popen[str]
    port: int = 0
    log: deque[str] = attrs.field(factory=lambda: deque(maxlen=400))
    ready: threading.Event = attrs.field(factory=threading.Event)

    def read_output(self) -> None:
        assert self.process.stderr is not None
        for line in self.process.stderr:
            self.log.append(line.rstrip())
            if (match := _LISTENING.search(line)) and not self.port:
                self.port = int(match.group(1))
                self.ready.set()
        self.ready.set()

    def url(self, path: str = "") -> str:
        return f"http://{LOOPBACK}:{self.port}{path}"

    def text(self) -> str:
        return "\n".join(self.log)


@contextlib.contextmanager
def serve(
    command: Sequence[str], *, env: dict[str, str], cwd: Path = TESTS, deadline: float = 30.0
) -> Iterator[Server]:
    """Run ``command`` (a server on 127.0.0.1:0) in ``cwd`` until the block ends."""
    path = [p for p in os.environ.get("PYTHONPATH", "").split(os.pathsep) if p]
    process = subprocess.Popen(
        list(command),
        env={**os.environ, **env, "PYTHONPATH": os.pathsep.join([str(cwd), str(TESTS), *path])},
        cwd=cwd,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    server = Server(process)
    reader = threading.Thread(target=server.read_output, daemon=True)
    reader.start()
    try:
        server.ready.wait(deadline)
        assert server.port, "the server did not start:\n" + server.text()
        yield server
    finally:
        if process.poll() is None:
            process.send_signal(signal.SIGTERM)
            try:
                process.wait(15)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(10)
        reader.join(10)
        if process.stderr is not None:
            process.stderr.close()


def aiohttp_runner(module: Path | None = None) -> list[str]:
    """aiohttp's web runner serving ``_contrib_apps``'s app, or the ``app`` of ``module``."""
    return [sys.executable, str(TESTS / "_contrib_apps.py"), "aiohttp"] + (
        [str(module)] if module else []
    )


def uvicorn(app: str, *options: str) -> list[str]:
    return [
        str(BIN / "uvicorn"),
        "--host",
        LOOPBACK,
        "--port",
        "0",
        "--timeout-graceful-shutdown",
        "1",
        "--no-access-log",
        *options,
        app,
    ]


def gunicorn(app: str, *options: str) -> list[str]:
    # No control socket: by default gunicorn puts one in $HOME, shared by every run.
    return [
        str(BIN / "gunicorn"),
        "-b",
        f"{LOOPBACK}:0",
        "--graceful-timeout",
        "1",
        "--no-control-socket",
        "--log-level",
        "info",
        *options,
        app,
    ]


def rss_mib(pid: int) -> float:
    """The resident memory of process ``pid`` in MiB, as the kernel counts it."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    raise AssertionError(f"no VmRSS for pid {pid}")


def request_head(
    path: str, headers: dict[str, str], *, length: int | None, method: str = "POST"
) -> bytes:
    """An HTTP/1.1 request head; chunked when ``length`` is None."""
    lines = [f"{method} {path} HTTP/1.1", f"Host: {LOOPBACK}"]
    lines += [f"{name}: {value}" for name, value in headers.items()]
    lines.append("Transfer-Encoding: chunked" if length is None else f"Content-Length: {length}")
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1")


def chunked(body: bytes, size: int = 100) -> bytes:
    """``body`` in the chunked transfer coding, ``size`` bytes a chunk, with its last chunk."""
    parts = [
        b"%x\r\n%s\r\n" % (len(body[i : i + size]), body[i : i + size])
        for i in range(0, len(body), size)
    ]
    return b"".join(parts) + b"0\r\n\r\n"


def signed_headers(body: bytes, secret: str) -> dict[str, str]:
    return {"Content-Type": "application/json", "X-Signature": sign(body, secret)}


def read_answer(sock: socket.socket, deadline: float) -> tuple[int, bytes]:
    """The status and the whole answer of one request on ``sock`` (its head, and its body
    decoded: of its Content-Length, chunked, or to the end of the connection), read before
    ``deadline`` (a monotonic time)."""
    data = b""

    def more() -> bool:
        nonlocal data
        sock.settimeout(max(0.01, deadline - time.monotonic()))
        chunk = sock.recv(65536)
        data += chunk
        return bool(chunk)

    while b"\r\n\r\n" not in data and more():
        pass
    head, _, body = data.partition(b"\r\n\r\n")
    match = re.match(rb"HTTP/1\.[01] (\d{3})", head)
    assert match, f"no HTTP answer: {data[:200]!r}"
    length = re.search(rb"(?im)^content-length:\s*(\d+)", head)
    if length:
        while len(data.partition(b"\r\n\r\n")[2]) < int(length.group(1)) and more():
            pass
        body = data.partition(b"\r\n\r\n")[2]
    elif re.search(rb"(?im)^transfer-encoding:\s*chunked", head):
        while not data.endswith(b"0\r\n\r\n") and more():
            pass
        body = _dechunk(data.partition(b"\r\n\r\n")[2])
    elif not head.startswith(b"HTTP/1.1 1") and match.group(1) not in (b"204", b"304"):
        while more():
            pass
        body = data.partition(b"\r\n\r\n")[2]
    return int(match.group(1)), head + b"\r\n\r\n" + body


def _dechunk(data: bytes) -> bytes:
    body = b""
    while data:
        size_line, _, data = data.partition(b"\r\n")
        size = int(size_line.split(b";")[0], 16)
        if size == 0:
            break
        body, data = body + data[:size], data[size + 2 :]
    return body


def exchange(port: int, raw: bytes, timeout: float = 20.0) -> tuple[int, bytes]:
    """Send ``raw`` (a whole request) on a new connection; the answer's status and bytes."""
    with socket.create_connection((LOOPBACK, port), timeout) as sock:
        sock.sendall(raw)
        return read_answer(sock, time.monotonic() + timeout)


def deliver(
    port: int, path: str, body: bytes, secret: str, timeout: float = 20.0
) -> tuple[int, str]:
    """POST a signed delivery; its status and the body of the answer."""
    raw = request_head(path, signed_headers(body, secret), length=len(body)) + body
    status, answer = exchange(port, raw, timeout)
    return status, answer.partition(b"\r\n\r\n")[2].decode("latin-1")


class Stalled:
    """``count`` connections, each sending a request head and ``sent`` bytes of a body that
    declares ``declared`` bytes, then nothing: the slow senders that hold a server."""

    def __init__(self, port: int, path: str, *, count: int, declared: int, sent: int) -> None:
        self.sockets: list[socket.socket] = []
        head = request_head(path, {"Content-Type": "application/json"}, length=declared)
        payload = head + b"x" * sent

        def open_one(_: int) -> socket.socket:
            sock = socket.create_connection((LOOPBACK, port), 30)
            sock.sendall(payload)
            return sock

        with ThreadPoolExecutor(32) as pool:
            self.sockets = list(pool.map(open_one, range(count)))

    def answers(self, timeout: float) -> list[int | str]:
        """Each connection's answer status, or what happened instead, within ``timeout``."""
        deadline = time.monotonic() + timeout
        found: list[int | str] = []
        for sock in self.sockets:
            try:
                found.append(read_answer(sock, deadline)[0])
            except TimeoutError:
                found.append("no answer")
            except (OSError, AssertionError) as exc:
                found.append(type(exc).__name__)
        return found

    def close(self) -> None:
        for sock in self.sockets:
            sock.close()

    def __enter__(self) -> Stalled:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def settle(
    pid: int, *, above: float | None = None, below: float | None = None, timeout: float
) -> float:
    """The process's RSS once it is above ``above`` (or below ``below``) MiB, or when
    ``timeout`` runs out: its last value, for the assertion that follows."""
    deadline = time.monotonic() + timeout
    while True:
        rss = rss_mib(pid)
        reached = (above is not None and rss > above) or (below is not None and rss < below)
        if reached or time.monotonic() > deadline:
            return rss
        time.sleep(0.05)
