"""The generated sync client and the bridge under it (bpcpay._sync, bpcpay._bridge)."""

from __future__ import annotations

import asyncio
import contextvars
import gc
import inspect
import re
import subprocess
import sys
import textwrap
import threading
import time
import warnings
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from _fake_gateway import FakeGateway, gateway_in_thread

import bpcpay
from bpcpay import _bridge
from bpcpay._async._transport import AiohttpTransport
from bpcpay._async.resources.payment_methods import AsyncPaymentMethods
from bpcpay._async.resources.payments import AsyncPayments
from bpcpay._async.resources.refunds import AsyncRefunds
from bpcpay._async.resources.sessions import AsyncSessions
from bpcpay._sync import PaymentMethods, Payments, Refunds, Sessions

API_KEY = "test_key_not_real"
TESTS = Path(__file__).resolve().parent


@pytest.fixture(scope="module")
def gateway() -> Iterator[FakeGateway]:
    with gateway_in_thread() as gw:
        yield gw


@pytest.fixture
def client(gateway: FakeGateway) -> Iterator[bpcpay.BpcPay]:
    gateway.requests.clear()
    gateway.delay = 0.0
    with bpcpay.BpcPay(api_key=API_KEY, base_url=gateway.base_url) as c:
        yield c


def new_transport() -> AiohttpTransport:
    """A transport as the client would build it by default, kept by the test to look at."""
    return AiohttpTransport(session=None, pool_size=4, max_response_bytes=1 << 20)


def wait_for_request(gateway: FakeGateway) -> None:
    """Until the gateway has received a request (which it then holds for its delay)."""
    deadline = time.monotonic() + 5
    while not gateway.requests:
        assert time.monotonic() < deadline, "no request reached the gateway"
        time.sleep(0.001)


SESSION_ARGS = {
    "amount": 10000,
    "currency": "eur",
    "success_url": "https://shop.example/success",
    "failure_url": "https://shop.example/failure",
}


def test_sixteen_threads_share_one_client(client: bpcpay.BpcPay, gateway: FakeGateway) -> None:
    ids: list[str] = []
    errors: list[BaseException] = []
    lock = threading.Lock()
    barrier = threading.Barrier(16)

    def work() -> None:
        barrier.wait()
        try:
            for _ in range(20):
                session = client.sessions.create(**SESSION_ARGS)
                with lock:
                    ids.append(session.id)
        except BaseException as exc:  # collected and asserted below
            errors.append(exc)

    threads = [threading.Thread(target=work) for _ in range(16)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    assert errors == []
    assert len(ids) == 320
    assert len(set(ids)) == 320
    assert len(gateway.requests) == 320


def test_sync_call_inside_a_running_loop_names_the_async_client(
    client: bpcpay.BpcPay, gateway: FakeGateway
) -> None:
    async def inside() -> None:
        client.sessions.retrieve("ps_1")

    with pytest.raises(bpcpay.SyncClientInAsyncContextError, match="AsyncBpcPay"):
        asyncio.run(inside())
    assert gateway.requests == []


def test_close_is_idempotent_and_later_calls_fail_clearly(gateway: FakeGateway) -> None:
    c = bpcpay.BpcPay(api_key=API_KEY, base_url=gateway.base_url)
    c.sessions.retrieve("ps_1")
    c.close()
    c.close()
    assert c.closed
    assert "closed" in repr(c)
    with pytest.raises(bpcpay.ClientClosedError, match="closed"):
        c.sessions.retrieve("ps_1")


def test_close_before_any_call(gateway: FakeGateway) -> None:
    c = bpcpay.BpcPay(api_key=API_KEY, base_url=gateway.base_url)
    c.close()
    with pytest.raises(bpcpay.ClientClosedError):
        c.payments.retrieve("pay_1")


def test_with_options_shares_connections_and_lifecycle(
    client: bpcpay.BpcPay, gateway: FakeGateway
) -> None:
    derived = client.with_options(max_retries=0, timeout=3)
    assert derived.max_retries == 0
    assert derived.timeout == bpcpay.Timeout(connect=3, read=3)
    assert client.max_retries == bpcpay._constants.DEFAULT_MAX_RETRIES
    assert derived.sessions.retrieve("ps_d").id == "ps_d"
    del derived  # garbage collection of a derived client must not close the shared session
    import gc

    gc.collect()
    assert client.sessions.retrieve("ps_after").id == "ps_after"


def test_context_variables_flow_into_the_call(gateway: FakeGateway) -> None:
    seen: list[str | None] = []
    var: contextvars.ContextVar[str | None] = contextvars.ContextVar("trace_id", default=None)
    # The on_attempt hook runs inside the call, on the loop thread.
    with bpcpay.BpcPay(
        api_key=API_KEY, base_url=gateway.base_url, on_attempt=lambda _: seen.append(var.get())
    ) as client:
        token = var.set("trace-42")
        try:
            client.sessions.retrieve("ps_ctx")
        finally:
            var.reset(token)
        client.sessions.retrieve("ps_no_ctx")
    assert seen == ["trace-42", None]


def test_errors_cross_the_bridge_with_their_class(client: bpcpay.BpcPay) -> None:
    with pytest.raises(bpcpay.NotFoundError) as info:
        client.request("GET", "/nothing-here")
    assert info.value.status_code == 404
    assert info.value.request_id is not None
    assert info.value.request_id in str(info.value)


def test_from_env(gateway: FakeGateway, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("BPCPAY_API_KEY", API_KEY)
    monkeypatch.setenv("BPCPAY_BASE_URL", gateway.base_url)
    monkeypatch.setenv("BPCPAY_API_VERSION", "2023-10-31")
    with bpcpay.BpcPay.from_env(max_retries=1) as c:
        assert c.base_url == gateway.base_url
        assert c.api_version == "2023-10-31"
        assert c.max_retries == 1
        assert c.sessions.retrieve("ps_env").id == "ps_env"


def test_a_client_without_a_name_lives_through_its_call(gateway: FakeGateway) -> None:
    # The client is referenced by nothing but its resource while the call runs.
    session = bpcpay.BpcPay(api_key=API_KEY, base_url=gateway.base_url).sessions.create(
        **SESSION_ARGS
    )
    assert session.id.startswith("ps_")
    twin = bpcpay.BpcPay(api_key=API_KEY, base_url=gateway.base_url).with_options(max_retries=0)
    gc.collect()  # the owner is referenced by its twin only
    assert twin.sessions.retrieve("ps_twin").id == "ps_twin"
    twin.close()


def test_a_collected_client_closes_quietly_on_the_loop(gateway: FakeGateway) -> None:
    threads_before = threading.active_count()
    transport = new_transport()
    c = bpcpay.BpcPay(api_key=API_KEY, base_url=gateway.base_url, _transport=transport)
    assert c.sessions.retrieve("ps_1").id == "ps_1"
    session = transport.session
    assert session is not None and not session.closed
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        del c
        gc.collect()
    # The close was scheduled on the loop thread, never waited for by the collector.
    deadline = time.monotonic() + 5
    while not session.closed:
        assert time.monotonic() < deadline, "the collected client's session was never closed"
        time.sleep(0.005)
    assert threading.active_count() == threads_before  # no thread of its own, none left


def test_unnamed_clients_leave_no_socket_thread_or_warning() -> None:
    result = _run_script(
        """
        import gc, logging, threading, time
        # -X dev logs slow callbacks at WARNING (a loaded machine); leaks are ERRORs and warnings.
        logging.getLogger("asyncio").setLevel(logging.ERROR)
        with gateway_in_thread() as gw:
            bpcpay.BpcPay(api_key="test_key_not_real", base_url=gw.base_url).sessions.retrieve("w")
            gc.collect()
            time.sleep(0.2)
            fds, threads = len(os.listdir("/proc/self/fd")), threading.active_count()
            for i in range(20):
                s = bpcpay.BpcPay(api_key="test_key_not_real", base_url=gw.base_url).sessions
                assert s.retrieve(f"ps_{i}").id == f"ps_{i}"
                del s
                gc.collect()
            deadline = time.monotonic() + 10
            while len(os.listdir("/proc/self/fd")) > fds and time.monotonic() < deadline:
                time.sleep(0.01)
            print("fds", len(os.listdir("/proc/self/fd")) - fds)
            print("threads", threading.active_count() - threads)
        """
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines() == ["fds 0", "threads 0"]
    # -X dev -W error: no "Unclosed client session", no ResourceWarning, nothing at exit.
    assert result.stderr == ""


def test_close_waits_for_calls_in_flight_then_refuses(gateway: FakeGateway) -> None:
    gateway.delay = 0.2
    c = bpcpay.BpcPay(api_key=API_KEY, base_url=gateway.base_url)
    results: list[object] = []
    started = threading.Event()

    def call() -> None:
        started.set()
        try:
            results.append(c.sessions.retrieve("ps_slow").id)
        except bpcpay.BpcPayError as exc:
            results.append(exc)

    t = threading.Thread(target=call)
    t.start()
    started.wait()
    wait_for_request(gateway)
    c.close()
    t.join(10)
    assert results == ["ps_slow"]


def test_close_cancels_calls_that_outlive_the_grace_period(
    gateway: FakeGateway, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(_bridge, "CLOSE_GRACE", 0.05)
    gateway.delay = 2.0
    c = bpcpay.BpcPay(api_key=API_KEY, base_url=gateway.base_url)
    results: list[object] = []

    def call() -> None:
        try:
            results.append(c.sessions.retrieve("ps_slow"))
        except bpcpay.BpcPayError as exc:
            results.append(exc)

    t = threading.Thread(target=call)
    t.start()
    wait_for_request(gateway)
    c.close()
    t.join(10)
    assert not t.is_alive()
    assert len(results) == 1
    assert isinstance(results[0], bpcpay.ClientClosedError)
    assert "outcome is unknown" in str(results[0])


def test_one_loop_thread_serves_every_client(gateway: FakeGateway) -> None:
    first, second = new_transport(), new_transport()
    with (
        bpcpay.BpcPay(api_key=API_KEY, base_url=gateway.base_url, _transport=first) as a,
        bpcpay.BpcPay(api_key=API_KEY, base_url=gateway.base_url, _transport=second) as b,
    ):
        a.sessions.retrieve("ps_a")
        b.sessions.retrieve("ps_b")
        loop_threads = [t for t in threading.enumerate() if t.name == "bpcpay-loop"]
        assert len(loop_threads) == 1
        assert first.session is not None and second.session is not None
        assert first.session is not second.session


# --- signatures: the generated classes mirror the async ones --------------------------------


@pytest.mark.parametrize(
    ("async_cls", "sync_cls"),
    [
        (AsyncSessions, Sessions),
        (AsyncPayments, Payments),
        (AsyncRefunds, Refunds),
        (AsyncPaymentMethods, PaymentMethods),
        (bpcpay.AsyncBpcPay, bpcpay.BpcPay),
    ],
)
def test_sync_methods_mirror_async_signatures(async_cls: type, sync_cls: type) -> None:
    skipped = {"aclose", "closed"}
    members = {
        n: v for n, v in vars(async_cls).items() if not n.startswith("_") and n not in skipped
    }
    assert members, async_cls
    for name, member in members.items():
        if isinstance(member, property):
            assert isinstance(vars(sync_cls)[name], property), name
            assert vars(sync_cls)[name].__doc__ == member.__doc__
            continue
        a, s = getattr(async_cls, name), getattr(sync_cls, name)
        signature_a, signature_s = inspect.signature(a), inspect.signature(s)
        renamed = str(signature_a).replace("AsyncBpcPay", "BpcPay")
        assert renamed == str(signature_s), name
        assert not inspect.iscoroutinefunction(s), name
    if async_cls is bpcpay.AsyncBpcPay:
        init_a = inspect.signature(async_cls.__init__).parameters
        init_s = inspect.signature(sync_cls.__init__).parameters
        assert [p for p in init_a if p != "session"] == list(init_s)
        assert all(init_a[p] == init_s[p] for p in init_s)


def test_method_docstrings_are_copied() -> None:
    # Word for word, but for the generator's rewrites: an example's ``await`` goes.
    def synchronous(doc: str | None) -> str:
        return re.sub(r"\bawait\s+", "", doc or "")

    assert "await " in (AsyncSessions.create.__doc__ or "")
    assert Sessions.create.__doc__ == synchronous(AsyncSessions.create.__doc__)
    assert Payments.capture.__doc__ == synchronous(AsyncPayments.capture.__doc__)
    assert bpcpay.BpcPay.__doc__ is not None
    assert "AsyncBpcPay" not in bpcpay.BpcPay.__doc__


# --- process life: fork and exit, in subprocesses with timeouts -----------------------------


def _run_script(body: str, timeout: float = 60) -> subprocess.CompletedProcess[str]:
    script = textwrap.dedent(
        """
        import os, sys, warnings
        # -X dev makes asyncio log any callback slower than 0.1 s; on a loaded machine that is
        # noise, not a fault, and the test wants an empty stderr: only its errors are kept.
        import logging; logging.getLogger("asyncio").setLevel(logging.ERROR)
        # Python 3.12+ warns that fork() in a threaded process may deadlock; these tests fork
        # on purpose, to prove that bpcpay does not.
        warnings.filterwarnings("ignore", ".*fork.*", DeprecationWarning)
        sys.path.insert(0, {tests!r})
        from _fake_gateway import gateway_in_thread
        import bpcpay
        """
    ).format(tests=str(TESTS)) + textwrap.dedent(body)
    return subprocess.run(
        [sys.executable, "-X", "dev", "-W", "error", "-c", script],
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


def test_a_forked_child_can_use_a_client_created_before_fork() -> None:
    result = _run_script(
        """
        with gateway_in_thread() as gw:
            c = bpcpay.BpcPay(api_key="test_key_not_real", base_url=gw.base_url)
            assert c.sessions.retrieve("ps_parent").id == "ps_parent"
            pid = os.fork()
            if pid == 0:
                import signal
                signal.alarm(20)  # a hang fails the test instead of blocking it
                ok = c.sessions.retrieve("ps_child").id == "ps_child"
                ok = ok and c.sessions.retrieve("ps_child2").id == "ps_child2"
                c.close()
                os._exit(0 if ok else 3)
            _, status = os.waitpid(pid, 0)
            assert os.waitstatus_to_exitcode(status) == 0, status
            assert c.sessions.retrieve("ps_parent_again").id == "ps_parent_again"
            c.close()
        print("fork ok")
        """
    )
    assert result.returncode == 0, result.stderr
    assert "fork ok" in result.stdout
    assert result.stderr == ""


def test_a_forked_child_that_exits_normally_leaves_the_parent_intact() -> None:
    # gunicorn and Celery workers exit through the interpreter's normal shutdown, which runs
    # finalizers: the inherited session must not be closed (nor warn) from the child.
    result = _run_script(
        """
        from _fake_gateway import start_gateway_thread
        gw, stop = start_gateway_thread()
        c = bpcpay.BpcPay(api_key="test_key_not_real", base_url=gw.base_url)
        assert c.sessions.retrieve("ps_parent").id == "ps_parent"
        pid = os.fork()
        if pid == 0:
            import signal
            signal.alarm(20)
            assert c.sessions.retrieve("ps_child").id == "ps_child"
            import gc
            gc.collect()
            sys.exit(0)  # a normal shutdown, client left open
        _, status = os.waitpid(pid, 0)
        assert os.waitstatus_to_exitcode(status) == 0, status
        # The parent's pooled connection still works after the child's finalizers ran.
        assert c.sessions.retrieve("ps_parent_again").id == "ps_parent_again"
        assert len(gw.requests) == 3
        c.close()
        stop()
        print("normal child exit ok")
        """
    )
    assert result.returncode == 0, result.stderr
    assert "normal child exit ok" in result.stdout
    assert result.stderr == ""


def test_interpreter_exits_promptly_with_a_client_left_open() -> None:
    result = _run_script(
        """
        from _fake_gateway import start_gateway_thread
        gw, _ = start_gateway_thread()  # left running, like the client
        c = bpcpay.BpcPay(api_key="test_key_not_real", base_url=gw.base_url)
        assert c.sessions.retrieve("ps_1").id == "ps_1"
        c2 = bpcpay.BpcPay(api_key="test_key_not_real", base_url=gw.base_url)
        print("leaving without close")
        """,
        timeout=20,
    )
    assert result.returncode == 0, result.stderr
    assert "leaving without close" in result.stdout
    # No "Unclosed client session", no ResourceWarning, no traceback at exit.
    assert result.stderr == ""


def test_bridge_loop_thread_is_shared_and_restarts_after_fork_reset() -> None:
    first = _bridge.loop_thread()
    assert _bridge.loop_thread() is first
    assert first.alive


def test_a_call_cancelled_before_the_loop_reaches_it_never_creates_its_coroutine() -> None:
    # Ctrl-C can land between scheduling the call and the loop thread running it: the
    # coroutine is then never created, and the waiting side is released at once.
    created: list[str] = []

    async def work() -> str:
        created.append("coroutine ran")
        return "never"

    loop = asyncio.new_event_loop()
    try:
        call = _bridge._Call(loop)
        call.cancel()
        call.start(contextvars.copy_context(), work, (), {})
        assert call.wait(0)
        assert (call.cancelled, call.ended, call.task, created) == (True, True, None, [])
        loop.run_until_complete(asyncio.sleep(0))  # runs the scheduled _cancel_task: a no-op
    finally:
        loop.close()


def test_an_outcome_after_the_caller_gave_up_is_dropped_quietly() -> None:
    # The backstop gives up on a call that is still running: cancelling it later ends the
    # task on the loop without an error logged there or raised anywhere (warnings are errors).
    thread = _bridge.loop_thread()
    assert thread.loop is not None

    async def slow() -> str:
        await asyncio.sleep(30)
        return "late"

    call = _bridge._Call(thread.loop)
    thread.start_call(call, slow, (), {})
    assert not call.wait(0.02)
    call.cancel()
    deadline = time.monotonic() + 5
    while not call.ended:
        assert time.monotonic() < deadline
        time.sleep(0.001)
    assert call.cancelled and call.error is None and call.value is None
    call.cancel()  # idempotent once ended


def test_an_error_raised_on_the_loop_reaches_the_caller_as_it_is() -> None:
    thread = _bridge.loop_thread()
    assert thread.loop is not None

    async def fail() -> None:
        raise KeyError("from the loop")

    call = _bridge._Call(thread.loop)
    thread.start_call(call, fail, (), {})
    assert call.wait(5)
    assert isinstance(call.error, KeyError) and not call.cancelled


# --- the backstop: a stuck loop thread still gives a faithful timeout ----------------------------


@pytest.mark.parametrize(
    ("call", "method", "path", "unknown", "hint"),
    [
        (lambda c: c.sessions.retrieve("ps_stuck"), "GET", "/sessions/ps_stuck", False, ""),
        (
            lambda c: c.sessions.create(**SESSION_ARGS, merchant_reference_id="order-9"),
            "POST",
            "/sessions",
            True,
            "safe to create another",
        ),
        (
            lambda c: c.payments.capture("pay_7"),
            "POST",
            "/payments/pay_7/capture",
            True,
            "retrieve the payment and check its status",
        ),
        (lambda c: c.request("GET", "/balance/a b"), "GET", "/balance/a%20b", False, ""),
    ],
    ids=["retrieve", "create", "capture", "request"],
)
def test_the_backstop_keeps_the_real_method_path_and_outcome_rule(
    gateway: FakeGateway,
    monkeypatch: pytest.MonkeyPatch,
    call: Any,
    method: str,
    path: str,
    unknown: bool,
    hint: str,
) -> None:
    # The hook blocks the loop thread after the attempt, so no transport deadline can fire and
    # only the caller's own wait (worst case + margin) ends the call.
    monkeypatch.setattr(_bridge, "_BACKSTOP_MARGIN", 0.1)
    blocked = threading.Event()

    def stuck_hook(_: bpcpay.RequestAttempt) -> None:
        blocked.set()
        time.sleep(0.6)

    with bpcpay.BpcPay(
        api_key=API_KEY,
        base_url=gateway.base_url,
        max_retries=0,
        timeout=bpcpay.Timeout(connect=0.1, read=0.1),
        on_attempt=stuck_hook,
    ) as c:
        started = time.monotonic()
        with pytest.raises(bpcpay.APITimeoutError) as info:
            call(c)
        elapsed = time.monotonic() - started
    assert blocked.is_set()
    err = info.value
    assert 0.3 <= elapsed < 0.6, elapsed
    assert (err.method, err.path, err.phase) == (method, path, "read")
    assert err.outcome_unknown is unknown
    assert "did not answer" in str(err) and "0.3s" in str(err)
    assert hint in str(err)
    if method == "POST" and path == "/sessions":
        assert err.merchant_reference_id == "order-9"
