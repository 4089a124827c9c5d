"""A hostile gateway: one raw asyncio socket server on 127.0.0.1 that misbehaves on purpose.

The first path segment picks the misbehaviour: a client built with ``base_url=gw.url(mode)``
(``http://127.0.0.1:<port>/<mode>/api2``) meets it on every call. Everything else about a
request is recorded as it arrived on the wire (the raw request line and header block), so tests
can check what really left the client, and a second listener, the "trap", stands for another
host that a redirect points to: it records every connection and answers nothing useful.

The server never streams without end: bodies stop after ``MAX_STREAM`` bytes and trickles after
``MAX_TRICKLE`` seconds, so a client that does not defend itself fails its test (too slow, too
big) instead of taking the machine down. Everything binds 127.0.0.1 on ephemeral ports.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import socket
import struct
import threading
import time
import zlib
from collections.abc import Awaitable, Callable, Iterator
from typing import Any
from urllib.parse import quote

import attrs

LOOPBACK = "127.0.0.1"
#: The most body bytes any mode sends; far above the client's limit, far below harm.
MAX_STREAM = 256 * 1024 * 1024
#: The longest any trickle lasts.
MAX_TRICKLE = 20.0
#: Seconds between trickled bytes.
TRICKLE_EVERY = 0.05
#: How much a gzip bomb inflates to.
BOMB_INFLATED = 256 * 1024 * 1024

SESSION = {
    "id": "ps_hostile",
    "amount": 1000,
    "currency": "EUR",
    "status": "open",
    "paymentStatus": "unpaid",
    "created": "2024-03-28T08:26:37Z",
}


def gzip_bomb(inflated: int = BOMB_INFLATED) -> bytes:
    """A valid gzip member of ``inflated`` zero bytes (about 1/1000 of that on the wire).

    Built without compressing the whole of it: after a full flush the deflate state is reset,
    so every further 1 MiB block of zeros compresses to the same bytes.
    """
    block = bytes(1 << 20)
    blocks = inflated // len(block)
    compressor = zlib.compressobj(9, zlib.DEFLATED, -15)
    first = compressor.compress(block) + compressor.flush(zlib.Z_FULL_FLUSH)
    steady = compressor.compress(block) + compressor.flush(zlib.Z_FULL_FLUSH)
    tail = compressor.flush(zlib.Z_FINISH)
    crc = 0
    for _ in range(blocks):
        crc = zlib.crc32(block, crc)
    header = b"\x1f\x8b\x08\x00\x00\x00\x00\x00\x02\xff"
    trailer = struct.pack("<II", crc, (blocks * len(block)) & 0xFFFFFFFF)
    return header + first + steady * (blocks - 1) + tail + trailer


@attrs.frozen
class Received:
    """One request as it arrived: ``line`` is the raw request line, ``head`` the header block."""

    listener: str
    line: str
    head: str
    headers: dict[str, str]
    body: bytes

    @property
    def target(self) -> str:
        """The request target exactly as sent (``/mode/api2/sessions/...``)."""
        return self.line.split(" ")[1]


Handler = Callable[["HostileGateway", asyncio.StreamWriter, Received], Awaitable[bool]]


def _response(status: str, headers: dict[str, str], body: bytes = b"") -> bytes:
    """A status line, the headers as given (no Content-Length added), and the body."""
    lines = [f"HTTP/1.1 {status}"] + [f"{k}: {v}" for k, v in headers.items()]
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1") + body


def _answer(status: str, content_type: str, body: bytes, **extra: str) -> bytes:
    """A whole answer with its Content-Type and a true Content-Length."""
    headers = {"Content-Type": content_type, "Content-Length": str(len(body)), **extra}
    return _response(status, headers, body)


def _json(status: str, obj: Any, **extra: str) -> bytes:
    return _answer(status, "application/json", json.dumps(obj).encode(), **extra)


async def _stream(writer: asyncio.StreamWriter, chunk: bytes, *, chunked: bool) -> None:
    """Write ``chunk`` again and again, as fast as the peer reads, up to MAX_STREAM bytes."""
    frame = f"{len(chunk):x}\r\n".encode() + chunk + b"\r\n" if chunked else chunk
    sent = 0
    while sent < MAX_STREAM:
        writer.write(frame)
        await writer.drain()
        sent += len(chunk)
    if chunked:
        writer.write(b"0\r\n\r\n")
        await writer.drain()


async def _trickle(writer: asyncio.StreamWriter, byte: bytes) -> None:
    deadline = time.monotonic() + MAX_TRICKLE
    while time.monotonic() < deadline:
        writer.write(byte)
        await writer.drain()
        await asyncio.sleep(TRICKLE_EVERY)


# --- the modes: each answers one request and says whether the connection may be reused ---------


async def ok(gw: HostileGateway, writer: asyncio.StreamWriter, req: Received) -> bool:
    """A well-behaved answer (a valid session), for the calls that set a scene."""
    writer.write(_json("200 OK", SESSION, **{"API-Request-Id": "req_ok"}))
    return True


async def trickle_headers(gw: HostileGateway, writer: asyncio.StreamWriter, req: Received) -> bool:
    """The status line, then one header byte every TRICKLE_EVERY seconds."""
    writer.write(b"HTTP/1.1 200 OK\r\nX-Slow: ")
    await _trickle(writer, b"a")
    return False


async def trickle_body(gw: HostileGateway, writer: asyncio.StreamWriter, req: Received) -> bool:
    """Headers at once, then the body one byte every TRICKLE_EVERY seconds."""
    writer.write(
        _response("200 OK", {"Content-Type": "application/json", "Content-Length": "4096"})
    )
    await _trickle(writer, b" ")
    return False


async def trickle_until_close(
    gw: HostileGateway, writer: asyncio.StreamWriter, req: Received
) -> bool:
    """Headers at once, no length (the body ends when the connection does), then the body one
    byte every TRICKLE_EVERY seconds: a client that closes the connection to stop reading must
    not take what it read by then for the whole answer."""
    writer.write(_response("200 OK", {"Content-Type": "application/json", "Connection": "close"}))
    await _trickle(writer, b" ")
    return False


async def endless_body(gw: HostileGateway, writer: asyncio.StreamWriter, req: Received) -> bool:
    """A chunked body that goes on (up to MAX_STREAM)."""
    headers = {"Content-Type": "application/json", "Transfer-Encoding": "chunked"}
    writer.write(_response("200 OK", headers))
    await _stream(writer, b" " * 65536, chunked=True)
    return False


async def huge_length(gw: HostileGateway, writer: asyncio.StreamWriter, req: Received) -> bool:
    """``Content-Length: 10 GB``, then bytes for as long as the client reads (up to MAX_STREAM)."""
    headers = {"Content-Type": "application/json", "Content-Length": str(10 * 10**9)}
    writer.write(_response("200 OK", headers))
    await _stream(writer, b" " * 65536, chunked=False)
    return False


async def bomb(gw: HostileGateway, writer: asyncio.StreamWriter, req: Received) -> bool:
    """A small gzip body that inflates to BOMB_INFLATED bytes."""
    writer.write(_answer("200 OK", "application/json", gw.bomb, **{"Content-Encoding": "gzip"}))
    return True


async def redirect(gw: HostileGateway, writer: asyncio.StreamWriter, req: Received) -> bool:
    """307 (keeps method, body and, if followed, headers) to the trap listener."""
    location = f"{gw.trap_url}{req.target}"
    writer.write(_response("307 Temporary Redirect", {"Location": location, "Content-Length": "0"}))
    return True


async def reset_mid_body(gw: HostileGateway, writer: asyncio.StreamWriter, req: Received) -> bool:
    """Promise 1000 bytes, send 100, then reset the connection (RST, not FIN)."""
    headers = {"Content-Type": "application/json", "Content-Length": "1000"}
    writer.write(_response("200 OK", headers, b"{" + b" " * 99))
    await writer.drain()
    sock = writer.get_extra_info("socket")
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    writer.transport.abort()
    return False


async def invalid_json(gw: HostileGateway, writer: asyncio.StreamWriter, req: Received) -> bool:
    """200, application/json, and a body cut in the middle of an object."""
    writer.write(_answer("200 OK", "application/json", b'{"id": "ps_hostile", "amount": 10'))
    return True


async def wrong_content_type(
    gw: HostileGateway, writer: asyncio.StreamWriter, req: Received
) -> bool:
    """200 with an HTML page (a captive portal, a proxy's login page)."""
    body = b"<!doctype html><html><body>Please log in to the Wi-Fi</body></html>"
    writer.write(_answer("200 OK", "text/html; charset=utf-8", body))
    return True


async def error_200(gw: HostileGateway, writer: asyncio.StreamWriter, req: Received) -> bool:
    """200 OK whose body is an error object."""
    error = {"error": {"type": "api_error", "code": "E_BACKEND", "message": "backend unavailable"}}
    writer.write(_json("200 OK", error, **{"API-Request-Id": "req_error_200"}))
    return True


async def html_404(gw: HostileGateway, writer: asyncio.StreamWriter, req: Received) -> bool:
    """404 with a web server's HTML page: what a base URL without ``/api2`` meets."""
    body = b"<html><head><title>404 Not Found</title></head><body>Not Found</body></html>"
    writer.write(_answer("404 Not Found", "text/html", body))
    return True


async def echo_key(gw: HostileGateway, writer: asyncio.StreamWriter, req: Received) -> bool:
    """401 that echoes the API key back in every form: raw (headers, request id), JSON-escaped
    (``\\uXXXX``, ``\\"``, ``\\/``) and URL-encoded, in a body that is valid JSON."""
    key = req.headers.get("x-api-key", "")
    unicode_escaped = "".join(f"\\u{ord(c):04X}" for c in key)
    json_escaped = json.dumps(key)[1:-1].replace("/", "\\/")
    body = (
        '{"error": {"message": "invalid key '
        + unicode_escaped
        + '", "code": "'
        + quote(key, safe="")
        + '", "param": "'
        + json_escaped
        + '"}}'
    ).encode()
    json.loads(body)  # valid JSON: the gateway's message is read, and must be scrubbed
    echoes = {"X-Echo": key, "X-Echo-Encoded": quote(key, safe=""), "API-Request-Id": f"req_{key}"}
    writer.write(_answer("401 Unauthorized", "application/json", body, **echoes))
    return True


async def echo_key_200(gw: HostileGateway, writer: asyncio.StreamWriter, req: Received) -> bool:
    """200 whose (invalid) body and headers echo the key."""
    key = req.headers.get("x-api-key", "")
    body = f"not json: {key} {quote(key, safe='')}".encode()
    echoes = {"X-Echo": key, "API-Request-Id": f"req_{key}"}
    writer.write(_answer("200 OK", "text/plain", body, **echoes))
    return True


async def server_error(gw: HostileGateway, writer: asyncio.StreamWriter, req: Received) -> bool:
    """A plain 500 with a JSON error, as a gateway's failing backend sends it."""
    error = {"error": {"type": "api_error", "code": "E_INTERNAL", "message": "internal error"}}
    writer.write(_json("500 Internal Server Error", error, **{"API-Request-Id": "req_500"}))
    return True


async def bad_status_line(gw: HostileGateway, writer: asyncio.StreamWriter, req: Received) -> bool:
    """A status line that is not HTTP: aiohttp cannot parse the answer."""
    writer.write(b"HTTP/1.1 two-hundred OK\r\nContent-Length: 2\r\n\r\n{}")
    return False


async def conflicting_length(
    gw: HostileGateway, writer: asyncio.StreamWriter, req: Received
) -> bool:
    """Two Content-Length headers that disagree (a request-smuggling shape)."""
    headers = {"Content-Type": "application/json", "Content-Length": "2", "content-length": "9"}
    writer.write(_response("200 OK", headers, b"{}"))
    return False


async def bad_chunk(gw: HostileGateway, writer: asyncio.StreamWriter, req: Received) -> bool:
    """A chunked body whose chunk size is not hexadecimal."""
    headers = {"Content-Type": "application/json", "Transfer-Encoding": "chunked"}
    writer.write(_response("200 OK", headers, b"zz\r\n{}\r\n0\r\n\r\n"))
    return False


MODES: dict[str, Handler] = {
    handler.__name__: handler
    for handler in (
        ok,
        trickle_headers,
        trickle_body,
        trickle_until_close,
        endless_body,
        huge_length,
        bomb,
        redirect,
        reset_mid_body,
        invalid_json,
        wrong_content_type,
        error_200,
        html_404,
        echo_key,
        echo_key_200,
        server_error,
        bad_status_line,
        conflicting_length,
        bad_chunk,
    )
}


class HostileGateway:
    """The server, on its own event loop in a daemon thread. Use as a context manager."""

    def __init__(self) -> None:
        self.received: list[Received] = []
        self.bomb = gzip_bomb()
        self.port = 0
        self.trap_port = 0
        #: Connections open right now, per listener (server side).
        self.open: dict[str, int] = {"main": 0, "trap": 0}
        self._loop = asyncio.new_event_loop()
        self._servers: list[asyncio.Server] = []
        self._thread = threading.Thread(target=self._loop.run_forever, name="hostile", daemon=True)

    def url(self, mode: str) -> str:
        """The base URL that meets ``mode`` on every call."""
        assert mode in MODES, mode
        return f"http://{LOOPBACK}:{self.port}/{mode}/api2"

    @property
    def trap_url(self) -> str:
        """Another origin, where redirects point."""
        return f"http://{LOOPBACK}:{self.trap_port}"

    def requests_to(self, listener: str) -> list[Received]:
        return [r for r in list(self.received) if r.listener == listener]

    def __enter__(self) -> HostileGateway:
        self._thread.start()
        future = asyncio.run_coroutine_threadsafe(self._start(), self._loop)
        future.result(timeout=10)
        return self

    def __exit__(self, *exc_info: object) -> None:
        future = asyncio.run_coroutine_threadsafe(self._stop(), self._loop)
        future.result(timeout=10)
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(timeout=10)
        self._loop.close()

    async def _start(self) -> None:
        main = await asyncio.start_server(
            lambda r, w: self._serve(r, w, "main"), LOOPBACK, 0, limit=65536
        )
        trap = await asyncio.start_server(
            lambda r, w: self._serve(r, w, "trap"), LOOPBACK, 0, limit=65536
        )
        self._servers = [main, trap]
        self.port = main.sockets[0].getsockname()[1]
        self.trap_port = trap.sockets[0].getsockname()[1]

    async def _stop(self) -> None:
        for server in self._servers:
            server.close()
        current = asyncio.current_task()
        tasks = [t for t in asyncio.all_tasks() if t is not current]
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        for server in self._servers:
            await server.wait_closed()

    async def _serve(
        self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter, listener: str
    ) -> None:
        self.open[listener] += 1
        try:
            while True:
                head = (await reader.readuntil(b"\r\n\r\n")).decode("latin-1")
                line, *fields = head.rstrip("\r\n").split("\r\n")
                headers = {}
                for field in fields:
                    name, _, value = field.partition(":")
                    headers[name.strip().lower()] = value.strip()
                body = await reader.readexactly(int(headers.get("content-length", "0")))
                req = Received(listener, line, head, headers, body)
                self.received.append(req)
                if listener == "trap":
                    writer.write(_json("418 I'm a teapot", {"error": "the trap"}))
                    await writer.drain()
                    break
                mode = req.target.split("/")[1]
                handler = MODES.get(mode, ok)
                keep = await handler(self, writer, req)
                await writer.drain()
                if not keep:
                    break
        except (asyncio.IncompleteReadError, asyncio.LimitOverrunError, ConnectionError):
            pass
        finally:
            self.open[listener] -= 1
            with contextlib.suppress(Exception):
                writer.close()


@contextlib.contextmanager
def hostile_gateway() -> Iterator[HostileGateway]:
    """Run a HostileGateway for the block's duration."""
    with HostileGateway() as gw:
        yield gw
