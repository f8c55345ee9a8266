"""Token costs: what to reserve before the call, and what the upstream says was used after it.

The estimate is deliberately simple and a little generous (the completion budget plus about one
token per four characters of prompt): it only has to hold the place until the real
``usage.total_tokens`` replaces it.
"""

from __future__ import annotations

import math
from typing import Any

from aiproxy_core import openai_shapes

__all__ = ["estimate_tokens", "total_tokens"]

#: Characters per token, the usual rule of thumb for English text with OpenAI's tokenizers.
CHARS_PER_TOKEN = 4


def _prompt_chars(body: dict[str, Any]) -> int:
    """Characters of every prompt text, every role's (and Anthropic's top-level ``system``)."""
    texts = [text for _, text in openai_shapes.prompt_texts(body, all_roles=True)]
    texts += openai_shapes.content_texts(body.get("system"))
    return sum(len(text) for text in texts)


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
    return _completion_budget(body, default_max_tokens) + math.ceil(_prompt_chars(body) / CHARS_PER_TOKEN)


def total_tokens(usage: openai_shapes.TokenUsage | None) -> int | None:
    """What a request used: the answer's reported total, or its parts' sum."""
    return usage.total_tokens if usage is not None else None
