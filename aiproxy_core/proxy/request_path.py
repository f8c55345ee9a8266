"""The one path a request is matched, checked and forwarded by: decoded once, dot segments removed.

A gateway that matched on one spelling of a path and forwarded another would let a client leave
the rule it matched: ``/v1/public/../private/x`` matched ``/v1/public`` while the upstream resolved
it to ``/v1/private/x``. So the path is decoded (percent-escapes), its dot segments removed as
RFC 3986 §5.2.4 says, and that result is both what rules and key scopes are matched against and
what the upstream receives (re-encoded where needed).

Escapes that would change the path's structure once decoded (``%2F`` a separator, ``%3F`` a query,
``%23`` a fragment, ``%5C`` a backslash that some servers take for ``/``, ``%00``) are refused
rather than guessed at, as are raw backslashes and control characters: no legitimate client of
an AI API needs them in a path.
"""

from __future__ import annotations

import re
from urllib.parse import quote, unquote_to_bytes

from ..errors import BadRequest

__all__ = ["RequestPath", "request_path"]

#: Every byte a path can hold and still be taken as it is; anything else needs the careful way:
#: escapes, dots (a segment may be ``.`` or ``..``), backslashes, control characters, spaces and
#: bytes beyond ASCII. Most AI API paths have none. (``raw.translate(None, _PLAIN)`` leaves
#: those: one C loop, a third of a regular expression's character class.)
_PLAIN = bytes(set(range(0x21, 0x7F)) - set(b"%.\\"))
#: Escapes whose decoded byte would become structure: ``/``, ``?``, ``#``, ``\``, NUL.
_STRUCTURAL_ESCAPE = re.compile(rb"%(?:2[fF]|3[fF]|23|5[cC]|00)")
_BAD_ESCAPE = re.compile(rb"%(?![0-9A-Fa-f]{2})")
#: What stays as it is when the normalised path is encoded again for the upstream (RFC 3986
#: pchar and ``/``); everything else is percent-encoded.
_SAFE = "/:@!$&'()*+,;=-._~"


class RequestPath:
    """``decoded`` is matched and shown to hooks; ``encoded`` is its spelling on the wire."""

    __slots__ = ("decoded", "encoded")

    def __init__(self, decoded: str, encoded: str) -> None:
        self.decoded = decoded
        self.encoded = encoded


def _invalid(why: str) -> BadRequest:
    return BadRequest(f"the request path {why}; send a plain path such as /v1/chat/completions", code="invalid_path")


def request_path(raw: bytes) -> RequestPath:
    """The normalised path of a request target's raw path bytes (the query, if present, cut off).

    Raises a 400 ``invalid_path`` for encoded separators, backslashes, control characters, bad
    escapes, bytes that are not UTF-8, and a path that does not start with ``/``.
    """
    query_at = raw.find(b"?")  # some ASGI servers leave the query in raw_path
    if query_at >= 0:
        raw = raw[:query_at]
    if not raw.startswith(b"/"):
        raise _invalid("must start with '/'")
    if not raw.translate(None, _PLAIN):  # the common case: nothing to decode or remove
        text = raw.decode("ascii")
        return RequestPath(text, text)
    if b"\\" in raw:
        raise _invalid("contains a backslash")
    if _STRUCTURAL_ESCAPE.search(raw) is not None:
        raise _invalid("contains an encoded '/', '?', '#', '\\' or NUL")
    if _BAD_ESCAPE.search(raw) is not None:
        raise _invalid("contains a '%' that does not start an escape like %20")
    decoded_bytes = unquote_to_bytes(raw)
    if any(byte < 0x20 or byte == 0x7F for byte in decoded_bytes):
        raise _invalid("contains a control character")
    try:
        decoded = decoded_bytes.decode("utf-8")
    except UnicodeDecodeError:
        raise _invalid("is not UTF-8 once decoded") from None
    decoded = remove_dot_segments(decoded)
    return RequestPath(decoded, quote(decoded, safe=_SAFE))


def remove_dot_segments(path: str) -> str:
    """RFC 3986 §5.2.4 for an absolute path: ``/a/./b/../c`` -> ``/a/c``; never above ``/``."""
    segments = path.split("/")[1:]
    kept: list[str] = []
    for segment in segments:
        if segment == "..":
            if kept:
                kept.pop()
        elif segment != ".":
            kept.append(segment)
    # A last segment of "." or ".." leaves a directory: the path keeps its trailing slash.
    if segments and segments[-1] in (".", ".."):
        kept.append("")
    return "/" + "/".join(kept)
