"""Server-sent events as the core hands them to ``response_chunk``: whole events, parsed and rebuilt."""

from __future__ import annotations

import json
import re
from typing import Any

__all__ = ["DONE_EVENT", "data_event", "event_payload", "is_done", "split_events"]

_EVENT_END = re.compile(rb"\r\n\r\n|\n\n|\r\r")
_LINE_BREAK = re.compile(rb"\r\n|\r|\n")
DONE_EVENT = b"data: [DONE]\n\n"


def split_events(chunk: bytes) -> list[bytes]:
    """The whole events of a chunk, each with its blank line; a trailing remainder stays whole."""
    events: list[bytes] = []
    start = 0
    for end in _EVENT_END.finditer(chunk):
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
