"""``bpcpay listen``: in process against the sandbox and a forward target, and as a subprocess."""

from __future__ import annotations

import io
import json
import os
import queue
import subprocess
import sys
import threading
import urllib.request
from collections.abc import AsyncIterator

import aiohttp
import pytest
import pytest_asyncio
from aiohttp import web
from aiohttp.test_utils import TestServer

from bpcpay import AsyncBpcPay
from bpcpay.cli import main
from bpcpay.cli._listen import Listener
from bpcpay.sandbox import SandboxGateway
from bpcpay.webhooks import sign

SECRET = "whsec_listen_test_not_real"
BODY = json.dumps(
    {
        "created": "2024-03-28T08:30:00Z",
        "type": "session.completed",
        "data": {"object": {"id": "ps_42", "amount": 100, "currency": "EUR", "status": "complete"}},
    }
).encode()


class Target:
    """The local app deliveries are forwarded to: records them, answers ``status``."""

    def __init__(self, status: int = 200) -> None:
        self.status = status
        self.received: list[tuple[bytes, dict[str, str]]] = []

    async def handle(self, request: web.Request) -> web.Response:
        self.received.append((await request.read(), dict(request.headers)))
        return web.Response(status=self.status, text="app says hi")


@pytest_asyncio.fixture
async def target() -> AsyncIterator[tuple[Target, str]]:
    app_target = Target()
    app = web.Application()
    app.router.add_post("/webhooks", app_target.handle)
    async with TestServer(app, host="127.0.0.1") as server:
        yield app_target, str(server.make_url("/webhooks"))


@pytest.mark.asyncio
async def test_prints_verifies_and_forwards_only_verified_deliveries(
    target: tuple[Target, str],
) -> None:
    app_target, url = target
    out = io.StringIO()
    async with (
        Listener(secrets=[SECRET], forward_to=url, out=out) as listener,
        aiohttp.ClientSession() as http,
    ):
        signed = {
            "X-Signature": sign(BODY, SECRET),
            "API-Request-Id": "req_good",
            "X-Version": "2023-11-15",
            "Content-Type": "application/json",
        }
        async with http.post(listener.url + "/anything", data=BODY, headers=signed) as good:
            assert good.status == 200
        app_target.status = 500
        async with http.post(listener.url + "/", data=BODY, headers=signed) as passed_on:
            assert passed_on.status == 500  # the app's answer goes back to the sender
        forged = {"X-Signature": sign(BODY, "whsec_wrong"), "API-Request-Id": "req_bad"}
        async with http.post(listener.url, data=BODY, headers=forged) as bad:
            assert bad.status == 400
        async with http.get(listener.url) as get:
            assert get.status == 405

    lines = out.getvalue().splitlines()
    assert lines == [
        "session.completed ps_42 complete ok req_good",
        f"  -> {url} 200",
        "session.completed ps_42 complete ok req_good",
        f"  -> {url} 500, the endpoint failed: look at the endpoint's log for its error",
        "session.completed ps_42 complete bad-signature (mismatch) req_bad",
    ]
    assert len(app_target.received) == 2
    body, headers = app_target.received[0]
    assert body == BODY
    assert headers["X-Signature"] == signed["X-Signature"]
    assert headers["API-Request-Id"] == "req_good"
    assert headers["X-Version"] == "2023-11-15"
    assert SECRET not in out.getvalue()
    assert SECRET not in repr(listener)


@pytest.mark.asyncio
async def test_sandbox_deliveries_through_listen_to_the_app(target: tuple[Target, str]) -> None:
    app_target, url = target
    out = io.StringIO()
    async with SandboxGateway(webhook_retry_schedule=(0.05,)) as gw:
        async with Listener(secrets=[gw.webhook_secret], forward_to=url, out=out) as listener:
            gw.add_webhook_endpoint(listener.url + "/webhooks", events=["session.completed"])
            async with AsyncBpcPay(api_key=gw.api_key, base_url=gw.base_url) as client:
                session = await client.sessions.create(
                    amount=1200,
                    currency="EUR",
                    success_url="https://shop.example/s",
                    failure_url="https://shop.example/f",
                )
            assert (await gw.pay(session.id)).succeeded
            (delivery,) = await gw.wait_for_deliveries()
        printed = out.getvalue()
        assert gw.webhook_secret not in printed
    assert [a.status for a in delivery.attempts] == [200]
    assert printed.splitlines() == [
        f"session.completed {session.id} complete ok {delivery.id}",
        f"  -> {url} 200",
    ]
    assert app_target.received[0][0] == delivery.event.body


@pytest.mark.asyncio
async def test_an_unreachable_forward_target_is_a_502_and_big_bodies_a_413() -> None:
    out = io.StringIO()
    probe = web.AppRunner(web.Application())
    await probe.setup()
    site = web.TCPSite(probe, "127.0.0.1", 0)
    await site.start()
    dead_port = probe.addresses[0][1]
    await probe.cleanup()  # nothing listens there any more
    dead = f"http://127.0.0.1:{dead_port}/hook"
    async with (
        Listener(secrets=[SECRET], forward_to=dead, out=out, max_bytes=len(BODY)) as listener,
        aiohttp.ClientSession() as http,
    ):
        async with http.post(
            listener.url, data=BODY, headers={"X-Signature": sign(BODY, SECRET)}
        ) as sent:
            assert sent.status == 502
        async with http.post(listener.url, data=BODY + b" ") as big:
            assert big.status == 413
        async with http.post(listener.url, data=b"[1]", headers={"X-Signature": "x"}) as odd:
            assert odd.status == 400
    lines = out.getvalue().splitlines()
    assert lines[0] == "session.completed ps_42 complete ok -"
    assert lines[1].startswith(f"  -> {dead} failed: ")
    assert lines[2] == f"- - - too-large (over {len(BODY)} bytes) -"
    assert lines[3] == "- - - bad-signature (bad_format) -"


def test_listener_needs_a_secret() -> None:
    with pytest.raises(ValueError, match="secret"):
        Listener(secrets=[])
    with pytest.raises(ValueError, match="secret"):
        Listener(secrets=[""])


def test_cli_refuses_to_start_without_a_secret_or_with_a_bad_url(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.delenv("BPCPAY_WEBHOOK_SECRET", raising=False)
    assert main(["listen", "--port", "0"]) == 2
    assert "BPCPAY_WEBHOOK_SECRET" in capsys.readouterr().err
    monkeypatch.setenv("BPCPAY_WEBHOOK_SECRET", SECRET)
    assert main(["listen", "--port", "0", "--forward-to", "ftp://x"]) == 2
    err = capsys.readouterr().err
    assert "--forward-to" in err
    assert SECRET not in err


def test_the_command_runs_as_a_subprocess_with_the_secret_from_the_environment() -> None:
    env = {**os.environ, "BPCPAY_WEBHOOK_SECRET": SECRET, "PYTHONUNBUFFERED": "1"}
    proc = subprocess.Popen(
        [sys.executable, "-m", "bpcpay.cli", "listen", "--port", "0"],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        env=env,
    )
    lines: queue.Queue[str] = queue.Queue()
    assert proc.stdout is not None
    stdout = proc.stdout
    reader = threading.Thread(target=lambda: [lines.put(line) for line in stdout], daemon=True)
    reader.start()
    try:
        ready = lines.get(timeout=30)
        assert ready.startswith("listening on http://127.0.0.1:"), ready
        url = ready.split()[2]
        request = urllib.request.Request(  # noqa: S310 - loopback http only
            url + "/",
            data=BODY,
            method="POST",
            headers={"X-Signature": sign(BODY, SECRET), "API-Request-Id": "req_sub"},
        )
        with urllib.request.urlopen(request, timeout=10) as answer:  # noqa: S310
            assert answer.status == 200
        assert lines.get(timeout=10).strip() == "session.completed ps_42 complete ok req_sub"
    finally:
        proc.terminate()
        proc.wait(timeout=10)
        stdout.close()
        reader.join(5)
    rest = []
    while not lines.empty():
        rest.append(lines.get())
    assert SECRET not in ready + "".join(rest)


@pytest.mark.asyncio
async def test_a_forward_target_that_misses_is_named_with_its_cause() -> None:
    # The app behind --forward-to answers a redirect (the old Starlette mount recipe), 404 (a
    # wrong path), 500 (a failing handler): the printed line says what each means.
    async def moved(request: web.Request) -> web.Response:
        raise web.HTTPTemporaryRedirect("/webhooks/bpc/")

    async def failing(request: web.Request) -> web.Response:
        return web.Response(status=500)

    app = web.Application()
    app.router.add_post("/webhooks/bpc", moved)
    app.router.add_post("/boom", failing)
    signed = {"X-Signature": sign(BODY, SECRET), "API-Request-Id": "req_miss"}
    out = io.StringIO()
    async with TestServer(app, host="127.0.0.1") as server, aiohttp.ClientSession() as http:
        targets = {path: str(server.make_url(path)) for path in ("/webhooks/bpc", "/nope", "/boom")}
        base = str(server.make_url(""))
        for target in targets.values():
            async with (
                Listener(secrets=[SECRET], forward_to=target, out=out) as listener,
                http.post(listener.url, data=BODY, headers=signed) as answer,
            ):
                assert answer.status in (307, 404, 500)
    forwarded = [line for line in out.getvalue().splitlines() if line.startswith("  -> ")]
    assert forwarded == [
        f"  -> {targets['/webhooks/bpc']} 307, webhooks do not follow redirects: use the exact "
        f"URL the endpoint answers at (it redirects to {base}/webhooks/bpc/)",
        f"  -> {targets['/nope']} 404, no route for the path /nope at the endpoint: check the "
        "URL's path",
        f"  -> {targets['/boom']} 500, the endpoint failed: look at the endpoint's log for its "
        "error",
    ]
