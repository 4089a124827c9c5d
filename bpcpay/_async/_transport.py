"""The aiohttp transport: one pooled ClientSession per client, owned or borrowed.

Maps aiohttp's exceptions, once, onto two facts the retry policy needs: did the request
provably never leave (``Failure.NOT_SENT``), or may it have been sent (``Failure.MAYBE_SENT``).
Everything else about errors is decided in ``_core``.

Every attempt is bounded here, in time and in memory:

* ``connect`` covers getting a connection, the wait for a free pooled one included (aiohttp's
  ``ClientTimeout.connect``);
* ``read`` is a hard deadline from the moment the connection is handed out (the first byte of
  the request is written right after) to the last byte of the answer: the owned session's
  connector arms it on aiohttp's own timeout context for the request, so it fires exactly like
  aiohttp's ``total`` would, and no trickle of bytes can extend it (aiohttp's ``sock_read``
  would restart with every chunk);
* ``total = connect + read`` caps the attempt as a whole, also for a session the caller lent
  us (whose connector is not ours) and across aiohttp's own re-send of a GET on a stale pooled
  connection;
* ``max_response_bytes``: a declared ``Content-Length`` over it is refused before the body is
  read, any other body (chunked, compressed: the limit counts decompressed bytes) is read chunk
  by chunk and cut as soon as it passes it.

URLs are handed to aiohttp already encoded (``yarl.URL(..., encoded=True)``): yarl would
otherwise decode ``%3B`` or ``%2F`` in an id back into ``;`` or ``/``.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import weakref
from collections.abc import Mapping

import aiohttp
import attrs
from aiohttp import hdrs
from aiohttp.helpers import TimerContext
from yarl import URL

from .._core._requests import Request
from .._core._retry import Failure
from .._exceptions import ClientClosedError
from .._types import Timeout

__all__ = ["AsyncTransport", "RawResponse", "ResponseTooLarge", "TransportFailure"]

#: A bodiless POST goes out without a Content-Type, as in BPC's expire example; aiohttp would
#: otherwise add ``application/octet-stream``.
_NO_CONTENT_TYPE = frozenset({"Content-Type"})

#: Sessions a forked child inherited from its parent; see AsyncTransport.abandon().
_INHERITED_AFTER_FORK: list[aiohttp.ClientSession] = []


@attrs.frozen
class RawResponse:
    """What came back: status, headers (case-insensitive mapping) and the whole body."""

    status: int
    headers: Mapping[str, str]
    body: bytes = attrs.field(repr=False)


class TransportFailure(Exception):
    """No answer. ``failure`` says whether the request may have reached the gateway."""

    def __init__(self, failure: Failure, detail: str, *, timeout_phase: str | None = None) -> None:
        super().__init__(detail)
        self.failure = failure
        self.detail = detail
        #: "connect" or "read" when a timeout fired, else None.
        self.timeout_phase = timeout_phase


class ResponseTooLarge(Exception):
    """The answer is larger than ``max_response_bytes``; nothing more of it was read."""

    def __init__(
        self, status: int, headers: Mapping[str, str], limit: int, declared: int | None
    ) -> None:
        super().__init__(f"answer over {limit} bytes")
        self.status = status
        self.headers = headers
        self.limit = limit
        #: The declared Content-Length, or None when the body passed the limit while read.
        self.declared = declared


@attrs.frozen
class _AttemptTimeout(aiohttp.ClientTimeout):
    """An aiohttp ClientTimeout that also carries the read deadline for our connector."""

    read: float = 0.0


class _DeadlineConnector(aiohttp.TCPConnector):
    """A TCPConnector that starts the attempt's read deadline when it hands out a connection.

    aiohttp passes the request's ClientTimeout and the request (with its timeout context) to
    ``connect``: the deadline calls that context's ``timeout()``, which cancels the request
    wherever it waits and surfaces as ``asyncio.TimeoutError``, like aiohttp's own ``total``.
    The timer is cancelled when the connection is released or closed.
    """

    async def connect(
        self,
        req: aiohttp.ClientRequest,
        traces: list[aiohttp.tracing.Trace],
        timeout: aiohttp.ClientTimeout,
    ) -> aiohttp.connector.Connection:
        conn = await super().connect(req, traces, timeout)
        timer = getattr(req, "_timer", None)
        if isinstance(timeout, _AttemptTimeout) and isinstance(timer, TimerContext):
            loop = self._loop
            conn.add_callback(loop.call_at(loop.time() + timeout.read, timer.timeout).cancel)
        return conn


def _origin(url: URL) -> str:
    """``host:port`` for messages, with an IPv6 host in brackets."""
    host = url.raw_host or "?"
    return f"[{host}]:{url.port}" if ":" in host else f"{host}:{url.port}"


async def _read_limited(response: aiohttp.ClientResponse, limit: int) -> bytes:
    """The body, decompressed, or ResponseTooLarge as soon as it passes ``limit`` bytes."""
    content = response.content
    chunks: list[bytes] = []
    size = 0
    while chunk := await content.readany():
        size += len(chunk)
        if size > limit:
            raise ResponseTooLarge(response.status, response.headers, limit, None)
        chunks.append(chunk)
    return b"".join(chunks)


def _close_orphan(
    connector: aiohttp.BaseConnector, loop: asyncio.AbstractEventLoop, pid: int
) -> None:
    """Close the sockets of an owned session whose clients were all collected unclosed.

    Runs from ``weakref.finalize``, so in whatever thread collected the transport. aiohttp's
    close is a coroutine; its synchronous part (``_close``: close every transport, mark the
    connector closed, which also silences aiohttp's "Unclosed" warnings) is all there is to do,
    and it must run on the loop's thread. A loop that is already closed cannot run it: the
    session is then left to aiohttp's own warning, which is the honest signal that a client
    outlived its loop unclosed.
    """
    if connector.closed or pid != os.getpid() or loop.is_closed():
        return
    try:
        running = asyncio.get_running_loop()
    except RuntimeError:
        running = None
    if running is loop:
        connector._close()
    else:
        # RuntimeError: the loop closed between the check and here.
        with contextlib.suppress(RuntimeError):
            loop.call_soon_threadsafe(connector._close)


class AsyncTransport:
    """Sends requests over one aiohttp ClientSession.

    The session is created lazily, inside the running loop, on the first request (so a client
    can be constructed anywhere) unless the caller passed its own, which is used as is and never
    closed here.
    """

    def __init__(
        self,
        *,
        session: aiohttp.ClientSession | None,
        pool_size: int,
        max_response_bytes: int,
    ) -> None:
        self._session = session
        self._owned = session is None
        self._pool_size = pool_size
        self._max_response_bytes = max_response_bytes
        self._timeouts: dict[Timeout, aiohttp.ClientTimeout] = {}
        # The last timeout used and its ClientTimeout, as one pair: nearly every call uses the
        # client's default, so an identity check spares hashing the Timeout.
        self._last: tuple[Timeout | None, aiohttp.ClientTimeout] = (None, aiohttp.ClientTimeout())
        self._closed = False

    @property
    def owns_session(self) -> bool:
        """True when bpcpay created the session and will close it."""
        return self._owned

    @property
    def closed(self) -> bool:
        """True once aclose() was called (by this client or one sharing the transport)."""
        return self._closed

    @property
    def pool_size(self) -> int:
        """The connector limit of an owned session."""
        return self._pool_size

    @property
    def max_response_bytes(self) -> int:
        """The largest answer read, in bytes, decompressed."""
        return self._max_response_bytes

    @property
    def session(self) -> aiohttp.ClientSession | None:
        """The ClientSession in use, or None before the first request of an owned one."""
        return self._session

    def _open_session(self) -> aiohttp.ClientSession:
        """Create the owned session, on the running loop (the first request's)."""
        connector = _DeadlineConnector(limit=self._pool_size, limit_per_host=self._pool_size)
        session = aiohttp.ClientSession(
            connector=connector,
            # Per-request timeouts are always passed; this default is never used on its own.
            timeout=aiohttp.ClientTimeout(total=None),
            raise_for_status=False,
        )
        self._session = session
        # Collected unclosed (every client sharing this transport gone): close quietly.
        weakref.finalize(
            self, _close_orphan, connector, asyncio.get_running_loop(), os.getpid()
        ).atexit = False
        return session

    def _client_timeout(self, timeout: Timeout) -> aiohttp.ClientTimeout:
        cached = self._timeouts.get(timeout)
        if cached is None:
            # connect covers the wait for a free pooled connection too: a request that never
            # got one provably never left. read is armed by _DeadlineConnector; total caps all.
            cached = _AttemptTimeout(
                total=timeout.total, connect=timeout.connect, read=timeout.read
            )
            if len(self._timeouts) < 64:
                self._timeouts[timeout] = cached
        self._last = (timeout, cached)
        return cached

    async def send(self, request: Request, timeout: Timeout) -> RawResponse:
        """Send one attempt and read the whole answer, within ``timeout.total`` seconds and
        ``max_response_bytes`` bytes.

        Raises:
            TransportFailure: no HTTP answer (see ``failure`` and ``timeout_phase``).
            ResponseTooLarge: the answer is larger than ``max_response_bytes``.
            asyncio.CancelledError: propagated untouched; aiohttp aborts the connection.
        """
        session = self._session
        if session is None:
            session = self._open_session()
        if session.closed:
            # aiohttp would raise a bare RuntimeError; this happens when a with_options() twin
            # closed the shared session, or the caller closed the session they lent us.
            raise ClientClosedError("the aiohttp session of this client is closed")
        last = self._last
        client_timeout = last[1] if last[0] is timeout else self._client_timeout(timeout)
        url = URL(request.url, encoded=True)
        try:
            async with session.request(
                request.method,
                url,
                headers=request.headers,
                data=request.body,
                skip_auto_headers=_NO_CONTENT_TYPE if request.body is None else None,
                timeout=client_timeout,
                allow_redirects=False,
            ) as response:
                limit = self._max_response_bytes
                declared = response.content_length
                if declared is not None and declared > limit:
                    raise ResponseTooLarge(response.status, response.headers, limit, declared)
                if declared is not None and hdrs.CONTENT_ENCODING not in response.headers:
                    # aiohttp reads exactly Content-Length bytes: bounded already.
                    body = await response.read()
                else:
                    body = await _read_limited(response, limit)
                return RawResponse(response.status, response.headers, body)
        except aiohttp.ConnectionTimeoutError as exc:
            raise TransportFailure(
                Failure.NOT_SENT,
                f"no connection to {_origin(url)} within {timeout.connect:g}s (connecting, "
                f"or waiting for a free connection of the pool)",
                timeout_phase="connect",
            ) from exc
        except aiohttp.ClientConnectorError as exc:
            # Refused, unreachable, DNS, TLS handshake: the request was never written.
            raise TransportFailure(
                Failure.NOT_SENT, f"could not connect to {_origin(url)}: {exc.os_error or exc}"
            ) from exc
        except (aiohttp.ServerTimeoutError, asyncio.TimeoutError, TimeoutError) as exc:
            # Before Python 3.11 the builtin TimeoutError and asyncio.TimeoutError differ.
            raise TransportFailure(
                Failure.MAYBE_SENT,
                f"no complete answer from {_origin(url)} within {timeout.read:g}s (read timeout)",
                timeout_phase="read",
            ) from exc
        except (aiohttp.ClientError, OSError) as exc:
            raise TransportFailure(
                Failure.MAYBE_SENT,
                f"the connection to {_origin(url)} failed mid-request: {type(exc).__name__}",
            ) from exc

    def abandon(self) -> None:
        """Forget an owned session inherited through ``os.fork()``, without closing it.

        Its pooled sockets are shared with the parent process, which still uses them: closing
        them here could end the parent's TLS sessions, and letting garbage collection finalize
        them would try to (and warn about an unclosed session). So the objects are marked
        closed, which turns aiohttp's finalizers into no-ops, and kept reachable for the rest of
        the process, so the transports' own finalizers never run either.
        """
        session = self._session
        if not self._owned or session is None:
            return
        connector = session.connector
        if connector is not None:
            # aiohttp reads this flag in BaseConnector.__del__ and ClientSession.closed.
            connector._closed = True
        _INHERITED_AFTER_FORK.append(session)
        self._session = None
        self._closed = True

    async def aclose(self) -> None:
        """Close the session if bpcpay owns it; a borrowed session is left open."""
        self._closed = True
        session = self._session
        if self._owned and session is not None and not session.closed:
            await session.close()
