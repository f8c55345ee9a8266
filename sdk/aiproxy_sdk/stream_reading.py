"""Reading a streamed chat completion in tests: its events, and the assistant text they carry."""

from __future__ import annotations

import json
from typing import Any


def stream_payloads(text: str) -> list[Any]:
    """Each ``data:`` event's JSON, in order; the final ``[DONE]`` as the string ``"[DONE]"``."""
    events = [event for event in text.split("\n\n") if event.strip()]
    if not all(event.startswith("data: ") for event in events):
        raise AssertionError(f"not a stream of data events: {events!r}")
    return [event[6:] if event[6:] == "[DONE]" else json.loads(event[6:]) for event in events]


def streamed_text(payloads: list[Any]) -> str:
    """The assistant's text, joined from the events' ``choices[].delta.content``."""
    return "".join(
        choice["delta"].get("content") or ""
        for payload in payloads
        if isinstance(payload, dict)
        for choice in payload.get("choices", [])
    )
