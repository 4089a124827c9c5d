"""Leases that follow their holder: renewed while the handlers run, lapsing soon after a holder
dies, taken over the moment they lapse, and never lost to a renewal that fails.

Real time throughout, with short leases (1 s and 2 s, the shortest the router supports), since
the stores' own clocks (Redis's, PostgreSQL's) cannot be moved by a test.
"""

from __future__ import annotations

import asyncio
import inspect
import json
import logging
import subprocess
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest
from _stores import STORE_KINDS, Driven, build, store_options, unique

from bpcpay.models import Event
from bpcpay.webhooks import (
    DEFAULT_LEASE,
    InMemoryDeliveryStore,
    WebhookResult,
    WebhookRouter,
    sign,
)

SECRET = "whsec_leases_not_real"


def delivery(object_id: str) -> tuple[bytes, dict[str, str]]:
    obj = {"id": object_id, "amount": 100, "currency": "EUR", "status": "complete"}
    body = json.dumps(
        {"created": "2024-03-28T08:30:00Z", "type": "session.completed", "data": {"object": obj}}
    ).encode()
    return body, {"X-Signature": sign(body, SECRET)}


def drivers(kind: str) -> list[str]:
    return ["async"] if kind.endswith("-async") else ["sync", "async"]


CASES = [
    (kind, driver, lease)
    for lease in (1.0, 2.0)
    for kind in STORE_KINDS
    for driver in drivers(kind)
]


class Rival:
    """Another worker with its own router and store instance (the in-memory store is one
    process's, so there the instance is shared): it keeps delivering copies of the event."""

    def __init__(self, store: Any) -> None:
        self.driven = Driven(store)
        self.router = WebhookRouter(SECRET, store=store, in_flight_timeout=0.05)
        self.runs: list[int] = []
        self.router.add_handler("*", lambda event: self.runs.append(1))

    def deliver(self, object_id: str) -> str:
        if asyncio.iscoroutinefunction(self.driven.store.claim):
            result = self.driven.loop.run_until_complete(self.router.handle(*delivery(object_id)))
        else:
            result = self.router.handle_sync(*delivery(object_id))
        return result.reason


def hold_for_several_leases(
    kind: str, driver: str, lease: float, options: dict[str, Any]
) -> dict[str, Any]:
    store = build(kind, options, lease=lease)
    rival = Rival(store if kind == "memory" else build(kind, options, lease=lease))
    holder = WebhookRouter(SECRET, store=store)
    object_id = unique("ps_lease")
    runs: list[int] = []
    entered, running = threading.Event(), threading.Event()
    handler_seconds = 3 * lease

    if driver == "sync":

        @holder.on("*")
        def slow(event: Event) -> None:
            runs.append(1)
            running.set()
            entered.set()
            time.sleep(handler_seconds)
            running.clear()

    else:

        @holder.on("*")
        async def slow_async(event: Event) -> None:
            runs.append(1)
            running.set()
            entered.set()
            await asyncio.sleep(handler_seconds)
            running.clear()

    results: list[WebhookResult] = []

    def hold() -> None:
        if driver == "sync":
            results.append(holder.handle_sync(*delivery(object_id)))
        else:
            results.append(asyncio.run(holder.handle(*delivery(object_id))))

    thread = threading.Thread(target=hold)
    thread.start()
    seen: list[str] = []
    try:
        assert entered.wait(30)
        while thread.is_alive():
            reason = rival.deliver(object_id)
            if running.is_set():  # the handler still ran when this copy was answered
                seen.append(reason)
            time.sleep(lease / 2)
        thread.join(30)
        after = rival.deliver(object_id)
    finally:
        thread.join(30)
        rival.driven.close()
        if kind != "memory":
            Driven(store).close()
    return {"result": results[0], "runs": len(runs) + len(rival.runs), "seen": seen, "after": after}


def test_a_live_handler_several_leases_long_keeps_its_claim_on_every_store_and_path(
    request: pytest.FixtureRequest, tmp_path: Path
) -> None:
    # The fixtures (the servers) are looked up here: pytest's fixtures are not thread-safe.
    options = {case: store_options(case[0], request, tmp_path) for case in CASES}

    def one(case: tuple[str, str, float]) -> dict[str, Any]:
        return hold_for_several_leases(*case, options[case])

    with ThreadPoolExecutor(len(CASES)) as pool:
        outcomes = dict(zip(CASES, pool.map(one, CASES), strict=True))
    summary = {
        case: (o["result"].reason, o["runs"], set(o["seen"]), o["after"])
        for case, o in outcomes.items()
    }
    assert summary == dict.fromkeys(CASES, ("handled", 1, {"in_flight"}, "duplicate"))
    assert all(len(o["seen"]) >= 3 for o in outcomes.values())  # copies came all along
    assert {case: o["result"].renewal_failures for case, o in outcomes.items()} == dict.fromkeys(
        CASES, 0
    )


# --- a renewal that fails, a dead holder, a forked child ----------------------------------------


class RenewalsFail(InMemoryDeliveryStore):
    """An in-memory store whose renewals fail: the store unreachable while a handler runs."""

    def renew(self, key: str, token: str) -> bool:
        raise ConnectionError("store down")


@pytest.mark.parametrize("driver", ["sync", "async"])
def test_a_failed_renewal_never_interrupts_the_handler_and_the_result_says_so(
    driver: str, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING, logger="bpcpay")
    router = WebhookRouter(SECRET, store=RenewalsFail(lease=1.0))
    finished: list[int] = []

    @router.on("*")
    def slow(event: Event) -> None:
        time.sleep(1.2)  # three renewals due, each failing
        finished.append(1)

    if driver == "sync":
        result = router.handle_sync(*delivery("ps_renew_fails"))
    else:
        result = asyncio.run(router.handle(*delivery("ps_renew_fails")))
    assert (result.status, result.reason) == (200, "handled")
    assert finished == [1]
    assert result.renewal_failures >= 2
    assert result.recorded is True  # the lapsed lease was still the handler's: done
    assert "renewing the claim on evt:session.completed:ps_renew_fails failed" in caplog.text
    assert router.handle_sync(*delivery("ps_renew_fails")).reason == "duplicate"


def take_over_a_dead_holders_claim(kind: str, options: dict[str, Any]) -> tuple[str, float]:
    """(reason, seconds from the dead holder's claim to the handler's run)."""
    store = Driven(build(kind, options, lease=1.0), options)
    router = WebhookRouter(SECRET, store=store.store, in_flight_timeout=5)
    ran_at: list[float] = []
    router.add_handler("*", lambda event: ran_at.append(time.monotonic()))
    object_id = unique("ps_dead")
    try:
        # A worker claimed the event and was killed at once: nobody renews its lease.
        assert store.claim(f"evt:session.completed:{object_id}").token
        claimed_at = time.monotonic()
        if kind.endswith("-async"):
            result = store.call(router.handle(*delivery(object_id)))
        else:
            result = router.handle_sync(*delivery(object_id))
    finally:
        store.close()
    return result.reason, ran_at[0] - claimed_at


def test_a_waiting_copy_takes_a_dead_holders_claim_the_moment_it_lapses(
    request: pytest.FixtureRequest, tmp_path: Path
) -> None:
    options = {kind: store_options(kind, request, tmp_path) for kind in STORE_KINDS}
    with ThreadPoolExecutor(len(STORE_KINDS)) as pool:
        taken = dict(
            zip(
                STORE_KINDS,
                pool.map(
                    lambda kind: take_over_a_dead_holders_claim(kind, options[kind]), STORE_KINDS
                ),
                strict=True,
            )
        )
    assert {kind: reason for kind, (reason, _) in taken.items()} == dict.fromkeys(
        STORE_KINDS, "handled"
    )
    # Taken over when the lease lapsed by the store's clock: not sooner, hardly later.
    late = {kind: waited for kind, (_, waited) in taken.items() if not 0.9 <= waited < 1.5}
    assert late == {}


def test_the_default_lease_frees_a_dead_holders_claim_before_the_gateways_first_retry() -> None:
    from bpcpay.sandbox import SandboxGateway

    retry_after = inspect.signature(SandboxGateway).parameters["webhook_retry_schedule"].default
    assert DEFAULT_LEASE <= 30
    # Lapsed at most one lease after the holder's last renewal, which is at most when it died;
    # the gateway's next attempt comes a whole interval after the failed one.
    assert retry_after[0] > DEFAULT_LEASE
    assert InMemoryDeliveryStore().lease == DEFAULT_LEASE


_FORKED = """
import json, os, time, warnings
warnings.filterwarnings("ignore", message=r".*multi-threaded.*fork", category=DeprecationWarning)
from bpcpay.webhooks import SQLiteDeliveryStore, WebhookRouter, sign

SECRET = {secret!r}
PATH = {path!r}


def delivery(object_id):
    obj = {{"id": object_id, "amount": 100, "currency": "EUR", "status": "complete"}}
    body = json.dumps({{"created": "2024-03-28T08:30:00Z", "type": "session.completed",
                       "data": {{"object": obj}}}}).encode()
    return body, {{"X-Signature": sign(body, SECRET)}}


def router(seconds, wait=10.0):
    made = WebhookRouter(SECRET, store=SQLiteDeliveryStore(PATH, lease=1.0),
                         in_flight_timeout=wait)
    made.add_handler("*", lambda event: time.sleep(seconds))
    return made


# The parent's heartbeat thread runs (a claim renewed) when the process forks.
parent = router(0.1)
assert parent.handle_sync(*delivery("ps_parent")).reason == "handled"
read, write = os.pipe()
pid = os.fork()
if pid == 0:
    import signal
    signal.alarm(20)  # a hang fails the test instead of blocking it
    result = router(2.5).handle_sync(*delivery("ps_child"))
    os.write(write, json.dumps([result.reason, result.renewal_failures]).encode())
    os._exit(0)
os.close(write)
time.sleep(0.5)
rival, seen = router(0.0, wait=0.05), []
while os.waitpid(pid, os.WNOHANG) == (0, 0):
    seen.append(rival.handle_sync(*delivery("ps_child")).reason)
    time.sleep(0.3)
child = json.loads(os.read(read, 1000))
print(json.dumps({{"child": child, "seen": seen,
                  "after": rival.handle_sync(*delivery("ps_child")).reason}}))
"""


def test_the_heartbeat_renews_a_forked_childs_claims(tmp_path: Path) -> None:
    script = _FORKED.format(secret=SECRET, path=str(tmp_path / "d.sqlite3"))
    done = subprocess.run(
        [sys.executable, "-W", "error", "-c", script],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    outcome = json.loads(done.stdout)
    assert outcome["child"] == ["handled", 0]
    # 2.5 leases long, renewed in the child: every copy waits until it is done (the last
    # copies may come while the child records it and exits).
    seen = outcome["seen"]
    first_done = seen.index("duplicate") if "duplicate" in seen else len(seen)
    assert seen == ["in_flight"] * first_done + ["duplicate"] * (len(seen) - first_done)
    assert first_done >= 3
    assert outcome["after"] == "duplicate"


class LeaseTaken(InMemoryDeliveryStore):
    """An in-memory store that answers every renewal "not yours": another worker took the key
    (its holder was frozen past its lease, say)."""

    def renew(self, key: str, token: str) -> bool:
        return False


def test_a_lease_found_lost_is_logged_and_reported_and_never_renewed_again(
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.WARNING, logger="bpcpay")
    router = WebhookRouter(SECRET, store=LeaseTaken(lease=1.0))
    router.add_handler("*", lambda event: time.sleep(1.0))  # three renewals would be due
    result = router.handle_sync(*delivery("ps_lost"))
    assert result.reason == "handled"
    assert result.renewal_failures == 1  # the first answer: renewing stops there
    assert caplog.text.count("was lost while its handler ran") == 1


def test_the_heartbeat_forgets_a_claim_whose_holder_is_gone() -> None:
    from bpcpay.webhooks._heartbeat import Heartbeat, HolderGone
    from bpcpay.webhooks._plan import Hold

    heartbeat = Heartbeat()
    calls: list[int] = []

    def renew() -> bool:
        calls.append(1)
        raise HolderGone  # the holder's event loop closed under it

    hold = Hold("evt:gone", "token")
    beat = heartbeat.start(hold, renew, 0.02)
    deadline = time.monotonic() + 5
    while beat.active and time.monotonic() < deadline:
        time.sleep(0.01)
    time.sleep(0.1)
    assert not beat.active
    assert calls == [1]  # asked once, then forgotten
    assert (hold.failures, hold.lost) == (0, False)  # not a failure: nobody is waiting
