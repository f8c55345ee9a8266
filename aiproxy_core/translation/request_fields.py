"""Reading a client's request body, which may hold anything: each reader returns the value with the
type the translation needs or raises :class:`TranslationError` naming the field (``messages[2].content``)
and what it must be, so a malformed request is a clear 400 and never a KeyError or TypeError."""

from __future__ import annotations

import math
from typing import Any

from .translation_error import TranslationError

__all__ = ["number_at", "object_at", "list_at", "optional_text_at", "positive_int_at", "text_at"]


def object_at(value: object, where: str) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise TranslationError(f"{where} must be a JSON object")
    return value


def list_at(value: object, where: str) -> list[Any]:
    if not isinstance(value, list):
        raise TranslationError(f"{where} must be a list")
    return value


def text_at(value: object, where: str) -> str:
    if not isinstance(value, str):
        raise TranslationError(f"{where} must be a string")
    return value


def optional_text_at(value: object, where: str) -> str | None:
    return None if value is None else text_at(value, where)


def positive_int_at(value: object, where: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise TranslationError(f"{where} must be a positive integer")
    return value


def number_at(value: object, where: str) -> float | int:
    """A finite number (``NaN`` and ``Infinity`` parse as JSON in Python but are no JSON to send on)."""
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        raise TranslationError(f"{where} must be a number")
    return value
