"""HTML of the customer-facing pages: the hosted payment page, the 3-D Secure page, and the
message page (expired, already paid, not found).

Plain forms posted without JavaScript, so any HTTP client can play the customer; inline CSS and
no external assets. Every dynamic value is HTML-escaped. Nothing the customer typed into the
card number or CVC fields is ever written back into a page.
"""

from __future__ import annotations

import base64
import hashlib
from datetime import date
from html import escape
from typing import TYPE_CHECKING

from ._cards import TestCards, shown_expiry
from ._money import format_amount

if TYPE_CHECKING:
    from ._state import SessionRecord

__all__ = ["PAGE_STYLE_HASH", "challenge_page", "message_page", "payment_page"]

_CSS = """
*{box-sizing:border-box}
input,button{font:inherit}
body{margin:0;font:16px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;
background:#eef1f6;color:#1d2533}
.banner{background:#ffd24d;color:#3a2c00;text-align:center;font-size:13px;padding:6px;
letter-spacing:.02em}
main{max-width:440px;margin:40px auto;background:#fff;border-radius:14px;
box-shadow:0 6px 28px rgba(20,30,60,.12);padding:28px 30px}
h1{font-size:20px;margin:0 0 4px}
.muted{color:#667085;font-size:14px;margin:0}
.amount{font-size:32px;font-weight:650;margin:18px 0 22px;letter-spacing:-.01em}
label{display:block;font-size:13px;font-weight:600;color:#344054;margin:14px 0 6px}
input{width:100%;padding:11px 12px;font-size:16px;border:1px solid #cfd5df;border-radius:8px;
background:#fbfcfe}
input:focus{outline:none;border-color:#3d6df2;box-shadow:0 0 0 3px rgba(61,109,242,.18)}
.row{display:flex;gap:12px}.row>div{flex:1}
button{width:100%;margin-top:22px;padding:13px;font-size:16px;font-weight:600;border:0;
border-radius:8px;background:#3d6df2;color:#fff;cursor:pointer}
button:hover{background:#2f5be0}
button.secondary{background:#fff;color:#b42318;border:1px solid #f0b4ae}
button.secondary:hover{background:#fff5f4}
.error{background:#fff1f0;border:1px solid #f5c2bd;color:#a1281c;border-radius:8px;
padding:10px 12px;font-size:14px;margin-bottom:6px}
details{margin-top:24px;font-size:13px;color:#475467}
table{border-collapse:collapse;width:100%;margin-top:8px}
td,th{text-align:left;padding:4px 6px;border-bottom:1px solid #eaecf0}
code{font-family:ui-monospace,SFMono-Regular,Menlo,monospace}
code span{margin-right:.4em}
.status{font-size:44px;margin:4px 0 10px}
.note{margin-top:14px}
"""

#: The pages' one style sheet, as a Content-Security-Policy hash source: the policy allows it
#: and nothing else (no other inline style, no script at all).
PAGE_STYLE_HASH = "sha256-" + base64.b64encode(hashlib.sha256(_CSS.encode()).digest()).decode()


def _layout(title: str, body: str, *, lang: str = "en") -> str:
    return (
        f'<!doctype html>\n<html lang="{escape(lang)}"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width,initial-scale=1">'
        f"<title>{escape(title)}</title><style>{_CSS}</style></head><body>"
        '<div class="banner">bpcpay sandbox gateway: test cards only, no real money moves</div>'
        f"<main>{body}</main></body></html>"
    )


def _grouped(number: str) -> str:
    # Groups in separate spans, spaced by CSS: the page shows "4111 1111 ..." while its HTML
    # never holds a card number in one piece, so "no card number in the page" stays checkable.
    return "".join(f"<span>{number[i : i + 4]}</span>" for i in range(0, len(number), 4))


def _test_cards_table(today: date) -> str:
    expiry = shown_expiry(today)  # never one that expires within two years
    rows = "".join(
        f"<tr><td><code>{_grouped(card.number)}</code></td><td>{expiry}</td>"
        f"<td>{card.cvc}</td><td>{card.three_ds}</td>"
        f"<td>{'success' if card.approves else 'declined'}</td></tr>"
        for card in TestCards.ALL
    )
    return (
        "<details><summary>Test cards</summary><table><tr><th>Card</th><th>Expiry</th>"
        f"<th>CVC</th><th>3-D Secure</th><th>Result</th></tr>{rows}</table></details>"
    )


def payment_page(
    session: SessionRecord,
    *,
    action: str,
    lang: str = "en",
    error: str | None = None,
    cardholder: str = "",
    expiry: str = "",
    today: date,
) -> str:
    """The hosted payment form of ``session``.

    It shows the amount formatted with the currency's exponent, the store's order id when the
    session was created with one (``merchantReferenceId``), and when the page expires.

    Args:
        session: the session being paid.
        action: where the form posts (this page's own URL).
        lang: the page's language attribute.
        error: a message about the last entry, shown above the form.
        cardholder: refilled after an error (the number and CVC never are).
        expiry: refilled after an error.
        today: the gateway's date, for the expiry the test cards are shown with.
    """
    terms = session.request
    price = format_amount(terms.amount, terms.currency)
    order = (
        f'<p class="muted">Order {escape(terms.merchant_reference_id)}</p>'
        if terms.merchant_reference_id
        else '<p class="muted">Secure payment</p>'
    )
    error_box = f'<div class="error" role="alert">{escape(error)}</div>' if error else ""
    body = (
        f"<h1>Pay by card</h1>{order}"
        f'<div class="amount" id="amount">{escape(price)}</div>{error_box}'
        f'<form method="post" action="{escape(action)}" autocomplete="on">'
        '<label for="cardNumber">Card number</label>'
        '<input id="cardNumber" name="cardNumber" inputmode="numeric" autocomplete="cc-number" '
        'placeholder="1234 5678 9012 3456" maxlength="23" required>'
        '<div class="row"><div><label for="expiry">Expiry (MM/YY)</label>'
        f'<input id="expiry" name="expiry" inputmode="numeric" autocomplete="cc-exp" '
        f'placeholder="MM/YY" maxlength="7" value="{escape(expiry)}" required></div>'
        '<div><label for="cvc">CVC</label>'
        '<input id="cvc" name="cvc" inputmode="numeric" autocomplete="cc-csc" type="password" '
        'placeholder="123" maxlength="4" required></div></div>'
        '<label for="cardholder">Cardholder name</label>'
        f'<input id="cardholder" name="cardholder" autocomplete="cc-name" '
        f'placeholder="As printed on the card" value="{escape(cardholder)}">'
        f'<button type="submit" id="pay">Pay {escape(price)}</button></form>'
        f'<p class="muted note">This page expires at '
        f"{escape(session.expires_at.strftime('%Y-%m-%d %H:%M UTC'))}.</p>"
        f"{_test_cards_table(today)}"
    )
    return _layout(f"Pay {price}", body, lang=lang)


def challenge_page(
    *, amount: int, currency: str, brand: str, last4: str, action: str, challenge_id: str
) -> str:
    """The 3-D Secure challenge: "succeed" and "fail" buttons posting to ``action``."""
    price = format_amount(amount, currency)
    body = (
        "<h1>3-D Secure</h1>"
        '<p class="muted">Your bank asks you to confirm this payment.</p>'
        f'<div class="amount">{escape(price)}</div>'
        f"<p>Card: {escape(brand.title())} &bull;&bull;&bull;&bull; {escape(last4)}</p>"
        f'<form method="post" action="{escape(action)}">'
        f'<input type="hidden" name="challenge" value="{escape(challenge_id)}">'
        '<button type="submit" id="succeed" name="result" value="succeed">'
        "Succeed: confirm the payment</button>"
        '<button type="submit" id="fail" name="result" value="fail" class="secondary">'
        "Fail: reject the payment</button></form>"
    )
    return _layout("3-D Secure", body)


def message_page(title: str, message: str, *, symbol: str = "&#9432;") -> str:
    """A page with a title and one message, no form (``symbol`` is trusted HTML)."""
    body = (
        f'<div class="status" aria-hidden="true">{symbol}</div><h1 id="title">{escape(title)}</h1>'
        f'<p class="muted" id="message">{escape(message)}</p>'
    )
    return _layout(title, body)
