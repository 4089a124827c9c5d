"""Fixtures of the reliability suite: one sandbox gateway per module, run in its own thread so
that both the async client (in the test's loop) and the sync client (on bpcpay's loop thread)
talk to it over loopback, and a sync client for setting up objects before a fault is armed.

Everything binds 127.0.0.1. Gateways and clients are closed at the end of their scope.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

import bpcpay
from bpcpay.sandbox import SandboxGateway, ThreadedSandboxGateway


@pytest.fixture(scope="module")
def sandbox() -> Iterator[ThreadedSandboxGateway]:
    """A gateway shared by the module; tests clear its faults before and after themselves."""
    with SandboxGateway.run_in_thread(webhook_retry_schedule=(0.01, 0.01)) as gw:
        yield gw


@pytest.fixture
def gw(sandbox: ThreadedSandboxGateway) -> Iterator[ThreadedSandboxGateway]:
    """The module's gateway with no pending fault, before and after the test."""
    sandbox.faults.clear()
    yield sandbox
    sandbox.faults.clear()


@pytest.fixture(scope="module")
def setup_client(sandbox: ThreadedSandboxGateway) -> Iterator[bpcpay.BpcPay]:
    """A sync client for preparing objects (never faulted: faults are armed after setup)."""
    with bpcpay.BpcPay(api_key=sandbox.api_key, base_url=sandbox.base_url) as client:
        yield client


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    """State the load and bound tests' numbers in the run's output (pytest captures prints)."""
    from _rel_support import LOAD_REPORT

    if LOAD_REPORT:
        terminalreporter.section("reliability measurements: load, time and memory bounds")
        for line in LOAD_REPORT:
            terminalreporter.write_line(line)
