"""Process life: a sync client created before ``os.fork()`` (gunicorn ``--preload``, Celery
prefork, multiprocessing's fork start method) works in the child and keeps working in the
parent; the interpreter exits promptly, silently, with a client and a sandbox thread left open.

Every scenario runs in a fresh interpreter under ``-X dev -W error`` with a timeout, so a hang
or a warning fails the test instead of the suite. The gateway runs in the parent's thread; a
child reaches it over loopback through the inherited listening socket's owner, the parent.
"""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

_PRELUDE = """
import os, sys, time, warnings
# -X dev makes asyncio log any callback slower than 0.1 s; on a loaded machine that is
# noise, not a fault, and the test wants an empty stderr: only its errors are kept.
import logging; logging.getLogger("asyncio").setLevel(logging.ERROR)
# Python 3.12+ warns about fork() in a process with threads; the point of these scripts is to
# prove that this particular fork is safe, so that one warning is not an error here.
warnings.filterwarnings("ignore", message=r".*multi-threaded.*fork", category=DeprecationWarning)
import bpcpay
from bpcpay.sandbox import SandboxGateway

URLS = dict(success_url="https://shop.example/s", failure_url="https://shop.example/f")
"""


def run_script(
    body: str, *, helpers: str = "", timeout: float = 60
) -> subprocess.CompletedProcess[str]:
    script = textwrap.dedent(_PRELUDE) + helpers + textwrap.dedent(body)
    return subprocess.run(
        [sys.executable, "-X", "dev", "-W", "error", "-c", script],
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
        cwd=Path(__file__).parent,
    )


_SESSIONS_HELPER = """
async def _sessions(gw):
    return dict(gw.gateway.state.sessions)
"""


def test_os_fork_child_and_parent_both_keep_working() -> None:
    result = run_script(
        helpers=_SESSIONS_HELPER,
        body="""
        gw = SandboxGateway.run_in_thread()
        client = bpcpay.BpcPay(api_key=gw.api_key, base_url=gw.base_url)
        before = client.sessions.create(amount=100, currency="EUR", **URLS)
        read, write = os.pipe()
        pid = os.fork()
        if pid == 0:
            import signal
            signal.alarm(20)  # a hang in the child fails the test instead of blocking it
            os.close(read)
            try:
                made = [client.sessions.create(amount=200 + i, currency="EUR",
                                               merchant_reference_id=f"child-{i}", **URLS)
                        for i in range(3)]
                assert client.sessions.retrieve(before.id).id == before.id
                assert client.payments.create(
                    amount=300, currency="EUR",
                    card=bpcpay.PaymentCard(number="4000001111111118", exp_month=12,
                                            exp_year=2030, cvc="123"),
                ).status == "succeeded"
                client.close()
                os.write(write, " ".join(s.id for s in made).encode())
                code = 0
            except BaseException as exc:
                os.write(write, repr(exc).encode())
                code = 3
            os._exit(code)
        os.close(write)
        with os.fdopen(read) as pipe:
            child_ids = pipe.read().split()
        _, status = os.waitpid(pid, 0)
        assert os.waitstatus_to_exitcode(status) == 0, (status, child_ids)
        # The parent's client never noticed: same loop thread, same pool, still working.
        after = client.sessions.create(amount=400, currency="EUR", **URLS)
        assert client.sessions.retrieve(after.id).status == "open"
        sessions = gw.run(lambda: _sessions(gw))
        print("child", len(child_ids), all(i in sessions for i in child_ids))
        print("parent", before.id in sessions, after.id in sessions, len(sessions))
        client.close()
        gw.stop()
        """,
    )
    assert result.returncode == 0, result.stderr + result.stdout
    assert result.stdout.splitlines() == ["child 3 True", "parent True True 5"]
    assert result.stderr == ""


def test_multiprocessing_fork_pool_workers_use_the_parents_client() -> None:
    result = run_script(
        helpers=_SESSIONS_HELPER,
        body="""
        import multiprocessing

        gw = SandboxGateway.run_in_thread()
        client = bpcpay.BpcPay(api_key=gw.api_key, base_url=gw.base_url)
        first = client.sessions.create(amount=100, currency="EUR", **URLS)  # loop thread running

        def work(i):
            made = client.sessions.create(amount=1000 + i, currency="EUR",
                                          merchant_reference_id=f"mp-{i}", **URLS)
            assert client.sessions.retrieve(made.id).merchant_reference_id == f"mp-{i}"
            return os.getpid(), made.id

        ctx = multiprocessing.get_context("fork")
        with ctx.Pool(2) as pool:
            results = pool.map(work, range(12), chunksize=1)
            pool.close()
            pool.join()
        pids = {pid for pid, _ in results}
        ids = [sid for _, sid in results]
        sessions = gw.run(lambda: _sessions(gw))
        refs = sorted(sessions[sid].request.merchant_reference_id for sid in ids)
        print("workers", len(pids) <= 2, os.getpid() not in pids)
        print("sessions", len(set(ids)), all(sid in sessions for sid in ids),
              refs == sorted(f"mp-{i}" for i in range(12)))
        again = client.sessions.retrieve(first.id)
        print("parent", again.id == first.id, len(sessions))
        client.close()
        gw.stop()
        """,
    )
    assert result.returncode == 0, result.stderr + result.stdout
    assert result.stdout.splitlines() == [
        "workers True True",
        "sessions 12 True True",
        "parent True 13",
    ]
    assert result.stderr == ""


@pytest.mark.parametrize("in_flight", [False, True], ids=["idle", "call-in-flight"])
def test_interpreter_exits_promptly_with_a_client_and_a_sandbox_left_open(
    in_flight: bool,
) -> None:
    result = run_script(
        f"""
        import threading
        gw = SandboxGateway.run_in_thread()   # never stopped
        client = bpcpay.BpcPay(api_key=gw.api_key, base_url=gw.base_url)   # never closed
        session = client.sessions.create(amount=100, currency="EUR", **URLS)
        assert client.sessions.retrieve(session.id).id == session.id
        other = bpcpay.BpcPay(api_key=gw.api_key, base_url=gw.base_url)   # never used
        if {in_flight!r}:
            # A daemon thread stuck in a call on a 60 s stall when the interpreter exits.
            fault = gw.faults.add(method="GET", path=f"/api2/sessions/{{session.id}}", stall=60)
            def call():
                try:
                    client.sessions.retrieve(session.id)
                except bpcpay.ClientClosedError:
                    # The exit hook closed the client under the call: a clear error, no hang.
                    # One write(2): the interpreter may end this daemon thread between
                    # print()'s two writes (the text, then the newline).
                    os.write(1, b"ClientClosedError\\n")
            threading.Thread(target=call, daemon=True).start()
            deadline = time.monotonic() + 10
            while fault.hits == 0 and time.monotonic() < deadline:
                time.sleep(0.005)
            assert fault.hits == 1
        print("leaving", flush=True)
        """,
        timeout=30,
    )
    assert result.returncode == 0, result.stderr
    # The stuck daemon thread may or may not run again before the interpreter is gone; if it
    # does, it sees ClientClosedError, never a hang.
    assert result.stdout in ("leaving\n", "leaving\nClientClosedError\n")
    # No "Unclosed client session", no ResourceWarning, no "Task was destroyed", no traceback.
    assert result.stderr == ""
