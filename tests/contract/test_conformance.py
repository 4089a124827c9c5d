"""``bpcpay conformance`` as a merchant runs it (the console script, in a subprocess): against
the bundled sandbox every testable fact is confirmed; against a gateway that deviates (a proxy
in front of the sandbox that renames a field, changes a status's case and signs deliveries in
base64) each deviation is reported by name; a recording replays against the sandbox."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from aiohttp import web

from bpcpay.cli._conformance import FACTS
from bpcpay.sandbox import SandboxGateway, ThreadedSandboxGateway

BPCPAY = Path(sys.executable).parent / "bpcpay"


def conformance(*argv: str, env: dict[str, str] | None = None) -> tuple[int, list[str], str]:
    """Run the command; its exit status, stdout lines and stderr."""
    environment = {k: v for k, v in os.environ.items() if not k.startswith("BPCPAY_")}
    environment.update(env or {})
    done = subprocess.run(
        [str(BPCPAY), "conformance", *argv],
        capture_output=True,
        text=True,
        timeout=60,
        env=environment,
        check=False,
    )
    return done.returncode, done.stdout.splitlines(), done.stderr


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def check_shape(lines: list[str]) -> dict[str, int]:
    """One line per fact then the summary; only contradicted lines (and the summary) say so."""
    assert len(lines) == len(FACTS) + 1
    outcomes = [line.split(" ", 1)[0] for line in lines[:-1]]
    assert set(outcomes) <= {"confirmed", "contradicted", "not"}
    for line in lines[:-1]:
        if "contradicted" in line:
            assert line.startswith("contradicted ")
    counts = {
        "confirmed": outcomes.count("confirmed"),
        "contradicted": outcomes.count("contradicted"),
        "not tested": outcomes.count("not"),
    }
    assert lines[-1] == (
        f"{counts['confirmed']} confirmed, {counts['contradicted']} contradicted, "
        f"{counts['not tested']} not tested"
    )
    return counts


def test_every_testable_fact_is_confirmed_against_the_sandbox() -> None:
    """The bundled sandbox is the default target; with --listen its deliveries are checked too,
    and only what needs a customer on the hosted page is not tested. Well under 30 s."""
    started = time.monotonic()
    status, lines, _ = conformance("--listen", "0")
    elapsed = time.monotonic() - started
    assert status == 0, "\n".join(lines)
    counts = check_shape(lines)
    assert counts == {"confirmed": len(FACTS) - 1, "contradicted": 0, "not tested": 1}
    assert lines[-2].startswith("not tested   type: a paid session emits session.completed")
    assert elapsed < 30


def test_without_listen_the_deliveries_are_not_tested() -> None:
    status, lines, _ = conformance()
    assert status == 0
    counts = check_shape(lines)
    assert counts["contradicted"] == 0
    assert any("X-Signature" in line and line.startswith("not tested") for line in lines)


def test_another_gateway_needs_its_key_and_never_prints_it() -> None:
    status, lines, err = conformance("--base-url", "http://127.0.0.1:9/api2")
    assert status == 2
    assert "BPCPAY_API_KEY" in err
    with SandboxGateway.run_in_thread() as gw:
        status, lines, err = conformance(
            "--base-url", gw.base_url, env={"BPCPAY_API_KEY": gw.api_key}
        )
    assert status == 0, "\n".join(lines)
    assert gw.api_key not in "\n".join(lines) + err


# --- a deviating gateway ----------------------------------------------------------------------


class Deviating:
    """A proxy in front of a sandbox that deviates from the contract three ways: the session's
    ``paymentUrl`` is renamed ``paymentURL``, a status ``open`` is sent as ``OPEN``, and the
    deliveries are re-signed in base64 (then passed to ``listener``)."""

    def __init__(self, gw: ThreadedSandboxGateway, listener: int) -> None:
        self.gw = gw
        self.listener = listener
        self.url = ""
        self._runner: web.AppRunner | None = None

    async def api(self, request: web.Request) -> web.Response:
        target = self.gw.url + request.path_qs
        keep = {k: v for k, v in request.headers.items() if k.lower().startswith("x-")}
        keep["Content-Type"] = request.headers.get("Content-Type", "application/json")
        async with (
            aiohttp.ClientSession() as http,
            http.request(request.method, target, data=await request.read(), headers=keep) as answer,
        ):
            body = await answer.read()
            headers = {
                k: v for k, v in answer.headers.items() if k in ("X-Version", "API-Request-Id")
            }
            status = answer.status
        data = json.loads(body) if body else None
        if isinstance(data, dict):
            if "paymentUrl" in data:
                data["paymentURL"] = data.pop("paymentUrl")
            if data.get("status") == "open":
                data["status"] = "OPEN"
            body = json.dumps(data).encode()
        return web.Response(
            body=body, status=status, headers=headers, content_type="application/json"
        )

    async def hook(self, request: web.Request) -> web.Response:
        body = await request.read()
        digest = hmac.new(self.gw.webhook_secret.encode(), body, hashlib.sha256).digest()
        headers = dict(request.headers)
        headers["X-Signature"] = base64.b64encode(digest).decode()
        headers.pop("Host", None)
        headers.pop("Content-Length", None)
        async with (
            aiohttp.ClientSession() as http,
            http.post(
                f"http://127.0.0.1:{self.listener}/hook", data=body, headers=headers
            ) as answer,
        ):
            return web.Response(status=answer.status)

    async def start(self) -> None:
        app = web.Application()
        app.router.add_post("/hook", self.hook)
        app.router.add_route("*", "/api2/{tail:.*}", self.api)
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        self.url = f"http://127.0.0.1:{self._runner.addresses[0][1]}"

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()


@pytest.fixture
def deviating() -> Iterator[tuple[Deviating, dict[str, str], int]]:
    listen = free_port()
    with SandboxGateway.run_in_thread(webhook_retry_schedule=(0.05,)) as gw:
        proxy = Deviating(gw, listen)
        gw.run(proxy.start)
        gw.add_webhook_endpoint(proxy.url + "/hook")
        env = {"BPCPAY_API_KEY": gw.api_key, "BPCPAY_WEBHOOK_SECRET": gw.webhook_secret}
        try:
            yield proxy, env, listen
        finally:
            gw.run(proxy.stop)


def contradicted(lines: list[str]) -> list[str]:
    return [line for line in lines if line.startswith("contradicted")]


def test_each_planted_deviation_is_reported_by_name(
    deviating: tuple[Deviating, dict[str, str], int],
) -> None:
    proxy, env, listen = deviating
    status, lines, err = conformance(
        "--base-url", proxy.url + "/api2", "--listen", str(listen), env=env
    )
    assert status == 1
    check_shape(lines)
    found = contradicted(lines)
    assert any(line.startswith("contradicted paymentUrl: a new session") for line in found)
    assert any(
        line.startswith("contradicted status: a new session's status") and "'OPEN'" in line
        for line in found
    )
    assert any(
        line.startswith("contradicted X-Signature: the signature is written as 64 lowercase")
        for line in found
    )
    # The base64 signature still verifies (bpcpay accepts that spelling): only its form differs.
    assert any(line.startswith("confirmed    X-Signature: deliveries are signed") for line in lines)
    assert len(found) == 3, "\n".join(found)
    assert env["BPCPAY_API_KEY"] not in "\n".join(lines) + err
    assert env["BPCPAY_WEBHOOK_SECRET"] not in "\n".join(lines) + err


def test_a_recording_is_written_without_secrets_and_replays_against_the_sandbox(
    deviating: tuple[Deviating, dict[str, str], int], tmp_path: Path
) -> None:
    """What a run saw at a gateway (here the deviating one) is written to a file without the
    key, the secret or a signature's value; replayed, the sandbox is held against it and each
    fact where the sandbox answers otherwise is contradicted."""
    proxy, env, listen = deviating
    recording = tmp_path / "gateway.json"
    status, _, _ = conformance(
        "--base-url",
        proxy.url + "/api2",
        "--listen",
        str(listen),
        "--record",
        str(recording),
        env=env,
    )
    assert status == 1
    text = recording.read_text("utf-8")
    for secret in (env["BPCPAY_API_KEY"], env["BPCPAY_WEBHOOK_SECRET"], "4111111111111111"):
        assert secret not in text
    saved: dict[str, Any] = json.loads(text)
    assert saved["exchanges"] and saved["deliveries"]
    assert {d["headers"]["X-Signature"] for d in saved["deliveries"]} == {
        "44 characters, not lowercase hex"
    }

    status, lines, _ = conformance("--recording", str(recording), "--listen", "0")
    assert status == 1
    check_shape(lines)
    found = contradicted(lines)
    assert len(found) == 3, "\n".join(found)
    assert any(line.startswith("contradicted paymentUrl:") for line in found)

    own = tmp_path / "sandbox.json"
    assert conformance("--listen", "0", "--record", str(own))[0] == 0
    status, lines, _ = conformance("--recording", str(own), "--listen", "0")
    assert status == 0, "\n".join(contradicted(lines))
    assert conformance("--recording", str(tmp_path / "missing.json"))[0] == 2
