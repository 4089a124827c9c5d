"""The sandbox's limits: every free-form field of a body, the fields it does not know, and its
whole state (open sessions included), measured in memory."""

from __future__ import annotations

import gc
import tracemalloc
from datetime import timedelta
from typing import Any

import aiohttp
import pytest

from bpcpay.sandbox import ManualClock, SandboxGateway

SUCCESS_URL = "https://shop.example/success"
FAILURE_URL = "https://shop.example/failure"

BIG = "x" * 100_000
#: A value past its field's limit, on the wire, per wire path of each declared body; the
#: body around it is otherwise valid.
OVERSIZED: list[tuple[str, dict[str, Any], str]] = [
    ("/sessions", {"successUrl": "https://shop.example/" + BIG}, "successUrl"),
    ("/sessions", {"merchantReferenceId": BIG}, "merchantReferenceId"),
    ("/sessions", {"locale": "en-" + "x" * 40}, "locale"),
    ("/sessions", {"metadata": {"note": "v" * 501}}, "metadata"),
    ("/sessions", {"metadata": {f"k{i}": "v" for i in range(51)}}, "metadata"),
    ("/sessions", {"metadata": {f"k{i:02d}": "v" * 400 for i in range(50)}}, "metadata"),
    ("/sessions", {"customerDetails": {"notes": BIG}}, "customerDetails"),
    ("/sessions", {"customerDetails": {"name": "x" * 1025}}, "customerDetails.name"),
    ("/sessions", {"merchantCustomerId": BIG}, "merchantCustomerId"),
    (
        "/sessions",
        {
            "setupFutureUsage": {
                "category": "installment",
                "recurringModel": {"installment": {"plan": BIG}},
            }
        },
        "setupFutureUsage",
    ),
    ("/payments", {"storedPaymentMethodId": BIG}, "storedPaymentMethodId"),
    ("/refunds", {"payment": BIG}, "payment"),
    ("/refunds", {"payment": "pay_x", "reason": BIG}, "reason"),
]
VALID = {
    "/sessions": {
        "amount": 10000,
        "currency": "EUR",
        "successUrl": SUCCESS_URL,
        "failureUrl": FAILURE_URL,
    },
    "/payments": {"amount": 100, "currency": "EUR", "storedPaymentMethodId": "pm_x"},
    "/refunds": {"payment": "pay_x"},
}


@pytest.mark.asyncio
@pytest.mark.parametrize(("path", "change", "param"), OVERSIZED)
async def test_an_oversized_field_is_400_naming_it(
    api: Any, path: str, change: dict[str, Any], param: str
) -> None:
    """metadata: at most 50 keys, values of at most 500 characters, 16 KiB in all (Stripe's
    limits, BPC publishes none [inferred]); every other free-form field has its limit too."""
    answer = await api.call("POST", path, json_body={**VALID[path], **change})
    assert answer.status == 400, answer.text
    assert answer.error["param"] == param
    assert BIG not in answer.text


@pytest.mark.asyncio
async def test_fields_the_gateway_does_not_know_are_bounded(api: Any) -> None:
    """Unknown fields are returned as sent, up to 16 KiB of JSON in all; past that the largest
    is named."""
    kept = await api.create_session(brandNew={"a": "x" * 10_000})
    assert kept["brandNew"] == {"a": "x" * 10_000}
    body = {**VALID["/sessions"], "small": "x" * 7_000, "large": "y" * 10_000}
    answer = await api.call("POST", "/sessions", json_body=body)
    assert answer.status == 400
    assert answer.error["param"] == "large"
    assert answer.error["code"] == "parameter_too_large"


NEAR_LIMIT_METADATA = {f"key-{i:02d}": chr(65 + i % 26) * 300 for i in range(50)}


async def _create(http: aiohttp.ClientSession, gw: SandboxGateway, **fields: Any) -> Any:
    body = {**VALID["/sessions"], "metadata": NEAR_LIMIT_METADATA, **fields}
    async with http.post(
        gw.base_url + "/sessions", json=body, headers={"X-Api-Key": gw.api_key}
    ) as response:
        return response.status, await response.json()


@pytest.mark.asyncio
async def test_the_whole_state_is_bounded_counting_open_sessions(
    clock: ManualClock, http: aiohttp.ClientSession
) -> None:
    """With a limit of 1 MiB, near-limit sessions fill it; the next one is refused 503 while
    all are open (never a session dropped while it can still be paid); once they expire, the
    oldest finished are dropped first and new sessions fit again."""
    async with SandboxGateway(clock=clock, state_limit_bytes=1024 * 1024) as gw:
        created = []
        while True:
            status, body = await _create(http, gw)
            if status != 200:
                break
            created.append(body["id"])
            assert len(created) < 200, "the limit never refused a session"
        assert status == 503
        assert body["error"]["code"] == "state_full"
        assert "state_limit_bytes" in body["error"]["message"]
        assert 40 <= len(created) <= 70
        assert all(session_id in gw.state.sessions for session_id in created)

        gw.advance_clock(timedelta(minutes=21))  # they all expire: finished
        status, body = await _create(http, gw)
        assert status == 200
        # The oldest finished went first: what is left of them is the newest ones.
        kept = [session_id for session_id in created if session_id in gw.state.sessions]
        assert created[0] not in kept
        assert kept == created[len(created) - len(kept) :]
        assert body["id"] in gw.state.sessions
        assert gw.state_bytes <= 1024 * 1024


@pytest.mark.asyncio
async def test_400_near_limit_sessions_stay_within_a_memory_bound(
    http: aiohttp.ClientSession,
) -> None:
    """The measure of issue 19 (400 sessions of 0.87 MB took RSS from 41 to 615 MiB), with
    the largest metadata allowed now: the gateway's retained memory grows by a few MiB; and a
    gateway limited to 2 MiB stays within a small multiple of it however many come."""
    for limit, sessions, bound in ((None, 400, 24), (2 * 1024 * 1024, 400, 8)):
        options = {} if limit is None else {"state_limit_bytes": limit}
        async with SandboxGateway(**options) as gw:
            status, _ = await _create(http, gw)  # warm: routes, caches, the first connection
            gc.collect()
            tracemalloc.start()
            try:
                before = tracemalloc.get_traced_memory()[0]
                for _ in range(sessions):
                    status, _ = await _create(http, gw, customerDetails={"notes": "n" * 7000})
                    assert status in (200, 503)
                    if status == 503:
                        gw.advance_clock(timedelta(minutes=21))
                gc.collect()
                grown = (tracemalloc.get_traced_memory()[0] - before) / 2**20
            finally:
                tracemalloc.stop()
            assert grown < bound, f"{sessions} sessions grew the gateway by {grown:.1f} MiB"
            if limit is not None:
                assert gw.state_bytes <= limit
