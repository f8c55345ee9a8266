"""A cached answer in normalized form: what both a plain and a streamed response can be made from.

An answer is stored as its message content, finish reason, usage and model, not as the bytes
the upstream sent, so a streamed request is served from a plain answer and the other way round.
"""

from __future__ import annotations

import time
from dataclasses import asdict, dataclass
from typing import Any

from aiproxy_core import openai_shapes

__all__ = ["CachedAnswer", "answer_from_body", "plain_body"]

#: Finish reasons of a complete answer; others (``tool_calls``, ``content_filter``) are not cached.
CACHEABLE_FINISH = frozenset({"stop", "length"})


@dataclass(frozen=True, slots=True)
class CachedAnswer:
    content: str
    finish_reason: str
    model: str
    usage: dict[str, Any] | None
    #: The last user message it answered: semantic hits check it against the new one.
    prompt: str | None = None

    def to_value(self) -> dict[str, Any]:
        """As the state API stores it (JSON data)."""
        return asdict(self)

    @classmethod
    def from_value(cls, data: Any) -> "CachedAnswer | None":
        """None when absent, or for an entry this version cannot read (a miss, then overwritten)."""
        if not isinstance(data, dict):
            return None
        try:
            return cls(
                content=data["content"],
                finish_reason=data["finish_reason"],
                model=data["model"],
                usage=data.get("usage"),
                prompt=data.get("prompt"),
            )
        except (KeyError, TypeError):
            return None


def answer_from_body(body: Any, prompt: str | None) -> CachedAnswer | None:
    """Normalize a plain chat completion; None when it is not a single, complete text answer."""
    if not isinstance(body, dict):
        return None
    choices = body.get("choices")
    if not isinstance(choices, list) or len(choices) != 1 or not isinstance(choices[0], dict):
        return None
    choice = choices[0]
    message = choice.get("message")
    if not isinstance(message, dict) or message.get("tool_calls") or message.get("function_call"):
        return None
    content = message.get("content")
    finish = choice.get("finish_reason")
    if not isinstance(content, str) or finish not in CACHEABLE_FINISH:
        return None
    usage = body.get("usage")
    return CachedAnswer(content, finish, openai_shapes.model_of(body) or "", usage if isinstance(usage, dict) else None, prompt)


def plain_body(answer: CachedAnswer, completion_id: str) -> dict[str, Any]:
    """The chat completion a plain request gets from the cache."""
    body: dict[str, Any] = {
        "id": completion_id,
        "object": "chat.completion",
        "created": int(time.time()),
        "model": answer.model,
        "choices": [
            {
                "index": 0,
                "message": {"role": "assistant", "content": answer.content},
                "logprobs": None,
                "finish_reason": answer.finish_reason,
            }
        ],
    }
    if answer.usage is not None:
        body["usage"] = answer.usage
    return body
