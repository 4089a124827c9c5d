"""Decoding JSON: orjson when ``bpcpay[speedups]`` is installed, else the standard library.

Answers and webhook events are decoded through :func:`loads` here, never ``json.loads``
directly, so the faster decoder is used wherever it is installed and both paths behave alike:
a body that is not JSON raises a ``ValueError`` either way (orjson's ``JSONDecodeError`` is one;
so are ``UnicodeDecodeError`` and the standard library's errors), and :data:`DECODE_ERRORS` lists
everything either decoder raises for a bad body. Pure: no I/O.

orjson reads an integer beyond 64 bits as a float, losing its last digits; such a number has at
least 19 digits, so a body with a run of 19 digits is decoded by the standard library instead,
and every value comes out exact. The decoders still differ on ``NaN``/``Infinity``, which orjson
refuses and the standard library accepts; a model refuses them anyway.
"""

from __future__ import annotations

import contextlib
import json
from collections.abc import Callable, Iterator
from typing import Any, Literal

__all__ = ["DECODE_ERRORS", "SPEEDUPS", "loads", "use"]

#: What ``json.loads`` decodes a str with when given no options.
_decode_text = json.JSONDecoder().decode


def _stdlib_loads(body: bytes) -> Any:
    """``json.loads(body)``, without its search for UTF-16 and UTF-32 when the body is plainly
    UTF-8: a JSON object or array whose second byte is not NUL is (``json.detect_encoding``'s
    own rule). That search and loads' option checks cost 8k of the 48k instructions of
    decoding a 577-byte session; the same decoder runs, with the same errors."""
    if body[:1] in _OPENING and body[1:2] != b"\x00":
        return _decode_text(body.decode("utf-8", "surrogatepass"))
    return json.loads(body)


_OPENING = (b"{", b"[")

try:
    import orjson
except ImportError:  # pragma: no cover - the test extra installs orjson
    _fast_loads: Callable[[bytes], Any] | None = None
else:
    _orjson_loads = orjson.loads
    # Every digit becomes "0", every other byte a space: one C pass (a regular expression
    # searching for 19 digits takes four times as long as orjson itself).
    _DIGITS_AS_ZEROS = bytes(0x30 if 0x30 <= b <= 0x39 else 0x20 for b in range(256))
    # The shortest integer beyond 64 bits has 19 digits (-9223372036854775809); a long string
    # or fraction may match too, and is then merely decoded more slowly.
    _LONG_NUMBER = b"0" * 19

    def _fast_loads(body: bytes) -> Any:
        """orjson, unless the body may hold an integer orjson would round."""
        if _LONG_NUMBER in body.translate(_DIGITS_AS_ZEROS):
            return _stdlib_loads(body)
        return _orjson_loads(body)


#: True when orjson is installed (``bpcpay[speedups]``) and used by default.
SPEEDUPS = _fast_loads is not None

#: What decoding a bad body may raise, with either decoder (deep nesting included).
DECODE_ERRORS = (ValueError, UnicodeDecodeError, RecursionError)

#: The decoder in use: bytes in, Python values out. Read it at call time (``_json.loads``), so
#: :func:`use` can switch it.
loads: Callable[[bytes], Any] = _fast_loads or _stdlib_loads


@contextlib.contextmanager
def use(decoder: Literal["json", "orjson"]) -> Iterator[None]:
    """Decode with ``decoder`` inside the block, in the whole process (for tests and the
    benchmark, which measure both paths side by side); the previous one is restored after.

    Args:
        decoder: ``"json"`` (the standard library) or ``"orjson"``.

    Raises:
        RuntimeError: ``"orjson"`` was asked for and is not installed.
    """
    global loads
    if decoder == "orjson" and _fast_loads is None:  # pragma: no cover - see above
        raise RuntimeError("orjson is not installed (pip install 'bpcpay[speedups]')")
    previous = loads
    loads = _stdlib_loads if decoder == "json" else _fast_loads  # type: ignore[assignment]
    try:
        yield
    finally:
        loads = previous
