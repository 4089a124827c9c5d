"""Reconciliation: catch up on sessions, payments and refunds whose webhook may have been missed.

For each id the plan retrieves the object; one in a final state is delivered, through the same
delivery plan, store and keys as a real webhook, as the event of that state (``event.reconciled``
is True). Final-state events key on ``(type, object id)`` (``_keys``), so whichever of the
webhook and the reconciler sees the final state first runs the handlers, and the other is a
duplicate. Pure: a plan of ``Retrieve`` effects and delivery plans; imports no I/O library.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Mapping
from datetime import datetime, timezone
from typing import Any, Final

from .._exceptions import APIStatusError, BpcPayError, InvalidArgumentError
from .._log import library_logger
from ..models import Event, EventData, EventType, PaymentStatus, RefundStatus, SessionStatus
from ._effects import Plan
from ._plan import Retrieve, WebhookResult

__all__ = ["FINAL_EVENTS", "reconcile_plan", "wanted_ids"]

logger = library_logger("webhooks")

#: For each resource the client retrieves: its final statuses, and the event each one sends.
FINAL_EVENTS: Final[Mapping[str, Mapping[str, str]]] = {
    "sessions": {
        SessionStatus.COMPLETE: EventType.SESSION_COMPLETED,
        SessionStatus.EXPIRED: EventType.SESSION_EXPIRED,
    },
    "payments": {
        PaymentStatus.SUCCEEDED: EventType.PAYMENT_SUCCEEDED,
        PaymentStatus.FAILED: EventType.PAYMENT_FAILED,
        PaymentStatus.CANCELED: EventType.PAYMENT_CANCELED,
    },
    "refunds": {
        RefundStatus.SUCCEEDED: EventType.REFUND_SUCCEEDED,
        RefundStatus.FAILED: EventType.REFUND_FAILED,
    },
}


def _ids(argument: str, ids: Iterable[str]) -> list[str]:
    if isinstance(ids, (str, bytes)):
        raise InvalidArgumentError(argument, "give a list of ids, not one str")
    found = list(ids)
    if not all(isinstance(i, str) and i for i in found):
        raise InvalidArgumentError(argument, "every id must be a non-empty str")
    return found


def wanted_ids(
    session_ids: Iterable[str], payment_ids: Iterable[str], refund_ids: Iterable[str]
) -> list[tuple[str, str]]:
    """``(resource, id)`` for every id, sessions first, checked before anything is sent.

    Raises:
        InvalidArgumentError: an argument is a single str, or holds a non-str or empty id.
    """
    return [
        (resource, object_id)
        for resource, argument, ids in (
            ("sessions", "session_ids", session_ids),
            ("payments", "payment_ids", payment_ids),
            ("refunds", "refund_ids", refund_ids),
        )
        for object_id in _ids(argument, ids)
    ]


def reconcile_plan(
    client: Any,
    wanted: list[tuple[str, str]],
    *,
    deliver: Callable[[Event, bytes], Plan[WebhookResult]],
    wall: Callable[[], float],
) -> Plan[list[WebhookResult]]:
    """Retrieve each object; deliver the final ones with ``deliver(event, payload)``.

    Returns:
        One result per id, in order: the delivery's, 202 ``open`` (not final: nothing run), or
        the API's status with reason ``retrieve_failed``.
    """
    results: list[WebhookResult] = []
    for resource, object_id in wanted:
        try:
            obj = yield Retrieve(client, resource, object_id)
        except BpcPayError as exc:
            status = exc.status_code if isinstance(exc, APIStatusError) else 502
            if isinstance(exc, InvalidArgumentError):
                status = 400
            logger.warning("reconcile %s: %s", object_id, type(exc).__name__)
            results.append(WebhookResult(status=status, reason="retrieve_failed", error=exc))
            continue
        event_type = FINAL_EVENTS[resource].get(obj.status)
        if event_type is None:
            results.append(WebhookResult(status=202, reason="open"))
            continue
        created = datetime.fromtimestamp(wall(), tz=timezone.utc)
        raw = {
            "created": created.isoformat(),
            "type": event_type,
            "data": {"object": dict(obj.raw)},
        }
        event = Event(
            type=event_type,
            created=created,
            data=EventData(object=obj),
            raw=raw,
            reconciled=True,
        )
        payload = json.dumps(raw, sort_keys=True, default=str).encode()
        results.append((yield from deliver(event, payload)))
    return results
