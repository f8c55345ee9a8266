"""Reading token usage from an upstream answer: a JSON body's ``usage``, or a stream's usage chunk."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from aiproxy_core import sse

__all__ = ["TokenUsage", "usage_in_body", "usage_in_events", "without_usage_events"]


@dataclass(frozen=True, slots=True)
class TokenUsage:
    input_tokens: int
    output_tokens: int


def _usage(data: Any) -> TokenUsage | None:
    usage = data.get("usage") if isinstance(data, dict) else None
    if not isinstance(usage, dict):
        return None
    # Chat completions say prompt/completion; the Responses API says input/output.
    prompt = usage.get("prompt_tokens", usage.get("input_tokens", 0))
    completion = usage.get("completion_tokens", usage.get("output_tokens", 0))
    if not isinstance(prompt, int) or not isinstance(completion, int):
        return None
    return TokenUsage(max(0, prompt), max(0, completion))


def usage_in_body(body: bytes | None) -> TokenUsage | None:
    if not body:
        return None
    try:
        return _usage(json.loads(body))
    except ValueError:
        return None


def _data_lines(chunk: bytes) -> list[bytes]:
    return [line[5:].strip() for line in chunk.splitlines() if line.startswith(b"data:")]


def usage_in_events(chunk: bytes) -> TokenUsage | None:
    """The last usage reported in these server-sent events (the final chunk carries it)."""
    usage = sse.last_usage(chunk)
    return _usage({"usage": usage}) if usage is not None else None


def without_usage_events(chunk: bytes) -> bytes:
    """The chunk minus usage-only events (``choices: []``), for clients that did not ask for them."""
    if b'"usage"' not in chunk:
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
