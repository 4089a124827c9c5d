"""The one cattrs converter: camelCase on the wire, snake_case in Python, aware datetimes.

Structure functions are generated once per model class from its attrs fields
(:func:`_structure_function`), calling the hooks registered here for each field's type;
unstructure functions are cattrs' own. Only the hooks for scalars, optionals, open JSON objects
and events are ours. Imports cattrs and bpcpay.models; no I/O library. Why a generator of our
own: cattrs' generated functions call a hook for every field (a string too) and build the
frozen slotted model through attrs' ``__init__``, whose frozen slot writes cost 700-800
instructions each; ours fills a plain twin of the class and then gives it the model's class,
building a ``Session`` in about 28k instructions instead of 75k (``benchmarks/model_layout.py``
compares the ways and layouts, instructions and bytes per object).

Leniency rules, so that a new field or value from the gateway never breaks parsing:
unknown keys are ignored (and stay reachable through ``obj.raw``); statuses and types are plain
strings. Strictness where silence would be wrong: an amount must be a JSON integer (a float or a
numeric string is an error, never rounded), and timestamps must parse.
"""

from __future__ import annotations

import inspect
import linecache
import re
import sys
import types
import typing
from collections.abc import Callable, Mapping
from datetime import date, datetime, timezone
from typing import Any, TypeVar

import attrs
import cattrs
from cattrs.gen import make_dict_unstructure_fn, override

from ..models import (
    APIObject,
    Event,
    EventData,
    Payment,
    PaymentMethod,
    Refund,
    Session,
)
from ..models._base import WIRE_NAME

__all__ = [
    "camel",
    "converter",
    "format_datetime",
    "object_class_for_event",
    "parse_date",
    "parse_datetime",
    "structure_object",
    "unstructure",
    "wire_key",
]

T = TypeVar("T")


def camel(name: str) -> str:
    """``payment_status`` -> ``paymentStatus``."""
    head, *rest = name.split("_")
    return head + "".join(part[:1].upper() + part[1:] for part in rest)


def wire_key(field: attrs.Attribute[Any]) -> str:
    """A model field's JSON key: its ``wire_name`` metadata, else the camelCase of its name.

    Args:
        field: an attrs field of a model.

    Returns:
        The key on the wire (``expiryMonth`` for ``PaymentCard.exp_month``).
    """
    key: str = field.metadata.get(WIRE_NAME) or camel(field.name)
    return key


if sys.version_info >= (3, 11):
    #: Looked up once: ``datetime.fromisoformat`` binds a new method object on each lookup (a
    #: classmethod), about 500 instructions of a timestamp's parse.
    _fromisoformat = datetime.fromisoformat
else:

    def _fromisoformat(text: str) -> datetime:
        # Python 3.10's fromisoformat refuses the "Z" every gateway timestamp ends with: write
        # it as an offset first rather than pay for the ValueError on each parse.
        if text[-1:] in ("Z", "z"):
            text = text[:-1] + "+00:00"
        return datetime.fromisoformat(text)


def parse_datetime(value: Any) -> datetime:
    """Parse an ISO 8601 timestamp from the gateway; ``Z`` and ``+00:00`` both work.

    A timestamp without an offset is taken as UTC, so the result is always timezone-aware.
    """
    if value.__class__ is str:
        try:
            # Python 3.11+ reads "Z" itself; this is the common, fast path.
            parsed = _fromisoformat(value)
        except ValueError:
            text = value.strip()
            if text.endswith(("Z", "z")):
                # Python 3.10's fromisoformat does not accept the Z suffix.
                text = text[:-1] + "+00:00"
            parsed = datetime.fromisoformat(text)
    elif isinstance(value, datetime):
        parsed = value
    elif isinstance(value, str):
        return parse_datetime(str(value))
    else:
        raise TypeError(f"expected an ISO 8601 timestamp string, got {type(value).__name__}")
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=timezone.utc)
    return parsed


def format_datetime(value: datetime) -> str:
    """Format a timestamp the way BPC's examples do: ``2024-03-28T08:26:37Z`` in UTC."""
    if value.tzinfo is None:
        value = value.replace(tzinfo=timezone.utc)
    value = value.astimezone(timezone.utc)
    spec = "seconds" if value.microsecond == 0 else "milliseconds"
    return value.replace(tzinfo=None).isoformat(timespec=spec) + "Z"


_DATE = re.compile(r"\d{4}-\d{2}-\d{2}")


def parse_date(value: Any) -> date:
    """A calendar date written ``YYYY-MM-DD`` (``recurringModel.recurrent.expiry``).

    Raises:
        TypeError: not a string or a date.
        ValueError: another format, or no such day.
    """
    if isinstance(value, date) and not isinstance(value, datetime):
        return value
    if not isinstance(value, str):
        raise TypeError(f"expected a YYYY-MM-DD date string, got {type(value).__name__}")
    if not _DATE.fullmatch(value):
        raise ValueError(f"expected a YYYY-MM-DD date, got {value!r}")
    return date.fromisoformat(str(value))


def _structure_json_object(value: Any, _: Any) -> dict[str, Any]:
    # metadata and other open JSON objects: any JSON values, kept as sent (copied, so the
    # model never shares a mutable dict with ``raw``).
    if value.__class__ is not dict and not isinstance(value, Mapping):
        raise TypeError(f"expected a JSON object, got {type(value).__name__}")
    return dict(value)


def _structure_int(value: Any, _: Any) -> int:
    # bool is a subclass of int, but true/false is never an amount.
    if isinstance(value, bool) or not isinstance(value, int):
        raise TypeError(f"expected a JSON integer, got {value!r}")
    return int(value)


def _structure_str(value: Any, _: Any) -> str:
    if value.__class__ is str:
        return value
    if isinstance(value, str):
        return str(value)
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        # merchantReferenceId comes as "4000" in BPC's example; a store may have sent a number.
        return str(value)
    raise TypeError(f"expected a string, got {type(value).__name__}")


def _structure_optional_str(value: Any, _: Any) -> str | None:
    if value is None or value.__class__ is str:
        return value
    return _structure_str(value, _)


def _structure_optional_int(value: Any, _: Any) -> int | None:
    if value is None or value.__class__ is int:
        return value
    return _structure_int(value, _)


def _structure_optional_datetime(value: Any, _: Any) -> datetime | None:
    return None if value is None else parse_datetime(value)


_OPTIONAL_SCALARS: dict[Any, Callable[[Any, Any], Any]] = {
    str: _structure_optional_str,
    int: _structure_optional_int,
    datetime: _structure_optional_datetime,
}


_EVENT_OBJECTS: dict[str, type[APIObject]] = {
    "session": Session,
    "payment": Payment,
    "refund": Refund,
    # [inferred] BPC's PaymentMethod event names are unpublished; both spellings are accepted.
    "paymentMethod": PaymentMethod,
    "payment_method": PaymentMethod,
}


def object_class_for_event(event_type: str) -> type[APIObject] | None:
    """The model of ``data.object`` for an event type, by its prefix; None when unknown."""
    prefix, dot, _ = event_type.partition(".")
    return _EVENT_OBJECTS.get(prefix) if dot else None


#: The types whose hook is a parser of the value alone (registered through :func:`_hook_of`;
#: the generated functions call the parser itself).
_PARSERS: dict[type[Any], Callable[[Any], Any]] = {datetime: parse_datetime, date: parse_date}


def _hook_of(parser: Callable[[Any], T]) -> Callable[[Any, Any], T]:
    """A cattrs structure hook (value, type) that parses the value."""
    return lambda value, _: parser(value)


#: The Python classes whose values pass as they are, without their hook's call: a value of
#: exactly this class is what the hook would return (``bool`` is not ``int``'s class, so
#: ``true`` still reaches the int hook and its error).
_AS_IS = (str, int)


#: attrs 24.1+'s Converter objects (which may take the instance or the field): only a plain
#: callable converter is run by the generated functions. Older attrs has none.
_CONVERTER_OBJECTS: Any = getattr(attrs, "Converter", ())


#: How a generated function builds an instance (see :func:`_fill_plan`): through a filler
#: class (slotted models), through the slots' setters, through ``__dict__`` (a model without
#: slots), or by calling the class (``__init__``).
_FILLER, _SETTERS, _DICT, _INIT = "filler", "setters", "dict", "init"


def _filler(cls: type[Any]) -> type[Any] | None:
    """A plain class with the layout of the slotted ``cls``, whose instances can take any
    value in their slots by plain attribute assignment and then become ``cls`` by assigning
    ``__class__``; None when Python would refuse that assignment for ``cls``.

    It has ``cls``'s own ``__slots__`` on ``cls``'s base, so Python finds the two layouts the
    same (``__class__`` assignment checks it); it takes ``object``'s own ``__setattr__`` and
    ``__delattr__``, so that each assignment is the interpreter's plain slot store (a few dozen
    instructions; calling a slot's setter costs about 600, a frozen model's ``__init__`` more),
    and ``object``'s ``__init__``, so that ``filler()`` makes a bare one (cheaper than
    ``object.__new__(filler)``).
    Only the generated function ever holds an instance of it, and only until it is full.
    """
    own = cls.__dict__.get("__slots__")
    if own is None or len(cls.__bases__) != 1 or cls.__dictoffset__ != 0:
        return None
    try:
        filler = type(
            f"{cls.__name__}Filler",
            cls.__bases__,
            {
                "__slots__": own,
                "__setattr__": object.__setattr__,
                "__delattr__": object.__delattr__,
                "__init__": object.__init__,
                "__module__": cls.__module__,
            },
        )
        probe: Any = object.__new__(filler)
        probe.__class__ = cls
    except TypeError:
        return None
    return filler


def _fill_plan(cls: type[Any], build: str | None) -> str:
    """How the generated function builds ``cls``: ``build`` if given, else the cheapest way
    that fills it exactly as its ``__init__`` would.

    An instance is filled without ``__init__`` only when ``__init__`` does nothing but apply
    the fields' defaults and plain converters (no validators, no pre/post-init hooks, no cached
    hash) and every field is stored the same way: all in slots (a filler class, else the
    slots' setters), or all in ``__dict__`` (which attrs' ``__init__`` of a frozen class
    without slots writes directly, as the function then does).
    """
    if build is not None:
        return _SETTERS if build == _FILLER and _filler(cls) is None else build
    init_code = getattr(getattr(cls, "__init__", None), "__code__", None)
    if any(
        hasattr(cls, hook)
        for hook in ("__attrs_pre_init__", "__attrs_post_init__", "__attrs_init__")
    ) or (init_code is not None and "_attrs_cached_hash" in init_code.co_consts):
        return _INIT
    stored = set()
    for field in attrs.fields(cls):
        if (
            field.validator is not None
            or not field.init
            or isinstance(field.converter, _CONVERTER_OBJECTS)
        ):
            return _INIT
        slot = inspect.getattr_static(cls, field.name, None)
        # attrs leaves nothing under a field's name in a class without slots.
        stored.add(
            _SETTERS
            if isinstance(slot, types.MemberDescriptorType)
            else _DICT
            if slot is None
            else _INIT
        )
    if stored == {_SETTERS}:
        return _FILLER if _filler(cls) is not None else _SETTERS
    if stored == {_DICT} and cls.__dictoffset__ != 0:
        return _DICT
    return _INIT


def _structure_function(
    cls: type[Any], conv: cattrs.Converter, *, build: str | None = None
) -> Callable[..., Any]:
    """One structure function for a model class, generated once from its attrs fields.

    Each field is read by its wire key and goes through the converter's own hook for its type
    (so the rules live in one place: the hooks above), except a value whose class already is
    the field's scalar type (``str``, ``int``, or None for an optional field), which is taken
    as it is. A required key that is missing raises KeyError; an optional one takes the field's
    default. Top-level objects also get ``raw`` (the object as sent, unknown keys included) and
    ``request_id``. The function takes ``(data, type)`` like any cattrs hook, plus
    ``request_id`` for :func:`structure_object`.

    The instance is a frozen slotted attrs class; attrs' ``__init__`` writes each slot through
    ``object.__setattr__`` (a type lookup and a bound call per field), so the function builds
    it without ``__init__``, running each field's converter and default as ``__init__`` would,
    the cheapest way the class allows (:func:`_fill_plan`): a filler class (:func:`_filler`),
    else the slots' own setters, or ``__dict__`` for a class without slots. A class
    ``__init__`` does more for, or ``build="init"``, is built by calling the class;
    ``build`` forces a way (the benchmark and the tests compare them). ``tests/test_converter.py``
    checks every way gives what ``__init__`` gives.
    """
    attrs.resolve_types(cls)
    name = cls.__name__
    fields = attrs.fields(cls)
    keeps_raw = "raw" in attrs.fields_dict(cls)
    plan = _fill_plan(cls, build)
    ns: dict[str, Any] = {"Mapping": Mapping, "cls": cls, "new": object.__new__}
    lines = [
        f"def structure_{name}(data, _=None, request_id=None):",
        "    if data.__class__ is not dict and not isinstance(data, Mapping):",
        f"        raise TypeError('expected a JSON object for {name}, got ' + type(data).__name__)",
    ]
    values: dict[str, str] = {}
    for index, field in enumerate(fields):
        if field.name in ("raw", "request_id"):
            continue
        var, key = f"v{index}", wire_key(field)
        inner = _optional_inner(field.type)
        tp = field.type if inner is None else inner
        parser = _PARSERS.get(tp)
        # None never reaches the hook of an optional field defaulting to None (the code below
        # tests it first), so the inner type's own hook does the optional one's work one call
        # sooner (a nested model's function is called directly).
        hooked = inner if inner is not None and field.default is None else field.type
        if parser is not None:
            # The hook would only call the parser: call it directly.
            ns[f"h{index}"], call = parser, f"{var} = h{index}({var})"
        else:
            ns[f"h{index}"], ns[f"t{index}"] = conv.get_structure_hook(hooked), hooked
            call = f"{var} = h{index}({var}, t{index})"
        check = f"{var}.__class__ is not {tp.__name__}" if tp in _AS_IS else None
        if tp == _JSON_OBJECT:
            # The hook would copy a dict into a dict: copy it here, without the call.
            call = f"{var} = {var}.copy() if {var}.__class__ is dict else h{index}({var}, t{index})"
        if field.default is attrs.NOTHING:
            lines.append(f"    {var} = data[{key!r}]")
            lines += [f"    if {check}:", f"        {call}"] if check else [f"    {call}"]
        elif field.default is None and inner is not None:
            # Missing and null mean the same here: the default is None, and the optional
            # hook turns None into None.
            # data.get(...) each time: the interpreter calls the method without making it an
            # object, which ``get = data.get`` would do once per model.
            lines.append(f"    {var} = data.get({key!r})")
            lines.append(f"    if {var} is not None" + (f" and {check}:" if check else ":"))
            lines.append(f"        {call}")
        else:
            ns[f"d{index}"] = field.default
            factory = isinstance(field.default, attrs.Factory)  # type: ignore[arg-type]
            lines += [
                f"    if {key!r} in data:",
                f"        {var} = data[{key!r}]",
                f"        {call}",
                "    else:",
                f"        {var} = d{index}" + (".factory()" if factory else ""),
            ]
        if plan != _INIT and field.converter is not None:
            ns[f"c{index}"] = field.converter
            lines.append(f"    {var} = c{index}({var})")
        values[field.name] = var
    if keeps_raw:
        values["raw"], values["request_id"] = "data", "request_id"
        # In field order, as __init__ writes them (raw and request_id are APIObject's).
        values = {f.name: values[f.name] for f in fields}
    if plan == _INIT:
        lines.append(f"    return cls({', '.join(f'{n}={v}' for n, v in values.items())})")
    elif plan == _FILLER:
        ns["filler"] = _filler(cls)
        lines.append("    obj = filler()")
        lines += [f"    obj.{field_name} = {var}" for field_name, var in values.items()]
        lines += ["    obj.__class__ = cls", "    return obj"]
    elif plan == _DICT:
        # What attrs' __init__ of a frozen class without slots does: write __dict__ directly.
        lines += ["    obj = new(cls)", "    d = obj.__dict__"]
        lines += [f"    d[{field_name!r}] = {var}" for field_name, var in values.items()]
        lines.append("    return obj")
    else:
        lines.append("    obj = new(cls)")
        for index, (field_name, var) in enumerate(values.items()):
            ns[f"s{index}"] = inspect.getattr_static(cls, field_name).__set__
            lines.append(f"    s{index}(obj, {var})")
        lines.append("    return obj")
    source = "\n".join(lines) + "\n"
    filename = f"<bpcpay structure {cls.__module__}.{name}>"
    exec(compile(source, filename, "exec"), ns)  # noqa: S102 - our own generated source
    # Tracebacks and debuggers show the generated lines.
    linecache.cache[filename] = (len(source), None, source.splitlines(True), filename)
    function: Callable[..., Any] = ns[f"structure_{name}"]
    return function


def _optional_inner(tp: Any) -> Any:
    """``X`` for ``X | None``, else None."""
    args = typing.get_args(tp)
    if (
        typing.get_origin(tp) in (typing.Union, types.UnionType)
        and len(args) == 2
        and type(None) in args
    ):
        return next(arg for arg in args if arg is not type(None))
    return None


#: An open JSON object's type (``metadata``): any JSON values, copied as sent.
_JSON_OBJECT: Any = Mapping[str, Any]


def _make_converter() -> cattrs.Converter:
    conv = cattrs.Converter(detailed_validation=False)
    for tp, parser in _PARSERS.items():
        conv.register_structure_hook(tp, _hook_of(parser))
    conv.register_unstructure_hook(datetime, format_datetime)
    conv.register_unstructure_hook(date, date.isoformat)
    conv.register_structure_hook(int, _structure_int)
    conv.register_structure_hook(str, _structure_str)
    conv.register_structure_hook_func(lambda tp: tp == _JSON_OBJECT, _structure_json_object)

    def is_optional(tp: Any) -> bool:
        args = typing.get_args(tp)
        return (
            typing.get_origin(tp) in (typing.Union, types.UnionType)
            and len(args) == 2
            and type(None) in args
        )

    def optional_factory(tp: Any) -> Callable[[Any, Any], Any]:
        # cattrs' own Optional hook looks the inner type's handler up on every call; resolving
        # it once here makes parsing a Session about a third faster. The optional scalars,
        # most of a model's fields, get one function each: a value of the right type (or None)
        # costs no second call.
        inner = next(arg for arg in typing.get_args(tp) if arg is not type(None))
        scalar = _OPTIONAL_SCALARS.get(inner)
        if scalar is not None:
            return scalar
        handler = conv.get_structure_hook(inner)

        def structure_optional(value: Any, _: Any) -> Any:
            return None if value is None else handler(value, inner)

        return structure_optional

    conv.register_structure_hook_factory(is_optional, optional_factory)

    def is_model(cls: Any) -> bool:
        return (
            isinstance(cls, type)
            and attrs.has(cls)
            and cls.__module__.startswith("bpcpay.models")
            and cls not in (Event, EventData)
        )

    def renames(cls: type[Any]) -> dict[str, Any]:
        out: dict[str, Any] = {}
        for field in attrs.fields(cls):
            if field.name in ("raw", "request_id"):
                out[field.name] = override(omit=True)
            else:
                out[field.name] = override(rename=wire_key(field))
        return out

    def structure_factory(cls: type[Any]) -> Callable[..., Any]:
        return _structure_function(cls, conv)

    def unstructure_factory(cls: type[Any]) -> Callable[[Any], Any]:
        return make_dict_unstructure_fn(cls, conv, **renames(cls))

    conv.register_structure_hook_factory(is_model, structure_factory)
    conv.register_unstructure_hook_factory(is_model, unstructure_factory)

    def structure_event(data: Any, _: Any) -> Event:
        if not isinstance(data, Mapping):
            raise TypeError("an event must be a JSON object")
        event_type = data["type"]
        if not isinstance(event_type, str) or not event_type:
            raise TypeError("an event's type must be a non-empty string")
        payload = data["data"]
        if not isinstance(payload, Mapping) or not isinstance(payload.get("object"), Mapping):
            raise TypeError("an event's data.object must be a JSON object")
        created = data.get("created")
        model = object_class_for_event(event_type)
        obj: Any = payload["object"]
        if model is not None:
            obj = conv.get_structure_hook(model)(obj, model)
        event = Event(
            type=event_type,
            created=None if created is None else parse_datetime(created),
            data=EventData(object=obj),
        )
        object.__setattr__(event, "raw", data)
        return event

    def unstructure_event(event: Event) -> dict[str, Any]:
        obj = event.data.object
        return {
            "created": None if event.created is None else format_datetime(event.created),
            "type": event.type,
            "data": {"object": obj if isinstance(obj, Mapping) else conv.unstructure(obj)},
        }

    conv.register_structure_hook(Event, structure_event)
    conv.register_unstructure_hook(Event, unstructure_event)
    return conv


#: The converter shared by the client, the webhook parser and the sandbox gateway.
converter = _make_converter()

#: The structure functions of the objects answers are made of, resolved once here
#: (``converter.get_structure_hook`` dispatches anew on every call, about 1 µs); each takes
#: the request id as its third argument (see :func:`_structure_function`).
_TOP_LEVEL: dict[type[Any], Callable[[Any, Any, str | None], Any]] = {
    cls: typing.cast("Callable[[Any, Any, str | None], Any]", converter.get_structure_hook(cls))
    for cls in (Session, Payment, Refund, PaymentMethod)
}


def structure_object(data: Any, cls: type[T], *, request_id: str | None = None) -> T:
    """Build a model from decoded JSON, keeping ``data`` as ``raw`` and the request id.

    Raises:
        TypeError, ValueError, KeyError: the data does not fit the model (the callers turn this
            into the right bpcpay error).
    """
    structure = _TOP_LEVEL.get(cls)
    if structure is not None:
        # The generated function refuses what is not a JSON object itself.
        built: T = structure(data, cls, request_id)
        return built
    if data.__class__ is not dict and not isinstance(data, Mapping):
        raise TypeError(f"expected a JSON object, got {type(data).__name__}")
    obj: T = converter.get_structure_hook(cls)(data, cls)
    if request_id is not None:
        object.__setattr__(obj, "request_id", request_id)
    return obj


def unstructure(obj: Any) -> Any:
    """A model as JSON-ready data with camelCase keys (used by the sandbox and request bodies)."""
    return converter.unstructure(obj)
