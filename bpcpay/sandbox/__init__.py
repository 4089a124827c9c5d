"""bpcpay.sandbox: a local BPC Payment Gateway for tests, demos and development.

A stateful stand-in for ``https://dev.bpcbt.com/api2``: every endpoint bpcpay wraps, the hosted
payment page with the published test cards and a 3-D Secure step, signed webhook deliveries
with retries, and fault injection. It signs with :func:`bpcpay.webhooks.sign` and serialises
with the SDK's converter, so the sandbox and the SDK cannot disagree::

    async with SandboxGateway() as gw:
        async with AsyncBpcPay(api_key=gw.api_key, base_url=gw.base_url) as client:
            session = await client.sessions.create(amount=10000, currency="EUR", ...)
            result = await gw.pay(session.id, card=TestCards.SUCCESS_CHALLENGE)

What is ours rather than BPC's (error codes other than 71015, the 3-D Secure page, refund and
payment-method event names, ``nextAction``) is marked [inferred] where it is defined.
"""

from ._app import SUPPORTED_API_VERSIONS, RequestRecord
from ._cards import DECLINED_CODE, INPUT_ERROR_CODE, TestCard, TestCards, expiry_accepted
from ._clock import ManualClock, system_clock
from ._customer import PayResult
from ._faults import Fault, Faults
from ._gateway import DEFAULT_REQUEST_LOG_SIZE, SandboxGateway
from ._money import format_amount
from ._state import CHALLENGE_PATH, DEFAULT_SESSION_LIFETIME, PAGE_PATH
from ._thread import ThreadedSandboxGateway
from ._webhooks import (
    DEFAULT_RETRY_SCHEDULE,
    Attempt,
    Delivery,
    SandboxEvent,
    WebhookEndpoint,
)

__all__ = [
    "CHALLENGE_PATH",
    "DECLINED_CODE",
    "DEFAULT_REQUEST_LOG_SIZE",
    "DEFAULT_RETRY_SCHEDULE",
    "DEFAULT_SESSION_LIFETIME",
    "INPUT_ERROR_CODE",
    "PAGE_PATH",
    "SUPPORTED_API_VERSIONS",
    "Attempt",
    "Delivery",
    "Fault",
    "Faults",
    "ManualClock",
    "PayResult",
    "RequestRecord",
    "SandboxEvent",
    "SandboxGateway",
    "TestCard",
    "TestCards",
    "ThreadedSandboxGateway",
    "WebhookEndpoint",
    "expiry_accepted",
    "format_amount",
    "system_clock",
]
