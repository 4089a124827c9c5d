"""The error tree: shape, messages, and a pickle round trip for every class."""

from __future__ import annotations

import copy
import pickle
from typing import Any

import pytest

import bpcpay
from bpcpay import _exceptions

STATUS_KW: dict[str, Any] = {
    "method": "GET",
    "path": "/sessions/ps_1",
    "status_code": 404,
    "body": b'{"error": {"message": "no such session"}}',
    "headers": {"api-request-id": "req_1", "retry-after": "3"},
    "request_id": "req_1",
    "code": "resource_missing",
    "error_type": "not_found_error",
    "param": "id",
    "merchant_reference_id": "order-1",
}


def instances() -> list[Exception]:
    status_classes = [
        bpcpay.APIStatusError,
        bpcpay.InvalidRequestError,
        bpcpay.AuthenticationError,
        bpcpay.PermissionDeniedError,
        bpcpay.NotFoundError,
        bpcpay.ConflictError,
        bpcpay.RateLimitError,
        bpcpay.InternalServerError,
    ]
    return [
        bpcpay.BpcPayError("root"),
        bpcpay.InvalidArgumentError("amount", "must be positive, got 0"),
        bpcpay.SignatureVerificationError("no header", reason="missing_header"),
        bpcpay.ClientClosedError("closed"),
        bpcpay.SyncClientInAsyncContextError("use AsyncBpcPay"),
        bpcpay.APIError("boom", method="GET", path="/x", request_id="req_2"),
        bpcpay.APIConnectionError(
            "refused",
            method="POST",
            path="/payments",
            request_sent=False,
            merchant_reference_id="order-2",
        ),
        bpcpay.APITimeoutError(
            "no answer",
            method="POST",
            path="/refunds",
            phase="read",
            merchant_reference_id="order-3",
        ),
        bpcpay.APIResponseValidationError(
            "not JSON", method="GET", path="/x", status_code=200, body=b"<", request_id="req_3"
        ),
        bpcpay.DeliveryStoreError(
            "RedisDeliveryStore failed: ConnectionError: refused",
            store_error="ConnectionError",
            store_message="refused",
        ),
        bpcpay.ResponseTooLargeError(
            "too large",
            method="POST",
            path="/sessions",
            limit=1024,
            status_code=200,
            declared=10**10,
            request_id="req_4",
            merchant_reference_id="order-4",
        ),
        *(cls("no such session", **STATUS_KW) for cls in status_classes),
    ]


def test_every_public_error_is_covered_by_the_pickle_test() -> None:
    covered = {type(e) for e in instances()}
    public = {getattr(_exceptions, name) for name in _exceptions.__all__}
    assert covered == public


@pytest.mark.parametrize("err", instances(), ids=lambda e: type(e).__name__)
def test_errors_pickle_with_their_attributes(err: Exception) -> None:
    for protocol in range(pickle.HIGHEST_PROTOCOL + 1):
        again = pickle.loads(pickle.dumps(err, protocol=protocol))
        assert type(again) is type(err)
        assert again.args == err.args
        assert vars(again) == vars(err)
        assert str(again) == str(err)
    clone = copy.copy(err)
    assert vars(clone) == vars(err)


def test_tree() -> None:
    assert issubclass(bpcpay.InvalidArgumentError, ValueError)
    assert issubclass(bpcpay.SignatureVerificationError, ValueError)
    assert issubclass(bpcpay.ClientClosedError, RuntimeError)
    assert issubclass(bpcpay.SyncClientInAsyncContextError, RuntimeError)
    assert issubclass(bpcpay.APITimeoutError, bpcpay.APIConnectionError)
    assert issubclass(bpcpay.APIConnectionError, bpcpay.APIError)
    assert issubclass(bpcpay.APIResponseValidationError, bpcpay.APIError)
    assert issubclass(bpcpay.ResponseTooLargeError, bpcpay.APIError)
    assert not issubclass(bpcpay.ResponseTooLargeError, bpcpay.APIConnectionError)
    for cls in (
        bpcpay.InvalidRequestError,
        bpcpay.AuthenticationError,
        bpcpay.PermissionDeniedError,
        bpcpay.NotFoundError,
        bpcpay.ConflictError,
        bpcpay.RateLimitError,
        bpcpay.InternalServerError,
    ):
        assert issubclass(cls, bpcpay.APIStatusError)
    for name in _exceptions.__all__:
        assert issubclass(getattr(_exceptions, name), bpcpay.BpcPayError)
        assert getattr(bpcpay, name) is getattr(_exceptions, name)


def test_messages() -> None:
    arg = bpcpay.InvalidArgumentError("currency", "must be three letters")
    assert str(arg) == "currency: must be three letters"
    assert (arg.argument, arg.problem) == ("currency", "must be three letters")
    api = bpcpay.APIError("boom", method="GET", path="/x")
    assert str(api) == "boom (GET /x)"
    assert str(bpcpay.APIError("boom", method="GET", path="/x", request_id="req_9")) == (
        "boom (GET /x, request_id=req_9)"
    )
    status = bpcpay.NotFoundError("no such session", **STATUS_KW)
    assert str(status) == "no such session (status 404, GET /sessions/ps_1, request_id=req_1)"
    no_id = bpcpay.NotFoundError("gone", **{**STATUS_KW, "request_id": None})
    assert str(no_id) == "gone (status 404, GET /sessions/ps_1)"


def test_status_error_copies_headers() -> None:
    headers = {"api-request-id": "req_1"}
    err = bpcpay.APIStatusError("x", **{**STATUS_KW, "headers": headers})
    headers["api-request-id"] = "changed"
    assert err.headers == {"api-request-id": "req_1"}


def test_rate_limit_retry_after() -> None:
    assert bpcpay.RateLimitError("slow down", **STATUS_KW).retry_after == "3"
    assert bpcpay.RateLimitError("slow down", **{**STATUS_KW, "headers": {}}).retry_after is None


@pytest.mark.parametrize(
    ("method", "sent", "unknown"),
    [("POST", True, True), ("POST", False, False), ("GET", True, False), ("GET", False, False)],
)
def test_outcome_unknown(method: str, sent: bool, unknown: bool) -> None:
    err = bpcpay.APIConnectionError("x", method=method, path="/x", request_sent=sent)
    assert err.outcome_unknown is unknown


@pytest.mark.parametrize(("phase", "sent"), [("connect", False), ("read", True)])
def test_timeout_phase_decides_request_sent(phase: str, sent: bool) -> None:
    err = bpcpay.APITimeoutError("t", method="POST", path="/payments", phase=phase)
    assert err.phase == phase
    assert err.request_sent is sent
    assert err.outcome_unknown is sent


def test_public_classes_report_the_public_module() -> None:
    """Tracebacks and reprs show ``bpcpay.InvalidArgumentError``, the name users import."""
    import traceback

    for name in [*_exceptions.__all__, "Timeout", "RequestAttempt", "NotGiven"]:
        cls = getattr(bpcpay, name)
        assert cls.__module__ == "bpcpay", name
        assert getattr(bpcpay, cls.__qualname__) is cls
    try:
        raise bpcpay.InvalidArgumentError("amount", "must be positive, got 0")
    except bpcpay.InvalidArgumentError as exc:
        shown = "".join(traceback.format_exception(exc))
    assert shown.splitlines()[-1] == "bpcpay.InvalidArgumentError: amount: must be positive, got 0"
    assert "_exceptions" not in shown.splitlines()[-1]


def test_the_library_logger_has_a_null_handler() -> None:
    import logging

    handlers = logging.getLogger("bpcpay").handlers
    assert any(isinstance(h, logging.NullHandler) for h in handlers)
