"""HTML of the demo store: the product page, the order (success) page, the failure page and a
message page.

Inline CSS, one small inline script (the order page polls the store's own status endpoint until
the webhook is in), no external assets: :data:`CONTENT_SECURITY_POLICY` allows exactly those.
Every dynamic value is HTML-escaped. Element ids are
stable, because the browser test finds things by them: ``#buy``, ``#order-id``,
``#order-status``, ``#webhook``, ``#confirmed-by``, ``#retry``, ``#title``, ``#message``,
``#decline`` (why a card was declined), ``#decline-code``.
"""

from __future__ import annotations

import base64
import hashlib
import json
from collections.abc import Sequence
from html import escape
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from ._store import Order, Product

__all__ = [
    "CONTENT_SECURITY_POLICY",
    "failure_page",
    "message_page",
    "order_page",
    "product_page",
]

STORE_NAME = "Bean & Bloom"

_CSS = """
*{box-sizing:border-box}
body{margin:0;font:16px/1.5 system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;
background:#f6f1ea;color:#2b2118}
header{display:flex;align-items:center;justify-content:space-between;max-width:880px;
margin:0 auto;padding:22px 24px}
.logo{font-weight:750;font-size:20px;letter-spacing:-.01em;color:#2b2118;text-decoration:none}
.tag{font-size:12px;background:#2b2118;color:#f6f1ea;border-radius:99px;padding:3px 10px}
main{max-width:880px;margin:0 auto 48px;padding:0 24px}
.card{background:#fff;border-radius:18px;box-shadow:0 10px 30px rgba(60,40,20,.10);
padding:32px}
.product{display:grid;grid-template-columns:1fr 1.1fr;gap:36px;align-items:center}
.art{background:linear-gradient(160deg,#f3e3cf,#e7cfb1);border-radius:14px;display:flex;
align-items:center;justify-content:center;aspect-ratio:1}
h1{font-size:30px;line-height:1.15;margin:0 0 10px;letter-spacing:-.02em}
.lead{color:#6b5a4a;margin:0 0 20px}
.price{font-size:28px;font-weight:700;margin:0 0 22px}
button,.button{display:inline-block;border:0;border-radius:10px;background:#b4541a;color:#fff;
font-family:inherit;font-size:17px;font-weight:650;line-height:1;padding:16px 30px;
cursor:pointer;text-decoration:none;box-shadow:0 3px 10px rgba(180,84,26,.25)}
button:hover,.button:hover{background:#9a4513}
.fine{font-size:13px;color:#8a7866;margin-top:14px}
.narrow{max-width:560px;margin:0 auto}
.badge{display:inline-block;font-weight:700;border-radius:99px;padding:6px 16px;font-size:18px}
.badge[data-status=paid]{background:#dcf5e3;color:#16663a}
.badge[data-status=pending]{background:#fff3d6;color:#8a5a00}
.badge[data-status=expired],.badge[data-status=failed]{background:#fde4e1;color:#a1281c}
dl{display:grid;grid-template-columns:max-content 1fr;gap:8px 18px;margin:24px 0 0}
dt{color:#8a7866}dd{margin:0;word-break:break-all}
code{font-family:ui-monospace,SFMono-Regular,Menlo,monospace;font-size:14px}
table{width:100%;border-collapse:collapse;margin-top:12px;font-size:14px}
th,td{text-align:left;padding:8px 6px;border-bottom:1px solid #efe6db}
th{color:#8a7866;font-weight:600}
h2{font-size:17px;margin:34px 0 4px}
.icon{width:56px;height:56px;border-radius:50%;display:flex;align-items:center;
justify-content:center;font-size:28px;font-weight:700;margin-bottom:14px}
.icon.good{background:#dcf5e3;color:#16663a}.icon.wait{background:#fff3d6;color:#8a5a00}
.icon.bad{background:#fde4e1;color:#a1281c}
.actions{margin-top:26px;display:flex;gap:14px;align-items:center}
.link{color:#b4541a}
@media (max-width:680px){.product{grid-template-columns:1fr}}
"""

# A pour-over dripper drawn in SVG, so the page needs no image file.
_ART = """<svg viewBox="0 0 200 200" width="78%" role="img" aria-label="A ceramic dripper">
<ellipse cx="100" cy="168" rx="70" ry="10" fill="#c9a982"/>
<path d="M62 150h76l-6 14H68z" fill="#7d4a25"/>
<path d="M38 58h124l-40 82H78z" fill="#fbf7f2" stroke="#7d4a25" stroke-width="5"
 stroke-linejoin="round"/>
<path d="M50 70h100M58 86h84M66 102h68M74 118h52" stroke="#e2cfb8" stroke-width="4"/>
<path d="M162 70c20 0 22 30 0 34" fill="none" stroke="#7d4a25" stroke-width="6"/>
<path d="M86 40c-6-10 6-14 0-24M112 40c-6-10 6-14 0-24" fill="none" stroke="#b58a63"
 stroke-width="4" stroke-linecap="round"/>
</svg>"""

_STATUS_LABELS = {"paid": "paid", "pending": "awaiting payment", "expired": "expired"}

# Polls the store's own status endpoint (its URL in the script element's data-url) until the
# signed webhook is in, so a person watching the page sees the confirmation arrive; stops after
# a minute. Only textContent is written. Its text never varies, so the pages' Content-Security-
# Policy allows it by its hash, and no other script.
_POLL = """
(function(){
  var url=document.currentScript.dataset.url, labels=LABELS, tries=0;
  function show(o){
    var s=document.getElementById("order-status");
    s.textContent=labels[o.status]||o.status; s.dataset.status=o.status;
    document.getElementById("webhook").textContent=o.webhook?
      "verified, delivery "+o.webhook:"waiting for the signed session.completed";
    document.getElementById("confirmed-by").textContent=o.confirmedBy||"not yet";
    return !!o.webhook;
  }
  function poll(){
    fetch(url,{cache:"no-store"}).then(function(r){return r.json()}).then(function(o){
      if(!show(o)&&++tries<150){setTimeout(poll,400)}
    }).catch(function(){if(++tries<150){setTimeout(poll,1000)}});
  }
  poll();
})();
""".replace("LABELS", json.dumps(_STATUS_LABELS))


# The failure page's counterpart: polls until the verified payment.failed says why the card was
# declined, then shows it; stops after a minute. Only textContent is written.
_POLL_DECLINE = """
(function(){
  var url=document.currentScript.dataset.url, tries=0;
  function poll(){
    fetch(url,{cache:"no-store"}).then(function(r){return r.json()}).then(function(o){
      if(o.declineCode){
        document.getElementById("decline").textContent=o.declineReason;
        document.getElementById("decline-code").textContent=o.declineCode;
      } else if(++tries<150){setTimeout(poll,400)}
    }).catch(function(){if(++tries<150){setTimeout(poll,1000)}});
  }
  poll();
})();
"""


def _hash_source(text: str) -> str:
    """``text`` as a Content-Security-Policy hash source."""
    return "'sha256-" + base64.b64encode(hashlib.sha256(text.encode()).digest()).decode() + "'"


#: The pages' policy: their one style sheet and two scripts (by hash), requests to the store
#: itself (the polling), forms sent to the store and, by its redirect, the gateway's page;
#: nothing else loads, nothing frames them. ``{gateway}`` is the gateway's origin.
CONTENT_SECURITY_POLICY = (
    f"default-src 'none'; style-src {_hash_source(_CSS)}; "
    f"script-src {_hash_source(_POLL)} {_hash_source(_POLL_DECLINE)}; connect-src 'self'; "
    "form-action 'self' {gateway}; base-uri 'none'; frame-ancestors 'none'"
)


def _script(code: str, url: str) -> str:
    return f'<script data-url="{escape(url)}">{code}</script>'


def _layout(title: str, body: str) -> str:
    return (
        '<!doctype html>\n<html lang="en"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width,initial-scale=1">'
        f"<title>{escape(title)} · {escape(STORE_NAME)}</title><style>{_CSS}</style></head>"
        f'<body><header><a class="logo" href="/">{escape(STORE_NAME)}</a>'
        '<span class="tag">demo store · bpcpay sandbox</span></header>'
        f"<main>{body}</main></body></html>"
    )


def _status_badge(status: str, text: str | None = None) -> str:
    label = text if text is not None else _STATUS_LABELS.get(status, status)
    return (
        f'<span class="badge" id="order-status" data-status="{escape(status)}">'
        f"{escape(label)}</span>"
    )


def product_page(product: Product, recent: Sequence[Order]) -> str:
    """The shop window: one product and a Buy button (``#buy``), then the latest orders."""
    rows = "".join(
        f"<tr><td><code>{escape(o.id)}</code></td><td>{escape(o.product.price)}</td>"
        f"<td>{escape(_STATUS_LABELS.get(o.status, o.status))}</td>"
        f"<td>{escape(o.confirmed_by or '-')}</td></tr>"
        for o in recent
    )
    orders = (
        "<h2>Recent orders</h2><table><tr><th>Order</th><th>Amount</th><th>Status</th>"
        f"<th>Confirmed by</th></tr>{rows}</table>"
        if rows
        else ""
    )
    body = (
        f'<div class="card product"><div class="art">{_ART}</div><div>'
        f'<h1 id="product-name">{escape(product.name)}</h1>'
        f'<p class="lead">{escape(product.description)}</p>'
        f'<p class="price" id="price">{escape(product.price)}</p>'
        '<form method="post" action="/buy"><button type="submit" id="buy">Buy now</button>'
        "</form>"
        '<p class="fine">You pay on the gateway\'s page; the store never sees your card. '
        "Sandbox: use a test card, no money moves.</p></div></div>"
        f"{orders}"
    )
    return _layout(product.name, body)


def order_page(order: Order) -> str:
    """The success page: the order and what proved its payment (polls until the webhook)."""
    if order.paid:
        mood, icon, title, lead = "good", "&#10003;", "Thank you!", "Your payment is confirmed."
    elif order.status == "expired":
        mood, icon, title = "bad", "&#8987;", "Order expired"
        lead = "The payment was not completed in time."
    else:
        mood, icon, title, lead = (
            "wait",
            "&#8987;",
            "Almost there",
            "We are waiting for the payment gateway to confirm your payment.",
        )
    webhook = (
        f"verified, delivery {order.webhook_request_id}"
        if order.webhook_request_id
        else "waiting for the signed session.completed"
    )
    poll = ""
    if not order.webhook_verified and order.status != "expired":
        poll = _script(_POLL, f"/orders/{order.id}.json")
    body = (
        f'<div class="card narrow"><div class="icon {mood}" aria-hidden="true">{icon}</div>'
        f'<h1 id="title">{title}</h1><p class="lead">{lead}</p>{_status_badge(order.status)}'
        f'<dl><dt>Order</dt><dd><code id="order-id">{escape(order.id)}</code></dd>'
        f"<dt>Item</dt><dd>{escape(order.product.name)}</dd>"
        f'<dt>Amount</dt><dd id="amount">{escape(order.product.price)}</dd>'
        f"<dt>Session</dt><dd><code>{escape(order.session_id or '-')}</code></dd>"
        f'<dt>Webhook</dt><dd id="webhook">{escape(webhook)}</dd>'
        f'<dt>Confirmed by</dt><dd id="confirmed-by">{escape(order.confirmed_by or "not yet")}'
        "</dd></dl>"
        '<div class="actions"><a class="link" href="/">Back to the shop</a></div></div>'
        f"{poll}"
    )
    return _layout(title, body)


def failure_page(order: Order) -> str:
    """The failure page: the order is not paid, why the card was declined (``#decline`` and
    ``#decline-code``, from the verified ``payment.failed``; polled for until it is in), and
    "try again" (``#retry``) back to the payment page while the session is open, or a new order
    once it has expired."""
    if order.status != "expired" and order.payment_url:
        retry = f'<a class="button" id="retry" href="{escape(order.payment_url)}">Try again</a>'
        lead = "Your card was not charged. You can try again with another card."
    else:
        retry = '<a class="button" id="retry" href="/">Start a new order</a>'
        lead = "The payment session has expired. Start a new order to try again."
    poll = ""
    if order.decline_reason is not None:
        why, code = order.decline_reason, order.decline_code or "-"
    elif order.status == "expired":
        why, code = "the payment was not completed in time", "-"
    else:
        why, code = "waiting for the gateway's signed payment.failed", "-"
        poll = _script(_POLL_DECLINE, f"/orders/{order.id}.json")
    body = (
        '<div class="card narrow"><div class="icon bad" aria-hidden="true">&#10007;</div>'
        f'<h1 id="title">Payment failed</h1><p class="lead">{lead}</p>'
        f"{_status_badge('failed', 'not paid')}"
        f'<dl><dt>Order</dt><dd><code id="order-id">{escape(order.id)}</code></dd>'
        f'<dt>Amount</dt><dd id="amount">{escape(order.product.price)}</dd>'
        f'<dt>Why</dt><dd id="decline">{escape(why)}</dd>'
        f'<dt>Decline code</dt><dd><code id="decline-code">{escape(code)}</code></dd></dl>'
        f'<div class="actions">{retry}<a class="link" href="/">Back to the shop</a></div></div>'
        f"{poll}"
    )
    return _layout("Payment failed", body)


def message_page(title: str, message: str, *, back: str = "/") -> str:
    """A page with a title, one message and a way back."""
    body = (
        f'<div class="card narrow"><h1 id="title">{escape(title)}</h1>'
        f'<p class="lead" id="message">{escape(message)}</p>'
        f'<a class="link" href="{escape(back)}">Back to the shop</a></div>'
    )
    return _layout(title, body)
