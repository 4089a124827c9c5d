"""Request bodies, each described once: one :class:`Body` per request body, made of
:class:`BodyField` rows (wire name, SDK keyword, kind of value with its limits, required, where
the contract says so). Everything else is derived from these declarations:

- the resource's argument checks and the wire form (:meth:`Body.build`, on the SDK's side);
- the sandbox's validation of what it receives (:meth:`Body.parse`, on the gateway's side);
- the reference docs' parameter tables (:meth:`Body.table`, docs/reference/bodies.md);
- the endpoint table's body rows (``SESSION_CREATE_FIELDS`` ...).

A :class:`Kind` checks one value: the SDK passes its keyword as the name to report
(``setup_future_usage``), the sandbox the wire path (``setupFutureUsage``), so
``setup_future_usage.recurringModel.recurrent.frequency`` and
``setupFutureUsage.recurringModel.recurrent.frequency`` come from one piece of logic. Every
free-form field has a limit (a length, or a size in bytes of JSON for an open object), so the
SDK refuses before sending what the sandbox would refuse on receipt.

Typed SDK arguments accept the model (``SetupFutureUsage(...)``) or a plain mapping; a mapping
is wire form and is sent as given (checked, never reshaped). A refusal names the field as the
caller wrote it: ``card.exp_month`` for a PaymentCard, ``card.expiryMonth`` for a mapping. Card
numbers, CVCs and card tokens never appear in a message. Pure: no I/O.
"""

from __future__ import annotations

import typing
from collections.abc import Callable, Mapping
from typing import Any, Final

import attrs

from .._exceptions import InvalidArgumentError
from .._types import NOT_GIVEN
from ..models import (
    Address,
    CaptureMethod,
    CardToken,
    CustomerDetails,
    PaymentCard,
    SetupFutureUsage,
    StoredCardCategory,
)
from ._checks import check_int, check_text
from ._converter import parse_date, parse_datetime, unstructure, wire_key
from ._requests import (
    MAX_AMOUNT,
    check_amount,
    check_capture_method,
    check_currency,
    check_datetime,
    check_string,
    check_url,
    encode_json,
    luhn_ok,
)

__all__ = [
    "BODIES",
    "CAPTURE",
    "CAPTURE_FIELDS",
    "MAX_FREQUENCY",
    "MAX_TOKEN_LENGTH",
    "MAX_URL_LENGTH",
    "METADATA_LIMITS",
    "PAYMENT_CREATE",
    "PAYMENT_CREATE_FIELDS",
    "REFUND_CREATE",
    "REFUND_CREATE_FIELDS",
    "SESSION_CREATE",
    "SESSION_CREATE_FIELDS",
    "STORED_CARD_CATEGORIES",
    "TOKEN_EXCLUDES",
    "Body",
    "BodyField",
    "FieldMissing",
    "Kind",
    "MetadataLimits",
    "check_card",
    "check_customer_details",
    "check_metadata",
    "check_setup_future_usage",
    "merge_extra_body",
    "stores_card",
]

#: ``setupFutureUsage.category`` values [doc: stored-payment-methods].
STORED_CARD_CATEGORIES: Final = (
    StoredCardCategory.EMPTY,
    StoredCardCategory.UNSCHEDULED,
    StoredCardCategory.RECURRENT,
    StoredCardCategory.INSTALLMENT,
)
#: ``recurringModel.recurrent.frequency``: minimum days between payments, at most 4000 [doc].
MAX_FREQUENCY: Final = 4000
#: Text members of ``customerDetails`` and its address, merchant ids and references.
_MAX_TEXT = 1024
#: A URL the gateway sends the customer to.
MAX_URL_LENGTH: Final = 2048
#: A card holder's name as printed.
_MAX_HOLDER = 200
#: A locale tag (RFC 5646 asks implementations to take tags of at least 35 characters).
_MAX_LOCALE = 35
#: A card token from BPC's mobile SDK: printable ASCII (its encryption's text form).
MAX_TOKEN_LENGTH: Final = 8192
#: What a card token replaces, and so must not come with it [doc: sdk_core_apiv2].
TOKEN_EXCLUDES: Final = ("number", "expiryMonth", "expiryYear", "cvc")
#: The open objects: bytes of their compact JSON, unknown members included.
_MAX_CUSTOMER_DETAILS_BYTES = 8 * 1024
_MAX_SETUP_FUTURE_USAGE_BYTES = 4 * 1024
_MAX_CARD_BYTES = 16 * 1024


class FieldMissing(InvalidArgumentError):
    """A required field is absent from a body (the gateway's side: ``parameter_missing``)."""


# --- kinds of values ---------------------------------------------------------------------------


@attrs.frozen
class Kind:
    """How the values of one kind of field are checked, sent and described.

    Attributes:
        description: what the value is, with its limits, for the reference docs' tables.
        to_wire: ``to_wire(name, value)``, the SDK's check: the caller's value (a model, a
            datetime, a mapping in wire form ...) as the JSON to send, or
            :class:`~bpcpay.InvalidArgumentError` naming ``name`` (or a field inside it).
        from_wire: the gateway's check of a received JSON value: the checked value as the
            sandbox keeps it (a datetime for a timestamp). None: the same as ``to_wire``,
            since a mapping is wire form on both sides.
    """

    description: str
    to_wire: Callable[[str, Any], Any]
    from_wire: Callable[[str, Any], Any] | None = None

    def receive(self, name: str, value: object) -> Any:
        """The gateway's check of ``value`` (:attr:`from_wire`, else :attr:`to_wire`)."""
        return (self.from_wire or self.to_wire)(name, value)


def _text_kind(max_length: int) -> Kind:
    def check(name: str, value: object) -> str:
        return check_string(name, value, max_length=max_length)

    return Kind(f"string, 1 to {max_length} characters", check)


def _url(name: str, value: object) -> str:
    url = check_url(name, value)  # text that can be sent as UTF-8, checked (and cached) there
    if len(url) > MAX_URL_LENGTH:
        raise InvalidArgumentError(name, f"must be at most {MAX_URL_LENGTH} characters")
    return url


def _receive_timestamp(name: str, value: object) -> Any:
    if not isinstance(value, str):
        raise InvalidArgumentError(name, "must be an ISO 8601 timestamp string")
    try:
        return parse_datetime(value)
    except (TypeError, ValueError):
        raise InvalidArgumentError(name, "must be an ISO 8601 timestamp") from None


_AMOUNT = Kind(f"integer in minor units (10000 is 100.00), 1 to {MAX_AMOUNT:,}", check_amount)
_CURRENCY = Kind("ISO 4217 letters (`EUR`); sent upper case", check_currency)
_URL = Kind(f"absolute http(s) URL, at most {MAX_URL_LENGTH} characters", _url)
#: check_string's own default limit: called as it is (a wrapper costs a call on the hot path).
_TEXT = Kind(f"string, 1 to {_MAX_TEXT} characters", check_string)
_CAPTURE_METHOD = Kind(
    f"`{CaptureMethod.AUTOMATIC}` (the gateway's default) or `{CaptureMethod.MANUAL}` (two-step)",
    check_capture_method,
)
_TIMESTAMP = Kind(
    "timezone-aware datetime, sent as UTC ISO 8601 (`2024-03-28T08:46:37Z`)",
    check_datetime,
    _receive_timestamp,
)


# --- helpers -----------------------------------------------------------------------------------


def _prune(value: Any) -> Any:
    """A model's wire form without its unset (None) members, at every level."""
    if isinstance(value, dict):
        return {k: _prune(v) for k, v in value.items() if v is not None}
    return value


def _python_path(model: type[Any], wire_path: str) -> str:
    """``recurringModel.recurrent.frequency`` inside a model, as its attribute names
    (``recurring_model.recurrent.frequency``); segments it has no field for stay as they are."""
    names: list[str] = []
    cls: Any = model
    for segment in wire_path.split("."):
        field = None
        if cls is not None:
            attrs.resolve_types(cls)
            field = next((f for f in attrs.fields(cls) if wire_key(f) == segment), None)
        if field is None:
            names.append(segment)
            cls = None
            continue
        names.append(field.name)
        cls = next((t for t in typing.get_args(field.type) if attrs.has(t)), None)
    return ".".join(names)


def _checked_shape(
    argument: str,
    value: object,
    model: type[Any],
    check: Callable[[str, dict[str, Any]], None],
    max_bytes: int,
) -> dict[str, Any]:
    """``value`` (a ``model`` or a mapping in wire form) as the dict to send, once ``check``
    accepted it and its JSON is at most ``max_bytes``; a refusal inside a model names its
    attributes, not its wire keys."""
    if isinstance(value, model):
        data: dict[str, Any] = _prune(unstructure(value))
    elif isinstance(value, Mapping):
        if not all(isinstance(key, str) for key in value):
            raise InvalidArgumentError(argument, "must have string keys (wire form, camelCase)")
        data = dict(value)
    else:
        raise InvalidArgumentError(
            argument,
            f"must be a {model.__name__} or a mapping in wire form (camelCase keys), got "
            f"{type(value).__name__}",
        )
    try:
        check(argument, data)
    except InvalidArgumentError as err:
        prefix = argument + "."
        if not isinstance(value, model) or not err.argument.startswith(prefix):
            raise
        inner = _python_path(model, err.argument.removeprefix(prefix))
        raise InvalidArgumentError(prefix + inner, err.problem) from None
    try:
        size = len(encode_json(data))  # unknown members too: refused here, under the name
    except InvalidArgumentError as err:
        raise InvalidArgumentError(argument, err.problem) from None
    if size > max_bytes:
        raise InvalidArgumentError(
            argument, f"must be at most {max_bytes} bytes as JSON, got {size}"
        )
    return data


def _object(argument: str, value: object) -> Mapping[str, Any]:
    if not isinstance(value, Mapping):
        raise InvalidArgumentError(argument, f"must be an object, got {type(value).__name__}")
    return value


def _required(argument: str, data: Mapping[str, Any], key: str, why: str = "") -> Any:
    value = data.get(key)
    if value is None:
        raise InvalidArgumentError(f"{argument}.{key}", f"is required{why}")
    return value


# --- metadata ----------------------------------------------------------------------------------


@attrs.frozen
class MetadataLimits:
    """The limits of ``metadata`` [inferred: BPC publishes none; these are Stripe's].

    Attributes:
        max_keys: keys in all.
        max_key_length: characters of one key.
        max_value_length: characters of one value.
        max_bytes: bytes of the whole object as compact JSON.
    """

    max_keys: int = 50
    max_key_length: int = 40
    max_value_length: int = 500
    max_bytes: int = 16 * 1024


#: ``metadata``'s limits, on both sides [inferred].
METADATA_LIMITS: Final = MetadataLimits()


def check_metadata(argument: str, value: object) -> dict[str, str]:
    """A flat map of string keys to string values, within :data:`METADATA_LIMITS`: at most 50
    keys, keys of at most 40 characters, values of at most 500, 16 KiB of JSON in all.

    Returns:
        A copy of the map.

    Raises:
        InvalidArgumentError: naming ``argument``; the message names the key at fault.
    """
    limits = METADATA_LIMITS
    if not isinstance(value, Mapping):
        raise InvalidArgumentError(argument, f"must be a mapping of str to str, got {value!r}")
    if len(value) > limits.max_keys:
        raise InvalidArgumentError(
            argument, f"must have at most {limits.max_keys} keys, got {len(value)}"
        )
    out: dict[str, str] = {}
    for key, item in value.items():
        if not isinstance(key, str) or not isinstance(item, str):
            raise InvalidArgumentError(
                argument, f"must map str to str; {key!r}: {item!r} is not (convert it first)"
            )
        if len(key) > limits.max_key_length:
            raise InvalidArgumentError(
                argument,
                f"keys must be at most {limits.max_key_length} characters; "
                f"{key[: limits.max_key_length]!r}... is longer",
            )
        if len(item) > limits.max_value_length:
            raise InvalidArgumentError(
                argument,
                f"values must be at most {limits.max_value_length} characters; that of {key!r} "
                f"has {len(item)}",
            )
        out[check_text(argument, key)] = check_text(argument, item)
    if out:
        size = len(encode_json(out))
        if size > limits.max_bytes:
            raise InvalidArgumentError(
                argument, f"must be at most {limits.max_bytes} bytes as JSON, got {size}"
            )
    return out


_METADATA = Kind(
    f"string-to-string map: at most {METADATA_LIMITS.max_keys} keys of at most "
    f"{METADATA_LIMITS.max_key_length} characters, values of at most "
    f"{METADATA_LIMITS.max_value_length}, {METADATA_LIMITS.max_bytes // 1024} KiB of JSON in all",
    check_metadata,
)


# --- the card block ----------------------------------------------------------------------------


def check_card(argument: str, value: object) -> dict[str, Any]:
    """The card of a direct payment: a PaymentCard, a CardToken, or the card object in wire
    form, either ``{number, expiryMonth, expiryYear, cvc, holderName?}`` [doc: sdk_core_apiv2
    for the four; holderName inferred] or ``{token}`` [doc: sdk_core_apiv2], the token BPC's
    mobile SDK made on the customer's device, which comes without the four. A PaymentCard's
    number may hold spaces (as printed); they are removed.

    Returns:
        The card object to send (``paymentMethod.card``).

    Raises:
        InvalidArgumentError: naming ``<argument>.<field>``; never the number, the CVC or the
            token.
    """
    if isinstance(value, CardToken) or (isinstance(value, Mapping) and "token" in value):
        return _checked_shape(argument, value, CardToken, _check_card_token, _MAX_CARD_BYTES)
    if isinstance(value, PaymentCard) and isinstance(value.number, str):
        value = attrs.evolve(value, number=value.number.replace(" ", ""))
    if not isinstance(value, (PaymentCard, Mapping)):
        raise InvalidArgumentError(
            argument,
            "must be a PaymentCard, a CardToken or a mapping in wire form (camelCase keys), got "
            f"{type(value).__name__}",
        )
    return _checked_shape(argument, value, PaymentCard, _check_card, _MAX_CARD_BYTES)


def _check_card_token(argument: str, card: dict[str, Any]) -> None:
    token = card.get("token")
    if not (
        isinstance(token, str)
        and 0 < len(token) <= MAX_TOKEN_LENGTH
        and token.isascii()
        and token.isprintable()
        and " " not in token
    ):
        raise InvalidArgumentError(
            f"{argument}.token",
            f"must be the token BPC's mobile SDK made: 1 to {MAX_TOKEN_LENGTH} printable ASCII "
            "characters without spaces",
        )
    for member in TOKEN_EXCLUDES:
        if card.get(member) is not None:
            raise InvalidArgumentError(
                f"{argument}.{member}",
                "must not be sent with a token (the token holds the card; BPC: don't specify "
                "cvc, expiryMonth, expiryYear and number with it)",
            )


def _check_card(argument: str, card: dict[str, Any]) -> None:
    number = card.get("number")
    if not (
        isinstance(number, str)
        and number.isascii()
        and number.isdigit()
        and 12 <= len(number) <= 19
        and luhn_ok(number)
    ):
        raise InvalidArgumentError(
            f"{argument}.number", "must be 12 to 19 digits with a valid check digit"
        )
    check_int(f"{argument}.expiryMonth", card.get("expiryMonth"), minimum=1, maximum=12)
    check_int(f"{argument}.expiryYear", card.get("expiryYear"), minimum=2000, maximum=2100)
    cvc = card.get("cvc")
    if not (isinstance(cvc, str) and cvc.isascii() and cvc.isdigit() and len(cvc) in (3, 4)):
        raise InvalidArgumentError(f"{argument}.cvc", "must be 3 or 4 digits")
    if card.get("holderName") is not None:
        check_string(f"{argument}.holderName", card["holderName"], max_length=_MAX_HOLDER)


_CARD = Kind(
    "a CardToken or `{token}` (from BPC's mobile SDK, at most "
    f"{MAX_TOKEN_LENGTH} characters, without the card's other members); or a PaymentCard, or "
    "the card object in wire form: `number` (12 to 19 digits, valid check "
    f"digit), `expiryMonth`, `expiryYear`, `cvc` (3 or 4 digits), `holderName` (at most "
    f"{_MAX_HOLDER} characters); {_MAX_CARD_BYTES // 1024} KiB of JSON at most",
    check_card,
)


# --- customerDetails ---------------------------------------------------------------------------

#: Text members of ``customerDetails`` and of its ``address``, read off the models (which hold
#: the names): ``address`` is published [doc: direct-integration], the others are [inferred].
#: Unknown members are sent and accepted as they are, within the object's size limit.
_CUSTOMER_TEXT = tuple(wire_key(f) for f in attrs.fields(CustomerDetails) if f.name != "address")
_ADDRESS_TEXT = tuple(wire_key(f) for f in attrs.fields(Address))


def check_customer_details(argument: str, value: object) -> dict[str, Any]:
    """CustomerDetails, or its wire form: text members and an ``address`` object.

    Returns:
        The object to send (a mapping as given, with its unknown members).

    Raises:
        InvalidArgumentError: naming ``<argument>.address.city`` and the like.
    """
    return _checked_shape(
        argument, value, CustomerDetails, _check_customer_details, _MAX_CUSTOMER_DETAILS_BYTES
    )


def _check_customer_details(argument: str, data: dict[str, Any]) -> None:
    for key in _CUSTOMER_TEXT:
        if data.get(key) is not None:
            check_text(f"{argument}.{key}", data[key], max_length=_MAX_TEXT)
    address = data.get("address")
    if address is not None:
        address = _object(f"{argument}.address", address)
        for key in _ADDRESS_TEXT:
            if address.get(key) is not None:
                check_text(f"{argument}.address.{key}", address[key], max_length=_MAX_TEXT)


_CUSTOMER_DETAILS = Kind(
    "a CustomerDetails, or its wire form: text members of at most "
    f"{_MAX_TEXT} characters and an `address` object; "
    f"{_MAX_CUSTOMER_DETAILS_BYTES // 1024} KiB of JSON at most",
    check_customer_details,
)


# --- setupFutureUsage --------------------------------------------------------------------------


def _check_recurrent(argument: str, value: object) -> None:
    recurrent = _object(argument, value)
    expiry = _required(argument, recurrent, "expiry")
    try:
        parse_date(expiry)
    except (TypeError, ValueError):
        raise InvalidArgumentError(
            f"{argument}.expiry", "must be a date written YYYY-MM-DD"
        ) from None
    check_int(
        f"{argument}.frequency",
        _required(argument, recurrent, "frequency"),
        minimum=1,
        maximum=MAX_FREQUENCY,
    )


def check_setup_future_usage(argument: str, value: object) -> dict[str, Any]:
    """SetupFutureUsage, or its wire form [doc: stored-payment-methods]::

        {"category": "recurrent",
         "recurringModel": {"recurrent": {"expiry": "2026-12-31", "frequency": 30}}}

    ``category`` is mandatory; ``recurringModel`` is mandatory for ``recurrent`` (with
    ``recurrent.expiry`` and ``recurrent.frequency``) and ``installment`` (with ``installment``,
    whose fields are unpublished).

    Returns:
        The object to send (a mapping as given).

    Raises:
        InvalidArgumentError: naming the nested field, e.g.
            ``<argument>.recurringModel.recurrent.frequency``.
    """
    return _checked_shape(
        argument,
        value,
        SetupFutureUsage,
        _check_setup_future_usage,
        _MAX_SETUP_FUTURE_USAGE_BYTES,
    )


def _check_setup_future_usage(argument: str, data: dict[str, Any]) -> None:
    category = data.get("category")
    if category not in STORED_CARD_CATEGORIES:
        raise InvalidArgumentError(
            f"{argument}.category",
            f"must be one of {', '.join(map(repr, STORED_CARD_CATEGORIES))}, got {category!r}",
        )
    model = data.get("recurringModel")
    if category in (StoredCardCategory.RECURRENT, StoredCardCategory.INSTALLMENT):
        model = _required(argument, data, "recurringModel", f" for category {category!r}")
    if model is None:
        return
    path = f"{argument}.recurringModel"
    model = _object(path, model)
    recurrent, installment = model.get("recurrent"), model.get("installment")
    if category == StoredCardCategory.RECURRENT:
        recurrent = _required(path, model, "recurrent", " for category 'recurrent'")
    if category == StoredCardCategory.INSTALLMENT:
        installment = _required(path, model, "installment", " for category 'installment'")
    if recurrent is not None:
        _check_recurrent(f"{path}.recurrent", recurrent)
    if installment is not None:
        _object(f"{path}.installment", installment)


_SETUP_FUTURE_USAGE = Kind(
    "a SetupFutureUsage, or its wire form: `category` "
    f"({', '.join(f'`{c}`' for c in STORED_CARD_CATEGORIES)}), `recurringModel` "
    f"(`recurrent {{expiry, frequency ≤ {MAX_FREQUENCY}}}`, `installment`); "
    f"{_MAX_SETUP_FUTURE_USAGE_BYTES // 1024} KiB of JSON at most",
    check_setup_future_usage,
)


def stores_card(setup_future_usage: Mapping[str, Any] | None) -> bool:
    """True when a checked ``setupFutureUsage`` asks to keep the card (any category but
    ``empty``) [inferred: the sandbox's rule].

    Args:
        setup_future_usage: the checked wire form, or None when the request had none.

    Returns:
        Whether the card is to be stored.
    """
    return (
        setup_future_usage is not None
        and setup_future_usage.get("category") != StoredCardCategory.EMPTY
    )


# --- the declarations --------------------------------------------------------------------------


@attrs.frozen
class BodyField:
    """One field of a request body.

    Attributes:
        wire: the JSON path, dotted when the value sits in an object of its own
            (``paymentData.captureMethod``): ``{"paymentData": {"captureMethod": ...}}``.
        argument: the SDK keyword that sets it (``capture_method``).
        kind: how its values are checked and described.
        source: ``"doc: <page>[, <page>]"`` (published) or ``"inferred"`` (our reading).
        required: the body is refused without it.
    """

    wire: str
    argument: str
    kind: Kind
    source: str
    required: bool = False

    @property
    def key(self) -> str:
        """The top-level JSON key (``paymentData``)."""
        return self.wire.partition(".")[0]


def _compile_build(
    name: str, fields: tuple[BodyField, ...], one_of: tuple[tuple[str, ...], ...]
) -> Any:
    """The SDK's side of a declaration as one straight-line function, compiled once:
    ``build(*, <each keyword>)`` checks each given keyword with its kind and sets its wire path,
    in the declared order, as a hand-written ``if`` chain would (a loop over the fields cost
    ``sessions.create`` about 3% more instructions: benchmarks/instructions.py).

    The source is made from the declaration only (keywords and wire keys, checked to be plain
    identifiers and JSON keys); the checkers are passed in by name, never written into it.
    """
    namespace: dict[str, Any] = {"NOT_GIVEN": NOT_GIVEN, "_one_of": _one_of_error}
    lines = [f"def build(*, {', '.join(f.argument for f in fields)}):"]
    for index, group in enumerate(one_of):
        given = " + ".join(f"({argument} is not NOT_GIVEN)" for argument in group)
        namespace[f"_group{index}"] = group
        lines.append(f"    if {given} != 1:")
        lines.append(f"        raise _one_of(_group{index})")
    display: list[str] = []  # the leading required top-level fields: one dict display
    for index, field in enumerate(fields):
        keys = field.wire.split(".")
        if not (field.argument.isidentifier() and all(k.isidentifier() for k in keys)):
            raise ValueError(f"{name}: {field.argument!r} / {field.wire!r} cannot be compiled")
        namespace[f"_check{index}"] = field.kind.to_wire
        value = f"_check{index}({field.argument!r}, {field.argument})"
        if field.required and len(keys) == 1 and len(display) == index:
            display.append(f"{keys[0]!r}: {value}")
            continue
        if len(display) == index:
            lines.append(f"    body = {{{', '.join(display)}}}")
        target = "body" + "".join(f".setdefault({k!r}, {{}})" for k in keys[:-1])
        statement = f"{target}[{keys[-1]!r}] = {value}"
        if field.required:
            lines.append(f"    {statement}")
        else:
            lines.append(f"    if {field.argument} is not NOT_GIVEN:")
            lines.append(f"        {statement}")
    if len(display) == len(fields):
        lines.append(f"    body = {{{', '.join(display)}}}")
    lines.append("    return body")
    exec(compile("\n".join(lines), f"<body of {name}>", "exec"), namespace)  # noqa: S102
    return namespace["build"]


def _one_of_error(group: tuple[str, ...]) -> InvalidArgumentError:
    names = " or ".join(f"{argument}=" for argument in group)
    return InvalidArgumentError(group[0], f"give exactly one of {names}")


class Body:
    """The declaration of one request body, and what is derived from it.

    Args:
        name: the endpoint's name (``sessions.create``).
        fields: its fields, in the order they are sent.
        one_of: groups of keywords of which exactly one must be given (a direct payment's
            ``card`` or ``stored_payment_method_id``).
    """

    __slots__ = ("_groups", "_heads", "_keys", "build", "fields", "name", "one_of")

    def __init__(
        self,
        name: str,
        fields: tuple[BodyField, ...],
        *,
        one_of: tuple[tuple[str, ...], ...] = (),
    ) -> None:
        self.name = name
        self.fields = fields
        self.one_of = one_of
        by_argument = {f.argument: f for f in fields}
        if len(by_argument) != len(fields) or len({f.wire for f in fields}) != len(fields):
            raise ValueError(f"{name}: a keyword or wire name is declared twice")
        self._groups = tuple(tuple(by_argument[a] for a in group) for group in one_of)
        #: The group whose first member a parse reaches first: checked then, in field order.
        self._heads = {group[0].argument: group for group in self._groups}
        self._keys = frozenset(f.key for f in fields)
        #: ``build(**keywords)``: the body to send, from a resource method's keywords (each
        #: declared one, NOT_GIVEN when the caller left it out), in the declared order and
        #: without the fields not given. Raises InvalidArgumentError naming the keyword (or a
        #: field inside it), before anything is sent. Compiled once: it is the hot path.
        self.build: Callable[..., dict[str, Any]] = _compile_build(name, fields, one_of)

    def __repr__(self) -> str:
        return f"<Body {self.name}: {len(self.fields)} fields>"

    # --- the gateway's side --------------------------------------------------------------------

    def parse(self, data: Mapping[str, Any]) -> dict[str, Any]:
        """Check a received body: the values of the fields it holds, by SDK keyword.

        A field whose JSON value is null counts as absent. Fields the declaration does not know
        are left for :meth:`unknown`.

        Args:
            data: the decoded JSON object.

        Returns:
            ``{keyword: checked value}`` (a timestamp as an aware datetime).

        Raises:
            FieldMissing: a required field is absent (named by its wire path).
            InvalidArgumentError: a value is refused, named by its wire path
                (``paymentData.captureMethod``), or not exactly one of a group was sent.
        """
        values: dict[str, Any] = {}
        for field in self.fields:
            group = self._heads.get(field.argument)
            if group is not None:
                present = [f for f in group if data.get(f.key) is not None]
                if len(present) != 1:
                    names = " and ".join(f.key for f in group)
                    raise InvalidArgumentError(group[0].key, f"give exactly one of {names}")
            value = self._lookup(data, field)
            if value is None:
                if field.required or self._chosen(data, field):
                    raise FieldMissing(field.wire, "is required")
                continue
            values[field.argument] = field.kind.receive(field.wire, value)
        return values

    def _chosen(self, data: Mapping[str, Any], field: BodyField) -> bool:
        """True when ``field`` is the member of a one-of group that ``data`` chose (by its
        top-level key) but left empty (``paymentMethod`` without its ``card``)."""
        return any(field in group for group in self._groups) and data.get(field.key) is not None

    @staticmethod
    def _lookup(data: Mapping[str, Any], field: BodyField) -> Any:
        *parents, last = field.wire.split(".")
        where = ""
        node: Any = data
        for key in parents:
            where += key
            node = node.get(key)
            if node is None:
                return None
            _object(where, node)
            where += "."
        return node.get(last)

    def unknown(self, data: Mapping[str, Any]) -> dict[str, Any]:
        """The top-level fields of ``data`` that the declaration does not know (the sandbox
        returns them as they were sent)."""
        return {key: value for key, value in data.items() if key not in self._keys}

    # --- the reference docs --------------------------------------------------------------------

    def table(self) -> str:
        """The body's parameter table (Markdown), as docs/reference/bodies.md shows it."""
        lines = [
            "| field | keyword | value | required | source |",
            "|---|---|---|---|---|",
        ]
        for f in self.fields:
            required = "yes" if f.required else ""
            source = f.source if f.source == "inferred" else f"[{f.source}]"
            lines.append(
                f"| `{f.wire}` | `{f.argument}` | {f.kind.description} | {required} | {source} |"
            )
        for group in self._groups:
            names = " and ".join(f"`{f.argument}`" for f in group)
            lines.append("")
            lines.append(f"Exactly one of {names}.")
        return "\n".join(lines) + "\n"


#: ``POST /sessions`` [doc: redirect-integration]; the contract's "Session create" table. The
#: fields are in the order they are sent.
SESSION_CREATE: Final = Body(
    "sessions.create",
    (
        BodyField("amount", "amount", _AMOUNT, "doc: redirect-integration", required=True),
        BodyField("currency", "currency", _CURRENCY, "doc: redirect-integration", required=True),
        BodyField("successUrl", "success_url", _URL, "doc: redirect-integration", required=True),
        BodyField("failureUrl", "failure_url", _URL, "doc: redirect-integration", required=True),
        # Returned by the gateway [doc: redirect-integration]; that they can be sent is ours.
        BodyField("merchantReferenceId", "merchant_reference_id", _TEXT, "inferred"),
        BodyField("locale", "locale", _text_kind(_MAX_LOCALE), "inferred"),
        BodyField("metadata", "metadata", _METADATA, "inferred"),
        BodyField("customerDetails", "customer_details", _CUSTOMER_DETAILS, "inferred"),
        BodyField("paymentData.captureMethod", "capture_method", _CAPTURE_METHOD, "doc: two-step"),
        BodyField("expiresAt", "expires_at", _TIMESTAMP, "inferred"),
        BodyField(
            "merchantCustomerId", "merchant_customer_id", _TEXT, "doc: stored-payment-methods"
        ),
        BodyField(
            "setupFutureUsage",
            "setup_future_usage",
            _SETUP_FUTURE_USAGE,
            "doc: stored-payment-methods",
        ),
    ),
)

#: ``POST /payments`` [doc: direct-integration]; the contract's "Payment create" section.
PAYMENT_CREATE: Final = Body(
    "payments.create",
    (
        BodyField("amount", "amount", _AMOUNT, "doc: direct-integration", required=True),
        BodyField("currency", "currency", _CURRENCY, "doc: direct-integration", required=True),
        # The block is published [doc: direct-integration], its members on sdk_core_apiv2.
        BodyField("paymentMethod.card", "card", _CARD, "doc: direct-integration, sdk_core_apiv2"),
        BodyField(
            "storedPaymentMethodId", "stored_payment_method_id", _TEXT, "doc: direct-integration"
        ),
        BodyField(
            "captureMethod", "capture_method", _CAPTURE_METHOD, "doc: two-step, direct-integration"
        ),
        BodyField(
            "customerDetails", "customer_details", _CUSTOMER_DETAILS, "doc: direct-integration"
        ),
        BodyField(
            "merchantCustomerId", "merchant_customer_id", _TEXT, "doc: stored-payment-methods"
        ),
        BodyField(
            "setupFutureUsage",
            "setup_future_usage",
            _SETUP_FUTURE_USAGE,
            "doc: stored-payment-methods",
        ),
        BodyField("merchantReferenceId", "merchant_reference_id", _TEXT, "inferred"),
        BodyField("metadata", "metadata", _METADATA, "inferred"),
    ),
    one_of=(("card", "stored_payment_method_id"),),
)

#: ``POST /payments/{id}/capture``: the path is published, the body is our reading.
CAPTURE: Final = Body("payments.capture", (BodyField("amount", "amount", _AMOUNT, "inferred"),))

#: ``POST /refunds``: refunds exist [doc: cancel-refund, webhooks]; path and body are inferred.
REFUND_CREATE: Final = Body(
    "refunds.create",
    (
        BodyField("payment", "payment_id", _TEXT, "inferred", required=True),
        BodyField("amount", "amount", _AMOUNT, "inferred"),
        BodyField("reason", "reason", _TEXT, "inferred"),
        BodyField("metadata", "metadata", _METADATA, "inferred"),
    ),
)

#: Every declared body, by its endpoint's name.
BODIES: Final = {
    body.name: body for body in (SESSION_CREATE, PAYMENT_CREATE, CAPTURE, REFUND_CREATE)
}

#: The fields of each body, as the endpoint table holds them (``Endpoint.body``).
SESSION_CREATE_FIELDS: Final = SESSION_CREATE.fields
PAYMENT_CREATE_FIELDS: Final = PAYMENT_CREATE.fields
CAPTURE_FIELDS: Final = CAPTURE.fields
REFUND_CREATE_FIELDS: Final = REFUND_CREATE.fields


# --- extra_body --------------------------------------------------------------------------------


def merge_extra_body(body: dict[str, Any], extra_body: object) -> dict[str, Any]:
    """``body`` with the caller's extra top-level fields merged in (``extra_body=``).

    For a field bpcpay does not know yet. A key the keyword arguments already set is refused
    (pass that keyword instead), so nothing checked is silently replaced.

    Args:
        body: the body the keyword arguments built (not modified).
        extra_body: the caller's ``extra_body``.

    Returns:
        A new body with both.

    Raises:
        InvalidArgumentError: ``extra_body`` is not a str-keyed JSON object, or repeats a field.
    """
    if not isinstance(extra_body, Mapping):
        raise InvalidArgumentError(
            "extra_body", f"must be a mapping of JSON fields, got {type(extra_body).__name__}"
        )
    for key in extra_body:
        if not isinstance(key, str):
            raise InvalidArgumentError("extra_body", f"keys must be strings, got {key!r}")
        if key in body:
            raise InvalidArgumentError(
                "extra_body", f"{key!r} is already set by a keyword argument; pass it only once"
            )
    try:
        encode_json(extra_body)
    except InvalidArgumentError as exc:
        raise InvalidArgumentError("extra_body", exc.problem) from None
    return {**body, **extra_body}
