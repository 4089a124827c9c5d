"""``bpcpay listen``: receive webhook deliveries on a local port, verify and print each one, and
optionally forward the verified ones to your app (like ``stripe listen --forward-to``).

Each delivery prints one line: event type, object id, object status, the verdict (``ok`` or
``bad-signature (<reason>)``) and the delivery id; a forwarded one prints a second line with the
app's answer (with its likely cause when it is a redirect, a 404, a 405 or a 500: the wrong
URL, say), which is also what the sender gets back (so the gateway's retries behave as they
would against the app itself). Badly signed deliveries are never forwarded. The secret comes from
``--secret`` or ``BPCPAY_WEBHOOK_SECRET`` and is never printed.

``register`` stays cheap: aiohttp is imported only when the command runs.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import sys
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any, TextIO

from .._constants import DEFAULT_MAX_WEBHOOK_BYTES, REQUEST_ID_HEADER
from ._common import add_command, add_host_option, port_number, refuse, run_server

if TYPE_CHECKING:
    import aiohttp
    from aiohttp import web

__all__ = ["ENV_WEBHOOK_SECRET", "Listener", "register"]

ENV_WEBHOOK_SECRET = "BPCPAY_WEBHOOK_SECRET"  # noqa: S105 (the variable's name, not a secret)

#: Headers that describe one hop, not the delivery; aiohttp sets its own when forwarding.
_HOP_BY_HOP = frozenset(
    {
        "host",
        "content-length",
        "transfer-encoding",
        "connection",
        "keep-alive",
        "expect",
        "upgrade",
        "te",
        "trailer",
        "proxy-connection",
    }
)


def _describe(body: bytes) -> tuple[str, str, str]:
    """(type, object id, object status) read from a body, '-' for what is missing."""
    try:
        data = json.loads(body)
    except (ValueError, UnicodeDecodeError, RecursionError):
        return "-", "-", "-"
    if not isinstance(data, dict):
        return "-", "-", "-"
    obj = data.get("data", {}).get("object", {}) if isinstance(data.get("data"), dict) else {}
    obj = obj if isinstance(obj, dict) else {}

    def text(value: Any) -> str:
        return str(value) if isinstance(value, (str, int)) and str(value) else "-"

    return text(data.get("type")), text(obj.get("id")), text(obj.get("status"))


class Listener:
    """The server behind ``bpcpay listen``; usable in process (tests, notebooks).

    Args:
        secrets: the webhook secret(s) to verify with.
        host: the interface to bind; loopback by default.
        port: 0 picks a free port.
        forward_to: a URL verified deliveries are POSTed to (raw body, original headers).
        out: where the lines go.
        max_bytes: bodies above this are refused with 413.
    """

    def __init__(
        self,
        *,
        secrets: Sequence[str],
        host: str = "127.0.0.1",
        port: int = 0,
        forward_to: str | None = None,
        out: TextIO | None = None,
        max_bytes: int = DEFAULT_MAX_WEBHOOK_BYTES,
    ) -> None:
        if not secrets or not all(secrets):
            raise ValueError("secrets: give at least one non-empty webhook secret")
        self._secrets = list(secrets)
        self.host = host
        self.port = port
        self.forward_to = forward_to
        self._out = out
        self.max_bytes = max_bytes
        self._runner: web.AppRunner | None = None
        self._http: aiohttp.ClientSession | None = None

    def __repr__(self) -> str:
        return f"<Listener {self.url}>"

    @property
    def url(self) -> str:
        """``http://host:port`` (the bound port once started)."""
        return f"http://{self.host}:{self.port}"

    def _print(self, line: str) -> None:
        print(line, file=self._out if self._out is not None else sys.stdout, flush=True)

    async def start(self) -> str:
        """Bind and serve; returns :attr:`url`."""
        import aiohttp
        from aiohttp import web

        app = web.Application()
        app.router.add_route("*", "/{tail:.*}", self._receive)
        runner = web.AppRunner(app, access_log=None, handle_signals=False)
        await runner.setup()
        try:
            site = web.TCPSite(runner, self.host, self.port)
            await site.start()
        except BaseException:
            await runner.cleanup()
            raise
        self._runner = runner
        self.port = runner.addresses[0][1]
        if self.forward_to is not None:
            self._http = aiohttp.ClientSession(
                timeout=aiohttp.ClientTimeout(total=30), cookie_jar=aiohttp.DummyCookieJar()
            )
        return self.url

    async def aclose(self) -> None:
        """Stop serving and close the forwarding session. Idempotent."""
        if self._runner is not None:
            runner, self._runner = self._runner, None
            await runner.cleanup()
        if self._http is not None:
            http, self._http = self._http, None
            await http.close()

    async def __aenter__(self) -> Listener:
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()

    async def _receive(self, request: web.Request) -> web.Response:
        from aiohttp import web

        from ..contrib.aiohttp import read_body
        from ..webhooks import construct_event

        if request.method != "POST":
            return web.Response(status=405, text="POST webhook deliveries here\n")
        request_id = request.headers.get(REQUEST_ID_HEADER, "-")
        body = await read_body(request, self.max_bytes)
        if body is None:
            self._print(f"- - - too-large (over {self.max_bytes} bytes) {request_id}")
            return web.Response(status=413, text="too_large\n")
        event_type, object_id, status = _describe(body)
        try:
            construct_event(body, request.headers, secret=self._secrets, max_bytes=self.max_bytes)
        except ValueError as exc:
            reason = getattr(exc, "reason", "invalid")
            self._print(f"{event_type} {object_id} {status} bad-signature ({reason}) {request_id}")
            return web.Response(status=400, text=f"{reason}\n")
        self._print(f"{event_type} {object_id} {status} ok {request_id}")
        if self.forward_to is None or self._http is None:
            return web.Response(status=200, text="ok\n")
        answer = await self._forward(self._http, self.forward_to, body, request.headers)
        return web.Response(status=answer, text=f"forwarded: {answer}\n")

    async def _forward(
        self, http: aiohttp.ClientSession, target: str, body: bytes, headers: Mapping[str, str]
    ) -> int:
        import aiohttp

        from ..sandbox._webhooks import explain_answer

        kept = {k: v for k, v in headers.items() if k.lower() not in _HOP_BY_HOP}
        try:
            async with http.post(
                target, data=body, headers=kept, allow_redirects=False
            ) as response:
                await response.read()
                status = response.status
                cause = explain_answer(status, target, response.headers.get("Location"))
        except (aiohttp.ClientError, asyncio.TimeoutError) as exc:
            detail = str(exc) or type(exc).__name__
            self._print(f"  -> {target} failed: {detail}")
            return 502
        self._print(f"  -> {target} {status}" + ("" if cause is None else f", {cause}"))
        return status


async def _serve(listener: Listener) -> None:
    url = await listener.start()
    target = f", forwarding to {listener.forward_to}" if listener.forward_to else ""
    listener._print(f"listening on {url}{target} (Ctrl-C to stop)")
    try:
        await asyncio.Event().wait()
    finally:
        await listener.aclose()


def _run(args: argparse.Namespace) -> int:
    secrets = list(args.secret) or [s for s in [os.environ.get(ENV_WEBHOOK_SECRET, "")] if s]
    if not secrets:
        return refuse("listen", f"give --secret or set {ENV_WEBHOOK_SECRET}")
    forward = args.forward_to
    if forward is not None and not forward.startswith(("http://", "https://")):
        return refuse("listen", "--forward-to must be an http(s) URL")
    listener = Listener(
        secrets=secrets,
        host=args.host,
        port=args.port,
        forward_to=forward,
        max_bytes=args.max_bytes,
    )
    return run_server("listen", _serve(listener), where=f" on {args.host}:{args.port}")


def register(subparsers: Any) -> None:
    """Add ``bpcpay listen``."""
    parser = add_command(
        subparsers,
        "listen",
        "receive webhooks locally, verify and print them, optionally forward them",
        "Receive webhook deliveries on a local port, verify each with the secret, print one line "
        "per event, and forward verified ones to --forward-to.",
    )
    parser.add_argument(
        "--port",
        type=port_number,
        default=8080,
        help="the port to receive deliveries on; 0 picks a free one (default: %(default)s)",
    )
    add_host_option(parser, "127.0.0.1")
    parser.add_argument(
        "--secret",
        action="append",
        default=[],
        help="the webhook secret to verify with; repeat while rotating "
        f"(default: ${ENV_WEBHOOK_SECRET})",
    )
    parser.add_argument(
        "--forward-to",
        metavar="URL",
        help="POST each verified delivery to this URL, e.g. your app's endpoint, and answer with "
        "its status (default: none: verify and print only)",
    )
    parser.add_argument(
        "--max-bytes",
        type=int,
        default=DEFAULT_MAX_WEBHOOK_BYTES,
        metavar="BYTES",
        help="refuse a larger body with 413 (default: %(default)s)",
    )
    parser.set_defaults(handler=_run)
