"""A command-line program under test, run as a person would: its output read line by line
with a deadline on every wait, stopped with Ctrl-C (SIGINT) and killed if it ignores that."""

from __future__ import annotations

import os
import queue
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from types import TracebackType
from typing import IO

ROOT = Path(__file__).resolve().parent.parent


class Program:
    """``Program([...], env={...})`` starts it; use as a context manager so it always ends.

    stdout and stderr are read by threads into one queue of ``(stream, line)``, so a wait
    never blocks on a pipe.
    """

    def __init__(self, args: Sequence[str], *, env: Mapping[str, str] | None = None) -> None:
        environment = {**os.environ, "PYTHONUNBUFFERED": "1", **(env or {})}
        self.proc = subprocess.Popen(
            [sys.executable, *args],
            cwd=ROOT,
            env=environment,
            text=True,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            stdin=subprocess.DEVNULL,
        )
        self.lines: list[tuple[str, str]] = []
        self._queue: queue.Queue[tuple[str, str]] = queue.Queue()
        assert self.proc.stdout is not None and self.proc.stderr is not None
        self._readers = [
            threading.Thread(target=self._pump, args=(name, stream), daemon=True)
            for name, stream in (("out", self.proc.stdout), ("err", self.proc.stderr))
        ]
        for reader in self._readers:
            reader.start()

    def _pump(self, name: str, stream: IO[str]) -> None:
        for line in stream:
            self._queue.put((name, line.rstrip("\n")))

    def wait_for_line(self, text: str, *, timeout: float = 20.0, stream: str = "out") -> str:
        """The first line of ``stream`` containing ``text`` (already printed or to come)."""
        for name, line in self.lines:
            if name == stream and text in line:
                return line
        deadline = time.monotonic() + timeout
        while (left := deadline - time.monotonic()) > 0:
            try:
                name, line = self._queue.get(timeout=left)
            except queue.Empty:
                break
            self.lines.append((name, line))
            if name == stream and text in line:
                return line
        raise AssertionError(f"no line with {text!r} within {timeout} s; got:\n{self.text()}")

    def stop(self, timeout: float = 20.0) -> int:
        """Ctrl-C, then the exit status; killed (and an AssertionError) if it hangs."""
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGINT)
        try:
            status = self.proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait(timeout=10)
            raise AssertionError(f"still running {timeout} s after Ctrl-C") from None
        self._drain()
        return status

    def finish(self, timeout: float = 20.0) -> int:
        """Wait for it to exit by itself; the exit status. Collects the remaining output."""
        try:
            status = self.proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait(timeout=10)
            raise AssertionError(f"still running after {timeout} s") from None
        self._drain()
        return status

    def _drain(self) -> None:
        for reader in self._readers:
            reader.join(10)
        while not self._queue.empty():
            self.lines.append(self._queue.get_nowait())

    def text(self, stream: str | None = None) -> str:
        """Everything read so far (of one stream, or both)."""
        return "\n".join(line for name, line in self.lines if stream in (None, name))

    def __enter__(self) -> Program:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(timeout=10)
        self._drain()
        for stream in (self.proc.stdout, self.proc.stderr):
            if stream is not None:
                stream.close()
