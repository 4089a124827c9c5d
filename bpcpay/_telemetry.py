"""OpenTelemetry traces and metrics of the clients and the webhook router, and the
``before_request`` hook's view of an attempt.

bpcpay instruments itself the way OpenTelemetry asks libraries to: on the API alone
(``opentelemetry-api``, the ``bpcpay[otel]`` extra), never the SDK, and only when the API is
importable. It is looked for when the first client or router is made, never at ``import
bpcpay``; without it nothing is imported and a client without ``before_request`` has no
telemetry object at all (``AsyncBpcPay._telemetry`` is None: one ``is None`` per call).

Where the signals go (:class:`_Source`): the providers a client or router was given
(``tracer_provider=``, ``meter_provider=``), else the global ones. The global ones are the API's
no-op proxies until the application configures an SDK, and asking for them costs about 8k
instructions each (``get_tracer_provider`` looks the provider up in ``os.environ`` and raises
and catches two KeyErrors while none is set), more than the 3% a call may spend on telemetry it
does not export. So a source decides once, and then again at most every
:data:`RECHECK_SECONDS` while a global provider is still the no-op default: until then a call
does no span or metric work at all. A provider is a no-op when its class is the API's own
(only the API's no-op and proxy classes live in ``opentelemetry.trace`` and
``opentelemetry.metrics``); an SDK, or any other implementation, is real. A global provider
can be set only once, so a real one found is kept and never looked up again. An application
that sets its SDK up before it makes its clients (the usual order) is traced from the first
call; one that sets it up later is picked up by calls that start at most a second after.

What is recorded (docs/observability.md has the tables):

- a client call: one INTERNAL span ``bpcpay <resource>.<method>`` over its attempts and
  backoff (the last ``API-Request-Id``, the ids of the object, ``bpcpay.outcome_unknown``), one
  CLIENT span per attempt named ``{method} {url.template}`` with the HTTP client semantic
  conventions' attributes, and the ``http.client.request.duration`` and
  ``bpcpay.client.retries`` metrics;
- a webhook delivery (or a reconciled object): one INTERNAL span ``bpcpay webhook <type>``,
  child spans for the store's claim, completion and release and for each handler, and the
  ``bpcpay.webhook.*`` metrics. The router's plans are observed from outside
  (:meth:`RouterTelemetry.delivery` wraps the plan generator and sees every effect and its
  outcome), so the drivers and the plan carry no telemetry code.

Secrets never reach a span, an event or a metric: the API key is not in anything recorded
(headers are never recorded; a request id is scrubbed of it), ``url.full`` shows no query
value and no credentials, bodies are never recorded, and client errors are summed up by their
class (``error.type``) without their message. A handler's exception is recorded on its span
as OpenTelemetry records exceptions (its message and stack, the shop's own code).

Imports: the API lazily; from bpcpay, ``_constants``, ``_exceptions``, ``_log``, ``_version``,
``_core._headers`` (pure, imports nothing), and ``_core._responses`` (the key's scrubbing) only
when a client is made, so that ``import bpcpay.webhooks`` stays light. Must not import aiohttp,
anyio or asyncio, the clients or the router (they import this module), or
``opentelemetry.sdk``.
"""

from __future__ import annotations

import contextvars
import copy
import errno
import functools
import inspect
import math
import threading
import time
from collections.abc import Awaitable, Callable, Coroutine, Generator, Mapping
from typing import TYPE_CHECKING, Any, Final, ParamSpec, Protocol, TypeVar, cast
from urllib.parse import urlsplit

from ._constants import API_KEY_HEADER, REQUEST_ID_HEADER
from ._core._headers import header
from ._exceptions import InvalidArgumentError
from ._log import library_logger
from ._version import __version__

if TYPE_CHECKING:
    from opentelemetry.metrics import Counter, Histogram, Meter
    from opentelemetry.trace import Span, Tracer

    from ._core._endpoints import Endpoint
    from ._core._requests import Request
    from ._secret import Secret

__all__ = [
    "RECHECK_SECONDS",
    "ClientTelemetry",
    "MeterProviderLike",
    "OutgoingRequest",
    "RouterTelemetry",
    "TracerProviderLike",
    "client_telemetry",
    "router_telemetry",
    "traced_call",
]

logger = library_logger()
T = TypeVar("T")
R = TypeVar("R")
P = ParamSpec("P")
Plan = Generator[Any, Any, R]

#: Seconds between two looks at a global provider that is still the API's no-op default.
RECHECK_SECONDS: Final = 1.0

#: ``http.client.request.duration``'s buckets, as the semantic conventions advise.
HTTP_DURATION_BUCKETS: Final = (
    0.005, 0.01, 0.025, 0.05, 0.075, 0.1, 0.25, 0.5, 0.75, 1.0, 2.5, 5.0, 7.5, 10.0,
)  # fmt: skip
#: A store call takes milliseconds; a slow one, seconds (its timeout is 5 s by default).
STORE_DURATION_BUCKETS: Final = (
    0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0,
)  # fmt: skip
#: A handler may run for minutes: its claim is renewed for as long as it takes.
HANDLER_DURATION_BUCKETS: Final = (
    0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 120.0, 300.0,
)  # fmt: skip

#: What stands for a query value in ``url.full``: any of them could be secret.
REDACTED: Final = "REDACTED"
_REFUSED = f"[Errno {errno.ECONNREFUSED}]"
#: The HTTP methods the semantic conventions know; any other is recorded as ``_OTHER``.
_KNOWN_METHODS: Final = frozenset(
    {"CONNECT", "DELETE", "GET", "HEAD", "OPTIONS", "PATCH", "POST", "PUT", "TRACE"}
)
#: A path parameter of the endpoint table, and the attribute its value is recorded as.
_ID_ATTRIBUTES: Final = {
    "session_id": "bpcpay.session.id",
    "payment_id": "bpcpay.payment.id",
    "refund_id": "bpcpay.refund.id",
    "payment_method_id": "bpcpay.payment_method.id",
}
#: The stores bpcpay ships, by class name, and the kind they are recorded as.
_STORE_KINDS: Final = {
    "InMemoryDeliveryStore": "memory",
    "SQLiteDeliveryStore": "sqlite",
    "RedisDeliveryStore": "redis",
    "AsyncRedisDeliveryStore": "redis",
    "PostgresDeliveryStore": "postgresql",
    "AsyncPostgresDeliveryStore": "postgresql",
}


class TracerProviderLike(Protocol):
    """What ``tracer_provider=`` takes: an OpenTelemetry ``TracerProvider`` (the SDK's, or any
    implementation of the API's)."""

    def get_tracer(self, name: str, version: str | None = ..., /) -> Any:
        """The tracer of the instrumentation ``name``."""


class MeterProviderLike(Protocol):
    """What ``meter_provider=`` takes: an OpenTelemetry ``MeterProvider``."""

    def get_meter(self, name: str, version: str | None = ..., /) -> Any:
        """The meter of the instrumentation ``name``."""


# --- the API, looked for once --------------------------------------------------------------


class _Api:
    """The OpenTelemetry API's modules and the constants bpcpay uses from them."""

    def __init__(self) -> None:
        from opentelemetry import context, metrics, trace

        self.context = context
        self.trace = trace
        self.metrics = metrics
        self.INTERNAL = trace.SpanKind.INTERNAL
        self.CLIENT = trace.SpanKind.CLIENT
        self.ERROR = trace.Status(trace.StatusCode.ERROR)


_LOADED: list[_Api | None] = []
_LOAD_LOCK = threading.Lock()


def _api() -> _Api | None:
    """The API, imported on first use; None when ``opentelemetry-api`` is not installed."""
    if not _LOADED:
        with _LOAD_LOCK:
            if not _LOADED:
                try:
                    _LOADED.append(_Api())
                except ImportError:
                    _LOADED.append(None)
    return _LOADED[0]


def _is_api_default(provider: object) -> bool:
    """True for the API's own providers (no-op, or the proxy standing for an unset global)."""
    module = type(provider).__module__
    return module == "opentelemetry.trace" or module.startswith(
        ("opentelemetry.trace.", "opentelemetry.metrics")
    )


def _check_provider(argument: str, provider: object, method: str) -> None:
    if provider is None:
        return
    if not callable(getattr(provider, method, None)):
        raise InvalidArgumentError(
            argument, f"must be an OpenTelemetry provider (with {method}()), or None"
        )
    if _api() is None:
        raise InvalidArgumentError(
            argument, "needs the OpenTelemetry API: pip install 'bpcpay[otel]'"
        )


# --- where the signals go ------------------------------------------------------------------


class _Signals:
    """A tracer and the instruments, for one pair of real providers (None for a no-op one)."""

    __slots__ = (
        "api",
        "deliveries",
        "handler_duration",
        "request_duration",
        "retries",
        "store_duration",
        "takeovers",
        "tracer",
    )

    def __init__(self, api: _Api, tracer: Tracer | None, meter: Meter | None) -> None:
        self.api = api
        self.tracer = tracer
        self.request_duration: Histogram | None = None
        self.retries: Counter | None = None
        self.deliveries: Counter | None = None
        self.handler_duration: Histogram | None = None
        self.store_duration: Histogram | None = None
        self.takeovers: Counter | None = None
        if meter is None:
            return
        self.request_duration = meter.create_histogram(
            "http.client.request.duration",
            unit="s",
            description="Duration of HTTP client requests.",
            explicit_bucket_boundaries_advisory=HTTP_DURATION_BUCKETS,
        )
        self.retries = meter.create_counter(
            "bpcpay.client.retries",
            unit="{retry}",
            description="Attempts made again after a failed one, by the failure (its error.type).",
        )
        self.deliveries = meter.create_counter(
            "bpcpay.webhook.deliveries",
            unit="{delivery}",
            description="Webhook deliveries and reconciled objects, by event type and result.",
        )
        self.handler_duration = meter.create_histogram(
            "bpcpay.webhook.handler.duration",
            unit="s",
            description="Duration of each webhook handler's run.",
            explicit_bucket_boundaries_advisory=HANDLER_DURATION_BUCKETS,
        )
        self.store_duration = meter.create_histogram(
            "bpcpay.webhook.store.duration",
            unit="s",
            description="Duration of the delivery store's calls, by store kind and operation.",
            explicit_bucket_boundaries_advisory=STORE_DURATION_BUCKETS,
        )
        self.takeovers = meter.create_counter(
            "bpcpay.webhook.lease.takeovers",
            unit="{takeover}",
            description="Claims taken over after their holder's lease lapsed (side=taken), and "
            "claims of this process another worker took over (side=lost).",
        )


class _Source:
    """Where one client's or router's signals go: given providers, or the global ones.

    :meth:`current` is the one question asked per call or delivery: the signals, or None when
    both providers are no-ops (then nothing at all is recorded).
    """

    __slots__ = (
        "_api",
        "_given",
        "_next",
        "_providers",
        "_settled",
        "_signals",
        "clock",
        "quiet_until",
    )

    def __init__(
        self,
        api: _Api,
        tracer_provider: object | None,
        meter_provider: object | None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._api = api
        #: The clock the looks are timed by (``quiet_until`` is on it).
        self.clock = clock
        self._given = (tracer_provider, meter_provider)
        self._providers: tuple[object, object] | None = None
        self._signals: _Signals | None = None
        self._settled = False
        self._next = 0.0
        #: Until this time on :attr:`clock`, :meth:`current` is None without looking: the
        #: per-call question answered by one comparison (``traced_call``), no method call.
        self.quiet_until = 0.0
        self._look(clock())

    def _follows(self, provider: object | None, proxy: type) -> bool:
        # None, or the API's proxy passed explicitly: the global provider.
        return provider is None or isinstance(provider, proxy)

    def _look(self, now: float) -> None:
        self._update(now)
        if self._signals is not None:
            self.quiet_until = -math.inf  # something to record: every call asks current()
        else:
            self.quiet_until = math.inf if self._settled else self._next

    def _update(self, now: float) -> None:
        api = self._api
        given_tp, given_mp = self._given
        follow_tp = self._follows(given_tp, api.trace.ProxyTracerProvider)
        follow_mp = given_mp is None or (
            _is_api_default(given_mp) and not isinstance(given_mp, api.metrics.NoOpMeterProvider)
        )
        tp: Any = api.trace.get_tracer_provider() if follow_tp else given_tp
        mp: Any = api.metrics.get_meter_provider() if follow_mp else given_mp
        self._next = now + RECHECK_SECONDS
        # Settled when neither can change any more: a provider that was given, or a global one
        # that was set (OpenTelemetry sets a global provider once).
        self._settled = (not follow_tp or not _is_api_default(tp)) and (
            not follow_mp or not _is_api_default(mp)
        )
        if self._providers is not None and self._providers[0] is tp and self._providers[1] is mp:
            return
        self._providers = (tp, mp)
        tracer = meter = None
        try:
            if not _is_api_default(tp):
                tracer = tp.get_tracer("bpcpay", __version__)
            if not _is_api_default(mp):
                meter = mp.get_meter("bpcpay", __version__)
        except Exception:
            # A provider of the application's that fails must not fail a payment.
            logger.exception("an OpenTelemetry provider failed; bpcpay records nothing")
            tracer = meter = None
            self._settled = True
        self._signals = None if tracer is None and meter is None else _Signals(api, tracer, meter)

    def current(self) -> _Signals | None:
        """The signals to record into, or None: cheap (an attribute, or a clock read)."""
        if not self._settled:
            now = self.clock()
            if now >= self._next:
                self._look(now)
        return self._signals


# --- helpers shared by both sides ----------------------------------------------------------


def _error_type(exc: BaseException) -> str:
    """``error.type`` of an exception: its class by its public path (``bpcpay.NotFoundError``)."""
    cls = type(exc)
    module = cls.__module__  # bpcpay's public classes say "bpcpay"
    return cls.__qualname__ if module == "builtins" else f"{module}.{cls.__qualname__}"


def _cancelled(exc: BaseException) -> bool:
    # asyncio.CancelledError without importing asyncio (this module must not).
    return type(exc).__name__ == "CancelledError" and not isinstance(exc, Exception)


def _object_attributes(obj: object) -> dict[str, str]:
    """The ids a Session, Payment, Refund or PaymentMethod carries, as span attributes: the
    object's own, and the session or payment it belongs to, so that one attribute finds the
    call that made an object and every webhook about it."""
    kind = type(obj).__name__
    found: dict[str, str] = {}
    own = {
        "Session": "bpcpay.session.id",
        "Payment": "bpcpay.payment.id",
        "Refund": "bpcpay.refund.id",
        "PaymentMethod": "bpcpay.payment_method.id",
    }.get(kind)
    if own is None:
        return found
    for attribute, value in (
        (own, getattr(obj, "id", None)),
        ("bpcpay.session.id", getattr(obj, "session", None) if kind == "Payment" else None),
        ("bpcpay.payment.id", getattr(obj, "payment", None) if kind != "Payment" else None),
    ):
        if isinstance(value, str) and value:
            found.setdefault(attribute, value)
    return found


# --- before_request ------------------------------------------------------------------------


class OutgoingRequest:
    """One attempt about to be sent, as the ``before_request`` hook sees it.

    Edit :attr:`headers` in place (or assign a new mapping): what it holds when the hook
    returns is sent with this attempt. The API key is not in it and cannot be set through it;
    bpcpay adds its ``X-Api-Key`` itself.

    Attributes:
        method: the HTTP method.
        url: the URL as sent (path ids percent-encoded).
        headers: the headers to send, a plain dict, without ``X-Api-Key``.
        attempt: 1 for the first try, 2 for the first retry, ...

    Examples:
        ```python
        from bpcpay import BpcPay

        def tag(request):  # e.g. your tracing system's correlation header
            request.headers["X-Correlation-Id"] = "order-1001"
            print(request.method, "X-Api-Key" in request.headers)  # POST False

        with BpcPay(before_request=tag) as tagged:
            tagged.sessions.create(
                amount=500,
                currency="EUR",
                success_url="https://shop.example/done",
                failure_url="https://shop.example/retry",
            )
        ```
    """

    __slots__ = ("attempt", "headers", "method", "url")

    def __init__(self, method: str, url: str, headers: dict[str, str], attempt: int) -> None:
        self.method = method
        self.url = url
        self.headers = headers
        self.attempt = attempt

    def __repr__(self) -> str:
        return f"<OutgoingRequest {self.method} {self.url} attempt={self.attempt}>"


OutgoingRequest.__module__ = "bpcpay"

_KEY_NAME = API_KEY_HEADER.casefold()


def _edited(
    hook: Callable[[OutgoingRequest], object], request: Request, attempt: int
) -> Mapping[str, str]:
    """The headers to send after ``hook`` saw (and maybe edited) ``request``'s.

    Raises:
        InvalidArgumentError: the hook left headers that cannot be sent, or set the key.
    """
    view = OutgoingRequest(
        request.method,
        request.url,
        {name: value for name, value in request.headers.items() if name.casefold() != _KEY_NAME},
        attempt,
    )
    hook(view)
    headers = view.headers
    if not isinstance(headers, Mapping):
        raise InvalidArgumentError("before_request", "request.headers must stay a mapping")
    for name, value in headers.items():
        if not isinstance(name, str) or not isinstance(value, str):
            raise InvalidArgumentError("before_request", "header names and values must be str")
        if name.casefold() == _KEY_NAME:
            raise InvalidArgumentError("before_request", f"may not set {API_KEY_HEADER}")
        if any(c in name + value for c in "\r\n\0"):
            raise InvalidArgumentError(
                "before_request", f"header {name!r} holds a line break or a NUL"
            )
    # The key goes back in as bpcpay set it, inside the expression: no local of this frame
    # holds it.
    return {**headers, API_KEY_HEADER: request.headers[API_KEY_HEADER]}


def _with_headers(request: Request, headers: Mapping[str, str]) -> Request:
    """A copy of ``request`` (the call's, shared by its attempts) sending ``headers``."""
    clone = copy.copy(request)
    clone.headers = headers
    return clone


# --- the client side -----------------------------------------------------------------------

#: The transport's send(request, timeout), or what stands in for it.
Send = Callable[..., Awaitable[Any]]
S = TypeVar("S", bound=Send)

#: The call in progress in this task (set by ClientTelemetry's wrapper, read by sender()).
_CALL: contextvars.ContextVar[_Call | None] = contextvars.ContextVar("bpcpay_call", default=None)


def traced_call(request: Callable[P, Coroutine[Any, Any, T]]) -> Callable[P, Awaitable[T]]:
    """Decorate the client's request function (``request(self, endpoint, *ids, **options)``):
    each call goes through the client's telemetry.

    A client without telemetry (``_telemetry`` None: no OpenTelemetry API, no
    ``before_request``) gets the request's own coroutine back, with no frame in between.
    """

    @functools.wraps(request)
    def call(*args: P.args, **kwargs: P.kwargs) -> Awaitable[T]:
        coroutine = request(*args, **kwargs)
        # args[0] is the client: this wrapper is its method, reading its own attribute.
        telemetry: ClientTelemetry | None = getattr(args[0], "_telemetry", None)
        if telemetry is None:
            return coroutine
        # The untraced call (the API's no-op providers, no SDK) decided here, inline: the
        # source's quiet_until is when it next needs to look (ClientTelemetry.call and
        # _Source.current, two method calls, cost every such call about 2k instructions).
        source = telemetry.source
        if source is None or source.quiet_until > source.clock():
            return coroutine
        endpoint: Endpoint[T] = args[1]  # type: ignore[assignment]
        return telemetry.call(coroutine, endpoint, args[2:])  # type: ignore[arg-type]

    return call


class ClientTelemetry:
    """A client's telemetry: its source of signals, its ``before_request`` hook and what its
    spans say about its gateway (address, port, URL prefix).

    Args:
        api: the OpenTelemetry API, or None (then only the hook runs).
        tracer_provider: the provider given to the client, or None for the global one.
        meter_provider: likewise.
        before_request: the hook, or None.
        url_root: the client's encoded base URL.
        api_key: the key, to scrub out of request ids (a gateway could echo it there).
    """

    __slots__ = (
        "_before_request",
        "_scrub",
        "_server",
        "_template_root",
        "api_key",
        "source",
    )

    def __init__(
        self,
        *,
        api: _Api | None,
        tracer_provider: object | None,
        meter_provider: object | None,
        before_request: Callable[[OutgoingRequest], object] | None,
        url_root: str,
        api_key: Secret[str],
    ) -> None:
        from ._core._responses import scrub_text

        #: Where the signals go; None without the API (then only the hook runs).
        self.source = None if api is None else _Source(api, tracer_provider, meter_provider)
        self._before_request = before_request
        self.api_key = api_key
        self._scrub = scrub_text
        parts = urlsplit(url_root)
        host = parts.hostname or ""
        port = parts.port or (443 if parts.scheme == "https" else 80)
        self._server = {"server.address": host, "server.port": port}
        self._template_root = parts.path.rstrip("/")

    # --- the call ------------------------------------------------------------------------

    def call(
        self, coroutine: Coroutine[Any, Any, T], endpoint: Endpoint[T], ids: tuple[str, ...]
    ) -> Awaitable[T]:
        """The call's coroutine, traced when there is somewhere to record it."""
        signals = None if self.source is None else self.source.current()
        if signals is None:
            return coroutine
        return self._traced(coroutine, _Call(self, signals, endpoint, ids))

    async def _traced(self, coroutine: Coroutine[Any, Any, T], call: _Call) -> T:
        # The coroutine was made by the caller: the body and the arguments (a card number)
        # are never locals of this frame, which an error leaves through.
        token = _CALL.set(call)
        attached = call.attach()
        try:
            result = await coroutine
        except BaseException as exc:
            call.finish(None, exc)
            raise
        else:
            call.finish(result, None)
            return result
        finally:
            call.detach(attached)
            _CALL.reset(token)

    # --- the attempts --------------------------------------------------------------------

    def sender(self, send: S, request: Request) -> S:
        """What ``_request`` sends each attempt with: ``send`` itself, or ``send`` wrapped
        in the attempt's span and the ``before_request`` hook (a coroutine function taking
        the same arguments)."""
        call = _CALL.get()  # deadline: a ContextVar read, nothing is awaited
        if call is not None and call.owner is self and call.request is None:
            call.request = request
            return cast(S, functools.partial(call.attempt, send))
        if self._before_request is None:
            return send
        return cast(S, functools.partial(self._hooked, send, [0]))

    async def _hooked(self, send: Send, count: list[int], request: Request, timeout: Any) -> Any:
        count[0] += 1
        return await send(self.prepare(request, count[0]), timeout)

    def prepare(self, request: Request, attempt: int) -> Request:
        """``request`` as ``before_request`` leaves it (itself without a hook)."""
        hook = self._before_request
        if hook is None:
            return request
        try:
            return _with_headers(request, _edited(hook, request, attempt))
        except Exception:
            logger.exception(
                "the before_request hook raised; attempt %d of %s %s is sent as bpcpay built it",
                attempt,
                request.method,
                request.path,
            )
            return request

    # --- attributes ----------------------------------------------------------------------

    def url_full(self, request: Request) -> str:
        """``url.full``: the URL as sent (ids encoded; a base URL never holds credentials, the
        client refuses them), without query values."""
        url = request.url
        if "?" not in url:
            return url
        head, _, query = url.partition("?")
        names = (part.partition("=")[0] for part in query.split("&") if part)
        return head + "?" + "&".join(f"{name}={REDACTED}" for name in names)

    def attempt_attributes(self, endpoint: Endpoint[Any], request: Request) -> dict[str, Any]:
        """The attributes an attempt's span and duration start with."""
        method = request.method if request.method in _KNOWN_METHODS else "_OTHER"
        attributes: dict[str, Any] = {"http.request.method": method, **self._server}
        if endpoint.name != "request":  # client.request(...)'s path is not a template
            attributes["url.template"] = self._template_root + endpoint.path
        return attributes

    def span_name(self, attributes: Mapping[str, Any]) -> str:
        """An attempt's span name: ``{method} {url.template}``, or ``{method}`` alone for a
        path that is not a template (``HTTP`` for a method the conventions do not know)."""
        method = attributes["http.request.method"]
        method = "HTTP" if method == "_OTHER" else method
        template = attributes.get("url.template")
        return method if template is None else f"{method} {template}"

    def request_id(self, headers: Mapping[str, str]) -> str | None:
        """The answer's ``API-Request-Id``, scrubbed of the key."""
        value = header(headers, REQUEST_ID_HEADER)
        return None if value is None else self._scrub(value, self.api_key)


def _failure_kind(failure: Any) -> str:
    """``error.type`` of an attempt that got no answer (a ``TransportFailure``)."""
    if failure.timeout_phase is not None:
        return "timeout"
    error_type = failure.error_type or ""
    if "Certificate" in error_type or "SSL" in error_type:
        return "tls_error"
    if "DNS" in error_type:
        return "dns_error"
    if getattr(failure.failure, "value", None) == "not_sent":
        return "connection_refused" if _REFUSED in failure.detail else "connect_error"
    return "connection_error"


class _Call:
    """One traced call: its INTERNAL span, its attempts, what the last one saw."""

    __slots__ = (
        "attempts",
        "cancelled_mid_attempt",
        "endpoint",
        "last_error",
        "owner",
        "request",
        "request_id",
        "signals",
        "span",
    )

    def __init__(
        self,
        owner: ClientTelemetry,
        signals: _Signals,
        endpoint: Endpoint[Any],
        ids: tuple[str, ...],
    ) -> None:
        self.owner = owner
        self.signals = signals
        self.endpoint = endpoint
        self.request: Request | None = None
        self.attempts = 0
        self.cancelled_mid_attempt = False
        self.last_error: str | None = None
        self.request_id: str | None = None
        self.span: Span | None = None
        tracer = signals.tracer
        if tracer is not None:
            attributes = {
                _ID_ATTRIBUTES[name]: value
                for name, value in zip(endpoint.params, ids, strict=False)
                if name in _ID_ATTRIBUTES
            }
            self.span = tracer.start_span(
                f"bpcpay {endpoint.name}", kind=signals.api.INTERNAL, attributes=attributes
            )

    def attach(self) -> Any:
        """Make the call's span current (in this task); the token to detach it with."""
        if self.span is None:
            return None
        api = self.signals.api
        return api.context.attach(api.trace.set_span_in_context(self.span))

    def detach(self, token: Any) -> None:
        if token is not None:
            self.signals.api.context.detach(token)

    def finish(self, result: object, exc: BaseException | None) -> None:
        span = self.span
        if span is None:
            return
        if self.request_id is not None:
            span.set_attribute("bpcpay.request_id", self.request_id)
        span.set_attribute("bpcpay.attempts", self.attempts)
        if exc is None:
            span.set_attributes(_object_attributes(result))
        elif _cancelled(exc):
            # Cancelled by the caller: not an error (the semantic conventions' rule), but a
            # request that may have reached the gateway has an unknown outcome.
            if self.cancelled_mid_attempt and self.endpoint.outcome_unknown_when_lost:
                span.set_attribute("bpcpay.outcome_unknown", True)
        else:
            if getattr(exc, "outcome_unknown", False) is True:
                span.set_attribute("bpcpay.outcome_unknown", True)
            span.set_attribute("error.type", _error_type(exc))
            span.set_status(self.signals.api.ERROR)
        span.end()

    async def attempt(self, send: Send, request: Request, timeout: Any) -> Any:
        """One attempt, in its CLIENT span (current while it runs, the hook included), timed
        and counted."""
        owner, signals = self.owner, self.signals
        api = signals.api
        resend = self.attempts
        self.attempts += 1
        attributes = owner.attempt_attributes(self.endpoint, request)
        if resend and signals.retries is not None:
            reason = self.last_error or "_OTHER"
            signals.retries.add(1, {**attributes, "bpcpay.retry.reason": reason})
        span = token = None
        if signals.tracer is not None:
            span = signals.tracer.start_span(
                owner.span_name(attributes),
                context=None if self.span is None else api.trace.set_span_in_context(self.span),
                kind=api.CLIENT,
                attributes={**attributes, "url.full": owner.url_full(request)},
            )
            if resend:
                span.set_attribute("http.request.resend_count", resend)
            token = api.context.attach(api.trace.set_span_in_context(span))
        started = time.perf_counter()
        error: str | None = None
        status: int | None = None
        try:
            answer = await send(owner.prepare(request, resend + 1), timeout)
        except BaseException as exc:
            if _cancelled(exc):
                # Not an error (the caller's choice), but what may have reached the gateway
                # has an unknown outcome.
                self.cancelled_mid_attempt = True
                raise
            status = getattr(exc, "status", None)
            kind = type(exc).__name__
            if kind == "TransportFailure":
                error = _failure_kind(exc)
            elif kind == "ResponseTooLarge":
                error = "response_too_large"
                self.request_id = owner.request_id(exc.headers) or self.request_id  # type: ignore[attr-defined]
            else:
                error = _error_type(exc)
            raise
        else:
            status = answer[0]
            self.request_id = owner.request_id(answer[1]) or self.request_id
            if status >= 400:
                error = str(status)
            return answer
        finally:
            elapsed = time.perf_counter() - started
            self.last_error = error
            if status is not None:
                attributes["http.response.status_code"] = status
            if error is not None:
                attributes["error.type"] = error
            if signals.request_duration is not None:
                signals.request_duration.record(elapsed, attributes)
            if span is not None:
                # The span has the attributes it started with: only the outcome is new.
                if status is not None:
                    span.set_attribute("http.response.status_code", status)
                    if self.request_id is not None:
                        span.set_attribute("bpcpay.request_id", self.request_id)
                if error is not None:
                    span.set_attribute("error.type", error)
                    span.set_status(api.ERROR)
                api.context.detach(token)
                span.end()


def client_telemetry(
    *,
    tracer_provider: object | None,
    meter_provider: object | None,
    before_request: Callable[[OutgoingRequest], object] | None,
    url_root: str,
    api_key: Secret[str],
) -> ClientTelemetry | None:
    """A client's telemetry, or None when it would do nothing (no API, no hook).

    Raises:
        InvalidArgumentError: a provider is not one, or is given without the API installed;
            ``before_request`` is not callable.
    """
    if before_request is not None and not callable(before_request):
        raise InvalidArgumentError("before_request", "must be a callable or None")
    _check_provider("tracer_provider", tracer_provider, "get_tracer")
    _check_provider("meter_provider", meter_provider, "get_meter")
    api = _api()
    if api is None and before_request is None:
        return None
    return ClientTelemetry(
        api=api,
        tracer_provider=tracer_provider,
        meter_provider=meter_provider,
        before_request=before_request,
        url_root=url_root,
        api_key=api_key,
    )


# --- the router side -----------------------------------------------------------------------


def _detach(api: _Api, token: Any, context: Any, abandoned: bool) -> None:
    """Undo the attach a plan's generator made. It is resumed in its driver's context (one
    thread, or one task) every time, so it finishes there, unless it was abandoned (closed
    half-way: by a driver that gave up, or when collected): then its span is detached only
    from a context where it is still the current one, never from a foreign context."""
    if not abandoned or api.context.get_current() is context:
        api.context.detach(token)


def _function_names(handler: object) -> tuple[str, str]:
    """``code.function.name`` (module and qualified name) and the short name of a handler."""
    target = getattr(handler, "func", handler)  # a functools.partial
    name = getattr(target, "__qualname__", None) or type(target).__qualname__
    module = getattr(target, "__module__", None)
    return (f"{module}.{name}" if module else name), name.rpartition(".")[2]


#: A delivery's result, by the router's reason: what ``bpcpay.webhook.result`` says.
_RESULTS: Final = {
    "handled": "handled",
    "unhandled": "unhandled",
    "duplicate": "duplicate",
    "in_flight": "in_flight",
    "handler_error": "failed",
    "async_handler": "failed",
    "store_unavailable": "store_unavailable",
}


class _Watch:
    """What a delivery's store calls showed about its lease."""

    __slots__ = ("event", "lapses_at", "lost", "taken")

    def __init__(self) -> None:
        #: The event being dispatched (an interrupted delivery has no result to tell it).
        self.event: Any = None
        self.lapses_at: float | None = None
        self.taken = False
        self.lost = False


class RouterTelemetry:
    """A router's telemetry: its source of signals and its store's kind.

    Args:
        api: the OpenTelemetry API.
        tracer_provider: the provider given to the router, or None for the global one.
        meter_provider: likewise.
        store: the router's delivery store.
    """

    __slots__ = ("_source", "store_kind")

    def __init__(
        self,
        *,
        api: _Api,
        tracer_provider: object | None,
        meter_provider: object | None,
        store: object,
    ) -> None:
        self._source = _Source(api, tracer_provider, meter_provider)
        name = type(store).__name__
        #: ``bpcpay.webhook.store.kind``: memory, sqlite, redis, postgresql, or the class name.
        self.store_kind = _STORE_KINDS.get(name, name)

    def delivery(self, plan: Plan[Any]) -> Plan[Any]:
        """``plan`` (one delivery, or one reconciled object's), traced and counted; the plan
        itself when there is nowhere to record."""
        signals = self._source.current()
        return plan if signals is None else self._observe(plan, signals)

    def reconciliation(self, plan: Plan[R]) -> Plan[R]:
        """A reconciliation's plan under one ``bpcpay reconcile`` span, so that its retrieves
        and deliveries make one trace."""
        signals = self._source.current()
        if signals is None or signals.tracer is None:
            return plan
        return self._reconcile(plan, signals)

    def _reconcile(self, plan: Plan[R], signals: _Signals) -> Plan[R]:
        api = signals.api
        span = signals.tracer.start_span("bpcpay reconcile", kind=api.INTERNAL)  # type: ignore[union-attr]
        context = api.trace.set_span_in_context(span)
        token = api.context.attach(context)
        abandoned = False
        try:
            return (yield from plan)
        except GeneratorExit:
            abandoned = True
            raise
        except BaseException as exc:
            if not _cancelled(exc):
                span.set_attribute("error.type", _error_type(exc))
                span.set_status(api.ERROR)
            raise
        finally:
            _detach(api, token, context, abandoned)
            span.end()

    def _observe(self, plan: Plan[Any], signals: _Signals) -> Plan[Any]:
        """Run ``plan`` step by step, as ``yield from`` would, watching its effects."""
        api = signals.api
        span = token = context = None
        if signals.tracer is not None:
            span = signals.tracer.start_span(
                "bpcpay webhook",
                kind=api.INTERNAL,
                attributes={"bpcpay.webhook.store.kind": self.store_kind},
            )
            context = api.trace.set_span_in_context(span)
            token = api.context.attach(context)
        watch = _Watch()
        result: Any = None
        failure: BaseException | None = None
        abandoned = False
        try:
            value: Any = None
            thrown: BaseException | None = None
            while True:
                try:
                    effect = plan.send(value) if thrown is None else plan.throw(thrown)
                except StopIteration as stop:
                    result = stop.value
                    return result
                effect, step = self._begin(effect, signals)
                try:
                    value, thrown = (yield effect), None
                except GeneratorExit:
                    abandoned = True
                    plan.close()
                    raise
                except BaseException as exc:
                    value, thrown = None, exc
                if step is not None:
                    self._end(step, value, thrown, signals, watch)
        except GeneratorExit:
            raise
        except BaseException as exc:
            failure = exc
            raise
        finally:
            if token is not None:
                _detach(api, token, context, abandoned)
            self._finish(span, signals, result, failure, watch)

    # --- effects -------------------------------------------------------------------------

    def _begin(self, effect: Any, signals: _Signals) -> tuple[Any, Any]:
        kind = type(effect).__name__
        if kind == "StoreCall":
            span = None
            if signals.tracer is not None:
                span = signals.tracer.start_span(
                    f"bpcpay store.{effect.method}",
                    kind=signals.api.INTERNAL,
                    attributes={
                        "bpcpay.webhook.store.kind": self.store_kind,
                        "bpcpay.webhook.store.operation": effect.method,
                    },
                )
            return effect, ("store", effect.method, span, time.perf_counter())
        if kind == "Dispatch":
            event_type = getattr(effect.event, "type", None)
            handlers = tuple(self._traced_handler(h, event_type, signals) for h in effect.handlers)
            traced = type(effect)(handlers, effect.event, effect.hold)
            return traced, ("dispatch", effect.hold, effect.event)
        return effect, None

    def _end(
        self,
        step: tuple[Any, ...],
        value: Any,
        thrown: BaseException | None,
        signals: _Signals,
        watch: _Watch,
    ) -> None:
        if step[0] == "dispatch":
            watch.event = step[2]
            if getattr(step[1], "lost", False):
                watch.lost = True
            return
        _, method, span, started = step
        elapsed = time.perf_counter() - started
        attributes: dict[str, Any] = {
            "bpcpay.webhook.store.kind": self.store_kind,
            "bpcpay.webhook.store.operation": method,
        }
        if thrown is not None and not _cancelled(thrown):
            attributes["error.type"] = _error_type(thrown)
        elif method == "claim":
            status = getattr(value, "status", None)
            now = time.monotonic()
            remaining = getattr(value, "remaining", None)
            if status == "in_flight" and isinstance(remaining, (int, float)):
                watch.lapses_at = now + remaining
            elif status == "claimed" and watch.lapses_at is not None and now >= watch.lapses_at:
                # This copy waited on another holder's claim, which then lapsed unrenewed
                # (a live holder renews it, a release would have been seen sooner).
                watch.taken = True
            if span is not None and isinstance(status, str):
                span.set_attribute("bpcpay.webhook.claim", status)
        elif method == "complete":
            if value is False:
                watch.lost = True
            if span is not None:
                span.set_attribute("bpcpay.webhook.recorded", bool(value))
        if signals.store_duration is not None:
            signals.store_duration.record(elapsed, attributes)
        if span is not None:
            if "error.type" in attributes:
                span.set_attribute("error.type", attributes["error.type"])
                span.set_status(signals.api.ERROR)
            span.end()

    def _traced_handler(
        self, handler: Callable[[Any], Any], event_type: str | None, signals: _Signals
    ) -> Callable[[Any], Any]:
        """``handler`` in a span of its own, timed; as plain or as async as it was."""
        name, short = _function_names(handler)
        attributes: dict[str, Any] = {"code.function.name": name}
        if event_type is not None:
            attributes["bpcpay.event.type"] = event_type
        tracer = signals.tracer
        api = signals.api
        histogram = signals.handler_duration

        def start() -> tuple[Any, float]:
            span = None
            if tracer is not None:
                span = tracer.start_span(
                    f"bpcpay handler {short}", kind=api.INTERNAL, attributes=attributes
                )
            return span, time.perf_counter()

        def end(span: Any, started: float, exc: BaseException | None) -> None:
            measured = attributes
            if exc is not None and not _cancelled(exc):
                measured = {**attributes, "error.type": _error_type(exc)}
                if span is not None:
                    span.record_exception(exc)
                    span.set_attribute("error.type", measured["error.type"])
                    span.set_status(api.ERROR)
            if histogram is not None:
                histogram.record(time.perf_counter() - started, measured)
            if span is not None:
                span.end()

        if inspect.iscoroutinefunction(handler):

            @functools.wraps(handler)
            async def traced_async(event: Any) -> Any:
                span, started = start()
                try:
                    result = await handler(event)
                except BaseException as exc:
                    end(span, started, exc)
                    raise
                end(span, started, None)
                return result

            return traced_async

        @functools.wraps(handler)
        def traced(event: Any) -> Any:
            span, started = start()
            try:
                result = handler(event)
            except BaseException as exc:
                end(span, started, exc)
                raise
            # A plain handler that returns an awaitable: the span covers its plain part.
            end(span, started, None)
            return result

        return traced

    # --- the end of a delivery -----------------------------------------------------------

    def _finish(
        self,
        span: Span | None,
        signals: _Signals,
        result: Any,
        failure: BaseException | None,
        watch: _Watch,
    ) -> None:
        event = getattr(result, "event", None) or watch.event
        event_type = getattr(event, "type", None)
        if failure is not None:
            outcome = "interrupted"
        else:
            reason = getattr(result, "reason", None) or ""
            status = getattr(result, "status", 0)
            outcome = _RESULTS.get(reason) or ("refused" if 400 <= status < 500 else reason)
        counted: dict[str, Any] = {"bpcpay.webhook.result": outcome}
        if isinstance(event_type, str):
            counted["bpcpay.event.type"] = event_type
        if signals.deliveries is not None:
            signals.deliveries.add(1, counted)
        if signals.takeovers is not None:
            for side, happened in (("taken", watch.taken), ("lost", watch.lost)):
                if happened:
                    kind = self.store_kind
                    signals.takeovers.add(
                        1, {"bpcpay.webhook.store.kind": kind, "bpcpay.webhook.lease.side": side}
                    )
        if span is None:
            return
        if isinstance(event_type, str):
            span.update_name(f"bpcpay webhook {event_type}")
        attributes: dict[str, Any] = {**counted}
        if event is not None:
            attributes["bpcpay.webhook.reconciled"] = bool(getattr(event, "reconciled", False))
            attributes.update(
                _object_attributes(getattr(getattr(event, "data", None), "object", None))
            )
            if getattr(event, "request_id", None):
                attributes["bpcpay.request_id"] = event.request_id
        if result is not None:
            attributes["http.response.status_code"] = result.status
            attributes["bpcpay.webhook.reason"] = result.reason
            if result.key is not None:
                attributes["bpcpay.webhook.key"] = result.key
            if result.renewal_failures:
                attributes["bpcpay.webhook.renewal_failures"] = result.renewal_failures
        if watch.taken or watch.lost:
            attributes["bpcpay.webhook.lease.takeover"] = "taken" if watch.taken else "lost"
        error = None
        if failure is not None:
            if not _cancelled(failure):
                error = _error_type(failure)
        elif outcome == "refused":
            error = result.reason
        elif result is not None and result.status >= 500:
            error = _error_type(result.error) if result.error is not None else result.reason
        if error is not None:
            attributes["error.type"] = error
            span.set_status(signals.api.ERROR)
        span.set_attributes(attributes)
        span.end()


def router_telemetry(
    *, tracer_provider: object | None, meter_provider: object | None, store: object
) -> RouterTelemetry | None:
    """A router's telemetry, or None without the OpenTelemetry API.

    Raises:
        InvalidArgumentError: a provider is not one, or is given without the API installed.
    """
    _check_provider("tracer_provider", tracer_provider, "get_tracer")
    _check_provider("meter_provider", meter_provider, "get_meter")
    api = _api()
    if api is None:
        return None
    return RouterTelemetry(
        api=api, tracer_provider=tracer_provider, meter_provider=meter_provider, store=store
    )
