"""Reconciliation against the sandbox gateway: missed webhooks are caught up, once.

A session's completion runs the handlers once, whichever of the webhook and the reconciler sees
it first (both key on ``(type, session id)`` through the same store). Both drivers, and the
``bpcpay reconcile`` command with the shop's own router.
"""

from __future__ import annotations

import asyncio
import sys
import textwrap
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from _stores import open_files

from bpcpay import AsyncBpcPay, BpcPay, InvalidArgumentError
from bpcpay.cli import main
from bpcpay.models import Event, Payment, PaymentCard, Refund, Session
from bpcpay.sandbox import SandboxGateway, TestCard, TestCards, ThreadedSandboxGateway
from bpcpay.webhooks import SQLiteDeliveryStore, WebhookRouter, sign


@pytest.fixture(scope="module")
def gw() -> Iterator[ThreadedSandboxGateway]:
    with SandboxGateway.run_in_thread() as gateway:
        yield gateway


@pytest.fixture
def client(gw: ThreadedSandboxGateway) -> Iterator[BpcPay]:
    with BpcPay(api_key=gw.api_key, base_url=gw.base_url) as c:
        yield c


@pytest.fixture
def store(tmp_path: Path) -> Iterator[SQLiteDeliveryStore]:
    """A SQLite store, closed after the test (Python 3.13 warns about an unclosed connection)."""
    sqlite_store = SQLiteDeliveryStore(tmp_path / "d.db")
    yield sqlite_store
    sqlite_store.close()


def new_session(client: BpcPay) -> Session:
    return client.sessions.create(
        amount=1200,
        currency="EUR",
        success_url="https://shop.example/success",
        failure_url="https://shop.example/failure",
    )


def webhook_for(gw: ThreadedSandboxGateway, session_id: str, event_type: str) -> Any:
    """The signed delivery the gateway emitted for ``session_id`` (body and headers)."""
    (event,) = [e for e in gw.events if e.type == event_type and e.object.get("id") == session_id]
    return event.body, {"X-Signature": sign(event.body, gw.webhook_secret)}


class Ledger:
    """The shop's side effects: one line per handler run."""

    def __init__(self, router: WebhookRouter) -> None:
        self.runs: list[tuple[str, str, bool]] = []

        @router.on("session.completed", "session.expired")
        def record(event: Event) -> None:
            assert isinstance(event.data.object, Session)
            self.runs.append((event.type, event.data.object.id, event.reconciled))


def test_reconcile_sync_runs_missed_sessions_once_whichever_path_comes_first(
    gw: ThreadedSandboxGateway, client: BpcPay, store: SQLiteDeliveryStore
) -> None:
    router = WebhookRouter(gw.webhook_secret, store=store)
    ledger = Ledger(router)
    expired = new_session(client)
    gw.advance_clock(timedelta(minutes=21))  # past its expiresAt: the gateway expires it
    assert client.sessions.retrieve(expired.id).status == "expired"
    seen_by_webhook, missed, still_open = (new_session(client) for _ in range(3))
    assert gw.pay(seen_by_webhook.id).succeeded
    assert gw.pay(missed.id).succeeded

    # The webhook of the first arrives before the reconciler runs.
    first = router.handle_sync(*webhook_for(gw, seen_by_webhook.id, "session.completed"))
    assert first.reason == "handled"

    ids = [seen_by_webhook.id, missed.id, expired.id, still_open.id, "ps_does_not_exist", " "]
    results = router.reconcile_sync(client, ids)

    assert [(r.status, r.reason) for r in results] == [
        (200, "duplicate"),
        (200, "handled"),
        (200, "handled"),
        (202, "open"),
        (404, "retrieve_failed"),
        (400, "retrieve_failed"),  # the client refused the id before sending anything
    ]
    assert results[1].event is not None
    assert results[1].event.reconciled
    assert results[1].key == f"evt:session.completed:{missed.id}"
    assert ledger.runs == [
        ("session.completed", seen_by_webhook.id, False),
        ("session.completed", missed.id, True),
        ("session.expired", expired.id, True),
    ]
    # The missed session's webhook, arriving late (a gateway retry), is now a duplicate.
    late = router.handle_sync(*webhook_for(gw, missed.id, "session.completed"))
    assert late.reason == "duplicate"
    again = router.reconcile_sync(client, ids[:3])
    assert [r.reason for r in again] == ["duplicate"] * 3
    assert len(ledger.runs) == 3


@pytest.mark.asyncio
async def test_reconcile_async_shares_the_store_and_keys_with_webhooks(
    gw: ThreadedSandboxGateway, store: SQLiteDeliveryStore
) -> None:
    router = WebhookRouter(gw.webhook_secret, store=store)
    ledger = Ledger(router)
    async with AsyncBpcPay(api_key=gw.api_key, base_url=gw.base_url) as aclient:
        paid, still_open = [
            await aclient.sessions.create(
                amount=900,
                currency="EUR",
                success_url="https://shop.example/success",
                failure_url="https://shop.example/failure",
            )
            for _ in range(2)
        ]
        assert (await asyncio.to_thread(gw.pay, paid.id)).succeeded
        results = await router.reconcile(aclient, [paid.id, still_open.id])
        assert [r.reason for r in results] == ["handled", "open"]
        webhook = await router.handle(*webhook_for(gw, paid.id, "session.completed"))
        assert webhook.reason == "duplicate"
        assert [r.reason for r in await router.reconcile(aclient, (paid.id,))] == ["duplicate"]
    assert ledger.runs == [("session.completed", paid.id, True)]


def test_a_handler_error_during_reconcile_is_a_500_result_and_the_next_run_retries(
    gw: ThreadedSandboxGateway, client: BpcPay
) -> None:
    router = WebhookRouter(gw.webhook_secret)
    attempts: list[str] = []

    @router.on("session.completed")
    def flaky(event: Event) -> None:
        attempts.append(event.type)
        if len(attempts) == 1:
            raise RuntimeError("database down")

    paid = new_session(client)
    assert gw.pay(paid.id).succeeded
    assert [r.status for r in router.reconcile_sync(client, [paid.id])] == [500]
    assert [r.reason for r in router.reconcile_sync(client, [paid.id])] == ["handled"]
    assert len(attempts) == 2


@pytest.mark.parametrize("ids", ["ps_single_string", [""], [None], [42]])
def test_session_ids_must_be_a_list_of_ids(
    gw: ThreadedSandboxGateway, client: BpcPay, ids: Any
) -> None:
    router = WebhookRouter(gw.webhook_secret)
    with pytest.raises(InvalidArgumentError, match="session_ids"):
        router.reconcile_sync(client, ids)
    with pytest.raises(InvalidArgumentError, match="session_ids"):
        asyncio.run(router.reconcile(None, ids))  # type: ignore[arg-type]


def test_reconcile_sync_refuses_an_async_store(gw: ThreadedSandboxGateway, client: BpcPay) -> None:
    class AsyncOnly:
        lease = 1.0

        async def claim(self, key: str) -> Any: ...
        async def renew(self, key: str, token: str) -> Any: ...
        async def complete(self, key: str, token: str) -> Any: ...
        async def release(self, key: str, token: str) -> Any: ...

    router = WebhookRouter(gw.webhook_secret, store=AsyncOnly())
    with pytest.raises(TypeError, match="async"):
        router.reconcile_sync(client, ["ps_1"])


def test_a_connection_error_is_a_502_result(gw: ThreadedSandboxGateway) -> None:
    router = WebhookRouter(gw.webhook_secret)
    with BpcPay(api_key=gw.api_key, base_url="http://127.0.0.1:9/api2", max_retries=0) as dead:
        (result,) = router.reconcile_sync(dead, ["ps_1"])
    assert (result.status, result.reason) == (502, "retrieve_failed")


# --- bpcpay reconcile --router module:attr -----------------------------------------------------

SHOP = """
from bpcpay.webhooks import SQLiteDeliveryStore, WebhookRouter

router = WebhookRouter({secret!r}, store=SQLiteDeliveryStore({db!r}))
RUNS = []


@router.on("session.completed")
def paid(event):
    with open({ledger!r}, "a") as out:
        out.write(event.data.object.id + " " + str(event.reconciled) + "\\n")
"""


def test_the_reconcile_command_runs_the_shops_router(
    gw: ThreadedSandboxGateway,
    client: BpcPay,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    ledger = tmp_path / "ledger.txt"
    module = f"shop_hooks_{id(tmp_path)}"
    (tmp_path / f"{module}.py").write_text(
        textwrap.dedent(
            SHOP.format(secret=gw.webhook_secret, db=str(tmp_path / "d.db"), ledger=str(ledger))
        )
    )
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("BPCPAY_API_KEY", gw.api_key)
    monkeypatch.setenv("BPCPAY_BASE_URL", gw.base_url)
    paid, still_open = new_session(client), new_session(client)
    assert gw.pay(paid.id).succeeded
    try:
        assert main(["reconcile", "--router", f"{module}:router", paid.id, still_open.id]) == 0
        out = capsys.readouterr().out
        assert out.splitlines() == [f"{paid.id} 200 handled", f"{still_open.id} 202 open"]
        assert ledger.read_text() == f"{paid.id} True\n"
        # The command closes the connection it opened in the shop's store (it reopens on use).
        assert open_files(sys.modules[module].router.store.path) == 0

        assert main(["reconcile", "--router", f"{module}:router", paid.id, "ps_nope"]) == 1
        out = capsys.readouterr().out
        assert out.splitlines() == [
            f"{paid.id} 200 duplicate",
            "ps_nope 404 retrieve_failed (NotFoundError)",
        ]
        assert ledger.read_text() == f"{paid.id} True\n"
    finally:
        sys.modules.pop(module, None)


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        ("no_colon", "expected module:attr"),
        ("json:loads", "not a WebhookRouter"),
        ("json:nothing_here", "has no attribute"),
        ("no_such_module_xyz:router", "No module named"),
    ],
)
def test_the_reconcile_command_explains_a_bad_router(
    spec: str, message: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["reconcile", "--router", spec, "ps_1"]) == 2
    assert message in capsys.readouterr().err


def test_the_reconcile_command_needs_an_api_key(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    module = f"shop_nokey_{id(tmp_path)}"
    (tmp_path / f"{module}.py").write_text(
        "from bpcpay.webhooks import WebhookRouter\nrouter = WebhookRouter('whsec_x_not_real')\n"
    )
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("BPCPAY_API_KEY", raising=False)
    try:
        assert main(["reconcile", "--router", f"{module}:router", "ps_1"]) == 2
    finally:
        sys.modules.pop(module, None)
    assert "BPCPAY_API_KEY" in capsys.readouterr().err


# --- payments and refunds ----------------------------------------------------------------------


def card(test_card: TestCard) -> PaymentCard:
    return PaymentCard(
        number=test_card.number,
        exp_month=test_card.exp_month,
        exp_year=test_card.exp_year,
        cvc=test_card.cvc,
    )


def direct_payment(client: BpcPay, test_card: TestCard, **options: Any) -> Payment:
    return client.payments.create(amount=700, currency="EUR", card=card(test_card), **options)


class ObjectLedger:
    """The shop's side effects for payment and refund events: one line per handler run."""

    def __init__(self, router: WebhookRouter) -> None:
        self.runs: list[tuple[str, str, bool]] = []

        @router.on("payment.*", "refund.*")
        def record(event: Event) -> None:
            obj = event.data.object
            assert isinstance(obj, (Payment, Refund))
            self.runs.append((event.type, obj.id, event.reconciled))


def test_reconcile_runs_the_final_state_of_payments_and_refunds_once(
    gw: ThreadedSandboxGateway, client: BpcPay, store: SQLiteDeliveryStore
) -> None:
    router = WebhookRouter(gw.webhook_secret, store=store)
    ledger = ObjectLedger(router)
    paid = direct_payment(client, TestCards.SUCCESS_NO_3DS)
    declined = direct_payment(client, TestCards.DECLINED)
    held = direct_payment(client, TestCards.SUCCESS_NO_3DS, capture_method="manual")
    canceled = client.payments.cancel(held.id)
    still_held = direct_payment(client, TestCards.SUCCESS_NO_3DS, capture_method="manual")
    refund = client.refunds.create(payment_id=paid.id)
    assert (paid.status, declined.status, canceled.status) == ("succeeded", "failed", "canceled")

    payment_ids = [paid.id, declined.id, canceled.id, still_held.id]
    results = router.reconcile_sync(client, payment_ids=payment_ids, refund_ids=[refund.id])

    assert [(r.status, r.reason, r.event and r.event.type) for r in results] == [
        (200, "handled", "payment.succeeded"),
        (200, "handled", "payment.failed"),
        (200, "handled", "payment.canceled"),
        (202, "open", None),  # requiresCapture: not a final state
        (200, "handled", "refund.succeeded"),
    ]
    assert ledger.runs == [
        ("payment.succeeded", paid.id, True),
        ("payment.failed", declined.id, True),
        ("payment.canceled", canceled.id, True),
        ("refund.succeeded", refund.id, True),
    ]
    # The gateway's own deliveries of those final states, arriving late, are duplicates ...
    for event_type, object_id in [
        ("payment.succeeded", paid.id),
        ("payment.failed", declined.id),
        ("payment.canceled", canceled.id),
        ("refund.succeeded", refund.id),
    ]:
        assert router.handle_sync(*webhook_for(gw, object_id, event_type)).reason == "duplicate"
    # ... and so is a second reconciliation.
    again = router.reconcile_sync(client, payment_ids=payment_ids, refund_ids=[refund.id])
    assert [r.reason for r in again] == ["duplicate"] * 3 + ["open", "duplicate"]
    assert len(ledger.runs) == 4


@pytest.mark.asyncio
async def test_reconcile_async_takes_payments_and_refunds_beside_sessions(
    gw: ThreadedSandboxGateway, client: BpcPay, store: SQLiteDeliveryStore
) -> None:
    router = WebhookRouter(gw.webhook_secret, store=store)
    ledger = ObjectLedger(router)
    async with AsyncBpcPay(api_key=gw.api_key, base_url=gw.base_url) as aclient:
        session = await aclient.sessions.create(
            amount=900,
            currency="EUR",
            success_url="https://shop.example/success",
            failure_url="https://shop.example/failure",
        )
        paid = await aclient.payments.create(
            amount=700, currency="EUR", card=card(TestCards.SUCCESS_NO_3DS)
        )
        refund = await aclient.refunds.create(payment_id=paid.id, amount=200)
        results = await router.reconcile(
            aclient, [session.id], payment_ids=(paid.id,), refund_ids=[refund.id]
        )
    assert [r.reason for r in results] == ["open", "handled", "handled"]
    assert ledger.runs == [
        ("payment.succeeded", paid.id, True),
        ("refund.succeeded", refund.id, True),
    ]


@pytest.mark.parametrize("argument", ["payment_ids", "refund_ids"])
@pytest.mark.parametrize("ids", ["pay_single_string", [""], [None]])
def test_payment_and_refund_ids_must_be_lists_of_ids(
    gw: ThreadedSandboxGateway, client: BpcPay, argument: str, ids: Any
) -> None:
    router = WebhookRouter(gw.webhook_secret)
    with pytest.raises(InvalidArgumentError, match=argument):
        router.reconcile_sync(client, **{argument: ids})


# --- bpcpay reconcile: payments, refunds, async stores, and the in-memory store ----------------

ASYNC_SHOP = """
from bpcpay.webhooks import WebhookRouter
from bpcpay.webhooks import InMemoryDeliveryStore


class AsyncSQLiteish:
    '''An async store of the shop's own (an async driver of its database, say).'''

    def __init__(self, path):
        from bpcpay.webhooks import SQLiteDeliveryStore

        self.inner = SQLiteDeliveryStore(path)
        self.lease = self.inner.lease

    async def claim(self, key):
        return self.inner.claim(key)

    async def complete(self, key, token):
        return self.inner.complete(key, token)

    async def release(self, key, token):
        return self.inner.release(key, token)

    async def renew(self, key, token):
        return self.inner.renew(key, token)

    def close(self):  # what bpcpay reconcile calls when it is done
        self.inner.close()


router = WebhookRouter({secret!r}, store=AsyncSQLiteish({db!r}))


@router.on("session.completed", "payment.*", "refund.*")
async def record(event):
    with open({ledger!r}, "a") as out:
        out.write(event.type + " " + event.data.object.id + "\\n")
"""


def _shop_module(tmp_path: Path, source: str, monkeypatch: pytest.MonkeyPatch) -> str:
    module = f"shop_{id(source)}_{id(tmp_path)}"
    (tmp_path / f"{module}.py").write_text(textwrap.dedent(source))
    monkeypatch.chdir(tmp_path)
    return module


def test_the_reconcile_command_takes_payments_and_refunds_and_an_async_store(
    gw: ThreadedSandboxGateway,
    client: BpcPay,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    ledger = tmp_path / "ledger.txt"
    source = ASYNC_SHOP.format(
        secret=gw.webhook_secret, db=str(tmp_path / "d.db"), ledger=str(ledger)
    )
    module = _shop_module(tmp_path, source, monkeypatch)
    monkeypatch.setenv("BPCPAY_API_KEY", gw.api_key)
    monkeypatch.setenv("BPCPAY_BASE_URL", gw.base_url)
    session = new_session(client)
    assert gw.pay(session.id).succeeded
    paid = direct_payment(client, TestCards.SUCCESS_NO_3DS)
    refund = client.refunds.create(payment_id=paid.id)
    command = ["reconcile", "--router", f"{module}:router", session.id]
    command += ["--payments", paid.id, "--refunds", refund.id]
    try:
        # Sessions only, as before: an async store works.
        assert main(["reconcile", "--router", f"{module}:router", session.id]) == 0
        assert capsys.readouterr().out.splitlines() == [f"{session.id} 200 handled"]
        assert main(command) == 0
        captured = capsys.readouterr()
        assert captured.out.splitlines() == [
            f"{session.id} 200 duplicate",
            f"{paid.id} 200 handled",
            f"{refund.id} 200 handled",
        ]
        assert "in-memory" not in captured.err
        assert main(command) == 0
        assert [line.split()[-1] for line in capsys.readouterr().out.splitlines()] == [
            "duplicate"
        ] * 3
        # Only payments: the session ids are optional now.
        assert main(["reconcile", "--router", f"{module}:router", "--payments", paid.id]) == 0
    finally:
        sys.modules.pop(module, None)
    assert ledger.read_text().splitlines() == [
        f"session.completed {session.id}",
        f"payment.succeeded {paid.id}",
        f"refund.succeeded {refund.id}",
    ]


def test_the_reconcile_command_warns_that_an_in_memory_store_forgets_every_run(
    gw: ThreadedSandboxGateway,
    client: BpcPay,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    source = "from bpcpay.webhooks import WebhookRouter\n"
    source += f"router = WebhookRouter({gw.webhook_secret!r})\n"
    module = _shop_module(tmp_path, source, monkeypatch)
    monkeypatch.setenv("BPCPAY_API_KEY", gw.api_key)
    monkeypatch.setenv("BPCPAY_BASE_URL", gw.base_url)
    session = new_session(client)
    try:
        assert main(["reconcile", "--router", f"{module}:router", session.id]) == 0
    finally:
        sys.modules.pop(module, None)
    err = capsys.readouterr().err.splitlines()
    assert len([line for line in err if "in-memory store" in line]) == 1
    assert len(err) == 1


def test_the_reconcile_command_needs_at_least_one_id(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    source = (
        "from bpcpay.webhooks import WebhookRouter\nrouter = WebhookRouter('whsec_x_not_real')\n"
    )
    module = _shop_module(tmp_path, source, monkeypatch)
    try:
        assert main(["reconcile", "--router", f"{module}:router"]) == 2
    finally:
        sys.modules.pop(module, None)
    assert "--payments" in capsys.readouterr().err
