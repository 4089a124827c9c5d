"""Two hosts whose clocks disagree never run one event at the same time (Redis, PostgreSQL).

Host A is this process, on the real clock: its router, built with the defaults, runs a handler
that blocks until the test lets it go. Host B is a separate Python process under ``faketime``,
its clock 299 s, 301 s or an hour ahead of A's, with the same store. While A's handler runs, B
receives a copy of the same event: it must wait and answer 409 ``in_flight``, never run its
handler (nor, an hour ahead, purge A's live claim as an old row). Once A has finished, B's next
copy is a duplicate. SQLite is left out: it serves the processes of one host, which share one
clock.
"""

from __future__ import annotations

import json
import subprocess
import sys
import threading
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest
from _procs import completed_event
from _servers import require_binary
from _stores import unique
from conftest import FLEET_REPORT

from bpcpay.models import Event
from bpcpay.webhooks import PostgresDeliveryStore, RedisDeliveryStore, WebhookRouter, sign

SECRET = "whsec_skew_not_real"
SKEWS = [299, 301, 3700]
#: How long host B waits for A's copy in flight before it answers 409.
B_WAIT = 3.0

HOST_B = f"""
import json, sys, time
from bpcpay.webhooks import PostgresDeliveryStore, RedisDeliveryStore, WebhookRouter, sign

kind, target, body_path, wait = sys.argv[1:]
store = RedisDeliveryStore(target) if kind == "redis" else PostgresDeliveryStore(target)
router = WebhookRouter({SECRET!r}, store=store, in_flight_timeout=float(wait))
runs = []
router.add_handler("*", lambda event: runs.append(1))
with open(body_path, "rb") as source:
    body = source.read()
result = router.handle_sync(body, {{"X-Signature": sign(body, {SECRET!r})}})
print(json.dumps({{"status": result.status, "reason": result.reason, "runs": len(runs),
                  "clock": time.time()}}))
store.close()
"""


def host_b(skew: int, kind: str, target: str, body_path: Path) -> dict[str, Any]:
    """Deliver ``body_path`` once on host B, whose clock is ``skew`` seconds ahead."""
    faketime = require_binary("faketime", "faketime")
    command = [faketime, "-m", "-f", f"+{skew}s", sys.executable, "-c", HOST_B]
    done = subprocess.run(
        [*command, kind, target, str(body_path), str(B_WAIT)],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    answer: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    return answer


def one_skew(skew: int, kind: str, target: str, tmp_path: Path) -> dict[str, Any]:
    import time

    store: Any = RedisDeliveryStore(target) if kind == "redis" else PostgresDeliveryStore(target)
    router = WebhookRouter(SECRET, store=store)
    entered, finish = threading.Event(), threading.Event()
    runs: list[float] = []

    @router.on("session.completed")
    def slow(event: Event) -> None:
        runs.append(time.time())
        entered.set()
        assert finish.wait(60)

    body = completed_event(unique(f"ps_skew_{skew}"))
    body_path = tmp_path / f"{kind}-{skew}.json"
    body_path.write_bytes(body)
    first: list[Any] = []
    holder = threading.Thread(
        target=lambda: first.append(router.handle_sync(body, {"X-Signature": sign(body, SECRET)}))
    )
    holder.start()
    try:
        assert entered.wait(30)
        during = host_b(skew, kind, target, body_path)  # while A's handler runs
    finally:
        finish.set()
        holder.join(30)
        store.close()
    after = host_b(skew, kind, target, body_path)  # once A is done
    return {"a": first[0].reason, "a_runs": len(runs), "during": during, "after": after}


@pytest.mark.parametrize("kind", ["redis", "postgres"])
def test_a_host_with_a_skewed_clock_never_runs_an_event_in_flight_elsewhere(
    kind: str, request: pytest.FixtureRequest, tmp_path: Path
) -> None:
    require_binary("faketime", "faketime")
    server = request.getfixturevalue(f"{kind}_server")
    target = server.url if kind == "redis" else server.dsn
    with ThreadPoolExecutor(len(SKEWS)) as pool:
        outcomes = dict(
            zip(SKEWS, pool.map(lambda s: one_skew(s, kind, target, tmp_path), SKEWS), strict=True)
        )
    during = {
        s: (o["during"]["status"], o["during"]["reason"], o["during"]["runs"])
        for s, o in outcomes.items()
    }
    assert during == dict.fromkeys(SKEWS, (409, "in_flight", 0))
    assert {s: (o["a"], o["a_runs"]) for s, o in outcomes.items()} == dict.fromkeys(
        SKEWS, ("handled", 1)
    )
    after = {s: (o["after"]["reason"], o["after"]["runs"]) for s, o in outcomes.items()}
    assert after == dict.fromkeys(SKEWS, ("duplicate", 0))
    FLEET_REPORT.append(
        f"clock skew, {kind:<8}: host B at +{'/+'.join(map(str, SKEWS))} s, "
        f"{2 * len(SKEWS)} deliveries on B (each 409 in flight, then duplicate), "
        f"{sum(s['a_runs'] + s['during']['runs'] + s['after']['runs'] for s in outcomes.values())}"
        f" handler runs for {len(SKEWS)} events"
    )
