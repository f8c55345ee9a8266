"""Tool calls in the mock's OpenAI mode: with ``tools`` in a chat request and no ``tool`` message
yet in the conversation, the mock calls the first function with ``{"query": <the last user
text>}`` (``finish_reason: tool_calls``); once a tool message is in, it answers with text again.
The same rule as its Anthropic mode, so translations between the two can be checked both ways."""

from __future__ import annotations

import json
import uuid
from typing import Any

__all__ = ["ToolCall", "tool_call_for", "tool_call_chunks", "tool_call_message"]

ToolCall = dict[str, Any]


def tool_call_for(body: dict[str, Any], messages: list[dict[str, Any]], said: str) -> ToolCall | None:
    """The call the mock makes, or None (no tools, or a tool already answered)."""
    tools = body.get("tools")
    if not isinstance(tools, list) or not tools or any(m.get("role") == "tool" for m in messages):
        return None
    first = tools[0]
    function = first.get("function") if isinstance(first, dict) else None
    if not isinstance(function, dict) or not isinstance(function.get("name"), str):
        return None
    arguments = json.dumps({"query": said}, separators=(",", ":"))
    return {"id": f"call_{uuid.uuid4().hex[:24]}", "type": "function", "function": {"name": function["name"], "arguments": arguments}}


def tool_call_message(call: ToolCall) -> dict[str, Any]:
    return {"role": "assistant", "content": None, "tool_calls": [call]}


def tool_call_chunks(call: ToolCall) -> list[dict[str, Any]]:
    """The deltas of a streamed tool call: its id and name first, then its arguments in pieces."""
    arguments = call["function"]["arguments"]
    first = {"index": 0, "id": call["id"], "type": "function", "function": {"name": call["function"]["name"], "arguments": ""}}
    deltas = [{"role": "assistant", "content": None, "tool_calls": [first]}]
    deltas += [{"tool_calls": [{"index": 0, "function": {"arguments": arguments[cut : cut + 8]}}]} for cut in range(0, len(arguments), 8)]
    return deltas
