"""Puts a benchmark process in one of OpenTelemetry's worlds, chosen by ``BPCPAY_BENCH_OTEL``:

- ``absent``: ``opentelemetry`` cannot be imported, as if it were not installed;
- ``api``: the API is importable and no SDK is configured (the default of every process);
- ``sdk``: the SDK is configured as an application configures it, before anything else runs:
  global tracer and meter providers, spans exported one by one to memory, metrics kept for an
  in-memory reader.

Loaded by Python at start-up when this folder is on ``PYTHONPATH`` (``benchmarks/telemetry.py``
puts it there), so any benchmark script runs unchanged in any world, e.g.
``BPCPAY_BENCH_OTEL=sdk PYTHONPATH=benchmarks/_otel_site python benchmarks/instructions.py``.
"""

from __future__ import annotations

import importlib.abc
import os
import sys
from typing import Any

WORLD = os.environ.get("BPCPAY_BENCH_OTEL", "api")


class _NoOpenTelemetry(importlib.abc.MetaPathFinder):
    def find_spec(self, name: str, path: Any, target: Any = None) -> None:
        if name == "opentelemetry" or name.startswith("opentelemetry."):
            raise ModuleNotFoundError(f"No module named {name!r}", name=name)


if WORLD == "absent":
    sys.meta_path.insert(0, _NoOpenTelemetry())
elif WORLD == "sdk":
    from opentelemetry import metrics, trace
    from opentelemetry.sdk.metrics import MeterProvider
    from opentelemetry.sdk.metrics.export import InMemoryMetricReader
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import SimpleSpanProcessor
    from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

    _provider = TracerProvider()
    _provider.add_span_processor(SimpleSpanProcessor(InMemorySpanExporter()))
    trace.set_tracer_provider(_provider)
    metrics.set_meter_provider(MeterProvider(metric_readers=[InMemoryMetricReader()]))
elif WORLD != "api":
    raise SystemExit(f"BPCPAY_BENCH_OTEL must be absent, api or sdk, got {WORLD!r}")
