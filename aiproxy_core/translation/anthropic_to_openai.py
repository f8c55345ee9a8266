"""An Anthropic upstream's answer (a ``message``) for an OpenAI client (a ``chat.completion``).

The text blocks are the message ``content``, concatenated as they are (Anthropic splits one text
into several blocks around citations, and a stream concatenates their deltas the same way); with
tool calls and no text the content is ``null``, as OpenAI sends it. Each ``tool_use`` block is a
``tool_calls`` entry, its ``input`` written as the JSON ``arguments`` text. ``thinking`` blocks and
server tool blocks have no OpenAI counterpart and are left out. The stop reason maps as
:mod:`.stop_reasons` says, the usage as :mod:`.usage` says.

The answer is the upstream's: anything malformed in it is translated best-effort (a missing id is
made up, a missing text is empty), never raised. The streamed form is
:class:`~.anthropic_to_openai_stream.AnthropicToOpenAIStream`.
"""

from __future__ import annotations

import time
import uuid
from typing import Any

from .json_output import json_text
from .loose_values import as_dict, as_list, as_text
from .stop_reasons import openai_finish_reason
from .usage import openai_usage

__all__ = ["new_tool_call_id", "openai_response", "openai_tool_call"]


def new_tool_call_id() -> str:
    return f"call_{uuid.uuid4().hex[:24]}"


def openai_tool_call(block: dict[str, Any]) -> dict[str, Any]:
    """The OpenAI tool call for an Anthropic ``tool_use`` block."""
    tool_input = block.get("input")
    arguments = json_text(tool_input if isinstance(tool_input, dict) else {}, fallback="{}")
    return {
        "id": as_text(block.get("id")) or new_tool_call_id(),
        "type": "function",
        "function": {"name": as_text(block.get("name")), "arguments": arguments},
    }


def openai_response(body: dict[str, Any], *, model: str | None = None) -> dict[str, Any]:
    """The ``chat.completion`` for an Anthropic ``message`` body; ``model`` replaces its model when given."""
    message = as_dict(body)
    texts: list[str] = []
    calls: list[dict[str, Any]] = []
    for item in as_list(message.get("content")):
        block = as_dict(item)
        if block.get("type") == "text":
            texts.append(as_text(block.get("text")))
        elif block.get("type") == "tool_use":
            calls.append(openai_tool_call(block))
    answer: dict[str, Any] = {"role": "assistant", "content": "".join(texts) if texts or not calls else None}
    if calls:
        answer["tool_calls"] = calls
    return {
        "id": as_text(message.get("id")) or f"chatcmpl-{uuid.uuid4().hex}",
        "object": "chat.completion",
        "created": int(time.time()),
        "model": model or as_text(message.get("model")),
        "choices": [{"index": 0, "message": answer, "logprobs": None, "finish_reason": openai_finish_reason(message.get("stop_reason"))}],
        "usage": openai_usage(message.get("usage")),
    }
