"""examples/flask_shop end to end: sync BpcPay, the sandbox in a thread, the shop on a threaded
WSGI server on 127.0.0.1 that the sandbox delivers webhooks to."""

from __future__ import annotations

import http.client
import importlib.util
import json
import sys
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType
from urllib.parse import urlencode, urlsplit

import pytest
from _processes import Program
from _webhook_capture import serve_wsgi

from bpcpay import BpcPay
from bpcpay.sandbox import SandboxGateway, ThreadedSandboxGateway

EXAMPLE = Path(__file__).resolve().parent.parent / "examples" / "flask_shop" / "shop.py"


def load_example() -> ModuleType:
    spec = importlib.util.spec_from_file_location("bpcpay_example_flask_shop", EXAMPLE)
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


def fetch(method: str, url: str, form: dict[str, str] | None = None) -> tuple[int, str, str]:
    """(status, Location header, body) without following redirects."""
    parts = urlsplit(url)
    conn = http.client.HTTPConnection(parts.netloc, timeout=10)
    try:
        body = urlencode(form).encode() if form is not None else None
        headers = {"Content-Type": "application/x-www-form-urlencoded"} if form else {}
        path = parts.path + (f"?{parts.query}" if parts.query else "")
        conn.request(method, path, body=body, headers=headers)
        answer = conn.getresponse()
        return answer.status, answer.getheader("Location") or "", answer.read().decode()
    finally:
        conn.close()


@pytest.fixture
def gw() -> Iterator[ThreadedSandboxGateway]:
    with SandboxGateway.run_in_thread(webhook_retry_schedule=(0.05,)) as gateway:
        yield gateway


@pytest.fixture
def client(gw: ThreadedSandboxGateway) -> Iterator[BpcPay]:
    with BpcPay(api_key=gw.api_key, base_url=gw.base_url) as c:
        yield c


def test_order_pay_webhook_marks_it_paid(gw: ThreadedSandboxGateway, client: BpcPay) -> None:
    shop = load_example()
    app = shop.create_app(client, gw.webhook_secret)
    with serve_wsgi(app) as url:
        gw.add_webhook_endpoint(url + "/webhooks/bpc")

        status, location, _ = fetch("POST", url + "/orders", {"amount": "4200"})
        assert status == 303
        order = app.extensions["orders"].get("1001")
        assert order.session_id is not None
        session = client.sessions.retrieve(order.session_id)
        assert location == session.payment_url
        assert session.success_url == url + "/success"
        assert session.merchant_reference_id == "1001"
        assert fetch("GET", url + "/orders/1001")[2].count('"paid":false') == 1

        result = gw.pay(order.session_id)
        assert result.succeeded
        deliveries = gw.wait_for_deliveries()
        assert deliveries
        assert all(d.succeeded for d in deliveries)

        state = json.loads(fetch("GET", url + "/orders/1001")[2])
        assert state == {
            "id": "1001",
            "amount": 4200,
            "currency": "EUR",
            "session": order.session_id,
            "paid": True,
            "paid_via": "webhook",
        }
        # The customer's redirect back: the page reports the webhook's verdict.
        assert result.redirect_url is not None
        assert result.redirect_url.startswith(url + "/success?sessionId=")
        status, _, text = fetch("GET", result.redirect_url)
        assert (status, text) == (200, "Thank you! Order 1001 is paid.")


def test_success_page_falls_back_on_the_api_when_no_webhook_came(
    gw: ThreadedSandboxGateway, client: BpcPay
) -> None:
    shop = load_example()
    app = shop.create_app(client, gw.webhook_secret)
    with serve_wsgi(app) as url:
        # No webhook endpoint for this shop: only the API can tell it the order was paid.
        fetch("POST", url + "/orders", {"amount": "1500"})
        order = app.extensions["orders"].get("1001")

        # Before paying, the success URL (forged or early) proves nothing.
        status, _, text = fetch("GET", f"{url}/success?sessionId={order.session_id}")
        assert (status, text) == (202, "Order 1001: the payment is being processed.")
        assert order.paid is False

        result = gw.pay(order.session_id)
        assert result.redirect_url is not None
        status, _, text = fetch("GET", result.redirect_url)
        assert (status, text) == (200, "Thank you! Order 1001 is paid.")
        assert (order.paid, order.paid_via) == (True, "api")
        assert gw.deliveries == []
        assert fetch("GET", url + "/success?sessionId=ps_unknown")[0] == 404
        assert fetch("POST", url + "/orders", {"amount": "-1"})[0] == 400


# --- shop.py run by hand, as its README says --------------------------------------------------

README = EXAMPLE.parent / "README.md"


def test_the_readme_gives_the_commands_with_the_shops_port() -> None:
    shop = load_example()
    text = README.read_text(encoding="utf-8")
    url = f"http://127.0.0.1:{shop.DEFAULT_PORT}"
    assert f".venv/bin/bpcpay sandbox --webhook-url {url}/webhooks/bpc" in text
    assert ".venv/bin/python examples/flask_shop/shop.py" in text
    assert ".venv/bin/pip install -e '.[flask]'" in text
    assert shop.DEFAULT_PORT not in {8081, 8080, 8000}


def test_run_by_hand_with_python_shop_py(gw: ThreadedSandboxGateway) -> None:
    env = {
        "BPCPAY_BASE_URL": gw.base_url,
        "BPCPAY_API_KEY": gw.api_key,
        "BPCPAY_WEBHOOK_SECRET": gw.webhook_secret,
    }
    with Program([str(EXAMPLE), "--port", "0"], env=env) as shop:
        # Flask's development server says where it listens, on stderr.
        url = shop.wait_for_line("Running on http://127.0.0.1:", stream="err").split()[-1]
        gw.add_webhook_endpoint(url + "/webhooks/bpc")
        status, _, page = fetch("GET", url + "/")
        assert status == 200
        assert "action='/orders'" in page

        status, location, _ = fetch("POST", url + "/orders", {"amount": "2500"})
        assert status == 303
        order = json.loads(fetch("GET", url + "/orders/1001")[2])
        assert order["paid"] is False
        assert location.startswith(gw.url + "/payment/")
        result = gw.pay(order["session"])
        assert result.succeeded
        assert all(d.succeeded for d in gw.wait_for_deliveries())
        assert json.loads(fetch("GET", url + "/orders/1001")[2])["paid_via"] == "webhook"
        assert result.redirect_url is not None
        assert fetch("GET", result.redirect_url)[2] == "Thank you! Order 1001 is paid."
        assert shop.stop() == 0
    assert "Traceback" not in shop.text()
    assert gw.api_key not in shop.text()


def test_missing_credentials_say_where_they_come_from() -> None:
    env = {"BPCPAY_API_KEY": "", "BPCPAY_WEBHOOK_SECRET": ""}
    with Program([str(EXAMPLE)], env=env) as shop:
        assert shop.finish() == 2
    assert "`bpcpay sandbox` prints" in shop.text("err")
