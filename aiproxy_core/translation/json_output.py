"""Writing JSON that the translators build, without ever raising.

Compact UTF-8 as the gateway writes JSON elsewhere. Values copied from an upstream may hold a lone
UTF-16 surrogate (not encodable as UTF-8) or nest deeper than the encoder's recursion allows: the
first falls back to ASCII escapes (still valid JSON), the second to the caller's ``fallback``.
"""

from __future__ import annotations

import json

__all__ = ["json_bytes", "json_text"]


def json_text(value: object, fallback: str = "null") -> str:
    try:
        text = json.dumps(value, ensure_ascii=False, separators=(",", ":"))
    except (ValueError, TypeError, RecursionError):
        return fallback
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return json.dumps(value, ensure_ascii=True, separators=(",", ":"))
    return text


def json_bytes(value: object, fallback: str = "null") -> bytes:
    return json_text(value, fallback).encode("utf-8")
