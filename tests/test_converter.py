"""The one converter: names, timestamps, strict ints, lenient strings, events."""

from __future__ import annotations

import copy
import functools
import gc
import pickle
import sys
import weakref
from datetime import date, datetime, timedelta, timezone
from typing import Any

import attrs
import pytest
from _support import PAYMENT_JSON, PAYMENT_METHOD_JSON, REFUND_JSON, SESSION_EXAMPLE
from hypothesis import given, settings
from hypothesis import strategies as st

from bpcpay._core._converter import (
    _fill_plan,
    _filler,
    _make_converter,
    _structure_function,
    camel,
    converter,
    format_datetime,
    object_class_for_event,
    parse_date,
    parse_datetime,
    structure_object,
    unstructure,
)
from bpcpay.models import (
    CustomerDetails,
    Event,
    EventData,
    Payment,
    PaymentMethod,
    Refund,
    Session,
)

UTC = timezone.utc


@pytest.mark.parametrize(
    ("snake", "wire"),
    [
        ("id", "id"),
        ("payment_status", "paymentStatus"),
        ("merchant_reference_id", "merchantReferenceId"),
        ("exp_month", "expMonth"),
        ("last4", "last4"),
    ],
)
def test_camel(snake: str, wire: str) -> None:
    assert camel(snake) == wire


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("2024-03-28T08:26:37Z", datetime(2024, 3, 28, 8, 26, 37, tzinfo=UTC)),
        ("2024-03-28T08:26:37z", datetime(2024, 3, 28, 8, 26, 37, tzinfo=UTC)),
        ("2024-03-28T08:26:37+00:00", datetime(2024, 3, 28, 8, 26, 37, tzinfo=UTC)),
        (" 2024-03-28T08:26:37.250Z ", datetime(2024, 3, 28, 8, 26, 37, 250000, tzinfo=UTC)),
        # No offset: read as UTC so the result is never naive.
        ("2024-03-28T08:26:37", datetime(2024, 3, 28, 8, 26, 37, tzinfo=UTC)),
    ],
)
def test_parse_datetime_is_always_aware(text: str, expected: datetime) -> None:
    parsed = parse_datetime(text)
    assert parsed == expected
    assert parsed.tzinfo is not None


def test_parse_datetime_keeps_other_offsets() -> None:
    parsed = parse_datetime("2024-03-28T10:26:37+02:00")
    assert parsed.utcoffset() == timedelta(hours=2)
    assert parsed == datetime(2024, 3, 28, 8, 26, 37, tzinfo=UTC)


def test_parse_datetime_accepts_datetimes() -> None:
    aware = datetime(2024, 1, 1, tzinfo=timezone(timedelta(hours=-5)))
    assert parse_datetime(aware) is aware
    assert parse_datetime(datetime(2024, 1, 1)).tzinfo is UTC


def test_parse_datetime_refuses_other_types_and_garbage() -> None:
    with pytest.raises(TypeError, match="ISO 8601"):
        parse_datetime(1711614397)
    with pytest.raises(ValueError):
        parse_datetime("28/03/2024")


@pytest.mark.parametrize(
    ("value", "text"),
    [
        (datetime(2024, 3, 28, 8, 26, 37, tzinfo=UTC), "2024-03-28T08:26:37Z"),
        (datetime(2024, 3, 28, 8, 26, 37), "2024-03-28T08:26:37Z"),
        (
            datetime(2024, 3, 28, 10, 26, 37, tzinfo=timezone(timedelta(hours=2))),
            "2024-03-28T08:26:37Z",
        ),
        (datetime(2024, 3, 28, 8, 26, 37, 123456, tzinfo=UTC), "2024-03-28T08:26:37.123Z"),
    ],
)
def test_format_datetime(value: datetime, text: str) -> None:
    assert format_datetime(value) == text
    assert parse_datetime(text) == value.replace(
        microsecond=value.microsecond // 1000 * 1000,
        tzinfo=value.tzinfo or UTC,
    )


@pytest.mark.parametrize(
    ("event_type", "cls"),
    [
        ("session.completed", Session),
        ("session.somethingNew", Session),
        ("payment.funded", Payment),
        ("refund.created", Refund),
        ("paymentMethod.created", PaymentMethod),
        ("payment_method.created", PaymentMethod),
        ("invoice.paid", None),
        ("session", None),
        ("", None),
    ],
)
def test_object_class_for_event(event_type: str, cls: type[Any] | None) -> None:
    assert object_class_for_event(event_type) is cls


def test_structure_object_refuses_non_objects() -> None:
    for data in ([SESSION_EXAMPLE], "ps_1", 1, None):
        with pytest.raises(TypeError, match="JSON object"):
            structure_object(data, Session)


def test_strings_accept_numbers_but_not_containers() -> None:
    s = structure_object({**SESSION_EXAMPLE, "merchantReferenceId": 4000.5}, Session)
    assert s.merchant_reference_id == "4000.5"
    with pytest.raises(TypeError, match="expected a string"):
        structure_object({**SESSION_EXAMPLE, "merchantReferenceId": ["4000"]}, Session)
    with pytest.raises(TypeError, match="expected a string"):
        structure_object({**SESSION_EXAMPLE, "locale": True}, Session)


@pytest.mark.parametrize("value", [True, False, 1.0, "1"])
def test_ints_are_strict(value: object) -> None:
    with pytest.raises(TypeError, match="JSON integer"):
        structure_object({**SESSION_EXAMPLE, "amount": value}, Session)


@pytest.mark.parametrize("value", ["visa", 7, [], ["a"]])
def test_nested_models_must_be_objects(value: object) -> None:
    with pytest.raises(TypeError, match="JSON object for Card"):
        structure_object({**PAYMENT_METHOD_JSON, "card": value}, PaymentMethod)


@pytest.mark.parametrize(
    ("data", "cls"),
    [
        (SESSION_EXAMPLE, Session),
        (PAYMENT_JSON, Payment),
        (REFUND_JSON, Refund),
        (PAYMENT_METHOD_JSON, PaymentMethod),
    ],
)
def test_unstructure_round_trips_with_camel_case_keys(data: dict[str, Any], cls: type[Any]) -> None:
    obj = structure_object(data, cls, request_id="req_x")
    wire = unstructure(obj)
    assert "raw" not in wire
    assert "request_id" not in wire
    assert "requestId" not in wire
    assert all("_" not in key for key in wire)
    for key, value in data.items():
        # Timestamps are re-emitted in the one canonical UTC "Z" form.
        if isinstance(value, str) and key in ("created", "expiresAt"):
            assert parse_datetime(wire[key]) == parse_datetime(value)
            assert wire[key].endswith("Z")
        elif isinstance(value, dict):
            # Nested objects come back with every field, unset ones as None.
            assert {k: v for k, v in wire[key].items() if v is not None} == value
        else:
            assert wire[key] == value
    assert structure_object(wire, cls) == obj


def test_event_structure_and_unstructure() -> None:
    data = {
        "created": "2024-03-28T08:30:00Z",
        "type": "payment.succeeded",
        "data": {"object": PAYMENT_JSON},
    }
    event = converter.structure(data, Event)
    assert isinstance(event.data.object, Payment)
    assert event.data.object.raw == PAYMENT_JSON
    assert event.raw == data
    again = unstructure(event)
    assert again["type"] == "payment.succeeded"
    assert again["created"] == "2024-03-28T08:30:00Z"
    assert structure_object(again, Event) == event


def test_generic_event_keeps_the_mapping_and_allows_no_created() -> None:
    obj = {"id": "inv_1", "total": 3}
    event = structure_object({"type": "invoice.paid", "data": {"object": obj}}, Event)
    assert event.created is None
    assert event.data == EventData(object=obj)
    assert unstructure(event) == {"created": None, "type": "invoice.paid", "data": {"object": obj}}


@pytest.mark.parametrize(
    ("data", "error"),
    [
        ({"type": "session.expired"}, KeyError),
        ({"data": {"object": {}}}, KeyError),
        ({"type": "", "data": {"object": {}}}, TypeError),
        ({"type": 7, "data": {"object": {}}}, TypeError),
        ({"type": "x.y", "data": []}, TypeError),
        ({"type": "x.y", "data": {"object": "ps_1"}}, TypeError),
        ({"type": "x.y", "data": {}}, TypeError),
        ({"type": "x.y", "created": "soon", "data": {"object": {}}}, ValueError),
    ],
)
def test_malformed_events_raise(data: dict[str, Any], error: type[Exception]) -> None:
    with pytest.raises(error):
        structure_object(data, Event)


def test_event_hook_refuses_non_mappings_directly() -> None:
    with pytest.raises(TypeError, match="an event must be a JSON object"):
        converter.structure(["not", "an", "event"], Event)


# --- the generated structure functions: slow paths for values of an unusual type ------------


class _Text(str):
    """A str subclass, as some JSON decoders (or callers of request()) produce."""


def test_str_subclasses_and_numbers_become_plain_str() -> None:
    data = {
        "id": _Text("ps_1"),
        "amount": 1,
        "currency": "EUR",
        "status": "open",
        "locale": _Text("en"),
        "merchantReferenceId": 4000,
    }
    session = structure_object(data, Session)
    assert type(session.id) is str
    assert session.id == "ps_1"
    assert type(session.locale) is str
    assert session.merchant_reference_id == "4000"


def test_an_int_subclass_amount_is_accepted_as_int() -> None:
    class Amount(int):
        pass

    session = structure_object(
        {"id": "ps_1", "amount": Amount(500), "currency": "EUR", "status": "open"}, Session
    )
    assert type(session.amount) is int
    assert session.amount == 500


def test_a_timestamp_given_as_str_subclass_or_datetime_parses() -> None:
    when = datetime(2024, 3, 28, 8, 26, 37, tzinfo=timezone.utc)
    assert parse_datetime(_Text("2024-03-28T08:26:37Z")) == when
    assert parse_datetime(when.replace(tzinfo=None)) == when


def test_parse_date_takes_yyyy_mm_dd_or_a_date() -> None:
    assert parse_date("2026-12-31") == date(2026, 12, 31)
    assert parse_date(date(2026, 12, 31)) == date(2026, 12, 31)
    for bad, error in (
        ("2026-02-30", ValueError),
        ("31.12.2026", ValueError),
        ("20261231", ValueError),
        (datetime(2026, 12, 31), TypeError),
        (20261231, TypeError),
    ):
        with pytest.raises(error):
            parse_date(bad)


# The generated structure functions build a model without calling its __init__ (a filler class
# for slotted models, the slots' setters, or __dict__ for a model without slots); these tests
# hold every way to what __init__ builds.

_TOP_LEVEL_EXAMPLES = [
    (SESSION_EXAMPLE, Session),
    (PAYMENT_JSON, Payment),
    (REFUND_JSON, Refund),
    (PAYMENT_METHOD_JSON, PaymentMethod),
]


@functools.cache
def _built_by(cls: type[Any], build: str) -> Any:
    """The same converter's function for ``cls``, every model built as ``build`` says."""
    conv = _make_converter()
    conv.register_structure_hook_factory(
        lambda tp: (
            isinstance(tp, type) and attrs.has(tp) and tp.__module__.startswith("bpcpay.models")
        ),
        lambda tp: _structure_function(tp, conv, build=build),
    )
    return _structure_function(cls, conv, build=build)


def _through_init(cls: type[Any]) -> Any:
    return _built_by(cls, "init")


def _state(obj: Any) -> Any:
    """Every field of a model, nested ones included, with each value's class (raw and
    request_id too: they take no part in ==)."""
    if not attrs.has(type(obj)):
        return (type(obj), obj)
    return (
        type(obj),
        [(f.name, _state(getattr(obj, f.name))) for f in attrs.fields(type(obj))],
    )


def _hash(obj: Any) -> Any:
    try:
        return hash(obj)
    except TypeError as exc:  # a dict field (metadata) makes any build unhashable
        return str(exc)


@pytest.mark.parametrize(("data", "cls"), _TOP_LEVEL_EXAMPLES)
def test_generated_models_equal_what_init_builds(data: dict[str, Any], cls: type[Any]) -> None:
    fast = structure_object(data, cls, request_id="req_1")
    slow = _through_init(cls)(data, cls, "req_1")
    assert _state(fast) == _state(slow)
    assert _state(_built_by(cls, "setters")(data, cls, "req_1")) == _state(slow)
    assert type(fast) is cls
    assert fast == slow
    assert _hash(fast) == _hash(slow)
    assert repr(fast) == repr(slow)
    assert fast.raw is data and fast.request_id == "req_1"
    with pytest.raises(attrs.exceptions.FrozenInstanceError):
        fast.id = "other"  # type: ignore[misc]
    with pytest.raises(attrs.exceptions.FrozenInstanceError):
        del fast.id  # type: ignore[misc]
    assert not hasattr(fast, "__dict__")  # still slotted


def test_the_top_level_models_are_built_through_a_filler_class() -> None:
    # The cheapest way is the one in use (benchmarks/model_layout.py measures each).
    for _, cls in _TOP_LEVEL_EXAMPLES:
        assert _fill_plan(cls, None) == "filler", cls
    # A model whose own slots hold __weakref__ (the nested ones) cannot take __class__ from a
    # twin before Python 3.12 (its layout check refuses it): it is filled through its slots'
    # setters there.
    refused = sys.version_info < (3, 12)
    assert (_filler(CustomerDetails) is None) is refused
    assert _fill_plan(CustomerDetails, None) == ("setters" if refused else "filler")


@pytest.mark.parametrize(("data", "cls"), _TOP_LEVEL_EXAMPLES)
def test_a_filled_model_is_its_class_in_every_way(data: dict[str, Any], cls: type[Any]) -> None:
    built = structure_object(data, cls, request_id="req_1")
    again = pickle.loads(pickle.dumps(built))
    assert type(again) is cls
    assert _state(again) == _state(built)
    assert weakref.ref(built)() is built
    changed = attrs.evolve(built, status="other")
    assert type(changed) is cls and changed.status == "other" and changed.id == built.id
    assert copy.copy(built) == built and copy.deepcopy(built) == built
    if cls is PaymentMethod:  # the others hold metadata, a dict: unhashable either way
        assert {built: 1}[_through_init(cls)(data, cls, None)] == 1


def test_filling_leaks_no_reference_and_leaves_no_filler_behind() -> None:
    filler = structure_object.__globals__["_TOP_LEVEL"][Session].__globals__["filler"]
    structure_object(SESSION_EXAMPLE, Session)
    gc.collect()
    references = sys.getrefcount(filler), sys.getrefcount(Session)
    kept = [structure_object(SESSION_EXAMPLE, Session) for _ in range(1000)]
    assert sys.getrefcount(Session) == references[1] + 1000
    del kept
    gc.collect()
    assert (sys.getrefcount(filler), sys.getrefcount(Session)) == references
    assert not [obj for obj in gc.get_objects() if type(obj) is filler]


@attrs.frozen(kw_only=True)
class _Loose:
    """A frozen model without slots: filled through __dict__, as its __init__ does."""

    name: str
    code: str = attrs.field(converter=str.upper)
    tags: Any = attrs.field(factory=dict)
    note: str | None = None


@attrs.define(frozen=True, kw_only=True, slots=False)
class _LooseDict:
    name: str
    code: str = attrs.field(converter=str.upper)
    tags: Any = attrs.field(factory=dict)
    note: str | None = None


@attrs.frozen(kw_only=True, cache_hash=True)
class _CachedHash:
    name: str


def test_a_model_without_slots_is_filled_through_its_dict() -> None:
    assert _fill_plan(_LooseDict, None) == "dict"
    fast = _structure_function(_LooseDict, converter)
    slow = _structure_function(_LooseDict, converter, build="init")
    for data in ({"name": "a", "code": "eur"}, {"name": "a", "code": "x", "tags": {"k": 1}}):
        built = fast(data, _LooseDict)
        assert _state(built) == _state(slow(data, _LooseDict))
        assert built.__dict__ == slow(data, _LooseDict).__dict__
        with pytest.raises(attrs.exceptions.FrozenInstanceError):
            built.name = "b"  # type: ignore[misc]


@pytest.mark.parametrize("build", ["setters", "filler", None])
def test_a_slotted_model_on_object_is_filled_as_init_would(build: str | None) -> None:
    # Its own slots hold __weakref__: before Python 3.12 no filler class can share its layout,
    # and a filler asked for falls back to the setters.
    structure = _structure_function(_Loose, converter, build=build)
    for data in ({"name": "a", "code": "eur"}, {"name": "a", "code": "x", "tags": {"k": 1}}):
        built = structure(data, _Loose)
        assert type(built) is _Loose
        assert _state(built) == _state(_Loose(**data))
        assert weakref.ref(built)() is built


def test_a_cached_hash_is_left_to_init() -> None:
    # attrs' __init__ resets the hash cache: only __init__ builds such a class.
    assert _fill_plan(_CachedHash, None) == "init"
    built = _structure_function(_CachedHash, converter)({"name": "a"}, _CachedHash)
    assert hash(built) == hash(_CachedHash(name="a"))


_VALUES = st.one_of(
    st.none(),
    st.integers(-3, 10**6),
    st.booleans(),
    st.text(max_size=4),
    st.sampled_from(["2024-03-28T08:26:37Z", "2024-03-28", "eur", "4000"]),
    st.floats(allow_nan=False, max_value=10.0, min_value=-10.0),
    st.just([]),
    st.just({}),
    st.just({"email": "a@b.c", "address": {"postalCode": 1}}),
    st.just({"captureMethod": "manual"}),
    st.just({"category": "recurrent", "recurringModel": {"recurrent": None}}),
)


@settings(max_examples=300, deadline=None)
@given(
    example=st.sampled_from(_TOP_LEVEL_EXAMPLES),
    changes=st.dictionaries(
        st.sampled_from(
            [
                "id",
                "amount",
                "currency",
                "status",
                "paymentStatus",
                "created",
                "expiresAt",
                "metadata",
                "customerDetails",
                "paymentData",
                "setupFutureUsage",
                "merchantReferenceId",
                "card",
                "paymentMethod",
                "captureMethod",
                "amountRefunded",
                "payment",
                "locale",
            ]
        ),
        st.one_of(_VALUES, st.just(KeyError)),
        max_size=6,
    ),
)
def test_generated_models_agree_with_init_on_any_input(
    example: tuple[dict[str, Any], type[Any]], changes: dict[str, Any]
) -> None:
    # Any key changed, nulled or removed: both builds give equal objects or the same error.
    base, cls = example
    data = {**base}
    for key, value in changes.items():
        if value is KeyError:
            data.pop(key, None)
        else:
            data[key] = value
    outcomes = []
    for structure in (
        converter.get_structure_hook(cls),
        _through_init(cls),
        _built_by(cls, "setters"),
    ):
        try:
            outcomes.append(_state(structure(data, cls)))
        except (TypeError, ValueError, KeyError, AttributeError) as exc:
            outcomes.append(type(exc))
    assert outcomes[0] == outcomes[1] == outcomes[2]


def test_a_class_init_does_more_for_is_built_by_init() -> None:
    # A validator (or a post-init hook) is something only __init__ runs: such a class is never
    # filled through its slots.
    @attrs.frozen(kw_only=True)
    class Checked:
        amount: int = attrs.field(validator=attrs.validators.ge(0))

    structure = _structure_function(Checked, converter)
    assert structure({"amount": 5}, Checked) == Checked(amount=5)
    with pytest.raises(ValueError, match="amount"):
        structure({"amount": -1}, Checked)


def test_a_converter_that_takes_the_instance_is_run_by_init() -> None:
    # attrs' Converter objects may take the instance or the field: __init__ runs those.
    @attrs.frozen(kw_only=True)
    class Labelled:
        name: str
        label: str = attrs.field(
            converter=attrs.Converter(lambda v, self_: f"{self_.name}:{v}", takes_self=True)
        )

    structure = _structure_function(Labelled, converter)
    assert structure({"name": "a", "label": "b"}, Labelled).label == "a:b"
