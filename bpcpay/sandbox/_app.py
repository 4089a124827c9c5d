"""The gateway's HTTP side on aiohttp.web: the API under ``/api2``, the hosted payment page and
the 3-D Secure page, and the one middleware every request passes through.

The middleware gives every answer (errors and pages included) an ``API-Request-Id`` and an
``X-Version``, applies injected faults, expires due sessions, checks ``X-Api-Key`` on the API,
turns :class:`GatewayError` into the JSON error body, and writes the request log. API routes
are registered from the SDK's own endpoint table, so the sandbox serves exactly the SDK's paths.
"""

from __future__ import annotations

import asyncio
import contextlib
import hmac
import json
import logging
import re
import time
from collections.abc import Awaitable, Callable, Mapping
from typing import TYPE_CHECKING, Any, Final
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

import attrs
from aiohttp import web

from .._constants import (
    API_KEY_HEADER,
    DEFAULT_API_VERSION,
    REQUEST_ID_HEADER,
    RETRY_AFTER_HEADER,
    VERSION_HEADER,
)
from .._core._wire import ENDPOINTS
from ._cards import Decision, decide, examine, judge
from ._errors import ErrorType, GatewayError, invalid
from ._faults import Fault
from ._ids import new_request_id
from ._page import PAGE_STYLE_HASH, challenge_page, message_page, payment_page
from ._state import (
    CHALLENGE_PATH,
    PAGE_PATH,
    Challenge,
    Record,
    SessionRecord,
    failed_challenge,
)
from ._validate import (
    OrderInput,
    TokenInput,
    parse_body,
    parse_capture,
    parse_card,
    parse_payment,
    parse_refund,
    parse_session,
)

if TYPE_CHECKING:
    from ._gateway import SandboxGateway

__all__ = [
    "API_PREFIX",
    "CARD_TOKENS_PATH",
    "PAGE_SECURITY_HEADERS",
    "SUPPORTED_API_VERSIONS",
    "RequestRecord",
    "build_app",
    "parse_expiry",
    "with_query",
]

logger = logging.getLogger("bpcpay.sandbox")

API_PREFIX = "/api2"
#: Where a device gets a card token for a test card (the sandbox's own path).
CARD_TOKENS_PATH: Final = "/sandbox/card-tokens"
#: The API versions the contract names: 2023-10-31, of every published request and of the only
#: request/response pairs [doc: redirect-integration, cancel-refund], and 2023-11-15, the webhook
#: and response-header example [doc: webhooks, api-versions]. Any other is refused.
SUPPORTED_API_VERSIONS: Final = (DEFAULT_API_VERSION, "2023-11-15")
#: Sent with every page (payment, 3-D Secure, messages): nothing but the page's own inline style
#: may load, and no other site may frame it (clickjacking a card form).
PAGE_SECURITY_HEADERS: Final = {
    "Content-Security-Policy": (
        f"default-src 'none'; style-src '{PAGE_STYLE_HASH}'; base-uri 'none'; "
        "frame-ancestors 'none'"
    ),
    "X-Frame-Options": "DENY",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
}
_EXPIRY = re.compile(r"\s*(\d{1,2})\s*/?\s*(\d{4}|\d{2})\s*")
_SEPARATORS = re.compile(r"[\s-]")
Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]
#: An API handler: returns the object the API answers with.
ApiHandler = Callable[[web.Request], Awaitable[Record]]


@attrs.frozen(kw_only=True)
class RequestRecord:
    """One request that reached the gateway (``gw.requests``).

    ``status`` is None when a fault dropped the connection; ``fault`` names the injected fault
    kind (``status``, ``body``, ``stall``, ``drop``) or is None.
    """

    method: str
    path: str
    status: int | None
    request_id: str
    at: float
    duration: float
    fault: str | None = None


def with_query(url: str, **params: str) -> str:
    """``url`` with ``params`` added to its query string (existing parameters are kept)."""
    parts = urlsplit(url)
    query = parse_qsl(parts.query, keep_blank_values=True) + list(params.items())
    return urlunsplit(parts._replace(query=urlencode(query)))


def _json(data: Any, status: int = 200) -> web.Response:
    body = json.dumps(data, separators=(",", ":"), ensure_ascii=False).encode("utf-8")
    return web.Response(body=body, status=status, content_type="application/json")


def _html(text: str, status: int = 200) -> web.Response:
    return web.Response(
        text=text,
        status=status,
        content_type="text/html",
        charset="utf-8",
        headers=PAGE_SECURITY_HEADERS,
    )


def _see_other(location: str) -> web.Response:
    return web.Response(status=303, headers={"Location": location, "Cache-Control": "no-store"})


def _form_text(form: Mapping[str, Any], name: str) -> str:
    value = form.get(name)
    return value if isinstance(value, str) else ""


def parse_expiry(text: str) -> tuple[int, int] | None:
    """``MM/YY`` (also ``MM/YYYY``, ``MMYY``) as (month, four-digit year), or None."""
    match = _EXPIRY.fullmatch(text)
    if match is None:
        return None
    month, year = int(match.group(1)), int(match.group(2))
    if not 1 <= month <= 12:
        return None
    return month, (2000 + year if year < 100 else year)


class _App:
    def __init__(
        self,
        gateway: SandboxGateway,
        record: Callable[[RequestRecord], None],
        stopping: asyncio.Event,
    ) -> None:
        self.gw = gateway
        self._record = record
        self._stopping = stopping

    # --- the middleware ----------------------------------------------------------------------

    @web.middleware
    async def middleware(self, request: web.Request, handler: Handler) -> web.StreamResponse:
        gw = self.gw
        request_id = new_request_id()
        started = time.perf_counter()
        version = request.headers.get(VERSION_HEADER, gw.api_version)
        known_version = version in SUPPORTED_API_VERSIONS
        is_api = request.path == API_PREFIX or request.path.startswith(API_PREFIX + "/")
        fault = gw.faults.take(request.method, request.path)
        response: web.StreamResponse | None = None
        try:
            if fault is not None:
                response = await self._apply_fault(request, fault)
            if response is None:
                response = await self._handle(request, handler, is_api, known_version)
        except asyncio.CancelledError:
            raise
        except Exception:
            logger.exception(
                "unexpected error in %s %s (%s)", request.method, request.path, request_id
            )
            err = GatewayError(500, ErrorType.API, "internal_error", "The sandbox failed.")
            response = _json(err.body(), 500)
        dropped = fault is not None and fault.drop
        if not dropped:
            response.headers[REQUEST_ID_HEADER] = request_id
            response.headers[VERSION_HEADER] = version if known_version else gw.api_version
        duration = time.perf_counter() - started
        status = None if dropped else response.status
        self._record(
            RequestRecord(
                method=request.method,
                path=request.path,
                status=status,
                request_id=request_id,
                at=time.time(),
                duration=duration,
                fault=None if fault is None else fault.kind,
            )
        )
        return response

    async def _handle(
        self, request: web.Request, handler: Handler, is_api: bool, known_version: bool
    ) -> web.StreamResponse:
        gw = self.gw
        gw.expire_due()
        try:
            if is_api:
                self._authenticate(request)
                if not known_version:
                    # The value is not echoed: a header can carry anything.
                    raise invalid(
                        VERSION_HEADER,
                        f"Unknown API version in {VERSION_HEADER}; "
                        f"this gateway answers {', '.join(SUPPORTED_API_VERSIONS)}.",
                        "api_version_unknown",
                    )
            return await handler(request)
        except GatewayError as err:
            return _json(err.body(), err.status)
        except web.HTTPException as exc:
            if exc.status < 400:
                raise
            if not is_api:
                title = "Page not found" if exc.status == 404 else exc.reason
                return _html(message_page(title, "There is nothing here."), exc.status)
            if exc.status == 405:
                error = GatewayError(
                    405,
                    ErrorType.INVALID_REQUEST,
                    "method_not_allowed",
                    f"{request.method} is not allowed on this path.",
                )
            elif exc.status == 404:
                error = GatewayError(
                    404, ErrorType.NOT_FOUND, "unknown_endpoint", "No such endpoint."
                )
            else:
                error = GatewayError(
                    exc.status, ErrorType.INVALID_REQUEST, "http_error", exc.reason
                )
            return _json(error.body(), error.status)

    def _authenticate(self, request: web.Request) -> None:
        key = request.headers.get(API_KEY_HEADER)
        if not key:
            # No key is an "invalid request" error [doc: api-keys]; its status is unpublished,
            # 400 is our reading [inferred] (the SDK raises InvalidRequestError). A key that is
            # wrong, deleted or expired is an "authentication" error: 401 below.
            raise GatewayError(
                400,
                ErrorType.INVALID_REQUEST,
                "api_key_missing",
                f"No API key: send it in the {API_KEY_HEADER} header.",
                API_KEY_HEADER,
            )
        given = key.encode("utf-8", "replace")
        if hmac.compare_digest(given, self.gw.api_key.encode("utf-8")):
            return
        if hmac.compare_digest(given, self.gw.restricted_api_key.encode("utf-8")):
            raise GatewayError(
                403,
                ErrorType.PERMISSION,
                "permission_denied",
                "This API key has no access to this resource.",
            )
        raise GatewayError(
            401,
            ErrorType.AUTHENTICATION,
            "api_key_invalid",
            "The API key is invalid, deleted or expired.",
        )

    async def _apply_fault(self, request: web.Request, fault: Fault) -> web.StreamResponse | None:
        logger.info("fault %s on %s %s", fault.kind, request.method, request.path)
        if fault.stall:
            with contextlib.suppress(asyncio.TimeoutError):
                # The stall is finite (faults.add checks it); stopping the gateway cuts it short.
                await asyncio.wait_for(self._stopping.wait(), fault.stall)  # deadline: stall
        if fault.drop:
            transport = request.transport
            if transport is not None:
                # An abort sends no response at all: the client sees the connection end
                # mid-request, as with a crashed gateway or a cut network.
                transport.abort()
            return web.Response(status=499)
        if fault.body is not None:
            response = web.Response(body=fault.body, status=fault.status or 200)
            response.content_type = (fault.content_type or "application/json").split(";")[0]
        elif fault.status is not None:
            error_type = ErrorType.RATE_LIMIT if fault.status == 429 else ErrorType.API
            err = GatewayError(
                fault.status, error_type, "injected_fault", f"Injected fault: HTTP {fault.status}."
            )
            response = _json(err.body(), fault.status)
        else:
            return None  # a pure stall: now answer for real
        if fault.retry_after is not None:
            response.headers[RETRY_AFTER_HEADER] = fault.retry_after
        return response

    # --- API ---------------------------------------------------------------------------------
    # Each handler returns the object it created, read or changed; :meth:`answer` sends its JSON.

    def answer(self, handler: ApiHandler) -> Handler:
        """``handler`` as a route: the object it returns, answered as the API's JSON."""

        async def route(request: web.Request) -> web.StreamResponse:
            return _json(self.gw.state.snapshot(await handler(request)))

        return route

    async def _body(self, request: web.Request, *, allow_empty: bool = False) -> dict[str, Any]:
        return parse_body(await request.read(), allow_empty=allow_empty)

    async def _target(
        self, request: web.Request, key: str, find: Callable[[str], Record]
    ) -> tuple[str, dict[str, Any]]:
        """The id a change is aimed at (path parameter ``key``) and its body, which may be
        empty: an unknown id is a 404 before a malformed body is a 400."""
        ident = request.match_info[key]
        find(ident)
        return ident, await self._body(request, allow_empty=True)

    async def sessions_create(self, request: web.Request) -> Record:
        data = await self._body(request)
        now = self.gw.now()
        return self.gw.state.create_session(parse_session(data, now=now), now)

    async def sessions_retrieve(self, request: web.Request) -> Record:
        return self.gw.state.session(request.match_info["session_id"])

    async def sessions_expire(self, request: web.Request) -> Record:
        session_id, _ = await self._target(request, "session_id", self.gw.state.session)
        return self.gw.state.expire_session(session_id)

    async def payments_create(self, request: web.Request) -> Record:
        req = parse_payment(await self._body(request))
        now = self.gw.now()
        decision: Decision | None = None
        if isinstance(req.card, TokenInput):
            facts = self.gw.state.token_facts(req.card.token, req.card.param)
            decision = judge(facts, now.date())
        elif req.card is not None:
            card = req.card
            decision = decide(
                card.number,
                exp_month=card.exp_month,
                exp_year=card.exp_year,
                cvc=card.cvc,
                today=now.date(),
            )
        return self.gw.state.create_payment(req, decision, now)

    async def payments_retrieve(self, request: web.Request) -> Record:
        return self.gw.state.payment(request.match_info["payment_id"])

    async def payments_capture(self, request: web.Request) -> Record:
        payment_id, body = await self._target(request, "payment_id", self.gw.state.payment)
        return self.gw.state.capture(payment_id, parse_capture(body).amount)

    async def payments_cancel(self, request: web.Request) -> Record:
        payment_id, _ = await self._target(request, "payment_id", self.gw.state.payment)
        return self.gw.state.cancel(payment_id)

    async def refunds_create(self, request: web.Request) -> Record:
        return self.gw.state.create_refund(parse_refund(await self._body(request)), self.gw.now())

    async def refunds_retrieve(self, request: web.Request) -> Record:
        return self.gw.state.refund(request.match_info["refund_id"])

    async def payment_methods_retrieve(self, request: web.Request) -> Record:
        return self.gw.state.payment_method(request.match_info["payment_method_id"])

    # --- the hosted payment page --------------------------------------------------------------

    def _payable(self, request: web.Request) -> SessionRecord | web.Response:
        """The session whose page was asked for (``?mdOrder=``), or the page that says why it
        cannot be paid."""
        rec = self.gw.state.session_by_md_order(request.query.get("mdOrder", ""))
        if rec is None:
            return _html(message_page("Payment not found", "This payment link is not valid."), 404)
        refusal = self._unavailable(rec)
        return rec if refusal is None else refusal

    def _unavailable(self, rec: SessionRecord) -> web.Response | None:
        """The page for a session that can no longer be paid, or None for an open one."""
        if rec.status == "expired":
            return _html(
                message_page(
                    "This payment session has expired",
                    "The time to pay this order has run out. Go back to the store to start again.",
                    symbol="&#8987;",
                ),
                410,
            )
        if rec.status != "open":
            return _html(
                message_page(
                    "This order has already been paid",
                    "There is nothing more to pay on this page.",
                    symbol="&#10003;",
                )
            )
        return None

    def _render_form(
        self,
        request: web.Request,
        rec: SessionRecord,
        *,
        error: str | None = None,
        cardholder: str = "",
        expiry: str = "",
        status: int = 200,
    ) -> web.Response:
        page = payment_page(
            rec,
            action=request.path_qs,
            lang=request.query.get("language", "en"),
            error=error,
            cardholder=cardholder,
            expiry=expiry,
            today=self.gw.now().date(),
        )
        return _html(page, status)

    async def page_get(self, request: web.Request) -> web.Response:
        rec = self._payable(request)
        if isinstance(rec, web.Response):
            return rec
        return self._render_form(request, rec)

    async def page_post(self, request: web.Request) -> web.Response:
        rec = self._payable(request)
        if isinstance(rec, web.Response):
            return rec
        form = await request.post()
        number = _SEPARATORS.sub("", _form_text(form, "cardNumber"))
        expiry_text = _form_text(form, "expiry").strip()[:7]
        cvc = _form_text(form, "cvc").strip()
        cardholder = _form_text(form, "cardholder").strip()[:200]
        expiry = parse_expiry(expiry_text)
        problem = None
        if not (number.isascii() and number.isdigit() and 12 <= len(number) <= 19):
            problem = "Enter the card number: 12 to 19 digits."
        elif expiry is None:
            problem = "Enter the expiry date as MM/YY."
        elif not (cvc.isascii() and cvc.isdigit() and len(cvc) in (3, 4)):
            problem = "Enter the 3 or 4 digit security code (CVC)."
        if problem is not None or expiry is None:
            return self._render_form(
                request, rec, error=problem, cardholder=cardholder, expiry=expiry_text, status=400
            )
        now = self.gw.now()
        decision = decide(
            number, exp_month=expiry[0], exp_year=expiry[1], cvc=cvc, today=now.date()
        )
        del number, cvc  # nothing below may keep them
        state = self.gw.state
        req = rec.request
        if decision.outcome == "decline":
            logger.info(
                "session %s: card ****%s declined (%s)", rec.id, decision.last4, decision.code
            )
            state.decline_session_attempt(rec, decision, now)
            return _see_other(with_query(req.failure_url, sessionId=rec.id))
        if decision.outcome == "challenge":
            challenge = state.challenge_session(rec, decision, now)
            return _see_other(state.challenge_url(challenge.id))
        state.pay_session(rec, decision, now)
        return _see_other(with_query(req.success_url, sessionId=rec.id))

    # --- 3-D Secure ---------------------------------------------------------------------------

    def _challenge(self, challenge_id: str) -> Challenge | web.Response:
        """The challenge still waiting for an answer, or the page that says why there is none."""
        challenge = self.gw.state.challenges.get(challenge_id)
        if challenge is None:
            page = message_page("Authentication not found", "This 3-D Secure link is not valid.")
            return _html(page, 404)
        if challenge.used:
            page = message_page("Already answered", "This 3-D Secure request was already answered.")
            return _html(page, 410)
        if challenge.session_id is not None:
            refusal = self._unavailable(self.gw.state.sessions[challenge.session_id])
            if refusal is not None:
                return refusal
        return challenge

    async def challenge_get(self, request: web.Request) -> web.Response:
        challenge = self._challenge(request.query.get("challenge", ""))
        if isinstance(challenge, web.Response):
            return challenge
        order = self._challenge_order(challenge)
        return _html(
            challenge_page(
                amount=order.amount,
                currency=order.currency,
                brand=challenge.decision.brand,
                last4=challenge.decision.last4,
                action=CHALLENGE_PATH,
                challenge_id=challenge.id,
            )
        )

    def _challenge_order(self, challenge: Challenge) -> OrderInput:
        """The terms of what the challenge authenticates: its session's, or its payment's."""
        state = self.gw.state
        if challenge.session_id is not None:
            return state.sessions[challenge.session_id].request
        assert challenge.payment_id is not None
        return state.payments[challenge.payment_id].order

    async def challenge_post(self, request: web.Request) -> web.Response:
        form = await request.post()
        challenge = self._challenge(_form_text(form, "challenge"))
        if isinstance(challenge, web.Response):
            return challenge
        result = _form_text(form, "result")
        if result not in ("succeed", "fail"):
            return _html(message_page("Choose an answer", "Press succeed or fail."), 400)
        passed = result == "succeed"
        challenge.used = True
        state, now = self.gw.state, self.gw.now()
        if challenge.session_id is not None:
            rec = state.sessions[challenge.session_id]
            if passed:
                state.pay_session(rec, challenge.decision, now)
                return _see_other(with_query(rec.request.success_url, sessionId=rec.id))
            state.decline_session_attempt(rec, failed_challenge(challenge.decision), now)
            return _see_other(with_query(rec.request.failure_url, sessionId=rec.id))
        assert challenge.payment_id is not None
        payment = state.payments[challenge.payment_id]
        state.finish_payment_challenge(payment, passed, now)
        title = "Payment authenticated" if passed else "Authentication failed"
        return _html(message_page(title, "You can close this page."))

    # --- card tokens for apps that test from a device ------------------------------------------

    async def card_tokens_create(self, request: web.Request) -> web.Response:
        """``POST /sandbox/card-tokens`` with a card in wire form: ``{"token": ...}``, the token
        a device would get from BPC's mobile SDK [inferred: the sandbox's own endpoint; BPC's
        SDK encrypts the card on the device]. No API key: a device has none."""
        card = parse_card(await self._body(request))
        token = self.gw.state.issue_token(
            examine(card.number, exp_month=card.exp_month, exp_year=card.exp_year, cvc=card.cvc)
        )
        return _json({"token": token})

    async def index(self, request: web.Request) -> web.Response:
        return _html(message_page("bpcpay sandbox gateway", f"The API is at {self.gw.base_url}"))


def build_app(
    gateway: SandboxGateway,
    *,
    record: Callable[[RequestRecord], None],
    stopping: asyncio.Event,
) -> web.Application:
    """The aiohttp application of one gateway.

    Args:
        gateway: the gateway whose state, clock, keys and faults the handlers use.
        record: called with every request's record once it is answered (the request log).
        stopping: set when the gateway stops; a stalling fault ends early then.
    """
    handlers = _App(gateway, record, stopping)
    app = web.Application(middlewares=[handlers.middleware], client_max_size=1024 * 1024)
    for endpoint in ENDPOINTS.values():
        handler = getattr(handlers, endpoint.name.replace(".", "_"), None)
        if handler is None:
            raise RuntimeError(f"the sandbox has no handler for {endpoint.name}")
        app.router.add_route(endpoint.method, API_PREFIX + endpoint.path, handlers.answer(handler))
    app.router.add_get(PAGE_PATH, handlers.page_get)
    app.router.add_post(PAGE_PATH, handlers.page_post)
    app.router.add_get(CHALLENGE_PATH, handlers.challenge_get)
    app.router.add_post(CHALLENGE_PATH, handlers.challenge_post)
    app.router.add_post(CARD_TOKENS_PATH, handlers.card_tokens_create)
    app.router.add_get("/", handlers.index)
    return app
