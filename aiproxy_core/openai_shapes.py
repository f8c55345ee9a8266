"""Reading OpenAI-shaped bodies: the prompt texts of a request, the answer texts of a response,
the new text of a streamed chunk, token usage, the model.

Public (``from aiproxy_core import openai_shapes``), for plugins that look inside requests and
answers (content validation, moderation, rate limiting by tokens, billing, caching), so each
reads the same shapes the same way. Every function takes any JSON value (a client or an upstream
may send a list, a number, ``null`` where an object belongs) and never raises on a shape it does
not know: it finds no text or no usage there.

Shapes understood: chat completions (``messages[*].content``, a string or a list of parts with a
``text`` of type ``text``/``input_text``/``output_text``), legacy completions (``prompt``: a
string or strings; ``choices[*].text``), embeddings (``input``: a string or strings), the
Responses API (``input``: a string or messages; ``usage.input_tokens``/``output_tokens``).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from . import sse

__all__ = [
    "TEXT_PART_TYPES",
    "TokenUsage",
    "answer_texts",
    "content_text",
    "content_texts",
    "delta_texts",
    "model_of",
    "prompt_texts",
    "usage_in_body",
    "usage_in_events",
    "usage_of",
]

#: Content parts that hold text (images, audio and files hold none to read).
TEXT_PART_TYPES = ("text", "input_text", "output_text")


def content_texts(content: Any) -> list[str]:
    """A message's ``content``: itself when a string, else the text of its text parts."""
    if isinstance(content, str):
        return [content]
    if isinstance(content, list):
        return [
            part["text"]
            for part in content
            if isinstance(part, dict) and part.get("type") in TEXT_PART_TYPES and isinstance(part.get("text"), str)
        ]
    return []


def content_text(content: Any) -> str:
    """A message's text: :func:`content_texts` joined by newlines."""
    return "\n".join(content_texts(content))


def _is_users(message: dict[str, Any]) -> bool:
    # A message without a role is sent as the user's: it is read as the user's.
    return bool(message.get("role", "user") == "user")


def prompt_texts(body: Any, *, all_roles: bool = False) -> list[tuple[str, str]]:
    """``(where, text)`` for each prompt text of a request body, in order.

    ``messages`` (chat) and ``input`` given as messages (the Responses API): the user's messages,
    or every role's with ``all_roles`` (system and assistant turns are the tenant's and the
    model's words); ``prompt`` and ``input`` as a string or a list of strings (completions,
    embeddings). ``where`` names the place (``messages[2]``, ``prompt``, ``input[0]``).
    """
    if not isinstance(body, dict):
        return []
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


def _message_texts(where: str, messages: list[Any], all_roles: bool) -> list[tuple[str, str]]:
    # One text per message (its text parts joined), so a pattern may span two parts of it.
    return [
        (f"{where}[{index}]", content_text(message.get("content")))
        for index, message in enumerate(messages)
        if isinstance(message, dict) and (all_roles or _is_users(message))
    ]


def answer_texts(body: Any) -> dict[int, str]:
    """The assistant's text per choice index of a plain answer (chat ``message.content``, legacy
    ``text``); a choice without text is ``""``."""
    texts: dict[int, str] = {}
    choices = body.get("choices") if isinstance(body, dict) else None
    for position, choice in enumerate(choices if isinstance(choices, list) else ()):
        if not isinstance(choice, dict):
            continue
        message = choice.get("message")
        text = content_text(message.get("content")) if isinstance(message, dict) else ""
        if isinstance(choice.get("text"), str):
            text += choice["text"]
        texts[_choice_index(choice, position)] = text
    return texts


def delta_texts(chunk: Any) -> list[tuple[int, dict[str, Any], str, str]]:
    """``(choice index, holder, key, text)`` for the new text of one streamed event's JSON.

    ``holder[key]`` is where the text sits (a chat ``delta``'s ``content``, or a legacy choice's
    ``text``), so a caller may replace it in place.
    """
    found: list[tuple[int, dict[str, Any], str, str]] = []
    choices = chunk.get("choices") if isinstance(chunk, dict) else None
    for position, choice in enumerate(choices if isinstance(choices, list) else ()):
        if not isinstance(choice, dict):
            continue
        index = _choice_index(choice, position)
        delta = choice.get("delta")
        if isinstance(delta, dict) and isinstance(delta.get("content"), str):
            found.append((index, delta, "content", delta["content"]))
        elif isinstance(choice.get("text"), str):
            found.append((index, choice, "text", choice["text"]))
    return found


def _choice_index(choice: dict[str, Any], position: int) -> int:
    index = choice.get("index")
    return index if isinstance(index, int) and not isinstance(index, bool) else position


@dataclass(frozen=True, slots=True)
class TokenUsage:
    """Tokens an answer reports. ``total_tokens`` is the reported total, else the sum of the
    parts when both are reported, else None."""

    input_tokens: int
    output_tokens: int
    total_tokens: int | None


def _count(value: Any) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) and value >= 0 else None


def usage_of(usage: Any) -> TokenUsage | None:
    """A ``usage`` object (chat: ``prompt_tokens``/``completion_tokens``; Responses API and
    Anthropic: ``input_tokens``/``output_tokens``) as :class:`TokenUsage`; None when it is not
    one. A missing or malformed part counts 0."""
    if not isinstance(usage, dict):
        return None
    prompt = _count(usage.get("prompt_tokens", usage.get("input_tokens")))
    completion = _count(usage.get("completion_tokens", usage.get("output_tokens")))
    total = _count(usage.get("total_tokens"))
    if total is None and prompt is not None and completion is not None:
        total = prompt + completion
    if prompt is None and completion is None and total is None:
        return None
    return TokenUsage(prompt or 0, completion or 0, total)


def usage_in_body(body: Any) -> TokenUsage | None:
    """The usage of a plain answer: its parsed JSON (e.g. ``ctx.response.json``) or its bytes."""
    if isinstance(body, (bytes, bytearray)):
        if body.find(b'"usage"') < 0:  # find(), not `in`: that builds and clears a TypeError on 3.11
            return None
        try:
            body = json.loads(body)
        except ValueError:
            return None
    return usage_of(body.get("usage")) if isinstance(body, dict) else None


def usage_in_events(chunk: bytes) -> TokenUsage | None:
    """The last usage reported in a chunk of server-sent events (a stream's final usage chunk)."""
    return usage_of(sse.last_usage(chunk))


def model_of(body: Any) -> str | None:
    """The ``model`` a request asked for or an answer names; None when there is no such string."""
    model = body.get("model") if isinstance(body, dict) else None
    return model if isinstance(model, str) and model else None
