"""Playing the customer: fill in the hosted payment page over HTTP, like a browser would.

:meth:`Customer.pay` reads the session's ``paymentUrl`` through the API, GETs the page, posts
its form, answers the 3-D Secure page when one comes, and stops at the redirect back to the
store. It uses no back door into the gateway's state, so it exercises exactly what a customer
does.
"""

from __future__ import annotations

from html.parser import HTMLParser
from typing import Any, Literal
from urllib.parse import quote, urljoin

import aiohttp
import attrs

from .._constants import API_KEY_HEADER
from ._app import with_query
from ._cards import TestCard, TestCards

__all__ = ["Customer", "PayResult"]

Outcome = Literal["succeeded", "failed", "unavailable", "rejected"]
_DEFAULT_EXPIRY = "12/34"


@attrs.frozen(kw_only=True)
class PayResult:
    """What the customer saw at the end.

    Attributes:
        outcome: ``succeeded`` (sent to the success URL), ``failed`` (sent to the failure URL),
            ``rejected`` (the form came back with an error), ``unavailable`` (the page showed a
            message instead of a form: expired, already paid, not found).
        redirect_url: the final redirect (the store's URL with ``?sessionId=``), if any.
        status: the HTTP status of the last gateway answer.
        challenged: True when a 3-D Secure page was shown.
        message: the page's message or form error, when there was no redirect.

    Examples:
        ```python
        from bpcpay.sandbox import TestCards

        session = client.sessions.create(
            amount=2400,
            currency="EUR",
            success_url="https://shop.example/orders/1018/paid",
            failure_url="https://shop.example/orders/1018/retry",
        )
        result = gw.pay(session.id, card=TestCards.SUCCESS_CHALLENGE)  # 3-D Secure, passed
        print(result.outcome, result.challenged)  # succeeded True
        print(result.redirect_url == f"{session.success_url}?sessionId={session.id}")  # True
        ```
    """

    outcome: Outcome
    redirect_url: str | None
    status: int
    challenged: bool = False
    message: str | None = None

    @property
    def succeeded(self) -> bool:
        """True when the customer was sent to the success URL."""
        return self.outcome == "succeeded"


class _PageReader(HTMLParser):
    """The first form of a page (action, fields, submit buttons) and its messages."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.action: str | None = None
        self.fields: dict[str, str] = {}
        self.buttons: dict[str, str] = {}
        self._in_form = False
        self._capture: str | None = None
        self.texts: dict[str, str] = {}

    def handle_starttag(self, tag: str, attrs_: list[tuple[str, str | None]]) -> None:
        attributes = {k: v or "" for k, v in attrs_}
        if tag == "form" and self.action is None:
            self.action = attributes.get("action", "")
            self._in_form = True
        elif self._in_form and tag == "input" and attributes.get("name"):
            self.fields[attributes["name"]] = attributes.get("value", "")
        elif self._in_form and tag == "button" and attributes.get("name"):
            self.buttons[attributes.get("value", "")] = attributes["name"]
        key = attributes.get("id") or ("alert" if attributes.get("role") == "alert" else None)
        if key in ("title", "message", "alert"):
            self._capture = key
            self.texts[key] = ""

    def handle_endtag(self, tag: str) -> None:
        if tag == "form":
            self._in_form = False
        if tag in ("h1", "p", "div"):
            self._capture = None

    def handle_data(self, data: str) -> None:
        if self._capture is not None:
            self.texts[self._capture] += data


def _read(html: str) -> _PageReader:
    reader = _PageReader()
    reader.feed(html)
    reader.close()
    return reader


def _message(reader: _PageReader) -> str | None:
    parts = [reader.texts.get(k, "").strip() for k in ("alert", "title", "message")]
    text = " ".join(p for p in parts if p)
    return text or None


def _card_fields(card: str | TestCard, cvc: str | None, expiry: str | None) -> tuple[str, str, str]:
    if isinstance(card, TestCard):
        return card.number, cvc or card.cvc, expiry or card.expiry
    digits = "".join(card.split())
    known = next((c for c in TestCards.ALL if c.number == digits), None)
    default_expiry = known.expiry if known is not None else _DEFAULT_EXPIRY
    return card, cvc or "123", expiry or default_expiry


async def _answer_challenge(
    http: aiohttp.ClientSession, url: str, three_ds: str
) -> tuple[int, str | None, str | None]:
    """GET the 3-D Secure page and press a button; (status, redirect, message)."""
    async with http.get(url, allow_redirects=False) as page:
        text = await page.text()
        status = page.status
    reader = _read(text)
    if reader.action is None:
        return status, None, _message(reader)
    data = dict(reader.fields)
    data[reader.buttons.get(three_ds, "result")] = three_ds
    async with http.post(urljoin(url, reader.action), data=data, allow_redirects=False) as answer:
        body = await answer.text()
        if answer.status in (301, 302, 303, 307):
            return answer.status, urljoin(url, answer.headers["Location"]), None
        return answer.status, None, _message(_read(body))


@attrs.frozen
class Customer:
    """A customer's browser at one gateway.

    It reads the session or payment through the API with ``api_key``, as the store would, to
    find the page to open; everything else goes through the pages, as a browser's would.

    Args:
        http: the client session the pages are fetched with.
        base_url: the API's base URL (``.../api2``).
        api_key: the key the API accepts; never in a repr.
    """

    http: aiohttp.ClientSession
    base_url: str
    api_key: str = attrs.field(repr=False)

    async def _read_json(self, url: str) -> dict[str, Any]:
        async with self.http.get(url, headers={API_KEY_HEADER: self.api_key}) as found:
            if found.status != 200:
                raise LookupError(f"cannot read {url.rsplit('/', 1)[-1]}: HTTP {found.status}")
            data = await found.json()
        if not isinstance(data, dict):
            raise LookupError("the gateway answered something other than a JSON object")
        return data

    async def pay(
        self,
        session_id: str,
        *,
        card: str | TestCard,
        cvc: str | None,
        expiry: str | None,
        holder: str,
        three_ds: Literal["succeed", "fail"],
    ) -> PayResult:
        """Pay a session through its hosted page (see :meth:`SandboxGateway.pay`)."""
        http = self.http
        session_url = f"{self.base_url}/sessions/{quote(session_id, safe='')}"
        session = await self._read_json(session_url)
        page_url = session.get("paymentUrl")
        if not isinstance(page_url, str):
            # An expired session has no payment page any more.
            gone = f"The session is {session.get('status')}: it has no payment page."
            return PayResult(outcome="unavailable", redirect_url=None, status=200, message=gone)
        to_success = with_query(session["successUrl"], sessionId=session_id)
        to_failure = with_query(session["failureUrl"], sessionId=session_id)

        async def judge(location: str, status: int, challenged: bool) -> PayResult:
            if to_success == to_failure:
                # The redirect cannot tell: ask the API, as the store's success page would.
                paid = await self._read_json(session_url)
                ok = paid.get("paymentStatus") == "paid"
            else:
                ok = location == to_success
            return PayResult(
                outcome="succeeded" if ok else "failed",
                redirect_url=location,
                status=status,
                challenged=challenged,
            )

        async with http.get(page_url, allow_redirects=False) as page:
            text = await page.text()
            status = page.status
        reader = _read(text)
        if reader.action is None:
            return PayResult(
                outcome="unavailable", redirect_url=None, status=status, message=_message(reader)
            )
        number, cvc_value, expiry_value = _card_fields(card, cvc, expiry)
        data = {
            **reader.fields,
            "cardNumber": number,
            "expiry": expiry_value,
            "cvc": cvc_value,
            "cardholder": holder,
        }
        action = urljoin(page_url, reader.action)
        async with http.post(action, data=data, allow_redirects=False) as answer:
            body = await answer.text()
            status = answer.status
            location = answer.headers.get("Location")
        if location is None:
            reader = _read(body)
            outcome: Outcome = "rejected" if reader.action is not None else "unavailable"
            return PayResult(
                outcome=outcome, redirect_url=None, status=status, message=_message(reader)
            )
        location = urljoin(action, location)
        if location in (to_success, to_failure):
            return await judge(location, status, False)
        status, final, message = await _answer_challenge(http, location, three_ds)
        if final is None:
            return PayResult(
                outcome="unavailable",
                redirect_url=None,
                status=status,
                challenged=True,
                message=message,
            )
        return await judge(final, status, True)

    async def authenticate(
        self, payment_id: str, *, three_ds: Literal["succeed", "fail"]
    ) -> PayResult:
        """Answer a direct payment's 3-D Secure page (see :meth:`SandboxGateway.authenticate`)."""
        payment_url = f"{self.base_url}/payments/{quote(payment_id, safe='')}"
        payment = await self._read_json(payment_url)
        next_action = payment.get("nextAction")
        if not isinstance(next_action, dict) or not next_action.get("url"):
            raise LookupError(
                f"payment {payment_id} is {payment.get('status')}: no 3-D Secure step"
            )
        status, final, message = await _answer_challenge(self.http, next_action["url"], three_ds)
        after = (await self._read_json(payment_url)).get("status")
        outcome: Outcome = "succeeded" if after in ("succeeded", "requiresCapture") else "failed"
        if final is None and message is not None and status >= 400:
            outcome = "unavailable"
        return PayResult(
            outcome=outcome, redirect_url=final, status=status, challenged=True, message=message
        )
