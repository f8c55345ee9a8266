"""The text inside OpenAI-style bodies: prompts of a request, and what the assistant answered.

Only text is read: image, audio and file parts have none to match a pattern against.
"""

from __future__ import annotations

from typing import Any, Iterator

__all__ = ["completion_texts", "content_text", "delta_texts", "prompt_texts"]

_TEXT_PART_TYPES = ("text", "input_text", "output_text")


def content_text(content: Any) -> str:
    """A message's ``content``: a string, or a list of parts whose text parts are joined."""
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        return "\n".join(
            part["text"]
            for part in content
            if isinstance(part, dict) and part.get("type") in _TEXT_PART_TYPES and isinstance(part.get("text"), str)
        )
    return ""


def _message_texts(where: str, messages: list[Any], all_roles: bool) -> Iterator[tuple[str, str]]:
    for index, message in enumerate(messages):
        if isinstance(message, dict) and (all_roles or message.get("role") == "user"):
            yield f"{where}[{index}]", content_text(message.get("content"))


def prompt_texts(body: dict[str, Any], all_roles: bool) -> list[tuple[str, str]]:
    """``(where, text)`` for each prompt in the body.

    Chat ``messages`` (user messages only unless ``all_roles``), completions' ``prompt``, and
    ``input`` (embeddings: a string or strings; the Responses API: a string or messages).
    A plain string prompt counts as the user's.
    """
    texts: list[tuple[str, str]] = []
    messages = body.get("messages")
    if isinstance(messages, list):
        texts.extend(_message_texts("messages", messages, all_roles))
    for key in ("prompt", "input"):
        value = body.get(key)
        if isinstance(value, str):
            texts.append((key, value))
        elif isinstance(value, list):
            for index, item in enumerate(value):
                if isinstance(item, str):
                    texts.append((f"{key}[{index}]", item))
            texts.extend(_message_texts(key, value, all_roles))
    return texts


def _choice_index(choice: dict[str, Any], position: int) -> int:
    index = choice.get("index")
    return index if isinstance(index, int) else position


def completion_texts(body: Any) -> dict[int, str]:
    """The assistant's text per choice of a plain (chat) completion."""
    texts: dict[int, str] = {}
    choices = body.get("choices") if isinstance(body, dict) else None
    for position, choice in enumerate(choices if isinstance(choices, list) else ()):
        if not isinstance(choice, dict):
            continue
        message = choice.get("message")
        text = content_text(message.get("content")) if isinstance(message, dict) else ""
        if isinstance(choice.get("text"), str):  # legacy completions
            text += choice["text"]
        texts[_choice_index(choice, position)] = text
    return texts


def delta_texts(chunk: Any) -> list[tuple[int, str]]:
    """``(choice index, new text)`` from one streamed chunk (chat deltas or legacy completions)."""
    pieces: list[tuple[int, str]] = []
    choices = chunk.get("choices") if isinstance(chunk, dict) else None
    for position, choice in enumerate(choices if isinstance(choices, list) else ()):
        if not isinstance(choice, dict):
            continue
        delta = choice.get("delta")
        text = delta.get("content") if isinstance(delta, dict) else None
        if not isinstance(text, str):
            text = choice.get("text")
        if isinstance(text, str) and text:
            pieces.append((_choice_index(choice, position), text))
    return pieces
