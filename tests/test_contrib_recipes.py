"""Recipes that cannot miss (issue 21, items 1 and 2): every recipe docs/webhooks.md prints,
served by a real server, receives the sandbox's deliveries at exactly the URL the docs print,
with and without a trailing slash, and never answers a redirect. The recipes are read from the
page itself (the adapters' table, and the aiohttp program above it), so the two cannot drift.

And when an endpoint misses all the same (the old ``app.mount`` recipe's redirect, Django's
``APPEND_SLASH`` 500, a path with no route), the sandbox's log says why, on every attempt and on
its final "failed after N attempts" line.
"""

from __future__ import annotations

import contextlib
import json
import logging
import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from _contrib_servers import Server, aiohttp_runner, deliver, gunicorn, serve, uvicorn

from bpcpay import BpcPay
from bpcpay.sandbox import SandboxGateway

ROOT = Path(__file__).resolve().parent.parent
PAGE = (ROOT / "docs" / "webhooks.md").read_text(encoding="utf-8")
SECRET = "whsec_recipes_not_real"

#: The "existing app" each row of the table attaches to, by the row's first cell: the server
#: that runs it, and the application as a user's module would have made it.
EXISTING = {
    "aiohttp.web (and bots on it)": (
        "aiohttp",
        "from aiohttp import web\n\napp = web.Application()",
    ),
    "FastAPI": ("uvicorn", "from fastapi import FastAPI\n\napp = FastAPI()"),
    "Starlette": ("uvicorn", "from starlette.applications import Starlette\n\napp = Starlette()"),
    "Flask": ("gunicorn", "from flask import Flask\n\napp = Flask(__name__)"),
    "Django (`urls.py`)": ("django", "urlpatterns: list[object] = []"),
    "any ASGI server": ("uvicorn", ""),
    "any WSGI server": ("gunicorn", ""),
}

ROUTER = """\
import os

from bpcpay.webhooks import WebhookRouter

router = WebhookRouter(os.environ["BPCPAY_WEBHOOK_SECRET"])
router.add_handler("session.completed", lambda event: None)
"""

#: Django's settings as a new project has them where it matters here: DEBUG on (APPEND_SLASH's
#: redirect of a POST is then a 500), CommonMiddleware (APPEND_SLASH) and CSRF checks.
DJANGO_SITE = """\
import django
from django.conf import settings

settings.configure(
    DEBUG=True,
    SECRET_KEY="django-test-only-not-secret",
    ALLOWED_HOSTS=["127.0.0.1"],
    ROOT_URLCONF="recipe",
    MIDDLEWARE=[
        "django.middleware.common.CommonMiddleware",
        "django.middleware.csrf.CsrfViewMiddleware",
    ],
    INSTALLED_APPS=[],
)
django.setup()

from django.core.wsgi import get_wsgi_application

application = get_wsgi_application()
"""


def table() -> dict[str, str]:
    """The adapters' table: each framework's recipe, its code spans one line each."""
    start = PAGE.index("| framework | mount it |")
    rows = PAGE[start:].split("\n\n", 1)[0].splitlines()[2:]
    recipes = {}
    for row in rows:
        framework, mount = (cell.strip() for cell in row.strip("|").split(" | "))
        recipes[framework] = "\n".join(re.findall(r"`([^`]+)`", mount))
    return recipes


def docs_url_path() -> str:
    """The path of the webhook URL the page tells the sandbox to deliver to."""
    match = re.search(r"bpcpay sandbox --webhook-url http://127\.0\.0\.1:\d+(/\S*)", PAGE)
    assert match, "the page no longer prints the sandbox command"
    return match.group(1)


def named_block(name: str) -> str:
    match = re.search(rf"<!-- name: {name} -->\n```python\n(.*?)^```", PAGE, re.S | re.M)
    assert match, name
    return match.group(1)


def event(session_id: str) -> bytes:
    obj = {"id": session_id, "amount": 1000, "currency": "EUR", "status": "complete"}
    body = {"created": "2026-03-28T08:30:00Z", "type": "session.completed", "data": {"object": obj}}
    return json.dumps(body).encode()


@contextlib.contextmanager
def run_module(server_kind: str, code: str, tmp_path: Path) -> Iterator[Server]:
    """Serve ``code`` (a module defining ``app`` or ``application``) with a real server."""
    (tmp_path / "recipe.py").write_text(code, encoding="utf-8")
    target = "application" if re.search(r"^application = ", code, re.M) else "app"
    if server_kind == "aiohttp":
        command = aiohttp_runner(tmp_path / "recipe.py")
    elif server_kind == "uvicorn":
        command = uvicorn(f"recipe:{target}")
    elif server_kind == "gunicorn":
        command = gunicorn(f"recipe:{target}")
    else:
        (tmp_path / "site_wsgi.py").write_text(DJANGO_SITE, encoding="utf-8")
        command = gunicorn("site_wsgi:application")
    with serve(command, env={"BPCPAY_WEBHOOK_SECRET": SECRET}, cwd=tmp_path) as server:
        yield server


def sandbox_deliveries(urls: list[str]) -> list[list[int | None]]:
    """Pay a session on a sandbox that delivers ``session.completed`` to each of ``urls``;
    each delivery's attempt statuses, in the order of ``urls``."""
    with SandboxGateway.run_in_thread(
        webhook_secret=SECRET, webhook_retry_schedule=(0.05, 0.05)
    ) as gw:
        endpoints = [gw.add_webhook_endpoint(url, events=["session.completed"]) for url in urls]
        with BpcPay(api_key=gw.api_key, base_url=gw.base_url) as client:
            session = client.sessions.create(
                amount=1500,
                currency="EUR",
                success_url="https://shop.example/success",
                failure_url="https://shop.example/failure",
            )
        assert gw.pay(session.id).succeeded
        deliveries = gw.wait_for_deliveries()
    by_endpoint = {d.endpoint.id: [a.status for a in d.attempts] for d in deliveries}
    return [by_endpoint[e.id] for e in endpoints]


def test_the_table_has_a_recipe_for_every_framework() -> None:
    recipes = table()
    assert set(recipes) == set(EXISTING)
    for framework in (
        "FastAPI",
        "Starlette",
        "aiohttp.web (and bots on it)",
        "Flask",
        "Django (`urls.py`)",
    ):
        assert "/webhooks/bpc" in recipes[framework] or "webhooks/bpc" in recipes[framework]
    assert "app.mount(" not in "".join(recipes.values())


@pytest.mark.parametrize("framework", sorted(EXISTING))
def test_each_recipe_receives_the_sandbox_at_the_docs_url(framework: str, tmp_path: Path) -> None:
    server_kind, existing = EXISTING[framework]
    code = "\n\n".join(part for part in (ROUTER, existing, table()[framework]) if part) + "\n"
    path = docs_url_path()
    with run_module(server_kind, code, tmp_path) as server:
        urls = [server.url(path), server.url(path + "/")]
        assert sandbox_deliveries(urls) == [[200], [200]], server.text()
        # A delivery through either spelling runs the handler (a redirect would be 3xx).
        assert deliver(server.port, path, event("ps_bare"), SECRET) == (200, "handled\n")
        assert deliver(server.port, path + "/", event("ps_slash"), SECRET) == (200, "handled\n")


def test_the_aiohttp_program_receives_the_sandbox_at_the_docs_url(tmp_path: Path) -> None:
    with run_module("aiohttp", named_block("webhooks-aiohttp"), tmp_path) as server:
        path = docs_url_path()
        assert sandbox_deliveries([server.url(path), server.url(path + "/")]) == [[200], [200]]


# --- when an endpoint misses: the sandbox names the cause ---------------------------------------

OLD_STARLETTE = """\
from starlette.applications import Starlette

from bpcpay.contrib.asgi import WebhookASGIApp

app = Starlette()
app.mount("/webhooks/bpc", WebhookASGIApp(router))
"""

OLD_DJANGO = """\
from django.urls import path

from bpcpay.contrib.django import webhook_view

urlpatterns = [path("webhooks/bpc/", webhook_view(router))]
"""


def failure_lines(caplog: pytest.LogCaptureFixture, url: str) -> tuple[list[str], str]:
    """The sandbox's attempt lines for ``url``, and its final line."""
    messages = [r.getMessage() for r in caplog.records if r.name == "bpcpay.sandbox"]
    attempts = [m for m in messages if m.startswith(f"webhook session.completed -> {url}: ")]
    (final,) = [m for m in messages if "failed after" in m and f" to {url} " in m]
    return attempts, final


@pytest.mark.parametrize(
    ("old", "server_kind", "status", "cause"),
    [
        (
            OLD_STARLETTE,
            "uvicorn",
            307,
            "webhooks do not follow redirects: use the exact URL the endpoint answers at "
            "(it redirects to {url}/)",
        ),
        (
            OLD_DJANGO,
            "django",
            500,
            "the endpoint failed: look at the endpoint's log for its error",
        ),
    ],
    ids=["starlette-mount", "django-append-slash"],
)
def test_the_old_recipes_miss_and_the_sandbox_says_why(
    old: str,
    server_kind: str,
    status: int,
    cause: str,
    tmp_path: Path,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.INFO, logger="bpcpay.sandbox")
    with run_module(server_kind, ROUTER + "\n" + old, tmp_path) as server:
        url = server.url(docs_url_path())
        assert sandbox_deliveries([url]) == [[status] * 3]
        attempts, final = failure_lines(caplog, url)
        expected = f"{status}, {cause.format(url=url)}"
        assert len(attempts) == 3
        assert all(
            line.startswith(f"webhook session.completed -> {url}: {expected} (attempt ")
            for line in attempts
        )
        assert final == f"webhook session.completed to {url} failed after 3 attempts: {expected}"


def test_a_path_with_no_route_is_named(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, logger="bpcpay.sandbox")
    recipe = table()["Starlette"]
    existing = EXISTING["Starlette"][1]
    with run_module("uvicorn", f"{ROUTER}\n{existing}\n{recipe}\n", tmp_path) as server:
        url = server.url("/webhook/bpc")  # a typo
        assert sandbox_deliveries([url]) == [[404] * 3]
        attempts, final = failure_lines(caplog, url)
        cause = "404, no route for the path /webhook/bpc at the endpoint: check the URL's path"
        assert len(attempts) == 3 and all(f": {cause} (attempt " in line for line in attempts)
        assert final.endswith(f"failed after 3 attempts: {cause}")
