"""bpcpay.webhooks.WebhookRouter: routing, statuses, keys, de-duplication (also concurrent)."""

from __future__ import annotations

import asyncio
import hashlib
import json
import logging
import threading
from pathlib import Path
from typing import Any

import pytest

from bpcpay import InvalidArgumentError
from bpcpay.models import Event, Session
from bpcpay.webhooks import (
    AsyncDeliveryStore,
    Claim,
    ClaimStatus,
    InMemoryDeliveryStore,
    WebhookResult,
    WebhookRouter,
    event_key,
    request_id_key,
    sign,
)
from bpcpay.webhooks.stores import DEFAULT_DEDUP_CAPACITY

SECRET = "whsec_router_test_not_real"


def body_for(event_type: str = "session.completed", object_id: str = "ps_1", **extra: Any) -> bytes:
    obj: dict[str, Any] = {"id": object_id, "amount": 1000, "currency": "EUR", "status": "complete"}
    obj.update(extra)
    payload = {"created": "2024-03-28T08:30:00+00:00", "type": event_type, "data": {"object": obj}}
    return json.dumps(payload).encode()


def delivery(
    body: bytes, *, request_id: str | None = "req_1", secret: str = SECRET
) -> tuple[bytes, dict[str, str]]:
    headers = {"Content-Type": "application/json", "X-Signature": sign(body, secret)}
    if request_id is not None:
        headers["API-Request-Id"] = request_id
    return body, headers


class Recorder:
    def __init__(self) -> None:
        self.seen: list[tuple[str, str]] = []

    def __call__(self, label: str) -> Any:
        def handler(event: Event) -> None:
            self.seen.append((label, event.type))

        return handler


# --- routing ----------------------------------------------------------------------------------


@pytest.mark.asyncio
async def test_exact_prefix_and_star_handlers_all_run_in_registration_order() -> None:
    router = WebhookRouter(SECRET)
    rec = Recorder()
    router.add_handler("*", rec("star"))
    router.add_handler("payment.*", rec("prefix"))
    router.add_handler("payment.succeeded", rec("exact"))
    router.add_handler("session.completed", rec("other"))

    result = await router.handle(*delivery(body_for("payment.succeeded", "pay_1")))

    assert result.status == 200
    assert result.reason == "handled"
    assert result.ok
    assert isinstance(result.event, Event)
    assert rec.seen == [
        ("star", "payment.succeeded"),
        ("prefix", "payment.succeeded"),
        ("exact", "payment.succeeded"),
    ]


@pytest.mark.asyncio
async def test_prefix_pattern_does_not_match_a_longer_first_segment() -> None:
    router = WebhookRouter(SECRET)
    rec = Recorder()
    router.add_handler("payment.*", rec("prefix"))
    result = await router.handle(*delivery(body_for("paymentLink.created", "pl_1")))
    assert result.reason == "unhandled"
    assert rec.seen == []


@pytest.mark.asyncio
async def test_unhandled_type_is_200_and_the_fallback_runs_only_when_nothing_matched() -> None:
    router = WebhookRouter(SECRET)
    rec = Recorder()
    router.add_handler("session.completed", rec("exact"))

    plain = await router.handle(*delivery(body_for("invoice.created", "in_1"), request_id="a"))
    assert (plain.status, plain.reason) == (200, "unhandled")

    router.fallback(rec("fallback"))
    unknown = await router.handle(*delivery(body_for("brand.new", "x_1"), request_id="b"))
    matched = await router.handle(*delivery(body_for("session.completed", "ps_9"), request_id="c"))

    assert (unknown.status, unknown.reason) == (200, "handled")
    assert unknown.event is not None
    assert unknown.event.type == "brand.new"
    assert matched.reason == "handled"
    assert rec.seen == [("fallback", "brand.new"), ("exact", "session.completed")]


@pytest.mark.asyncio
async def test_decorator_registers_several_patterns_and_returns_the_function() -> None:
    router = WebhookRouter(SECRET)
    calls: list[str] = []

    @router.on("session.completed", "session.expired")
    async def on_session(event: Event) -> None:
        await asyncio.sleep(0)
        assert isinstance(event.data.object, Session)
        calls.append(event.data.object.id)

    assert callable(on_session)
    await router.handle(*delivery(body_for("session.completed", "ps_a"), request_id="1"))
    await router.handle(*delivery(body_for("session.expired", "ps_b"), request_id="2"))
    assert calls == ["ps_a", "ps_b"]
    assert router.handlers_for("session.expired") == [on_session]
    assert router.handlers_for("payment.created") == []


@pytest.mark.parametrize("pattern", ["", "*.completed", "session*", "a.*.b", "**", ".*"])
def test_malformed_patterns_are_refused(pattern: str) -> None:
    router = WebhookRouter(SECRET)
    with pytest.raises(ValueError, match="pattern"):
        router.add_handler(pattern, lambda event: None)
    with pytest.raises(ValueError, match="pattern"):
        router.on(pattern)


def test_non_callable_handlers_are_refused() -> None:
    router = WebhookRouter(SECRET)
    with pytest.raises(InvalidArgumentError, match="callable"):
        router.add_handler("*", "not a function")  # type: ignore[arg-type]
    with pytest.raises(InvalidArgumentError, match="callable"):
        router.fallback(42)  # type: ignore[type-var]


@pytest.mark.parametrize("secret", ["", b"", [], [SECRET, ""], [None], "   ", [b"\t\n"], None])
def test_an_empty_secret_is_a_configuration_error(secret: Any) -> None:
    with pytest.raises(InvalidArgumentError, match="secret") as info:
        WebhookRouter(secret)
    assert info.value.argument == "secret"


def test_an_unencodable_secret_is_refused_at_construction_never_on_a_delivery() -> None:
    with pytest.raises(InvalidArgumentError, match="UTF-8") as info:
        WebhookRouter([SECRET, "whsec_\ud800_not_real"])
    assert "not_real" not in str(info.value)


@pytest.mark.parametrize(
    ("option", "value"),
    [
        ("max_bytes", 0),
        ("max_bytes", -1),
        ("max_bytes", True),
        ("max_bytes", 1.5),
        ("in_flight_timeout", 0),
        ("in_flight_timeout", "10"),
        ("max_age", -5),
        ("max_age", float("nan")),
        ("store", object()),
        ("key", "not callable"),
    ],
)
def test_options_are_checked_and_named(option: str, value: Any) -> None:
    with pytest.raises(InvalidArgumentError, match=option) as info:
        WebhookRouter(SECRET, **{option: value})
    assert info.value.argument == option


def test_repr_never_shows_the_secret() -> None:
    router = WebhookRouter(SECRET)
    router.add_handler("*", lambda event: None)
    assert SECRET not in repr(router)
    assert "1 handlers" in repr(router)


# --- verification statuses --------------------------------------------------------------------


@pytest.mark.asyncio
async def test_bad_signature_and_bad_bodies_are_400_with_the_reason(
    caplog: pytest.LogCaptureFixture,
) -> None:
    router = WebhookRouter(SECRET)
    rec = Recorder()
    router.add_handler("*", rec("any"))
    body = body_for()
    caplog.set_level(logging.DEBUG, logger="bpcpay")

    wrong = await router.handle(*delivery(body, secret="whsec_someone_else"))
    missing = await router.handle(body, {"API-Request-Id": "req_1"})
    garbage = await router.handle(*delivery(b"not json"))
    not_event = await router.handle(*delivery(b'{"hello": "world"}'))

    assert (wrong.status, wrong.reason, wrong.event) == (400, "mismatch", None)
    assert (missing.status, missing.reason) == (400, "missing_header")
    assert (garbage.status, garbage.reason) == (400, "not_json")
    assert (not_event.status, not_event.reason) == (400, "not_an_event")
    assert not wrong.ok
    assert rec.seen == []
    assert SECRET not in caplog.text
    assert "mismatch" in caplog.text


@pytest.mark.asyncio
async def test_a_body_over_the_cap_is_413_before_hashing() -> None:
    router = WebhookRouter(SECRET, max_bytes=100)
    body = body_for(description="x" * 200)
    result = await router.handle(*delivery(body))
    assert (result.status, result.reason) == (413, "too_large")
    assert router.handle_sync(*delivery(body)).status == 413


@pytest.mark.asyncio
async def test_rotation_accepts_either_secret() -> None:
    router = WebhookRouter(["whsec_new_not_real", SECRET])
    rec = Recorder()
    router.add_handler("*", rec("any"))
    old = await router.handle(*delivery(body_for(object_id="ps_old"), secret=SECRET))
    new = await router.handle(
        *delivery(body_for(object_id="ps_new"), secret="whsec_new_not_real", request_id="2")
    )
    assert (old.status, new.status) == (200, 200)
    assert len(rec.seen) == 2


# --- failures and de-duplication --------------------------------------------------------------


@pytest.mark.asyncio
async def test_a_raising_handler_gives_500_and_the_retry_runs_the_handler_again(
    caplog: pytest.LogCaptureFixture,
) -> None:
    router = WebhookRouter(SECRET)
    attempts: list[int] = []

    @router.on("session.completed")
    def flaky(event: Event) -> None:
        attempts.append(1)
        if len(attempts) == 1:
            raise RuntimeError("database down")

    first = await router.handle(*delivery(body_for()))
    retry = await router.handle(*delivery(body_for()))
    again = await router.handle(*delivery(body_for()))

    assert (first.status, first.reason) == (500, "handler_error")
    assert isinstance(first.error, RuntimeError)
    assert (retry.status, retry.reason) == (200, "handled")
    assert (again.status, again.reason) == (200, "duplicate")
    assert len(attempts) == 2
    assert "answering 500" in caplog.text


@pytest.mark.asyncio
async def test_a_replay_with_a_fresh_request_id_is_still_a_duplicate() -> None:
    # The header is not signed; the default key is built from the signed body.
    router = WebhookRouter(SECRET)
    rec = Recorder()
    router.add_handler("*", rec("any"))
    first = await router.handle(*delivery(body_for(), request_id="req_original"))
    replay = await router.handle(*delivery(body_for(), request_id="req_forged"))
    no_header = await router.handle(*delivery(body_for(), request_id=None))
    assert [first.reason, replay.reason, no_header.reason] == ["handled", "duplicate", "duplicate"]
    assert first.key == replay.key == "evt:session.completed:ps_1"
    assert len(rec.seen) == 1


@pytest.mark.asyncio
async def test_a_final_state_event_keys_on_type_and_object_and_others_on_the_signed_body() -> None:
    router = WebhookRouter(SECRET)
    rec = Recorder()
    router.add_handler("*", rec("any"))

    def at(event_type: str, object_id: str, created: str) -> bytes:
        obj = {"id": object_id, "amount": 1000, "currency": "EUR", "status": "x"}
        payload = {"created": created, "type": event_type, "data": {"object": obj}}
        return json.dumps(payload).encode()

    # A final state happens once per object, whatever created says.
    a = await router.handle(*delivery(at("session.completed", "ps_9", "2024-03-28T08:30:00Z")))
    b = await router.handle(*delivery(at("session.completed", "ps_9", "2024-03-28T09:00:00Z")))
    expired = await router.handle(*delivery(at("session.expired", "ps_9", "2024-03-28T09:00:00Z")))
    # payment.funded can happen once per partial capture: the signed body tells them apart.
    f1_body = at("payment.funded", "pay_9", "2024-03-28T08:30:00Z")
    f1 = await router.handle(*delivery(f1_body))
    f2 = await router.handle(*delivery(at("payment.funded", "pay_9", "2024-03-28T09:00:00Z")))
    f2_again = await router.handle(*delivery(at("payment.funded", "pay_9", "2024-03-28T09:00:00Z")))

    assert [r.reason for r in (a, b, expired, f1, f2, f2_again)] == [
        "handled",
        "duplicate",
        "handled",
        "handled",
        "handled",
        "duplicate",
    ]
    assert (a.key, expired.key) == ("evt:session.completed:ps_9", "evt:session.expired:ps_9")
    assert f1.key == "evt:payment.funded:pay_9:" + hashlib.sha256(f1_body).hexdigest()[:32]
    assert len(rec.seen) == 4


@pytest.mark.asyncio
async def test_request_id_key_keys_on_the_delivery_id_and_falls_back_on_the_event() -> None:
    router = WebhookRouter(SECRET, key=request_id_key)
    rec = Recorder()
    router.add_handler("*", rec("any"))
    a = await router.handle(*delivery(body_for(), request_id="req_a"))
    a_again = await router.handle(*delivery(body_for(), request_id="req_a"))
    b = await router.handle(*delivery(body_for(), request_id="req_b"))
    bare = await router.handle(*delivery(body_for(), request_id=None))
    bare_again = await router.handle(*delivery(body_for(), request_id=None))
    assert [r.reason for r in (a, a_again, b, bare, bare_again)] == [
        "handled",
        "duplicate",
        "handled",
        "handled",
        "duplicate",
    ]
    assert a.key == "req:req_a"
    assert bare.key == "evt:session.completed:ps_1"


def test_event_key_falls_back_on_a_body_digest_without_an_object_id() -> None:
    router = WebhookRouter(SECRET)
    body = json.dumps({"created": None, "type": "mystery", "data": {"object": {"x": 1}}}).encode()
    result = router.handle_sync(*delivery(body))
    assert result.key is not None
    assert result.key.startswith("body:")
    assert result.event is not None
    assert event_key(result.event, body) == result.key
    other = json.dumps({"created": None, "type": "mystery", "data": {"object": {"x": 2}}})
    assert router.handle_sync(*delivery(other.encode())).reason == "unhandled"
    assert router.handle_sync(*delivery(body)).reason == "duplicate"


@pytest.mark.asyncio
async def test_concurrent_copies_run_the_handler_once() -> None:
    router = WebhookRouter(SECRET)
    release = asyncio.Event()
    started = asyncio.Event()
    runs: list[str] = []

    @router.on("session.completed")
    async def slow(event: Event) -> None:
        runs.append(event.type)
        started.set()
        await release.wait()

    first = asyncio.ensure_future(router.handle(*delivery(body_for(), request_id="r1")))
    await started.wait()
    others = [
        asyncio.ensure_future(router.handle(*delivery(body_for(), request_id=f"r{i}")))
        for i in range(2, 6)
    ]
    await asyncio.sleep(0)
    assert not any(task.done() for task in others)  # they wait for the first copy's outcome
    release.set()
    results = await asyncio.gather(first, *others)

    assert runs == ["session.completed"]
    assert [r.reason for r in results] == ["handled"] + ["duplicate"] * 4
    assert all(r.status == 200 for r in results)


@pytest.mark.asyncio
async def test_when_the_first_concurrent_copy_fails_a_waiting_copy_runs_the_handler() -> None:
    router = WebhookRouter(SECRET)
    release = asyncio.Event()
    started = asyncio.Event()
    runs: list[int] = []

    @router.on("*")
    async def fails_once(event: Event) -> None:
        runs.append(len(runs))
        if len(runs) == 1:
            started.set()
            await release.wait()
            raise RuntimeError("first attempt fails")

    first = asyncio.ensure_future(router.handle(*delivery(body_for())))
    await started.wait()
    second = asyncio.ensure_future(router.handle(*delivery(body_for())))
    await asyncio.sleep(0)
    release.set()
    a, b = await asyncio.gather(first, second)
    assert (a.status, b.status) == (500, 200)
    assert b.reason == "handled"
    assert runs == [0, 1]


def test_concurrent_copies_on_threads_run_a_sync_handler_once() -> None:
    router = WebhookRouter(SECRET)
    runs: list[str] = []
    entered = threading.Event()
    release = threading.Event()

    @router.on("session.completed")
    def slow(event: Event) -> None:
        runs.append(threading.current_thread().name)
        entered.set()
        assert release.wait(5)

    results: list[WebhookResult] = []
    lock = threading.Lock()

    def deliver(i: int) -> None:
        result = router.handle_sync(*delivery(body_for(), request_id=f"r{i}"))
        with lock:
            results.append(result)

    first = threading.Thread(target=deliver, args=(0,))
    first.start()
    assert entered.wait(5)
    rest = [threading.Thread(target=deliver, args=(i,)) for i in range(1, 8)]
    for t in rest:
        t.start()
    release.set()
    for t in [first, *rest]:
        t.join(5)
    assert len(runs) == 1
    assert sorted(r.reason for r in results) == ["duplicate"] * 7 + ["handled"]


def test_handle_sync_runs_plain_handlers_and_refuses_async_ones() -> None:
    router = WebhookRouter(SECRET)
    rec = Recorder()
    router.add_handler("session.*", rec("plain"))

    @router.on("payment.*")
    async def not_here(event: Event) -> None:  # pragma: no cover - never awaited
        raise AssertionError

    ok = router.handle_sync(*delivery(body_for("session.completed")))
    refused = router.handle_sync(*delivery(body_for("payment.succeeded", "pay_1")))
    assert (ok.status, ok.reason) == (200, "handled")
    assert (refused.status, refused.reason) == (500, "async_handler")
    assert "handle_sync" in str(refused.error)
    # Released, so a retry after the fix runs.
    assert isinstance(router.store, InMemoryDeliveryStore)
    assert refused.key is not None
    assert router.store.claim(refused.key).status == ClaimStatus.CLAIMED


def test_handle_sync_refuses_a_plain_function_that_returns_a_coroutine() -> None:
    router = WebhookRouter(SECRET)

    async def work(event: Event) -> None:  # pragma: no cover - closed, never run
        raise AssertionError

    router.add_handler("*", lambda event: work(event))
    result = router.handle_sync(*delivery(body_for()))
    assert (result.status, result.reason) == (500, "async_handler")


@pytest.mark.asyncio
async def test_handle_awaits_what_a_plain_handler_returns() -> None:
    router = WebhookRouter(SECRET)
    done: list[str] = []

    async def work(event: Event) -> None:
        done.append(event.type)

    router.add_handler("*", lambda event: work(event))
    assert (await router.handle(*delivery(body_for()))).reason == "handled"
    assert done == ["session.completed"]


@pytest.mark.asyncio
async def test_plain_handlers_run_in_a_worker_thread_by_default_under_handle() -> None:
    router = WebhookRouter(SECRET)
    threads: list[int] = []
    router.add_handler("*", lambda event: threads.append(threading.get_ident()))
    await router.handle(*delivery(body_for()))
    assert threads
    assert threads[0] != threading.get_ident()

    on_loop = WebhookRouter(SECRET, sync_handlers_in_thread=False)
    on_loop.add_handler("*", lambda event: threads.append(threading.get_ident()))
    await on_loop.handle(*delivery(body_for()))
    assert threads[1] == threading.get_ident()


@pytest.mark.asyncio
async def test_a_slow_plain_handler_does_not_stall_the_event_loop() -> None:
    router = WebhookRouter(SECRET)
    release = threading.Event()
    router.add_handler("*", lambda event: release.wait(5))
    task = asyncio.ensure_future(router.handle(*delivery(body_for())))
    ticks = 0
    for _ in range(5):
        await asyncio.sleep(0.01)  # the loop keeps turning while the handler blocks its thread
        ticks += 1
    assert not task.done()
    release.set()
    assert (await task).reason == "handled"
    assert ticks == 5


# --- stores ---------------------------------------------------------------------------------


class AsyncStore:
    """A store with async methods, like one backed by redis.asyncio."""

    lease = 300.0

    def __init__(self) -> None:
        self.inner = InMemoryDeliveryStore()
        self.calls: list[str] = []

    async def claim(self, key: str) -> Claim:
        self.calls.append("claim")
        await asyncio.sleep(0)
        return self.inner.claim(key)

    async def renew(self, key: str, token: str) -> bool:
        self.calls.append("renew")
        return self.inner.renew(key, token)

    async def complete(self, key: str, token: str) -> bool:
        self.calls.append("complete")
        return self.inner.complete(key, token)

    async def release(self, key: str, token: str) -> bool:
        self.calls.append("release")
        return self.inner.release(key, token)


@pytest.mark.asyncio
async def test_an_async_store_is_awaited_by_handle_and_refused_by_handle_sync() -> None:
    store = AsyncStore()
    assert isinstance(store, AsyncDeliveryStore)
    router = WebhookRouter(SECRET, store=store)
    router.add_handler("*", lambda event: None)
    assert (await router.handle(*delivery(body_for()))).reason == "handled"
    assert (await router.handle(*delivery(body_for()))).reason == "duplicate"
    assert store.calls == ["claim", "complete", "claim"]  # the handler outran any renewal
    with pytest.raises(TypeError, match="async"):
        router.handle_sync(*delivery(body_for(object_id="ps_2")))


@pytest.mark.asyncio
async def test_a_store_whose_claim_does_not_answer_a_claim_is_a_type_error() -> None:
    class OldStyle:
        lease = 20.0

        def claim(self, key: str) -> bool:
            return True

        def renew(self, key: str) -> None: ...

        def complete(self, key: str) -> None: ...

        def release(self, key: str) -> None: ...

    router = WebhookRouter(SECRET, store=OldStyle())  # type: ignore[arg-type]
    with pytest.raises(TypeError, match=r"must return a bpcpay\.webhooks\.Claim"):
        router.handle_sync(*delivery(body_for()))
    with pytest.raises(TypeError, match=r"must return a bpcpay\.webhooks\.Claim"):
        await router.handle(*delivery(body_for()))


def test_a_user_store_sees_claim_complete_and_release_with_the_owner_token() -> None:
    class LoggingStore(InMemoryDeliveryStore):
        def __init__(self) -> None:
            super().__init__()
            self.log: list[tuple[str, str]] = []
            self.tokens: set[str] = set()

        def claim(self, key: str) -> Claim:
            self.log.append(("claim", key))
            claim = super().claim(key)
            if claim.token:
                self.tokens.add(claim.token)
            return claim

        def complete(self, key: str, token: str) -> bool:
            assert token in self.tokens
            self.log.append(("complete", key))
            return super().complete(key, token)

        def release(self, key: str, token: str) -> bool:
            assert token in self.tokens
            self.log.append(("release", key))
            return super().release(key, token)

    store = LoggingStore()
    router = WebhookRouter(SECRET, store=store)
    outcomes = iter([RuntimeError("boom"), None])

    def handler(event: Event) -> None:
        error = next(outcomes)
        if error:
            raise error

    router.add_handler("*", handler)
    assert router.handle_sync(*delivery(body_for())).status == 500
    assert router.handle_sync(*delivery(body_for())).status == 200
    key = "evt:session.completed:ps_1"
    assert store.log == [("claim", key), ("release", key), ("claim", key), ("complete", key)]
    assert store.is_done(key)
    assert len(store.tokens) == 2


def test_in_memory_store_is_a_bounded_lru() -> None:
    store = InMemoryDeliveryStore(capacity=3)
    claims = {k: store.claim(k) for k in "abc"}
    assert {c.status for c in claims.values()} == {ClaimStatus.CLAIMED}
    assert store.complete("a", claims["a"].token or "")
    assert store.claim("a") == Claim.done()  # seen again: now the most recent
    assert store.claim("d").status == ClaimStatus.CLAIMED  # evicts "b", the least recent
    assert len(store) == 3
    assert store.claim("b").status == ClaimStatus.CLAIMED
    assert store.claim("a") == Claim.done()
    assert "3/3" in repr(store)
    assert InMemoryDeliveryStore().capacity == DEFAULT_DEDUP_CAPACITY


def test_complete_remembers_a_key_evicted_while_in_progress() -> None:
    store = InMemoryDeliveryStore(capacity=1)
    a = store.claim("a")
    assert store.claim("b").status == ClaimStatus.CLAIMED  # evicts "a" while in progress
    assert store.complete("a", a.token or "")
    assert store.is_done("a")
    assert not store.is_done("b")
    assert len(store) == 1


@pytest.mark.parametrize("capacity", [0, -5, True, "10"])
def test_in_memory_store_capacity_must_be_positive(capacity: Any) -> None:
    with pytest.raises(InvalidArgumentError, match="capacity"):
        InMemoryDeliveryStore(capacity)


def test_the_router_module_imports_no_framework_and_no_aiohttp() -> None:
    import subprocess
    import sys

    code = (
        "import sys, bpcpay.webhooks.stores, bpcpay.contrib, "
        "bpcpay.contrib.asgi, "
        "bpcpay.contrib.wsgi\n"
        "from bpcpay.webhooks import WebhookRouter\n"
        "bad = [m for m in ('aiohttp', 'flask', 'django', 'starlette', 'werkzeug', 'redis', "
        "'psycopg', 'anyio') "
        "if m in sys.modules]\nprint(bad)"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=60
    )
    assert out.stdout.strip() == "[]"


def test_import_bpcpay_imports_no_framework() -> None:
    import subprocess
    import sys

    code = (
        "import sys, bpcpay, bpcpay.webhooks\n"
        "bad = [m for m in ('flask', 'django', 'starlette', 'werkzeug', 'bpcpay.contrib') "
        "if m in sys.modules]\nprint(bad)"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=60
    )
    assert out.stdout.strip() == "[]"


def test_on_threads_a_copy_waiting_on_a_failed_first_copy_runs_the_handler() -> None:
    router = WebhookRouter(SECRET)
    entered = threading.Event()
    release = threading.Event()
    runs: list[int] = []

    @router.on("*")
    def fails_first(event: Event) -> None:
        runs.append(len(runs))
        if len(runs) == 1:
            entered.set()
            assert release.wait(5)
            raise RuntimeError("first copy fails")

    results: dict[str, WebhookResult] = {}
    first = threading.Thread(
        target=lambda: results.update(first=router.handle_sync(*delivery(body_for())))
    )
    first.start()
    assert entered.wait(5)
    second = threading.Thread(
        target=lambda: results.update(second=router.handle_sync(*delivery(body_for())))
    )
    second.start()
    release.set()
    first.join(5)
    second.join(5)
    assert (results["first"].status, results["second"].status) == (500, 200)
    assert results["second"].reason == "handled"
    assert runs == [0, 1]


@pytest.mark.asyncio
async def test_a_text_payload_is_accepted_and_keyed_like_its_bytes() -> None:
    router = WebhookRouter(SECRET)
    body = json.dumps({"created": None, "type": "t", "data": {"object": {}}})
    headers = {"X-Signature": sign(body, SECRET)}
    first = await router.handle(body, headers)
    assert first.reason == "unhandled"
    assert first.key is not None
    assert first.key.startswith("body:")
    assert router.handle_sync(body.encode(), headers).reason == "duplicate"


def test_a_repeatable_event_without_created_keys_on_its_object_and_the_signed_body() -> None:
    router = WebhookRouter(SECRET)
    obj = {"id": "pay_1", "amount": 5, "currency": "EUR", "status": "succeeded"}
    body = json.dumps({"type": "payment.funded", "data": {"object": obj}}).encode()
    result = router.handle_sync(*delivery(body))
    assert result.key == "evt:payment.funded:pay_1:" + hashlib.sha256(body).hexdigest()[:32]


def test_the_package_lists_its_lazy_names() -> None:
    import bpcpay.webhooks

    names = dir(bpcpay.webhooks)
    assert {"WebhookRouter", "RedisDeliveryStore", "sign", "Claim"} <= set(names)
    assert names == sorted(names)
    with pytest.raises(AttributeError, match="no attribute 'nothing'"):
        bpcpay.webhooks.nothing  # noqa: B018


def test_handle_sync_refuses_a_plain_handler_returning_an_awaitable_without_close() -> None:
    class Pending:
        def __await__(self) -> Any:
            yield

    router = WebhookRouter(SECRET)
    router.add_handler("*", lambda event: Pending())
    assert router.handle_sync(*delivery(body_for())).reason == "async_handler"


def test_an_abandoned_plan_keeps_its_claim_for_the_lease_and_frees_its_flight() -> None:
    from bpcpay.webhooks._plan import Dispatch, StoreCall

    router = WebhookRouter(SECRET)
    router.add_handler("*", lambda event: None)
    result = router.handle_sync(*delivery(body_for(object_id="ps_probe")))
    assert result.event is not None
    plan = router._plans.deliver(result.event, "evt:abandoned", [])
    assert next(plan) == StoreCall("claim", "evt:abandoned")
    assert isinstance(plan.send(router.store.claim("evt:abandoned")), Dispatch)
    plan.close()  # the driver went away mid-handler (its loop closed): nothing can run
    assert len(router._flights) == 0
    store = router.store
    assert isinstance(store, InMemoryDeliveryStore)
    assert store.claim("evt:abandoned").status == ClaimStatus.IN_FLIGHT  # until the lease lapses


def _event_body(event_type: str, obj: dict[str, Any], created: str) -> bytes:
    return json.dumps({"created": created, "type": event_type, "data": {"object": obj}}).encode()


@pytest.mark.asyncio
async def test_two_repeatable_events_of_one_object_in_the_same_second_are_both_handled() -> None:
    router = WebhookRouter(SECRET)
    rec = Recorder()
    router.add_handler("*", rec("any"))

    def funded(received: int) -> bytes:
        # Two partial captures of one payment within one second: the same type, object and
        # `created` (second precision), and two different signed bodies.
        obj = {"id": "pay_7", "amount": 3000, "currency": "EUR", "status": "requiresCapture"}
        obj["amountReceived"] = received
        return _event_body("payment.funded", obj, "2024-03-28T08:30:00Z")

    first, second = funded(1000), funded(2000)
    results = [await router.handle(*delivery(body)) for body in (first, second, second, first)]
    assert [r.reason for r in results] == ["handled", "handled", "duplicate", "duplicate"]
    assert results[0].key != results[1].key
    assert len(rec.seen) == 2


@pytest.mark.asyncio
async def test_a_declined_attempt_is_not_the_payments_final_failure() -> None:
    router = WebhookRouter(SECRET)
    rec = Recorder()
    router.add_handler("*", rec("any"))

    def failed(status: str, code: str) -> bytes:
        obj = {"id": "pay_8", "amount": 3000, "currency": "EUR", "status": status}
        return _event_body("payment.failed", {**obj, "failureCode": code}, "2024-03-28T08:30:00Z")

    # On the payment page a declined card leaves the payment waiting for another card
    # (requiresPaymentMethod): two declines are two events. A direct payment declined for good
    # (status failed) is its final state, keyed on the type and the id like a reconciled one.
    declines = [failed("requiresPaymentMethod", code) for code in ("card_declined", "expired")]
    results = [await router.handle(*delivery(body)) for body in declines]
    final = await router.handle(*delivery(failed("failed", "card_declined")))
    assert [r.reason for r in results] == ["handled", "handled"]
    assert final.reason == "handled"
    assert final.key == "evt:payment.failed:pay_8"
    assert len(rec.seen) == 3


def test_final_state_events_are_each_objects_last_word() -> None:
    from bpcpay.webhooks import FINAL_STATE_EVENTS

    assert set(FINAL_STATE_EVENTS) == {
        "session.completed",
        "session.expired",
        "payment.succeeded",
        "payment.failed",
        "payment.canceled",
        "refund.succeeded",
        "refund.failed",
    }


def test_each_webhook_module_fits_in_a_maintainers_head() -> None:
    import bpcpay.webhooks

    root = Path(bpcpay.webhooks.__file__).parent
    sizes = {str(p.relative_to(root)): len(p.read_text().splitlines()) for p in root.rglob("*.py")}
    assert {name: size for name, size in sizes.items() if size > 500} == {}


def test_a_store_without_renew_or_a_lease_is_refused_at_construction() -> None:
    class BeforeLeasesFollowed(InMemoryDeliveryStore):
        renew = None  # type: ignore[assignment]

    with pytest.raises(InvalidArgumentError, match="missing: renew") as info:
        WebhookRouter(SECRET, store=BeforeLeasesFollowed())  # type: ignore[arg-type]
    assert info.value.argument == "store"
    no_lease = InMemoryDeliveryStore()
    no_lease.lease = 0
    with pytest.raises(InvalidArgumentError, match=r"store\.lease"):
        WebhookRouter(SECRET, store=no_lease)
