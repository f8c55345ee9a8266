"""An OpenAI upstream's event stream for an Anthropic client, event by event as bytes arrive.

The Anthropic stream is a nest of blocks, the OpenAI stream a flat run of deltas, so this keeps
which block is open:

- the first chunk opens the message (``message_start``; its usage is 0 until the end);
- content opens a text block (closing an open tool block) and is its ``text_delta``s;
- a tool call's first delta (a new ``index``) closes the open block and opens a ``tool_use`` block
  (id, name, ``input: {}``); its arguments are ``input_json_delta`` ``partial_json`` fragments;
- ``finish_reason`` closes the open block and is kept for the end; usage (a later chunk, with
  ``stream_options.include_usage``) is kept too;
- ``data: [DONE]`` ends the message: ``message_delta`` (the stop reason, the whole usage by
  :mod:`.usage`, ``input_tokens`` included) then ``message_stop``;
- ``data: {"error": ...}`` (OpenAI's mid-stream error) is an ``event: error``.

Only choice 0 is followed (an Anthropic client asked for one). OpenAI sends the calls of a
parallel tool use one after the other; a fragment arriving for a call whose block is already
closed is still sent, with that block's index, rather than lost. ``refusal`` deltas are text;
``reasoning_content`` (some compatible servers' reasoning text) and logprobs are dropped.

``message_stop`` is sent only after ``[DONE]``: a stream the upstream cut off gets, from
:meth:`~OpenAIToAnthropicStream.finish`, an ``error`` event (``api_error``) instead, so the client
never takes a partial answer for a whole one.
"""

from __future__ import annotations

from typing import Any

from .error_bodies import anthropic_error_object
from .loose_values import as_dict, as_index, as_list, as_text
from .openai_to_anthropic_response import anthropic_message_id, new_tool_use_id
from .sse_events import SSEReader, anthropic_event, payload_of
from .stop_reasons import anthropic_stop_reason
from .usage import anthropic_usage

__all__ = ["CUT_OFF_MESSAGE", "OpenAIToAnthropicStream"]

CUT_OFF_MESSAGE = "the upstream cut the stream off before it finished; the answer is incomplete"


class OpenAIToAnthropicStream:
    """Feed it the upstream's bytes as they come (:meth:`feed`), then call :meth:`finish` once."""

    def __init__(self, model: str | None) -> None:
        self._reader = SSEReader()
        self._model = model
        self._started = False
        self._blocks = 0
        #: The open content block: its index and kind ("text" or "tool_use"), or None.
        self._open: tuple[int, str] | None = None
        #: OpenAI tool call index -> Anthropic content block index.
        self._tool_blocks: dict[int, int] = {}
        self._finish_reason: object = None
        self._usage: dict[str, Any] | None = None
        self._done = False
        self._failed = False

    def feed(self, chunk: bytes) -> bytes:
        """The Anthropic events for every OpenAI event completed by ``chunk``."""
        out: list[bytes] = []
        for event in self._reader.feed(chunk):
            if self._done or self._failed:
                break
            if event.data.strip() == "[DONE]":
                out += self._end()
                continue
            payload = payload_of(event)
            if payload is None:
                continue
            if "error" in payload and "choices" not in payload:
                self._failed = True
                out.append(anthropic_event(anthropic_error_object(payload)))
                continue
            out += self._translate(payload)
        return b"".join(out)

    @property
    def cut_off(self) -> bool:
        """The upstream's stream has ended (or stopped) with neither ``[DONE]`` nor an error event."""
        return not (self._done or self._failed)

    def finish(self) -> bytes:
        """Nothing after a complete stream (or an error already sent); else an ``error`` event."""
        if self._done or self._failed:
            return b""
        self._failed = True
        return anthropic_event({"type": "error", "error": {"type": "api_error", "message": CUT_OFF_MESSAGE}})

    def _start(self, chunk: dict[str, Any]) -> list[bytes]:
        self._started = True
        message: dict[str, Any] = {
            "id": anthropic_message_id(chunk.get("id")),
            "type": "message",
            "role": "assistant",
            "model": self._model or as_text(chunk.get("model")),
            "content": [],
            "stop_reason": None,
            "stop_sequence": None,
            "usage": {"input_tokens": 0, "output_tokens": 0},
        }
        return [anthropic_event({"type": "message_start", "message": message})]

    def _close(self) -> list[bytes]:
        if self._open is None:
            return []
        index, self._open = self._open[0], None
        return [anthropic_event({"type": "content_block_stop", "index": index})]

    def _open_block(self, block: dict[str, Any]) -> list[bytes]:
        out = self._close()
        index = self._blocks
        self._blocks += 1
        self._open = (index, block["type"])
        out.append(anthropic_event({"type": "content_block_start", "index": index, "content_block": block}))
        return out

    def _translate(self, chunk: dict[str, Any]) -> list[bytes]:
        out = [] if self._started else self._start(chunk)
        if isinstance(chunk.get("usage"), dict):
            self._usage = chunk["usage"]
        choices = [as_dict(choice) for choice in as_list(chunk.get("choices"))]
        choice = next((c for c in choices if c.get("index", 0) == 0), None)
        if choice is None:
            return out
        delta = as_dict(choice.get("delta"))
        for key in ("content", "refusal"):
            text = as_text(delta.get(key))
            if text:
                if self._open is None or self._open[1] != "text":
                    out += self._open_block({"type": "text", "text": ""})
                out.append(self._delta({"type": "text_delta", "text": text}))
        for position, item in enumerate(as_list(delta.get("tool_calls"))):
            out += self._tool_call(as_dict(item), position)
        if choice.get("finish_reason") is not None:
            self._finish_reason = choice["finish_reason"]
            out += self._close()
        return out

    def _delta(self, delta: dict[str, Any], index: int | None = None) -> bytes:
        at = index if index is not None else self._open[0] if self._open is not None else 0
        return anthropic_event({"type": "content_block_delta", "index": at, "delta": delta})

    def _tool_call(self, call: dict[str, Any], position: int) -> list[bytes]:
        index = as_index(call.get("index"))
        index = position if index is None else index
        function = as_dict(call.get("function"))
        out: list[bytes] = []
        if index not in self._tool_blocks:
            block = {"type": "tool_use", "id": as_text(call.get("id")) or new_tool_use_id(), "name": as_text(function.get("name")), "input": {}}
            out += self._open_block(block)
            self._tool_blocks[index] = self._blocks - 1
        arguments = as_text(function.get("arguments"))
        if arguments:
            out.append(self._delta({"type": "input_json_delta", "partial_json": arguments}, self._tool_blocks[index]))
        return out

    def _end(self) -> list[bytes]:
        self._done = True
        out = [] if self._started else self._start({})
        out += self._close()
        usage = anthropic_usage(self._usage)
        delta = {"stop_reason": anthropic_stop_reason(self._finish_reason), "stop_sequence": None}
        out.append(anthropic_event({"type": "message_delta", "delta": delta, "usage": usage}))
        out.append(anthropic_event({"type": "message_stop"}))
        return out
