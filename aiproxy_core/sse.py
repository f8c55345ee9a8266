"""Server-sent events as the core hands them to ``response_chunk``: whole events, parsed and rebuilt.

Public for plugins (``from aiproxy_core import sse``), so each does not parse SSE its own way::

    for event in sse.split_events(chunk):
        payload = sse.event_payload(event)   # the JSON of its data lines, or None
"""

from __future__ import annotations

import json
import re
from typing import Any

__all__ = ["DONE_EVENT", "EVENT_END", "data_event", "event_payload", "is_done", "last_usage", "split_events"]

EVENT_END = re.compile(rb"\r\n\r\n|\n\n|\r\r")
_LINE_BREAK = re.compile(rb"\r\n|\r|\n")
DONE_EVENT = b"data: [DONE]\n\n"


def split_events(chunk: bytes) -> list[bytes]:
    """The whole events of a chunk, each with its blank line; a trailing remainder stays whole."""
    events: list[bytes] = []
    start = 0
    for end in EVENT_END.finditer(chunk):
        events.append(chunk[start : end.end()])
        start = end.end()
    if start < len(chunk):
        events.append(chunk[start:])
    return events


def _data(event: bytes) -> bytes | None:
    lines = [line[5:] for line in _LINE_BREAK.split(event) if line.startswith(b"data:")]
    if not lines:
        return None
    return b"\n".join(line[1:] if line.startswith(b" ") else line for line in lines)


def is_done(event: bytes) -> bool:
    data = _data(event)
    return data is not None and data.strip() == b"[DONE]"


def event_payload(event: bytes) -> Any:
    """The JSON of an event's ``data:`` lines; None for comments, ``[DONE]`` and non-JSON data."""
    data = _data(event)
    if data is None or data.strip() == b"[DONE]":
        return None
    try:
        return json.loads(data)
    except ValueError:
        return None


def data_event(payload: Any) -> bytes:
    return b"data: " + json.dumps(payload, ensure_ascii=False, separators=(",", ":")).encode() + b"\n\n"


def last_usage(chunk: bytes) -> dict[str, Any] | None:
    """The last ``usage`` object reported in these events (a stream's final chunk carries it).

    Only events that mention usage are parsed, so a long stream costs one substring search per
    chunk; what the usage means (total, input/output, which keys) is each plugin's business.
    """
    if chunk.find(b'"usage"') < 0:  # find(), not `in`: that builds and clears a TypeError on 3.11
        return None
    found = None
    for event in split_events(chunk):
        if event.find(b'"usage"') < 0:
            continue
        payload = event_payload(event)
        if isinstance(payload, dict) and isinstance(payload.get("usage"), dict):
            found = payload["usage"]
    return found
