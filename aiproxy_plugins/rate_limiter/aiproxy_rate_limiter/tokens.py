"""Token costs: what to reserve before the call, and what the upstream says was used after it.

The estimate is deliberately simple and a little generous (the completion budget plus about one
token per four characters of prompt): it only has to hold the place until the real
``usage.total_tokens`` replaces it.
"""

from __future__ import annotations

import json
import math
from typing import Any, Iterator

from aiproxy_core import sse

__all__ = ["estimate_tokens", "usage_in_body", "usage_in_events"]

#: Characters per token, the usual rule of thumb for English text with OpenAI's tokenizers.
CHARS_PER_TOKEN = 4


def _texts(body: dict[str, Any]) -> Iterator[str]:
    for message in body.get("messages") or ():
        if isinstance(message, dict):
            yield from _content_texts(message.get("content"))
    for field in ("prompt", "input", "system"):
        yield from _content_texts(body.get(field))


def _content_texts(content: Any) -> Iterator[str]:
    if isinstance(content, str):
        yield content
    elif isinstance(content, list):
        for part in content:
            if isinstance(part, str):
                yield part
            elif isinstance(part, dict) and isinstance(part.get("text"), str):
                yield part["text"]


def _completion_budget(body: dict[str, Any], default: int) -> int:
    for field in ("max_tokens", "max_completion_tokens", "max_output_tokens"):
        value = body.get(field)
        if isinstance(value, int) and not isinstance(value, bool) and value > 0:
            return value
    return default


def estimate_tokens(body: Any, raw_size: int, default_max_tokens: int) -> int:
    """Tokens to reserve for a request; ``body`` is its parsed JSON (None if it has none)."""
    if not isinstance(body, dict):
        return default_max_tokens + math.ceil(raw_size / CHARS_PER_TOKEN)
    prompt_chars = sum(len(text) for text in _texts(body))
    return _completion_budget(body, default_max_tokens) + math.ceil(prompt_chars / CHARS_PER_TOKEN)


def _total(usage: Any) -> int | None:
    if not isinstance(usage, dict):
        return None
    total = usage.get("total_tokens")
    if isinstance(total, int) and not isinstance(total, bool) and total >= 0:
        return total
    # Providers that report only the parts (e.g. Anthropic's input/output tokens).
    parts = [usage.get(a, usage.get(b)) for a, b in (("prompt_tokens", "input_tokens"), ("completion_tokens", "output_tokens"))]
    if all(isinstance(p, int) and not isinstance(p, bool) and p >= 0 for p in parts):
        return sum(parts)  # type: ignore[arg-type]
    return None


def usage_in_body(body: bytes | None) -> int | None:
    """``usage.total_tokens`` of a plain JSON response, or None if it has none."""
    if not body or b'"usage"' not in body:
        return None
    try:
        data = json.loads(body)
    except ValueError:
        return None
    return _total(data.get("usage")) if isinstance(data, dict) else None


def usage_in_events(chunk: bytes) -> int | None:
    """The total tokens of the last usage in a chunk of server-sent events, or None."""
    return _total(sse.last_usage(chunk))
