"""``bpcpay conformance``: play BPC's documented server-to-server flows against a gateway and say,
fact by fact, where it agrees with the contract bpcpay is written to.

The flows: a session created, retrieved and expired; direct payments with the published test
cards (a frictionless success, a decline); a two-step hold captured in two parts; a hold
cancelled; a refund; a request with a wrong key; and, with ``--listen PORT`` (the gateway's
webhook URL pointing there), the deliveries that follow. Every contract fact (:data:`FACTS`)
gets one line, ``confirmed``, ``contradicted`` or ``not tested``, naming the wire field and
what was seen, then the summary ``N confirmed, M contradicted, K not tested``; the exit status
is 1 when anything was contradicted. Requests go out raw (aiohttp, the SDK's endpoint table and
headers), not through the client, so that a field the client would normalise is seen as sent.

Its default target is the bundled sandbox, started for the run. ``--base-url URL`` checks
another gateway with ``BPCPAY_API_KEY`` (and ``BPCPAY_WEBHOOK_SECRET`` for the signatures).
``--record FILE`` writes what was seen (the key never; signatures as their form only) and
``--recording FILE`` plays the flows again (against the sandbox by default) and holds what it
sees against the recording, fact by fact. The API key is never printed or written.

``register`` stays cheap: nothing but argparse is imported until the command runs.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import sys
from typing import Any, Final

from ._common import add_command, refuse

__all__ = ["FACTS", "Fact", "register"]

#: The card a recorded request body shows instead of the number and CVC it sent.
_MASKED: Final = "[masked]"
_HEX64 = re.compile(r"[0-9a-f]{64}")


class Fact:
    """One fact of the contract that a run can confirm or contradict.

    Args:
        key: a short stable name (``session.status``), the recording's key.
        field: the wire field (or header) it is about (``status``, ``X-Signature``).
        claim: what the contract says of it, for the line printed.
        source: ``doc: <page>`` or ``inferred``.
    """

    __slots__ = ("claim", "field", "key", "source")

    def __init__(self, key: str, field: str, claim: str, source: str) -> None:
        self.key = key
        self.field = field
        self.claim = claim
        self.source = source


#: The contract's facts, in the order they are printed.
FACTS: Final = (
    Fact(
        "session.id",
        "id",
        "sessions.create answers with the session's id",
        "doc: redirect-integration",
    ),
    Fact(
        "session.paymentUrl",
        "paymentUrl",
        "a new session has an absolute http(s) paymentUrl",
        "doc: redirect-integration",
    ),
    Fact(
        "session.status", "status", "a new session's status is 'open'", "doc: redirect-integration"
    ),
    Fact(
        "session.paymentStatus",
        "paymentStatus",
        "a new session's paymentStatus is 'unpaid'",
        "doc: redirect-integration",
    ),
    Fact(
        "session.amount",
        "amount",
        "the session echoes amount and currency (any case)",
        "doc: redirect-integration",
    ),
    Fact(
        "session.expiresAt",
        "expiresAt",
        "a session expires 20 minutes after it was created",
        "doc: redirect-integration, cancel-refund",
    ),
    Fact(
        "response.X-Version", "X-Version", "every response carries X-Version", "doc: api-versions"
    ),
    Fact("response.API-Request-Id", "API-Request-Id", "responses carry API-Request-Id", "inferred"),
    Fact(
        "session.retrieve",
        "id",
        "sessions.retrieve answers with the same session",
        "doc: api-keys, api-versions",
    ),
    Fact(
        "session.expire.status",
        "status",
        "an expired session's status is 'expired'",
        "doc: cancel-refund",
    ),
    Fact(
        "session.expire.paymentUrl",
        "paymentUrl",
        "a session expired early has no paymentUrl",
        "doc: cancel-refund",
    ),
    Fact("session.expire.expiresAt", "expiresAt", "expiring keeps expiresAt", "doc: cancel-refund"),
    Fact(
        "session.expire.again",
        "HTTP status",
        "expiring a session that is not open is refused with 4xx",
        "inferred",
    ),
    Fact(
        "payment.succeeded",
        "status",
        "a frictionless test card's direct payment is 'succeeded'",
        "doc: direct-integration, test-cards",
    ),
    Fact(
        "payment.retrieve",
        "status",
        "payments.retrieve answers with the payment as it stands",
        "doc: direct-integration",
    ),
    Fact("payment.declined", "status", "a declining test card's payment is 'failed'", "inferred"),
    Fact("hold.status", "status", "a two-step hold is 'requiresCapture'", "doc: two-step"),
    Fact(
        "hold.amountCapturable",
        "amountCapturable",
        "a hold's amountCapturable is its amount",
        "doc: two-step",
    ),
    Fact(
        "capture.partial.amounts",
        "amountReceived",
        "a partial capture moves amountReceived and amountCapturable",
        "inferred",
    ),
    Fact(
        "capture.partial.status",
        "status",
        "after a partial capture the payment is still 'requiresCapture'",
        "inferred",
    ),
    Fact(
        "capture.last.status",
        "status",
        "the capture that spends the rest makes the payment 'succeeded'",
        "doc: two-step",
    ),
    Fact("cancel.status", "status", "a cancelled hold is 'canceled'", "inferred"),
    Fact("refund.status", "status", "a refund is 'succeeded' or 'pending'", "inferred"),
    Fact("refund.amount", "amount", "a refund echoes its payment and amount", "inferred"),
    Fact(
        "auth.wrong-key",
        "HTTP status",
        "a wrong key is an authentication error, 401",
        "doc: api-keys",
    ),
    Fact(
        "webhook.signature",
        "X-Signature",
        "deliveries are signed: HMAC-SHA256 of the body with the secret",
        "doc: webhooks",
    ),
    Fact(
        "webhook.signature.form",
        "X-Signature",
        "the signature is written as 64 lowercase hex digits",
        "inferred",
    ),
    Fact("webhook.X-Version", "X-Version", "deliveries carry X-Version", "doc: webhooks"),
    Fact(
        "webhook.API-Request-Id",
        "API-Request-Id",
        "deliveries carry API-Request-Id",
        "doc: webhooks",
    ),
    Fact(
        "webhook.body",
        "data.object",
        "a delivery's body has created, type and data.object",
        "doc: webhooks",
    ),
    Fact(
        "webhook.payment",
        "type",
        "a direct payment emits payment.created then payment.succeeded",
        "doc: direct-integration",
    ),
    Fact(
        "webhook.hold",
        "type",
        "a hold emits payment.amountCapturableUpdated",
        "doc: direct-integration",
    ),
    Fact(
        "webhook.funded",
        "type",
        "each capture emits payment.funded",
        "doc: direct-integration, webhooks",
    ),
    Fact("webhook.canceled", "type", "a cancel emits payment.canceled", "doc: direct-integration"),
    Fact(
        "webhook.expired", "type", "an expired session emits session.expired", "doc: cancel-refund"
    ),
    Fact(
        "session.completed",
        "type",
        "a paid session emits session.completed",
        "doc: redirect-integration",
    ),
)
_BY_KEY = {fact.key: fact for fact in FACTS}
#: Facts no server-to-server run can test: a customer has to pay on the hosted page.
_NEEDS_A_CUSTOMER = {"session.completed": "a customer has to pay on the hosted page"}

CONFIRMED, CONTRADICTED, NOT_TESTED = "confirmed", "contradicted", "not tested"


def _shown(value: object) -> str:
    """A seen value as printed: JSON, cut short."""
    text = json.dumps(value, ensure_ascii=False) if not isinstance(value, str) else repr(value)
    return text if len(text) <= 80 else text[:77] + "..."


class _Run:
    """One run's findings (fact key -> outcome and what was seen) and what it saw on the wire."""

    def __init__(self) -> None:
        self.findings: dict[str, tuple[str, str]] = {}
        self.exchanges: list[dict[str, Any]] = []
        self.deliveries: list[dict[str, Any]] = []

    def judge(self, key: str, ok: bool, seen: str) -> None:
        # The first judgement of a fact stands: later flows may see it again.
        self.findings.setdefault(key, (CONFIRMED if ok else CONTRADICTED, seen))

    def skip(self, key: str, why: str) -> None:
        self.findings.setdefault(key, (NOT_TESTED, why))


class _Gateway:
    """Raw calls to one gateway with the SDK's headers; every answer is kept for the record."""

    def __init__(self, http: Any, base_url: str, api_key: str, api_version: str, run: _Run) -> None:
        self._http = http
        self._base_url = base_url.rstrip("/")
        self._headers = {"X-Api-Key": api_key, "X-Version": api_version}
        self._run = run

    async def call(
        self, name: str, body: dict[str, Any] | None = None, *, wrong_key: bool = False, **ids: str
    ) -> tuple[int, dict[str, str], Any]:
        from .._core._wire import ENDPOINTS

        endpoint = ENDPOINTS[name]
        path = endpoint.render(**ids)
        headers = dict(self._headers)
        if wrong_key:
            headers["X-Api-Key"] = "bpcpay-conformance-not-a-key"
        async with self._http.request(
            endpoint.method,
            self._base_url + path,
            json=body,
            headers=headers,
            allow_redirects=False,
        ) as response:
            raw = await response.read()
            kept = {
                name: response.headers[name]
                for name in ("X-Version", "API-Request-Id", "Content-Type")
                if name in response.headers
            }
            status = response.status
        try:
            data = json.loads(raw) if raw else None
        except ValueError:
            data = None
        self._run.exchanges.append(
            {
                "call": name,
                "path": path,
                "body": _masked(body),
                "status": status,
                "headers": kept,
                "answer": data,
            }
        )
        return status, kept, data


def _masked(body: dict[str, Any] | None) -> dict[str, Any] | None:
    """A request body as recorded: a card's number and CVC replaced."""
    if body is None or "paymentMethod" not in body:
        return body
    card = dict(body["paymentMethod"].get("card", {}))
    for member in ("number", "cvc"):
        if member in card:
            card[member] = _MASKED
    return {**body, "paymentMethod": {"card": card}}


def _get(data: Any, field: str) -> Any:
    return data.get(field) if isinstance(data, dict) else None


def _card(number: str, exp_month: int, exp_year: int) -> dict[str, Any]:
    return {
        "card": {"number": number, "expiryMonth": exp_month, "expiryYear": exp_year, "cvc": "123"}
    }


# The published test cards [doc: test-cards], as a gateway's test environment knows them.
_FRICTIONLESS = ("4111111111111111", 12, 2026)
_DECLINES = ("5168494895055780", 12, 2026)
_NO_3DS = ("4444555511113333", 12, 2026)
_URLS = {
    "successUrl": "https://conformance.bpcpay.invalid/success",
    "failureUrl": "https://conformance.bpcpay.invalid/failure",
}


async def _play(gw: _Gateway, run: _Run) -> dict[str, str]:
    """Play every flow; returns the ids of what was made (for the deliveries' facts)."""
    from datetime import timedelta

    from .._core._wire import parse_datetime

    made: dict[str, str] = {}
    status, headers, session = await gw.call(
        "sessions.create", {"amount": 1000, "currency": "EUR", **_URLS}
    )
    session_id = _get(session, "id")
    run.judge(
        "session.id",
        status == 200 and isinstance(session_id, str) and bool(session_id),
        f"HTTP {status}, id {_shown(session_id)}",
    )
    run.judge(
        "response.X-Version",
        "X-Version" in headers,
        f"X-Version {_shown(headers.get('X-Version'))}",
    )
    run.judge(
        "response.API-Request-Id",
        "API-Request-Id" in headers,
        f"API-Request-Id {_shown(headers.get('API-Request-Id'))}",
    )
    if not isinstance(session_id, str) or not session_id:
        return made
    made["session"] = session_id
    url = _get(session, "paymentUrl")
    run.judge(
        "session.paymentUrl",
        isinstance(url, str) and url.startswith(("https://", "http://")),
        f"paymentUrl {_shown(url)}; fields {_shown(sorted(session))}",
    )
    run.judge(
        "session.status",
        _get(session, "status") == "open",
        f"status {_shown(_get(session, 'status'))}",
    )
    run.judge(
        "session.paymentStatus",
        _get(session, "paymentStatus") == "unpaid",
        f"paymentStatus {_shown(_get(session, 'paymentStatus'))}",
    )
    currency = _get(session, "currency")
    run.judge(
        "session.amount",
        _get(session, "amount") == 1000 and isinstance(currency, str) and currency.upper() == "EUR",
        f"amount {_shown(_get(session, 'amount'))}, currency {_shown(currency)}",
    )
    expires, created = _get(session, "expiresAt"), _get(session, "created")
    try:
        lifetime = parse_datetime(expires) - parse_datetime(created)
        run.judge(
            "session.expiresAt",
            lifetime == timedelta(minutes=20),
            f"expiresAt {_shown(expires)}, created {_shown(created)}",
        )
    except (TypeError, ValueError, AttributeError):
        run.judge(
            "session.expiresAt", False, f"expiresAt {_shown(expires)}, created {_shown(created)}"
        )
    status, _, again = await gw.call("sessions.retrieve", session_id=session_id)
    run.judge(
        "session.retrieve",
        status == 200 and _get(again, "id") == session_id,
        f"HTTP {status}, id {_shown(_get(again, 'id'))}",
    )
    status, _, expired = await gw.call("sessions.expire", session_id=session_id)
    run.judge(
        "session.expire.status",
        _get(expired, "status") == "expired",
        f"HTTP {status}, status {_shown(_get(expired, 'status'))}",
    )
    run.judge(
        "session.expire.paymentUrl",
        isinstance(expired, dict) and "paymentUrl" not in expired,
        f"paymentUrl {_shown(_get(expired, 'paymentUrl'))}",
    )
    run.judge(
        "session.expire.expiresAt",
        _get(expired, "expiresAt") == expires,
        f"expiresAt {_shown(_get(expired, 'expiresAt'))}",
    )
    status, _, _ = await gw.call("sessions.expire", session_id=session_id)
    run.judge("session.expire.again", 400 <= status < 500, f"HTTP {status}")

    status, _, paid = await gw.call(
        "payments.create",
        {"amount": 1500, "currency": "EUR", "paymentMethod": _card(*_FRICTIONLESS)},
    )
    run.judge(
        "payment.succeeded",
        _get(paid, "status") == "succeeded",
        f"HTTP {status}, status {_shown(_get(paid, 'status'))}",
    )
    paid_id = _get(paid, "id")
    if isinstance(paid_id, str) and paid_id:
        made["payment"] = paid_id
        status, _, fetched = await gw.call("payments.retrieve", payment_id=paid_id)
        run.judge(
            "payment.retrieve",
            _get(fetched, "id") == paid_id and _get(fetched, "status") == _get(paid, "status"),
            f"HTTP {status}, status {_shown(_get(fetched, 'status'))}",
        )
        status, _, refund = await gw.call("refunds.create", {"payment": paid_id, "amount": 500})
        run.judge(
            "refund.status",
            _get(refund, "status") in ("succeeded", "pending"),
            f"HTTP {status}, status {_shown(_get(refund, 'status'))}",
        )
        run.judge(
            "refund.amount",
            _get(refund, "payment") == paid_id and _get(refund, "amount") == 500,
            f"payment {_shown(_get(refund, 'payment'))}, amount {_shown(_get(refund, 'amount'))}",
        )
    status, _, declined = await gw.call(
        "payments.create", {"amount": 1500, "currency": "EUR", "paymentMethod": _card(*_DECLINES)}
    )
    run.judge(
        "payment.declined",
        _get(declined, "status") == "failed",
        f"HTTP {status}, status {_shown(_get(declined, 'status'))}",
    )

    hold_body = {
        "amount": 1000,
        "currency": "EUR",
        "captureMethod": "manual",
        "paymentMethod": _card(*_NO_3DS),
    }
    status, _, hold = await gw.call("payments.create", hold_body)
    run.judge(
        "hold.status",
        _get(hold, "status") == "requiresCapture",
        f"HTTP {status}, status {_shown(_get(hold, 'status'))}",
    )
    run.judge(
        "hold.amountCapturable",
        _get(hold, "amountCapturable") == 1000,
        f"amountCapturable {_shown(_get(hold, 'amountCapturable'))}",
    )
    hold_id = _get(hold, "id")
    if isinstance(hold_id, str) and hold_id:
        made["hold"] = hold_id
        status, _, part = await gw.call("payments.capture", {"amount": 400}, payment_id=hold_id)
        moved = (_get(part, "amountReceived"), _get(part, "amountCapturable"))
        run.judge(
            "capture.partial.amounts",
            moved == (400, 600),
            f"HTTP {status}, amountReceived/amountCapturable {_shown(list(moved))}",
        )
        run.judge(
            "capture.partial.status",
            _get(part, "status") == "requiresCapture",
            f"status {_shown(_get(part, 'status'))}",
        )
        status, _, rest = await gw.call("payments.capture", payment_id=hold_id)
        run.judge(
            "capture.last.status",
            _get(rest, "status") == "succeeded",
            f"HTTP {status}, status {_shown(_get(rest, 'status'))}",
        )
    status, _, held = await gw.call("payments.create", hold_body)
    held_id = _get(held, "id")
    if isinstance(held_id, str) and held_id:
        made["canceled"] = held_id
        status, _, canceled = await gw.call("payments.cancel", payment_id=held_id)
        run.judge(
            "cancel.status",
            _get(canceled, "status") == "canceled",
            f"HTTP {status}, status {_shown(_get(canceled, 'status'))}",
        )
    status, _, _ = await gw.call("sessions.retrieve", wrong_key=True, session_id=session_id)
    run.judge("auth.wrong-key", status == 401, f"HTTP {status}")
    return made


# --- deliveries ----------------------------------------------------------------------------------

#: What each object made by the flows should bring, by the kind of object: (fact, event types).
_EXPECTED: Final = (
    ("webhook.payment", "payment", ("payment.created", "payment.succeeded")),
    ("webhook.hold", "hold", ("payment.amountCapturableUpdated",)),
    ("webhook.funded", "hold", ("payment.funded", "payment.funded")),
    ("webhook.canceled", "canceled", ("payment.canceled",)),
    ("webhook.expired", "session", ("session.expired",)),
)
_WEBHOOK_FACTS: Final = (
    "webhook.signature",
    "webhook.signature.form",
    "webhook.X-Version",
    "webhook.API-Request-Id",
    "webhook.body",
    *(fact for fact, _, _ in _EXPECTED),
)


class _Listener:
    """The webhook endpoint of ``--listen``: keeps every delivery, answers 200."""

    def __init__(self) -> None:
        self.received: list[tuple[bytes, dict[str, str]]] = []

    async def handle(self, request: Any) -> Any:
        from aiohttp import web

        self.received.append((await request.read(), dict(request.headers)))
        return web.Response(text="ok")

    def types_for(self, object_id: str) -> list[str]:
        out = []
        for body, _ in self.received:
            try:
                event = json.loads(body)
                if event["data"]["object"]["id"] == object_id:
                    out.append(str(event["type"]))
            except (ValueError, KeyError, TypeError):
                continue
        return out


def _contains(seen: list[str], wanted: tuple[str, ...]) -> bool:
    left = list(seen)
    for kind in wanted:
        if kind not in left:
            return False
        left.remove(kind)
    return True


async def _await_deliveries(listener: _Listener, made: dict[str, str], timeout: float) -> None:
    import asyncio

    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while loop.time() < deadline:
        if all(
            kind not in made or _contains(listener.types_for(made[kind]), wanted)
            for _, kind, wanted in _EXPECTED
        ):
            return
        await asyncio.sleep(0.05)  # deadline: the --listen-timeout above


def _judge_deliveries(
    run: _Run, listener: _Listener, made: dict[str, str], secret: str | None
) -> None:
    from .. import SignatureVerificationError
    from ..webhooks import verify_signature

    received = listener.received
    if not received:
        for key in _WEBHOOK_FACTS:
            run.judge(key, False, "no delivery arrived")
        return
    body, headers = received[0]
    lowered = {name.lower(): value for name, value in headers.items()}
    signature = lowered.get("x-signature")
    form = (
        "absent"
        if signature is None
        else (
            "64 lowercase hex digits"
            if _HEX64.fullmatch(signature)
            else f"{len(signature)} characters, not lowercase hex"
        )
    )
    if secret is None:
        run.skip("webhook.signature", "no webhook secret (set BPCPAY_WEBHOOK_SECRET)")
    else:
        bad = []
        for payload, sent in received:
            try:
                verify_signature(
                    payload,
                    signature={k.lower(): v for k, v in sent.items()}.get("x-signature"),
                    secret=secret,
                )
            except SignatureVerificationError as err:
                bad.append(err.reason)
        run.judge(
            "webhook.signature",
            not bad,
            f"{len(received) - len(bad)} of {len(received)} deliveries verified",
        )
    run.judge(
        "webhook.signature.form",
        signature is not None and _HEX64.fullmatch(signature) is not None,
        f"X-Signature: {form}",
    )
    run.judge(
        "webhook.X-Version", "x-version" in lowered, f"X-Version {_shown(lowered.get('x-version'))}"
    )
    run.judge(
        "webhook.API-Request-Id",
        "api-request-id" in lowered,
        f"API-Request-Id {_shown(lowered.get('api-request-id'))}",
    )
    try:
        event = json.loads(body)
        shaped = (
            all(key in event for key in ("created", "type")) and "id" in event["data"]["object"]
        )
    except (ValueError, KeyError, TypeError):
        shaped = False
    run.judge(
        "webhook.body",
        shaped,
        f"body fields {_shown(sorted(event) if shaped else body[:60].decode('utf-8', 'replace'))}",
    )
    for fact, kind, wanted in _EXPECTED:
        if kind not in made:
            run.skip(fact, "its flow made nothing to deliver")
            continue
        seen = listener.types_for(made[kind])
        run.judge(fact, _contains(seen, wanted), f"type {_shown(seen)}")
    run.deliveries = [
        {
            "body": json.loads(payload),
            "headers": {
                name: (form if name.lower() == "x-signature" else value)
                for name, value in sent.items()
                if name.lower() in ("x-signature", "x-version", "api-request-id", "content-type")
            },
        }
        for payload, sent in received
    ]


# --- the run -------------------------------------------------------------------------------------


async def _conform(args: argparse.Namespace, api_key: str, base_url: str | None) -> _Run:
    import contextlib

    import aiohttp
    from aiohttp import web

    from .._constants import DEFAULT_API_VERSION

    run = _Run()
    async with contextlib.AsyncExitStack() as stack:
        secret = os.environ.get("BPCPAY_WEBHOOK_SECRET") or None
        api_version = os.environ.get("BPCPAY_API_VERSION") or DEFAULT_API_VERSION
        listener = _Listener() if args.listen is not None else None
        if listener is not None:
            app = web.Application()
            app.router.add_post("/{tail:.*}", listener.handle)
            runner = web.AppRunner(app, access_log=None)
            await runner.setup()
            stack.push_async_callback(runner.cleanup)
            await web.TCPSite(runner, "127.0.0.1", args.listen).start()
            port = runner.addresses[0][1]
        if base_url is None:
            from ..sandbox import SandboxGateway

            sandbox = SandboxGateway(webhook_retry_schedule=(0.05, 0.05))
            await stack.enter_async_context(sandbox)
            base_url, api_key, secret = sandbox.base_url, sandbox.api_key, sandbox.webhook_secret
            if listener is not None:
                sandbox.add_webhook_endpoint(f"http://127.0.0.1:{port}/bpcpay-conformance")
        http = await stack.enter_async_context(
            aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=10))
        )
        made = await _play(_Gateway(http, base_url, api_key, api_version, run), run)
        if listener is None:
            for key in _WEBHOOK_FACTS:
                run.skip(key, "deliveries are checked with --listen PORT")
        else:
            await _await_deliveries(listener, made, args.listen_timeout)
            _judge_deliveries(run, listener, made, secret)
    for key, why in _NEEDS_A_CUSTOMER.items():
        run.skip(key, why)
    for fact in FACTS:
        run.skip(fact.key, "its flow did not get that far")
    return run


def _compared(run: _Run, recording: dict[str, Any]) -> dict[str, tuple[str, str]]:
    """Each fact of this run held against the recorded run: the same outcome is confirmed,
    another is contradicted (the gateway here differs from the recorded one)."""
    recorded = {item["fact"]: (item["outcome"], item["seen"]) for item in recording["facts"]}
    out = {}
    for fact in FACTS:
        was, was_seen = recorded.get(fact.key, (NOT_TESTED, "not in the recording"))
        now, now_seen = run.findings[fact.key]
        if NOT_TESTED in (was, now):
            out[fact.key] = (NOT_TESTED, was_seen if was == NOT_TESTED else now_seen)
        elif was == now:
            out[fact.key] = (CONFIRMED, f"as recorded: {now_seen}")
        else:
            out[fact.key] = (CONTRADICTED, f"recorded {was} ({was_seen}); here {now} ({now_seen})")
    return out


def _lines(findings: dict[str, tuple[str, str]]) -> list[str]:
    lines = []
    for fact in FACTS:
        outcome, seen = findings[fact.key]
        said = f"seen {seen}" if outcome != NOT_TESTED else seen
        lines.append(f"{outcome:<12} {fact.field}: {fact.claim} [{fact.source}]; {said}")
    counts = [
        sum(1 for o, _ in findings.values() if o == kind)
        for kind in (CONFIRMED, CONTRADICTED, NOT_TESTED)
    ]
    lines.append(f"{counts[0]} confirmed, {counts[1]} contradicted, {counts[2]} not tested")
    return lines


def _record(path: str, run: _Run, target: str) -> None:
    data = {
        "bpcpay_conformance": 1,
        "target": target,
        "facts": [
            {
                "fact": fact.key,
                "outcome": run.findings[fact.key][0],
                "seen": run.findings[fact.key][1],
            }
            for fact in FACTS
        ],
        "exchanges": run.exchanges,
        "deliveries": run.deliveries,
    }
    with open(path, "w", encoding="utf-8") as file:
        json.dump(data, file, indent=2, ensure_ascii=False)
        file.write("\n")


def _run(args: argparse.Namespace) -> int:
    import asyncio

    recording = None
    if args.recording is not None:
        try:
            with open(args.recording, encoding="utf-8") as file:
                recording = json.load(file)
        except (OSError, ValueError):
            recording = None
        if not isinstance(recording, dict) or recording.get("bpcpay_conformance") != 1:
            return refuse(
                "conformance",
                f"--recording {args.recording}: not a recording of bpcpay conformance",
            )
    api_key = ""
    if args.base_url is not None:
        api_key = os.environ.get("BPCPAY_API_KEY", "")
        if not api_key:
            return refuse(
                "conformance", "--base-url needs BPCPAY_API_KEY (the key of that gateway)"
            )
    try:
        run = asyncio.run(_conform(args, api_key, args.base_url))
    except OSError as exc:
        # aiohttp's errors name the host and port, never a header.
        return refuse("conformance", f"cannot reach the gateway or listen: {exc}", 1)
    findings = run.findings if recording is None else _compared(run, recording)
    for line in _lines(findings):
        print(line)
    if args.record is not None:
        _record(args.record, run, args.base_url or "the bundled sandbox")
        print(f"recorded to {args.record} (no key; signatures by their form only)", file=sys.stderr)
    return 1 if any(outcome == CONTRADICTED for outcome, _ in findings.values()) else 0


def _port(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        value = -1
    if not 0 <= value <= 65535:
        raise argparse.ArgumentTypeError(f"takes a port number (0 picks a free one), got {text!r}")
    return value


def _seconds(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        value = 0.0
    if not 0 < value <= 600:
        raise argparse.ArgumentTypeError(
            f"takes seconds, more than 0 and at most 600, got {text!r}"
        )
    return value


def register(subparsers: Any) -> None:
    """Add ``bpcpay conformance``."""
    parser = add_command(
        subparsers,
        "conformance",
        "check a gateway against the contract bpcpay is written to, fact by fact",
        "Play BPC's documented server-to-server flows (sessions, direct payments with the "
        "published test cards, a two-step hold captured in parts, a cancel, a refund) against a "
        "gateway and print one line per contract fact: confirmed, contradicted or not tested, "
        "with the wire field and what was seen; then 'N confirmed, M contradicted, K not "
        "tested'. Exits 1 when something is contradicted. The bundled sandbox by default; "
        "--base-url with $BPCPAY_API_KEY (and $BPCPAY_WEBHOOK_SECRET) for another gateway. "
        "The key is never printed.",
    )
    parser.add_argument(
        "--base-url",
        default=None,
        help="the gateway's API root, e.g. https://dev.bpcbt.com/api2 (default: a sandbox "
        "started for the run)",
    )
    parser.add_argument(
        "--listen",
        type=_port,
        default=None,
        metavar="PORT",
        help="also check the webhook deliveries, received on 127.0.0.1:PORT (point the "
        "gateway's webhook URL there; the sandbox is pointed there itself) (default: not "
        "checked)",
    )
    parser.add_argument(
        "--listen-timeout",
        type=_seconds,
        default=10.0,
        metavar="SECONDS",
        help="how long to wait for the deliveries (default: %(default)s)",
    )
    parser.add_argument(
        "--record",
        default=None,
        metavar="FILE",
        help="write what was seen to FILE as JSON, without the key (default: not written)",
    )
    parser.add_argument(
        "--recording",
        default=None,
        metavar="FILE",
        help="play the flows again and hold what is seen against the recording FILE, fact "
        "by fact (default: against the contract)",
    )
    parser.set_defaults(handler=_run)
