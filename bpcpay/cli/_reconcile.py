"""``bpcpay reconcile --router module:attr SESSION_ID...``: run the shop's own webhook handlers
for sessions whose webhook may have been missed.

Imports the shop's :class:`~bpcpay.webhooks.WebhookRouter` (``module:attr``, the module found
from the current directory like ``gunicorn app:application``), retrieves each session with a
``BpcPay`` configured from ``BPCPAY_API_KEY`` / ``BPCPAY_BASE_URL``, and calls
``router.reconcile_sync``: a complete or expired session runs the handlers once, through the
router's own store (a webhook that already ran them makes it a duplicate). Prints one line per
session (id, status, reason); exits 0 when every answer is 2xx, 1 otherwise, 2 for bad usage.

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
    """Close the connections this run opened in the router's store (a shared store's
    ``close()`` closes this process's connections only; they reopen on its next call)."""
    close = getattr(store, "close", None)
    if callable(close) and not inspect.iscoroutinefunction(close):
        close()


def _run(args: argparse.Namespace) -> int:
    import bpcpay

    try:
        router = load_router(args.router)
    except (ValueError, ImportError) as exc:
        return refuse("reconcile", str(exc))
    try:
        with bpcpay.BpcPay.from_env() as client:
            results = router.reconcile_sync(client, args.session_ids)
    except bpcpay.BpcPayError as exc:
        return refuse("reconcile", f"{type(exc).__name__}: {exc}")
    finally:
        _close_connections(router.store)
    for session_id, result in zip(args.session_ids, results, strict=True):
        detail = f" ({type(result.error).__name__})" if result.error is not None else ""
        print(f"{session_id} {result.status} {result.reason}{detail}")
    return 0 if all(result.ok for result in results) else 1


def register(subparsers: Any) -> None:
    """Add ``bpcpay reconcile``."""
    parser = add_command(
        subparsers,
        "reconcile",
        "run your webhook handlers for sessions whose webhook may have been missed",
        "Retrieve each session; for a complete or expired one, run your router's handlers with a "
        "reconciled session.completed / session.expired event, once (through the router's "
        "store). Reads BPCPAY_API_KEY and BPCPAY_BASE_URL. Prints one line per session (id, "
        "status, reason); exits 0 when every answer is 2xx, 1 otherwise.",
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
        nargs="+",
        metavar="SESSION_ID",
        help="the sessions to check (ps_...), e.g. those of the orders still unpaid",
    )
    parser.set_defaults(handler=_run)
