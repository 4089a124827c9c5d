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

import bpcpay
import bpcpay.contrib
from bpcpay import AsyncBpcPay, BpcPay
from bpcpay.sandbox import SandboxGateway, ThreadedSandboxGateway
from bpcpay.testing import FAST_RETRY_SCHEDULE

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


def public_methods(cls: type) -> list[tuple[str, Any]]:
    """The public methods of ``cls``, inherited ones included; properties and attributes not."""
    found = []
    for name in sorted(dir(cls)):
        if name.startswith("_"):
            continue
        raw = inspect.getattr_static(cls, name)
        if isinstance(raw, (staticmethod, classmethod)) or inspect.isfunction(raw):
            found.append((name, getattr(cls, name)))
    return found


def resources_of(client: type) -> dict[str, type]:
    """The resources a client class hangs off its attributes (``sessions`` -> AsyncSessions)."""
    hints = typing.get_type_hints(client)
    return {
        name: hint
        for name, hint in hints.items()
        if inspect.isclass(hint) and not name.startswith("_")
    }


def classes_with_methods() -> list[tuple[str, type]]:
    """The classes whose every public method is an entry point, under their users' names."""
    import bpcpay.webhooks as webhooks
    import bpcpay.webhooks.stores as stores

    classes: list[tuple[str, type]] = []
    for client, prefix in ((AsyncBpcPay, "AsyncBpcPay"), (BpcPay, "BpcPay")):
        classes.append((prefix, client))
        for attribute, resource in resources_of(client).items():
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
    for owner, cls in classes_with_methods():
        for name, method in public_methods(cls):
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
