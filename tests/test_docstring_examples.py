"""Every public entry point of bpcpay has an example in its docstring, and every example runs.

**Which entry points.** Found, not listed: every class and function in the ``__all__`` of
``bpcpay``, ``bpcpay.webhooks``, ``bpcpay.webhooks.stores``, ``bpcpay.testing``,
``bpcpay.sandbox`` and each public module of ``bpcpay.contrib``; and every public method (not
the properties) of both clients, of the resources they hang off (``client.sessions`` ...,
found from the clients' annotations), of the webhook router and of every delivery store. A new
name in one of those ``__all__``, a new resource or a new method joins the list by itself, and
fails :func:`test_every_entry_point_has_an_example` until its docstring has an example.

**What an example is.** A fenced ``python`` block in the docstring's ``Examples:`` section
(Google style, as mkdocstrings renders it in the API reference). Docstrings shared by several
entry points (the generated sync client's, inherited store methods) run once.

**How it runs.** In this process, against one sandbox gateway for the whole module (loopback,
millisecond webhook retries), with the environment a shop has after pasting ``bpcpay
sandbox``'s exports (``BPCPAY_API_KEY``, ``BPCPAY_BASE_URL``, ``BPCPAY_WEBHOOK_SECRET``) and
its working directory in a fresh temporary one. An example that awaits (``await``, ``async
with``, ``async for``) runs as the body of a coroutine on one event loop, where ``client`` is an
``AsyncBpcPay`` and ``gw`` a :class:`~bpcpay.sandbox.SandboxGateway` on that loop; any other
runs as plain code, where ``client`` is a ``BpcPay`` and ``gw`` the same kind of gateway run in
a thread (``ThreadedSandboxGateway``). Those two names are all an example is given; it imports
everything else itself. ``REDIS_URL`` and ``DATABASE_URL`` name real servers (the suite's
session-wide ones) for the examples that mention them. A line ``print(...)  # text`` says what
it prints: the example's output must be exactly those texts, in order (so an example that prints
says what).
"""

from __future__ import annotations

import ast
import asyncio
import contextlib
import importlib
import inspect
import io
import itertools
import pkgutil
import re
import sys
import textwrap
import types
import typing
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import attrs
import pytest
from test_docs_site import site

import bpcpay
import bpcpay.contrib
from bpcpay import AsyncBpcPay, BpcPay
from bpcpay.sandbox import SandboxGateway, ThreadedSandboxGateway
from bpcpay.testing import FAST_RETRY_SCHEDULE

__all__ = ["site"]  # the built docs site's fixture, shared with tests/test_docs_site.py

# --- the entry points -----------------------------------------------------------------------

CONTRIB_MODULES = sorted(
    f"bpcpay.contrib.{info.name}"
    for info in pkgutil.iter_modules(bpcpay.contrib.__path__)
    if not info.name.startswith("_")
)
PUBLIC_MODULES = [
    "bpcpay",
    "bpcpay.webhooks",
    "bpcpay.webhooks.stores",
    "bpcpay.testing",
    "bpcpay.sandbox",
    *CONTRIB_MODULES,
]


@attrs.frozen
class EntryPoint:
    """One public class, function or method, under the name a user reaches it by."""

    name: str
    obj: Any = attrs.field(eq=False, repr=False)

    @property
    def doc(self) -> str:
        return inspect.getdoc(self.obj) or ""


def _defined_in_bpcpay(value: object) -> bool:
    # Type aliases re-exported for annotations (``Scope``, ``Receive`` of the ASGI adapter) are
    # typing constructs of collections.abc, not entry points.
    return (inspect.isclass(value) or inspect.isfunction(value)) and getattr(
        value, "__module__", ""
    ).startswith("bpcpay")


def _public_methods(cls: type) -> list[tuple[str, Any]]:
    """The public methods of ``cls``, inherited ones included; properties and attributes not."""
    found = []
    for name in sorted(dir(cls)):
        if name.startswith("_"):
            continue
        raw = inspect.getattr_static(cls, name)
        if isinstance(raw, (staticmethod, classmethod)) or inspect.isfunction(raw):
            found.append((name, getattr(cls, name)))
    return found


def _resources(client: type) -> dict[str, type]:
    """The resources a client class hangs off its attributes (``sessions`` -> AsyncSessions)."""
    hints = typing.get_type_hints(client)
    return {
        name: hint
        for name, hint in hints.items()
        if inspect.isclass(hint) and not name.startswith("_")
    }


def _classes_with_methods() -> list[tuple[str, type]]:
    """The classes whose every public method is an entry point, under their users' names."""
    import bpcpay.webhooks as webhooks
    import bpcpay.webhooks.stores as stores

    classes: list[tuple[str, type]] = []
    for client, prefix in ((AsyncBpcPay, "AsyncBpcPay"), (BpcPay, "BpcPay")):
        classes.append((prefix, client))
        for attribute, resource in _resources(client).items():
            classes.append((f"{prefix}.{attribute}", resource))
    classes.append(("WebhookRouter", webhooks.WebhookRouter))
    for name in stores.__all__:
        value = getattr(stores, name)
        if inspect.isclass(value) and callable(getattr(value, "claim", None)):
            classes.append((name, value))
    return classes


def entry_points() -> list[EntryPoint]:
    """Each entry point once, under the first name found for it (``bpcpay.webhooks.sign`` is
    also ``client.webhooks.sign``; an inherited store method is one function)."""
    found: dict[int, EntryPoint] = {}
    for module_name in PUBLIC_MODULES:
        module = importlib.import_module(module_name)
        for name in module.__all__:
            value = getattr(module, name)
            if _defined_in_bpcpay(value):
                found.setdefault(id(value), EntryPoint(f"{module_name}.{name}", value))
    for owner, cls in _classes_with_methods():
        for name, method in _public_methods(cls):
            key = id(getattr(method, "__func__", method))
            found.setdefault(key, EntryPoint(f"{owner}.{name}", method))
    return sorted(found.values(), key=lambda e: e.name)


_SECTION = re.compile(r"^Examples?:[ \t]*\n((?:[ \t]+.*\n|[ \t]*\n)*)", re.M)
_FENCE = re.compile(r"^```python[ \t]*\n(.*?)^```[ \t]*$", re.S | re.M)


def examples_of(doc: str) -> list[str]:
    """The fenced ``python`` blocks of a docstring's ``Examples:`` section(s)."""
    blocks = []
    for section in _SECTION.findall(doc + "\n"):
        blocks += _FENCE.findall(textwrap.dedent(section))
    return blocks


ENTRY_POINTS = entry_points()


@attrs.frozen
class Example:
    """One example, with every entry point whose docstring holds it."""

    owners: tuple[str, ...]
    index: int
    code: str

    @property
    def id(self) -> str:
        return f"{self.owners[0]}:{self.index}"

    @property
    def awaits(self) -> bool:
        return re.search(r"\bawait\b|\basync\s+(?:with|for)\b", self.code) is not None

    @property
    def prints(self) -> list[str]:
        """What it says it prints: the comments of its ``print(...)  # text`` lines."""
        return re.findall(r"^\s*print\(.*\)  # (.*)$", self.code, re.M)


def all_examples() -> list[Example]:
    owners: dict[str, list[str]] = {}
    order: list[tuple[str, int]] = []
    for entry in ENTRY_POINTS:
        for index, code in enumerate(examples_of(entry.doc)):
            if code not in owners:
                owners[code] = []
                order.append((code, index))
            owners[code].append(entry.name)
    return [Example(tuple(owners[code]), index, code) for code, index in order]


EXAMPLES = all_examples()


# --- what every entry point must hold to ---------------------------------------------------


def missing_examples(entries: list[EntryPoint]) -> list[str]:
    return [entry.name for entry in entries if not examples_of(entry.doc)]


def test_every_entry_point_has_an_example() -> None:
    assert missing_examples(ENTRY_POINTS) == []


def test_the_entry_points_are_found() -> None:
    # The collector really finds each kind (a broken walk would make the test above vacuous).
    names = {entry.name for entry in ENTRY_POINTS}
    assert {
        "bpcpay.AsyncBpcPay",
        "bpcpay.NotFoundError",
        "bpcpay.webhooks.construct_event",
        "bpcpay.webhooks.SQLiteDeliveryStore",
        "bpcpay.testing.sandbox_delivery",
        "bpcpay.sandbox.SandboxGateway",
        "bpcpay.contrib.asgi.WebhookASGIApp",
        "bpcpay.contrib.django.webhook_urls",
        "AsyncBpcPay.request",
        "BpcPay.close",
        "AsyncBpcPay.sessions.create",
        "BpcPay.payments.capture",
        "WebhookRouter.handle_sync",
        "PostgresDeliveryStore.claim",
        "AsyncPostgresDeliveryStore.aclose",
    } <= names
    assert not any(name.endswith((".Scope", ".Receive", ".Send")) for name in names)
    assert len(ENTRY_POINTS) > 120


def test_a_new_entry_point_without_an_example_is_named() -> None:
    # The control: an entry point whose docstring has no Examples section (or one without a
    # python block) is reported by name.
    def documented() -> None:
        """Do it.

        Examples:
            ```python
            print("done")  # done
            ```
        """

    def bare() -> None:
        """Do it, without showing how."""

    def only_text() -> None:
        """Do it.

        Examples:
            Call it.
        """

    entries = [EntryPoint(f.__name__, f) for f in (documented, bare, only_text)]
    assert missing_examples(entries) == ["bare", "only_text"]
    assert examples_of(inspect.getdoc(documented) or "") == ['print("done")  # done\n']


# --- running them ----------------------------------------------------------------------------


@attrs.define
class Sandboxes:
    """The module's gateways and clients: an async pair on ``loop``, a threaded sync pair."""

    loop: asyncio.AbstractEventLoop
    async_gw: SandboxGateway
    async_client: AsyncBpcPay
    sync_gw: ThreadedSandboxGateway
    sync_client: BpcPay


@pytest.fixture(scope="module")
def sandboxes() -> Iterator[Sandboxes]:
    # One key and secret for both gateways, so the environment holds one of each.
    credentials = {"api_key": "sk_test_examples", "webhook_secret": "whsec_examples"}
    options = {"webhook_retry_schedule": FAST_RETRY_SCHEDULE, **credentials}
    loop = asyncio.new_event_loop()
    try:
        with SandboxGateway.run_in_thread(**options) as sync_gw:

            async def start() -> tuple[SandboxGateway, AsyncBpcPay]:
                gw = await SandboxGateway(**options).start()
                return gw, AsyncBpcPay(api_key=gw.api_key, base_url=gw.base_url)

            async_gw, async_client = loop.run_until_complete(start())
            try:
                with BpcPay(api_key=sync_gw.api_key, base_url=sync_gw.base_url) as sync_client:
                    yield Sandboxes(loop, async_gw, async_client, sync_gw, sync_client)
            finally:
                loop.run_until_complete(async_client.aclose())
                loop.run_until_complete(async_gw.aclose())
    finally:
        loop.run_until_complete(loop.shutdown_asyncgens())
        loop.run_until_complete(loop.shutdown_default_executor())
        loop.close()


def run_example(
    example: Example,
    sandboxes: Sandboxes,
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
) -> str:
    """Run one example as the module docstring says; what it printed."""
    gw: Any = sandboxes.async_gw if example.awaits else sandboxes.sync_gw
    monkeypatch.setenv("BPCPAY_API_KEY", gw.api_key)
    monkeypatch.setenv("BPCPAY_BASE_URL", gw.base_url)
    monkeypatch.setenv("BPCPAY_WEBHOOK_SECRET", gw.webhook_secret)
    monkeypatch.chdir(tmp_path)
    if re.search(r"^\s*from django\b", example.code, re.M):
        _configure_django()
    # A module of its own (a Django urlconf, a Flask app's import name), as a reader's file is.
    module = types.ModuleType(f"example_{next(_module_numbers)}")
    module.__file__ = str(tmp_path / f"{module.__name__}.py")
    module.__dict__.update(
        client=sandboxes.async_client if example.awaits else sandboxes.sync_client, gw=gw
    )
    monkeypatch.setitem(sys.modules, module.__name__, module)
    code = compile(example.code, module.__file__, "exec", flags=ast.PyCF_ALLOW_TOP_LEVEL_AWAIT)
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        result = eval(code, module.__dict__)  # noqa: S307 - the docstrings of this very package
        if inspect.iscoroutine(result):
            sandboxes.loop.run_until_complete(result)
    return out.getvalue()


_module_numbers = itertools.count()


def _configure_django() -> None:
    """Django's settings, as a project's tests have them (the suite may have set them)."""
    import django
    from django.conf import settings

    if not settings.configured:
        settings.configure(
            SECRET_KEY="django-test-only-not-secret",
            ALLOWED_HOSTS=["testserver"],
            INSTALLED_APPS=[],
            USE_TZ=True,
        )
        django.setup()


def _servers_for(example: Example, request: pytest.FixtureRequest) -> Callable[..., None]:
    """Point ``REDIS_URL`` / ``DATABASE_URL`` at the suite's servers when the example uses them."""

    def apply(monkeypatch: pytest.MonkeyPatch) -> None:
        if "REDIS_URL" in example.code:
            monkeypatch.setenv("REDIS_URL", request.getfixturevalue("redis_server").url)
        if "DATABASE_URL" in example.code:
            monkeypatch.setenv("DATABASE_URL", request.getfixturevalue("postgres_server").dsn)

    return apply


@pytest.mark.parametrize("example", EXAMPLES, ids=lambda e: e.id)
def test_example(
    example: Example,
    sandboxes: Sandboxes,
    request: pytest.FixtureRequest,
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
) -> None:
    _servers_for(example, request)(monkeypatch)
    out = run_example(example, sandboxes, monkeypatch, tmp_path)
    # Whatever it prints, it says (an example that prints says what, on the same line).
    assert out.splitlines() == example.prints


def test_an_example_that_fails_fails_its_test(
    sandboxes: Sandboxes, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    # The controls: a failing example (sync or async) is not a pass, and its prints are read.
    for code in ("1 / 0\n", "await asyncio_sleep_is_not_defined(0)\n"):
        with pytest.raises((ZeroDivisionError, NameError)):
            run_example(Example(("control",), 0, code), sandboxes, monkeypatch, tmp_path)
    shown = Example(("control",), 0, 'print(await client.sessions.retrieve("x") and 1)  # 1\n')
    assert shown.awaits and shown.prints == ["1"]
    assert not Example(("control",), 0, "print(2)\n").prints


# --- links to BPC's pages --------------------------------------------------------------------


def _load_script(name: str) -> types.ModuleType:
    path = ROOT / "scripts" / f"{name}.py"
    spec = importlib.util.spec_from_file_location(f"_script_{name}", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


ROOT = Path(__file__).resolve().parent.parent
#: The reference's own rules: BPC's page addresses, the docstring rewrites, the ``#:`` reader.
REFERENCE = _load_script("docs_rst_roles")
_PAGE_NAMES = re.compile(r"[a-z][a-z_-]+[a-z0-9]")


def _pages_of(endpoint: Any) -> list[str]:
    """The BPC pages an endpoint's facts come from: its source's, or those its note names."""
    if endpoint.source.startswith("doc:"):
        return [page.strip() for page in endpoint.source[4:].split(",")]
    named = _PAGE_NAMES.findall(endpoint.note or "")
    return [page for page in named if REFERENCE.bpc_page_url(page) is not None]


def test_each_endpoint_method_links_the_bpc_pages_it_comes_from() -> None:
    from bpcpay._core._endpoints import ENDPOINTS

    missing = []
    for name, endpoint in ENDPOINTS.items():
        attribute, method = name.split(".")
        for client in (AsyncBpcPay, BpcPay):
            doc = getattr(_resources(client)[attribute], method).__doc__ or ""
            for page in _pages_of(endpoint):
                url = REFERENCE.bpc_page_url(page)
                if f"]({url})" not in doc:
                    missing.append(f"{client.__name__}.{name}: {page}")
    assert missing == []
    # Published endpoints and inferred ones whose operation BPC publishes (cancel, refunds).
    assert _pages_of(ENDPOINTS["payments.cancel"]) == ["cancel-refund"]


def test_every_source_tag_names_a_page_the_reference_links() -> None:
    # A ``[doc: page]`` tag is rendered as links to BPC's pages; a page the rule cannot place
    # would be left as plain text.
    tags = [
        match
        for path in sorted((ROOT / "bpcpay").rglob("*.py"))
        for match in REFERENCE._DOC_TAG.finditer(path.read_text(encoding="utf-8"))
    ]
    assert len(tags) > 20
    named = {
        first.group(1)
        for tag in tags
        for item in tag.group(1).split(",")
        if (first := re.match(r"\s*([a-z][\w-]*[a-z0-9])", item)) is not None
    }
    assert {page for page in named if REFERENCE.bpc_page_url(page) is None} == {"inferred"}
    linked = REFERENCE.markdown("as published [doc: two-step, test-cards] here")
    assert linked == (
        r"as published \[doc: [two-step](https://dev.bpcbt.com/en/integration/apiv2/structure/"
        r"two-step.html), [test-cards](https://dev.bpcbt.com/en/integration/structure/"
        r"test-cards.html)\] here"
    )


def test_the_reference_rewrites_leave_the_examples_as_written() -> None:
    # RST's double backticks, roles and doc tags are rewritten in the prose only: a fenced
    # example keeps its ``` fence, its dunders and its code as written.
    doc = (
        "Use ``x`` and :class:`~bpcpay.Timeout` [doc: webhooks]::\n\n"
        "Examples:\n    ```python\n    print(type(e).__name__, ``a``)  # [doc: webhooks]\n    ```\n"
    )
    text = REFERENCE.markdown(doc)
    assert text.startswith("Use `x` and `Timeout` \\[doc: [webhooks](https://")
    assert "    ```python\n    print(type(e).__name__, ``a``)  # [doc: webhooks]\n    ```" in text


# --- the constants ---------------------------------------------------------------------------


def _directives(page: str) -> list[str]:
    text = (ROOT / "docs" / "reference" / page).read_text(encoding="utf-8")
    return re.findall(r"^::: ([\w.]+)$", text, re.M)


def test_every_exported_constant_is_on_the_constants_page_with_its_meaning() -> None:
    import griffe

    shown = _directives("constants.md")
    names = {target.rsplit(".", 1)[-1] for target in shown}
    exported = {
        name
        for module_name in PUBLIC_MODULES
        for name in importlib.import_module(module_name).__all__
        if name.isupper() or name == "__version__"
    }
    assert exported - names == set()
    # The defaults the issue names, which bpcpay does not export, are there too.
    assert {"DEFAULT_CONNECT_TIMEOUT", "DEFAULT_READ_TIMEOUT", "DEFAULT_MAX_WEBHOOK_BYTES"} <= names
    loaded = griffe.load(
        "bpcpay",
        search_paths=[str(ROOT)],
        extensions=griffe.load_extensions(REFERENCE.AttributeComments()),
        resolve_aliases=True,
        resolve_external=False,
    )
    undocumented = [target for target in shown if not loaded[target.split(".", 1)[1]].docstring]
    assert undocumented == []


def test_a_comment_above_an_attribute_is_its_docstring() -> None:
    lines = ["x = 1", "#: The first line", "#: and the second.", "LIMIT = 3", "OTHER = 4"]
    assert REFERENCE.comment_above(lines, 4) == "The first line\nand the second."
    assert REFERENCE.comment_above(lines, 5) is None
    assert REFERENCE.comment_above(lines, 1) is None


# --- the built reference (the site .ci/run builds, or one built here) -------------------------

_TAGS = re.compile(r"<[^>]+>")


def _page(built: Path, name: str) -> str:
    return (built / "reference" / name / "index.html").read_text(encoding="utf-8")


def _text(html: str) -> str:
    import html as html_module

    article = html[html.index("<article") :]
    return html_module.unescape(_TAGS.sub("", article))


def test_the_clients_page_lists_every_method_of_both_clients_and_their_resources(
    site: Path,
) -> None:
    html = _page(site, "clients")
    wanted = []
    for owner, cls in _classes_with_methods():
        if owner.split(".")[0] not in ("AsyncBpcPay", "BpcPay"):
            continue
        if owner.startswith("BpcPay.") or owner.endswith(".webhooks"):
            # The sync resources have the methods of the async ones shown; client.webhooks'
            # are the functions of the Webhooks page.
            continue
        path = f"bpcpay.{owner}" if "." not in owner else f"{cls.__module__}.{cls.__name__}"
        wanted += [f'id="{path}.{name}"' for name, _ in _public_methods(cls)]
    assert len(wanted) == 18  # 4 + 4 methods of the clients, 10 of their four resources
    assert [anchor for anchor in wanted if anchor not in html] == []
    for resource in ("sessions", "payments", "refunds", "payment_methods"):
        assert f'href="#client-{resource}"' in html  # reachable from the clients' docstrings


def test_the_reference_has_no_unrendered_markup(site: Path) -> None:
    # mkdocs' --strict does not see an unresolved cross-reference (autorefs logs it elsewhere):
    # it is left as "[text][target]". Nor a reStructuredText role, nor a broken code fence.
    for page in sorted((site / "reference").glob("*/index.html")):
        text = _text(page.read_text(encoding="utf-8"))
        assert re.search(r"\]\[[\w.-]+\]", text) is None, page
        assert re.search(r":(class|meth|func|data|attr|exc|mod):`", text) is None, page
        assert "``" not in text, page


def test_the_errors_page_is_written_for_users(site: Path) -> None:
    text = _text(_page(site, "errors"))
    assert text.lstrip().startswith("Errors")
    assert "_exceptions" not in text
    for word in ("status_code", "request_id", "outcome_unknown", "transport_error"):
        assert word in text
    html = _page(site, "errors")
    errors = [name for name in bpcpay.__all__ if name.endswith("Error")]
    assert len(errors) == 18
    assert [name for name in errors if f'id="bpcpay.{name}"' not in html] == []


def test_the_constants_page_shows_each_value(site: Path) -> None:
    text = _text(_page(site, "constants"))
    for shown in (
        "DEFAULT_BASE_URL = 'https://dev.bpcbt.com/api2'",
        "DEFAULT_CONNECT_TIMEOUT = 5.0",
        "DEFAULT_MAX_WEBHOOK_BYTES = 1024 * 1024",
        "DEFAULT_LEASE: Final = 20.0",
        "NOT_GIVEN: Final = NotGiven.NOT_GIVEN",
    ):
        assert shown in text


def test_the_reference_links_bpc_pages(site: Path) -> None:
    html = "".join(p.read_text("utf-8") for p in (site / "reference").glob("*/index.html"))
    pages = [
        "redirect-integration",
        "webhooks",
        "api-keys",
        "api-versions",
        "cancel-refund",
        "direct-integration",
        "stored-payment-methods",
        "two-step",
        "test-cards",
        "sdk_core_apiv2",
    ]
    assert [page for page in pages if f'href="{REFERENCE.bpc_page_url(page)}"' not in html] == []
