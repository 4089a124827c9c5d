"""Real web servers (gunicorn, uvicorn) serving ``_webhook_app.py``, and a client that posts
signed deliveries to them from many threads.

Servers bind 127.0.0.1 on an ephemeral port (``:0``; the port is read from the server's own log
line), log to a bounded buffer, and are stopped (SIGTERM, then SIGKILL) when the block ends.
"""

from __future__ import annotations

import contextlib
import http.client
import json
import os
import re
import signal
import subprocess
import sys
import threading
import time
from collections import deque
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import attrs

from bpcpay.webhooks import sign

TESTS = Path(__file__).resolve().parent
BIN = Path(sys.executable).parent
_LISTENING = re.compile(r"(?:Listening at|running on):? http://127\.0\.0\.1:(\d+)")
_BOOTED = re.compile(r"Booting worker with pid: (\d+)|Started server process \[(\d+)\]")


@attrs.define
class Server:
    """A running server: its port, its log (last lines), and its worker pids as they boot."""

    process: subprocess.Popen[str]
    port: int = 0
    log: deque[str] = attrs.field(factory=lambda: deque(maxlen=500))
    workers: list[int] = attrs.field(factory=list)
    ready: threading.Event = attrs.field(factory=threading.Event)

    def read_output(self) -> None:
        assert self.process.stderr is not None
        for line in self.process.stderr:
            self.log.append(line.rstrip())
            if (match := _LISTENING.search(line)) and not self.port:
                self.port = int(match.group(1))
                self.ready.set()
            if booted := _BOOTED.search(line):
                self.workers.append(int(booted.group(1) or booted.group(2)))
        self.ready.set()

    def wait_workers(self, count: int, deadline: float = 30.0) -> None:
        end = time.monotonic() + deadline
        while len(self.workers) < count and time.monotonic() < end:
            time.sleep(0.02)
        assert len(self.workers) >= count, "\n".join(self.log)


@contextlib.contextmanager
def serve(command: Sequence[str], env: dict[str, str], workers: int) -> Iterator[Server]:
    """Run ``command`` (gunicorn or uvicorn on 127.0.0.1:0) until the block ends."""
    process = subprocess.Popen(
        list(command),
        env={**os.environ, **env, "PYTHONPATH": str(TESTS)},
        cwd=TESTS,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    server = Server(process)
    reader = threading.Thread(target=server.read_output, daemon=True)
    reader.start()
    try:
        server.ready.wait(30)
        assert server.port, "the server did not start:\n" + "\n".join(server.log)
        server.wait_workers(workers)
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


def gunicorn(*options: str, app: str = "_webhook_app:application") -> list[str]:
    # No control socket: by default gunicorn puts one in $HOME, shared by every run.
    return [
        str(BIN / "gunicorn"),
        "-b",
        "127.0.0.1:0",
        "--graceful-timeout",
        "2",
        "--no-control-socket",
        "--log-level",
        "info",
        *options,
        app,
    ]


def uvicorn(*options: str, app: str = "_webhook_app:asgi_app") -> list[str]:
    return [
        str(BIN / "uvicorn"),
        "--host",
        "127.0.0.1",
        "--port",
        "0",
        "--timeout-graceful-shutdown",
        "2",
        "--no-access-log",
        *options,
        app,
    ]


def completed_event(session_id: str, created: str = "2024-03-28T08:30:00Z") -> bytes:
    obj = {"id": session_id, "amount": 1000, "currency": "EUR", "status": "complete"}
    event = {"created": created, "type": "session.completed", "data": {"object": obj}}
    return json.dumps(event).encode()


def post(
    port: int, body: bytes, secret: str, *, conn: http.client.HTTPConnection | None = None
) -> tuple[int, str]:
    """POST one signed delivery; returns (status, body text)."""
    own = conn is None
    conn = conn or http.client.HTTPConnection("127.0.0.1", port, timeout=60)
    headers = {"Content-Type": "application/json", "X-Signature": sign(body, secret)}
    try:
        conn.request("POST", "/webhooks/bpc", body=body, headers=headers)
        response = conn.getresponse()
        return response.status, response.read().decode()
    finally:
        if own:
            conn.close()


def blast(port: int, bodies: Sequence[bytes], secret: str, threads: int = 16) -> list[Any]:
    """Post every body from ``threads`` threads (kept-alive connections); results in order."""
    results: list[Any] = [None] * len(bodies)
    cursor = iter(range(len(bodies)))
    lock = threading.Lock()

    def worker() -> None:
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
        try:
            while True:
                with lock:
                    index = next(cursor, None)
                if index is None:
                    return
                try:
                    results[index] = post(port, bodies[index], secret, conn=conn)
                except (OSError, http.client.HTTPException) as exc:
                    results[index] = exc
                    conn.close()
                    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
        finally:
            conn.close()

    pool = [threading.Thread(target=worker) for _ in range(threads)]
    for thread in pool:
        thread.start()
    for thread in pool:
        thread.join(300)
    return results


def wait_for_blocked(block_dir: Path, session_id: str, deadline: float = 30.0) -> int:
    """The pid of the worker blocking in ``session_id``'s handler (see ``_webhook_app``)."""
    end = time.monotonic() + deadline
    while time.monotonic() < end:
        found = list(block_dir.glob(f"{session_id}.blocked.*"))
        if found:
            return int(found[0].name.rsplit(".", 1)[1])
        time.sleep(0.01)
    raise AssertionError(f"no worker started handling {session_id}")
