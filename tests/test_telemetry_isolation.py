"""OpenTelemetry as a library must use it (issue 22), each world in a fresh interpreter
(``_telemetry_probe.py``): without the API nothing of it is imported and everything works the
same, the API alone never pulls in the SDK, and the global providers an application sets after
making its clients and router are followed.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

PROBE = Path(__file__).resolve().parent / "_telemetry_probe.py"


def probe(mode: str) -> dict[str, Any]:
    result = subprocess.run(
        [sys.executable, "-W", "error", str(PROBE), mode],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    found: dict[str, Any] = json.loads(result.stdout)
    return found


@pytest.fixture(scope="module")
def without_api() -> dict[str, Any]:
    return probe("blocked")


def test_without_the_api_nothing_of_opentelemetry_is_imported(
    without_api: dict[str, Any],
) -> None:
    assert without_api["loaded"] == []
    # The probe really ran its calls and deliveries.
    assert len(without_api["results"]) == 6
    assert [r[:2] for r in without_api["results"][3:]] == [
        [200, "handled"],
        [200, "duplicate"],
        [400, "mismatch"],
    ]


def test_without_the_api_the_results_are_those_with_it(without_api: dict[str, Any]) -> None:
    with_api = probe("api")
    # The API alone: imported, but never the SDK.
    assert "opentelemetry.trace" in with_api["loaded"]
    assert not any(m.startswith("opentelemetry.sdk") for m in with_api["loaded"])
    for part in ("results", "attempts", "views", "sent"):
        assert without_api[part] == with_api[part], part
    # before_request ran for each attempt, also without the API, and its edits were sent.
    assert [v[3] for v in without_api["views"]] == [1, 1, 2, 1]
    assert [s[2] for s in without_api["sent"]] == ["42/1", "42/1", "42/2", "42/1"]
    assert all("X-Api-Key" not in v[2] for v in without_api["views"])


def test_without_the_api_a_provider_is_refused_with_the_extra_to_install(
    without_api: dict[str, Any],
) -> None:
    assert (
        without_api["refused"]
        == ["tracer_provider: needs the OpenTelemetry API: pip install 'bpcpay[otel]'"] * 3
    )


def test_the_global_providers_set_later_are_followed() -> None:
    found = probe("global")
    traced = {
        attributes.get("bpcpay.session.id")
        for name, attributes in found["spans"]
        if name == "bpcpay sessions.retrieve"
    }
    # A client made after the SDK was set is traced at once; one made before, within a second;
    # one given no-op providers, never.
    assert {"ps_fresh", "ps_early"} <= traced
    assert "ps_never" not in traced
    assert "ps_before" not in traced
    webhooks = [a for name, a in found["spans"] if name.startswith("bpcpay webhook")]
    assert [a["bpcpay.session.id"] for a in webhooks] == ["ps_later"]
    measured = [a for name, a in found["points"] if name == "http.client.request.duration"]
    assert measured and all(a["http.response.status_code"] == 200 for a in measured)
    delivered = [a for name, a in found["points"] if name == "bpcpay.webhook.deliveries"]
    assert delivered == [
        {"bpcpay.event.type": "session.expired", "bpcpay.webhook.result": "handled"}
    ]


def test_the_cost_benchmark_runs_in_each_world() -> None:
    """``benchmarks/telemetry.py`` (its wall-clock part: valgrind's takes minutes) really puts
    its probes in the three worlds: the table has a row each."""
    script = Path(__file__).resolve().parent.parent / "benchmarks" / "telemetry.py"
    result = subprocess.run(
        [sys.executable, str(script), "--no-valgrind", "--wall", "1"],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    rows = [line.split(" | ")[0] for line in result.stdout.splitlines() if line.startswith("| ")]
    assert rows[-3:] == ["| absent", "| api", "| sdk"]
