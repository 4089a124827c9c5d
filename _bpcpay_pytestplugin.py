"""bpcpay's pytest plugin: the fixtures that installing bpcpay registers (``pytest11`` entry
point ``bpcpay``; ``-p no:bpcpay`` turns it off).

pytest imports every installed plugin at the start of every run, in every project that has
bpcpay installed, whether its tests use these fixtures or not. So this module lives outside the
``bpcpay`` package (importing which loads the models) and imports nothing but pytest, and
pytest-asyncio when installed (pytest loads it in every run anyway). A fixture imports the
sandbox gateway and the clients only when a test asks for it. ``tests/test_imports.py`` checks
that loading the plugin imports no bpcpay module and no aiohttp; ``benchmarks/plugin_import.py``
measures what it costs.

The fixtures are documented, and implemented, in :mod:`bpcpay.testing`.
"""

from __future__ import annotations

import importlib.util
from collections.abc import AsyncIterator, Iterator
from typing import TYPE_CHECKING

import pytest

if TYPE_CHECKING:
    from bpcpay import AsyncBpcPay, BpcPay
    from bpcpay.sandbox import SandboxGateway, ThreadedSandboxGateway

__all__ = ["bpcpay_sync_client", "bpcpay_sync_sandbox"]


@pytest.fixture
def bpcpay_sync_sandbox() -> Iterator[ThreadedSandboxGateway]:
    """A sandbox gateway running in a background thread; stopped after the test."""
    from bpcpay.testing import sync_sandbox

    with sync_sandbox() as gateway:
        yield gateway


@pytest.fixture
def bpcpay_sync_client(bpcpay_sync_sandbox: ThreadedSandboxGateway) -> Iterator[BpcPay]:
    """A synchronous ``bpcpay.BpcPay`` pointed at ``bpcpay_sync_sandbox``; closed after."""
    from bpcpay.testing import sync_client

    with sync_client(bpcpay_sync_sandbox) as client:
        yield client


# The async fixtures need pytest-asyncio; without it the plugin still loads, with the two
# synchronous fixtures only.
if importlib.util.find_spec("pytest_asyncio") is not None:
    import pytest_asyncio

    @pytest_asyncio.fixture
    async def bpcpay_sandbox() -> AsyncIterator[SandboxGateway]:
        """A running sandbox gateway on loopback; stopped after the test."""
        from bpcpay.testing import async_sandbox

        async with async_sandbox() as gateway:
            yield gateway

    @pytest_asyncio.fixture
    async def bpcpay_client(bpcpay_sandbox: SandboxGateway) -> AsyncIterator[AsyncBpcPay]:
        """An AsyncBpcPay pointed at ``bpcpay_sandbox``; closed after the test."""
        from bpcpay.testing import async_client

        async with async_client(bpcpay_sandbox) as client:
            yield client

    __all__ += ["bpcpay_client", "bpcpay_sandbox"]
