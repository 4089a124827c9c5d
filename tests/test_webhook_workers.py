"""Real gunicorn workers interrupted mid-handler lose no event.

- A worker timeout (``gunicorn -k sync --timeout 2``) ends a slow handler with SystemExit: the
  claim is released, and the gateway's retry runs the handler (before, the claim stayed and
  every retry was answered ``200 duplicate``: the order was never marked paid).
- ``kill -9`` of a worker mid-handler releases nothing: the claim is a lease, and once it
  lapses the gateway's retry, or the reconciler, runs the handler. Once.

The shop is ``_webhook_app.py``; its side effects are counted in the SQLite database.
"""

from __future__ import annotations

import http.client
import os
import signal
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from _procs import completed_event, gunicorn, post, serve, wait_for_blocked
from _webhook_app import build_router

from bpcpay import BpcPay
from bpcpay.sandbox import SandboxGateway, ThreadedSandboxGateway
from bpcpay.webhooks import sign

SECRET = "whsec_workers_not_real"
LEASE = 1.5


@pytest.fixture
def shop(tmp_path: Path) -> dict[str, Any]:
    block_dir = tmp_path / "blocks"
    block_dir.mkdir()
    return {
        "secret": SECRET,
        "store_spec": f"sqlite:{tmp_path / 'shop.sqlite3'}",
        "namespace": "deliveries",
        "lease": LEASE,
        "in_flight_timeout": 10.0,
        "block_dir": str(block_dir),
    }


def env_of(shop: dict[str, Any]) -> dict[str, str]:
    return {
        "BPCPAY_TEST_SECRET": shop["secret"],
        "BPCPAY_TEST_STORE": shop["store_spec"],
        "BPCPAY_TEST_NAMESPACE": shop["namespace"],
        "BPCPAY_TEST_LEASE": str(shop["lease"]),
        "BPCPAY_TEST_IN_FLIGHT_TIMEOUT": str(shop["in_flight_timeout"]),
        "BPCPAY_TEST_BLOCK_DIR": shop["block_dir"],
    }


def effect_counts(shop: dict[str, Any]) -> dict[str, int]:
    _, effects = build_router(**shop, use_async_store=False)
    try:
        return effects.counts()
    finally:
        effects.close()


def test_a_gunicorn_worker_timeout_does_not_lose_the_event(shop: dict[str, Any]) -> None:
    shop["lease"] = 300.0  # the default order of magnitude: the release, not the lease, saves it
    body = completed_event("ps_slow")
    (Path(shop["block_dir"]) / "ps_slow.block").touch()
    command = gunicorn("-k", "sync", "-w", "1", "--timeout", "2")
    with serve(command, env_of(shop), workers=1) as server:
        first = _attempt(server.port, body)  # the worker is killed mid-handler
        # gunicorn answers the SystemExit with its own 500 page (or the connection drops).
        assert isinstance(first, Exception) or first[0] == 500
        assert any("WORKER TIMEOUT" in line for line in server.log)
        server.wait_workers(2)  # the arbiter booted a replacement
        retry = post(server.port, body, SECRET)  # the gateway's retry
    assert retry == (200, "handled\n")
    assert effect_counts(shop) == {"ps_slow": 1}


@pytest.fixture(scope="module")
def gw() -> Iterator[ThreadedSandboxGateway]:
    with SandboxGateway.run_in_thread(webhook_secret=SECRET) as gateway:
        yield gateway


@pytest.mark.parametrize("recovery", ["gateway retry", "reconciler"])
def test_a_worker_killed_mid_handler_loses_nothing_after_the_lease(
    shop: dict[str, Any], gw: ThreadedSandboxGateway, recovery: str
) -> None:
    with BpcPay(api_key=gw.api_key, base_url=gw.base_url) as client:
        session = client.sessions.create(
            amount=2500,
            currency="EUR",
            success_url="https://shop.example/success",
            failure_url="https://shop.example/failure",
        )
        assert gw.pay(session.id).succeeded
        (event,) = [
            e for e in gw.events if e.type == "session.completed" and e.object["id"] == session.id
        ]
        assert sign(event.body, SECRET)
        (Path(shop["block_dir"]) / f"{session.id}.block").touch()

        command = gunicorn("-k", "gthread", "-w", "2", "--threads", "2", "--timeout", "30")
        with serve(command, env_of(shop), workers=2) as server:
            first: list[Any] = []
            sender = threading.Thread(
                target=lambda: first.append(_attempt(server.port, event.body))
            )
            sender.start()
            victim = wait_for_blocked(Path(shop["block_dir"]), session.id)
            assert victim in server.workers
            os.kill(victim, signal.SIGKILL)  # kill -9, mid-handler: nothing can be released
            sender.join(30)
            assert isinstance(first[0], Exception) or first[0][0] >= 500

            if recovery == "gateway retry":
                # Sent at once: it waits (polling the store) for the lease to lapse, then runs.
                assert post(server.port, event.body, SECRET) == (200, "handled\n")
            else:
                router, effects = build_router(**shop, use_async_store=False)
                try:
                    (result,) = router.reconcile_sync(client, [session.id])
                finally:
                    effects.close()
                    router.store.close()  # its connection (Python 3.13 warns about an open one)
                assert (result.status, result.reason) == (200, "handled")
                assert result.event is not None
                assert result.event.reconciled
            # Whatever comes next is a duplicate.
            assert post(server.port, event.body, SECRET) == (200, "duplicate\n")
    assert effect_counts(shop) == {session.id: 1}


def _attempt(port: int, body: bytes) -> Any:
    try:
        return post(port, body, SECRET)
    except (OSError, http.client.HTTPException) as exc:
        return exc
