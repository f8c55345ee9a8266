"""Typed placeholders for redacted PII (``[EMAIL_1]``), and putting the originals back.

One :class:`PiiVault` lives per request (in ``ctx.state``): the same value gets the same
placeholder in every message, so the model still sees that two mentions are one person, and the
answer's placeholders can be mapped back when ``restore_pii`` is on.
"""

from __future__ import annotations

import re
from collections import Counter
from typing import Pattern, Sequence

from .pii_detector import find_pii

__all__ = ["PLACEHOLDER", "PiiVault"]

#: What a placeholder looks like; ``restore`` replaces only those this request handed out.
PLACEHOLDER = re.compile(r"\[([A-Z][A-Z0-9_]*)_(\d+)\]")
#: The longest placeholder prefix the stream restorer may have to hold back.
MAX_PLACEHOLDER_LENGTH = 48


class PiiVault:
    def __init__(self) -> None:
        self.originals: dict[str, str] = {}
        self._placeholders: dict[tuple[str, str], str] = {}
        self._counts: Counter[str] = Counter()

    def placeholder_for(self, type_: str, value: str) -> str:
        key = (type_, value)
        found = self._placeholders.get(key)
        if found is None:
            self._counts[type_] += 1
            found = self._placeholders[key] = f"[{type_}_{self._counts[type_]}]"
            self.originals[found] = value
        return found

    def redact(self, text: str, types: Sequence[str], custom: Sequence[tuple[str, Pattern[str]]]) -> str:
        spans = find_pii(text, types, custom)
        if not spans:
            return text
        parts: list[str] = []
        position = 0
        for span in spans:
            parts.append(text[position : span.start])
            parts.append(self.placeholder_for(span.type, span.text))
            position = span.end
        parts.append(text[position:])
        return "".join(parts)

    @property
    def counts(self) -> dict[str, int]:
        """How many distinct values of each type were redacted (for annotations: never the values)."""
        return dict(self._counts)

    def restore(self, text: str) -> str:
        if not self.originals or "[" not in text:
            return text
        return PLACEHOLDER.sub(lambda match: self.originals.get(match.group(), match.group()), text)
