"""A program for ``test_telemetry_isolation.py``: the same calls and deliveries, run in a fresh
interpreter in one of three worlds, printed as JSON.

    python tests/_telemetry_probe.py blocked   # opentelemetry cannot be imported
    python tests/_telemetry_probe.py api       # the API is there, no SDK is configured
    python tests/_telemetry_probe.py global    # the application sets the global SDK providers
                                               # after its first client and router were made

The gateway is the canned one (``_fake_gateway.py``), whose ids and request ids are the same
from run to run, so two worlds' outputs can be compared whole.
"""

from __future__ import annotations

import importlib.abc
import json
import sys
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))


class _NoOpenTelemetry(importlib.abc.MetaPathFinder):
    """Makes ``opentelemetry`` impossible to import, as if it were not installed."""

    def find_spec(self, name: str, path: Any, target: Any = None) -> None:
        if name == "opentelemetry" or name.startswith("opentelemetry."):
            raise ModuleNotFoundError(f"No module named {name!r}", name=name)


MODE = sys.argv[1]
if MODE == "blocked":
    sys.meta_path.insert(0, _NoOpenTelemetry())

from _fake_gateway import gateway_in_thread  # noqa: E402

import bpcpay  # noqa: E402
from bpcpay.testing import webhook_delivery  # noqa: E402
from bpcpay.webhooks import WebhookRouter  # noqa: E402

KEY = "sk_test_probe_key_0123456789abcdef"
SECRET = "whsec_probe_secret_0123456789"
SESSION = {"id": "ps_probe", "amount": 1, "currency": "EUR", "status": "complete"}


async def _no_sleep(_: float) -> None:
    return None


def loaded() -> list[str]:
    return sorted(m for m in sys.modules if m.split(".")[0] == "opentelemetry")


def same_world() -> dict[str, Any]:
    """Calls with every hook on, and deliveries; what they gave, as plain data."""
    attempts: list[Any] = []
    views: list[Any] = []
    base = [""]  # the gateway's URL, whose port differs from run to run

    def hook(request: bpcpay.OutgoingRequest) -> None:
        url = request.url.removeprefix(base[0])
        views.append([request.method, url, sorted(request.headers), request.attempt])
        request.headers["X-Order-Ref"] = f"42/{request.attempt}"

    results: list[Any] = []
    with gateway_in_thread() as gw:
        base[0] = gw.base_url
        client = bpcpay.BpcPay(
            api_key=KEY,
            base_url=gw.base_url,
            on_attempt=lambda a: attempts.append(
                [a.method, a.path, a.attempt, a.status, a.request_id, a.error, a.retry_in]
            ),
            before_request=hook,
            _sleep=_no_sleep,
        )
        with client:
            session = client.sessions.create(
                amount=1000,
                currency="EUR",
                success_url="https://shop.example/ok",
                failure_url="https://shop.example/ko",
            )
            results.append(repr(session))
            gw.fail_next = [503]
            results.append(repr(client.sessions.retrieve("ps_1")))
            try:
                client.request("GET", "/nothing")
            except bpcpay.APIStatusError as exc:
                results.append([type(exc).__name__, exc.status_code, exc.request_id])
        sent = [[m, p, h.get("X-Order-Ref")] for m, p, h, _ in gw.requests]
    router = WebhookRouter(SECRET)
    router.add_handler("*", lambda event: None)
    body, headers = webhook_delivery(
        "session.completed", SESSION, secret=SECRET, request_id="req_probe"
    )
    for payload in (body, body, body + b" "):
        result = router.handle_sync(payload, headers)
        results.append([result.status, result.reason, result.key])
    return {"results": results, "attempts": attempts, "views": views, "sent": sent}


def blocked() -> dict[str, Any]:
    out = same_world()
    refused = []
    for make in (bpcpay.BpcPay, bpcpay.AsyncBpcPay, WebhookRouter):
        try:
            if make is WebhookRouter:
                make(SECRET, tracer_provider=_Provider())  # type: ignore[arg-type]
            else:
                make(api_key=KEY, tracer_provider=_Provider())  # type: ignore[operator]
        except bpcpay.InvalidArgumentError as exc:
            refused.append(str(exc))
    return {**out, "refused": refused, "loaded": loaded()}


class _Provider:
    def get_tracer(self, name: str, version: str | None = None) -> None:
        return None


def api() -> dict[str, Any]:
    return {**same_world(), "loaded": loaded()}


def global_providers() -> dict[str, Any]:
    from opentelemetry import metrics, trace
    from opentelemetry.sdk.metrics import MeterProvider
    from opentelemetry.sdk.metrics.export import InMemoryMetricReader
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import SimpleSpanProcessor
    from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

    body, headers = webhook_delivery("session.completed", SESSION, secret=SECRET)
    later, later_headers = webhook_delivery(
        "session.expired", {**SESSION, "id": "ps_later", "status": "expired"}, secret=SECRET
    )
    with gateway_in_thread() as gw:
        early = bpcpay.BpcPay(api_key=KEY, base_url=gw.base_url)
        never = bpcpay.BpcPay(
            api_key=KEY,
            base_url=gw.base_url,
            tracer_provider=trace.NoOpTracerProvider(),
            meter_provider=metrics.NoOpMeterProvider(),
        )
        router = WebhookRouter(SECRET)
        router.add_handler("*", lambda event: None)
        early.sessions.retrieve("ps_before")
        router.handle_sync(body, headers)

        # The application configures its SDK after making its client and router.
        exporter = InMemorySpanExporter()
        tracer_provider = TracerProvider()
        tracer_provider.add_span_processor(SimpleSpanProcessor(exporter))
        reader = InMemoryMetricReader()
        trace.set_tracer_provider(tracer_provider)
        metrics.set_meter_provider(MeterProvider(metric_readers=[reader]))

        with bpcpay.BpcPay(api_key=KEY, base_url=gw.base_url) as fresh:
            fresh.sessions.retrieve("ps_fresh")  # made after: traced from its first call
        time.sleep(1.05)  # bpcpay looks at a no-op global provider again after a second
        early.sessions.retrieve("ps_early")
        never.sessions.retrieve("ps_never")
        router.handle_sync(later, later_headers)
        early.close()
        never.close()
    points = []
    data = reader.get_metrics_data()
    for resource in data.resource_metrics if data is not None else ():
        for scope in resource.scope_metrics:
            for metric in scope.metrics:
                for point in metric.data.data_points:
                    points.append([metric.name, dict(point.attributes or {})])
    spans = [
        [span.name, dict(span.attributes or {})]
        for span in exporter.get_finished_spans()
        if span.name.startswith("bpcpay ")
    ]
    return {"spans": spans, "points": points, "loaded": loaded()}


if __name__ == "__main__":
    run = {"blocked": blocked, "api": api, "global": global_providers}[MODE]
    print(json.dumps(run(), sort_keys=True))
