"""The clients under test, each reduced to two calls: ``create`` and ``retrieve`` a session.

Every baseline sends what bpcpay sends (the same headers, the same compact JSON body, encoded
per call as a user's code would) and pays for ``json.loads`` of the same answer, so the
difference measured is bpcpay's own work: argument checks, request building, the retry loop,
error mapping and the cattrs model. stripe-python sends the equivalent Checkout Session request
(form-encoded, as the Stripe API requires) and parses a same-size answer into its objects.

Async contenders are opened and closed on the event loop that measures them; sync contenders
give one ``ops`` dict per caller thread (shared where the library is thread-safe).
"""

from __future__ import annotations

import asyncio
import contextlib
import importlib
import json
import threading
from collections.abc import Awaitable, Callable, Iterator
from typing import Any

from _server import BPC_BODY, STRIPE_BODY

import bpcpay

API_KEY = "bench_key_not_real"
SESSION_ID: str = BPC_BODY["id"]
STRIPE_SESSION_ID: str = STRIPE_BODY["id"]

CREATE_KWARGS: dict[str, Any] = {
    "amount": 10000,
    "currency": "EUR",
    "success_url": "https://shop.example/success",
    "failure_url": "https://shop.example/failure",
    "merchant_reference_id": "4000",
}
#: CREATE_KWARGS as bpcpay puts them on the wire (same keys, same order).
CREATE_JSON: dict[str, Any] = {
    "amount": 10000,
    "currency": "EUR",
    "successUrl": "https://shop.example/success",
    "failureUrl": "https://shop.example/failure",
    "merchantReferenceId": "4000",
}
#: The same order in Stripe's terms: a one-line Checkout Session for 100.00 EUR.
STRIPE_CREATE: dict[str, Any] = {
    "mode": "payment",
    "success_url": "https://shop.example/success",
    "cancel_url": "https://shop.example/failure",
    "client_reference_id": "4000",
    "line_items": [
        {
            "price_data": {
                "currency": "eur",
                "unit_amount": 10000,
                "product_data": {"name": "Order 4000"},
            },
            "quantity": 1,
        }
    ],
}


def _user_agent() -> str:
    import platform

    import aiohttp

    return (
        f"bpcpay/{bpcpay.__version__} aiohttp/{aiohttp.__version__} "
        f"{platform.python_implementation()}/{platform.python_version()}"
    )


def raw_headers() -> tuple[dict[str, str], dict[str, str]]:
    """The (GET, POST) headers bpcpay sends, for the raw clients."""
    get = {
        "X-Api-Key": API_KEY,
        "X-Version": bpcpay.DEFAULT_API_VERSION,
        "User-Agent": _user_agent(),
        "Accept": "application/json",
    }
    return get, {**get, "Content-Type": "application/json"}


def encode(body: dict[str, Any]) -> bytes:
    """Compact UTF-8 JSON, as bpcpay encodes it."""
    return json.dumps(body, separators=(",", ":"), ensure_ascii=False).encode("utf-8")


AsyncOps = dict[str, Callable[[], Awaitable[object]]]
SyncOps = dict[str, Callable[[], object]]


class AsyncContender:
    """An async client: ``await open()``, then ``ops``, then ``await close()``."""

    name = ""

    def __init__(self, base_url: str) -> None:
        self.base_url = base_url
        self.ops: AsyncOps = {}

    async def open(self) -> None:
        raise NotImplementedError

    async def close(self) -> None:
        raise NotImplementedError


class RawAiohttp(AsyncContender):
    """The baseline: one aiohttp.ClientSession, the request written by hand, with bpcpay's
    settings: its default timeouts (5 s to connect, 25 s in all) and its pool (100
    connections, all usable for one host)."""

    name = "raw aiohttp"

    async def open(self) -> None:
        import aiohttp

        connect, read = bpcpay.Timeout().connect, bpcpay.Timeout().read
        session = self.session = aiohttp.ClientSession(
            connector=aiohttp.TCPConnector(limit=100, limit_per_host=100),
            timeout=aiohttp.ClientTimeout(total=connect + read, connect=connect),
        )
        get_headers, post_headers = raw_headers()
        create_url = f"{self.base_url}/sessions"
        retrieve_url = f"{self.base_url}/sessions/{SESSION_ID}"

        async def create() -> object:
            body = encode(CREATE_JSON)
            async with session.post(create_url, data=body, headers=post_headers) as response:
                raw = await response.read()
                if response.status >= 400:
                    raise RuntimeError(response.status)
                return json.loads(raw)

        async def retrieve() -> object:
            async with session.get(retrieve_url, headers=get_headers) as response:
                raw = await response.read()
                if response.status >= 400:
                    raise RuntimeError(response.status)
                return json.loads(raw)

        self.ops = {"create": create, "retrieve": retrieve}

    async def close(self) -> None:
        await self.session.close()


def json_decoders() -> list[str]:
    """The JSON decoders bpcpay can be measured with here: always ``"json"`` (the standard
    library, the default), and ``"orjson"`` when ``bpcpay[speedups]`` is installed and this
    bpcpay has the switch (``bpcpay._core._json``)."""
    try:
        module = importlib.import_module("bpcpay._core._json")
    except ImportError:
        return ["json"]
    return ["json", "orjson"] if module.SPEEDUPS else ["json"]


@contextlib.contextmanager
def decoder(name: str) -> Iterator[None]:
    """bpcpay decodes JSON with ``name`` inside the block (the whole process, loop thread
    included): the benchmark's way to measure both paths side by side in one run."""
    try:
        module = importlib.import_module("bpcpay._core._json")
    except ImportError:
        assert name == "json", name
        yield
        return
    with module.use(name):
        yield


class AsyncBpcPayContender(AsyncContender):
    name = "AsyncBpcPay"

    def __init__(self, base_url: str, json_decoder: str = "json") -> None:
        super().__init__(base_url)
        self.decoder = json_decoder
        if json_decoder != "json":
            self.name = f"AsyncBpcPay + {json_decoder}"

    async def open(self) -> None:
        client = self.client = bpcpay.AsyncBpcPay(api_key=API_KEY, base_url=self.base_url)
        self.ops = {
            "create": lambda: client.sessions.create(**CREATE_KWARGS),
            "retrieve": lambda: client.sessions.retrieve(SESSION_ID),
        }

    async def close(self) -> None:
        await self.client.aclose()


class StripeAsync(AsyncContender):
    """``StripeClient`` with stripe-python's aiohttp client (``stripe.AIOHTTPClient``)."""

    name = "stripe async (aiohttp)"

    async def open(self) -> None:
        import stripe

        self.http_client = stripe.AIOHTTPClient()
        client = stripe.StripeClient(
            API_KEY,
            base_addresses={"api": self.base_url},
            max_network_retries=0,
            http_client=self.http_client,
        )
        sessions = client.v1.checkout.sessions
        self.ops = {
            "create": lambda: sessions.create_async(params=STRIPE_CREATE),  # type: ignore[arg-type]
            "retrieve": lambda: sessions.retrieve_async(STRIPE_SESSION_ID),
        }

    async def close(self) -> None:
        await self.http_client.close_async()  # type: ignore[no-untyped-call]


class SyncContender:
    """A sync client; ``thread_ops(n)`` gives the ops for n caller threads."""

    name = ""

    def __init__(self, base_url: str) -> None:
        self.base_url = base_url

    def thread_ops(self, threads: int) -> list[SyncOps]:
        raise NotImplementedError

    @property
    def ops(self) -> SyncOps:
        return self.thread_ops(1)[0]

    def close(self) -> None:
        raise NotImplementedError


class BpcPayContender(SyncContender):
    """One BpcPay shared by all threads: it is thread-safe, and meant to be used that way."""

    name = "BpcPay"

    def __init__(self, base_url: str) -> None:
        super().__init__(base_url)
        client = self.client = bpcpay.BpcPay(api_key=API_KEY, base_url=base_url)
        self._ops: SyncOps = {
            "create": lambda: client.sessions.create(**CREATE_KWARGS),
            "retrieve": lambda: client.sessions.retrieve(SESSION_ID),
        }

    def thread_ops(self, threads: int) -> list[SyncOps]:
        return [self._ops] * threads

    def close(self) -> None:
        self.client.close()


def _sync_raw_ops(
    post: Callable[..., Any], get: Callable[..., Any], base_url: str, content_arg: str
) -> SyncOps:
    get_headers, post_headers = raw_headers()
    create_url = f"{base_url}/sessions"
    retrieve_url = f"{base_url}/sessions/{SESSION_ID}"

    def create() -> object:
        response = post(create_url, headers=post_headers, **{content_arg: encode(CREATE_JSON)})
        if response.status_code >= 400:
            raise RuntimeError(response.status_code)
        return json.loads(response.content)

    def retrieve() -> object:
        response = get(retrieve_url, headers=get_headers)
        if response.status_code >= 400:
            raise RuntimeError(response.status_code)
        return json.loads(response.content)

    return {"create": create, "retrieve": retrieve}


class LoopThreadHops:
    """The floors of a sync call that runs on an event loop in another thread, on a plain
    asyncio loop thread of its own (not bpcpay's):

    * ``bare``: the least any cross-thread hop costs: ``call_soon_threadsafe`` of a lock's
      ``release`` and waiting on that lock (one wake-up each way, no coroutine);
    * ``coroutine``: the least a hop that runs a coroutine costs:
      ``asyncio.run_coroutine_threadsafe(noop(), loop).result()``.
    """

    def __init__(self) -> None:
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self.thread.start()

    def bare(self) -> None:
        lock = threading.Lock()
        lock.acquire()
        self.loop.call_soon_threadsafe(lock.release)
        if not lock.acquire(timeout=30):
            raise TimeoutError("the loop thread did not answer")

    def coroutine(self) -> None:
        async def noop() -> None:
            return None

        asyncio.run_coroutine_threadsafe(noop(), self.loop).result(timeout=30)

    def close(self) -> None:
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(timeout=10)
        self.loop.close()


class RequestsContender(SyncContender):
    """``requests.Session``, one per thread: requests does not promise a Session is thread-safe."""

    name = "requests.Session"

    def __init__(self, base_url: str) -> None:
        super().__init__(base_url)
        self._sessions: list[Any] = []
        self._ops: list[SyncOps] = []

    def thread_ops(self, threads: int) -> list[SyncOps]:
        import requests

        while len(self._ops) < threads:
            session = requests.Session()
            self._sessions.append(session)
            self._ops.append(_sync_raw_ops(session.post, session.get, self.base_url, "data"))
        return self._ops[:threads]

    def close(self) -> None:
        for session in self._sessions:
            session.close()


class HttpxContender(SyncContender):
    """One ``httpx.Client`` shared by all threads (it is thread-safe, with one pool)."""

    name = "httpx.Client"

    def __init__(self, base_url: str) -> None:
        super().__init__(base_url)
        import httpx

        client = self.client = httpx.Client()
        self._ops = _sync_raw_ops(client.post, client.get, base_url, "content")

    def thread_ops(self, threads: int) -> list[SyncOps]:
        return [self._ops] * threads

    def close(self) -> None:
        self.client.close()


class StripeSync(SyncContender):
    """``StripeClient`` with its default sync HTTP client (``RequestsClient`` when requests is
    installed, else urllib)."""

    name = "stripe sync"

    def __init__(self, base_url: str) -> None:
        super().__init__(base_url)
        import stripe

        client = self.client = stripe.StripeClient(
            API_KEY, base_addresses={"api": base_url}, max_network_retries=0
        )
        sessions = client.v1.checkout.sessions
        self._ops: SyncOps = {
            "create": lambda: sessions.create(params=STRIPE_CREATE),  # type: ignore[arg-type]
            "retrieve": lambda: sessions.retrieve(STRIPE_SESSION_ID),
        }
        # Whatever StripeClient picked by default; closed with the client.
        self.http_client = client._requestor._client
        self.http_client_name = type(self.http_client).__name__

    def thread_ops(self, threads: int) -> list[SyncOps]:
        return [self._ops] * threads

    def close(self) -> None:
        if self.http_client is not None:
            self.http_client.close()  # type: ignore[no-untyped-call]
