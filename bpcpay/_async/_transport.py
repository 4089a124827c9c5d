"""The aiohttp transport: one pooled ClientSession per client, owned or borrowed.

Maps aiohttp's exceptions, once, onto two facts the retry policy needs: did the request
provably never leave (``Failure.NOT_SENT``), or may it have been sent (``Failure.MAYBE_SENT``).
Everything else about errors is decided in ``_core``.
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping

import aiohttp
import attrs

from .._core._requests import Request
from .._core._retry import Failure
from .._exceptions import ClientClosedError
from .._types import Timeout

__all__ = ["AsyncTransport", "RawResponse", "TransportFailure"]

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


class AsyncTransport:
    """Sends requests over one aiohttp ClientSession.

    The session is created lazily, inside the running loop, on the first request (so a client
    can be constructed anywhere) unless the caller passed its own, which is used as is and never
    closed here.
    """

    def __init__(self, *, session: aiohttp.ClientSession | None, pool_size: int) -> None:
        self._session = session
        self._owned = session is None
        self._pool_size = pool_size
        self._timeouts: dict[Timeout, aiohttp.ClientTimeout] = {}
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
    def session(self) -> aiohttp.ClientSession | None:
        """The ClientSession in use, or None before the first request of an owned one."""
        return self._session

    def _client_session(self) -> aiohttp.ClientSession:
        session = self._session
        if session is None:
            connector = aiohttp.TCPConnector(limit=self._pool_size, limit_per_host=self._pool_size)
            session = aiohttp.ClientSession(
                connector=connector,
                # Per-request timeouts are always passed; this default is never used on its own.
                timeout=aiohttp.ClientTimeout(total=None),
                raise_for_status=False,
            )
            self._session = session
        return session

    def _client_timeout(self, timeout: Timeout) -> aiohttp.ClientTimeout:
        cached = self._timeouts.get(timeout)
        if cached is None:
            # sock_connect, not connect: waiting for a free pooled connection under load is not
            # a connect failure, and must not be reported as "the request never left".
            cached = aiohttp.ClientTimeout(
                total=None, connect=None, sock_connect=timeout.connect, sock_read=timeout.read
            )
            if len(self._timeouts) < 64:
                self._timeouts[timeout] = cached
        return cached

    async def send(self, request: Request, timeout: Timeout) -> RawResponse:
        """Send one attempt and read the whole answer.

        Raises:
            TransportFailure: no HTTP answer (see ``failure`` and ``timeout_phase``).
            asyncio.CancelledError: propagated untouched; aiohttp aborts the connection.
        """
        session = self._client_session()
        if session.closed:
            # aiohttp would raise a bare RuntimeError; this happens when a with_options() twin
            # closed the shared session, or the caller closed the session they lent us.
            raise ClientClosedError("the aiohttp session of this client is closed")
        try:
            async with session.request(
                request.method,
                request.url,
                headers=request.headers,
                data=request.body,
                skip_auto_headers=_NO_CONTENT_TYPE if request.body is None else None,
                timeout=self._client_timeout(timeout),
                allow_redirects=False,
            ) as response:
                body = await response.read()
                return RawResponse(response.status, response.headers, body)
        except aiohttp.ConnectionTimeoutError as exc:
            raise TransportFailure(
                Failure.NOT_SENT,
                f"no connection within {timeout.connect:g}s",
                timeout_phase="connect",
            ) from exc
        except aiohttp.ClientConnectorError as exc:
            # Refused, unreachable, DNS, TLS handshake: the request was never written.
            raise TransportFailure(
                Failure.NOT_SENT, f"could not connect: {exc.os_error or exc}"
            ) from exc
        except (aiohttp.ServerTimeoutError, asyncio.TimeoutError, TimeoutError) as exc:
            # Before Python 3.11 the builtin TimeoutError and asyncio.TimeoutError differ.
            raise TransportFailure(
                Failure.MAYBE_SENT, f"no answer within {timeout.read:g}s", timeout_phase="read"
            ) from exc
        except (aiohttp.ClientError, OSError) as exc:
            raise TransportFailure(
                Failure.MAYBE_SENT, f"the connection failed mid-request: {type(exc).__name__}"
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
