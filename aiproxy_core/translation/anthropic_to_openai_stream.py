"""An Anthropic upstream's event stream for an OpenAI client, event by event as bytes arrive.

=====================================  ===================================================
Anthropic event                        OpenAI chunk (``data: {...}``)
=====================================  ===================================================
``message_start``                      the first chunk: ``delta: {role: assistant, content: ""}``
``content_block_start`` text           its text, if it has any, as a content delta
``content_block_start`` tool_use       a ``tool_calls`` delta: index, id, function name, ``""`` arguments
``content_block_delta`` text_delta     a content delta
``content_block_delta`` input_json     an arguments fragment of that tool call
``message_delta`` with a stop reason   a chunk with ``finish_reason`` (:mod:`.stop_reasons`)
``message_stop``                       the usage chunk (``choices: []``), when the client asked for it
``error``                              ``data: {"error": {...}}`` in OpenAI's error shape
``ping``, thinking, server tools       nothing
=====================================  ===================================================

Tool calls are numbered 0, 1, ... in their order among the content blocks (OpenAI's ``index``).
The usage is message_start's merged with message_delta's (which counts the output), translated by
:mod:`.usage`. ``[DONE]`` is sent by :meth:`finish` only after ``message_stop``: a stream the upstream
cut off (or that ended in an error) is never shown to the client as complete.
"""

from __future__ import annotations

import time
import uuid
from typing import Any

from .anthropic_to_openai import openai_tool_call
from .error_bodies import openai_error_object
from .loose_values import as_dict, as_index, as_text
from .sse_events import DONE, SSEReader, openai_event, payload_of
from .stop_reasons import openai_finish_reason
from .usage import openai_usage

__all__ = ["AnthropicToOpenAIStream"]


class AnthropicToOpenAIStream:
    """Feed it the upstream's bytes as they come (:meth:`feed`), then call :meth:`finish` once."""

    def __init__(self, model: str | None, include_usage: bool) -> None:
        self._reader = SSEReader()
        self._model = model
        self._include_usage = include_usage
        self._id = ""
        self._upstream_model = ""
        self._created = int(time.time())
        #: Anthropic content block index -> OpenAI tool call index.
        self._tool_calls: dict[int, int] = {}
        self._usage: dict[str, Any] = {}
        self._started = False
        self._finish_sent = False
        self._stopped = False
        self._failed = False

    def feed(self, chunk: bytes) -> bytes:
        """The OpenAI events for every Anthropic event completed by ``chunk``."""
        out: list[bytes] = []
        for event in self._reader.feed(chunk):
            if self._stopped or self._failed:
                break
            payload = payload_of(event)
            if payload is not None:
                out += self._translate(payload)
        return b"".join(out)

    @property
    def cut_off(self) -> bool:
        """The upstream's stream has ended (or stopped) with neither ``message_stop`` nor an error event."""
        return not (self._stopped or self._failed)

    def finish(self) -> bytes:
        """``data: [DONE]`` if the upstream's stream ended properly (``message_stop``), else nothing."""
        return DONE if self._stopped else b""

    def _chunk(self, delta: dict[str, Any] | None, finish_reason: str | None = None, usage: dict[str, Any] | None = None) -> bytes:
        chunk: dict[str, Any] = {
            "id": self._id,
            "object": "chat.completion.chunk",
            "created": self._created,
            "model": self._model or self._upstream_model,
            "choices": [] if delta is None else [{"index": 0, "delta": delta, "logprobs": None, "finish_reason": finish_reason}],
        }
        if usage is not None:
            chunk["usage"] = usage
        return openai_event(chunk)

    def _start(self, message: dict[str, Any]) -> list[bytes]:
        self._started = True
        self._id = as_text(message.get("id")) or f"chatcmpl-{uuid.uuid4().hex}"
        self._upstream_model = as_text(message.get("model"))
        self._usage.update(as_dict(message.get("usage")))
        return [self._chunk({"role": "assistant", "content": ""})]

    def _translate(self, event: dict[str, Any]) -> list[bytes]:
        kind = event.get("type")
        if kind == "error":
            self._failed = True
            return [openai_event({"error": openai_error_object(event)})]
        if kind == "message_start":
            return [] if self._started else self._start(as_dict(event.get("message")))
        if kind not in ("content_block_start", "content_block_delta", "message_delta", "message_stop"):
            return []  # ping, content_block_stop, and what a newer API version may add
        out = [] if self._started else self._start({})
        if kind == "content_block_start":
            out += self._block_start(as_index(event.get("index")), as_dict(event.get("content_block")))
        elif kind == "content_block_delta":
            out += self._block_delta(as_index(event.get("index")), as_dict(event.get("delta")))
        elif kind == "message_delta":
            self._usage.update({key: value for key, value in as_dict(event.get("usage")).items() if value is not None})
            stop_reason = as_dict(event.get("delta")).get("stop_reason")
            if stop_reason is not None and not self._finish_sent:
                self._finish_sent = True
                out.append(self._chunk({}, openai_finish_reason(stop_reason)))
        else:
            out += self._stop()
        return out

    def _block_start(self, index: int | None, block: dict[str, Any]) -> list[bytes]:
        if block.get("type") == "text":
            text = as_text(block.get("text"))
            return [self._chunk({"content": text})] if text else []
        if block.get("type") != "tool_use" or index is None or index in self._tool_calls:
            return []
        position = self._tool_calls[index] = len(self._tool_calls)
        call = openai_tool_call(block)
        if not as_dict(block.get("input")):
            call["function"]["arguments"] = ""  # the input comes in input_json_delta fragments
        return [self._chunk({"tool_calls": [{"index": position, **call}]})]

    def _block_delta(self, index: int | None, delta: dict[str, Any]) -> list[bytes]:
        kind = delta.get("type")
        if kind == "text_delta":
            text = as_text(delta.get("text"))
            return [self._chunk({"content": text})] if text else []
        if kind == "input_json_delta" and index is not None and index in self._tool_calls:
            fragment = as_text(delta.get("partial_json"))
            if fragment:
                return [self._chunk({"tool_calls": [{"index": self._tool_calls[index], "function": {"arguments": fragment}}]})]
        return []

    def _stop(self) -> list[bytes]:
        self._stopped = True
        out = []
        if not self._finish_sent:
            self._finish_sent = True
            out.append(self._chunk({}, "stop"))
        if self._include_usage:
            out.append(self._chunk(None, usage=openai_usage(self._usage)))
        return out
