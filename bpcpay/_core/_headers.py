"""Case-insensitive header lookup over any mapping. Pure; imports nothing.

Kept apart from ``_responses`` so that ``bpcpay.webhooks`` can use it without importing the
converter (and cattrs) at import time.
"""

from __future__ import annotations

from collections.abc import Mapping

__all__ = ["header"]


def header(headers: Mapping[str, str], name: str) -> str | None:
    """Case-insensitive header lookup that works on plain dicts and multidicts alike."""
    value = headers.get(name)
    if value is None:
        lowered = name.lower()
        for key, item in headers.items():
            if key.lower() == lowered:
                return item
    return value
