"""An OpenAI upstream's answer (a ``chat.completion``) for an Anthropic client (a ``message``).

The first choice is the message (an Anthropic request asks for one). Its text ``content`` (or its
``refusal``, when there is no content) is one text block; each tool call is a ``tool_use`` block
after it, its JSON ``arguments`` parsed to the ``input`` object (:mod:`.tool_arguments`). The legacy ``function_call`` is a tool use too. The
id keeps the upstream's with a ``msg_`` prefix. The finish reason maps as :mod:`.stop_reasons`
says, the usage as :mod:`.usage` says.

The answer is the upstream's: anything malformed in it is translated best-effort, never raised.
The streamed form is :class:`~.openai_to_anthropic_stream.OpenAIToAnthropicStream`.
"""

from __future__ import annotations

import uuid
from typing import Any

from .loose_values import as_dict, as_list, as_text
from .stop_reasons import anthropic_stop_reason
from .tool_arguments import arguments_input
from .usage import anthropic_usage

__all__ = ["anthropic_message_id", "anthropic_response", "new_tool_use_id"]


def new_tool_use_id() -> str:
    return f"toolu_{uuid.uuid4().hex[:24]}"


def anthropic_message_id(upstream_id: object) -> str:
    text = as_text(upstream_id)
    if not text:
        return f"msg_{uuid.uuid4().hex[:24]}"
    return text if text.startswith("msg_") else f"msg_{text}"


def _text(content: object) -> str:
    if isinstance(content, list):
        return "".join(as_text(as_dict(part).get("text")) for part in content)
    return as_text(content)


def anthropic_response(body: dict[str, Any], *, model: str | None = None) -> dict[str, Any]:
    """The Anthropic ``message`` for a ``chat.completion`` body; ``model`` replaces its model when given."""
    completion = as_dict(body)
    choice = as_dict(next(iter(as_list(completion.get("choices"))), None))
    message = as_dict(choice.get("message"))
    content: list[dict[str, Any]] = []
    text = _text(message.get("content")) or as_text(message.get("refusal"))
    if text:
        content.append({"type": "text", "text": text})
    calls = [as_dict(call) for call in as_list(message.get("tool_calls"))]
    legacy = as_dict(message.get("function_call"))
    if legacy:
        calls.append({"function": legacy})
    for call in calls:
        function = as_dict(call.get("function"))
        content.append({
            "type": "tool_use",
            "id": as_text(call.get("id")) or new_tool_use_id(),
            "name": as_text(function.get("name")),
            "input": arguments_input(as_text(function.get("arguments"))),
        })
    return {
        "id": anthropic_message_id(completion.get("id")),
        "type": "message",
        "role": "assistant",
        "model": model or as_text(completion.get("model")),
        "content": content,
        "stop_reason": anthropic_stop_reason(choice.get("finish_reason")),
        "stop_sequence": None,
        "usage": anthropic_usage(completion.get("usage")),
    }
