"""Reading an upstream's answer, which may be malformed: each reader returns a value of the wanted
type or an empty one, so an odd answer is translated best-effort instead of raising (the client
cannot fix the upstream, and an exception here would be a 500 in the middle of a stream).

Strings are made encodable: a lone UTF-16 surrogate (``"\\ud800"``, which ``json.loads`` accepts)
becomes ``?``, so the translated answer can always be written out as UTF-8.
"""

from __future__ import annotations

from typing import Any

__all__ = ["as_count", "as_dict", "as_index", "as_list", "as_text"]


def as_dict(value: object) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def as_list(value: object) -> list[Any]:
    return value if isinstance(value, list) else []


def as_text(value: object, default: str = "") -> str:
    if not isinstance(value, str):
        return default
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        return value.encode("utf-8", "replace").decode("utf-8")
    return value


def as_count(value: object) -> int:
    """A token count: a non-negative integer, else 0."""
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        return 0
    return value


def as_index(value: object) -> int | None:
    """A stream index (a content block's, a tool call's): a non-negative integer, else None."""
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        return None
    return value
