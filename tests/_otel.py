"""OpenTelemetry's SDK as an application sets it up, for the telemetry tests: an in-memory span
exporter and metric reader behind real providers, and readers of what they hold.

The providers are handed to the clients and routers (``tracer_provider=``, ``meter_provider=``);
the global ones are only ever set in subprocesses (OpenTelemetry lets a process set them once).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator, Mapping
from typing import Any

from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import InMemoryMetricReader, Metric
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

#: The buckets the HTTP semantic conventions give http.client.request.duration.
SEMCONV_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.075, 0.1, 0.25, 0.5, 0.75, 1, 2.5, 5, 7.5, 10)


class Recorder:
    """An SDK tracer provider and meter provider that keep everything in memory."""

    def __init__(self) -> None:
        self.exporter = InMemorySpanExporter()
        self.tracer_provider = TracerProvider()
        self.tracer_provider.add_span_processor(SimpleSpanProcessor(self.exporter))
        self.reader = InMemoryMetricReader()
        self.meter_provider = MeterProvider(metric_readers=[self.reader])

    @property
    def providers(self) -> dict[str, Any]:
        """``tracer_provider=`` and ``meter_provider=`` for a client or a router."""
        return {"tracer_provider": self.tracer_provider, "meter_provider": self.meter_provider}

    def close(self) -> None:
        self.tracer_provider.shutdown()
        self.meter_provider.shutdown()

    # --- spans ---------------------------------------------------------------------------

    def spans(self) -> list[ReadableSpan]:
        """Every finished span, in the order they ended."""
        return list(self.exporter.get_finished_spans())

    def named(self, name: str) -> list[ReadableSpan]:
        return [s for s in self.spans() if s.name == name]

    def one(self, name: str) -> ReadableSpan:
        """The only finished span called ``name``."""
        found = self.named(name)
        assert len(found) == 1, (name, [s.name for s in self.spans()])
        return found[0]

    def children(self, parent: ReadableSpan) -> list[ReadableSpan]:
        """The spans whose parent is ``parent``, in the order they started."""
        found = [
            s for s in self.spans() if s.parent is not None and s.parent.span_id == span_id(parent)
        ]
        return sorted(found, key=lambda s: s.start_time or 0)

    # --- metrics -------------------------------------------------------------------------

    def metrics(self) -> dict[str, Metric]:
        """Every metric recorded so far (cumulative), by name."""
        data = self.reader.get_metrics_data()
        found: dict[str, Metric] = {}
        if data is None:
            return found
        for resource in data.resource_metrics:
            for scope in resource.scope_metrics:
                for metric in scope.metrics:
                    found[metric.name] = metric
        return found

    def points(self, name: str) -> list[tuple[dict[str, Any], Any]]:
        """``(attributes, point)`` of each of the metric's data points."""
        metric = self.metrics().get(name)
        if metric is None:
            return []
        return [(dict(p.attributes or {}), p) for p in metric.data.data_points]


def span_id(span: ReadableSpan) -> int:
    context = span.context
    assert context is not None
    return context.span_id


def parent_id(span: ReadableSpan) -> int | None:
    return None if span.parent is None else span.parent.span_id


def attrs(span: ReadableSpan) -> dict[str, Any]:
    return dict(span.attributes or {})


def count(points: Iterable[tuple[dict[str, Any], Any]], **where: Any) -> int:
    """The sum of counters (or the number of histogram samples) whose attributes hold
    ``where`` (dots written as ``__``)."""
    wanted = {key.replace("__", "."): value for key, value in where.items()}
    total = 0
    for attributes, point in points:
        if all(attributes.get(k) == v for k, v in wanted.items()):
            total += getattr(point, "count", None) or getattr(point, "value", 0)
    return total


# --- what the exporters hold, as text, for the secret scan -------------------------------


def _values(value: Any) -> Iterator[str]:
    if isinstance(value, (list, tuple)):
        for item in value:
            yield from _values(item)
    else:
        yield str(value)


def _mapping(mapping: Mapping[str, Any] | None) -> Iterator[str]:
    for key, value in (mapping or {}).items():
        yield key
        yield from _values(value)


def exported_text(recorder: Recorder) -> list[str]:
    """Every string the span exporter and the metric reader hold: names, attributes, events,
    links, statuses, resources, scopes, metric names, descriptions, units and point
    attributes."""
    found: list[str] = []
    for span in recorder.spans():
        found.append(span.name)
        found.extend(_mapping(span.attributes))
        found.extend(_mapping(span.resource.attributes))
        if span.status.description:
            found.append(span.status.description)
        for event in span.events:
            found.append(event.name)
            found.extend(_mapping(event.attributes))
        for link in span.links:
            found.extend(_mapping(link.attributes))
    data = recorder.reader.get_metrics_data()
    for resource in data.resource_metrics if data is not None else ():
        found.extend(_mapping(resource.resource.attributes))
        for scope in resource.scope_metrics:
            found.append(scope.scope.name)
            for metric in scope.metrics:
                found.extend([metric.name, metric.description or "", metric.unit or ""])
                for point in metric.data.data_points:
                    found.extend(_mapping(point.attributes))
    return found


def leaks(texts: Iterable[str], secrets: Mapping[str, str]) -> list[str]:
    """Which of ``secrets`` (name -> value) appear in ``texts``: whole, or any 12-character
    piece of a long one, or (a short one, a CVC) as a number standing alone."""
    found = []
    for name, secret in secrets.items():
        if len(secret) >= 12:
            pieces = {secret[i : i + 12] for i in range(len(secret) - 11)}
            hit = any(piece in text for text in texts for piece in pieces)
        else:
            alone = re.compile(rf"(?<![0-9A-Za-z]){re.escape(secret)}(?![0-9A-Za-z])")
            hit = any(alone.search(text) for text in texts)
        if hit:
            found.append(name)
    return found
