"""Rebuilding a streamed answer from its server-sent events, to cache it once it is complete."""

from __future__ import annotations

import json
from typing import Any

from aiproxy_core import openai_shapes

from .entries import CACHEABLE_FINISH, CachedAnswer

__all__ = ["StreamCapture"]


class StreamCapture:
    """Fed every chunk of one streamed chat completion (whole events, as ``response_chunk`` gets them).

    The answer is cacheable only when the stream ended with ``[DONE]`` after a finish reason, and
    held one text choice: a cut-off stream or a tool call is never cached.
    """

    __slots__ = ("_parts", "_finish", "_model", "_usage", "_done", "_spoiled")

    def __init__(self) -> None:
        self._parts: list[str] = []
        self._finish: str | None = None
        self._model = ""
        self._usage: dict[str, Any] | None = None
        self._done = False
        self._spoiled = False

    def feed(self, chunk: bytes) -> None:
        if self._spoiled:
            return
        for line in chunk.splitlines():
            if not line.startswith(b"data:"):
                continue  # comments, event names, blank separators
            data = line[5:].strip()
            if data == b"[DONE]":
                self._done = True
                continue
            try:
                event = json.loads(data)
            except ValueError:
                self._spoiled = True
                return
            self._take(event)

    def _take(self, event: Any) -> None:
        if not isinstance(event, dict) or "error" in event:
            self._spoiled = True
            return
        self._model = openai_shapes.model_of(event) or self._model
        if isinstance(event.get("usage"), dict):
            self._usage = event["usage"]
        for choice in event.get("choices") or ():
            delta = choice.get("delta") if isinstance(choice, dict) else None
            if choice.get("index", 0) != 0 or not isinstance(delta, dict) or delta.get("tool_calls") or delta.get("function_call"):
                self._spoiled = True
                return
            content = delta.get("content")
            if isinstance(content, str):
                self._parts.append(content)
            if choice.get("finish_reason"):
                self._finish = choice["finish_reason"]

    def answer(self, prompt: str | None) -> CachedAnswer | None:
        """The complete answer, or None when the stream is not cacheable."""
        if self._spoiled or not self._done or self._finish not in CACHEABLE_FINISH:
            return None
        assert self._finish is not None
        return CachedAnswer("".join(self._parts), self._finish, self._model, self._usage, prompt)
