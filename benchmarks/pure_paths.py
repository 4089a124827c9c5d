"""Section d: the pure paths, no network: webhook verification and model parsing.

    python benchmarks/pure_paths.py [--quick]

``construct_event`` on a correctly signed ~1 KB ``session.completed`` delivery, against the least
a receiver must do (``hmac`` + ``compare_digest`` + ``json.loads``); and
``structure_object(json.loads(body), Session)`` against ``json.loads`` alone on the ~580-byte
session body the HTTP benchmarks use.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import sys
from functools import partial
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _harness import (
    Config,
    Section,
    Table,
    Target,
    interleaved,
    median_of,
    median_ratio,
    num,
    per_second,
    ratio,
    timed,
    us_per_call,
)
from _server import BPC_BODY, BPC_RAW

import bpcpay
from bpcpay._core._converter import structure_object
from bpcpay.webhooks import construct_event, sign, verify_signature

SECRET = "whsec_bench_not_real"  # noqa: S105 - a made-up secret for a local benchmark
EVENT_BYTES = 1024


def signed_event(size: int = EVENT_BYTES) -> tuple[bytes, dict[str, str]]:
    """A signed ``session.completed`` delivery of exactly ``size`` bytes, and its headers."""
    obj: dict[str, Any] = {
        **BPC_BODY,
        "status": "complete",
        "paymentStatus": "paid",
        "payment": "pay_7Ua2v4nWcJx9kQm3ZrT8bLd5sYe6fGh1",
        "metadata": {"order": "4000", "note": ""},
    }
    payload = {
        "created": "2024-03-28T08:31:02Z",
        "type": "session.completed",
        "data": {"object": obj},
    }

    def encode() -> bytes:
        return json.dumps(payload, separators=(",", ":")).encode()

    # Pad a metadata value so the body is exactly `size` bytes: the issue asks for a 1 KB event.
    obj["metadata"]["note"] = "x" * max(0, size - len(encode()))
    body = encode()
    headers = {
        "Content-Type": "application/json",
        "X-Signature": sign(body, SECRET),
        "X-Version": bpcpay.DEFAULT_API_VERSION,
        "API-Request-Id": "req_0f8c2d4e6a7b4c1d9e3f5a6b7c8d9e0f",
    }
    return body, headers


def run(cfg: Config) -> list[Section]:
    body, headers = signed_event()
    signature = headers["X-Signature"]
    key = SECRET.encode()

    def bare() -> object:
        expected = hmac.new(key, body, hashlib.sha256).hexdigest()
        if not hmac.compare_digest(expected, signature):
            raise ValueError("mismatch")
        return json.loads(body)

    def verify_then_loads() -> object:
        verify_signature(body, signature=signature, secret=SECRET)
        return json.loads(body)

    event = construct_event(body, headers, secret=SECRET)
    assert event.type == "session.completed"
    assert isinstance(event.data.object, bpcpay.Session)
    assert event.data.object.status == "complete"

    n = cfg.pure_iterations
    section = Section("d", "Webhook verification and model parsing (no network)")
    hooks = interleaved(
        {
            "construct_event": partial(
                timed, partial(construct_event, body, headers, secret=SECRET)
            ),
            "verify_signature + json.loads": partial(timed, verify_then_loads),
            "bare hmac + compare_digest + json.loads": partial(timed, bare),
        },
        cfg.repeats,
        n,
        cfg.seq_rounds,
    )
    base = "bare hmac + compare_digest + json.loads"
    table = Table(
        f"d1. a signed {len(body)}-byte session.completed event",
        ["how", "events/s", "µs/event", f"time vs {base.split(' +')[0]}"],
    )
    for name, runs in hooks.items():
        table.add(
            name,
            num(median_of(runs, per_second)),
            num(median_of(runs, us_per_call), 1),
            ratio(median_ratio(runs, hooks[base], us_per_call)),
        )
    table.note = f"{n} events per repetition, in {cfg.seq_rounds} turns."
    section.tables.append(table)

    parse = interleaved(
        {
            "structure_object(json.loads(body), Session)": partial(
                timed, lambda: structure_object(json.loads(BPC_RAW), bpcpay.Session)
            ),
            "json.loads(body)": partial(timed, partial(json.loads, BPC_RAW)),
        },
        cfg.repeats,
        n,
        cfg.seq_rounds,
    )
    table = Table(
        f"d2. parsing the {len(BPC_RAW)}-byte session body",
        ["how", "parses/s", "µs/parse", "time vs json.loads"],
    )
    for name, runs in parse.items():
        table.add(
            name,
            num(median_of(runs, per_second)),
            num(median_of(runs, us_per_call), 1),
            ratio(median_ratio(runs, parse["json.loads(body)"], us_per_call)),
        )
    table.note = f"{n} parses per repetition, in {cfg.seq_rounds} turns."
    section.tables.append(table)

    rate = median_of(hooks["construct_event"], per_second)
    vs_bare = median_ratio(hooks["construct_event"], hooks[base], us_per_call)
    section.targets += [
        Target("construct_event ≥ 40,000 events/s", f"{rate:,.0f}/s", rate >= 40_000),
        Target("construct_event within 2x of hmac + json.loads", ratio(vs_bare), vs_bare <= 2.0),
    ]
    return [section]


if __name__ == "__main__":
    from run import standalone

    standalone(run, server=False)
