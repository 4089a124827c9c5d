"""examples/bot end to end against the sandbox: the bot's aiohttp app on loopback creates a
payment link, the customer pays, the verified webhook makes the bot post "Paid" to the chat."""

from __future__ import annotations

import asyncio
import importlib.util
import json
import socket
import sys
import urllib.error
import urllib.request
from pathlib import Path
from types import ModuleType

import aiohttp
import pytest
from _processes import Program
from aiohttp.test_utils import TestServer

from bpcpay.sandbox import SandboxGateway
from bpcpay.webhooks import sign

EXAMPLE = Path(__file__).resolve().parent.parent / "examples" / "bot" / "bot.py"


def load_example() -> ModuleType:
    spec = importlib.util.spec_from_file_location("bpcpay_example_bot", EXAMPLE)
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up while building classes
    spec.loader.exec_module(module)
    return module


@pytest.mark.asyncio
async def test_buy_pay_and_the_paid_message_from_a_verified_webhook() -> None:
    bot = load_example()
    async with SandboxGateway(webhook_retry_schedule=(0.05,)) as gw:
        config = bot.BotConfig(
            api_key=gw.api_key, base_url=gw.base_url, webhook_secret=gw.webhook_secret
        )
        app = bot.create_app(config)
        async with TestServer(app, host="127.0.0.1") as server:
            gw.add_webhook_endpoint(str(server.make_url(bot.WEBHOOK_PATH)))
            the_bot = app[bot.BOT]
            outbox = app[bot.OUTBOX]

            # The user pressed Buy (what the chat library's handler would call).
            session = await the_bot.on_buy(7, item="coffee", amount=350, currency="EUR")
            link = await outbox.wait_for(lambda m: m.chat_id == 7, timeout=1)
            assert session.payment_url in link.text
            assert session.metadata == {"chat_id": "7", "item": "coffee"}

            # A forged "completed" for this session is refused and tells the chat nothing.
            forged = (
                b'{"created":"2024-01-01T00:00:00Z","type":"session.completed","data":'
                b'{"object":{"id":"' + session.id.encode() + b'","amount":350,'
                b'"currency":"EUR","status":"complete","paymentStatus":"paid",'
                b'"metadata":{"chat_id":"7","item":"coffee"}}}}'
            )
            async with (
                aiohttp.ClientSession() as http,
                http.post(
                    server.make_url(bot.WEBHOOK_PATH),
                    data=forged,
                    headers={"X-Signature": sign(forged, "whsec_guessed")},
                ) as refused,
            ):
                assert refused.status == 400

            result = await gw.pay(session.id)
            assert result.succeeded
            paid = await outbox.wait_for(lambda m: m.text.startswith("Paid"), timeout=10)
            deliveries = await gw.wait_for_deliveries()

            assert paid == bot.Message(7, "Paid: coffee. Thank you!")
            assert [m.text for m in outbox.messages] == [link.text, paid.text]
            (completed,) = [d for d in deliveries if d.event.type == "session.completed"]
            assert completed.succeeded
            # Handled exactly once, from the gateway's signed delivery, on this very loop.
            assert the_bot.handled == [completed.id]
            assert the_bot.webhook_loops == [asyncio.get_running_loop()]
            # AsyncBpcPay borrows the bot's own ClientSession: closing it leaves that open.
            await the_bot.client.aclose()
            http_session = app[bot.HTTP]
            assert not http_session.closed
            creates = [
                r for r in gw.requests if r.method == "POST" and r.path.endswith("/sessions")
            ]
            assert len(creates) == 1

            # The gateway sends the delivery again: no second "Paid" message.
            await gw.resend(completed.id)
            assert completed.attempts[-1].status == 200
            assert len(outbox.messages) == 2
        # The app's cleanup closed its session; the client never closed it on its own.
        assert http_session.closed


# --- bot.py run by hand, as its README says ---------------------------------------------------

README = EXAMPLE.parent / "README.md"


def test_the_readme_gives_the_commands_with_the_bots_port() -> None:
    bot = load_example()
    text = README.read_text(encoding="utf-8")
    url = f"http://127.0.0.1:{bot.DEFAULT_PORT}"
    assert f".venv/bin/bpcpay sandbox --webhook-url {url}{bot.WEBHOOK_PATH}" in text
    assert ".venv/bin/python examples/bot/bot.py" in text
    assert f"curl -X POST '{url}/chat/7/buy?item=coffee&amount=350'" in text
    # Neither the sandbox's default port nor the other commands' defaults.
    assert bot.DEFAULT_PORT not in {8081, 8080, 8000}


def _post(url: str) -> tuple[int, str]:
    request = urllib.request.Request(url, data=b"", method="POST")  # noqa: S310 - loopback
    try:
        with urllib.request.urlopen(request, timeout=10) as answer:  # noqa: S310
            return answer.status, answer.read().decode()
    except urllib.error.HTTPError as error:
        return error.code, error.read().decode()


def test_run_by_hand_prints_what_it_sends_and_the_paid_message() -> None:
    with SandboxGateway.run_in_thread(webhook_retry_schedule=(0.05,)) as gw:
        env = {
            "BPCPAY_BASE_URL": gw.base_url,
            "BPCPAY_API_KEY": gw.api_key,
            "BPCPAY_WEBHOOK_SECRET": gw.webhook_secret,
        }
        with Program([str(EXAMPLE), "--port", "0"], env=env) as bot:
            url = bot.wait_for_line("bot listening on").split()[3]
            assert url.startswith("http://127.0.0.1:")
            assert bot.wait_for_line("webhooks:").endswith(f"{url}/webhooks/bpc")
            gw.add_webhook_endpoint(f"{url}/webhooks/bpc")

            status, answer = _post(f"{url}/chat/7/buy?item=tea&amount=420")
            assert status == 200
            pressed = json.loads(answer)
            sent = bot.wait_for_line("bot -> chat 7: Pay for tea here: ")
            assert sent.endswith(pressed["paymentUrl"])
            session_id = pressed["session"]
            assert _post(f"{url}/chat/x/buy")[0] == 400

            assert gw.pay(session_id).succeeded
            assert "session.completed" in bot.wait_for_line("webhook verified:")
            bot.wait_for_line("bot -> chat 7: Paid: tea. Thank you!")
            assert bot.stop() == 0
        assert bot.text("out").splitlines()[-1] == "bot stopped"
        assert "Traceback" not in bot.text()
        assert gw.api_key not in bot.text()


def test_a_port_in_use_is_a_clear_error_not_a_traceback() -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        env = {"BPCPAY_API_KEY": "sk_test_x", "BPCPAY_WEBHOOK_SECRET": "whsec_x"}
        with Program([str(EXAMPLE), "--port", str(port)], env=env) as bot:
            assert bot.finish() == 1
    assert f"cannot listen on 127.0.0.1:{port}" in bot.text("err")
    assert "pick another with --port" in bot.text("err")
    assert "Traceback" not in bot.text()


def test_missing_credentials_say_where_they_come_from() -> None:
    env = {"BPCPAY_API_KEY": "", "BPCPAY_WEBHOOK_SECRET": ""}
    with Program([str(EXAMPLE)], env=env) as bot:
        assert bot.finish() == 2
    assert "`bpcpay sandbox` prints" in bot.text("err")
