"""Putting retrieved chunks into a chat request: which message asks, and where the context goes.

The context goes in as a system message after the request's own leading system messages (so an
operator's instructions keep first place), or with ``as: user`` as a user message just before
the question, for models that weigh system messages little.
"""

from __future__ import annotations

import re
from typing import Any

from .retrieval import Hit
from .settings import RagSettings

__all__ = ["context_block", "last_user_text", "with_context"]

_PLACEHOLDER = re.compile(r"\{(context|question)\}")


def last_user_text(messages: list[Any]) -> tuple[int, str] | None:
    """The index and text of the last user message; None when there is none with text.

    Content may be a string or OpenAI's list of parts, of which the text parts count.
    """
    for position in range(len(messages) - 1, -1, -1):
        message = messages[position]
        if not isinstance(message, dict) or message.get("role") != "user":
            continue
        content = message.get("content")
        if isinstance(content, str):
            text = content
        elif isinstance(content, list):
            text = "\n".join(p["text"] for p in content if isinstance(p, dict) and p.get("type") == "text" and isinstance(p.get("text"), str))
        else:
            text = ""
        return (position, text) if text.strip() else None
    return None


def context_block(hits: list[Hit]) -> str:
    """Numbered chunks with their document, so the model can cite ``[n]``."""
    parts = []
    for number, hit in enumerate(hits, 1):
        source = f"{hit.document.title} ({hit.document.id})" if hit.document.title else hit.document.id
        parts.append(f"[{number}] {source}\n{hit.chunk.text}")
    return "\n\n".join(parts)


def with_context(messages: list[Any], question_at: int, question: str, hits: list[Hit], settings: RagSettings) -> list[Any]:
    """A new message list with the filled template inserted; ``messages`` is left as it was."""
    values = {"context": context_block(hits), "question": question}
    # One pass, so a chunk that happens to contain "{question}" is not substituted in turn.
    content = _PLACEHOLDER.sub(lambda match: values[match.group(1)], settings.template)
    if settings.as_ == "user":
        position = question_at
        message = {"role": "user", "content": content}
    else:
        position = 0
        while position < len(messages) and isinstance(messages[position], dict) and messages[position].get("role") in ("system", "developer"):
            position += 1
        message = {"role": "system", "content": content}
    return [*messages[:position], message, *messages[position:]]
