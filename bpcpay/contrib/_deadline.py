"""The deadline of an async adapter's body read, shared by the aiohttp and ASGI adapters.

Uses anyio (so the ASGI adapter keeps working under any anyio backend), imported on the first
read: importing an adapter stays as cheap as before. Imports no framework.
"""

from __future__ import annotations

from collections.abc import Awaitable

from . import too_large, too_slow

__all__ = ["read_within"]


async def read_within(
    read: Awaitable[bytes | None], *, max_bytes: int, body_timeout: float
) -> bytes | tuple[int, str]:
    """The body ``read`` returns, or the refusal to answer with.

    Args:
        read: reads the body; None when it passed ``max_bytes``.
        max_bytes: the size cap ``read`` enforces (named in the 413's log line).
        body_timeout: seconds the whole read may take.

    Returns:
        The raw body, ``(413, "too_large")`` or, when the read was cut off at the deadline,
        ``(408, "too_slow")``; the bytes read so far are dropped either way.
    """
    import anyio

    with anyio.move_on_after(body_timeout):
        body = await read
        return too_large(max_bytes) if body is None else body
    return too_slow(body_timeout)
