"""bpcpay.demo: the demo store of ``bpcpay demo``, and the automatic customer of ``--auto``.

A small aiohttp.web shop (:class:`DemoStore`) that takes card payments with the public SDK the
way a merchant would: create a session, redirect the customer to the hosted page, verify the
signed ``session.completed`` webhook, and fall back to ``sessions.retrieve`` on the success
page. :class:`Demo` runs it next to a :class:`~bpcpay.sandbox.SandboxGateway` on one event loop;
:func:`play_customer` walks through the whole redirect flow over HTTP::

    async with Demo() as demo:
        assert await play_customer(demo)

Imports aiohttp; never imported by ``import bpcpay``.
"""

from ._auto import DEFAULT_TIMEOUT, play_customer
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
    "Order",
    "OrderStatus",
    "Product",
    "decline_reason",
    "play_customer",
]
