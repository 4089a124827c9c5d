"""The pure layers import no I/O library: checked in a fresh interpreter for each module.

Findings recorded here (CPython 3.11): importing ``bpcpay.webhooks``, ``bpcpay._core`` or
``bpcpay.models`` loads neither aiohttp nor anyio, and not asyncio either (no stdlib module
they use pulls it in), nor bpcpay's own async or sync layers. The package root loads the two
clients lazily, so ``import bpcpay`` itself stays light until ``bpcpay.AsyncBpcPay`` is used.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from bpcpay.webhooks import WebhookRouter

IO_MODULES = ("aiohttp", "anyio", "asyncio", "multidict", "yarl")
BPCPAY_IO_LAYERS = ("bpcpay._async", "bpcpay._sync", "bpcpay._bridge", "bpcpay.sandbox")


def loaded_after(statement: str) -> set[str]:
    code = f"import json, sys\n{statement}\nprint(json.dumps(sorted(sys.modules)))"
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=True
    )
    return set(json.loads(result.stdout))


@pytest.mark.parametrize(
    "statement",
    [
        "import bpcpay.webhooks",
        "import bpcpay._core",
        "import bpcpay._core._requests, bpcpay._core._responses, bpcpay._core._retry",
        "import bpcpay._core._endpoints, bpcpay._core._converter",
        "import bpcpay.models",
        "from bpcpay.webhooks import construct_event, sign, verify_signature",
    ],
)
def test_pure_layers_import_no_io_library(statement: str) -> None:
    modules = loaded_after(statement)
    assert "bpcpay" in modules  # the statement really ran
    for name in IO_MODULES:
        assert name not in modules, f"{statement!r} imported {name}"
    for layer in BPCPAY_IO_LAYERS:
        assert layer not in modules, f"{statement!r} imported {layer}"


def run_strict(code: str) -> subprocess.CompletedProcess[str]:
    """Run ``code`` in a fresh interpreter with warnings as errors; it must exit 0."""
    result = subprocess.run(
        [sys.executable, "-W", "error", "-c", code],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    return result


@pytest.mark.parametrize("statement", ["import bpcpay", "import bpcpay.webhooks"])
def test_the_root_and_webhooks_load_no_models_no_attrs_and_no_logging(statement: str) -> None:
    # Issue 13: a webhook receiver pays for the models, attrs and cattrs on its first event only.
    modules = loaded_after(statement)
    for name in ("attrs", "attr", "cattrs", "bpcpay.models", "bpcpay._types", "logging"):
        assert name not in modules, f"{statement!r} imported {name}"


def test_the_first_event_loads_what_it_needs() -> None:
    # The control: parsing an event does load the models and the converter.
    modules = loaded_after(
        "from bpcpay.webhooks import construct_event, sign\n"
        'body = b\'{"type": "x.y", "data": {"object": {}}}\'\n'
        "construct_event(body, {'X-Signature': sign(body, 's')}, secret='s')"
    )
    assert {"bpcpay.models", "cattrs", "bpcpay._core._json"} <= modules


def test_every_public_name_of_the_root_is_reachable_and_listed() -> None:
    # Lazy names still import with `from bpcpay import X`, and dir() lists them all.
    code = (
        "import bpcpay, json\n"
        "names = sorted(bpcpay.__all__)\n"
        "assert dir(bpcpay) == names, dir(bpcpay)\n"
        "exec('from bpcpay import ' + ', '.join(names))\n"
        "from bpcpay import *\n"
        "assert bpcpay.models.Session is bpcpay.Session\n"
        "assert bpcpay.webhooks.construct_event is not None\n"
        "print(json.dumps(names))"
    )
    result = run_strict(code)
    assert "Timeout" in json.loads(result.stdout)
    import bpcpay

    with pytest.raises(AttributeError, match="no attribute 'Nope'"):
        bpcpay.Nope  # noqa: B018


def test_a_logging_app_that_imports_bpcpay_later_gets_the_null_handler_at_first_log() -> None:
    # bpcpay does not import logging for the root; the first module that logs attaches it.
    script = (
        "import bpcpay, sys; assert 'logging' not in sys.modules; "
        "from bpcpay import AsyncBpcPay; import logging; "
        "assert any(isinstance(h, logging.NullHandler) "
        "for h in logging.getLogger('bpcpay').handlers)"
    )
    run_strict(script)


def test_the_async_client_does_import_aiohttp() -> None:
    # The control: the check above would notice aiohttp if it were imported.
    modules = loaded_after("from bpcpay._async._client import AsyncBpcPay")
    assert "aiohttp" in modules
    assert "asyncio" in modules


def test_the_router_and_the_stores_load_no_aiohttp_and_no_database_driver() -> None:
    # asyncio is fine for the router; aiohttp, redis and psycopg wait until a store is built.
    modules = loaded_after(
        "from bpcpay.webhooks import WebhookRouter, SQLiteDeliveryStore, RedisDeliveryStore, "
        "AsyncRedisDeliveryStore, PostgresDeliveryStore, AsyncPostgresDeliveryStore"
    )
    assert WebhookRouter.__module__ in modules  # the router's own module
    for name in ("aiohttp", "redis", "psycopg", "psycopg_pool", "anyio", *BPCPAY_IO_LAYERS):
        assert name not in modules, name


PLUGIN_PROBE = """\
import sys


def test_a_project_that_uses_no_bpcpay_fixture(pytestconfig):
    assert pytestconfig.pluginmanager.has_plugin("bpcpay")  # the plugin did load
    loaded = [m for m in sys.modules if m.split(".")[0] in {"aiohttp", "bpcpay"}]
    assert loaded == []


def test_a_fixture_brings_the_sandbox_when_asked_for(bpcpay_sync_sandbox):
    # The control: the check above would notice the sandbox and aiohttp.
    assert "bpcpay.sandbox" in sys.modules
    assert "aiohttp" in sys.modules
"""


def test_the_pytest_plugin_imports_no_bpcpay_module_until_a_fixture_is_used(
    tmp_path: Path,
) -> None:
    # A fresh pytest in a project of its own: pytest loads the plugin from the entry point.
    (tmp_path / "test_probe.py").write_text(PLUGIN_PROBE, encoding="utf-8")
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
    assert "2 passed" in result.stdout
