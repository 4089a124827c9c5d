"""A hostile gateway, met by both clients: every misbehaviour ends in a clear bpcpay error, in
bounded time and, for the large ones, in bounded memory.

One real socket server (``_hostile_server.py``) on 127.0.0.1 has a mode per misbehaviour;
each test asserts the error class and the time bound, and the large modes (an endless body, a
10 GB Content-Length, a gzip bomb) run the client in a subprocess that reports its own peak RSS
growth. The bounds are generous (the timeout plus a second or two, tens of MiB): they catch a
hang or a blow-up, they do not measure speed.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import subprocess
import sys
import textwrap
import time
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from _hostile_server import BOMB_INFLATED, HostileGateway
from _rel_support import LOAD_REPORT, assert_backoffs_within_policy

import bpcpay
from bpcpay import (
    APIConnectionError,
    APIResponseValidationError,
    APIStatusError,
    APITimeoutError,
    AsyncBpcPay,
    BpcPay,
    Timeout,
)
from bpcpay._async._transport import AiohttpTransport
from bpcpay._constants import DEFAULT_MAX_RESPONSE_BYTES

API_KEY = "sk_test_hostile_not_real"
#: For the misbehaviours that must end at once: a timeout that would show if they did not.
TIMEOUT = Timeout(connect=1.0, read=1.0)
#: What a bound may exceed the timeout by before we call it a hang.
SLACK = 1.5
#: The most a large answer may grow the client process (it is 5 GB without a limit).
MEMORY_BOUND_KIB = 64 * 1024
KINDS = ["async", "sync"]
URLS = {"success_url": "https://shop.example/ok", "failure_url": "https://shop.example/ko"}


@pytest.fixture(scope="module")
def hostile() -> Iterator[HostileGateway]:
    with HostileGateway() as gw:
        yield gw


def run_call(
    kind: str,
    base_url: str,
    *,
    method: str = "GET",
    sleep: Callable[[float], Any] | None = None,
    **options: Any,
) -> tuple[BaseException | None, float]:
    """One call with a fresh client of ``kind``: the error it raised (None if none) and the
    seconds it took. ``max_retries`` is 0 unless given, so one attempt is timed; ``sleep``
    replaces the backoff's sleep."""
    options = {"api_key": API_KEY, "base_url": base_url, "max_retries": 0, **options}

    def call(client: Any) -> Any:
        if method == "GET":
            return client.sessions.retrieve("ps_hostile")
        return client.sessions.create(
            amount=1000, currency="EUR", merchant_reference_id="order-7", **URLS
        )

    started = time.monotonic()
    try:
        if kind == "async":

            async def main() -> None:
                async with AsyncBpcPay(**options, _sleep=sleep) as client:
                    await call(client)

            asyncio.run(main())
        else:
            with BpcPay(**options, _sleep=sleep) as client:
                call(client)
    except bpcpay.BpcPayError as exc:
        return exc, time.monotonic() - started
    return None, time.monotonic() - started


# --- time: trickles end within the timeout ------------------------------------------------------


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("method", ["GET", "POST"])
@pytest.mark.parametrize("mode", ["trickle_headers", "trickle_body", "trickle_until_close"])
def test_a_trickling_answer_times_out_within_the_read_timeout(
    hostile: HostileGateway, kind: str, method: str, mode: str
) -> None:
    # connect is long and unused (loopback connects at once): the read deadline alone ends the
    # call, within read + slack, well before connect + read.
    timeout = Timeout(connect=3.0, read=1.0)
    before = len(hostile.requests_to("main"))
    err, elapsed = run_call(kind, hostile.url(mode), method=method, timeout=timeout)
    assert isinstance(err, APITimeoutError), err
    # Sent once: aiohttp re-sends a GET whose connection broke before the status line, never
    # one whose deadline ended it.
    assert len(hostile.requests_to("main")) - before == 1
    assert err.phase == "read"
    assert err.method == method
    assert err.path == ("/sessions/ps_hostile" if method == "GET" else "/sessions")
    # A GET is safe to repeat; a POST that was sent has an unknown outcome.
    assert err.outcome_unknown is (method == "POST")
    assert "within 1s (read timeout)" in str(err)
    LOAD_REPORT.append(f"[{kind}] {mode} {method}: APITimeoutError after {elapsed:.2f} s (read=1)")
    assert timeout.read <= elapsed <= timeout.read + SLACK < timeout.total, elapsed


@pytest.mark.parametrize("mode", ["trickle_headers", "trickle_body"])
def test_with_a_borrowed_session_a_trickle_ends_within_connect_plus_read(
    hostile: HostileGateway, mode: str
) -> None:
    """A session the caller lends keeps its own connector: the attempt's hard cap,
    ``connect + read``, still ends the call."""
    import aiohttp

    timeout = Timeout(connect=0.5, read=1.0)

    async def main() -> tuple[BaseException, float]:
        async with (
            aiohttp.ClientSession() as http,
            AsyncBpcPay(
                api_key=API_KEY,
                base_url=hostile.url(mode),
                session=http,
                max_retries=0,
                timeout=timeout,
            ) as client,
        ):
            started = time.monotonic()
            with pytest.raises(APITimeoutError) as info:
                await client.sessions.retrieve("ps_hostile")
            return info.value, time.monotonic() - started

    err, elapsed = asyncio.run(main())
    LOAD_REPORT.append(f"[async, borrowed session] {mode}: {elapsed:.2f} s (connect 0.5 + read 1)")
    assert err.phase == "read" and not err.outcome_unknown  # type: ignore[attr-defined]
    assert timeout.read <= elapsed <= timeout.total + SLACK, elapsed


def test_however_an_attempt_ends_the_transport_keeps_nothing_of_it(
    hostile: HostileGateway,
) -> None:
    """An answer, a read timeout (a body with a length, one that ends with the connection), an
    answer too large, a connection reset mid-body, a cancellation mid-read: after each, one
    shared transport keeps no read deadline, and its pooled connection serves the next call."""
    transport = AiohttpTransport(
        session=None, pool_size=1, max_response_bytes=DEFAULT_MAX_RESPONSE_BYTES
    )

    def client(mode: str) -> AsyncBpcPay:
        return AsyncBpcPay(
            api_key=API_KEY,
            base_url=hostile.url(mode),
            max_retries=0,
            timeout=Timeout(connect=1.0, read=0.3),
            _transport=transport,
        )

    async def main() -> dict[str, str]:
        ended: dict[str, str] = {}
        for mode in ("ok", "trickle_body", "ok", "trickle_until_close", "huge_length"):
            try:
                await client(mode).sessions.retrieve("ps_hostile")
                ended[mode] = "answer"
            except bpcpay.BpcPayError as exc:
                ended[mode] = type(exc).__name__
            assert transport.attempts_in_flight == 0, mode
        for mode in ("reset_mid_body", "ok"):
            with contextlib.suppress(bpcpay.BpcPayError):
                await client(mode).sessions.retrieve("ps_hostile")
            assert transport.attempts_in_flight == 0, mode
        call = asyncio.ensure_future(client("trickle_body").sessions.retrieve("ps_hostile"))
        await asyncio.sleep(0.1)
        assert transport.attempts_in_flight == 1
        call.cancel()
        with pytest.raises(asyncio.CancelledError):
            await call
        assert transport.attempts_in_flight == 0
        assert (await client("ok").sessions.retrieve("ps_hostile")).id == "ps_hostile"
        await transport.aclose()
        return ended

    assert asyncio.run(main()) == {
        "ok": "answer",
        "trickle_body": "APITimeoutError",
        "trickle_until_close": "APITimeoutError",
        "huge_length": "ResponseTooLargeError",
    }


@pytest.mark.parametrize("kind", KINDS)
def test_the_worst_case_of_a_call_is_attempts_times_connect_plus_read(
    hostile: HostileGateway, kind: str
) -> None:
    """``(max_retries + 1) x (connect + read)`` plus the backoff, which is recorded, not slept."""
    timeout = Timeout(connect=0.4, read=0.4)
    slept: list[float] = []

    async def fake_sleep(delay: float) -> None:
        slept.append(delay)

    before = len(hostile.requests_to("main"))
    err, elapsed = run_call(
        kind, hostile.url("trickle_body"), sleep=fake_sleep, max_retries=2, timeout=timeout
    )
    assert isinstance(err, APITimeoutError), err
    LOAD_REPORT.append(f"[{kind}] worst case, 3 attempts of 0.4+0.4 s: {elapsed:.2f} s")
    assert err.phase == "read" and not err.outcome_unknown
    assert len(slept) == 2  # three attempts, two backoffs, each within the policy's caps
    assert_backoffs_within_policy(slept)
    attempts = 3
    assert attempts * timeout.read <= elapsed <= attempts * timeout.total + SLACK, elapsed
    assert len(hostile.requests_to("main")) - before == attempts


@pytest.mark.parametrize("kind", KINDS)
def test_more_calls_than_the_pool_all_end_within_the_timeout(
    hostile: HostileGateway, kind: str
) -> None:
    """pool_size=2 and six trickled calls at once: two hold the connections and time out
    reading; four wait for a connection and time out connecting (never sent)."""
    timeout = Timeout(connect=0.5, read=1.0)
    options: dict[str, Any] = {
        "api_key": API_KEY,
        "base_url": hostile.url("trickle_body"),
        "max_retries": 0,
        "pool_size": 2,
        "timeout": timeout,
    }
    started = time.monotonic()
    if kind == "async":

        async def main() -> list[BaseException]:
            async with AsyncBpcPay(**options) as client:
                calls = [client.sessions.retrieve("ps_hostile") for _ in range(6)]
                outcomes = await asyncio.wait_for(
                    asyncio.gather(*calls, return_exceptions=True), timeout=15
                )
            return [o for o in outcomes if isinstance(o, BaseException)]

        errors = asyncio.run(main())
    else:
        import concurrent.futures

        with (
            BpcPay(**options) as client,
            concurrent.futures.ThreadPoolExecutor(6) as pool,
        ):
            futures = [pool.submit(client.sessions.retrieve, "ps_hostile") for _ in range(6)]
            errors = [f.exception(timeout=15) for f in futures]  # type: ignore[misc]
    elapsed = time.monotonic() - started
    LOAD_REPORT.append(f"[{kind}] 6 calls on a pool of 2 (connect 0.5, read 1): {elapsed:.2f} s")
    assert len(errors) == 6 and all(isinstance(e, APITimeoutError) for e in errors), errors
    phases = sorted(e.phase for e in errors)  # type: ignore[union-attr]
    assert phases == ["connect"] * 4 + ["read"] * 2
    assert all(not e.request_sent for e in errors if e.phase == "connect")  # type: ignore[union-attr]
    assert elapsed <= timeout.total + SLACK, elapsed


# --- memory: large answers are cut at max_response_bytes ----------------------------------------

CHILD = textwrap.dedent(
    """
    import asyncio, json, sys, time
    import bpcpay

    kind, ok_url, url = sys.argv[1:4]

    def rss_kib():
        fields = {}
        with open("/proc/self/status") as status:
            for line in status:
                name, _, value = line.partition(":")
                fields[name] = int(value.split()[0]) if value.strip().endswith("kB") else 0
        return fields["VmRSS"], fields["VmHWM"]

    def reset_peak():
        # Linux: writing 5 resets VmHWM to the current RSS; without it the peak of the
        # interpreter's start counts too, which only makes the bound stricter.
        try:
            with open("/proc/self/clear_refs", "w") as refs:
                refs.write("5")
        except OSError:
            pass

    async def async_calls():
        async with bpcpay.AsyncBpcPay(api_key="sk_test_child", base_url=ok_url) as warm:
            await warm.sessions.retrieve("ps_hostile")  # everything imported, pools set up
        async with bpcpay.AsyncBpcPay(api_key="sk_test_child", base_url=url,
                                      max_retries=0) as client:
            return await measured(client.sessions.retrieve("ps_hostile"))

    async def measured(awaitable):
        before, started = start()
        try:
            await awaitable
        except bpcpay.BpcPayError as exc:
            return report(exc, before, started)
        return report(None, before, started)

    def start():
        reset_peak()
        return rss_kib()[0], time.monotonic()

    def report(exc, before, started):
        return {
            "error": type(exc).__name__ if exc else None,
            "message": str(exc) if exc else None,
            "limit": getattr(exc, "limit", None),
            "seconds": time.monotonic() - started,
            "growth_kib": rss_kib()[1] - before,
        }

    if kind == "async":
        result = asyncio.run(async_calls())
    else:
        with bpcpay.BpcPay(api_key="sk_test_child", base_url=ok_url) as warm:
            warm.sessions.retrieve("ps_hostile")
            with bpcpay.BpcPay(api_key="sk_test_child", base_url=url, max_retries=0) as client:
                before, started = start()
                try:
                    client.sessions.retrieve("ps_hostile")
                    result = report(None, before, started)
                except bpcpay.BpcPayError as exc:
                    result = report(exc, before, started)
    print(json.dumps(result))
    """
)


def run_child(kind: str, hostile: HostileGateway, mode: str) -> dict[str, Any]:
    """Run one call in a fresh interpreter; it reports its error and its own peak RSS growth."""
    done = subprocess.run(
        [sys.executable, "-W", "error", "-c", CHILD, kind, hostile.url("ok"), hostile.url(mode)],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert done.stderr == ""
    result: dict[str, Any] = json.loads(done.stdout)
    return result


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("mode", ["endless_body", "huge_length", "bomb"])
def test_a_large_answer_is_refused_in_bounded_time_and_memory(
    hostile: HostileGateway, kind: str, mode: str
) -> None:
    result = run_child(kind, hostile, mode)
    LOAD_REPORT.append(
        f"[{kind}] {mode}: {result['error']} in {result['seconds']:.2f} s, "
        f"peak RSS growth {result['growth_kib'] / 1024:.1f} MiB"
    )
    assert result["error"] == "ResponseTooLargeError", result
    assert result["limit"] == DEFAULT_MAX_RESPONSE_BYTES
    assert "max_response_bytes" in result["message"]
    assert str(DEFAULT_MAX_RESPONSE_BYTES) in result["message"]
    assert result["seconds"] <= 5.0, result
    assert result["growth_kib"] < MEMORY_BOUND_KIB, result
    if mode == "huge_length":
        assert "Content-Length" in result["message"]  # refused before reading a byte of it
    assert BOMB_INFLATED > 10 * DEFAULT_MAX_RESPONSE_BYTES  # the bomb really is a bomb


# --- the rest of the misbehaviours: a clear error, at once --------------------------------------


def _redirect(err: BaseException, gw: HostileGateway) -> None:
    assert isinstance(err, APIStatusError) and err.status_code == 307
    assert "redirect" in str(err) and "not follow" in str(err)
    assert gw.trap_url in str(err)


def _reset(err: BaseException, gw: HostileGateway) -> None:
    assert type(err) is APIConnectionError and err.request_sent


def _invalid_json(err: BaseException, gw: HostileGateway) -> None:
    assert isinstance(err, APIResponseValidationError) and err.status_code == 200
    assert b'"amount": 10' in err.body


def _html(err: BaseException, gw: HostileGateway) -> None:
    assert isinstance(err, APIResponseValidationError)
    assert "HTML page" in str(err)


def _html_404(err: BaseException, gw: HostileGateway) -> None:
    assert isinstance(err, bpcpay.NotFoundError)
    assert "this is a web page, not the API" in str(err) and "/api2" in str(err)


def _error_200(err: BaseException, gw: HostileGateway) -> None:
    assert isinstance(err, APIResponseValidationError)
    assert "backend unavailable" in str(err) and "E_BACKEND" in str(err)
    assert err.request_id == "req_error_200"


CHECKS: dict[str, Callable[[BaseException, HostileGateway], None]] = {
    "redirect": _redirect,
    "reset_mid_body": _reset,
    "invalid_json": _invalid_json,
    "wrong_content_type": _html,
    "error_200": _error_200,
    "html_404": _html_404,
}


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("method", ["GET", "POST"])
@pytest.mark.parametrize("mode", sorted(CHECKS))
def test_a_misbehaving_answer_is_a_clear_error_at_once(
    hostile: HostileGateway, kind: str, method: str, mode: str
) -> None:
    trapped = len(hostile.requests_to("trap"))
    err, elapsed = run_call(kind, hostile.url(mode), method=method, timeout=TIMEOUT)
    assert err is not None
    CHECKS[mode](err, hostile)
    assert elapsed <= SLACK, elapsed
    # Nothing ever reached the other host, so the API key never went there either.
    assert len(hostile.requests_to("trap")) == trapped


def test_the_redirect_target_never_sees_the_key(hostile: HostileGateway) -> None:
    for kind in KINDS:
        err, _ = run_call(kind, hostile.url("redirect"), method="POST")
        assert isinstance(err, APIStatusError)
    assert hostile.requests_to("trap") == []
    assert hostile.open["trap"] == 0
    sent = [r for r in hostile.requests_to("main") if r.target.startswith("/redirect/")]
    assert sent and all(r.headers["x-api-key"] == API_KEY for r in sent)


# --- secrets: a gateway echoing the key back -----------------------------------------------------

#: A key with characters that JSON escapes (" \ /) and URL-encoding changes (+ = / " \).
ECHOED_KEY = 'sk_test/"echo\\key+=1'


def spellings(secret: str) -> list[str]:
    """Every form the key may take in an echo: raw, JSON-escaped, URL-encoded (both cases)."""
    from urllib.parse import quote

    uni = "".join(f"\\u{ord(c):04x}" for c in secret)
    encoded = quote(secret, safe="")
    dumped = json.dumps(secret)[1:-1]
    return [
        secret,
        uni,
        uni.upper().replace("\\U", "\\u"),
        encoded,
        encoded.lower(),
        dumped,
        dumped.replace("/", "\\/"),
    ]


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("mode", ["echo_key", "echo_key_200"])
def test_an_echoed_key_is_nowhere_in_the_error_its_pickle_or_the_log(
    hostile: HostileGateway, kind: str, mode: str, caplog: pytest.LogCaptureFixture
) -> None:
    import pickle
    import traceback

    attempts: list[bpcpay.RequestAttempt] = []
    with caplog.at_level("DEBUG", logger="bpcpay"):
        err, _ = run_call(kind, hostile.url(mode), api_key=ECHOED_KEY, on_attempt=attempts.append)
    expected = bpcpay.AuthenticationError if mode == "echo_key" else APIResponseValidationError
    assert isinstance(err, expected), err
    sent = [r for r in hostile.requests_to("main") if r.target.startswith(f"/{mode}/")]
    assert sent[-1].headers["x-api-key"] == ECHOED_KEY  # it was echoed back for real
    texts = {
        "str": str(err),
        "repr": repr(err),
        "args": repr(err.args),
        "attributes": repr(vars(err)),
        "traceback": "".join(traceback.format_exception(err)),
        "pickle": pickle.dumps(err).decode("latin-1"),
        "log": caplog.text,
        "on_attempt": repr(attempts),
    }
    for where, text in texts.items():
        for form in spellings(ECHOED_KEY):
            assert form not in text, (where, form)
    assert "[redacted]" in repr(vars(err))
    assert err.request_id == "req_[redacted]"
    assert attempts[-1].request_id == "req_[redacted]"
    if isinstance(err, APIStatusError):
        assert err.headers["x-echo"] == "[redacted]"
        assert err.headers["x-echo-encoded"] == "[redacted]"
        assert err.code == "[redacted]" and err.param == "[redacted]"
