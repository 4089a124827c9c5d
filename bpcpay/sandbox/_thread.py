"""ThreadedSandboxGateway: a SandboxGateway on its own event loop thread, with a synchronous
face, for Flask or Django test suites and the sync client.

The thread is a :class:`bpcpay._bridge.LoopThread` of its own (named ``bpcpay-sandbox``, apart
from the sync clients' loop, so a stuck gateway never stalls the SDK it serves), and every call
that touches the gateway goes through the bridge's one way of waiting for a loop,
``run_call``: bounded by ``timeout`` seconds, cancelled on Ctrl-C. So the gateway's state is
never shared between threads, and a stuck start, stop or call fails with a ``TimeoutError``
that says what is stuck instead of hanging the test suite. Plain attributes (URLs,
credentials, the thread-safe fault set) are read directly.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Coroutine, Iterable
from types import TracebackType
from typing import Any, Concatenate, Generic, ParamSpec, TypeVar, overload

from .._bridge import CallTimeout, LoopThread
from ._app import RequestRecord
from ._faults import Faults
from ._gateway import SandboxGateway
from ._webhooks import Delivery, SandboxEvent, WebhookEndpoint

__all__ = ["ThreadedSandboxGateway"]

T = TypeVar("T")
P = ParamSpec("P")
#: How long a start, a stop or a call may take by default before it fails as stuck.
DEFAULT_TIMEOUT = 30.0


async def _plain(fn: Callable[[], T]) -> T:
    """Run a plain function on the loop (the gateway's state lives there)."""
    return fn()


def _blocking(
    method: Callable[Concatenate[SandboxGateway, P], Coroutine[Any, Any, T]],
) -> Callable[Concatenate[ThreadedSandboxGateway, P], T]:
    """The synchronous twin of an async method of SandboxGateway (same parameters)."""

    def run(self: ThreadedSandboxGateway, /, *args: P.args, **kwargs: P.kwargs) -> T:
        return self._wait(method.__name__, method, (self.gateway, *args), kwargs)

    run.__name__ = method.__name__
    run.__doc__ = f"See :meth:`SandboxGateway.{method.__name__}` (here it waits for the result)."
    return run


def _on_loop(
    method: Callable[Concatenate[SandboxGateway, P], T],
) -> Callable[Concatenate[ThreadedSandboxGateway, P], T]:
    """A plain method of SandboxGateway, run on the gateway's loop (same parameters)."""

    def run(self: ThreadedSandboxGateway, /, *args: P.args, **kwargs: P.kwargs) -> T:
        return self._call(method.__name__, lambda: method(self.gateway, *args, **kwargs))

    run.__name__ = method.__name__
    run.__doc__ = f"See :meth:`SandboxGateway.{method.__name__}`."
    return run


class _Same(Generic[T]):
    """A read-only attribute that is the gateway's own (read directly: it never changes, or
    is thread-safe)."""

    def __init__(self, doc: str) -> None:
        self.__doc__ = doc
        self.name = ""

    def __set_name__(self, owner: type, name: str) -> None:
        self.name = name

    @overload
    def __get__(self, obj: None, owner: type) -> _Same[T]: ...
    @overload
    def __get__(self, obj: ThreadedSandboxGateway, owner: type) -> T: ...
    def __get__(self, obj: ThreadedSandboxGateway | None, owner: type) -> T | _Same[T]:
        if obj is None:
            return self
        value: T = getattr(obj.gateway, self.name)
        return value


class ThreadedSandboxGateway:
    """A running :class:`SandboxGateway` in a background thread. Stop it with :meth:`stop` or
    a ``with`` block.

    Args:
        gateway: the gateway to start (not started yet).
        timeout: how long, in seconds, its start, its stop or any call may take before it
            fails with a ``TimeoutError`` saying what is stuck (``wait_for_deliveries`` gets
            its own ``timeout`` on top).

    Raises:
        OSError: the gateway could not start (e.g. its port is in use).
        TimeoutError: the gateway did not start within ``timeout``.
    """

    def __init__(self, gateway: SandboxGateway, *, timeout: float = DEFAULT_TIMEOUT) -> None:
        self.gateway = gateway
        self._timeout = timeout
        self._thread = LoopThread(name="bpcpay-sandbox")
        try:
            self._wait("start", gateway.start)
        except BaseException:
            self._thread.stop(timeout)
            raise

    def _wait(
        self,
        what: str,
        fn: Callable[..., Coroutine[Any, Any, T]],
        args: tuple[Any, ...] = (),
        kwargs: dict[str, Any] | None = None,
        *,
        extra: float = 0.0,
    ) -> T:
        """Run ``fn(*args, **kwargs)`` on the gateway's loop and wait for it, at most
        ``timeout + extra`` seconds; ``what`` names it in the error."""
        thread = self._thread
        if not thread.alive:
            raise RuntimeError("the sandbox gateway is stopped")
        try:
            return thread.call(fn, *args, timeout=self._timeout + extra, **(kwargs or {}))
        except CallTimeout as exc:
            raise TimeoutError(
                f"the sandbox gateway's {what} did not finish within {exc.waited:g}s; its "
                "event loop thread is stuck or overloaded"
            ) from None

    def _call(self, what: str, fn: Callable[[], T]) -> T:
        """Run the plain function ``fn()`` on the gateway's loop (where its state lives)."""
        result: T = self._wait(what, _plain, (fn,))
        return result

    def stop(self) -> None:
        """Stop the gateway and its thread. Idempotent.

        Raises:
            TimeoutError: the gateway or its thread did not stop within ``timeout`` (the
                thread is a daemon: it does not keep the process alive).
        """
        if not self._thread.alive:
            return
        try:
            self._wait("stop", self.gateway.aclose)
        finally:
            ended = self._thread.stop(self._timeout)
        if not ended:
            raise TimeoutError(
                f"the sandbox gateway's thread did not end within {self._timeout:g}s"
            )

    def __enter__(self) -> ThreadedSandboxGateway:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    def __repr__(self) -> str:
        return f"<ThreadedSandboxGateway {self.base_url}>"

    # --- the same attributes -----------------------------------------------------------------

    url = _Same[str]("The root URL.")
    """The root URL."""
    base_url = _Same[str]("The API's base URL.")
    """The API's base URL."""
    api_key = _Same[str]("The API key.")
    """The API key."""
    restricted_api_key = _Same[str]("The key that gets 403.")
    """The key that gets 403."""
    webhook_secret = _Same[str]("The webhook signing secret.")
    """The webhook signing secret."""
    faults = _Same[Faults]("The fault set (thread-safe).")
    """The fault set (thread-safe)."""

    @property
    def state_bytes(self) -> int:
        """What the gateway keeps: see :attr:`SandboxGateway.state_bytes`."""
        return self._call("state_bytes", lambda: self.gateway.state_bytes)

    @property
    def requests(self) -> list[RequestRecord]:
        """The request log."""
        return self._call("requests", lambda: list(self.gateway.requests))

    @property
    def events(self) -> list[SandboxEvent]:
        """Every event emitted so far."""
        return self._call("events", lambda: self.gateway.events)

    @property
    def deliveries(self) -> list[Delivery]:
        """Every delivery so far."""
        return self._call("deliveries", lambda: self.gateway.deliveries)

    # --- the same methods, synchronous -------------------------------------------------------
    # Each takes the gateway method's parameters and waits for its result (within timeout).

    now = _on_loop(SandboxGateway.now)
    """The gateway's current time: see :meth:`SandboxGateway.now`."""
    advance_clock = _on_loop(SandboxGateway.advance_clock)
    """Move the gateway's clock: see :meth:`SandboxGateway.advance_clock`."""
    expire_due = _on_loop(SandboxGateway.expire_due)
    """Expire the sessions past due: see :meth:`SandboxGateway.expire_due`."""
    card_token = _on_loop(SandboxGateway.card_token)
    """A card token for a test card: see :meth:`SandboxGateway.card_token`."""
    resend = _blocking(SandboxGateway.resend)
    """Deliver again and wait for the outcome: see :meth:`SandboxGateway.resend`."""
    pay = _blocking(SandboxGateway.pay)
    """Play the customer through the payment page: see :meth:`SandboxGateway.pay`."""
    authenticate = _blocking(SandboxGateway.authenticate)
    """Answer a 3-D Secure page: see :meth:`SandboxGateway.authenticate`."""

    def add_webhook_endpoint(
        self, url: str, events: Iterable[str] | None = None
    ) -> WebhookEndpoint:
        """See :meth:`SandboxGateway.add_webhook_endpoint`."""
        selection = None if events is None else list(events)  # read in the caller's thread
        return self._call(
            "add_webhook_endpoint", lambda: self.gateway.add_webhook_endpoint(url, selection)
        )

    def wait_for_deliveries(self, timeout: float = 5.0) -> list[Delivery]:
        """See :meth:`SandboxGateway.wait_for_deliveries`."""
        return self._wait(
            "wait_for_deliveries", self.gateway.wait_for_deliveries, (timeout,), extra=timeout
        )

    def run(self, make: Callable[[], Awaitable[T]]) -> T:
        """Run ``make()`` (a coroutine function) on the gateway's loop and return its result."""

        async def call() -> T:
            return await make()

        return self._wait("run", call)
