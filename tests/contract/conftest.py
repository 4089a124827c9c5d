"""Fixtures of the contract tests: the recording gateway (``_recorder.py``) on 127.0.0.1 and an
ephemeral port, and a client pointed at it."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest_asyncio
from _recorder import API_KEY, Recorder
from _support import serving
from aiohttp import web

from bpcpay import AsyncBpcPay


@pytest_asyncio.fixture
async def recorder() -> AsyncIterator[Recorder]:
    rec = Recorder()
    app = web.Application()
    app.router.add_route("*", "/{tail:.*}", rec.handle)
    async with serving(app) as root:
        rec.base_url = root + "/api2"
        yield rec


@pytest_asyncio.fixture
async def wire_client(recorder: Recorder) -> AsyncIterator[AsyncBpcPay]:
    async with AsyncBpcPay(api_key=API_KEY, base_url=recorder.base_url, max_retries=0) as c:
        yield c
