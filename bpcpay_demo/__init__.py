"""bpcpay_demo: the demo store of ``bpcpay demo``, and the automatic customer of ``--auto``.

A small aiohttp.web shop (:class:`DemoStore`) that takes card payments with the public SDK the
way a merchant would: create a session, redirect the customer to the hosted page, verify the
signed ``session.completed`` webhook, and fall back to ``sessions.retrieve`` on the success
page. :class:`Demo` runs it next to a :class:`~bpcpay.sandbox.SandboxGateway` on one event loop;
:func:`play_customer` walks through the whole redirect flow over HTTP::

    async with Demo() as demo:
        assert await play_customer(demo)

It ships in the bpcpay distribution as an import package of its own, beside ``bpcpay``, because
it is a client of the SDK, not a part of it: it imports bpcpay's public names only (an
import-linter contract in pyproject.toml holds it to that), and nothing in ``bpcpay`` imports it
but the ``bpcpay demo`` command. It is not an API: its names may change in any release. Imports
aiohttp; its logger is ``bpcpay.demo``.
"""

from ._auto import DEFAULT_TIMEOUT, Expect, play_customer
from ._demo import STORE_EVENTS, Demo
from ._store import (
    DECLINE_REASONS,
    DEFAULT_PRODUCT,
    DemoStore,
    Order,
    OrderStatus,
    Product,
    decline_reason,
)

__all__ = [
    "DECLINE_REASONS",
    "DEFAULT_PRODUCT",
    "DEFAULT_TIMEOUT",
    "STORE_EVENTS",
    "Demo",
    "DemoStore",
    "Expect",
    "Order",
    "OrderStatus",
    "Product",
    "decline_reason",
    "play_customer",
]
