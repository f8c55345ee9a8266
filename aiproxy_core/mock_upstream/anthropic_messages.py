"""The mock's Anthropic mode: ``POST /v1/messages`` in the Messages API's shapes, plain and
streamed, with tool use, so the gateway's Anthropic routes and translations run offline against
the official ``anthropic`` client.

It answers like the OpenAI mode ("You said: ..." of the last user message, a word per token). With
``tools`` in the request and no ``tool_result`` yet in the conversation, it calls the first tool
with ``{"query": <the last user text>}`` (``stop_reason: tool_use``); once a tool result is in, it
answers with text again. Errors use Anthropic's envelope (``{"type": "error", "error": {...}}``).
"""

from __future__ import annotations

import asyncio
import json
import uuid
from collections.abc import AsyncIterator
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response, StreamingResponse

from ..translation.error_bodies import ANTHROPIC_TYPE_BY_STATUS

__all__ = ["ANTHROPIC_ERROR_TYPES", "anthropic_error", "messages"]

#: Anthropic's error type for each status (what its client maps to exception classes): the same
#: table the gateway's translation uses.
ANTHROPIC_ERROR_TYPES = ANTHROPIC_TYPE_BY_STATUS


def anthropic_error(status: int, message: str) -> JSONResponse:
    error_type = ANTHROPIC_ERROR_TYPES.get(status, "api_error" if status >= 500 else "invalid_request_error")
    return JSONResponse({"type": "error", "error": {"type": error_type, "message": message}}, status_code=status)


class _Refused(Exception):
    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


def _text_of(content: Any) -> str:
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        return " ".join(p["text"] for p in content if isinstance(p, dict) and p.get("type") == "text" and isinstance(p.get("text"), str))
    return ""


def _has_tool_result(messages: list[dict[str, Any]]) -> bool:
    return any(
        isinstance(m.get("content"), list) and any(isinstance(p, dict) and p.get("type") == "tool_result" for p in m["content"])
        for m in messages
    )


def _checked(body: Any) -> tuple[str, int, list[dict[str, Any]], list[dict[str, Any]]]:
    if not isinstance(body, dict):
        raise _Refused("the request body must be a JSON object")
    model, max_tokens, messages, tools = body.get("model"), body.get("max_tokens"), body.get("messages"), body.get("tools") or []
    if not isinstance(model, str) or not model:
        raise _Refused("model: Field required")
    if isinstance(max_tokens, bool) or not isinstance(max_tokens, int) or max_tokens < 1:
        raise _Refused("max_tokens: a positive integer is required")
    if not isinstance(messages, list) or not messages or not all(isinstance(m, dict) for m in messages):
        raise _Refused("messages: a non-empty list of message objects is required")
    if not isinstance(tools, list) or not all(isinstance(t, dict) and isinstance(t.get("name"), str) for t in tools):
        raise _Refused("tools: a list of tool objects with a name")
    return model, max_tokens, messages, tools


def _answer(messages: list[dict[str, Any]], tools: list[dict[str, Any]], max_tokens: int, system: Any) -> tuple[list[dict[str, Any]], str, int, int]:
    """Content blocks, stop reason, input and output tokens."""
    last_user = next((m for m in reversed(messages) if m.get("role") == "user"), None)
    said = _text_of(last_user.get("content")) if last_user else ""
    input_tokens = sum(len(_text_of(m.get("content")).split()) for m in messages) + len(_text_of(system).split())
    if tools and not _has_tool_result(messages):
        block = {"type": "tool_use", "id": f"toolu_{uuid.uuid4().hex[:24]}", "name": tools[0]["name"], "input": {"query": said}}
        return [block], "tool_use", input_tokens, 1 + len(said.split())
    words = ("You said: " + said).split()
    stop = "end_turn"
    if len(words) > max_tokens:
        words, stop = words[:max_tokens], "max_tokens"
    return [{"type": "text", "text": " ".join(words)}], stop, input_tokens, len(words)


async def messages(request: Request, stream_delay_ms: float) -> Response:
    """POST /v1/messages."""
    try:
        body = json.loads(await request.body())
    except (ValueError, UnicodeDecodeError, RecursionError):  # RecursionError: JSON nested too deep
        return anthropic_error(400, "the request body is not valid JSON")
    try:
        model, max_tokens, conversation, tools = _checked(body)
    except _Refused as exc:
        return anthropic_error(400, exc.message)
    content, stop_reason, input_tokens, output_tokens = _answer(conversation, tools, max_tokens, body.get("system"))
    message = {
        "id": f"msg_{uuid.uuid4().hex[:24]}",
        "type": "message",
        "role": "assistant",
        "model": model,
        "content": content,
        "stop_reason": stop_reason,
        "stop_sequence": None,
        "usage": {"input_tokens": input_tokens, "output_tokens": output_tokens},
    }
    if body.get("stream") is not True:
        return JSONResponse(message)
    return StreamingResponse(_events(message, stream_delay_ms), media_type="text/event-stream", headers={"cache-control": "no-cache"})


def _event(name: str, data: dict[str, Any]) -> bytes:
    return f"event: {name}\ndata: {json.dumps(data, separators=(',', ':'))}\n\n".encode()


async def _events(message: dict[str, Any], delay_ms: float) -> AsyncIterator[bytes]:
    """The Messages API's stream: message_start, per block start / deltas / stop, message_delta
    (stop reason, output tokens), message_stop."""
    usage = message["usage"]
    start = {**message, "content": [], "stop_reason": None, "usage": {"input_tokens": usage["input_tokens"], "output_tokens": 1}}
    yield _event("message_start", {"type": "message_start", "message": start})
    yield _event("ping", {"type": "ping"})
    for index, block in enumerate(message["content"]):
        if block["type"] == "text":
            yield _event("content_block_start", {"type": "content_block_start", "index": index, "content_block": {"type": "text", "text": ""}})
            words = block["text"].split(" ")
            for position, word in enumerate(words):
                if delay_ms > 0:
                    await asyncio.sleep(delay_ms / 1000)
                piece = word if position == 0 else " " + word
                yield _event("content_block_delta", {"type": "content_block_delta", "index": index, "delta": {"type": "text_delta", "text": piece}})
        else:
            opening = {**block, "input": {}}
            yield _event("content_block_start", {"type": "content_block_start", "index": index, "content_block": opening})
            partial = json.dumps(block["input"], separators=(",", ":"))
            for cut in range(0, len(partial), 8):
                delta: dict[str, Any] = {"type": "input_json_delta", "partial_json": partial[cut : cut + 8]}
                yield _event("content_block_delta", {"type": "content_block_delta", "index": index, "delta": delta})
        yield _event("content_block_stop", {"type": "content_block_stop", "index": index})
    ending: dict[str, Any] = {
        "type": "message_delta",
        "delta": {"stop_reason": message["stop_reason"], "stop_sequence": None},
        "usage": {"output_tokens": usage["output_tokens"]},
    }
    yield _event("message_delta", ending)
    yield _event("message_stop", {"type": "message_stop"})
