"""Draw one payment's real traces, from the shop's ``sessions.create`` to the webhook that settles
it, for docs/observability.md.

    python scripts/payment_trace.py            # run a payment, print the picture
    python scripts/payment_trace.py --write    # ... and put it in docs/observability.md
    python scripts/payment_trace.py --check    # run one and compare its shape with the page's

Nothing is drawn by hand: a small shop (aiohttp, under OpenTelemetry's own aiohttp server
instrumentation) checks out with ``AsyncBpcPay`` against the sandbox gateway on loopback, the
sandbox's customer pays on the real payment page, the gateway's signed ``session.completed``
reaches the shop's ``WebhookRouter``, and the SDK's in-memory exporter keeps every span. The
picture is those spans as text trees, one per trace, with each span's start (from its trace's
first span) and duration in milliseconds and the attributes an operator reads first. The
checkout and the webhook are two traces (the gateway calls the shop on its own, with no trace
context); ``bpcpay.session.id`` finds one from the other.

``--check`` (run by tests/test_telemetry_docs.py) compares the page's picture with a fresh
run's, times, ports and ids aside, so the page cannot drift from what bpcpay records.
"""

from __future__ import annotations

import argparse
import asyncio
import re
import sys
import warnings
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
PAGE = ROOT / "docs" / "observability.md"
START, END = "<!-- trace:start -->", "<!-- trace:end -->"

#: The attributes shown beside each span, in this order (ids are shown in each trace's heading).
SHOWN = (
    "http.response.status_code",
    "http.request.resend_count",
    "bpcpay.attempts",
    "bpcpay.webhook.claim",
    "bpcpay.webhook.result",
    "bpcpay.webhook.recorded",
    "error.type",
)


async def record() -> list[Any]:
    """Run one payment through a shop and the sandbox; every span it made, finished."""
    from aiohttp import ClientSession, web
    from opentelemetry.instrumentation.aiohttp_server import AioHttpServerInstrumentor
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import SimpleSpanProcessor
    from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

    from bpcpay import AsyncBpcPay, Event
    from bpcpay.contrib.aiohttp import setup_webhooks
    from bpcpay.sandbox import SandboxGateway
    from bpcpay.webhooks import WebhookRouter

    exporter = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    async with SandboxGateway(webhook_retry_schedule=(0.05, 0.1)) as gateway:
        # The shop's app is made under the instrumentation (the gateway's was made before).
        instrumentor = AioHttpServerInstrumentor()
        with warnings.catch_warnings():
            # The instrumentation subclasses web.Application, which aiohttp discourages.
            warnings.filterwarnings(
                "ignore", "Inheritance class _InstrumentedApplication", DeprecationWarning
            )
            instrumentor.instrument(tracer_provider=provider)
        try:
            shop = web.Application()
        finally:
            instrumentor.uninstrument()
        client = AsyncBpcPay(
            api_key=gateway.api_key, base_url=gateway.base_url, tracer_provider=provider
        )
        router = WebhookRouter(gateway.webhook_secret, tracer_provider=provider)
        sessions: list[str] = []
        paid = asyncio.Event()

        @router.on("session.completed")
        async def mark_paid(event: Event) -> None:
            paid.set()

        async def checkout(request: web.Request) -> web.Response:
            root = f"{request.scheme}://{request.host}"
            session = await client.sessions.create(
                amount=2400,
                currency="EUR",
                success_url=f"{root}/thanks",
                failure_url=f"{root}/cart",
                merchant_reference_id="order-1001",
            )
            sessions.append(session.id)
            raise web.HTTPSeeOther(session.payment_url or "/cart")

        shop.router.add_post("/checkout", checkout)
        setup_webhooks(shop, router)
        runner = web.AppRunner(shop, access_log=None)
        await runner.setup()
        try:
            await web.TCPSite(runner, "127.0.0.1", 0).start()
            root = f"http://127.0.0.1:{runner.addresses[0][1]}"
            gateway.add_webhook_endpoint(f"{root}/webhooks/bpc", ["session.completed"])
            async with (
                ClientSession() as browser,
                browser.post(f"{root}/checkout", allow_redirects=False) as answer,
            ):
                assert answer.status == 303, answer.status
            assert (await gateway.pay(sessions[0])).succeeded
            await asyncio.wait_for(paid.wait(), 10)
            await gateway.wait_for_deliveries()
        finally:
            await runner.cleanup()
            await client.aclose()
    provider.shutdown()
    return list(exporter.get_finished_spans())


def _shown(span: Any) -> str:
    attributes = dict(span.attributes or {})
    return "  ".join(f"{k}={attributes[k]}" for k in SHOWN if k in attributes)


def _walk(
    by_parent: dict[int | None, list[Any]],
    parent: int | None,
    prefix: str,
    began: int,
    lines: list[str],
) -> None:
    """Append the spans under ``parent`` (a span id; None for a trace's roots) to ``lines``."""
    children = sorted(by_parent.get(parent, []), key=lambda span: span.start_time)
    for index, span in enumerate(children):
        last = index == len(children) - 1
        branch = "" if parent is None else ("└─ " if last else "├─ ")
        name = f"{prefix}{branch}{span.name}"
        start = (span.start_time - began) / 1e6
        took = (span.end_time - span.start_time) / 1e6
        line = f"{name:<44} {span.kind.name:<8} {start:7.1f} {took:7.1f}  {_shown(span)}"
        lines.append(line.rstrip())
        deeper = prefix + ("" if parent is None else ("   " if last else "│  "))
        _walk(by_parent, span.context.span_id, deeper, began, lines)


def render(spans: list[Any]) -> str:
    """The traces that hold bpcpay's spans, as text trees (checkout first)."""
    traces: dict[int, list[Any]] = {}
    for span in spans:
        traces.setdefault(span.context.trace_id, []).append(span)
    kept = [t for t in traces.values() if any(s.name.startswith("bpcpay ") for s in t)]
    kept.sort(key=lambda t: min(s.start_time for s in t))
    first = min(s.start_time for t in kept for s in t)
    lines: list[str] = []
    for number, trace in enumerate(kept, 1):
        ids = {
            k: v
            for s in trace
            for k, v in (s.attributes or {}).items()
            if k in ("bpcpay.session.id", "bpcpay.payment.id")
        }
        began = min(s.start_time for s in trace)
        lines.append(
            f"trace {number}, {(began - first) / 1e6:.0f} ms after the checkout began: "
            + ", ".join(f"{k} = {v}" for k, v in sorted(ids.items(), reverse=True))
        )
        by_parent: dict[int | None, list[Any]] = {}
        known = {s.context.span_id for s in trace}
        for span in trace:
            parent = span.parent.span_id if span.parent and span.parent.span_id in known else None
            by_parent.setdefault(parent, []).append(span)
        lines.append(f"{'span':<44} {'kind':<8} {'at ms':>7} {'ms':>7}  attributes")
        _walk(by_parent, None, "", began, lines)
        lines.append("")
    return "\n".join(lines).rstrip() + "\n"


def shape(picture: str) -> list[str]:
    """The picture without what differs between runs: times, ids, ports."""
    found = []
    for line in picture.splitlines():
        line = re.sub(r"\s+-?\d+\.\d\s+-?\d+\.\d(\s+|$)", "  ", line)  # start, duration
        line = re.sub(r"\b(ps|pay|req)_[\w-]+", r"\1_…", line)
        line = re.sub(r"\d+ ms after", "… ms after", line)
        found.append(line.rstrip())
    return found


def page_picture() -> str:
    text = PAGE.read_text(encoding="utf-8")
    block = text.split(START, 1)[1].split(END, 1)[0]
    return block.split("```text\n", 1)[1].split("```", 1)[0]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--write", action="store_true", help="update docs/observability.md")
    parser.add_argument("--check", action="store_true", help="compare with the page's picture")
    args = parser.parse_args()
    picture = render(asyncio.run(record()))
    if args.check:
        if shape(picture) != shape(page_picture()):
            print("docs/observability.md's trace differs from a fresh run's:\n" + picture)
            return 1
        print("docs/observability.md's trace has the shape of a fresh run's")
        return 0
    if args.write:
        text = PAGE.read_text(encoding="utf-8")
        head, rest = text.split(START, 1)
        tail = rest.split(END, 1)[1]
        block = f"{START}\n```text\n{picture}```\n{END}"
        PAGE.write_text(head + block + tail, encoding="utf-8")
    sys.stdout.write(picture)
    return 0


if __name__ == "__main__":
    sys.exit(main())
