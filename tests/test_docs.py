"""Every Python block of the README and of docs/ runs, as written, against the sandbox gateway.

How a block is run depends on what it is:

- a **fragment** (its first line is a comment starting ``# fragment``) is not run; the marker is
  what tells a reader it is not complete;
- a **pytest module** (it defines ``test_...`` functions) runs under pytest, with bpcpay's
  plugin, and every test in it must pass;
- a **named block** (an HTML comment ``<!-- name: NAME -->`` on the line above the fence) is a
  module with something to drive, such as a web application, or one that imports the reader's
  own modules (``from shop.webhooks import router``): :data:`NAMED` says how, and each name in
  the docs must have an entry there (and each entry a block);
- anything else is a **program**: it runs as ``python -W error block.py`` with the ``export``
  lines of a running sandbox gateway in its environment, and must exit 0. When the page shows
  what it prints (``It prints:`` and a ``text`` block right after it), the output must match.

The mkdocs site itself is built by ``.ci/run`` (``mkdocs build --strict``).
"""

from __future__ import annotations

import asyncio
import contextlib
import importlib
import io
import os
import re
import runpy
import subprocess
import sys
import types
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import _otel_recipes
import attrs
import pytest
from aiohttp.test_utils import TestClient, TestServer

from bpcpay import DEFAULT_API_VERSION, BpcPay, Event, Payment, Session
from bpcpay.sandbox import SandboxGateway
from bpcpay.testing import webhook_delivery
from bpcpay.webhooks import SQLiteDeliveryStore, WebhookRouter

ROOT = Path(__file__).resolve().parent.parent
PAGES = [ROOT / "README.md", *sorted((ROOT / "docs").rglob("*.md"))]

_FENCE = re.compile(r"^```python\n(.*?)^```\n", re.S | re.M)
_NAME = re.compile(r"<!-- name: ([\w-]+) -->\n$")
_PRINTS = re.compile(r"\AIt prints:\n\n```text\n(.*?)^```", re.S | re.M)


@attrs.frozen
class Block:
    """One ``python`` fenced block of a page."""

    page: Path
    line: int
    code: str
    name: str | None
    prints: str | None

    @property
    def id(self) -> str:
        return f"{self.page.relative_to(ROOT)}:{self.line}"

    @property
    def fragment(self) -> bool:
        return self.code.startswith("# fragment")

    @property
    def is_pytest_module(self) -> bool:
        return re.search(r"^(async )?def test_", self.code, re.M) is not None


def blocks() -> list[Block]:
    found = []
    for page in PAGES:
        text = page.read_text(encoding="utf-8")
        for match in _FENCE.finditer(text):
            before, after = text[: match.start()], text[match.end() :].lstrip("\n")
            named = _NAME.search(before)
            prints = _PRINTS.match(after)
            found.append(
                Block(
                    page=page,
                    line=before.count("\n") + 1,
                    code=match.group(1),
                    name=named.group(1) if named else None,
                    prints=prints.group(1) if prints else None,
                )
            )
    return found


BLOCKS = blocks()
PROGRAMS = [b for b in BLOCKS if not (b.fragment or b.name or b.is_pytest_module)]
PYTEST_MODULES = [b for b in BLOCKS if b.is_pytest_module and not (b.fragment or b.name)]
NAMED_BLOCKS = [b for b in BLOCKS if b.name and not b.fragment]


@pytest.fixture
def sandbox_env() -> Iterator[dict[str, str]]:
    """The environment a reader has after pasting ``bpcpay sandbox``'s export lines."""
    with SandboxGateway.run_in_thread(webhook_retry_schedule=(0.05,)) as gw:
        yield {
            **os.environ,
            "BPCPAY_BASE_URL": gw.base_url,
            "BPCPAY_API_KEY": gw.api_key,
            "BPCPAY_WEBHOOK_SECRET": gw.webhook_secret,
        }


def run_program(code: str, env: dict[str, str], tmp_path: Path) -> str:
    """Run ``code`` as a program; its output (it must exit 0, warnings being errors)."""
    script = tmp_path / "block.py"
    script.write_text(code, encoding="utf-8")
    result = subprocess.run(
        [sys.executable, "-W", "error", str(script)],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=tmp_path,
        env=env,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    return result.stdout


# --- what every page must hold to ---------------------------------------------------------------


def test_the_pages_have_blocks_of_every_kind() -> None:
    # The collector really finds blocks (a broken pattern would make every test below vacuous).
    assert len(PROGRAMS) >= 8
    assert len(PYTEST_MODULES) >= 2
    assert {b.name for b in NAMED_BLOCKS} == set(NAMED)
    assert any(b.prints for b in PROGRAMS)
    fragments = [b for b in BLOCKS if b.fragment]
    assert all(b.code.splitlines()[0].startswith("# fragment: ") for b in fragments)


def test_every_named_block_has_a_driver_and_every_driver_a_block() -> None:
    names = [b.name for b in NAMED_BLOCKS]
    assert len(names) == len(set(names)), "a block name is used twice"
    assert set(names) == set(NAMED)


def test_mermaid_diagrams_are_sequence_diagrams_without_statement_separators() -> None:
    # A ';' ends a mermaid statement: inside a message it breaks the diagram at view time.
    diagrams = [
        d
        for page in PAGES
        for d in re.findall(r"```mermaid\n(.*?)```", page.read_text(encoding="utf-8"), re.S)
    ]
    assert len(diagrams) >= 3
    for diagram in diagrams:
        assert diagram.startswith("sequenceDiagram\n")
        assert ";" not in diagram


def test_every_page_is_in_the_sites_nav() -> None:
    # mkdocs only reports a page missing from the nav; a reader of the site would never find it.
    nav = (ROOT / "mkdocs.yml").read_text(encoding="utf-8").split("\nnav:\n", 1)[1]
    listed = set(re.findall(r"^\s*- [^:#]+: ([\w/-]+\.md)$", nav, re.M))
    pages = {
        str(page.relative_to(ROOT / "docs"))
        for page in (ROOT / "docs").rglob("*.md")
        if not any(part.startswith("_") for part in page.relative_to(ROOT / "docs").parts)
    }
    assert pages == listed


def test_the_pages_state_the_default_api_version_the_client_sends() -> None:
    for page in ("configuration.md", "getting-started.md"):
        assert f"`{DEFAULT_API_VERSION}`" in (ROOT / "docs" / page).read_text(encoding="utf-8")


#: The public modules whose names the API reference must show, and the one place their names
#: may be mentioned instead of rendered: constants (UPPER_CASE), modules and type aliases.
PUBLIC_MODULES = ["bpcpay", "bpcpay.models", "bpcpay.webhooks", "bpcpay.sandbox", "bpcpay.testing"]
_DIRECTIVE = re.compile(r"^::: ([\w.]+)\n((?:    .*\n)*)", re.M)


def _reference_names() -> set[str]:
    """Every name docs/reference/ renders: ``::: a.b.Name``, its ``members:``, or a whole module."""
    shown: set[str] = set()
    for page in (ROOT / "docs" / "reference").glob("*.md"):
        for target, options in _DIRECTIVE.findall(page.read_text(encoding="utf-8")):
            members = re.findall(r"^        - (\w+)$", options, re.M)
            shown.update(members or [target.rsplit(".", 1)[-1]])
            if not members and "members: false" not in options:
                # A whole module (bpcpay.testing) shows its __all__; a class is no module.
                with contextlib.suppress(ImportError):
                    shown.update(importlib.import_module(target).__all__)
    return shown


def test_the_api_reference_shows_every_public_name() -> None:
    shown = _reference_names()
    reference = "".join(p.read_text("utf-8") for p in (ROOT / "docs" / "reference").glob("*.md"))
    missing = []
    for module_name in PUBLIC_MODULES:
        module = importlib.import_module(module_name)
        for name in module.__all__:
            value = getattr(module, name)
            if name.isupper() or name.startswith("_") or isinstance(value, types.ModuleType):
                continue
            if name in shown or (not callable(value) and f"`{module_name}.{name}`" in reference):
                continue  # rendered, or (a type alias) named in the page's text
            missing.append(f"{module_name}.{name}")
    assert missing == []
    # The collector sees the new names of issues 9 and 11 (a broken pattern would see nothing).
    assert {"SQLiteDeliveryStore", "WebhookResult", "SetupFutureUsage", "Address"} <= shown


# --- programs and pytest modules ------------------------------------------------------------------


@pytest.mark.parametrize("block", PROGRAMS, ids=lambda b: b.id)
def test_program(block: Block, sandbox_env: dict[str, str], tmp_path: Path) -> None:
    out = run_program(block.code, sandbox_env, tmp_path)
    if block.prints is not None:
        assert out == block.prints


@pytest.mark.parametrize("block", PYTEST_MODULES, ids=lambda b: b.id)
def test_pytest_module(block: Block, tmp_path: Path) -> None:
    (tmp_path / "test_block.py").write_text(block.code, encoding="utf-8")
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "pytest",
            "-q",
            "-p",
            "no:cacheprovider",
            "-W",
            "error",
            "-o",
            "asyncio_mode=strict",
            "-o",
            "asyncio_default_fixture_loop_scope=function",
            str(tmp_path),
        ],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=tmp_path,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    tests = len(re.findall(r"^(?:async )?def test_", block.code, re.M))
    assert f"{tests} passed" in result.stdout
    assert "skipped" not in result.stdout


# --- named blocks: modules with something to drive -------------------------------------------


def _load(block: Block, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> dict[str, Any]:
    """The block's module namespace, as an importing program would see it."""
    monkeypatch.setenv("BPCPAY_WEBHOOK_SECRET", SECRET)
    path = tmp_path / f"{(block.name or 'block').replace('-', '_')}.py"
    path.write_text(block.code, encoding="utf-8")
    return runpy.run_path(str(path), run_name=path.stem)


SECRET = "whsec_docs_test_only"
PAID = Session(
    id="ps_docs",
    amount=2400,
    currency="EUR",
    status="complete",
    payment_status="paid",
    merchant_reference_id="order-1001",
)
UNPAID = attrs.evolve(PAID, id="ps_docs_unpaid", payment_status="unpaid")
PAYMENT = Payment(id="pay_docs", amount=2400, currency="EUR", status="succeeded")


def flask_webhooks(ns: dict[str, Any]) -> None:
    with ns["app"].test_client() as browser:

        def post(body: bytes, headers: dict[str, str]) -> int:
            return int(browser.post("/webhooks/bpc", data=body, headers=headers).status_code)

        delivery = webhook_delivery("session.completed", PAID, secret=SECRET)
        assert post(*delivery) == 200
        assert post(*delivery) == 200  # the same delivery again: nothing more happens
        assert post(*webhook_delivery("session.completed", UNPAID, secret=SECRET)) == 200
        assert post(*webhook_delivery("session.completed", PAID, secret="whsec_guess")) == 400
    assert ns["paid_orders"] == {"order-1001"}


def aiohttp_webhooks(ns: dict[str, Any]) -> None:
    async def drive() -> None:
        async with TestClient(TestServer(ns["app"], host="127.0.0.1")) as browser:

            async def post(body: bytes, headers: dict[str, str]) -> int:
                async with browser.post("/webhooks/bpc", data=body, headers=headers) as answer:
                    return answer.status

            assert await post(*webhook_delivery("session.completed", PAID, secret=SECRET)) == 200
            assert await post(*webhook_delivery("payment.succeeded", PAYMENT, secret=SECRET)) == 200
            assert await post(*webhook_delivery("session.expired", UNPAID, secret=SECRET)) == 200
            forged = webhook_delivery("session.completed", PAID, secret="whsec_guess")
            assert await post(*forged) == 400

    asyncio.run(drive())
    assert ns["paid_orders"] == {"order-1001"}
    assert ns["bookkeeping"] == ["payment.succeeded"]


#: A named block's driver: it loads the block (``_load``) and drives what it defines.
Driver = Callable[[Block, Path, pytest.MonkeyPatch], None]


def reconcile_cron(block: Block, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The cron recipe of docs/webhooks-deploying.md, with the ``shop`` package it imports: a
    router on a SQLite store, and the unpaid orders' sessions (one paid, one open, one unknown)
    in a sandbox gateway whose webhooks never reach the shop."""
    handled: list[str] = []
    with (
        contextlib.ExitStack() as stack,
        SandboxGateway.run_in_thread() as gw,
        BpcPay(api_key=gw.api_key, base_url=gw.base_url) as client,
    ):

        def checkout() -> str:
            return client.sessions.create(
                amount=2400,
                currency="EUR",
                success_url="https://shop.example/done",
                failure_url="https://shop.example/retry",
            ).id

        paid, waiting = checkout(), checkout()
        assert gw.pay(paid).succeeded
        unpaid = [paid, waiting]

        store = stack.enter_context(
            contextlib.closing(SQLiteDeliveryStore(tmp_path / "webhooks.sqlite3"))
        )
        router = WebhookRouter(gw.webhook_secret, store=store)

        @router.on("session.completed")
        def mark_paid(event: Event) -> None:
            assert event.reconciled
            handled.append(event.data.object.id)

        # The shop's own modules, as the recipe imports them.
        modules = {
            name: types.ModuleType(name) for name in ("shop", "shop.webhooks", "shop.orders")
        }
        modules["shop.webhooks"].__dict__["router"] = router
        modules["shop.orders"].__dict__["unpaid_session_ids"] = lambda: list(unpaid)
        for name, module in modules.items():
            monkeypatch.setitem(sys.modules, name, module)
        monkeypatch.setenv("BPCPAY_BASE_URL", gw.base_url)
        monkeypatch.setenv("BPCPAY_API_KEY", gw.api_key)

        main = _load(block, tmp_path, monkeypatch)["main"]
        assert main() == 0
        assert handled == [paid]  # the paid order, through the shop's own handler
        assert main() == 0  # the next run: a duplicate, the handler does not run again
        assert handled == [paid]

        unpaid.append("ps_NoSuchSession")  # an order whose session the gateway does not know
        err = io.StringIO()
        with contextlib.redirect_stderr(err):
            assert main() == 1
        assert err.getvalue() == "reconcile: ps_NoSuchSession 404 retrieve_failed\n"
        assert handled == [paid]


def configuration_proxy(block: Block, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The proxy recipe: an HTTPS gateway with a private CA (trusted through SSL_CERT_FILE)
    whose name only the proxies resolve, one proxy from HTTPS_PROXY and one with credentials
    from the shop's own variable."""
    from _network import GATEWAY_HOST, LOOPBACK, Peers, PrivateCA

    password = "pw_docs_test_only"
    ca = PrivateCA(tmp_path)
    with Peers() as peers:
        gateway = peers.gateway(ca.server_context(require_client_cert=False))
        route = {GATEWAY_HOST: (LOOPBACK, gateway.port)}
        from_env = peers.proxy(hosts=route)
        shops = peers.proxy(hosts=route, credentials=f"shop:{password}")
        monkeypatch.setenv("HTTPS_PROXY", from_env.url)
        monkeypatch.setenv("SHOP_OUTBOUND_PROXY", f"http://shop:{password}@{LOOPBACK}:{shops.port}")
        monkeypatch.setenv("SSL_CERT_FILE", str(ca.ca_file))
        monkeypatch.setenv("BPCPAY_BASE_URL", gateway.url(GATEWAY_HOST))
        monkeypatch.setenv("BPCPAY_API_KEY", "sk_docs_test_only")
        out = io.StringIO()
        with contextlib.redirect_stdout(out):
            _load(block, tmp_path, monkeypatch)
    tunnel = ("CONNECT", f"{GATEWAY_HOST}:{gateway.port}")
    assert from_env.seen == [tunnel] and shops.seen == [tunnel]
    assert shops.authorizations == [shops.expected]
    assert out.getvalue() == f"open\nopen\n{gateway.url(GATEWAY_HOST)}\n"


def configuration_mtls(block: Block, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The mTLS recipe: a gateway that wants a client certificate, the files in the directory
    the recipe runs in under the names it uses."""
    import shutil

    from _network import Peers, PrivateCA

    ca = PrivateCA(tmp_path)
    shop = tmp_path / "shop"
    shop.mkdir()
    shutil.copy(ca.ca_file, shop / "bank-ca.pem")
    shutil.copy(ca.client_cert, shop / "shop-client.pem")
    shutil.copy(ca.client_key, shop / "shop-client.key")
    monkeypatch.chdir(shop)
    with Peers() as peers:
        gateway = peers.gateway(ca.server_context(require_client_cert=True))
        monkeypatch.setenv("BPCPAY_BASE_URL", gateway.url())
        monkeypatch.setenv("BPCPAY_API_KEY", "sk_docs_test_only")
        _load(block, tmp_path, monkeypatch)
    (seen,) = gateway.requests
    assert seen["client_cert"]["commonName"] == "shop-client"


def observability(recipe: Callable[[str, Path], None]) -> Driver:
    """A driver for docs/observability.md's set-ups, which run in servers of their own (see
    tests/_otel_recipes.py)."""

    def driver(block: Block, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
        recipe(block.code, tmp_path)

    return driver


def loaded(drive: Callable[[dict[str, Any]], None]) -> Driver:
    """A driver for a block that needs nothing but its own namespace."""

    def driver(block: Block, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
        drive(_load(block, tmp_path, monkeypatch))

    return driver


#: How each named block is driven, by name.
NAMED: dict[str, Driver] = {
    "readme-flask-webhooks": loaded(flask_webhooks),
    "webhooks-aiohttp": loaded(aiohttp_webhooks),
    "deploying-reconcile-cron": reconcile_cron,
    "configuration-proxy": configuration_proxy,
    "configuration-mtls": configuration_mtls,
    "observability-fastapi": observability(_otel_recipes.fastapi_recipe),
    "observability-django": observability(_otel_recipes.django_recipe),
}


@pytest.mark.parametrize("block", NAMED_BLOCKS, ids=lambda b: f"{b.name}")
def test_named_block(block: Block, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    NAMED[block.name or ""](block, tmp_path, monkeypatch)


def test_a_program_that_fails_fails_its_test(sandbox_env: dict[str, str], tmp_path: Path) -> None:
    # The control for test_program: a block that raises is not taken for a pass.
    with pytest.raises(AssertionError, match="ZeroDivisionError"):
        run_program("print(1 / 0)\n", sandbox_env, tmp_path)
