"""The text inside OpenAI-style bodies: prompts to check and redact, and the assistant's answer.

Only text is read: image, audio and file parts have none to check. Redaction rewrites text in
place (``rewrite_prompts``), so the body keeps its shape and everything that is not text.
"""

from __future__ import annotations

from typing import Any, Callable

__all__ = ["answer_texts", "delta_texts", "prompt_texts", "rewrite_prompts", "rewrite_strings"]

_TEXT_PART_TYPES = ("text", "input_text", "output_text")
Rewrite = Callable[[str], str]


def _content_texts(content: Any) -> list[str]:
    if isinstance(content, str):
        return [content]
    if isinstance(content, list):
        return [
            part["text"]
            for part in content
            if isinstance(part, dict) and part.get("type") in _TEXT_PART_TYPES and isinstance(part.get("text"), str)
        ]
    return []


def _rewrite_content(content: Any, rewrite: Rewrite) -> Any:
    if isinstance(content, str):
        return rewrite(content)
    if isinstance(content, list):
        for part in content:
            if isinstance(part, dict) and part.get("type") in _TEXT_PART_TYPES and isinstance(part.get("text"), str):
                part["text"] = rewrite(part["text"])
    return content


def _prompt_lists(body: dict[str, Any]) -> list[list[Any]]:
    return [value for key in ("messages", "input") if isinstance(value := body.get(key), list)]


def prompt_texts(body: Any) -> list[str]:
    """What the user wrote: user messages (chat, Responses ``input``), ``prompt`` and ``input`` strings.

    System and assistant messages are the tenant's and the model's words, not the user's: they
    are not moderated (but are redacted, see :func:`rewrite_prompts`).
    """
    if not isinstance(body, dict):
        return []
    texts: list[str] = []
    for items in _prompt_lists(body):
        for item in items:
            if isinstance(item, str):
                texts.append(item)
            elif isinstance(item, dict) and item.get("role", "user") == "user":
                texts.extend(_content_texts(item.get("content")))
    for key in ("prompt", "input"):
        value = body.get(key)
        if isinstance(value, str):
            texts.append(value)
        elif key == "prompt" and isinstance(value, list):
            texts.extend(item for item in value if isinstance(item, str))
    return [text for text in texts if text.strip()]


def rewrite_prompts(body: Any, rewrite: Rewrite) -> None:
    """Apply ``rewrite`` to every prompt text of every role, in place."""
    if not isinstance(body, dict):
        return
    for items in _prompt_lists(body):
        for index, item in enumerate(items):
            if isinstance(item, str):
                items[index] = rewrite(item)
            elif isinstance(item, dict) and "content" in item:
                item["content"] = _rewrite_content(item["content"], rewrite)
    for key in ("prompt", "input"):
        value = body.get(key)
        if isinstance(value, str):
            body[key] = rewrite(value)
        elif key == "prompt" and isinstance(value, list):
            body[key] = [rewrite(item) if isinstance(item, str) else item for item in value]


def rewrite_strings(data: Any, rewrite: Rewrite) -> Any:
    """Every string in a JSON value rewritten (used to restore PII in any answer shape)."""
    if isinstance(data, str):
        return rewrite(data)
    if isinstance(data, list):
        return [rewrite_strings(item, rewrite) for item in data]
    if isinstance(data, dict):
        return {key: rewrite_strings(value, rewrite) for key, value in data.items()}
    return data


def answer_texts(body: Any) -> list[str]:
    """The assistant's text per choice of a plain (chat or legacy) completion."""
    texts: list[str] = []
    choices = body.get("choices") if isinstance(body, dict) else None
    for choice in choices if isinstance(choices, list) else ():
        if not isinstance(choice, dict):
            continue
        message = choice.get("message")
        text = "\n".join(_content_texts(message.get("content"))) if isinstance(message, dict) else ""
        if isinstance(choice.get("text"), str):
            text += choice["text"]
        if text.strip():
            texts.append(text)
    return texts


def delta_texts(chunk: Any) -> list[tuple[int, dict[str, Any], str, str]]:
    """``(choice index, holder, key, text)`` of one streamed chunk's new text.

    ``holder[key]`` is where the text sits (a chat ``delta`` or a legacy choice), so the caller
    can replace it.
    """
    found: list[tuple[int, dict[str, Any], str, str]] = []
    choices = chunk.get("choices") if isinstance(chunk, dict) else None
    for position, choice in enumerate(choices if isinstance(choices, list) else ()):
        if not isinstance(choice, dict):
            continue
        index = choice.get("index") if isinstance(choice.get("index"), int) else position
        delta = choice.get("delta")
        if isinstance(delta, dict) and isinstance(delta.get("content"), str):
            found.append((index, delta, "content", delta["content"]))
        elif isinstance(choice.get("text"), str):
            found.append((index, choice, "text", choice["text"]))
    return found
