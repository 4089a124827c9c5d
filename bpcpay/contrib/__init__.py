"""Framework adapters for :class:`bpcpay.webhooks.WebhookRouter`, one module per framework.

``bpcpay.contrib.aiohttp`` (aiohttp.web, bots), ``bpcpay.contrib.asgi`` (Starlette, FastAPI,
any ASGI server), ``bpcpay.contrib.wsgi`` (Flask, any WSGI server) and
``bpcpay.contrib.django``. Each reads the raw body (never re-serialised JSON), refuses a body
over the router's size cap with 413 before reading it when ``Content-Length`` says so and stops
reading once a body without one passes the cap, and answers the status the router decides.

This package holds what the adapters share, written once: the size cap and its refusal
(:func:`size_cap`, :func:`declared_too_large`, :func:`too_large`), the capped body
(:class:`CappedBody`, :func:`read_capped` for blocking streams), the plain-text answer
(:func:`body_text`), the deadline of an async adapter's read (:func:`body_timeout_seconds`,
:func:`too_slow`; the read itself is ``_deadline.read_within``) and :class:`RouterApp`, the base
of the adapters that are applications.

This package imports no framework; each adapter module imports only its own, so installing
bpcpay never requires any of them and ``import bpcpay`` loads none.
"""

from __future__ import annotations

import mmap
from collections.abc import Callable
from typing import TYPE_CHECKING, Final

from .._core._checks import check_seconds
from .._log import library_logger

if TYPE_CHECKING:
    from ..webhooks._router import WebhookRouter

__all__: list[str] = []

logger = library_logger("webhooks")

#: How many bytes an adapter asks its request stream for at a time.
CHUNK = 64 * 1024

#: Seconds an async adapter (aiohttp, ASGI) waits for a whole body before it answers 408. A
#: sender that stalls mid-body would otherwise hold its connection and the bytes read so far
#: (up to the size cap) for as long as it likes; the gateway sends a delivery's ~1 KiB at once.
DEFAULT_BODY_TIMEOUT: Final = 10.0


def content_length(value: str | None) -> int | None:
    """A ``Content-Length`` header as an int; None when absent or not a plain decimal."""
    if value is None:
        return None
    value = value.strip()
    if not value.isdigit() or not value.isascii():
        return None
    return int(value)


def body_text(reason: str) -> bytes:
    """The small plain-text body adapters answer with: the router's reason, nothing secret."""
    return (reason + "\n").encode("ascii", "replace")


def size_cap(router: WebhookRouter, max_bytes: int | None) -> int:
    """The size cap an adapter enforces: ``max_bytes`` when given, else the router's own."""
    return router.max_bytes if max_bytes is None else max_bytes


def declared_too_large(header: str | None, max_bytes: int) -> bool:
    """True when a ``Content-Length`` header declares a body over ``max_bytes``."""
    declared = content_length(header)
    return declared is not None and declared > max_bytes


def too_large(max_bytes: int, *, declared: bool = False) -> tuple[int, str]:
    """Log the refusal of a body over ``max_bytes``; returns the answer, ``(413, "too_large")``.

    Args:
        max_bytes: the cap.
        declared: the body was refused on its ``Content-Length``, before it was read.
    """
    what = "Content-Length" if declared else "body"
    logger.warning("webhook refused (413): %s over %d bytes", what, max_bytes)
    return 413, "too_large"


def twin_path(path: str) -> str | None:
    """``path`` with its trailing slash dropped, or added; None for the root ``/``.

    The adapters that mount on an application route both spellings to one endpoint: a
    framework's redirect from one to the other would lose the delivery (the gateway follows
    no redirect), and a URL registered either way must reach the endpoint.
    """
    if path == "/" or not path:
        return None
    return path[:-1] if path.endswith("/") else path + "/"


def body_timeout_seconds(value: object) -> float:
    """``body_timeout`` checked like the SDK's other seconds arguments (a positive, finite number).

    Raises:
        InvalidArgumentError: naming ``body_timeout``.
    """
    return check_seconds("body_timeout", value)


def too_slow(body_timeout: float) -> tuple[int, str]:
    """Log the refusal of a body still incomplete after ``body_timeout`` seconds; returns the
    answer, ``(408, "too_slow")``."""
    logger.warning("webhook refused (408): body not complete within %g s", body_timeout)
    return 408, "too_slow"


#: Past this many bytes a body is collected in a memory map of its own (see CappedBody).
SPILL_BYTES = 64 * 1024


class CappedBody:
    """A request body collected chunk by chunk, given up as soon as it passes ``max_bytes``.

    A body past :data:`SPILL_BYTES` is collected in an anonymous memory map instead of the
    heap: when a body is dropped (a sender cut off at the deadline, say), the map goes back to
    the operating system at once. Many large bodies held at the same time and dropped would
    otherwise leave the heap fragmented and the process's resident memory as high as their sum
    for good (measured: +130 MiB after 200 stalled 1 MiB bodies on aiohttp).
    """

    __slots__ = ("_chunks", "_map", "_size", "max_bytes")

    def __init__(self, max_bytes: int) -> None:
        self.max_bytes = max_bytes
        self._chunks: list[bytes] = []
        self._map: mmap.mmap | None = None
        self._size = 0

    def add(self, chunk: bytes) -> bool:
        """Keep ``chunk``; False when the body is now over the cap (stop reading)."""
        self._size += len(chunk)
        if self._size > self.max_bytes:
            self.drop()
            return False
        if self._map is None and self._size > SPILL_BYTES:
            # Only the pages written to are ever resident; the rest of the map is address space.
            self._map = mmap.mmap(-1, self.max_bytes)
            for kept in self._chunks:
                self._map.write(kept)
            self._chunks.clear()
        if self._map is not None:
            self._map.write(chunk)
        else:
            self._chunks.append(chunk)
        return True

    def value(self) -> bytes:
        """The body collected so far (the map, if any, is given back)."""
        if self._map is None:
            return b"".join(self._chunks)
        body = self._map[: self._size]
        self.drop()
        return body

    def drop(self) -> None:
        """Give back what was collected (also done when the object is collected)."""
        self._chunks.clear()
        if self._map is not None:
            self._map.close()
            self._map = None


def read_capped(
    read: Callable[[int], bytes], max_bytes: int, *, limit: int | None = None
) -> bytes | None:
    """Read a blocking stream to its end, or ``limit`` bytes at most; None when over the cap.

    Args:
        read: the stream's ``read(size)``; an empty answer is the end.
        max_bytes: the cap; reading stops as soon as the body passes it.
        limit: how many bytes the stream holds, when that is known (a WSGI input need not end,
            so it is never read past its ``Content-Length``).
    """
    body = CappedBody(max_bytes)
    remaining = limit
    while remaining is None or remaining > 0:
        chunk = read(CHUNK if remaining is None else min(CHUNK, remaining))
        if not chunk:
            break
        if remaining is not None:
            remaining -= len(chunk)
        if not body.add(chunk):
            return None
    return body.value()


class RouterApp:
    """The base of the adapters that are applications: a router and the size cap it gets.

    Args:
        router: the router (it holds the secret and the handlers).
        max_bytes: the size cap; the router's ``max_bytes`` by default.
    """

    def __init__(self, router: WebhookRouter, *, max_bytes: int | None = None) -> None:
        self.router = router
        self.max_bytes = size_cap(router, max_bytes)

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self.router!r}>"
