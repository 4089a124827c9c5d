"""Shared fixtures for the pure-core and async-client tests.

Everything is offline: aioresponses intercepts aiohttp at ``ClientSession._request``, the base
URL is a reserved ``.test`` host, sleeps are recorded instead of slept, and jitter is fixed.
Constants and helpers live in ``_support.py``.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator

import pytest
import pytest_asyncio
from _servers import postgres_server, redis_server
from _support import API_KEY, BASE_URL, SleepRecorder
from aioresponses import aioresponses

from bpcpay._async._client import AsyncBpcPay

# Real Redis and PostgreSQL servers (session-scoped), for the store and fleet tests.
__all__ = ["postgres_server", "redis_server"]


@pytest.fixture
def mocked() -> Iterator[aioresponses]:
    with aioresponses() as m:
        yield m


@pytest.fixture
def sleeps() -> SleepRecorder:
    return SleepRecorder()


@pytest_asyncio.fixture
async def client(sleeps: SleepRecorder) -> AsyncIterator[AsyncBpcPay]:
    """An AsyncBpcPay on the fake host with recorded sleeps and jitter fixed at its midpoint."""
    async with AsyncBpcPay(api_key=API_KEY, base_url=BASE_URL) as c:
        c._sleep = sleeps
        c._random = lambda: 0.5
        yield c
