"""Rewriting the text inside OpenAI-style bodies in place, for PII redaction and its restoring.

Reading texts (prompts, answers, stream deltas) is the core's ``aiproxy_core.openai_shapes``;
what is left here is moderation's own: rewriting them so the body keeps its shape and everything
that is not text (``rewrite_prompts``, ``rewrite_strings``).
"""

from __future__ import annotations

from typing import Any, Callable

from aiproxy_core.openai_shapes import TEXT_PART_TYPES

__all__ = ["rewrite_prompts", "rewrite_strings"]

Rewrite = Callable[[str], str]


def _rewrite_content(content: Any, rewrite: Rewrite) -> Any:
    if isinstance(content, str):
        return rewrite(content)
    if isinstance(content, list):
        for part in content:
            if isinstance(part, dict) and part.get("type") in TEXT_PART_TYPES and isinstance(part.get("text"), str):
                part["text"] = rewrite(part["text"])
    return content


def _prompt_lists(body: dict[str, Any]) -> list[list[Any]]:
    return [value for key in ("messages", "input") if isinstance(value := body.get(key), list)]


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
