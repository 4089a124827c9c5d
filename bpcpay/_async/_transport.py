"""The transport seam (:class:`Transport`) and its aiohttp implementation: one pooled
ClientSession per client, owned or borrowed.

The client is given a transport (``AsyncBpcPay(_transport=...)``; by default an
:class:`AiohttpTransport` built from its options) and asks it for one thing per attempt:
``send(request, timeout)``, which returns the answer as ``(status, headers, body)`` or raises
one of ``_core._outcomes``' errors. Tests and the sync bridge use this seam (``session``,
``closed``, ``for_forked_child()``) instead of reaching into the client.

The aiohttp transport maps aiohttp's exceptions, once, onto two facts the retry policy needs:
did the request provably never leave (``Failure.NOT_SENT``), or may it have been sent
(``Failure.MAYBE_SENT``). Everything else about errors is decided in ``_core``. aiohttp's
exception is never chained and its frames never travel with ours: its frames hold the request's
headers (the API key among them) and its ``ClientResponseError`` prints them in its ``repr``,
where error trackers read them. The failure is raised after the except clause, with aiohttp's
class name and message as text; a cancellation leaves as a fresh ``CancelledError``.

Every attempt is bounded here, in time and in memory:

* ``connect`` covers getting a connection, the wait for a free pooled one included (aiohttp's
  ``ClientTimeout.connect``);
* ``read`` is a hard deadline from the moment the connection is handed out (the first byte of
  the request is written right after) to the last byte of the answer, which no trickle of bytes
  can extend (aiohttp's ``sock_read`` would restart with every chunk). The owned session's
  ``request_class`` (a ``ClientRequest`` whose public ``send(conn)`` is extended) notes each
  attempt's deadline when it is handed its connection, in :class:`_ReadDeadlines`, which keeps
  them all on one loop timer set for the earliest; when a deadline passes, the attempt's
  connection is aborted (the public ``Connection.transport``), so whatever aiohttp awaits on it
  (writing the request, the status line, the body) fails at once, and that failure is reported
  as the read timeout it is (also when the body ends with the connection, so looked whole). No
  cancellation is involved: a caller's own cancellation or ``asyncio.timeout`` stays theirs,
  on every Python. aiohttp's own re-send of a GET whose connection broke is refused once the
  deadline has passed, so the deadline also ends the attempt, never one request of it;
* ``total = connect + read`` (aiohttp's ``ClientTimeout.total``) caps the attempt as a whole,
  also for a session the caller lent us (whose connector is not ours) and across aiohttp's own
  re-send of a GET on a stale pooled connection (whose wait for a connection is ``connect``'s);
* ``max_response_bytes``: a declared ``Content-Length`` over it is refused before the body is
  read, any other body (chunked, compressed: the limit counts decompressed bytes) is read chunk
  by chunk and cut as soon as it passes it.

URLs are handed to aiohttp already encoded (``yarl.URL(..., encoded=True)``): yarl would
otherwise decode ``%3B`` or ``%2F`` in an id back into ``;`` or ``/``.

Only aiohttp's public API is used (``tests/test_layers.py`` checks): a minor aiohttp release may
change its private names without notice. Why one timer for all deadlines rather than one per
attempt: an attempt that ends before its deadline (nearly all) then costs a dictionary entry
set and removed, where a timer of its own cost a handle made, pushed on the loop's heap,
cancelled and popped again; the one timer fires about once per ``read`` seconds under steady
load, and then looks at the attempts in flight only (at most ``pool_size``).
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import os
import re
import sys
import time
import weakref
from collections.abc import Callable, Coroutine
from typing import Any, Final, Protocol

import aiohttp
from aiohttp import hdrs
from yarl import URL

from .._core._outcomes import Response, ResponseTooLarge, TransportFailure
from .._core._requests import Request
from .._core._retry import Failure
from .._exceptions import ClientClosedError
from .._types import Timeout
from ._network import Network

__all__ = ["AiohttpTransport", "Transport"]

#: A bodiless POST goes out without a Content-Type, as in BPC's expire example; aiohttp would
#: otherwise add ``application/octet-stream``.
_NO_CONTENT_TYPE = frozenset({"Content-Type"})

#: Python 3.12+ can start a task eagerly, running it up to its first wait at once.
_EAGER = sys.version_info >= (3, 12)

#: What a forked child inherited from its parent; see AiohttpTransport.abandon().
_INHERITED_AFTER_FORK: list[tuple[aiohttp.ClientSession, aiohttp.BaseConnector | None]] = []


class Transport(Protocol):
    """What a client needs from its transport. Private to bpcpay, but a real seam: the client
    is given one, the sync bridge hands a forked child a fresh one, and tests build their own
    (``AiohttpTransport(...)``) to look at its session instead of the client's attributes.
    """

    @property
    def closed(self) -> bool:
        """True once :meth:`aclose` was called (or the transport was abandoned after a fork)."""

    @property
    def pool_size(self) -> int:
        """The most connections kept open at once."""

    @property
    def max_response_bytes(self) -> int:
        """The largest answer read, in bytes, decompressed."""

    async def send(self, request: Request, timeout: Timeout) -> Response:
        """Send one attempt and read the whole answer, within ``timeout.total`` seconds and
        ``max_response_bytes`` bytes.

        Args:
            request: the call (method, URL, headers, body bytes).
            timeout: this attempt's timeout.

        Returns:
            ``(status, headers, body)``; headers are a case-insensitive mapping.

        Raises:
            TransportFailure: no HTTP answer (see ``failure`` and ``timeout_phase``).
            ResponseTooLarge: the answer is larger than ``max_response_bytes``.
            ClientClosedError: the transport (or the session it was lent) is closed.
            asyncio.CancelledError: propagated untouched; the connection is aborted.
        """

    async def aclose(self) -> None:
        """Close what the transport opened (never a session it was lent). Idempotent."""

    def for_forked_child(self) -> Transport:
        """In a forked child: give up everything inherited from the parent, unclosed (its
        sockets are the parent's), and return a fresh, unopened transport with the same
        settings."""


class _ReadDeadlines:
    """The read deadlines of the attempts made through one owned session, on one loop timer.

    An attempt is known by its task (an aiohttp request runs in the task that awaits it, and a
    task makes one request at a time). The transport notes the attempt's read timeout in
    ``attempts`` before it asks aiohttp for the request; the session's request class
    (:meth:`request_class`) turns it into a deadline when aiohttp hands the request its
    connection (``ClientRequest.send(conn)``, right before the first byte is written); the
    transport removes the attempt when it ends, however it ends. The timer is set for the
    earliest deadline; when it fires, every attempt past its deadline moves to ``ended`` and its
    connection, if still in use, is aborted, and the timer is set again for the next one, if
    any. Lives on one event loop (the owned session's); nothing here is thread-safe, nor needs
    to be.

    ``AiohttpTransport.send`` reads and writes ``attempts`` and ``ended`` itself (no method
    call per attempt: this is on every call's path).
    """

    __slots__ = ("_at", "_handle", "_loop", "_time", "attempts", "ended")

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self._loop = loop
        # asyncio's own loops read time.monotonic() in a Python method: call it directly.
        self._time: Callable[[], float] = (
            time.monotonic if type(loop).time is asyncio.BaseEventLoop.time else loop.time
        )
        #: Per attempt: its read timeout (seconds) until it is sent, then its deadline (loop
        #: time) and its connection.
        self.attempts: dict[
            asyncio.Task[Any] | None, float | tuple[float, aiohttp.connector.Connection]
        ] = {}
        #: Attempts whose deadline passed, until they end: True when the deadline aborted
        #: their connection (so what was read until then may be cut short), False when the
        #: connection had been given back already (the answer was whole) or closed.
        self.ended: dict[asyncio.Task[Any] | None, bool] = {}
        self._handle: asyncio.TimerHandle | None = None
        #: When the handle fires (loop time), while there is one.
        self._at = 0.0

    def __len__(self) -> int:
        return len(self.attempts) + len(self.ended)

    def request_class(self) -> type[aiohttp.ClientRequest]:
        """aiohttp's ClientRequest (the session's ``request_class``), whose public ``send``
        first starts the attempt's deadline: its read timeout from now, or still the one it
        had if aiohttp is re-sending it on a fresh connection; a ServerTimeoutError when that
        one has passed already (aiohttp closes the connection, and nothing is sent)."""
        deadlines, attempts, ended, now = self, self.attempts, self.ended, self._time
        aiohttp_send = aiohttp.ClientRequest.send

        class _DeadlineRequest(aiohttp.ClientRequest):
            # A plain function returning aiohttp's coroutine (awaited by aiohttp as is): no
            # coroutine of its own.
            def send(
                self, conn: aiohttp.connector.Connection
            ) -> Coroutine[Any, Any, aiohttp.ClientResponse]:
                task = asyncio.current_task()
                entry = attempts.get(task)
                if entry.__class__ is tuple:
                    due = entry[0]
                elif entry is not None:
                    due = now() + entry  # type: ignore[operator]
                elif task in ended:
                    # aiohttp re-sends a GET whose connection broke, here after the deadline
                    # passed (and maybe aborted it): the attempt ends as timed out.
                    raise aiohttp.ServerTimeoutError("the read deadline of this attempt passed")
                else:  # not one of bpcpay's attempts (the session is private, so never)
                    return aiohttp_send(self, conn)
                attempts[task] = (due, conn)
                if deadlines._handle is None or due < deadlines._at:
                    deadlines._arm(due)
                return aiohttp_send(self, conn)

        return _DeadlineRequest

    def close(self) -> None:
        """Stop the timer (the session is closing; its connections go with it)."""
        if self._handle is not None:
            self._handle.cancel()
            self._handle = None

    def _arm(self, due: float) -> None:
        """Have the timer fire at ``due`` (sooner than it would, if it is set)."""
        if self._handle is not None:
            self._handle.cancel()
        self._handle = self._loop.call_at(due, self._fire)
        self._at = due

    def _fire(self) -> None:
        self._handle = None
        now = self._time()
        upcoming: float | None = None
        attempts = self.attempts
        for task, entry in list(attempts.items()):
            if entry.__class__ is not tuple:
                continue  # not sent yet
            due, connection = entry
            if due <= now:
                del attempts[task]
                # None once aiohttp gave the connection back to the pool (the whole answer
                # was read; it may already serve another request, so it is left alone) or
                # closed it. Otherwise the attempt's next (or current) wait on it fails at
                # once.
                transport = connection.transport
                if transport is not None:
                    transport.abort()
                self.ended[task] = transport is not None
            elif upcoming is None or due < upcoming:
                upcoming = due
        if upcoming is not None:
            self._handle = self._loop.call_at(upcoming, self._fire)
            self._at = upcoming


#: URLs as sent, built once per distinct URL (yarl caches its own parsing of plain strings,
#: not of encoded ones): a shop polls the same session, and a create's URL never changes.
_encoded_url = functools.lru_cache(maxsize=1024)(functools.partial(URL, encoded=True))


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
    session: aiohttp.ClientSession, loop: asyncio.AbstractEventLoop, pid: int
) -> None:
    """Close an owned session whose clients were all collected unclosed.

    Runs from ``weakref.finalize``, so in whatever thread collected the transport; the close
    must run on the session's loop, so it is handed to that loop (started at once when the
    collector is that loop's thread). The finalizer holds the session, so nothing of it is
    collected (and warns) before the close ran. A loop that is already closed cannot run it:
    the session is then left to aiohttp's own warning, which is the honest signal that a
    client outlived its loop unclosed.
    """
    if session.closed or pid != os.getpid() or loop.is_closed():
        return
    try:
        running = asyncio.get_running_loop()
    except RuntimeError:
        running = None
    if running is loop:
        _start_close(session, loop)
        return
    # RuntimeError: the loop closed between the check and here.
    with contextlib.suppress(RuntimeError):
        loop.call_soon_threadsafe(_start_close, session, loop)


#: Closes started by _start_close, held until they end (a loop holds its tasks weakly).
_CLOSING: set[asyncio.Task[None]] = set()


def _start_close(session: aiohttp.ClientSession, loop: asyncio.AbstractEventLoop) -> None:
    """On the loop: run ``session.close()`` as a task. Python 3.12+ starts it at once, which
    closes every socket before the task first waits."""
    if _EAGER:
        task = asyncio.Task(  # type: ignore[call-arg,unused-ignore]
            session.close(), loop=loop, eager_start=True
        )
    else:
        task = loop.create_task(session.close())
    if not task.done():
        _CLOSING.add(task)
        task.add_done_callback(_CLOSING.discard)


# --- TLS and proxy failures: what went wrong, said plainly --------------------------------------

#: The "[SSL: REASON]" of an OpenSSL error, when aiohttp kept only its text.
_SSL_REASON = re.compile(r"\[SSL: ([A-Z0-9_]+)\]")
#: TLS alerts by which a server refuses the client's certificate (or its absence): the
#: handshake failed on the server's side, so the request never reached the application.
_CLIENT_CERT_ALERTS = {
    "TLSV13_ALERT_CERTIFICATE_REQUIRED": "it requires a client certificate",
    "SSLV3_ALERT_BAD_CERTIFICATE": "it did not accept the client certificate",
    "SSLV3_ALERT_CERTIFICATE_UNKNOWN": "it did not accept the client certificate",
    "TLSV1_ALERT_UNKNOWN_CA": "it does not trust the CA of the client certificate",
    "SSLV3_ALERT_CERTIFICATE_EXPIRED": "the client certificate has expired",
    "SSLV3_ALERT_CERTIFICATE_REVOKED": "the client certificate is revoked",
    "TLSV1_ALERT_ACCESS_DENIED": "it denied access to the client certificate",
}


def _via(network: Network) -> str:
    described = network.describe()
    return f" ({described})" if described else ""


def _certificate_failure(
    exc: aiohttp.ClientConnectorCertificateError, network: Network
) -> TransportFailure:
    """The server's certificate did not verify: never retried, the request never left."""
    error = exc.certificate_error
    reason = getattr(error, "verify_message", None) or str(error)
    port = f":{exc.port}" if exc.port is not None else ""
    trusted = (
        "the CAs of the ssl= option"
        if network.ssl is not None
        else "the system's CAs (or SSL_CERT_FILE / SSL_CERT_DIR)"
    )
    return TransportFailure(
        Failure.REFUSED,
        f"certificate verification failed for {exc.host}{port}: {reason}{_via(network)}. "
        f"bpcpay trusted {trusted}: if the gateway's certificate comes from a private CA, give "
        f"its CA bundle as ssl= (a path or an ssl.SSLContext) or in SSL_CERT_FILE",
        cause=exc,
    )


def _tls_refusal(exc: BaseException, url: URL, network: Network) -> TransportFailure | None:
    """The failure for a server that refused the client's certificate in the TLS handshake
    (the alert comes while connecting with TLS 1.2, at the first read with TLS 1.3); None for
    anything else."""
    os_error = getattr(exc, "os_error", None)
    reason = getattr(os_error, "reason", None) or getattr(exc, "reason", None)
    if not isinstance(reason, str):
        found = _SSL_REASON.search(str(exc))
        reason = found.group(1) if found else None
    meaning = _CLIENT_CERT_ALERTS.get(reason or "")
    if meaning is None:
        return None
    has_cert = network.ssl is not None and network.has_client_cert
    advice = (
        "check that client_cert= holds the certificate the gateway's operator issued to you"
        if has_cert
        else "give the certificate and key the gateway's operator issued to you as client_cert="
    )
    return TransportFailure(
        Failure.REFUSED,
        f"the TLS server at {_origin(url)} refused the connection: {meaning} "
        f"({reason}){_via(network)}; {advice}",
        cause=exc,
    )


def _tunnel_failure(
    exc: aiohttp.ClientHttpProxyError, url: URL, network: Network
) -> TransportFailure:
    """The proxy answered CONNECT with something else than 200: the tunnel was never opened."""
    status = f"{exc.status} {exc.message}".strip()
    if exc.status == 407:
        return TransportFailure(
            Failure.REFUSED,
            f"the proxy {network.proxy} (from {network.proxy_source}) wants credentials "
            f"({status}): put them in the proxy URL, http://user:password@host:port",
            cause=exc,
        )
    return TransportFailure(
        Failure.NOT_SENT,
        f"the proxy {network.proxy} (from {network.proxy_source}) did not open a tunnel to "
        f"{_origin(url)}: {status}",
        cause=exc,
    )


def _failure(
    exc: BaseException, url: URL, timeout: Timeout, network: Network, *, read_deadline_passed: bool
) -> TransportFailure:
    """What aiohttp's exception means for the retry policy, said plainly (never raised here:
    see :meth:`AiohttpTransport.send`)."""
    if read_deadline_passed or (
        # Before Python 3.11 the builtin TimeoutError and asyncio.TimeoutError differ; aiohttp's
        # ServerTimeoutError is the latter, its ConnectionTimeoutError (below) one of those.
        isinstance(exc, aiohttp.ServerTimeoutError | asyncio.TimeoutError | TimeoutError)
        and not isinstance(exc, aiohttp.ConnectionTimeoutError)
    ):
        return TransportFailure(
            Failure.MAYBE_SENT,
            f"no complete answer from {_origin(url)} within {timeout.read:g}s (read timeout)",
            timeout_phase="read",
            cause=exc,
        )
    if isinstance(exc, aiohttp.ConnectionTimeoutError):
        return TransportFailure(
            Failure.NOT_SENT,
            f"no connection to {_origin(url)} within {timeout.connect:g}s (connecting, "
            f"or waiting for a free connection of the pool)",
            timeout_phase="connect",
            cause=exc,
        )
    if isinstance(exc, aiohttp.ClientConnectorCertificateError):
        return _certificate_failure(exc, network)
    if isinstance(exc, aiohttp.ClientProxyConnectionError):
        return TransportFailure(
            Failure.NOT_SENT,
            f"could not connect to the proxy {network.proxy} (from {network.proxy_source}): "
            f"{exc.os_error or exc}",
            cause=exc,
        )
    if isinstance(exc, aiohttp.ClientHttpProxyError):
        return _tunnel_failure(exc, url, network)
    if isinstance(exc, aiohttp.ClientConnectorError):
        # Refused, unreachable, DNS, TLS handshake: the request was never written.
        return _tls_refusal(exc, url, network) or TransportFailure(
            Failure.NOT_SENT,
            f"could not connect to {_origin(url)}{_via(network)}: {exc.os_error or exc}",
            cause=exc,
        )
    return _tls_refusal(exc, url, network) or TransportFailure(
        Failure.MAYBE_SENT,
        f"the connection to {_origin(url)} failed mid-request: {type(exc).__name__}",
        cause=exc,
    )


class AiohttpTransport:
    """A :class:`Transport` over one aiohttp ClientSession.

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
        network: Network | None = None,
    ) -> None:
        self._session = session
        # Settings, fixed for the transport's life (Final: the type checker refuses a change).
        #: True when bpcpay creates the session (on first use) and so closes it.
        self.owns_session: Final = session is None
        #: The connector limit of an owned session.
        self.pool_size: Final = pool_size
        #: The largest answer read, in bytes, decompressed.
        self.max_response_bytes: Final = max_response_bytes
        #: The proxy and TLS context of an owned session (a lent session has its own).
        self.network: Final = network or Network()
        # Sent to the proxy with each request through it (aiohttp takes no session default).
        self._proxy_headers = self.network.proxy_headers
        self._timeouts: dict[Timeout, aiohttp.ClientTimeout] = {}
        # The last timeout used and its ClientTimeout, as one pair: nearly every call uses the
        # client's default, so an identity check spares hashing the Timeout.
        self._last: tuple[Timeout | None, aiohttp.ClientTimeout] = (None, aiohttp.ClientTimeout())
        # The read deadlines of an owned session's connector (a lent one's are not ours).
        self._deadlines: _ReadDeadlines | None = None
        self._closed = False

    def __repr__(self) -> str:
        state = "closed" if self._closed else "open" if self._session is not None else "unopened"
        return f"<AiohttpTransport {state} pool_size={self.pool_size}>"

    @property
    def closed(self) -> bool:
        """True once aclose() was called (by this client or one sharing the transport)."""
        return self._closed

    @property
    def session(self) -> aiohttp.ClientSession | None:
        """The ClientSession in use, or None before the first request of an owned one."""
        return self._session

    @property
    def attempts_in_flight(self) -> int:
        """Attempts whose read deadline is kept (0 with a lent session): those handed a
        connection and not finished yet. 0 whenever no call is running."""
        return 0 if self._deadlines is None else len(self._deadlines)

    def _open_session(self) -> aiohttp.ClientSession:
        """Create the owned session, on the running loop (the first request's)."""
        network = self.network
        self._deadlines = deadlines = _ReadDeadlines(asyncio.get_running_loop())
        connector = aiohttp.TCPConnector(
            limit=self.pool_size,
            limit_per_host=self.pool_size,
            # None: aiohttp's own verifying context (True), made when aiohttp was imported.
            ssl=True if network.ssl is None else network.ssl,
        )
        session = aiohttp.ClientSession(
            connector=connector,
            # Per-request timeouts are always passed; this default is never used on its own.
            timeout=aiohttp.ClientTimeout(total=None),
            raise_for_status=False,
            request_class=deadlines.request_class(),
            # bpcpay chose the proxy from the environment itself (see bpcpay/_core/_network.py);
            # trust_env stays off, so aiohttp reads neither the variables nor ~/.netrc.
            proxy=network.proxy,
        )
        self._session = session
        # Collected unclosed (every client sharing this transport gone): close quietly.
        weakref.finalize(
            self, _close_orphan, session, asyncio.get_running_loop(), os.getpid()
        ).atexit = False
        return session

    def _client_timeout(self, timeout: Timeout) -> aiohttp.ClientTimeout:
        cached = self._timeouts.get(timeout)
        if cached is None:
            # connect covers the wait for a free pooled connection too: a request that never
            # got one provably never left. read is kept by _ReadDeadlines; total caps all.
            cached = aiohttp.ClientTimeout(total=timeout.total, connect=timeout.connect)
            if len(self._timeouts) < 64:
                self._timeouts[timeout] = cached
        self._last = (timeout, cached)
        return cached

    async def send(self, request: Request, timeout: Timeout) -> Response:
        """Send one attempt and read the whole answer; see :meth:`Transport.send`."""
        session = self._session
        if session is None:
            session = self._open_session()
        elif self._closed or (not self.owns_session and session.closed):
            # aiohttp would raise a bare RuntimeError; this happens when a with_options() twin
            # closed the shared transport, or the caller closed the session they lent us.
            raise ClientClosedError("the aiohttp session of this client is closed")
        last = self._last
        client_timeout = last[1] if last[0] is timeout else self._client_timeout(timeout)
        url = _encoded_url(request.url)
        method = request.method
        body = request.body
        proxy_headers = self._proxy_headers
        deadlines = self._deadlines
        if deadlines is not None:
            task = asyncio.current_task()
            # The read timeout, until aiohttp sends the request (see _ReadDeadlines).
            deadlines.attempts[task] = timeout.read
        # What ended the attempt is raised below, after the except clauses: raised inside one,
        # it would chain aiohttp's exception (whose repr shows the request's headers, the key
        # among them) and its traceback, whose aiohttp frames hold those headers in locals.
        failure: BaseException
        try:
            # aiohttp is given only what differs from its defaults: each argument costs it.
            if proxy_headers is None and body is not None:
                context = session.request(
                    method,
                    url,
                    headers=request.headers,
                    data=body,
                    timeout=client_timeout,
                    allow_redirects=False,
                )
            elif proxy_headers is None and method == "GET":
                context = session.request(
                    method,
                    url,
                    headers=request.headers,
                    timeout=client_timeout,
                    allow_redirects=False,
                )
            else:
                context = session.request(
                    method,
                    url,
                    headers=request.headers,
                    data=body,
                    skip_auto_headers=(
                        _NO_CONTENT_TYPE if body is None and method != "GET" else None
                    ),
                    timeout=client_timeout,
                    allow_redirects=False,
                    proxy_headers=proxy_headers,
                )
            async with context as response:
                status = response.status
                headers = response.headers
                limit = self.max_response_bytes
                declared = response.content_length
                if declared is not None and declared > limit:
                    raise ResponseTooLarge(status, headers, limit, declared)
                if declared is not None and hdrs.CONTENT_ENCODING not in headers:
                    # aiohttp reads exactly Content-Length bytes: bounded already.
                    content = await response.read()
                else:
                    content = await _read_limited(response, limit)
        except asyncio.CancelledError as exc:
            if deadlines is not None:
                deadlines.attempts.pop(task, None)
                deadlines.ended.pop(task, None)
            # Still a cancellation, but a fresh one: a caller's own timeout (asyncio.timeout,
            # wait_for) chains it to the TimeoutError it raises, and this one's traceback goes
            # through aiohttp's frames.
            failure = asyncio.CancelledError(*exc.args)
        except (aiohttp.ClientError, OSError, asyncio.TimeoutError) as exc:
            past = False
            if deadlines is not None:
                deadlines.attempts.pop(task, None)
                past = deadlines.ended.pop(task, None) is not None
            # Whatever aiohttp raised after the read deadline passed (an aborted connection
            # fails its next read or write), the attempt timed out reading.
            failure = _failure(exc, url, timeout, self.network, read_deadline_passed=past)
        except BaseException:
            # ResponseTooLarge (ours), or an interruption: the attempt is over all the same.
            if deadlines is not None:
                deadlines.attempts.pop(task, None)
                deadlines.ended.pop(task, None)
            raise
        else:
            if deadlines is None:
                return status, headers, content
            deadlines.attempts.pop(task, None)  # gone already if its deadline passed
            if not deadlines.ended or not deadlines.ended.pop(task, False):
                return status, headers, content
            # The deadline aborted the connection while the body was read: a body that ends
            # with the connection (no length) then looks whole, but was cut short.
            failure = _failure(
                aiohttp.ServerTimeoutError("the read deadline passed as the body was read"),
                url,
                timeout,
                self.network,
                read_deadline_passed=True,
            )
        raise failure

    def for_forked_child(self) -> AiohttpTransport:
        """In a forked child: :meth:`abandon` this transport and return a fresh, unopened one
        with the same pool size and answer limit (it opens its own session on first use)."""
        self.abandon()
        return AiohttpTransport(
            session=None,
            pool_size=self.pool_size,
            max_response_bytes=self.max_response_bytes,
            network=self.network,
        )

    def abandon(self) -> None:
        """Forget an owned session inherited through ``os.fork()``, without closing it.

        Its pooled sockets (and the loop's epoll set) are shared with the parent process, which
        still uses them: closing them here could end the parent's TLS sessions or unregister the
        parent's sockets, and letting garbage collection finalize them would try to (and warn
        about an unclosed session). So the session is detached from its connector (aiohttp's
        public ``ClientSession.detach()``: the session counts as closed, the connector is left
        as it is) and both are kept reachable for the rest of the process, so the connector is
        never finalized while the process runs (a forked child that exits normally stays quiet:
        ``tests/test_sync_client.py`` runs one under ``-X dev -W error``).
        """
        session = self._session
        if not self.owns_session or session is None:
            return
        # detach(): aiohttp's public way to let go of a connector without closing it; the
        # session counts as closed from then on, so its finalizer has nothing to say.
        connector = session.connector
        session.detach()
        _INHERITED_AFTER_FORK.append((session, connector))
        self._session = None
        self._closed = True

    async def aclose(self) -> None:
        """Close the session if bpcpay owns it; a borrowed session is left open."""
        self._closed = True
        session = self._session
        if self.owns_session and session is not None and not session.closed:
            if self._deadlines is not None:
                self._deadlines.close()
            await session.close()
