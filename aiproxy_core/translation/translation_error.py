"""The one exception the translators raise: a client request that cannot be said in the other API.

Its message is written for the API consumer (the gateway answers it as a 400): it names the field
and says what to send instead, so the client can fix the request without reading gateway code.
Answers (responses, streams, error bodies) never raise it: they come from the upstream and are
translated best-effort, since the client can do nothing about them.
"""

from __future__ import annotations

__all__ = ["TranslationError"]


class TranslationError(Exception):
    """A request that cannot be translated; ``str(exc)`` is the message for the client."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message
