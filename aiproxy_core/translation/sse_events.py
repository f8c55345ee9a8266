"""Server-sent events in and out of the stream translators.

:class:`SSEReader` turns bytes that arrive cut anywhere (mid-line, mid-character, between the two
newlines that end an event) into whole events; what is not yet ended by a blank line waits for the
next chunk. An event left unfinished when the stream ends is never dispatched (as the SSE spec
says), so a cut stream cannot pass for a finished one.
"""

from __future__ import annotations

import re
from typing import Any, NamedTuple

from ..json_text import loads
from ..sse import EVENT_END
from .json_output import json_bytes

__all__ = ["DONE", "MAX_EVENT_BYTES", "SSEEvent", "SSEReader", "anthropic_event", "openai_event", "payload_of"]

DONE = b"data: [DONE]\n\n"
#: An event longer than this (no blank line in sight) is not an event stream: the reader gives up.
MAX_EVENT_BYTES = 16 * 1024 * 1024
_LINE_BREAK = re.compile(r"\r\n|\r|\n")
#: A blank line is at most 4 bytes (``\r\n\r\n``): after new bytes arrive, the search for one
#: starts this far before them, not at the start of the pending event again.
_LONGEST_END = 4


class SSEEvent(NamedTuple):
    name: str
    data: str


class SSEReader:
    def __init__(self) -> None:
        self._pending = b""
        #: Set when an event grew past :data:`MAX_EVENT_BYTES`: nothing more is read.
        self.broken = False

    def feed(self, chunk: bytes) -> list[SSEEvent]:
        """The events completed by ``chunk``, in order (events without data are skipped)."""
        if self.broken or not chunk:
            return []
        start = max(0, len(self._pending) - _LONGEST_END + 1)
        self._pending += chunk
        events: list[SSEEvent] = []
        cut = 0
        for end in EVENT_END.finditer(self._pending, start):
            event = _parsed(self._pending[cut : end.start()])
            if event is not None:
                events.append(event)
            cut = end.end()
        self._pending = self._pending[cut:]
        if len(self._pending) > MAX_EVENT_BYTES:
            self._pending, self.broken = b"", True
        return events


def _parsed(raw: bytes) -> SSEEvent | None:
    name, data = "", []
    for line in _LINE_BREAK.split(raw.decode("utf-8", errors="replace")):
        field, _, value = line.partition(":")
        value = value[1:] if value.startswith(" ") else value
        if field == "event":
            name = value
        elif field == "data":
            data.append(value)
    return SSEEvent(name, "\n".join(data)) if data else None


def payload_of(event: SSEEvent) -> dict[str, Any] | None:
    """The event's data as a JSON object; None for anything else (``[DONE]``, garbage, a list)."""
    try:
        value = loads(event.data)
    except (ValueError, RecursionError):
        return None
    return value if isinstance(value, dict) else None


def openai_event(payload: dict[str, Any]) -> bytes:
    return b"data: " + json_bytes(payload) + b"\n\n"


def anthropic_event(payload: dict[str, Any]) -> bytes:
    """An Anthropic event: named after its ``type``, as the Messages API sends them."""
    return b"event: " + str(payload["type"]).encode() + b"\ndata: " + json_bytes(payload) + b"\n\n"
