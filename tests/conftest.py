"""Shared fixtures for the pure-core and async-client tests.

Everything is offline: aioresponses intercepts aiohttp at ``ClientSession._request`` (in every
thread, the sync client's loop thread included), the base URL is a reserved ``.test`` host,
sleeps are recorded instead of slept, and jitter is fixed: all through the client's
constructor seams (``_sleep=``, ``_random=``). Constants and helpers live in ``_support.py``.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Iterator

import pytest
import pytest_asyncio
from _servers import postgres_server, redis_server
from _support import API_KEY, BASE_URL, SleepRecorder, Twin
from aioresponses import aioresponses

from bpcpay import BpcPay
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
    async with AsyncBpcPay(
        api_key=API_KEY, base_url=BASE_URL, _sleep=sleeps, _random=lambda: 0.5
    ) as c:
        yield c


@pytest.fixture(params=["async", "sync"])
def twin(request: pytest.FixtureRequest, sleeps: SleepRecorder) -> Iterator[Twin]:
    """Each client in turn, as the ``client`` fixture sets it up, with the ``call`` that gets a
    result from it: ``client, call = twin; session = call(client.sessions.create(...))``.

    A sync test drives both: the async client on an event loop of the fixture's own (run only
    inside ``call``), the sync client on its loop thread, so the same test body checks both.
    """
    options = {"api_key": API_KEY, "base_url": BASE_URL, "_sleep": sleeps, "_random": lambda: 0.5}
    if request.param == "sync":
        with BpcPay(**options) as sync_client:
            yield Twin(sync_client, lambda result: result)
        return
    loop = asyncio.new_event_loop()
    async_client = AsyncBpcPay(**options)
    try:
        yield Twin(async_client, loop.run_until_complete)
    finally:
        loop.run_until_complete(async_client.aclose())
        loop.close()
