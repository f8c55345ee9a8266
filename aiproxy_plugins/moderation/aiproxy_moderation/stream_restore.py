"""Putting PII back into a streamed answer, whose placeholders may be split across events.

Text is passed on as it comes, except a tail that could still become a placeholder (a ``[``
followed by what a placeholder may start with): that is held until the next piece completes or
rules it out, so at most :data:`MAX_PLACEHOLDER_LENGTH` characters wait.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from .placeholders import MAX_PLACEHOLDER_LENGTH, PiiVault

__all__ = ["StreamRestorer"]

#: A tail that may be the start of a placeholder: "[", "[EMA", "[EMAIL_", "[EMAIL_1".
_OPEN_PREFIX = re.compile(r"\[(?:[A-Z][A-Z0-9_]*(?:_\d*)?)?$")


@dataclass
class StreamRestorer:
    vault: PiiVault
    held: dict[int, str] = field(default_factory=dict)

    def feed(self, choice: int, piece: str) -> str:
        """The text to send now for this choice's new ``piece``."""
        text = self.held.pop(choice, "") + piece
        start = text.rfind("[")
        if start != -1 and len(text) - start <= MAX_PLACEHOLDER_LENGTH and _OPEN_PREFIX.search(text, start):
            self.held[choice] = text[start:]
            text = text[:start]
        return self.vault.restore(text)

    def flush(self, choice: int) -> str:
        """What is still held for a choice whose answer ended (it was no placeholder)."""
        return self.vault.restore(self.held.pop(choice, ""))
