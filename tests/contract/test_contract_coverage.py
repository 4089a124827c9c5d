"""The contract, checked fact by fact: every ``[doc: page]`` of ``bpc-api-v2.md`` (the copy beside
this file) is covered by tests whose docstrings name its pages, and every ``[inferred]`` item is
listed in ``docs/inferred.md`` at one place in the code that exists.

``FACTS`` and ``INFERRED`` are the machine-checkable lists. Each entry quotes the contract
(whitespace-insensitive, the tag included) so a fact is found by its words, not a line number.
When the contract changes, copy the new one over ``bpc-api-v2.md``: these tests then name the
fact that lost its test or its place.
"""

from __future__ import annotations

import ast
import re
from functools import cache
from pathlib import Path

import pytest

from bpcpay._core._bodies import (
    CAPTURE_FIELDS,
    PAYMENT_CREATE_FIELDS,
    REFUND_CREATE_FIELDS,
    SESSION_CREATE_FIELDS,
)
from bpcpay._core._endpoints import ENDPOINTS

HERE = Path(__file__).resolve().parent
TESTS = HERE.parent
ROOT = TESTS.parent
CONTRACT = HERE / "bpc-api-v2.md"
INFERRED_DOC = ROOT / "docs" / "inferred.md"
DOC_TAG = re.compile(r"\[doc:\s*([^\]]+)\]")
INFERRED_TAG = re.compile(r"\[inferred[^\]]*\]")

W = "tests/contract/test_contract_wire.py::"
M = "tests/contract/test_contract_models.py::"
R = "tests/test_requests.py::"
API = "tests/sandbox/test_sandbox_api.py::"
SC = "tests/sandbox/test_sandbox_contract.py::"
LC = "tests/sandbox/test_sandbox_lifecycle.py::"
PG = "tests/sandbox/test_sandbox_page.py::"
WH = "tests/sandbox/test_sandbox_webhooks.py::"
TK = "tests/sandbox/test_sandbox_tokens.py::"

#: Every published fact of the contract (a quote holding its [doc] tags) and the tests covering it.
FACTS: dict[str, tuple[str, ...]] = {
    "Sandbox base URL `https://dev.bpcbt.com/api2` [doc: redirect-integration, "
    "direct-integration]": (W + "test_the_default_base_url_is_bpcs_sandbox",),
    "rotate: add new, switch, delete old [doc: api-keys]": (
        W + "test_each_client_sends_its_own_key",
        API + "test_missing_key_is_an_invalid_request",
        API + "test_wrong_key_is_401_and_never_echoed",
    ),
    "JSON bodies with `Content-Type: application/json` [doc: redirect-integration]": (
        W + "test_the_seed_request_goes_out_as_published",
    ),
    "sends no body and no Content-Type [doc: cancel-refund]": (
        W + "test_expire_sends_no_body_and_no_content_type",
        W + "test_the_sync_client_expires_a_session",
        W + "test_cancel_and_a_full_capture_send_no_body",
    ),
    "on deliveries [doc: webhooks]": (WH + "test_deliveries_are_signed_and_parse_with_the_sdk",),
    "every response carries `X-Version` [doc: api-versions]": (
        W + "test_the_version_is_a_header_not_part_of_the_url",
        API + "test_version_is_echoed_or_defaulted",
        API + "test_an_unknown_version_is_a_clear_invalid_request",
    ),
    "(create session [doc: redirect-integration], expire session [doc: cancel-refund])": (
        M + "test_the_sdk_pins_the_published_request_version",
        SC + "test_the_seed_request_gets_the_seed_response_shape",
    ),
    "`2023-11-15` is the webhook `X-Version` example [doc: webhooks] and the response-header "
    "format example [doc: api-versions]": (
        M + "test_no_response_or_delivery_is_refused_for_its_version",
        API + "test_version_is_echoed_or_defaulted",
    ),
    "reshape opaque strings such as ids [doc: api-versions]": (
        M + "test_new_fields_reordered_fields_and_odd_ids_parse",
        W + "test_extra_body_reaches_the_wire",
    ),
    "| create session | `POST /sessions` | Session create | [doc: redirect-integration]": (
        W + "test_every_endpoint_path",
        R + "test_endpoint_table_matches_the_contract",
    ),
    "| retrieve session | `GET /sessions/{id}` | none | [doc: api-keys, api-versions]": (
        W + "test_every_endpoint_path",
    ),
    "| expire an `open` session | `POST /sessions/{id}/expire` | none | [doc: cancel-refund]": (
        W + "test_expire_sends_no_body_and_no_content_type",
        SC + "test_expire_an_open_session",
        SC + "test_expire_refuses_a_session_that_is_not_open",
        SC + "test_the_sdk_expires_and_sees_the_conflict",
        "tests/test_cli_api.py::test_sessions_expire",
    ),
    "| create payment (direct) | `POST /payments` | Payment create | [doc: direct-integration]": (
        W + "test_every_endpoint_path",
    ),
    "| retrieve payment | `GET /payments/{id}` | none | [doc: direct-integration]": (
        W + "test_every_endpoint_path",
    ),
    '`{"amount"?: int}` | path [doc: two-step]': (
        W + "test_cancel_and_a_full_capture_send_no_body",
        R + "test_endpoint_table_matches_the_contract",
        LC + "test_full_capture",
    ),
    "| none | operation [doc: cancel-refund]": (
        W + "test_cancel_and_a_full_capture_send_no_body",
        LC + "test_cancel_voids_an_uncaptured_payment",
    ),
    "refunds exist [doc: cancel-refund, webhooks]": (W + "test_every_endpoint_path",),
    "| `amount` | int, minor units ($100.00 = `10000` with `USD`) | required | "
    "[doc: redirect-integration]": (W + "test_the_seed_request_goes_out_as_published",),
    "| `currency` | ISO 4217 code | required | [doc: redirect-integration]": (
        W + "test_the_seed_request_goes_out_as_published",
    ),
    "| `successUrl`, `failureUrl` | URL | required | [doc: redirect-integration]": (
        W + "test_the_seed_request_goes_out_as_published",
    ),
    "| `paymentData.captureMethod` | `automatic` (default) \\| `manual` | optional | "
    "[doc: two-step]": (W + "test_session_body_with_every_field_of_the_table",),
    "| `merchantCustomerId`, `setupFutureUsage` | see Stored payment methods | optional | "
    "[doc: stored-payment-methods]": (W + "test_session_body_with_every_field_of_the_table",),
    "| as in responses | optional | returned [doc: redirect-integration]": (
        W + "test_session_body_with_every_field_of_the_table",
    ),
    "`line1`, `line2`, `postalCode` [doc: direct-integration]": (
        W + "test_direct_payment_body_as_published",
        W + "test_a_plain_dict_is_wire_form_and_sent_as_given",
        LC + "test_direct_payment_validation",
    ),
    "**top level** (Contradictions 7) [doc: two-step, direct-integration]": (
        W + "test_direct_payment_body_as_published",
    ),
    "- `merchantCustomerId`, `setupFutureUsage` [doc: stored-payment-methods]": (
        W + "test_a_plain_dict_is_wire_form_and_sent_as_given",
        W + "test_a_stored_card_is_charged_by_its_id",
    ),
    "### Stored payment methods (on `/sessions` and `/payments`) [doc: stored-payment-methods]": (
        R + "test_setup_future_usage_accepts_the_published_nesting",
        R + "test_setup_future_usage_refusals_name_the_nested_field",
        LC + "test_direct_payment_validation",
        LC + "test_a_card_is_stored_only_when_asked_and_then_reused",
    ),
    "plus `paymentUrl` [doc: redirect-integration, cancel-refund]": (
        M + "test_the_seed_response_parses_field_by_field",
        M + "test_the_published_expire_response_parses_field_by_field",
    ),
    "The create response returns `id`, `paymentUrl` and the other fields sent "
    "[doc: redirect-integration]": (
        SC + "test_every_field_sent_comes_back_unknown_ones_too",
        SC + "test_the_seed_request_gets_the_seed_response_shape",
        LC + "test_unknown_payment_fields_come_back_as_sent",
    ),
    '`merchantReferenceId: "4000"` (never sent: Contradictions 4) [doc: redirect-integration]': (
        SC + "test_the_seed_request_gets_the_seed_response_shape",
        M + "test_the_seed_response_parses_field_by_field",
    ),
    'has `locale: "en"` [doc: webhooks]': (M + "test_the_webhook_example_with_its_own_spellings",),
    "- `status`: `open` [doc: redirect-integration], `expired` [doc: cancel-refund], completed "
    "state [inferred; `complete`]. `paymentStatus`: `unpaid` [doc: redirect-integration]": (
        M + "test_the_seed_response_parses_field_by_field",
        M + "test_the_published_expire_response_parses_field_by_field",
    ),
    "has no `paymentUrl` [doc: cancel-refund]": (
        M + "test_the_published_expire_response_parses_field_by_field",
        SC + "test_expire_an_open_session",
    ),
    "waits for the signed `session.completed` [doc: redirect-integration]": (
        PG + "test_cards_that_pay_without_a_challenge",
    ),
    "Expire response, as published [doc: cancel-refund]": (
        M + "test_the_published_expire_response_parses_field_by_field",
        SC + "test_expire_an_open_session",
    ),
    "`amountCapturable` (still capturable) [doc: two-step]": (
        M + "test_payment_fields_of_two_step",
        LC + "test_direct_manual_payment_then_capture",
    ),
    "| `requiresPaymentMethod` | no usable payment method yet; cancellable | "
    "[doc: cancel-refund]": (
        M + "test_payment_statuses",
        PG + "test_declined_card_redirects_to_failure_and_stays_open",
        PG + "test_a_payment_waiting_for_a_card_can_be_cancelled",
    ),
    "| `requiresAction` | 3-D Secure in progress; cancellable | [doc: two-step, cancel-refund]": (
        M + "test_payment_statuses",
        LC + "test_direct_challenge_needs_action",
        LC + "test_direct_challenge_can_be_canceled",
    ),
    "| `requiresCapture` | two-step hold placed; cancellable | [doc: two-step, cancel-refund]": (
        M + "test_payment_statuses",
        LC + "test_cancel_voids_an_uncaptured_payment",
    ),
    "| `succeeded` | paid | [doc: direct-integration]": (M + "test_payment_statuses",),
    "→ `requiresCapture` → capture → `succeeded` [doc: two-step, webhooks]": (
        LC + "test_full_capture",
        LC + "test_direct_challenge_needs_action",
    ),
    "after capture only a refund [doc: cancel-refund]": (
        LC + "test_cancel_of_a_succeeded_payment_is_409",
    ),
    'A "Partial and Multiple captures" section exists [doc: two-step]': (
        LC + "test_partial_and_multiple_captures",
    ),
    "Both exist and appear in webhooks [doc: webhooks]": (
        M + "test_every_event_type_of_the_flow_table",
    ),
    "to `merchantCustomerId` [doc: stored-payment-methods], reused as `storedPaymentMethodId` "
    "[doc: direct-integration]": (LC + "test_a_card_is_stored_only_when_asked_and_then_reused",),
    "`X-Version`, `X-Signature`, `API-Request-Id` [doc: webhooks]. The store answers HTTP 200 "
    "[doc: direct-integration diagram]": (
        WH + "test_deliveries_are_signed_and_parse_with_the_sdk",
        WH + "test_failed_attempts_are_retried_with_the_same_id",
    ),
    "(snapshot of a Session, Payment, PaymentMethod or Refund) [doc: webhooks]": (
        WH + "test_deliveries_are_signed_and_parse_with_the_sdk",
    ),
    "One API call may yield several events [doc: webhooks]": (
        WH + "test_deliveries_are_signed_and_parse_with_the_sdk",
        LC + "test_full_capture",
    ),
    "| `session.completed` | hosted-page payment done | [doc: redirect-integration]": (
        PG + "test_cards_that_pay_without_a_challenge",
    ),
    "| `session.expired` | timeout or `POST /sessions/{id}/expire` | "
    "[doc: redirect-integration, cancel-refund]": (
        SC + "test_expire_an_open_session",
        SC + "test_a_timed_out_session_expires_with_one_event",
    ),
    "| `payment.created` | created (before the `/payments` response) | [doc: direct-integration]": (
        LC + "test_direct_payment_succeeds",
    ),
    "| `payment.succeeded` | one-step success; also on capture | "
    "[doc: direct-integration, webhooks]": (
        LC + "test_direct_payment_succeeds",
        LC + "test_full_capture",
    ),
    "| `payment.failed` | an attempt failed (decline, wrong CVC) | [doc: direct-integration]": (
        LC + "test_direct_payment_declines",
        PG + "test_declined_card_redirects_to_failure_and_stays_open",
    ),
    "| `payment.canceled` | payment cancelled | [doc: direct-integration]": (
        LC + "test_cancel_voids_an_uncaptured_payment",
    ),
    "| `payment.amountCapturableUpdated` | two-step funds held (`requiresCapture`) | "
    "[doc: direct-integration]": (LC + "test_direct_manual_payment_then_capture",),
    "| `payment.funded` | two-step funds captured | [doc: direct-integration, webhooks]": (
        LC + "test_full_capture",
        LC + "test_direct_manual_payment_then_capture",
    ),
    "Published [doc: webhooks, redirect-integration]": (
        WH + "test_deliveries_are_signed_and_parse_with_the_sdk",
        WH + "test_a_wrong_secret_does_not_verify",
    ),
    'Only "invalid request" and "authentication" errors are named [doc: api-keys]': (
        API + "test_missing_key_is_an_invalid_request",
        API + "test_wrong_key_is_401_and_never_echoed",
    ),
    "## Sandbox test cards [doc: test-cards]": (SC + "test_the_test_card_table",),
    "`paymentMethod.card {number, expiryMonth, expiryYear, cvc}` [doc: sdk_core_apiv2, which "
    "names exactly these four]": (
        R + "test_a_token_with_card_data_is_refused_before_sending",
        W + "test_direct_payment_body_as_published",
    ),
    "**Card token from BPC's mobile SDK** [doc: sdk_core_apiv2, "
    "`https://dev.bpcbt.com/en/integration/apiv2/sdk/sdk_core_apiv2.html`]": (
        R + "test_a_card_token_is_sent_as_paymentmethod_card_token_only",
        R + "test_a_token_with_card_data_is_refused_before_sending",
        TK + "test_a_token_pays_with_its_cards_behaviour",
        TK + "test_a_token_with_card_data_is_400_naming_the_member",
        "tests/test_resources.py::test_payments_create_with_a_card_token",
    ),
    '**Mobile "SDK Payment" flow** [doc: sdk_payment-apiv2]': (
        TK + "test_the_mobile_sdk_payment_flow",
    ),
}

#: Every inferred item of the contract (a quote holding its [inferred] tag) and the code symbols
#: ``docs/inferred.md`` names for it.
INFERRED: dict[str, tuple[str, ...]] = {
    "production hosts per bank [inferred]": ("DEFAULT_BASE_URL",),
    "on responses [inferred]": ("REQUEST_ID_HEADER",),
    "path [doc: two-step]; body [inferred]": ("CAPTURE_FIELDS",),
    "operation [doc: cancel-refund]; path, body [inferred]": ("PAYMENTS_CANCEL",),
    "refunds exist [doc: cancel-refund, webhooks]; path, body [inferred]": (
        "REFUNDS_CREATE",
        "REFUND_CREATE_FIELDS",
    ),
    "| retrieve refund | `GET /refunds/{id}` | none | [inferred]": ("REFUNDS_RETRIEVE",),
    "| retrieve payment method | `GET /payment-methods/{id}` | none | [inferred]": (
        "PAYMENT_METHODS_RETRIEVE",
    ),
    "sendable [inferred]": ("SESSION_CREATE_FIELDS",),
    "| `expiresAt` | timestamp | optional | [inferred]": ("SESSION_CREATE_FIELDS",),
    "Other `customerDetails` fields [inferred]": ("CustomerDetails",),
    "`holderName` [inferred]": ("CARD_WIRE_NAMES",),
    "stated for v1 direct payments, [inferred]": ("AsyncPayments",),
    "its fields not readable [inferred]": ("check_setup_future_usage",),
    "the SDK sends a string→string map [inferred]": ("check_metadata",),
    "completed state [inferred; `complete`]": ("SessionStatus",),
    "`paid` [inferred]": ("SessionPaymentStatus",),
    "`customerDetails`, `metadata` [inferred]": ("Payment",),
    "[inferred from `payment.canceled`]": ("PaymentStatus",),
    "| `processing`, `failed` | | [inferred]": ("PaymentStatus",),
    "its rules are cut off on the page [inferred]": ("Store.capture",),
    "when the last capture spends it [inferred]": ("Store.capture",),
    "Fields [inferred]": ("Refund", "PaymentMethod"),
    "[inferred: like v1 callbacks, retried until 200]": ("DEFAULT_RETRY_SCHEDULE",),
    "names [inferred]": ("EventType",),
    "(payment.* alongside [inferred])": ("Store.pay_session",),
    "the sandbox redirects to `failureUrl` after a decline [inferred]": ("page_post",),
    "SDK rule [inferred, tolerant but safe]": ("verify_signature",),
    "The sandbox signs lowercase hex, no prefix [inferred]": ("sign",),
    "## Errors [inferred shape]": ("parse_error_body", "ErrorType"),
}

#: Tags of the contract's own legend and preamble, not facts; and its "Found but not built"
#: list, pages read and deliberately not implemented (nothing of them to test).
LEGEND = (
    "- **[doc: page]**",
    "- **[inferred]**",
    "What their later sections say is **[inferred]**",
    "- Recurrent tasks [doc: recurrent-tasks-apiv2]",
    "- Apple Pay [doc: wallets]",
)


def _squash(text: str) -> str:
    return re.sub(r"\s+", " ", text)


@cache
def contract() -> str:
    return _squash(CONTRACT.read_text(encoding="utf-8"))


def _pages(tag_body: str) -> set[str]:
    """``redirect-integration, direct-integration diagram`` -> the two page names. A part that
    is a remark (``which names exactly these four``) or a URL names no page: a page's slug is
    one word, or its first word has a ``-`` or ``_``."""
    pages = set()
    for part in tag_body.split(","):
        words = part.split()
        if words and words[0][0].isalpha() and (len(words) == 1 or set("-_") & set(words[0])):
            pages.add(words[0])
    return pages


def _span(quote: str) -> tuple[int, int]:
    text, wanted = contract(), _squash(quote)
    start = text.find(wanted)
    assert start >= 0, f"not in the contract (any more?): {quote!r}"
    assert text.find(wanted, start + 1) < 0, f"quoted twice in the contract: {quote!r}"
    return start, start + len(wanted)


def _uncovered(tag: re.Pattern[str], quotes: list[str]) -> list[str]:
    text = contract()
    spans = [_span(q) for q in quotes] + [_span(q) for q in LEGEND]
    return [
        text[max(0, m.start() - 60) : m.end()]
        for m in tag.finditer(text)
        if not any(a <= m.start() and m.end() <= b for a, b in spans)
    ]


@cache
def docstrings_of_tests() -> dict[str, str]:
    """``path::function`` -> docstring, for every test function of the suite."""
    found: dict[str, str] = {}
    for path in sorted(TESTS.rglob("test_*.py")):
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for node in tree.body:
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
                key = f"{path.relative_to(ROOT).as_posix()}::{node.name}"
                found[key] = ast.get_docstring(node) or ""
    return found


def test_every_published_fact_is_in_the_list() -> None:
    assert _uncovered(DOC_TAG, list(FACTS)) == []


@pytest.mark.parametrize("quote", list(FACTS))
def test_each_fact_is_covered_by_tests_naming_its_pages(quote: str) -> None:
    """Each listed test exists and names one of the fact's pages; together they name all."""
    pages = set().union(*(_pages(m.group(1)) for m in DOC_TAG.finditer(_squash(quote))))
    docstrings = docstrings_of_tests()
    named: set[str] = set()
    for test in FACTS[quote]:
        assert test in docstrings and "::test_" in test, f"no such test: {test}"
        in_doc = set().union(*(_pages(m.group(1)) for m in DOC_TAG.finditer(docstrings[test])))
        assert in_doc & pages, f"{test} names none of {sorted(pages)} in its docstring"
        named |= in_doc
    assert pages <= named, f"no test names {sorted(pages - named)}"


def test_every_inferred_item_is_in_the_list() -> None:
    assert _uncovered(INFERRED_TAG, list(INFERRED)) == []


def _doc_rows() -> list[tuple[str, str]]:
    """(file, symbol) of every "where in the code" cell of docs/inferred.md."""
    text = INFERRED_DOC.read_text(encoding="utf-8")
    return re.findall(r"\| `(bpcpay/[\w/]+\.py)` `([\w.]+)` \|", text)


def test_every_place_named_in_docs_inferred_exists() -> None:
    rows = _doc_rows()
    assert len(rows) >= 40
    for path, symbol in rows:
        source = (ROOT / path).read_text(encoding="utf-8")
        name = symbol.rsplit(".", 1)[-1]
        defined = rf"^\s*(?:async def |def |class ){name}\b|^\s*{name}\b[^=\n]*="
        assert re.search(defined, source, re.M), f"{symbol} is not defined in {path}"


@pytest.mark.parametrize("quote", list(INFERRED))
def test_each_inferred_item_has_its_place_in_docs_inferred(quote: str) -> None:
    symbols = {symbol for _, symbol in _doc_rows()}
    _span(quote)
    for symbol in INFERRED[quote]:
        assert symbol in symbols, f"docs/inferred.md names no place `{symbol}` for {quote!r}"


def test_inferred_endpoints_and_body_fields_are_in_docs_inferred() -> None:
    """The endpoint and body tables mark their own inferred rows: docs/inferred.md lists them."""
    text = INFERRED_DOC.read_text(encoding="utf-8")
    for name, endpoint in ENDPOINTS.items():
        constant = name.upper().replace(".", "_")
        assert (endpoint.source == "inferred") == (f"`{constant}`" in text), name
    bodies = {
        "SESSION_CREATE_FIELDS": SESSION_CREATE_FIELDS,
        "PAYMENT_CREATE_FIELDS": PAYMENT_CREATE_FIELDS,
        "CAPTURE_FIELDS": CAPTURE_FIELDS,
        "REFUND_CREATE_FIELDS": REFUND_CREATE_FIELDS,
    }
    for constant, fields in bodies.items():
        rows = [line for line in text.splitlines() if f"`{constant}`" in line]
        for field in fields:
            if field.source == "inferred":
                assert any(f"`{field.wire}`" in row or f"{field.wire}" in row for row in rows), (
                    f"{constant}: {field.wire} is inferred but not in docs/inferred.md"
                )
