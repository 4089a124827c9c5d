"""``bpcpay reconcile --router module:attr [SESSION_ID...] [--payments ID...] [--refunds ID...]``:
run the shop's own webhook handlers for objects whose webhook may have been missed.

Imports the shop's :class:`~bpcpay.webhooks.WebhookRouter` (``module:attr``, the module found
from the current directory like ``gunicorn app:application``), retrieves each session, payment
and refund with a client configured from ``BPCPAY_API_KEY`` / ``BPCPAY_BASE_URL``, and calls the
router's reconciliation: an object in a final state runs the handlers once, through the router's
own store (a webhook that already ran them makes it a duplicate). A router on an async store is
reconciled with ``AsyncBpcPay`` in an event loop of the command's own; a router on the
in-memory store gets a warning (the store ends with the command, so every run handles again).
Prints one line per id (id, status, reason); exits 0 when every answer is 2xx, 1 otherwise, 2
for bad usage.

``register`` stays cheap: nothing but argparse is imported until the command runs.
"""

from __future__ import annotations

import argparse
import importlib
import inspect
import os
import sys
from typing import Any

from ._common import add_command, refuse

__all__ = ["load_router", "register"]


def load_router(spec: str) -> Any:
    """The object ``module:attr`` names (``attr`` may be dotted), imported from the cwd.

    Raises:
        ValueError: ``spec`` is not ``module:attr``, or it does not name a WebhookRouter.
        ImportError: the module cannot be imported.
    """
    from ..webhooks import WebhookRouter

    module_name, sep, attr = spec.partition(":")
    if not sep or not module_name or not attr:
        raise ValueError(f"--router: expected module:attr, got {spec!r}")
    if os.getcwd() not in sys.path:
        sys.path.insert(0, os.getcwd())
    target: Any = importlib.import_module(module_name)
    for part in attr.split("."):
        if not hasattr(target, part):
            raise ValueError(f"--router: {module_name} has no attribute {attr!r}")
        target = getattr(target, part)
    if not isinstance(target, WebhookRouter):
        raise ValueError(f"--router: {spec} is a {type(target).__name__}, not a WebhookRouter")
    return target


def _close_connections(store: object) -> None:
    """Close the connections this run opened in the router's blocking store (a shared store's
    ``close()`` closes this process's connections only; they reopen on its next call)."""
    close = getattr(store, "close", None)
    if callable(close) and not inspect.iscoroutinefunction(close):
        close()


async def _reconcile_async(router: Any, ids: dict[str, list[str]]) -> list[Any]:
    import bpcpay

    try:
        async with bpcpay.AsyncBpcPay.from_env() as client:
            results: list[Any] = await router.reconcile(client, **ids)
            return results
    finally:
        # This loop's connections; the loop's end would close them too, but not before the
        # command prints.
        aclose = getattr(router.store, "aclose", None)
        if callable(aclose):
            await aclose()


def _is_async(store: object) -> bool:
    return inspect.iscoroutinefunction(getattr(store, "claim", None))


def _run(args: argparse.Namespace) -> int:
    import asyncio

    import bpcpay
    from bpcpay.webhooks import InMemoryDeliveryStore

    ids = {
        "session_ids": args.session_ids,
        "payment_ids": args.payments,
        "refund_ids": args.refunds,
    }
    if not any(ids.values()):
        return refuse("reconcile", "give SESSION_IDs, --payments ID... or --refunds ID...")
    try:
        router = load_router(args.router)
    except (ValueError, ImportError) as exc:
        return refuse("reconcile", str(exc))
    if isinstance(router.store, InMemoryDeliveryStore):
        print(
            "bpcpay reconcile: warning: the router keeps its deliveries in an in-memory store, "
            "which ends with this command: it cannot see what the web app handled, and every "
            "run handles each final state again (give the router the web app's shared store)",
            file=sys.stderr,
        )
    try:
        if _is_async(router.store):
            results = asyncio.run(_reconcile_async(router, ids))
        else:
            with bpcpay.BpcPay.from_env() as client:
                results = router.reconcile_sync(client, **ids)
    except bpcpay.BpcPayError as exc:
        return refuse("reconcile", f"{type(exc).__name__}: {exc}")
    finally:
        _close_connections(router.store)
    every_id = [*args.session_ids, *args.payments, *args.refunds]
    for object_id, result in zip(every_id, results, strict=True):
        detail = f" ({type(result.error).__name__})" if result.error is not None else ""
        print(f"{object_id} {result.status} {result.reason}{detail}")
    return 0 if all(result.ok for result in results) else 1


def register(subparsers: Any) -> None:
    """Add ``bpcpay reconcile``."""
    parser = add_command(
        subparsers,
        "reconcile",
        "run your webhook handlers for sessions, payments and refunds whose webhook may have "
        "been missed",
        "Retrieve each session, payment and refund; for one in a final state, run your "
        "router's handlers with a reconciled event of that state (session.completed / "
        "session.expired, payment.succeeded / payment.failed / payment.canceled, "
        "refund.succeeded / refund.failed), once (through the router's store). Reads "
        "BPCPAY_API_KEY and BPCPAY_BASE_URL. Prints one line per id (id, status, reason); "
        "exits 0 when every answer is 2xx, 1 otherwise.",
    )
    parser.add_argument(
        "--router",
        required=True,
        metavar="MODULE:ATTR",
        help="your WebhookRouter, e.g. shop.webhooks:router, imported from the current "
        "directory (required)",
    )
    parser.add_argument(
        "session_ids",
        nargs="*",
        metavar="SESSION_ID",
        help="the sessions to check (ps_...), e.g. those of the orders still unpaid",
    )
    parser.add_argument(
        "--payments",
        nargs="+",
        default=[],
        metavar="ID",
        help="the payments to check (default: none)",
    )
    parser.add_argument(
        "--refunds",
        nargs="+",
        default=[],
        metavar="ID",
        help="the refunds to check (default: none)",
    )
    parser.set_defaults(handler=_run)
