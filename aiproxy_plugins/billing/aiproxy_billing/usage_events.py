"""Removing the usage chunk billing asked a stream for, when the client did not ask for it.

(Reading usage is the core's ``aiproxy_core.openai_shapes``: ``usage_in_body``, ``usage_in_events``.)
"""

from __future__ import annotations

import json

__all__ = ["without_usage_events"]


def _data_lines(chunk: bytes) -> list[bytes]:
    return [line[5:].strip() for line in chunk.splitlines() if line.startswith(b"data:")]


def without_usage_events(chunk: bytes) -> bytes:
    """The chunk minus usage-only events (``choices: []``), for clients that did not ask for them."""
    if chunk.find(b'"usage"') < 0:  # per event: find(), as `in` builds and clears a TypeError on 3.11
        return chunk
    kept = []
    for event in chunk.split(b"\n\n"):
        if not event.strip():
            continue
        data = _data_lines(event)
        try:
            parsed = json.loads(data[0]) if len(data) == 1 and data[0] != b"[DONE]" else None
        except ValueError:
            parsed = None
        if isinstance(parsed, dict) and parsed.get("usage") and parsed.get("choices") == []:
            continue
        kept.append(event)
    return b"".join(event + b"\n\n" for event in kept)
