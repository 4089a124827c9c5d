"""The fault matrix: every client call x every fault x (AsyncBpcPay, BpcPay), against the sandbox.

Each case arms one fault through the sandbox's fault injection (or points the client at a
refusing loopback port), makes one call, and asserts:

* the outcome: the exception class (and its facts), or success when a GET's fault is consumed
  within ``max_retries``;
* how many SDK attempts were made (``on_attempt``) and how many requests reached the gateway
  (its own request log);
* for a POST, that no second session / payment / refund exists in the gateway's state;
* that the backoff slept (a recording fake sleep, never the wall clock) is what the retry policy
  allows, and that no connection is left acquired afterwards.

Modes: ``always`` arms the fault for every attempt; ``once`` arms it for the first attempt only,
so a retry would succeed. ``once`` is the telling mode for a POST (a retry would create a
duplicate), so POSTs run only in it; GETs run in both. A truncated 200 and a refused connection
do not depend on the mode and run once each.

aiohttp silently re-sends an idempotent request once when the server drops the connection
(RFC 9112 9.3.1), so one SDK attempt of a GET that meets ``drop`` can reach the gateway twice:
for drops the gateway count is asserted within [attempts, 2 x attempts], and ``once`` arms two
drops so the SDK itself sees exactly one failure. POSTs are never re-sent by aiohttp.
"""

from __future__ import annotations

import asyncio
import random
from collections.abc import Callable, Iterator
from datetime import datetime, timedelta, timezone
from typing import Any

import attrs
import pytest
from _rel_support import (
    FAILURE_URL,
    LOOPBACK,
    SUCCESS_URL,
    SleepRecorder,
    assert_backoffs_within_policy,
    card_of,
    new_transport,
    open_connections,
    refusing_port,
    request_log_length,
    request_log_since,
    state_counts,
    wait_until,
)

import bpcpay
from bpcpay import (
    APIConnectionError,
    APIResponseValidationError,
    APITimeoutError,
    AsyncBpcPay,
    BpcPay,
    InternalServerError,
    RateLimitError,
    RequestAttempt,
    Timeout,
)
from bpcpay._async._transport import AiohttpTransport
from bpcpay._constants import DEFAULT_MAX_RETRIES
from bpcpay.sandbox import TestCards, ThreadedSandboxGateway

MAX_ATTEMPTS = DEFAULT_MAX_RETRIES + 1
#: A short read timeout for the stall cases, and a stall comfortably longer than it.
STALL_TIMEOUT = Timeout(connect=1, read=0.05)
STALL = 0.15
RETRY_AFTER_SECONDS = 3
HTML_PAGE = (
    "<html>\r\n<head><title>502 Bad Gateway</title></head>\r\n<body>\r\n"
    "<center><h1>502 Bad Gateway</h1></center>\r\n<hr><center>nginx</center>\r\n"
    "</body>\r\n</html>\r\n"
)
TRUNCATED_JSON = b'{"id": "ps_truncated", "amount": 10000, "curr'


# --- the calls ---------------------------------------------------------------------------------


@attrs.frozen
class Objects:
    """Objects made once per module, for the GETs to fetch."""

    session_id: str
    payment_id: str
    refund_id: str
    payment_method_id: str


@attrs.frozen
class Prepared:
    args: tuple[Any, ...]
    kwargs: dict[str, Any]
    #: The path below the base URL, as errors and the client's log show it.
    path: str
    #: The id a successful GET returns.
    expected_id: str | None = None


@attrs.frozen
class Call:
    name: str
    method: str
    prepare: Callable[[BpcPay, Objects], Prepared]
    #: The merchant_reference_id the call passes, kept on errors for reconciliation.
    reference: str | None = None


def _manual_payment(setup: BpcPay) -> str:
    payment = setup.payments.create(
        amount=2500,
        currency="EUR",
        card=card_of(TestCards.SUCCESS_ATTEMPT),
        capture_method="manual",
    )
    assert payment.status == "requiresCapture"
    return payment.id


def _succeeded_payment(setup: BpcPay) -> str:
    # Asked to keep the card, so that there is a payment method to fetch.
    payment = setup.payments.create(
        amount=2500,
        currency="EUR",
        card=card_of(TestCards.SUCCESS_ATTEMPT),
        setup_future_usage={"category": "unscheduled"},
    )
    assert payment.status == "succeeded"
    return payment.id


def _capture(setup: BpcPay, _: Objects) -> Prepared:
    payment_id = _manual_payment(setup)
    return Prepared((payment_id,), {"amount": 1000}, f"/payments/{payment_id}/capture")


def _cancel(setup: BpcPay, _: Objects) -> Prepared:
    payment_id = _manual_payment(setup)
    return Prepared((payment_id,), {}, f"/payments/{payment_id}/cancel")


def _refund(setup: BpcPay, _: Objects) -> Prepared:
    payment_id = _succeeded_payment(setup)
    return Prepared((), {"payment_id": payment_id, "amount": 100}, "/refunds")


CALLS = [
    Call(
        "sessions.create",
        "POST",
        lambda s, o: Prepared(
            (),
            {
                "amount": 10000,
                "currency": "EUR",
                "success_url": SUCCESS_URL,
                "failure_url": FAILURE_URL,
                "merchant_reference_id": "order-matrix",
            },
            "/sessions",
        ),
        reference="order-matrix",
    ),
    Call(
        "sessions.retrieve",
        "GET",
        lambda s, o: Prepared((o.session_id,), {}, f"/sessions/{o.session_id}", o.session_id),
    ),
    Call(
        "payments.create",
        "POST",
        lambda s, o: Prepared(
            (),
            {
                "amount": 5000,
                "currency": "EUR",
                "card": card_of(TestCards.SUCCESS_ATTEMPT),
                "merchant_reference_id": "order-direct",
            },
            "/payments",
        ),
        reference="order-direct",
    ),
    Call(
        "payments.retrieve",
        "GET",
        lambda s, o: Prepared((o.payment_id,), {}, f"/payments/{o.payment_id}", o.payment_id),
    ),
    Call("payments.capture", "POST", _capture),
    Call("payments.cancel", "POST", _cancel),
    Call("refunds.create", "POST", _refund),
    Call(
        "refunds.retrieve",
        "GET",
        lambda s, o: Prepared((o.refund_id,), {}, f"/refunds/{o.refund_id}", o.refund_id),
    ),
    Call(
        "payment_methods.retrieve",
        "GET",
        lambda s, o: Prepared(
            (o.payment_method_id,),
            {},
            f"/payment-methods/{o.payment_method_id}",
            o.payment_method_id,
        ),
    ),
]

# --- the faults and what the policy says about them ----------------------------------------------

FAULTS = [
    "refused",
    "drop",
    "stall",
    "429-seconds",
    "429-date",
    "500",
    "502",
    "503",
    "html",
    "truncated-json",
]

#: The error each fault ends in once no retry is allowed (or left).
ERRORS: dict[str, type[bpcpay.BpcPayError]] = {
    "refused": APIConnectionError,
    "drop": APIConnectionError,
    "stall": APITimeoutError,
    "429-seconds": RateLimitError,
    "429-date": RateLimitError,
    "500": InternalServerError,
    "502": InternalServerError,
    "503": InternalServerError,
    "html": InternalServerError,
    "truncated-json": APIResponseValidationError,
}
STATUS = {
    "429-seconds": 429,
    "429-date": 429,
    "500": 500,
    "502": 502,
    "503": 503,
    "html": 502,
    "truncated-json": 200,
}


@attrs.frozen
class Expected:
    error: type[bpcpay.BpcPayError] | None
    attempts: int
    #: Inclusive bounds on the requests the gateway logs.
    gateway: tuple[int, int]


def expected(call: Call, fault: str, mode: str) -> Expected:
    """What the retry policy (``_core/_retry.py``, README "Reliability") promises."""
    if fault == "refused":  # never reached anything: retried even for a POST
        return Expected(APIConnectionError, MAX_ATTEMPTS, (0, 0))
    if fault == "truncated-json" or call.method == "POST":  # an answer, or maybe sent: no retry
        return Expected(ERRORS[fault], 1, (1, 1))
    attempts = MAX_ATTEMPTS if mode == "always" else 2
    error = ERRORS[fault] if mode == "always" else None
    top = 2 * attempts if fault == "drop" else attempts
    return Expected(error, attempts, (attempts, top))


def cases() -> Iterator[Any]:
    for kind in ("async", "sync"):
        for call in CALLS:
            for fault in FAULTS:
                single = fault in ("refused", "truncated-json") or call.method == "POST"
                for mode in ("once",) if single else ("always", "once"):
                    yield pytest.param(
                        kind, call, fault, mode, id=f"{kind}-{call.name}-{fault}-{mode}"
                    )


def arm(gw: ThreadedSandboxGateway, call: Call, path: str, fault: str, mode: str) -> None:
    if fault == "refused":
        return
    if mode == "always":
        times = 2 * MAX_ATTEMPTS
    else:
        times = 2 if fault == "drop" and call.method == "GET" else 1
    full = "/api2" + path
    options: dict[str, Any] = {"method": call.method, "path": full, "times": times}
    if fault == "drop":
        options["drop"] = True
    elif fault == "stall":
        options["stall"] = STALL
    elif fault == "429-seconds":
        options.update(status=429, retry_after=RETRY_AFTER_SECONDS)
    elif fault == "429-date":
        options.update(status=429, retry_after=datetime.now(timezone.utc) + timedelta(seconds=2))
    elif fault == "html":
        options.update(status=502, body=HTML_PAGE)
    elif fault == "truncated-json":
        options.update(body=TRUNCATED_JSON)
    else:
        options["status"] = int(fault)
    gw.faults.add(**options)


# --- running one call through either client -----------------------------------------------------


def _method_of(client: Any, name: str) -> Any:
    resource, method = name.split(".")
    return getattr(getattr(client, resource), method)


@attrs.define
class Outcome:
    result: Any = None
    error: BaseException | None = None
    attempts: list[RequestAttempt] = attrs.Factory(list)
    sleeps: SleepRecorder = attrs.Factory(SleepRecorder)
    transport: AiohttpTransport = attrs.Factory(new_transport)
    acquired_after: int = -1


def client_options(base_url: str, api_key: str, outcome: Outcome) -> dict[str, Any]:
    """The options both clients get: attempts and sleeps recorded, jitter seeded, and a
    transport of the outcome's own (to count its connections after the call)."""
    return {
        "api_key": api_key,
        "base_url": base_url,
        "on_attempt": outcome.attempts.append,
        "_sleep": outcome.sleeps,
        "_random": random.Random(4).random,
        "_transport": outcome.transport,
    }


def run_async(
    base_url: str, api_key: str, call: Call, prepared: Prepared, kw: dict[str, Any]
) -> Outcome:
    outcome = Outcome()

    async def main() -> None:
        async with AsyncBpcPay(**client_options(base_url, api_key, outcome)) as client:
            try:
                outcome.result = await _method_of(client, call.name)(*prepared.args, **kw)
            except bpcpay.BpcPayError as exc:
                outcome.error = exc
            outcome.acquired_after = open_connections(outcome.transport)[0]

    asyncio.run(main())
    return outcome


def run_sync(
    base_url: str, api_key: str, call: Call, prepared: Prepared, kw: dict[str, Any]
) -> Outcome:
    outcome = Outcome()
    with BpcPay(**client_options(base_url, api_key, outcome)) as client:
        try:
            outcome.result = _method_of(client, call.name)(*prepared.args, **kw)
        except bpcpay.BpcPayError as exc:
            outcome.error = exc
        # The client's session lives on the loop thread; after the call returns, nothing there
        # holds a connection any more.
        outcome.acquired_after = open_connections(outcome.transport)[0]
    return outcome


@pytest.fixture(scope="module")
def objects(setup_client: BpcPay) -> Objects:
    session = setup_client.sessions.create(
        amount=10000, currency="EUR", success_url=SUCCESS_URL, failure_url=FAILURE_URL
    )
    payment_id = _succeeded_payment(setup_client)
    payment = setup_client.payments.retrieve(payment_id)
    assert payment.stored_payment_method_id is not None
    refund = setup_client.refunds.create(payment_id=payment_id, amount=100)
    return Objects(session.id, payment_id, refund.id, payment.stored_payment_method_id)


@pytest.mark.parametrize(("kind", "call", "fault", "mode"), list(cases()))
def test_fault_matrix(
    gw: ThreadedSandboxGateway,
    setup_client: BpcPay,
    objects: Objects,
    kind: str,
    call: Call,
    fault: str,
    mode: str,
) -> None:
    prepared = call.prepare(setup_client, objects)
    want = expected(call, fault, mode)
    before_state = state_counts(gw)
    start = request_log_length(gw)
    kwargs = dict(prepared.kwargs)
    if fault == "stall":
        kwargs["timeout"] = STALL_TIMEOUT
    arm(gw, call, prepared.path, fault, mode)
    run = run_async if kind == "async" else run_sync

    if fault == "refused":
        with refusing_port() as port:
            outcome = run(f"http://{LOOPBACK}:{port}/api2", gw.api_key, call, prepared, kwargs)
    else:
        outcome = run(gw.base_url, gw.api_key, call, prepared, kwargs)

    # What reached the gateway: wait for stalled handlers to finish and log, then count.
    low, high = want.gateway
    wait_until(lambda: request_log_length(gw) >= start + low, what="the gateway's log")
    records = request_log_since(gw, start)
    assert low <= len(records) <= high, records
    assert all(r.method == call.method and r.path == "/api2" + prepared.path for r in records)

    # The SDK's own attempts and the backoff between them.
    assert len(outcome.attempts) == want.attempts
    assert [a.attempt for a in outcome.attempts] == list(range(1, want.attempts + 1))
    assert len(outcome.sleeps.delays) == want.attempts - 1
    assert [a.retry_in for a in outcome.attempts[:-1]] == outcome.sleeps.delays
    assert outcome.attempts[-1].retry_in is None
    if fault == "429-seconds":
        assert outcome.sleeps.delays == [float(RETRY_AFTER_SECONDS)] * (want.attempts - 1)
    assert_backoffs_within_policy(
        outcome.sleeps.delays,
        hint={"429-seconds": RETRY_AFTER_SECONDS, "429-date": 2.0}.get(fault),
    )
    assert outcome.acquired_after == 0

    # Nothing created twice; here nothing created at all: status, body and drop faults answer
    # before the handler runs, and a stalled handler finds the connection gone when it reads
    # the body (the client hung up at its read timeout), so the sandbox never acts on it.
    assert state_counts(gw) == before_state

    if want.error is None:
        assert outcome.error is None, outcome.error
        assert outcome.result.id == prepared.expected_id
        return
    err = outcome.error
    assert type(err) is want.error, repr(err)
    assert isinstance(err, bpcpay.APIError)
    assert err.method == call.method
    assert err.path == prepared.path
    if isinstance(err, APIConnectionError):
        sent = fault != "refused"
        assert err.request_sent is sent
        assert err.outcome_unknown is (sent and call.method == "POST")
        if err.outcome_unknown:
            assert "outcome is unknown" in str(err)
            assert err.merchant_reference_id == call.reference
        if fault == "stall":
            assert isinstance(err, APITimeoutError)
            assert err.phase == "read"
    else:
        assert isinstance(err, (bpcpay.APIStatusError, APIResponseValidationError))
        assert err.status_code == STATUS[fault]
        # The error names the answer that ended the call: the gateway's last request id.
        assert err.request_id == records[-1].request_id
        if fault == "html":
            assert "HTML page" in str(err)
        if isinstance(err, RateLimitError):
            assert err.retry_after is not None
