"""Ids are sent as encoded: no id can add, remove or climb a path segment, on the wire.

A shop passes the success page's ``?sessionId=`` to ``sessions.retrieve``, so ids come from
customers. The hostile gateway records each request line exactly as it arrived; every id
must arrive as one segment that decodes back to the id, whatever it holds (``..;``, ``../``,
``%2e%2e``, ``;params``, ``/``, ``?``, ``#``, spaces, non-ASCII). The ``request()`` escape
hatch takes a path, not an id: it is encoded too, and dot segments in it are refused.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from typing import Any
from urllib.parse import quote, unquote

import pytest
from _hostile_server import HostileGateway
from hypothesis import given
from hypothesis import strategies as st
from yarl import URL

import bpcpay
from bpcpay import AsyncBpcPay, BpcPay
from bpcpay._core import _endpoints as ep
from bpcpay._core._requests import encode_path

API_KEY = "sk_test_wire_not_real"
KINDS = ["async", "sync"]
TRICKY_IDS = [
    "..;jsessionid=1",
    "../payments/pay_1",
    "..%2F",
    "%2e%2e",
    "%2E%2E/capture",
    ".;",
    "...",
    "a;b=c",
    "a/b",
    "a?b=1",
    "a#b",
    "a b",
    "é☃",
    "a%",
    "%",
    "%%32%65",
    "~user",
    "ps_plain_123",
]


@pytest.fixture(scope="module")
def hostile() -> Iterator[HostileGateway]:
    with HostileGateway() as gw:
        yield gw


def send(kind: str, base_url: str, calls: list[tuple[str, Any]]) -> list[BaseException | None]:
    """Run each ``(kind of call, argument)`` with one client; the error of each, or None."""

    def one(client: Any, what: str, arg: Any) -> Any:
        if what == "retrieve":
            return client.sessions.retrieve(arg)
        if what == "capture":
            return client.payments.capture(arg)
        return client.request("GET", arg)

    outcomes: list[BaseException | None] = []
    if kind == "async":

        async def main() -> None:
            async with AsyncBpcPay(api_key=API_KEY, base_url=base_url, max_retries=0) as c:
                for what, arg in calls:
                    try:
                        await one(c, what, arg)
                        outcomes.append(None)
                    except bpcpay.BpcPayError as exc:
                        outcomes.append(exc)

        asyncio.run(main())
    else:
        with BpcPay(api_key=API_KEY, base_url=base_url, max_retries=0) as c:
            for what, arg in calls:
                try:
                    one(c, what, arg)
                    outcomes.append(None)
                except bpcpay.BpcPayError as exc:
                    outcomes.append(exc)
    return outcomes


@pytest.mark.parametrize("kind", KINDS)
def test_every_id_arrives_as_exactly_one_segment(hostile: HostileGateway, kind: str) -> None:
    start = len(hostile.received)
    calls = [("retrieve", i) for i in TRICKY_IDS] + [("capture", i) for i in TRICKY_IDS]
    assert send(kind, hostile.url("ok"), calls) == [None] * len(calls)
    targets = [r.target for r in hostile.received[start:]]
    assert len(targets) == len(calls)
    for (what, sent_id), target in zip(calls, targets, strict=True):
        segments = target.split("/")
        if what == "retrieve":
            assert segments[:4] == ["", "ok", "api2", "sessions"] and len(segments) == 5, target
        else:
            assert segments[:4] == ["", "ok", "api2", "payments"], target
            assert segments[5:] == ["capture"] and len(segments) == 6, target
        assert "?" not in target and "#" not in target and ";" not in target
        assert unquote(segments[4]) == sent_id
        assert segments[4] == quote(sent_id, safe="")


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("dots", [".", ".."])
def test_a_dot_id_is_refused_before_anything_is_sent(
    hostile: HostileGateway, kind: str, dots: str
) -> None:
    start = len(hostile.received)
    (err,) = send(kind, hostile.url("ok"), [("retrieve", dots)])
    assert isinstance(err, bpcpay.InvalidArgumentError) and err.argument == "session_id"
    assert len(hostile.received) == start


@pytest.mark.parametrize("kind", KINDS)
def test_the_escape_hatch_encodes_its_path_and_refuses_dot_segments(
    hostile: HostileGateway, kind: str
) -> None:
    refused = [
        "/sessions/..;jsessionid=1",
        "/sessions/../payments/p",
        "/sessions/%2e%2e",
        "/sessions/%2E./x",
        "/./sessions",
        "/sessions/.;x/y",
    ]
    sent = {
        "/sessions/a b": "/ok/api2/sessions/a%20b",
        "/sessions/é": "/ok/api2/sessions/%C3%A9",
        "/sessions/100%": "/ok/api2/sessions/100%25",
        "/sessions/a%2Fb": "/ok/api2/sessions/a%2Fb",
        "/sessions/a#b": "/ok/api2/sessions/a%23b",
        "/sessions?limit=2&q=a b": "/ok/api2/sessions?limit=2&q=a%20b",
        "/sessions/...": "/ok/api2/sessions/...",
    }
    start = len(hostile.received)
    outcomes = send(kind, hostile.url("ok"), [("request", p) for p in [*refused, *sent]])
    for path, err in zip(refused, outcomes, strict=False):
        assert isinstance(err, bpcpay.InvalidArgumentError), path
        assert err.argument == "path"
    assert outcomes[len(refused) :] == [None] * len(sent)
    assert [r.target for r in hostile.received[start:]] == list(sent.values())


# --- the same property, without a socket, for any text ------------------------------------------

ids = st.text(min_size=1, max_size=40).filter(
    lambda s: s.strip() and s not in (".", "..") and not any(0xD800 <= ord(c) < 0xE000 for c in s)
)


@given(ids)
def test_any_id_renders_to_one_segment_that_yarl_keeps(value: str) -> None:
    path = ep.PAYMENTS_CAPTURE.render(payment_id=value)
    url = URL("https://gateway.test/api2" + path, encoded=True)
    segments = url.raw_path.split("/")
    assert segments[:3] == ["", "api2", "payments"] and segments[4:] == ["capture"]
    assert unquote(segments[3]) == value
    assert url.raw_query_string == "" and url.raw_fragment == ""


@given(st.text(max_size=40).filter(lambda s: not any(0xD800 <= ord(c) < 0xE000 for c in s)))
def test_encode_path_never_leaves_a_dot_segment(tail: str) -> None:
    try:
        encoded = encode_path("/sessions/" + tail)
    except bpcpay.InvalidArgumentError as err:
        refused = err
    else:
        refused = None
    if refused is not None:
        assert refused.argument == "path"
        return
    url = URL("https://gateway.test/api2" + encoded, encoded=True)
    for segment in url.raw_path.split("/"):
        assert unquote(segment.partition(";")[0]) not in (".", "..")
    assert url.raw_fragment == ""
