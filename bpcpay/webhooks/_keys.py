"""De-duplication keys: which deliveries are "the same event". Pure; imports no I/O library.

A key is built from the *signed* body only. ``API-Request-Id`` is not signed: a replayed
delivery can carry any request id it likes, so a key built on it lets a replay through.

Events that mark an object's final state (:data:`FINAL_STATE_EVENTS`) happen once per object,
so their key is ``(type, object id)``: a real delivery and a reconciled one (synthesized from
``sessions.retrieve``, see ``WebhookRouter.reconcile``) share it, and whichever path sees the
completion first runs the handlers, once. Events one object can emit more than once
(``payment.funded`` after each partial capture, refunds) keep the signed ``created`` in the key.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from typing import Final

from ..models import Event, EventType

__all__ = ["FINAL_STATE_EVENTS", "event_key", "request_id_key"]

#: Event types that mark an object's final state: emitted at most once per object.
FINAL_STATE_EVENTS: Final = frozenset({EventType.SESSION_COMPLETED, EventType.SESSION_EXPIRED})


def event_key(event: Event, payload: bytes) -> str:
    """The default de-duplication key, from the signed body.

    ``evt:<type>:<object id>`` for :data:`FINAL_STATE_EVENTS`; ``evt:<type>:<object
    id>:<created>`` for the others; a digest of the signed body when the object has no id (or a
    repeatable event has no ``created``), e.g. for an unknown event type.

    Args:
        event: the verified event.
        payload: the raw body it was parsed from.

    Returns:
        The key (at most a few hundred characters; ids are the gateway's).
    """
    obj = event.data.object
    object_id = obj.get("id") if isinstance(obj, Mapping) else getattr(obj, "id", None)
    if isinstance(object_id, str) and object_id:
        if event.type in FINAL_STATE_EVENTS:
            return f"evt:{event.type}:{object_id}"
        if event.created is not None:
            return f"evt:{event.type}:{object_id}:{event.created.isoformat()}"
    return "body:" + hashlib.sha256(payload).hexdigest()


def request_id_key(event: Event, payload: bytes) -> str:
    """An alternative key: the delivery id (``API-Request-Id``), else :func:`event_key`.

    Not recommended: the header is not signed, so a replay with a fresh request id gets a fresh
    key and runs the handlers again. Kept for receivers that must match the gateway's own
    delivery log one to one.

    Args:
        event: the verified event (``event.request_id`` is the header's value).
        payload: the raw body.

    Returns:
        ``req:<request id>``, or :func:`event_key` when the header was absent.
    """
    if event.request_id:
        return "req:" + event.request_id
    return event_key(event, payload)
