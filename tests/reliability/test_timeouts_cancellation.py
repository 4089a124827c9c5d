"""Timeouts and cancellation: connect and read timeouts fire on their own and per call;
cancelling an awaited call propagates, leaves the client usable and leaks no connection; the
sync client's close() and Ctrl-C never leave a caller hanging or the client broken.

The connect timeout is real: a loopback listener whose accept queue is full drops new SYNs, so
the connection is never made. Stalls are the sandbox's; they end when the module's gateway
stops, so each test stalls its own paths and never counts another test's requests.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import subprocess
import sys
import textwrap
import threading
import time
from collections.abc import AsyncIterator, Coroutine
from pathlib import Path
from typing import Any

import pytest
import pytest_asyncio
from _rel_support import (
    FAILURE_URL,
    LOOPBACK,
    SUCCESS_URL,
    SleepRecorder,
    assert_backoffs_within_policy,
    new_transport,
    open_connections,
    request_log_since,
    unanswered_port,
    wait_until,
)

import bpcpay
from bpcpay import (
    APITimeoutError,
    AsyncBpcPay,
    BpcPay,
    ClientClosedError,
    RequestAttempt,
    Timeout,
    _bridge,
)
from bpcpay._async._client import SyncSupport
from bpcpay._async._transport import AiohttpTransport
from bpcpay.sandbox import Fault, ThreadedSandboxGateway

LONG_STALL = 30.0  # ended early by the gateway's shutdown; never waited for in full


@pytest.fixture
def transport() -> AiohttpTransport:
    """The ``client`` fixture's transport, to count its connections."""
    return new_transport()


@pytest_asyncio.fixture
async def client(
    gw: ThreadedSandboxGateway, transport: AiohttpTransport
) -> AsyncIterator[AsyncBpcPay]:
    async with AsyncBpcPay(
        api_key=gw.api_key, base_url=gw.base_url, _sleep=SleepRecorder(), _transport=transport
    ) as c:
        yield c


def new_session(gw: ThreadedSandboxGateway, setup_client: BpcPay) -> str:
    """A fresh session, so each test faults a path no other test uses."""
    return setup_client.sessions.create(
        amount=1000, currency="EUR", success_url=SUCCESS_URL, failure_url=FAILURE_URL
    ).id


@pytest.fixture
def session_id(gw: ThreadedSandboxGateway, setup_client: BpcPay) -> str:
    return new_session(gw, setup_client)


async def wait_hit(fault: Fault, hits: int = 1) -> None:
    """Wait (without blocking the loop) until the gateway has taken the fault ``hits`` times."""
    deadline = time.monotonic() + 5
    while fault.hits < hits:
        assert time.monotonic() < deadline, "the request never reached the gateway"
        await asyncio.sleep(0.002)


# --- connect and read timeouts, separately and per call ------------------------------------------


@pytest.mark.parametrize("kind", ["async", "sync"])
@pytest.mark.parametrize("method", ["GET", "POST"])
def test_a_real_connect_timeout_is_per_call_and_never_sent(kind: str, method: str) -> None:
    attempts: list[RequestAttempt] = []
    sleeps = SleepRecorder()
    per_call = Timeout(connect=0.05, read=30)

    def call(client: Any) -> Any:
        if method == "GET":
            return client.sessions.retrieve("ps_nowhere", timeout=per_call)
        return client.sessions.create(
            amount=1000,
            currency="EUR",
            success_url=SUCCESS_URL,
            failure_url=FAILURE_URL,
            merchant_reference_id="order-ct",
            timeout=per_call,
        )

    transport = new_transport()
    with unanswered_port() as port:
        options: dict[str, Any] = {
            "api_key": "sk_test_connect_timeout",
            "base_url": f"http://{LOOPBACK}:{port}/api2",
            # The client's default would wait 30 s to connect: only the per-call value fires.
            "timeout": Timeout(connect=30, read=30),
            "on_attempt": attempts.append,
            "_sleep": sleeps,
            "_transport": transport,
        }
        if kind == "async":

            async def main() -> BaseException:
                async with AsyncBpcPay(**options) as c:
                    with pytest.raises(APITimeoutError) as info:
                        await call(c)
                    assert open_connections(transport) == (0, 0)
                    return info.value

            err = asyncio.run(main())
        else:
            with BpcPay(**options) as c:
                with pytest.raises(APITimeoutError) as info:
                    call(c)
                err = info.value
    assert err.phase == "connect"
    assert err.request_sent is False
    assert err.outcome_unknown is False
    assert f"no connection to {LOOPBACK}:{port} within 0.05s" in str(err)
    # The connection was never made, so even the POST was retried: max_retries + 1 attempts.
    assert len(attempts) == 3
    assert all(a.status is None and a.error for a in attempts)
    assert len(sleeps.delays) == 2
    assert_backoffs_within_policy(sleeps.delays)


@pytest.mark.parametrize("kind", ["async", "sync"])
def test_a_read_timeout_is_per_call(
    gw: ThreadedSandboxGateway, setup_client: BpcPay, kind: str
) -> None:
    session_id = new_session(gw, setup_client)
    path = f"/api2/sessions/{session_id}"
    short = Timeout(connect=5, read=0.05)

    def scenario(retrieve: Any) -> None:
        gw.faults.add(method="GET", path=path, stall=0.3)
        with pytest.raises(APITimeoutError) as info:
            retrieve(session_id, timeout=short)
        assert info.value.phase == "read"
        assert info.value.request_sent is True
        assert info.value.outcome_unknown is False  # a GET: safe to repeat
        assert "within 0.05s (read timeout)" in str(info.value)
        # The same client, the same stall, no per-call override: its default read timeout
        # (20 s) outlasts the stall and the call succeeds.
        gw.faults.add(method="GET", path=path, stall=0.3)
        assert retrieve(session_id).id == session_id

    if kind == "async":

        async def main() -> None:
            transport = new_transport()
            async with AsyncBpcPay(
                api_key=gw.api_key, base_url=gw.base_url, max_retries=0, _transport=transport
            ) as c:
                loop = asyncio.get_running_loop()
                # Run the awaiting in a worker so the scenario reads like the sync one.

                def retrieve(sid: str, **kw: Any) -> Any:
                    future = asyncio.run_coroutine_threadsafe(c.sessions.retrieve(sid, **kw), loop)
                    return future.result(timeout=10)

                await loop.run_in_executor(None, scenario, retrieve)
                assert open_connections(transport)[0] == 0

        asyncio.run(main())
    else:
        with BpcPay(api_key=gw.api_key, base_url=gw.base_url, max_retries=0) as c:
            scenario(c.sessions.retrieve)
    wait_until(lambda: len([r for r in gw.requests if r.path == path]) == 2)


@pytest.mark.asyncio
async def test_a_read_deadline_belongs_to_its_attempt_alone(
    gw: ThreadedSandboxGateway, session_id: str, client: AsyncBpcPay, transport: AiohttpTransport
) -> None:
    """Neither a deadline that fired nor one that did not reaches a later attempt of the same
    task (the same pooled connection, a longer read timeout)."""
    path = f"/api2/sessions/{session_id}"
    once = client.with_options(max_retries=0)
    gw.faults.add(method="GET", path=path, stall=0.4)
    with pytest.raises(APITimeoutError) as info:
        await once.sessions.retrieve(session_id, timeout=Timeout(connect=1, read=0.1))
    assert info.value.phase == "read"
    gw.faults.add(method="GET", path=path, stall=0.4)
    assert (await once.sessions.retrieve(session_id)).id == session_id
    # A short deadline that never fired, then a stall longer than it on the same connection.
    assert (await once.sessions.retrieve(session_id, timeout=Timeout(1, 0.2))).id == session_id
    gw.faults.add(method="GET", path=path, stall=0.4)
    assert (await once.sessions.retrieve(session_id)).id == session_id
    assert open_connections(transport) == (0, 1)
    assert transport.attempts_in_flight == 0


@pytest.mark.asyncio
async def test_a_shorter_read_deadline_started_later_fires_first(
    gw: ThreadedSandboxGateway, client: AsyncBpcPay
) -> None:
    """Two attempts in flight on one client, the later one with the shorter read timeout: each
    ends at its own deadline."""
    slow_id, quick_id = [
        (
            await client.sessions.create(
                amount=1000, currency="EUR", success_url=SUCCESS_URL, failure_url=FAILURE_URL
            )
        ).id
        for _ in range(2)
    ]
    slow = gw.faults.add(method="GET", path=f"/api2/sessions/{slow_id}", stall=1.0)
    gw.faults.add(method="GET", path=f"/api2/sessions/{quick_id}", stall=1.0)
    once = client.with_options(max_retries=0)
    long_call = asyncio.ensure_future(
        once.sessions.retrieve(slow_id, timeout=Timeout(connect=1, read=5))
    )
    await wait_hit(slow)
    started = time.monotonic()
    with pytest.raises(APITimeoutError) as info:
        await once.sessions.retrieve(quick_id, timeout=Timeout(connect=1, read=0.2))
    # Its answer would have come after 1 s: the deadline fired before it.
    assert 0.2 <= time.monotonic() - started < 0.9
    assert info.value.phase == "read"
    assert (await long_call).id == slow_id


# --- cancellation of an awaited call ------------------------------------------------------------


@pytest.mark.asyncio
async def test_task_cancel_propagates_keeps_the_client_and_leaks_nothing(
    gw: ThreadedSandboxGateway, session_id: str, client: AsyncBpcPay, transport: AiohttpTransport
) -> None:
    assert (await client.sessions.retrieve(session_id)).id == session_id  # pool warmed: 1 idle
    assert open_connections(transport) == (0, 1)
    fault = gw.faults.add(method="GET", path=f"/api2/sessions/{session_id}", stall=LONG_STALL)
    task = asyncio.ensure_future(client.sessions.retrieve(session_id))
    await wait_hit(fault)
    assert open_connections(transport) == (1, 0)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert task.cancelled()
    # The connection that carried the cancelled request was closed, not put back in the pool.
    assert open_connections(transport) == (0, 0)
    assert (await client.sessions.retrieve(session_id)).id == session_id
    assert open_connections(transport) == (0, 1)
    assert not client.closed


async def _with_outer_timeout(call: Coroutine[Any, Any, Any], seconds: float) -> None:
    if sys.version_info >= (3, 11):
        async with asyncio.timeout(seconds):
            await call
    else:  # no asyncio.timeout: wait_for cancels the call the same way at its deadline
        await asyncio.wait_for(call, seconds)


@pytest.mark.asyncio
async def test_asyncio_timeout_cancels_a_post_once_and_is_not_turned_into_an_sdk_error(
    gw: ThreadedSandboxGateway, client: AsyncBpcPay, transport: AiohttpTransport
) -> None:
    reference = "order-asyncio-timeout"
    fault = gw.faults.add(method="POST", path="/api2/sessions", stall=LONG_STALL)
    started = len(gw.requests)
    create = client.sessions.create(
        amount=1000,
        currency="EUR",
        success_url=SUCCESS_URL,
        failure_url=FAILURE_URL,
        merchant_reference_id=reference,
    )
    # asyncio.TimeoutError is the builtin TimeoutError from Python 3.11 on.
    with pytest.raises(asyncio.TimeoutError) as info:
        await _with_outer_timeout(create, 0.1)
    # The CancelledError went through the SDK untouched (the timeout made it TimeoutError).
    assert type(info.value) is asyncio.TimeoutError
    assert fault.hits == 1  # sent once, never retried
    assert open_connections(transport)[0] == 0
    current = asyncio.current_task()
    assert current is not None
    if sys.version_info >= (3, 11):  # Task.cancelling() is new in 3.11
        assert current.cancelling() == 0
    session = await client.sessions.create(
        amount=1000,
        currency="EUR",
        success_url=SUCCESS_URL,
        failure_url=FAILURE_URL,
        merchant_reference_id=reference,
    )
    assert session.merchant_reference_id == reference
    later = request_log_since(gw, started)
    assert [r.fault for r in later if r.status == 200] == [None]


@pytest.mark.asyncio
async def test_cancel_during_backoff_stops_the_retries(
    gw: ThreadedSandboxGateway, session_id: str
) -> None:
    retrying = asyncio.Event()

    def on_attempt(info: RequestAttempt) -> None:
        if info.retry_in is not None:
            retrying.set()

    fault = gw.faults.add(
        method="GET", path=f"/api2/sessions/{session_id}", status=503, retry_after=15, times=3
    )
    # The real asyncio.sleep this time: the task is cancelled while it waits 15 s to retry.
    transport = new_transport()
    async with AsyncBpcPay(
        api_key=gw.api_key, base_url=gw.base_url, on_attempt=on_attempt, _transport=transport
    ) as c:
        task = asyncio.ensure_future(c.sessions.retrieve(session_id))
        await asyncio.wait_for(retrying.wait(), 5)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        assert fault.hits == 1
        assert open_connections(transport) == (0, 1)
        gw.faults.clear()
        assert (await c.sessions.retrieve(session_id)).id == session_id


@pytest.mark.asyncio
async def test_many_cancelled_calls_leak_no_connection(
    gw: ThreadedSandboxGateway, session_id: str
) -> None:
    fault = gw.faults.add(
        method="GET", path=f"/api2/sessions/{session_id}", stall=LONG_STALL, times=20
    )
    transport = new_transport(pool_size=8)
    async with AsyncBpcPay(api_key=gw.api_key, base_url=gw.base_url, _transport=transport) as c:
        tasks = [asyncio.ensure_future(c.sessions.retrieve(session_id)) for _ in range(20)]
        await wait_hit(fault, 8)  # the pool is full; 12 calls wait for a connection
        assert open_connections(transport) == (8, 0)
        for task in tasks:
            task.cancel()
        results = await asyncio.gather(*tasks, return_exceptions=True)
        assert all(isinstance(r, asyncio.CancelledError) for r in results)
        assert fault.hits == 8  # the waiting ones never left
        assert open_connections(transport) == (0, 0)
        assert transport.attempts_in_flight == 0
        gw.faults.clear()
        again = await asyncio.gather(*(c.sessions.retrieve(session_id) for _ in range(8)))
        assert {s.id for s in again} == {session_id}
        acquired, idle = open_connections(transport)
        assert acquired == 0
        assert 1 <= idle <= 8


# --- the sync client: close() while other threads are mid-call ----------------------------------


def _start_callers(
    client: BpcPay, session_id: str, count: int, timeout: Timeout
) -> tuple[list[threading.Thread], list[Any]]:
    outcomes: list[Any] = []

    def work() -> None:
        try:
            outcomes.append(client.sessions.retrieve(session_id, timeout=timeout))
        except BaseException as exc:
            outcomes.append(exc)

    threads = [threading.Thread(target=work) for _ in range(count)]
    for thread in threads:
        thread.start()
    return threads, outcomes


def test_close_fails_calls_that_outlive_the_grace_and_refuses_new_ones(
    gw: ThreadedSandboxGateway, setup_client: BpcPay, monkeypatch: pytest.MonkeyPatch
) -> None:
    session_id = new_session(gw, setup_client)
    fault = gw.faults.add(
        method="GET", path=f"/api2/sessions/{session_id}", stall=LONG_STALL, times=6
    )
    transport = new_transport()
    client = BpcPay(api_key=gw.api_key, base_url=gw.base_url, _transport=transport)
    threads, outcomes = _start_callers(client, session_id, 6, Timeout(connect=5, read=60))
    wait_until(lambda: fault.hits == 6, what="six calls in flight")
    # A short grace (CLOSE_GRACE is 5 s): then in-flight calls are cancelled.
    monkeypatch.setattr(_bridge, "CLOSE_GRACE", 0.2)
    client.close()
    for thread in threads:
        thread.join(timeout=10)
        assert not thread.is_alive()
    assert len(outcomes) == 6
    for outcome in outcomes:
        assert isinstance(outcome, ClientClosedError), repr(outcome)
        assert "closed while the request was in flight" in str(outcome)
    session = transport.session
    assert session is not None and session.closed
    with pytest.raises(ClientClosedError, match="is closed"):
        client.sessions.retrieve(session_id)
    # The shared loop thread is unharmed: another client works.
    with BpcPay(api_key=gw.api_key, base_url=gw.base_url) as other:
        assert other.sessions.retrieve(session_id).id == session_id


def test_close_lets_calls_within_the_grace_finish_and_timeouts_bound_the_rest(
    gw: ThreadedSandboxGateway, setup_client: BpcPay
) -> None:
    session_id = new_session(gw, setup_client)
    path = f"/api2/sessions/{session_id}"
    quick = gw.faults.add(method="GET", path=path, stall=0.3, times=3)
    client = BpcPay(api_key=gw.api_key, base_url=gw.base_url, max_retries=0)
    finishing, finished = _start_callers(client, session_id, 3, Timeout(connect=5, read=5))
    wait_until(lambda: quick.hits == 3, what="three calls in flight")
    stuck = gw.faults.add(method="GET", path=path, stall=LONG_STALL, times=3)
    timing_out, timed_out = _start_callers(client, session_id, 3, Timeout(connect=5, read=0.2))
    wait_until(lambda: stuck.hits == 3, what="three stuck calls in flight")
    client.close()  # the public close: up to CLOSE_GRACE (5 s) for calls in flight
    for thread in finishing + timing_out:
        thread.join(timeout=10)
        assert not thread.is_alive()
    assert [getattr(o, "id", o) for o in finished] == [session_id] * 3
    assert len(timed_out) == 3
    assert all(isinstance(o, APITimeoutError) and o.phase == "read" for o in timed_out)
    assert client.closed


# --- the sync client: Ctrl-C in the waiting thread ------------------------------------------------

_SIGINT_SCRIPT = """
import os, signal, threading, time
import logging; logging.getLogger("asyncio").setLevel(logging.ERROR)  # -X dev's slow callbacks
import bpcpay
from bpcpay.sandbox import SandboxGateway

# Python raises KeyboardInterrupt only when SIGINT was not ignored at its start (a shell's
# background job ignores it): install the handler an interactive program has.
signal.signal(signal.SIGINT, signal.default_int_handler)
gw = SandboxGateway.run_in_thread()
from _rel_support import new_transport, open_connections
transport = new_transport()
client = bpcpay.BpcPay(api_key=gw.api_key, base_url=gw.base_url, _transport=transport)
session = client.sessions.create(amount=1000, currency="EUR",
    success_url="https://shop.example/s", failure_url="https://shop.example/f")
fault = gw.faults.add(method="GET", path=f"/api2/sessions/{session.id}", stall=60)

def interrupt_when_stalled():
    deadline = time.monotonic() + 10
    while fault.hits == 0 and time.monotonic() < deadline:
        time.sleep(0.005)
    if WHERE == "process":
        os.kill(os.getpid(), signal.SIGINT)  # the kernel picks the thread that receives it
    else:  # it lands in this thread, not the waiting one: its handler still runs in the main
        signal.pthread_kill(threading.get_ident(), signal.SIGINT)

threading.Thread(target=interrupt_when_stalled, daemon=True).start()
started = time.monotonic()
try:
    client.sessions.retrieve(session.id)
except KeyboardInterrupt:
    print("interrupted after", round(time.monotonic() - started, 1), "s")
else:
    raise SystemExit(f"the call was not interrupted: hits={fault.hits} "
                     f"after {time.monotonic() - started:.1f} s")
again = client.sessions.retrieve(session.id)
assert again.id == session.id
created = client.sessions.create(amount=1000, currency="EUR",
    success_url="https://shop.example/s", failure_url="https://shop.example/f")
print("usable", again.id == session.id, created.status)
print("acquired", open_connections(transport)[0])
client.close()
gw.stop()
print("done")
"""


@pytest.mark.parametrize("where", ["process", "other-thread"])
def test_keyboard_interrupt_in_the_waiting_thread_leaves_the_client_usable(where: str) -> None:
    # A process-directed SIGINT may be taken by any thread (the loop's, the sandbox's); Python
    # runs the handler in the main thread only once that thread wakes, so the wait must wake.
    script = f"WHERE = {where!r}\n" + textwrap.dedent(_SIGINT_SCRIPT)
    result = subprocess.run(
        [sys.executable, "-X", "dev", "-W", "error", "-c", script],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
        cwd=Path(__file__).parent,
    )
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert lines[0].startswith("interrupted after")
    assert float(lines[0].split()[2]) < 10  # promptly, not after the 60 s stall
    assert lines[1:] == ["usable True open", "acquired 0", "done"]
    assert result.stderr == ""


def test_a_sync_call_never_outlives_its_backstop(
    gw: ThreadedSandboxGateway, setup_client: BpcPay
) -> None:
    # The sync wait is bounded by the transport's own worst case plus a margin, so the
    # transport's timeout always fires first and the caller sees APITimeoutError("read").
    session_id = new_session(gw, setup_client)
    gw.faults.add(method="GET", path=f"/api2/sessions/{session_id}", stall=LONG_STALL)
    with BpcPay(api_key=gw.api_key, base_url=gw.base_url, max_retries=0) as c:
        budget = SyncSupport(AsyncBpcPay(api_key=gw.api_key, max_retries=0)).deadline(
            Timeout(connect=1, read=0.1)
        )
        assert budget == pytest.approx(1.1)
        with concurrent.futures.ThreadPoolExecutor(1) as pool:
            future = pool.submit(
                c.sessions.retrieve, session_id, timeout=Timeout(connect=1, read=0.1)
            )
            with pytest.raises(APITimeoutError) as info:
                future.result(timeout=budget + 5)
    assert info.value.phase == "read"
    assert info.value.method == "GET"  # the transport's error, not the bridge's backstop
    assert isinstance(info.value, bpcpay.APIConnectionError)
