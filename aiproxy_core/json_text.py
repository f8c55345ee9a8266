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

__all__ = ["UnfitJSON", "strict_loads"]


class UnfitJSON(ValueError):
    """Not JSON, or JSON the gateway cannot carry; the message says which and why."""


def strict_loads(body: bytes | str) -> Any:
    try:
        value = json.loads(body)
    except RecursionError:
        raise UnfitJSON("it is nested too deeply; flatten it") from None
    except ValueError as exc:
        raise UnfitJSON(str(exc)) from None
    raw = body.encode("utf-8", "surrogatepass") if isinstance(body, str) else body
    # Only an escape or a 3-byte sequence starting 0xED can be a surrogate: skip the check otherwise.
    if b"\\u" in raw or b"\xed" in raw:
        try:
            json.dumps(value, ensure_ascii=False).encode("utf-8")
        except UnicodeEncodeError:
            raise UnfitJSON("it holds a lone UTF-16 surrogate (such as \\ud800), which is no character; send valid Unicode") from None
        except RecursionError:
            raise UnfitJSON("it is nested too deeply; flatten it") from None
    return value
