"""bpcpay's loggers, and the ``NullHandler`` on the ``bpcpay`` logger.

An application that configures no logging sees nothing from bpcpay on stderr; one that does sees
bpcpay's records like any other library's. The handler is attached when this module is first
imported: by the package root when ``logging`` is already loaded, else by the first bpcpay
module that logs (so ``import bpcpay.webhooks`` need not load ``logging``).
"""

from __future__ import annotations

import logging

from ._constants import LOGGER_NAME

__all__ = ["library_logger"]

logging.getLogger(LOGGER_NAME).addHandler(logging.NullHandler())


def library_logger(suffix: str = "") -> logging.Logger:
    """The ``bpcpay`` logger, or its child ``bpcpay.<suffix>``.

    Args:
        suffix: the child's name below ``bpcpay`` (e.g. ``"webhooks"``), or empty.

    Returns:
        The logger.
    """
    return logging.getLogger(f"{LOGGER_NAME}.{suffix}" if suffix else LOGGER_NAME)
