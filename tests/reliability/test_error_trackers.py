"""What error trackers read never holds a secret: the API key, a webhook secret, a store password.

Shops run Sentry, Rollbar, rich or structlog tracebacks with locals, and debuggers; they read
the local variables of every frame an exception passed through, and every exception chained to
it. For each kind of error (a plain 500, connection refused, read timeout, a dropped
connection, a malformed status line, conflicting Content-Length headers, a bad chunk, a 401
and a 200 that echo the key, a webhook signature mismatch, a store outage), met by
``AsyncBpcPay`` (with its own session and with a lent one), ``BpcPay`` and the webhook paths
(``sign``, ``verify_signature``, ``construct_event``, the router's ``handle`` and
``handle_sync``, the adapters, the stores), three readers look at the error (``_trackers.py``):
sentry-sdk on its defaults, ``TracebackException(capture_locals=True)``, and the reprs of the
exception chain. None may show a secret, whole or any 12-character piece of it.

The gateway's misbehaviours come from the hostile socket server (``_hostile_server.py``); the
stores fail against closed loopback ports and against real Redis and PostgreSQL servers that
refuse the credentials. ``test_each_reader_finds_a_planted_leak`` shows that each reader does
find a secret where one is.
"""

from __future__ import annotations

import asyncio
import contextlib
import io
import json
import traceback
from collections.abc import Callable, Iterator
from typing import Any

import aiohttp
import pytest
from _hostile_server import HostileGateway
from _rel_support import LOOPBACK, refusing_port
from _trackers import (
    API_KEY,
    STORE_PASSWORD,
    WEBHOOK_SECRET,
    Trackers,
    all_checks,
    chain_text,
    frames_of,
    leaks,
    no_leaks,
    traceback_text,
)
from aiohttp import web

import bpcpay
from bpcpay import AsyncBpcPay, BpcPay, Timeout, webhooks
from bpcpay.webhooks import WebhookRouter

pytestmark = pytest.mark.filterwarnings("error")

#: Short: the read timeout case ends in a fraction of a second.
TIMEOUT = Timeout(connect=2.0, read=0.3)
URLS = {"success_url": "https://shop.example/ok", "failure_url": "https://shop.example/ko"}

#: Each kind of error a call can meet: the hostile server's mode (None: a refusing port) and
#: the error class it must end in.
CALL_ERRORS: dict[str, tuple[str | None, type[bpcpay.BpcPayError]]] = {
    "500": ("server_error", bpcpay.InternalServerError),
    "refused": (None, bpcpay.APIConnectionError),
    "read timeout": ("trickle_body", bpcpay.APITimeoutError),
    "dropped connection": ("reset_mid_body", bpcpay.APIConnectionError),
    "malformed status line": ("bad_status_line", bpcpay.APIConnectionError),
    "conflicting Content-Length": ("conflicting_length", bpcpay.APIConnectionError),
    "bad chunk": ("bad_chunk", bpcpay.APIConnectionError),
    "401 echoing the key": ("echo_key", bpcpay.AuthenticationError),
    "200 echoing the key": ("echo_key_200", bpcpay.APIResponseValidationError),
}
CLIENTS = ["async", "async, lent session", "sync"]


@pytest.fixture(scope="module")
def trackers() -> Iterator[Trackers]:
    with Trackers() as t:
        yield t


@pytest.fixture
def tracked(trackers: Trackers) -> Trackers:
    trackers.clear()
    return trackers


@pytest.fixture(scope="module")
def hostile() -> Iterator[HostileGateway]:
    with HostileGateway() as gw:
        yield gw


@contextlib.contextmanager
def base_url_for(hostile: HostileGateway, mode: str | None) -> Iterator[str]:
    if mode is None:
        with refusing_port() as port:
            yield f"http://{LOOPBACK}:{port}/api2"
    else:
        yield hostile.url(mode)


def _call(client: Any, method: str) -> Any:
    if method == "GET":
        return client.sessions.retrieve("ps_hostile")
    return client.sessions.create(
        amount=1000, currency="EUR", merchant_reference_id="order-7", **URLS
    )


# The key is a module global, never a local of the frames below: the frames that catch the
# error are in its traceback too, and must not be the ones that leak.


async def _async_error(base_url: str, method: str, lent: bool) -> BaseException:
    async with contextlib.AsyncExitStack() as stack:
        session = await stack.enter_async_context(aiohttp.ClientSession()) if lent else None
        client = await stack.enter_async_context(
            AsyncBpcPay(
                api_key=API_KEY, base_url=base_url, max_retries=0, timeout=TIMEOUT, session=session
            )
        )
        try:
            await _call(client, method)
        except bpcpay.BpcPayError as exc:
            return exc
    raise AssertionError("the call did not fail")


def _sync_error(base_url: str, method: str) -> BaseException:
    with BpcPay(api_key=API_KEY, base_url=base_url, max_retries=0, timeout=TIMEOUT) as client:
        try:
            _call(client, method)
        except bpcpay.BpcPayError as exc:
            return exc
    raise AssertionError("the call did not fail")


def call_error(base_url: str, client: str, method: str) -> BaseException:
    if client == "sync":
        return _sync_error(base_url, method)
    return asyncio.run(_async_error(base_url, method, lent=client != "async"))


@pytest.mark.parametrize("method", ["GET", "POST"])
@pytest.mark.parametrize("client", CLIENTS)
@pytest.mark.parametrize("kind", list(CALL_ERRORS))
def test_a_failed_call_shows_trackers_no_key(
    tracked: Trackers, hostile: HostileGateway, kind: str, client: str, method: str
) -> None:
    mode, expected = CALL_ERRORS[kind]
    with base_url_for(hostile, mode) as base_url:
        err = call_error(base_url, client, method)
    assert isinstance(err, expected), repr(err)
    found = all_checks(tracked, err)
    assert no_leaks(found), (kind, client, method, found)


@pytest.mark.parametrize("client", ["async", "async, lent session"])
def test_a_callers_own_timeout_shows_trackers_no_key(
    tracked: Trackers, hostile: HostileGateway, client: str
) -> None:
    """The caller's own deadline (``wait_for``, ``asyncio.timeout``) cancels the call while
    aiohttp waits for the status line, in the frame that holds the request's headers; the
    TimeoutError it raises chains the cancellation, which must not carry that frame."""

    async def main() -> BaseException:
        async with contextlib.AsyncExitStack() as stack:
            session = None
            if client != "async":
                session = await stack.enter_async_context(aiohttp.ClientSession())
            bpc = await stack.enter_async_context(
                AsyncBpcPay(
                    api_key=API_KEY,
                    base_url=hostile.url("trickle_headers"),
                    max_retries=0,
                    timeout=Timeout(connect=2, read=10),
                    session=session,
                )
            )
            try:
                await asyncio.wait_for(_call(bpc, "GET"), 0.3)
            except asyncio.TimeoutError as exc:
                return exc
        raise AssertionError("no timeout")

    err = asyncio.run(main())
    assert isinstance(err.__cause__ or err.__context__, asyncio.CancelledError), repr(err)
    found = all_checks(tracked, err)
    assert no_leaks(found), (client, found)


def test_a_failed_call_keeps_its_data_and_drops_aiohttp(
    tracked: Trackers, hostile: HostileGateway
) -> None:
    """The error bpcpay raises carries no aiohttp exception and no frame below its transport;
    what aiohttp said is kept, scrubbed, as data; the error still pickles."""
    import pickle

    err = call_error(hostile.url("bad_status_line"), "async", "GET")
    assert isinstance(err, bpcpay.APIConnectionError)
    assert err.__cause__ is None and err.__context__ is None
    assert not any(name.startswith("aiohttp.") for name in frames_of(err)), frames_of(err)
    assert err.transport_error == "ClientResponseError"
    assert "Invalid status code" in (err.transport_message or ""), err.transport_message
    copy = pickle.loads(pickle.dumps(err))
    assert (copy.transport_error, copy.transport_message) == (
        err.transport_error,
        err.transport_message,
    )
    assert str(copy) == str(err)

    echoed = call_error(hostile.url("echo_key"), "sync", "GET")
    assert isinstance(echoed, bpcpay.AuthenticationError)
    assert echoed.status_code == 401 and echoed.request_id == "req_[redacted]"
    assert b"[redacted]" in echoed.body and echoed.headers["x-echo"] == "[redacted]"
    assert pickle.loads(pickle.dumps(echoed)).body == echoed.body


# --- refused options: the error leaves through the constructors' frames -----------------------

#: Options the constructors refuse, each given beside a secret: the API key (given, or read
#: from BPCPAY_API_KEY), a proxy URL's password, a client key's password (the store password
#: of the suite stands in for those two). The generated sync constructor passes its arguments
#: on to AsyncBpcPay: its frame, which the error leaves through too, must hold them in Secrets.
REFUSED_OPTIONS: dict[str, Callable[[type[Any]], Any]] = {
    "a bad timeout beside the key": lambda cls: cls(api_key=API_KEY, timeout=-1),
    "a key with a line break": lambda cls: cls(api_key=API_KEY + "\n"),
    "a bad base_url beside the key from BPCPAY_API_KEY": lambda cls: cls(base_url="ftp://x"),
    "a bad option beside a proxy password": lambda cls: cls(
        api_key=API_KEY, proxy=f"http://shop:{STORE_PASSWORD}@127.0.0.1:3128", max_retries=-1
    ),
    "a bad proxy URL with a password": lambda cls: cls(
        api_key=API_KEY, proxy=f"socks5://shop:{STORE_PASSWORD}@127.0.0.1:1080"
    ),
    "a missing client certificate beside its key's password": lambda cls: cls(
        api_key=API_KEY,
        client_cert=("/nonexistent/cert.pem", "/nonexistent/key.pem", STORE_PASSWORD),
    ),
}


@pytest.mark.parametrize("cls", [AsyncBpcPay, BpcPay], ids=["async", "sync"])
@pytest.mark.parametrize("case", list(REFUSED_OPTIONS))
def test_a_refused_option_shows_trackers_no_secret(
    tracked: Trackers, monkeypatch: pytest.MonkeyPatch, cls: type[Any], case: str
) -> None:
    monkeypatch.setenv("BPCPAY_API_KEY", API_KEY)
    err = _raised(lambda: REFUSED_OPTIONS[case](cls))
    assert isinstance(err, bpcpay.InvalidArgumentError), repr(err)
    if cls is BpcPay:  # the generated constructor's frame is among those the error left
        assert "bpcpay._sync._client.__init__" in frames_of(err), frames_of(err)
    found = all_checks(tracked, err)
    assert no_leaks(found), (case, found)


@pytest.mark.parametrize("client", ["async", "sync"])
def test_refused_extra_headers_show_trackers_no_key(tracked: Trackers, client: str) -> None:
    """A call's extra headers are refused in the frame that builds the request, beside the
    client's own headers (the key among them): none of them may be in a local there."""
    bad = {"X-Shop": "a\r\nb"}
    if client == "sync":
        with BpcPay(api_key=API_KEY) as sync:
            err = _raised(lambda: sync.sessions.retrieve("ps_1", extra_headers=bad))
    else:

        async def main() -> BaseException:
            async with AsyncBpcPay(api_key=API_KEY) as bpc:
                try:
                    await bpc.sessions.retrieve("ps_1", extra_headers=bad)
                except bpcpay.BpcPayError as exc:
                    return exc
            raise AssertionError("no error")

        err = asyncio.run(main())
    assert isinstance(err, bpcpay.InvalidArgumentError) and err.argument == "extra_headers"
    found = all_checks(tracked, err)
    assert no_leaks(found), (client, found)


# --- webhooks: sign, verify, construct, the router, the adapters ------------------------------

BODY = json.dumps(
    {
        "created": "2024-03-28T08:26:37Z",
        "type": "payment.succeeded",
        "data": {
            "object": {
                "id": "pay_tracked",
                "amount": 1000,
                "currency": "EUR",
                "status": "succeeded",
                "created": "2024-03-28T08:26:37Z",
            }
        },
    }
).encode()
OTHER_SECRET = "whsec_other_not_the_one"
FORGED = {"X-Signature": webhooks.sign(BODY, OTHER_SECRET), "Content-Type": "application/json"}


def _raised(fn: Callable[[], Any]) -> BaseException:
    try:
        fn()
    except Exception as exc:
        return exc
    raise AssertionError("no error")


WEBHOOK_ERRORS: dict[str, Callable[[], Any]] = {
    "sign, a payload that is not bytes": lambda: webhooks.sign(12345, WEBHOOK_SECRET),  # type: ignore[arg-type]
    "verify_signature, a mismatch": lambda: webhooks.verify_signature(
        BODY, signature=FORGED["X-Signature"], secret=WEBHOOK_SECRET
    ),
    "construct_event, a mismatch": lambda: webhooks.construct_event(
        BODY, FORGED, secret=WEBHOOK_SECRET
    ),
    "construct_event, two secrets (rotation), a mismatch": lambda: webhooks.construct_event(
        BODY, FORGED, secret=[WEBHOOK_SECRET, API_KEY]
    ),
    "construct_event, signed but not JSON": lambda: webhooks.construct_event(
        b"not json",
        {"X-Signature": webhooks.sign(b"not json", WEBHOOK_SECRET)},
        secret=WEBHOOK_SECRET,
    ),
    "client.webhooks.construct_event, a mismatch": lambda: AsyncBpcPay(
        api_key=API_KEY
    ).webhooks.construct_event(BODY, FORGED, secret=WEBHOOK_SECRET),
}


@pytest.mark.parametrize("path", list(WEBHOOK_ERRORS))
def test_a_webhook_error_shows_trackers_no_secret(tracked: Trackers, path: str) -> None:
    err = _raised(WEBHOOK_ERRORS[path])
    assert isinstance(err, bpcpay.SignatureVerificationError), repr(err)
    found = all_checks(tracked, err)
    assert no_leaks(found), (path, found)


def _signed() -> dict[str, str]:
    return {"X-Signature": webhooks.sign(BODY, WEBHOOK_SECRET), "Content-Type": "application/json"}


class StackReader:
    """A handler that reads its whole stack with locals (as a debugger or a tracker attaching
    the stack does: the router's and the adapter's frames above it included), then raises."""

    def __init__(self) -> None:
        self.stacks: list[str] = []

    def __call__(self, event: Any) -> None:
        stack = traceback.StackSummary.extract(traceback.walk_stack(None), capture_locals=True)
        self.stacks.append("".join(stack.format()))
        raise RuntimeError("the handler failed")

    async def run_async(self, event: Any) -> None:
        """The same, as an async handler (the async driver runs it on the loop, below its own
        frames; a sync one would run in a worker thread, below none of them)."""
        self(event)


@pytest.mark.parametrize("driver", ["handle", "handle_sync"])
def test_the_router_shows_trackers_no_secret(tracked: Trackers, driver: str) -> None:
    reader = StackReader()
    router = WebhookRouter(secret=[WEBHOOK_SECRET, "whsec_older_one_rotating"])
    router.on("payment.succeeded")(reader.run_async if driver == "handle" else reader)

    def deliver(headers: dict[str, str]) -> Any:
        if driver == "handle":
            return asyncio.run(router.handle(BODY, headers))
        return router.handle_sync(BODY, headers)

    forged = deliver(FORGED)
    assert forged.status == 400 and forged.error is not None
    failed = deliver(_signed())
    assert failed.status == 500 and isinstance(failed.error, RuntimeError)
    assert reader.stacks and f"in {driver}\n" in reader.stacks[0], reader.stacks[0]
    for what, err in (("mismatch", forged.error), ("handler error", failed.error)):
        tracked.clear()
        found = all_checks(tracked, err)
        assert no_leaks(found), (driver, what, found)
    assert leaks(reader.stacks[0]) == {}, reader.stacks[0]
    assert leaks(repr(router)) == {}


def _adapter_apps(router: WebhookRouter) -> dict[str, Callable[[dict[str, str]], Any]]:
    from bpcpay.contrib.asgi import WebhookASGIApp
    from bpcpay.contrib.wsgi import WebhookWSGIApp

    def wsgi(headers: dict[str, str]) -> int:
        app = WebhookWSGIApp(router)
        environ = {
            "REQUEST_METHOD": "POST",
            "PATH_INFO": "/hook",
            "CONTENT_LENGTH": str(len(BODY)),
            "wsgi.input": io.BytesIO(BODY),
        }
        for name, value in headers.items():
            key = name.upper().replace("-", "_")
            environ[key if key == "CONTENT_TYPE" else f"HTTP_{key}"] = value
        statuses: list[str] = []
        b"".join(app(environ, lambda status, _headers, *_: statuses.append(status)))
        return int(statuses[0].split()[0])

    def asgi(headers: dict[str, str]) -> int:
        app = WebhookASGIApp(router)
        sent: list[dict[str, Any]] = []
        scope = {
            "type": "http",
            "method": "POST",
            "path": "/hook",
            "headers": [(k.lower().encode(), v.encode()) for k, v in headers.items()],
        }

        async def receive() -> dict[str, Any]:
            return {"type": "http.request", "body": BODY, "more_body": False}

        async def send(message: dict[str, Any]) -> None:
            sent.append(message)

        asyncio.run(app(scope, receive, send))
        return int(sent[0]["status"])

    def aiohttp_app(headers: dict[str, str]) -> int:
        from bpcpay.contrib.aiohttp import setup_webhooks

        async def main() -> int:
            app = web.Application()
            setup_webhooks(app, router, path="/hook")
            runner = web.AppRunner(app, access_log=None)
            await runner.setup()
            site = web.TCPSite(runner, LOOPBACK, 0)
            await site.start()
            port = runner.addresses[0][1]
            try:
                async with aiohttp.ClientSession() as session:
                    url = f"http://{LOOPBACK}:{port}/hook"
                    async with session.post(url, data=BODY, headers=headers) as answer:
                        return answer.status
            finally:
                await runner.cleanup()

        return asyncio.run(main())

    return {"wsgi": wsgi, "asgi": asgi, "aiohttp": aiohttp_app}


@pytest.mark.parametrize("adapter", ["wsgi", "asgi", "aiohttp"])
def test_the_adapters_show_trackers_no_secret(tracked: Trackers, adapter: str) -> None:
    reader = StackReader()
    router = WebhookRouter(secret=WEBHOOK_SECRET)
    router.on("payment.succeeded")(reader)
    deliver = _adapter_apps(router)[adapter]
    assert deliver(FORGED) == 400
    assert deliver(_signed()) == 500
    sent = tracked.sent()
    assert "the handler failed" in sent  # the router's error log became an event
    assert leaks(sent) == {}, sent
    assert reader.stacks and leaks(reader.stacks[0]) == {}, reader.stacks[0]


# --- stores: an outage with a password in the URL or DSN --------------------------------------


def _closed_port() -> int:
    with refusing_port() as port:
        return port


def _store(kind: str, where: str, request: pytest.FixtureRequest) -> Any:
    from bpcpay.webhooks import (
        AsyncPostgresDeliveryStore,
        AsyncRedisDeliveryStore,
        PostgresDeliveryStore,
        RedisDeliveryStore,
    )

    if kind.startswith("redis"):
        if where == "closed port":
            url = f"redis://:{STORE_PASSWORD}@{LOOPBACK}:{_closed_port()}/0"
        else:  # a real server with no password set refuses AUTH
            server = request.getfixturevalue("redis_server")
            url = f"redis://tracked:{STORE_PASSWORD}@{LOOPBACK}:{server.port}/0"
        cls = AsyncRedisDeliveryStore if kind.endswith("async") else RedisDeliveryStore
        return cls(url, timeout=2)
    if where == "closed port":
        dsn = f"postgresql://shop:{STORE_PASSWORD}@{LOOPBACK}:{_closed_port()}/shop"
    else:  # a real server refuses a role it does not know
        server = request.getfixturevalue("postgres_server")
        dsn = f"postgresql://intruder:{STORE_PASSWORD}@{LOOPBACK}:{server.port}/postgres"
    cls = AsyncPostgresDeliveryStore if kind.endswith("async") else PostgresDeliveryStore
    return cls(dsn, timeout=2)


#: Each store and where its outage comes from: a closed port, or a real server refusing the
#: credentials (whose driver's own frames hold them: the store's error leaves without them).
STORE_OUTAGES = [
    ("redis", "closed port"),
    ("redis-async", "closed port"),
    ("redis", "refusing server"),
    ("redis-async", "refusing server"),
    ("postgres", "closed port"),
    ("postgres-async", "closed port"),
    ("postgres", "refusing server"),
    ("postgres-async", "refusing server"),
]


@pytest.mark.parametrize(("kind", "where"), STORE_OUTAGES)
def test_a_store_outage_shows_trackers_no_password(
    tracked: Trackers, request: pytest.FixtureRequest, kind: str, where: str
) -> None:
    store = _store(kind, where, request)
    router = WebhookRouter(secret=WEBHOOK_SECRET, store=store)
    router.on("payment.succeeded")(lambda event: None)

    async def deliver_async() -> Any:
        try:
            return await router.handle(BODY, _signed())
        finally:
            await store.aclose()

    if kind.endswith("async"):
        result = asyncio.run(deliver_async())
    else:
        try:
            result = router.handle_sync(BODY, _signed())
        finally:
            store.close()
    assert result.status == 503 and result.error is not None, result
    logged = tracked.sent()
    assert "store failed" in logged
    found = all_checks(tracked, result.error)
    found["logged"] = leaks(logged)
    assert leaks(repr(store)) == {}
    assert no_leaks(found), (kind, where, found)


# --- the readers can fail ------------------------------------------------------------------------


def test_each_reader_finds_a_planted_leak(tracked: Trackers) -> None:
    """A secret in a local is seen by sentry and by the traceback with locals; a piece of one in
    a chained exception's message is seen by the chain reader (and by sentry)."""

    def in_a_local() -> None:
        planted = f"Bearer {API_KEY}"  # noqa: F841 - the leak under test
        raise RuntimeError("a clean message")

    def in_a_chained_message() -> None:
        try:
            raise ValueError(f"gateway said: {WEBHOOK_SECRET[2:14]}")
        except ValueError:
            raise RuntimeError("a clean message") from None

    local = _raised(in_a_local)
    assert leaks(tracked.sentry(local)) == {"api key": 1}
    assert leaks(traceback_text(local)) == {"api key": 1}
    assert leaks(chain_text(local)) == {}

    tracked.clear()
    chained = _raised(in_a_chained_message)
    assert leaks(chain_text(chained)) == {"webhook secret": 2}  # its repr and its str
    assert leaks(traceback_text(chained)) == {}  # suppressed context is not printed
    assert leaks(tracked.sentry(chained)) == {}  # nor sent
