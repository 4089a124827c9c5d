"""The one argument-checking vocabulary (``bpcpay._core._checks``) and the promise built on it:
every public entry point refuses a bad argument with ``InvalidArgumentError`` (a ``ValueError``)
whose ``argument`` names it, before doing anything else, and never shows a secret's value.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest

from bpcpay import AsyncBpcPay, BpcPay, InvalidArgumentError, Timeout
from bpcpay._core._checks import (
    check_aware,
    check_callable,
    check_int,
    check_seconds,
    check_secret,
    check_text,
)
from bpcpay.sandbox import ManualClock, SandboxGateway
from bpcpay.testing import webhook_delivery
from bpcpay.webhooks import (
    InMemoryDeliveryStore,
    PostgresDeliveryStore,
    RedisDeliveryStore,
    SQLiteDeliveryStore,
    WebhookRouter,
    construct_event,
    sign,
    verify_signature,
)

#: Part of every secret-like value below: it must never reach a message or a repr.
MARK = "TOPSECRET"
#: A secret that cannot be used (a lone surrogate cannot be encoded), yet carries the mark.
BAD_SECRET = f"whsec_{MARK}\ud800"
SECRET = "whsec_test"
NAIVE = datetime(2030, 1, 1)
#: Never created: the store refuses its timeout before it opens the file.
NO_DIR = Path("/nonexistent-bpcpay-test-dir")  # no timezone: the point


def _router(**options: Any) -> WebhookRouter:
    return WebhookRouter(SECRET, **options)


def _gateway(**options: Any) -> SandboxGateway:
    return SandboxGateway(**options)


#: (the call, the argument it must name). Each call passes one bad argument.
CASES: dict[str, tuple[Callable[[], object], str]] = {
    # the clients
    "client api_key": (lambda: AsyncBpcPay(api_key=f"sk {MARK}"), "api_key"),
    "client base_url credentials": (
        lambda: AsyncBpcPay(api_key="sk_test", base_url=f"https://user:{MARK}@gw.example"),
        "base_url",
    ),
    "client max_retries": (lambda: AsyncBpcPay(api_key="sk_test", max_retries=-1), "max_retries"),
    "client timeout": (lambda: AsyncBpcPay(api_key="sk_test", timeout=0), "timeout"),
    "sync client pool_size": (lambda: BpcPay(api_key="sk_test", pool_size=0), "pool_size"),
    "Timeout read": (lambda: Timeout(read=math.nan), "timeout.read"),
    # the webhook functions
    "sign secret": (lambda: sign(b"{}", BAD_SECRET), "secret"),
    "sign secret type": (lambda: sign(b"{}", 42), "secret"),  # type: ignore[arg-type]
    "verify secret list": (
        lambda: verify_signature(b"{}", signature="00", secret=[SECRET, BAD_SECRET]),
        "secret",
    ),
    "verify max_bytes": (
        lambda: verify_signature(b"{}", signature="00", secret=SECRET, max_bytes=0),
        "max_bytes",
    ),
    "construct_event max_age": (
        lambda: construct_event(b"{}", {}, secret=SECRET, max_age=-5),
        "max_age",
    ),
    "construct_event secret": (lambda: construct_event(b"{}", {}, secret=[]), "secret"),
    # the router
    "router secret": (lambda: WebhookRouter(BAD_SECRET), "secret"),
    "router max_bytes": (lambda: _router(max_bytes=True), "max_bytes"),
    "router in_flight_timeout": (lambda: _router(in_flight_timeout=0), "in_flight_timeout"),
    "router max_age": (lambda: _router(max_age="60"), "max_age"),
    "router key": (lambda: _router(key="event.id"), "key"),
    "router store": (lambda: _router(store=object()), "store"),
    "router add_handler": (lambda: _router().add_handler("*", "print"), "handler"),  # type: ignore[arg-type]
    "router fallback": (lambda: _router().fallback(None), "handler"),  # type: ignore[type-var]
    "router pattern": (lambda: _router().on("payment.*.x"), "pattern"),
    "router reconcile ids": (lambda: _router().reconcile_sync(None, "ps_1"), "session_ids"),  # type: ignore[arg-type]
    # the stores
    "memory capacity": (lambda: InMemoryDeliveryStore(capacity=0), "capacity"),
    "memory lease": (lambda: InMemoryDeliveryStore(lease=math.inf), "lease"),
    "sqlite timeout": (lambda: SQLiteDeliveryStore(NO_DIR / "d.db", timeout=-1), "timeout"),
    "redis max_connections": (
        lambda: RedisDeliveryStore("redis://127.0.0.1:1/0", max_connections=0),
        "max_connections",
    ),
    "postgres retention": (
        lambda: PostgresDeliveryStore(f"postgresql://u:{MARK}@127.0.0.1:1/db", retention=0),
        "retention",
    ),
    # the sandbox gateway, its faults and its clock
    "gateway port": (lambda: _gateway(port=70000), "port"),
    "gateway api_key": (lambda: _gateway(api_key=BAD_SECRET), "api_key"),
    "gateway webhook_secret": (
        lambda: _gateway(webhook_secret=f"  {MARK}\ud800"),
        "webhook_secret",
    ),
    "gateway restricted key": (
        lambda: _gateway(api_key=f"sk_{MARK}", restricted_api_key=f"sk_{MARK}"),
        "restricted_api_key",
    ),
    "gateway api_version": (lambda: _gateway(api_version="2020-01-01"), "api_version"),
    "gateway clock": (lambda: _gateway(clock="now"), "clock"),
    "gateway schedule": (
        lambda: _gateway(webhook_retry_schedule=(0.1, -1)),
        "webhook_retry_schedule",
    ),
    "gateway expiry interval": (lambda: _gateway(expiry_check_interval=0), "expiry_check_interval"),
    "gateway request_log_size": (lambda: _gateway(request_log_size=0), "request_log_size"),
    "gateway endpoints": (
        lambda: _gateway(webhook_endpoints="http://127.0.0.1:1/h"),
        "webhook_endpoints",
    ),
    "gateway endpoint url": (lambda: _gateway().add_webhook_endpoint("127.0.0.1:1/h"), "url"),
    "gateway endpoint events": (
        lambda: _gateway().add_webhook_endpoint("http://127.0.0.1:1/h", events=[""]),
        "events",
    ),
    "gateway advance_clock": (lambda: _gateway().advance_clock(60), "delta"),  # type: ignore[arg-type]
    "fault times": (lambda: _gateway().faults.add(path="/api2/*", status=500, times=0), "times"),
    "fault status": (lambda: _gateway().faults.add(path="/api2/*", status=99), "status"),
    "fault stall": (lambda: _gateway().faults.add(path="/api2/*", stall=-1), "stall"),
    "fault path": (lambda: _gateway().faults.add(path="", drop=True), "path"),
    "fault nothing": (lambda: _gateway().faults.add(path="/api2/*"), "status"),
    "clock start": (lambda: ManualClock(NAIVE), "start"),
    "clock set": (lambda: ManualClock().set(NAIVE), "value"),
    # the test helpers
    "delivery secret": (
        lambda: webhook_delivery("session.completed", {}, secret=BAD_SECRET),
        "secret",
    ),
    "delivery event_type": (lambda: webhook_delivery("", {}, secret=SECRET), "event_type"),
    "delivery created": (
        lambda: webhook_delivery("session.completed", {}, secret=SECRET, created=NAIVE),
        "created",
    ),
}


@pytest.mark.parametrize("case", sorted(CASES))
def test_a_bad_argument_is_named_and_no_secret_is_shown(case: str) -> None:
    call, argument = CASES[case]
    with pytest.raises(InvalidArgumentError) as info:
        call()
    assert isinstance(info.value, ValueError)
    assert info.value.argument == argument
    assert str(info.value).startswith(f"{argument}: ")
    assert MARK not in str(info.value)
    assert MARK not in repr(info.value)


@pytest.mark.parametrize("value", [True, 1.0, "1", None])
def test_check_int_refuses_what_is_not_an_int(value: object) -> None:
    with pytest.raises(InvalidArgumentError, match=r"^count: must be an int, got"):
        check_int("count", value)


def test_check_int_bounds() -> None:
    assert check_int("n", 5, minimum=5, maximum=5) == 5
    with pytest.raises(InvalidArgumentError, match="at least 1, got 0"):
        check_int("n", 0, minimum=1)
    with pytest.raises(InvalidArgumentError, match="at most 9, got 10"):
        check_int("n", 10, maximum=9)
    with pytest.raises(InvalidArgumentError, match="must be an HTTP status"):
        check_int("status", "500", what="an HTTP status")


@pytest.mark.parametrize("value", [0, -1, math.nan, math.inf, True, "1", None])
def test_check_seconds_refuses(value: object) -> None:
    with pytest.raises(InvalidArgumentError, match="positive number of seconds"):
        check_seconds("timeout", value)


def test_check_seconds_zero_when_allowed() -> None:
    assert check_seconds("stall", 0, allow_zero=True) == 0.0
    assert check_seconds("stall", 2) == 2.0
    with pytest.raises(InvalidArgumentError, match="non-negative"):
        check_seconds("stall", -0.5, allow_zero=True)


@pytest.mark.parametrize(
    ("value", "problem"),
    [
        ("", "is empty or only whitespace"),
        (b" \t", "is empty or only whitespace"),
        (f"{MARK}\ud800", "cannot be encoded as UTF-8"),
        (42, "must be str or bytes, got int"),
    ],
)
def test_check_secret_says_what_is_wrong_never_what_it_is(value: object, problem: str) -> None:
    with pytest.raises(InvalidArgumentError) as info:
        check_secret("secret", value)
    assert info.value.problem == problem
    assert MARK not in str(info.value)


def test_check_secret_returns_the_key_bytes() -> None:
    assert check_secret("secret", "k\u00e9") == "k\u00e9".encode()
    assert check_secret("secret", bytearray(b"k")) == b"k"


def test_check_text() -> None:
    assert check_text("note", "") == ""
    with pytest.raises(InvalidArgumentError, match="non-empty string, got ''"):
        check_text("note", "", empty=False)
    with pytest.raises(InvalidArgumentError, match="must be a string, got int"):
        check_text("note", 5)
    with pytest.raises(InvalidArgumentError, match="at most 3 characters"):
        check_text("note", "abcd", max_length=3)
    with pytest.raises(InvalidArgumentError, match="lone surrogate"):
        check_text("note", "\udc00")


def test_check_aware_and_callable() -> None:
    aware = datetime(2030, 1, 1, tzinfo=timezone(timedelta(hours=2)))
    assert check_aware("when", aware) is aware
    with pytest.raises(InvalidArgumentError, match="timezone-aware"):
        check_aware("when", NAIVE)
    with pytest.raises(InvalidArgumentError, match="must be a datetime, got str"):
        check_aware("when", "2030-01-01")
    assert check_callable("key", len) is len
    with pytest.raises(InvalidArgumentError, match=r"^key: must be a key function, got int"):
        check_callable("key", 1, "a key function")


def test_no_inlined_int_checks_are_left() -> None:
    # The pattern the vocabulary replaced; only the vocabulary and the converter (which judges
    # the gateway's data, not a caller's arguments) may still spell it out.
    package = Path(__file__).resolve().parent.parent / "bpcpay"
    allowed = {package / "_core" / "_checks.py", package / "_core" / "_converter.py"}
    found = [
        f"{path.relative_to(package)}:{number}"
        for path in sorted(package.rglob("*.py"))
        if path not in allowed and "_sync" not in path.parts
        for number, line in enumerate(path.read_text().splitlines(), 1)
        if "isinstance(" in line and ", bool)" in line
    ]
    assert found == []
