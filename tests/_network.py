"""Real network peers for the proxy and TLS tests, on 127.0.0.1, in a loop thread of their own.

* :class:`PrivateCA`: a certificate authority made for the test run (``trustme``), its
  certificate written to a PEM file and to a ``c_rehash``-style directory, the gateway's server
  certificate (for ``gateway.test``, ``localhost`` and ``127.0.0.1``) and a client certificate
  for mTLS: a PEM holding both, the pair apart, and the pair with an encrypted key.
* :class:`TLSGateway`: an HTTPS server with that certificate (or a plain HTTP one), answering
  ``GET /api2/sessions/{id}`` with a session, optionally requiring a client certificate signed
  by the CA; it records each request's headers and the client certificate's subject, and each
  failed handshake.
* :class:`ConnectProxy`: a forward proxy: ``CONNECT host:port`` opens a tunnel, and a request
  in absolute form (``GET http://host/...``) is relayed; it records every target it was asked
  for, can demand ``Proxy-Authorization``, and resolves names through its own table first, so a
  host that only the proxy knows (``gateway.test``) proves that a request went through it.
* :class:`Peers`: starts them and stops them; the proxies run on a loop thread of its own,
  so the async client (on the test's loop) and the sync client (on its own loop thread) meet
  the same servers.

A plain module, imported by name (``tests/`` is on ``sys.path``).
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import json
import socket
import ssl
import subprocess
import threading
from collections.abc import Awaitable, Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, TypeVar

import trustme
from _servers import require_binary

T = TypeVar("T")
LOOPBACK = "127.0.0.1"
#: A name no resolver knows: only the test proxy maps it to the TLS gateway.
GATEWAY_HOST = "gateway.test"
#: The encrypted client key's password.
KEY_PASSWORD = "kp_Hq7Rz2Lw9Xv4Tn8Mb3"
SESSION_JSON = {
    "id": "ps_net",
    "amount": 1000,
    "currency": "EUR",
    "status": "open",
    "paymentStatus": "unpaid",
    "created": "2024-03-28T08:26:37Z",
    "expiresAt": "2024-03-28T08:46:37Z",
    "paymentUrl": "https://gateway.test/pay/ps_net",
    "successUrl": "https://shop.example/success",
    "failureUrl": "https://shop.example/failure",
}


class PrivateCA:
    """A CA of this test run, and the files the tests hand to bpcpay."""

    def __init__(self, directory: Path) -> None:
        self.ca = trustme.CA(organization_name="bpcpay test CA")
        self.server = self.ca.issue_cert(GATEWAY_HOST, "localhost", LOOPBACK)
        self.client = self.ca.issue_cert("shop-client@bpcpay.test", common_name="shop-client")
        self.ca_file = directory / "ca.pem"
        self.ca.cert_pem.write_to_path(str(self.ca_file))
        self.ca_dir = directory / "ca-dir"
        self.ca_dir.mkdir()
        _hashed_copy(self.ca_file, self.ca_dir)
        #: The client certificate and key in one PEM file.
        self.client_pem = directory / "client.pem"
        self.client.private_key_and_cert_chain_pem.write_to_path(str(self.client_pem))
        self.client_cert = directory / "client-cert.pem"
        self.client_key = directory / "client-key.pem"
        for blob in self.client.cert_chain_pems:
            blob.write_to_path(str(self.client_cert), append=True)
        self.client.private_key_pem.write_to_path(str(self.client_key))
        #: The same key, encrypted with KEY_PASSWORD.
        self.client_key_encrypted = directory / "client-key-encrypted.pem"
        _encrypt_key(self.client_key, self.client_key_encrypted, KEY_PASSWORD)
        #: A CA that signed nothing here: trusting it alone, the gateway does not verify.
        self.stranger_file = directory / "stranger-ca.pem"
        trustme.CA().cert_pem.write_to_path(str(self.stranger_file))

    def server_context(self, *, require_client_cert: bool) -> ssl.SSLContext:
        context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        self.server.configure_cert(context)
        if require_client_cert:
            context.verify_mode = ssl.CERT_REQUIRED
            self.ca.configure_trust(context)
        return context


def _hashed_copy(pem: Path, directory: Path) -> None:
    """``pem`` in ``directory`` under its subject hash (``<hash>.0``), as ``capath`` wants."""
    openssl = require_binary("openssl", "openssl")  # skipped without it, failed in CI
    digest = subprocess.run(
        [openssl, "x509", "-hash", "-noout", "-in", str(pem)],
        capture_output=True,
        text=True,
        check=True,
        timeout=30,
    ).stdout.strip()
    (directory / f"{digest}.0").write_bytes(pem.read_bytes())


def _encrypt_key(plain: Path, out: Path, password: str) -> None:
    from cryptography.hazmat.primitives import serialization

    key = serialization.load_pem_private_key(plain.read_bytes(), password=None)
    out.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.BestAvailableEncryption(password.encode()),
        )
    )


class Peers:
    """A loop thread running the servers; each is started with :meth:`run` and stopped with
    the thread."""

    def __init__(self) -> None:
        self.loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self._cleanups: list[Awaitable[None]] = []
        self._closers: list[Callable[[], None]] = []

    def __enter__(self) -> Peers:
        self._thread.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        for close in self._closers:
            close()
        for cleanup in reversed(self._cleanups):
            self.run(cleanup)
        self.loop.call_soon_threadsafe(self.loop.stop)
        self._thread.join(timeout=10)
        self.loop.close()

    def run(self, coroutine: Awaitable[T]) -> T:
        async def wrapped() -> T:
            return await coroutine

        return asyncio.run_coroutine_threadsafe(wrapped(), self.loop).result(timeout=30)

    def gateway(self, context: ssl.SSLContext | None) -> TLSGateway:
        gateway = TLSGateway(context)
        self._closers.append(gateway.close)
        return gateway

    def proxy(self, **options: Any) -> ConnectProxy:
        proxy = ConnectProxy(**options)
        self.run(proxy.start())
        self._cleanups.append(proxy.stop())
        return proxy


class TLSGateway:
    """An HTTPS server (the standard library's, a thread per connection) answering the session
    endpoint; records what it was sent.

    Not aiohttp.web: asyncio's TLS server drops a connection whose handshake failed without
    sending the alert, where real servers (nginx, OpenSSL's own) send it; this one sends it,
    so the client sees what it sees in production (``certificate required``).
    """

    def __init__(self, context: ssl.SSLContext | None) -> None:
        self.scheme = "http" if context is None else "https"
        self.requests: list[dict[str, Any]] = []
        self.handshake_errors: list[str] = []
        self._server = _Server(context, self)
        self.port = self._server.server_address[1]
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        self._thread.start()

    def close(self) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=10)

    def url(self, host: str = LOOPBACK) -> str:
        """The API root, with ``host`` as the name the client asks for."""
        return f"{self.scheme}://{host}:{self.port}/api2"


class _Handler(BaseHTTPRequestHandler):
    server: _Server
    protocol_version = "HTTP/1.1"

    def do_GET(self) -> None:
        peer = self.request.getpeercert() if self.server.context is not None else None
        subject = dict(item for rdn in peer["subject"] for item in rdn) if peer else None
        self.server.gateway.requests.append(
            {"path": self.path, "headers": dict(self.headers), "client_cert": subject}
        )
        body = json.dumps(SESSION_JSON).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.send_header("API-Request-Id", "req_net")
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: Any) -> None:
        pass


class _Server(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, context: ssl.SSLContext | None, gateway: TLSGateway) -> None:
        super().__init__((LOOPBACK, 0), _Handler)
        self.context = context
        self.gateway = gateway

    def get_request(self) -> tuple[Any, Any]:
        sock, address = super().get_request()
        sock.settimeout(30)
        if self.context is None:
            return sock, address
        return self.context.wrap_socket(
            sock, server_side=True, do_handshake_on_connect=False
        ), address

    def finish_request(self, request: Any, client_address: Any) -> None:
        try:
            if self.context is not None:
                request.do_handshake()
        except (ssl.SSLError, OSError) as exc:
            self.gateway.handshake_errors.append(str(exc))
            _linger(request)
            return
        super().finish_request(request, client_address)


def _linger(request: Any) -> None:
    """Close a connection whose handshake failed as nginx and Apache do (a lingering close):
    stop writing, then read what the client still sends until it closes. Closing at once with
    the client's unread request in the buffer makes the kernel answer with a reset, which
    can overtake the TLS alert the client needs to read."""
    with contextlib.suppress(OSError):
        raw = socket.socket(fileno=request.detach())
        with raw:
            raw.shutdown(socket.SHUT_WR)
            raw.settimeout(2)
            while raw.recv(65536):
                pass


class ConnectProxy:
    """A forward HTTP proxy (CONNECT tunnels and absolute-form requests) on 127.0.0.1.

    Args:
        hosts: names the proxy resolves itself, to (host, port).
        credentials: ``"user:password"`` the proxy demands (407 without), or None.
    """

    def __init__(
        self, *, hosts: dict[str, tuple[str, int]] | None = None, credentials: str | None = None
    ) -> None:
        self.hosts = dict(hosts or {})
        self.expected = (
            None
            if credentials is None
            else "Basic " + base64.b64encode(credentials.encode()).decode()
        )
        #: Each request as (method, target) in the order they came.
        self.seen: list[tuple[str, str]] = []
        #: The Proxy-Authorization values sent.
        self.authorizations: list[str | None] = []
        self.port = 0
        self._server: asyncio.Server | None = None
        self._tasks: set[asyncio.Task[None]] = set()

    async def start(self) -> None:
        self._server = await asyncio.start_server(self._serve, LOOPBACK, 0)
        self.port = self._server.sockets[0].getsockname()[1]

    async def stop(self) -> None:
        if self._server is not None:
            self._server.close()
            for task in list(self._tasks):
                task.cancel()
            await self._server.wait_closed()

    @property
    def url(self) -> str:
        return f"http://{LOOPBACK}:{self.port}"

    def _resolve(self, host: str, port: int) -> tuple[str, int]:
        return self.hosts.get(host, (host, port))

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        assert task is not None
        self._tasks.add(task)
        try:
            await asyncio.wait_for(self._handle(reader, writer), 30)
        except (OSError, asyncio.IncompleteReadError, asyncio.TimeoutError, ValueError):
            pass
        finally:
            self._tasks.discard(task)
            writer.close()
            with contextlib.suppress(OSError, asyncio.CancelledError):
                await writer.wait_closed()

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        head = await reader.readuntil(b"\r\n\r\n")
        lines = head.decode("latin-1").split("\r\n")
        method, target, _version = lines[0].split(" ", 2)
        headers = {}
        for line in lines[1:]:
            if line:
                name, _, value = line.partition(":")
                headers[name.strip().lower()] = value.strip()
        self.seen.append((method, target))
        self.authorizations.append(headers.get("proxy-authorization"))
        if self.expected is not None and headers.get("proxy-authorization") != self.expected:
            writer.write(
                b"HTTP/1.1 407 Proxy Authentication Required\r\n"
                b'Proxy-Authenticate: Basic realm="test"\r\nContent-Length: 0\r\n\r\n'
            )
            await writer.drain()
            return
        if method == "CONNECT":
            host, _, port = target.rpartition(":")
            up_reader, up_writer = await asyncio.open_connection(*self._resolve(host, int(port)))
            writer.write(b"HTTP/1.1 200 Connection established\r\n\r\n")
            await writer.drain()
            await _pipe_both(reader, writer, up_reader, up_writer)
            return
        # An absolute-form request: relay it to the origin, without the proxy's own header.
        from urllib.parse import urlsplit

        parts = urlsplit(target)
        host, port = self._resolve(parts.hostname or "", parts.port or 80)
        up_reader, up_writer = await asyncio.open_connection(host, port)
        path = parts.path + (f"?{parts.query}" if parts.query else "")
        kept = [
            line
            for line in lines[1:]
            if line and not line.lower().startswith(("proxy-authorization:", "proxy-connection:"))
        ]
        up_writer.write(f"{method} {path} HTTP/1.1\r\n".encode("latin-1"))
        up_writer.write(("\r\n".join(kept) + "\r\n\r\n").encode("latin-1"))
        await _pipe_both(reader, writer, up_reader, up_writer)


async def _pipe_both(
    reader: asyncio.StreamReader,
    writer: asyncio.StreamWriter,
    up_reader: asyncio.StreamReader,
    up_writer: asyncio.StreamWriter,
) -> None:
    async def pipe(source: asyncio.StreamReader, sink: asyncio.StreamWriter) -> None:
        try:
            while chunk := await source.read(65536):
                sink.write(chunk)
                await sink.drain()
        finally:
            with contextlib.suppress(OSError):
                sink.write_eof()

    try:
        await asyncio.gather(pipe(reader, up_writer), pipe(up_reader, writer))
    finally:
        up_writer.close()
