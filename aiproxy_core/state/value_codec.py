"""How state values are checked and written, the same way on every backend.

A value is JSON-compatible data (dict with str keys, list, str, int, float, bool, None) or
``bytes``, and reads back equal to what was written, with its types: bytes stay bytes, ``1``
stays an int, ``1.0`` a float. What could not read back equal is refused with a ValueError naming
where it is (``value['a'][2] is a set``) before anything is written: a set, a tuple (it would
come back a list), a dict key that is not a str (JSON would turn ``1`` into ``"1"``), NaN or an
infinity, bytes inside other data, a str with a lone surrogate.

The encoding is canonical (sorted keys, no spaces), so two equal values of the same types are
the same text; compare-and-set compares that text (in a Lua script on Redis), which is why
``1`` does not match ``1.0`` or ``True``.

On Redis a value is one string: ``j`` then the JSON text, or ``b`` then the bytes in base64 (the
store's client decodes replies as UTF-8, so raw bytes would not survive; base64 costs 4/3 of the
size). SQLite keeps JSON as TEXT and bytes as a BLOB, unencoded.
"""

from __future__ import annotations

import base64
import binascii
import json
import math
from typing import Any

import orjson

from ..json_text import loads

__all__ = ["MAX_FIELD", "MAX_VALUE_BYTES", "check_fields", "check_ttl", "decode", "dump_json", "encode", "field_overflow", "load_json", "ttl_milliseconds", "wrong_kind_for_increment"]

#: The largest value, encoded (Redis's own limit for one string; base64 makes bytes 4/3 larger).
MAX_VALUE_BYTES = 512 * 1024 * 1024

#: The magnitude an integer field stays below: under 2**63 (Redis's HINCRBY range) with room for
#: the Lua script's double-precision check before it writes.
MAX_FIELD = 9_200_000_000_000_000_000

_KINDS = "dict (str keys), list, str, int, float, bool or None, or the whole value bytes"
_dumps = json.JSONEncoder(ensure_ascii=False, allow_nan=False, sort_keys=True, separators=(",", ":")).encode
load_json = loads

# What _fits finds: refused (then _check says why), or fits and orjson writes it exactly as _dumps
# does, or fits but only _dumps writes it canonically (see _fits).
_REFUSED, _FAST, _CANONICAL_ONLY = 0, 1, 2


def dump_json(value: Any) -> str:
    """``value`` (not bytes) as canonical JSON text, or a ValueError saying what cannot be stored.

    The text is :data:`_dumps`'s (json with sorted keys, no spaces, UTF-8 as is): compare-and-set
    compares it, so it must not change between versions. orjson writes the same text ~5x faster
    for everything but floats it would write with an exponent (``1e-05`` is ``1e-5`` there) and
    integers past 64 bits (it refuses them), which :func:`_fits` sends to ``_dumps``; a property
    test compares both on generated values (tests/state/test_value_codec.py).
    """
    try:
        kind = _fits(value)
        if kind == _REFUSED:
            _check(value, "value")  # raises, naming where the value went wrong
            kind = _CANONICAL_ONLY  # a subclass _check accepts: the careful way
    except RecursionError:
        raise ValueError("the value is nested too deeply to store") from None
    text = None
    if kind == _FAST:
        try:
            text = orjson.dumps(value, option=orjson.OPT_SORT_KEYS).decode()
        except orjson.JSONEncodeError:  # a lone surrogate, or deeper than orjson goes
            text = None
    if text is None:
        try:
            text = _dumps(value)
        except RecursionError:
            raise ValueError("the value is nested too deeply to store") from None
    _check_size(text)
    return text


def encode(value: Any) -> str:
    """``value`` as one Redis string: ``j<json>`` or ``b<base64>``."""
    if isinstance(value, bytes):
        text = "b" + base64.b64encode(value).decode("ascii")
        if len(text) > MAX_VALUE_BYTES:
            raise ValueError(f"the value is {len(value)} bytes; a state value is at most {MAX_VALUE_BYTES * 3 // 4} bytes")
        return text
    return "j" + dump_json(value)


def decode(text: str) -> Any:
    """The value :func:`encode` wrote."""
    tag, payload = text[:1], text[1:]
    if tag == "j":
        return loads(payload)
    if tag == "b":
        try:
            return base64.b64decode(payload, validate=True)
        except binascii.Error:
            pass
    raise ValueError("this key holds something the state API did not write (not a state value)")


def check_ttl(ttl: float | None) -> float | None:
    """``ttl`` if it is a positive, finite number of seconds (or None: never expires)."""
    if ttl is None:
        return None
    if isinstance(ttl, bool) or not isinstance(ttl, (int, float)) or not math.isfinite(ttl) or ttl <= 0:
        raise ValueError(f"ttl is a positive number of seconds (or None: never expires), not {ttl!r:.40}")
    return float(ttl)


def ttl_milliseconds(ttl: float | None) -> int | None:
    """``ttl`` in whole milliseconds for PEXPIRE/PX (at least 1)."""
    seconds = check_ttl(ttl)
    return None if seconds is None else max(1, round(seconds * 1000))


def wrong_kind_for_increment(key: str) -> ValueError:
    return ValueError(f"the key {key!r:.80} holds a value (written by set), not integer fields: nothing was changed")


def field_overflow(key: str, name: str) -> ValueError:
    return ValueError(f"field {name!r:.40} of {key!r:.80} would pass {MAX_FIELD} in magnitude: nothing was changed")


def check_fields(fields: dict[str, int]) -> dict[str, int]:
    """``fields`` of an increment: str names to ints (not bools) of magnitude below :data:`MAX_FIELD`."""
    if not isinstance(fields, dict):
        raise ValueError(f"fields is a dict of field names to integers, not a {type(fields).__name__}")
    for name, amount in fields.items():
        if not isinstance(name, str) or not name or "\x00" in name or len(name) > 512:
            raise ValueError(f"a field name is a non-empty str of at most 512 characters without NUL, not {name!r:.40}")
        if isinstance(amount, bool) or not isinstance(amount, int) or abs(amount) >= MAX_FIELD:
            raise ValueError(f"field {name!r:.40} is incremented by an int of magnitude below {MAX_FIELD}, not {amount!r:.40}")
    return fields


_INT64_LOW, _UINT64_END = -(2**63), 2**64


#: isinstance(key, str) as a builtin callable.
_IS_STR = str.__instancecheck__


def _fits(value: Any) -> int:
    """What :func:`_check` accepts, checked without building the paths its messages need (a value
    is written on every request by some plugins; a refused one is rare and gets its message);
    and whether orjson writes it as ``_dumps`` does: not a float it would write with an exponent
    (Python's repr uses one outside 1e-4 <= |x| < 1e16), not an integer past 64 bits."""
    if value is None or isinstance(value, str):
        return _FAST
    if isinstance(value, int):  # bool is an int
        return _FAST if _INT64_LOW <= value < _UINT64_END else _CANONICAL_ONLY
    if isinstance(value, float):
        if not math.isfinite(value):
            return _REFUSED
        return _FAST if value == 0 or 1e-4 <= abs(value) < 1e16 else _CANONICAL_ONLY
    if isinstance(value, (list, dict)):
        kind = _FAST
        for item in value.values() if isinstance(value, dict) else value:
            kind_of = type(item)
            if kind_of is str or item is None or (kind_of is int and _INT64_LOW <= item < _UINT64_END):
                continue  # the common flat fields, without a call: a billing event is 13 of them
            found = _fits(item)
            if found == _REFUSED:
                return _REFUSED
            if found > kind:
                kind = found
        if isinstance(value, dict) and not all(map(_IS_STR, value)):  # all in C: no Python frame per key
            return _REFUSED
        return kind
    return _REFUSED


def _check(value: Any, path: str) -> None:
    # isinstance, not type(): subclasses (an IntEnum, an OrderedDict) read back equal as their base.
    if value is None or isinstance(value, (str, bool, int)):
        return
    if isinstance(value, float):
        if not math.isfinite(value):
            raise ValueError(f"{path} is {value!r}: JSON has no NaN or infinity; store a number, a str or None")
        return
    if isinstance(value, list):
        for index, item in enumerate(value):
            _check(item, f"{path}[{index}]")
        return
    if isinstance(value, dict):
        for key, item in value.items():
            if not isinstance(key, str):
                raise ValueError(f"{path} has the key {key!r:.40} ({type(key).__name__}): dict keys of a state value are str")
            _check(item, f"{path}[{key!r:.40}]")
        return
    if isinstance(value, bytes):
        raise ValueError(f"{path} is bytes: bytes may be a whole value, not part of one (encode them, e.g. base64)")
    raise ValueError(f"{path} is a {type(value).__name__}: a state value holds {_KINDS}")


def _check_size(text: str) -> None:
    size = len(text)
    if not text.isascii():
        try:
            size = len(text.encode("utf-8"))
        except UnicodeEncodeError:
            raise ValueError("the value holds a str with a lone surrogate (not valid Unicode text)") from None
    if size > MAX_VALUE_BYTES:
        raise ValueError(f"the value encodes to {size} bytes; a state value is at most {MAX_VALUE_BYTES} bytes")
