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
from collections.abc import Callable
from functools import partial
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _clients import decoder, json_decoders
from _harness import (
    Config,
    Run,
    Sample,
    Section,
    Table,
    Target,
    interleaved,
    per_second,
    ratio_spread,
    spread,
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


def _with(json_decoder: str, fn: Callable[[], object]) -> Run:
    def run(seconds: float) -> Sample:
        with decoder(json_decoder):
            return timed(fn, seconds, batch=20)

    return run


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

    section = Section("d", "Webhook verification and model parsing (no network)")
    base = "bare hmac + compare_digest + json.loads"
    construct = partial(construct_event, body, headers, secret=SECRET)
    runs: dict[str, Run] = {}
    for name in json_decoders():
        label = "construct_event" + ("" if name == "json" else f" ({name})")
        runs[label] = _with(name, construct)
    runs["verify_signature + json.loads"] = _with("json", verify_then_loads)
    runs[base] = _with("json", bare)
    hooks = interleaved(runs, cfg.repeats, cfg.turn)
    table = Table(
        f"d1. a signed {len(body)}-byte session.completed event",
        ["how", "events/s", "µs/event", f"time vs {base.split(' +')[0]}"],
    )
    for name, samples in hooks.items():
        table.add(
            name,
            spread(samples, per_second).fmt(),
            spread(samples, us_per_call).fmt(1),
            ratio_spread(samples, hooks[base], us_per_call).fmt(2, "x"),
        )
    table.note = f"Medians of {cfg.repeats} interleaved {cfg.turn:g} s turns, range in parentheses."
    section.tables.append(table)

    parse_runs: dict[str, Run] = {}
    for name in json_decoders():
        label = "structure_object(loads(body), Session)" + ("" if name == "json" else f", {name}")
        loads = json.loads if name == "json" else _orjson_loads()
        parse_runs[label] = _with(
            name, partial(lambda f: structure_object(f(BPC_RAW), bpcpay.Session), loads)
        )
    parse_runs["json.loads(body)"] = _with("json", partial(json.loads, BPC_RAW))
    parse = interleaved(parse_runs, cfg.repeats, cfg.turn)
    table = Table(
        f"d2. parsing the {len(BPC_RAW)}-byte session body",
        ["how", "parses/s", "µs/parse", "time vs json.loads"],
    )
    for name, samples in parse.items():
        table.add(
            name,
            spread(samples, per_second).fmt(),
            spread(samples, us_per_call).fmt(1),
            ratio_spread(samples, parse["json.loads(body)"], us_per_call).fmt(2, "x"),
        )
    table.note = f"Medians of {cfg.repeats} interleaved {cfg.turn:g} s turns, range in parentheses."
    section.tables.append(table)

    fastest = "construct_event" + ("" if len(json_decoders()) == 1 else " (orjson)")
    vs_bare = ratio_spread(hooks[fastest], hooks[base], us_per_call)
    section.targets.append(
        Target.at_most(
            f"construct_event{' with speedups' if fastest != 'construct_event' else ''} ≤ 2.0x "
            "bare hmac + json.loads",
            vs_bare,
            2.0,
            vs_bare.fmt(2, "x"),
        )
    )
    return [section]


def _orjson_loads() -> Callable[[bytes], object]:
    import orjson

    loads: Callable[[bytes], object] = orjson.loads
    return loads


if __name__ == "__main__":
    from run import standalone

    standalone(run, server=False)
