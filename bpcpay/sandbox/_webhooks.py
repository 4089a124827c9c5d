"""Webhook endpoints, events and their deliveries: signed POSTs, retried on a schedule.

Each emitted event is serialised once; the same bytes go to every endpoint whose selection
includes the event's type, signed with :func:`bpcpay.webhooks.sign` (the SDK's one signing
function). A delivery is one event to one endpoint; its id is the ``API-Request-Id`` that all of
its attempts carry, so a receiver can de-duplicate retries. Deliveries run as background tasks
on the gateway's loop and never hold up an API answer.
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
from collections.abc import Callable, Iterable, Sequence
from datetime import datetime
from typing import Any, Final, Literal
from urllib.parse import urljoin, urlsplit

import aiohttp
import attrs

from .._constants import REQUEST_ID_HEADER, SIGNATURE_HEADER, VERSION_HEADER
from .._core._checks import check_text
from .._core._wire import check_url, format_datetime
from .._exceptions import InvalidArgumentError
from ..webhooks import sign
from ._ids import new_delivery_id, new_event_id, new_webhook_endpoint_id

__all__ = [
    "DEFAULT_RETRY_SCHEDULE",
    "Attempt",
    "Delivery",
    "Dispatcher",
    "SandboxEvent",
    "WebhookEndpoint",
    "explain_answer",
]

logger = logging.getLogger("bpcpay.sandbox")

#: Seconds between attempts: BPC's callbacks retry every 30 s, 3 attempts in all [doc for v1].
DEFAULT_RETRY_SCHEDULE: Final[tuple[float, ...]] = (30.0, 30.0)
#: How long one attempt may take before it counts as failed.
ATTEMPT_TIMEOUT: Final = 10.0


@attrs.frozen(kw_only=True)
class WebhookEndpoint:
    """Where deliveries go, and which event types it wants (None: all of them)."""

    url: str
    events: frozenset[str] | None = None
    id: str = attrs.field(factory=new_webhook_endpoint_id)

    def wants(self, event_type: str) -> bool:
        """True when the selection includes ``event_type``."""
        return self.events is None or event_type in self.events


@attrs.frozen(kw_only=True)
class SandboxEvent:
    """One emitted event. ``body`` is the exact bytes every delivery of it sends."""

    id: str
    type: str
    created: datetime
    object: dict[str, Any] = attrs.field(repr=False)
    body: bytes = attrs.field(repr=False)


def explain_answer(status: int, url: str, location: str | None = None) -> str | None:
    """What an endpoint's failing answer most likely means, in words; None when no cause is known.

    The sandbox's delivery log and ``bpcpay listen`` both say it, so a delivery that fails for
    a wrong URL says so instead of a bare status.

    Args:
        status: the endpoint's HTTP status.
        url: the URL the delivery was POSTed to.
        location: the answer's ``Location`` header, for a redirect.

    Returns:
        A redirect: that webhooks follow none, and the exact URL to use (the ``Location``,
        resolved against ``url``); a 404: the path that has no route; a 405: that the path takes
        no POST; a 500: to look at the endpoint's log; else None.
    """
    path = urlsplit(url).path or "/"
    if 300 <= status < 400:
        where = "gave no Location" if not location else f"redirects to {urljoin(url, location)}"
        return (
            f"webhooks do not follow redirects: use the exact URL the endpoint answers at "
            f"(it {where})"
        )
    if status == 404:
        return f"no route for the path {path} at the endpoint: check the URL's path"
    if status == 405:
        return f"the endpoint takes no POST at {path}: check the route's methods"
    if status == 500:
        return "the endpoint failed: look at the endpoint's log for its error"
    return None


@attrs.frozen(kw_only=True)
class Attempt:
    """One POST of a delivery: the HTTP status, or the connection error, and for a failing
    status its likely cause in words (``cause``, see :func:`explain_answer`)."""

    number: int
    at: datetime
    status: int | None
    error: str | None
    duration: float
    cause: str | None = None

    @property
    def ok(self) -> bool:
        """True for a 2xx answer."""
        return self.status is not None and 200 <= self.status < 300


@attrs.define(kw_only=True, eq=False)
class Delivery:
    """One event to one endpoint, with every attempt so far.

    ``id`` is the ``API-Request-Id`` of each attempt. ``state`` is ``pending`` while attempts
    remain, then ``succeeded`` or ``failed``.
    """

    id: str
    event: SandboxEvent
    endpoint: WebhookEndpoint
    attempts: list[Attempt] = attrs.Factory(list)
    state: Literal["pending", "succeeded", "failed"] = "pending"

    @property
    def succeeded(self) -> bool:
        """True once an attempt got a 2xx answer."""
        return self.state == "succeeded"


class Dispatcher:
    """Records events and runs their deliveries.

    Args:
        secret: the webhook secret deliveries are signed with.
        api_version: sent as ``X-Version``.
        retry_schedule: seconds to wait before each retry; ``1 + len(retry_schedule)`` attempts.
        clock: the gateway's clock, for event and attempt times.
        http: returns the gateway's client session (created when the gateway starts).
    """

    def __init__(
        self,
        *,
        secret: str,
        api_version: str,
        retry_schedule: Sequence[float],
        clock: Callable[[], datetime],
        http: Callable[[], aiohttp.ClientSession],
        stopping: asyncio.Event,
    ) -> None:
        self._secret = secret
        self._api_version = api_version
        self._schedule = tuple(retry_schedule)
        self._clock = clock
        self._http = http
        self._stopping = stopping
        self.endpoints: list[WebhookEndpoint] = []
        self.events: list[SandboxEvent] = []
        self.deliveries: list[Delivery] = []
        self._tasks: set[asyncio.Task[None]] = set()

    def add_endpoint(self, url: str, events: Iterable[str] | None = None) -> WebhookEndpoint:
        """Deliver future events (of the given types, or all) to ``url``.

        Raises:
            InvalidArgumentError: ``url`` is not an absolute http(s) URL, or ``events`` is one
                str or holds something other than non-empty strs.
        """
        check_url("url", url)
        if isinstance(events, str):
            raise InvalidArgumentError("events", "give a list of event types, not one str")
        selection = (
            None
            if events is None
            else frozenset(check_text("events", item, empty=False) for item in events)
        )
        endpoint = WebhookEndpoint(url=url, events=selection)
        self.endpoints.append(endpoint)
        return endpoint

    def emit(self, event_type: str, obj: dict[str, Any]) -> SandboxEvent:
        """Record an event and start its deliveries in the background."""
        created = self._clock().replace(microsecond=0)
        payload = {"created": format_datetime(created), "type": event_type, "data": {"object": obj}}
        body = json.dumps(payload, separators=(",", ":"), ensure_ascii=False).encode("utf-8")
        event = SandboxEvent(
            id=new_event_id(), type=event_type, created=created, object=obj, body=body
        )
        self.events.append(event)
        logger.info("event %s %s", event.type, obj.get("id"))
        for endpoint in self.endpoints:
            if endpoint.wants(event_type):
                self._start(Delivery(id=new_delivery_id(), event=event, endpoint=endpoint))
        return event

    def _start(self, delivery: Delivery) -> asyncio.Task[None]:
        if delivery not in self.deliveries:
            self.deliveries.append(delivery)
        delivery.state = "pending"
        task = asyncio.get_running_loop().create_task(self._run(delivery))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        return task

    async def resend(self, ident: str) -> list[Delivery]:
        """Send again, now, and wait for the outcome.

        Args:
            ident: a delivery id (that delivery is retried with the same ``API-Request-Id``)
                or an event id (new deliveries to every endpoint that wants it).

        Raises:
            KeyError: no such delivery or event.
        """
        for delivery in self.deliveries:
            if delivery.id == ident:
                await self._start(delivery)
                return [delivery]
        for event in self.events:
            if event.id == ident:
                fresh = [
                    Delivery(id=new_delivery_id(), event=event, endpoint=endpoint)
                    for endpoint in self.endpoints
                    if endpoint.wants(event.type)
                ]
                await asyncio.gather(*(self._start(d) for d in fresh))
                return fresh
        raise KeyError(f"no delivery or event with id {ident!r}")

    async def wait(self, timeout: float) -> None:
        """Return once no delivery is in flight (including ones started meanwhile).

        Raises:
            TimeoutError: deliveries were still running after ``timeout`` seconds.
        """
        deadline = asyncio.get_running_loop().time() + timeout
        while self._tasks:
            left = deadline - asyncio.get_running_loop().time()
            if left <= 0:
                raise TimeoutError(f"webhook deliveries still running after {timeout} s")
            await asyncio.wait(set(self._tasks), timeout=left)

    async def aclose(self) -> None:
        """Cancel deliveries in flight."""
        tasks = set(self._tasks)
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)

    async def _run(self, delivery: Delivery) -> None:
        first = len(delivery.attempts)
        for index in range(len(self._schedule) + 1):
            if index:
                try:
                    await asyncio.wait_for(self._stopping.wait(), self._schedule[index - 1])
                    return  # the gateway is stopping
                except asyncio.TimeoutError:
                    pass
            attempt = await self._attempt(delivery, first + index + 1)
            delivery.attempts.append(attempt)
            if attempt.ok:
                delivery.state = "succeeded"
                return
        delivery.state = "failed"
        last = delivery.attempts[-1]
        logger.warning(
            "webhook %s to %s failed after %d attempts: %s",
            delivery.event.type,
            delivery.endpoint.url,
            len(self._schedule) + 1,
            _outcome(last),
        )

    async def _attempt(self, delivery: Delivery, number: int) -> Attempt:
        event = delivery.event
        headers = {
            "Content-Type": "application/json",
            SIGNATURE_HEADER: sign(event.body, self._secret),
            VERSION_HEADER: self._api_version,
            REQUEST_ID_HEADER: delivery.id,
            "User-Agent": "bpcpay-sandbox",
        }
        at = self._clock()
        started = time.perf_counter()
        status: int | None = None
        error: str | None = None
        cause: str | None = None
        try:
            async with self._http().post(
                delivery.endpoint.url,
                data=event.body,
                headers=headers,
                allow_redirects=False,
                timeout=aiohttp.ClientTimeout(total=ATTEMPT_TIMEOUT),
            ) as response:
                status = response.status
                cause = explain_answer(
                    status, delivery.endpoint.url, response.headers.get("Location")
                )
                await response.read()
        except asyncio.TimeoutError:
            error = f"no answer within {ATTEMPT_TIMEOUT} s"
        except aiohttp.ClientError as exc:
            error = f"{type(exc).__name__}: {exc}"
        duration = time.perf_counter() - started
        attempt = Attempt(
            number=number, at=at, status=status, error=error, duration=duration, cause=cause
        )
        logger.info(
            "webhook %s -> %s: %s (attempt %d, delivery %s, %.1f ms)",
            event.type,
            delivery.endpoint.url,
            _outcome(attempt),
            number,
            delivery.id,
            duration * 1000,
        )
        return attempt


def _outcome(attempt: Attempt) -> str:
    """An attempt's status (and its cause) or its connection error, as the log lines say it."""
    if attempt.error is not None:
        return attempt.error
    return f"{attempt.status}" if attempt.cause is None else f"{attempt.status}, {attempt.cause}"
