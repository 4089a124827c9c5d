"""The fleet suite: real gunicorn and uvicorn fleets on real SQLite, Redis and PostgreSQL.

Every test here is marked ``fleet`` (``pytest -m fleet`` runs them alone, ``-m "not fleet"``
skips them); the deliveries per second each fleet sustained are printed in the run's summary.
"""

from __future__ import annotations

import pytest

#: Lines for the terminal summary, appended by the tests (pytest captures their prints).
FLEET_REPORT: list[str] = []


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if "tests/fleet/" in item.nodeid.replace("\\", "/"):
            item.add_marker(pytest.mark.fleet)


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    """State each fleet's throughput in the run's output."""
    if FLEET_REPORT:
        terminalreporter.section("webhook fleet results")
        for line in FLEET_REPORT:
            terminalreporter.write_line(line)
