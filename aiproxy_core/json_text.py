"""Parsing a JSON body the gateway may have to pass on, store or encode again.

``json.loads`` accepts two things the gateway cannot carry: nesting deeper than Python's recursion
allows (it raises RecursionError, not ValueError) and lone UTF-16 surrogates (``"\\ud800"``, or
the same code point as raw bytes, which ``json.loads`` decodes with ``surrogatepass``): such a
string is no Unicode text and fails the moment it is encoded as UTF-8 again. Both callers, the
Admin API's body reader and ``ctx.request.json``, refuse them here with one reason each.
"""

from __future__ import annotations

import json
from typing import Any

import orjson

__all__ = ["UnfitJSON", "loads", "strict_loads"]

#: Every digit as "0", so that nineteen digits in a row (maybe an integer past 64 bits, which
#: orjson reads as a float) are one substring search: ~1 µs for a queue item, where a regular
#: expression took ~8 µs (more than the parse it guarded). Only then is the parsed value walked.
_DIGITS_AS_ZERO = bytes.maketrans(b"123456789", b"000000000")
_NINETEEN_DIGITS = b"0" * 19


def loads(data: bytes | str) -> Any:
    """``json.loads``, the same values and the same errors, faster: orjson (C, ~4x faster on the
    bodies and queue items the request path reads) unless the text could hold an integer past 64
    bits (orjson reads those as floats); what orjson refuses (``NaN``, ``Infinity``, deep nesting)
    goes to ``json.loads``, which accepts it or raises its own error."""
    raw = data if isinstance(data, bytes) else data.encode("utf-8", "surrogatepass")
    try:
        value = orjson.loads(data)
    except orjson.JSONDecodeError:
        return json.loads(data)
    # Nineteen digits in a row are mostly inside strings (a request id's hex, say): only when
    # orjson also gave a float as large as an integer past 64 bits may it have read one as a float.
    # find(), not `in`: see routing/formats.py (`bytes in bytes` builds and clears a TypeError on 3.11).
    if raw.translate(_DIGITS_AS_ZERO).find(_NINETEEN_DIGITS) >= 0 and _holds_huge_float(value):
        return json.loads(data)
    return value


#: The smallest magnitude orjson gives a float for an integer it cannot hold (below -2**63, or 2**64 up).
_HUGE = float(2**63)


def _holds_huge_float(value: Any) -> bool:
    # A loop over a stack, not a call per value: a queued event is a dozen flat fields.
    stack = [value]
    while stack:
        item = stack.pop()
        kind = type(item)
        if kind is float:
            if not -_HUGE < item < _HUGE:
                return True
        elif kind is dict:
            stack += item.values()
        elif kind is list:
            stack += item
    return False


class UnfitJSON(ValueError):
    """Not JSON, or JSON the gateway cannot carry; the message says which and why."""


def strict_loads(body: bytes | str) -> Any:
    try:
        value = loads(body)
    except RecursionError:
        raise UnfitJSON("it is nested too deeply; flatten it") from None
    except ValueError as exc:
        raise UnfitJSON(str(exc)) from None
    raw = body.encode("utf-8", "surrogatepass") if isinstance(body, str) else body
    # Only an escape or a 3-byte sequence starting 0xED can be a surrogate: skip the check otherwise.
    if raw.find(b"\\u") >= 0 or raw.find(b"\xed") >= 0:
        try:
            json.dumps(value, ensure_ascii=False).encode("utf-8")
        except UnicodeEncodeError:
            raise UnfitJSON("it holds a lone UTF-16 surrogate (such as \\ud800), which is no character; send valid Unicode") from None
        except RecursionError:
            raise UnfitJSON("it is nested too deeply; flatten it") from None
    return value
