"""Token usage between the APIs, keeping what each side bills.

Anthropic splits the prompt in three: ``input_tokens`` (uncached), ``cache_read_input_tokens`` and
``cache_creation_input_tokens``; their sum is the whole prompt. OpenAI counts the whole prompt in
``prompt_tokens``, the cached part again in ``prompt_tokens_details.cached_tokens`` (and, where
reported, cache writes in ``prompt_tokens_details.cache_write_tokens``). So:

- Anthropic -> OpenAI: ``prompt_tokens`` is the sum of all three (the prompt the client sent),
  ``cached_tokens`` the cache reads, ``cache_write_tokens`` the cache writes (details only when
  non-zero); ``completion_tokens`` is ``output_tokens``; ``total_tokens`` the sum.
- OpenAI -> Anthropic: ``input_tokens`` is the prompt minus cached and cache-written tokens, which go
  to ``cache_read_input_tokens`` and ``cache_creation_input_tokens``; ``output_tokens`` is
  ``completion_tokens`` (reasoning tokens included, as OpenAI counts them).

The gateway's price table reads both shapes the same way (aiproxy_core.pricing.usage_counts).
"""

from __future__ import annotations

from typing import Any

from .loose_values import as_count, as_dict

__all__ = ["anthropic_usage", "openai_usage"]


def openai_usage(usage: object) -> dict[str, Any]:
    """OpenAI's ``usage`` for an Anthropic ``usage`` (a merged stream usage, or anything)."""
    fields = as_dict(usage)
    read = as_count(fields.get("cache_read_input_tokens"))
    written = as_count(fields.get("cache_creation_input_tokens"))
    prompt = as_count(fields.get("input_tokens")) + read + written
    completion = as_count(fields.get("output_tokens"))
    out: dict[str, Any] = {"prompt_tokens": prompt, "completion_tokens": completion, "total_tokens": prompt + completion}
    if read or written:
        details = {"cached_tokens": read}
        if written:
            details["cache_write_tokens"] = written
        out["prompt_tokens_details"] = details
    return out


def anthropic_usage(usage: object) -> dict[str, Any]:
    """Anthropic's ``usage`` for an OpenAI ``usage``."""
    fields = as_dict(usage)
    prompt = as_count(fields.get("prompt_tokens"))
    details = as_dict(fields.get("prompt_tokens_details"))
    read = min(as_count(details.get("cached_tokens")), prompt)
    written = min(as_count(details.get("cache_write_tokens")), prompt - read)
    return {
        "input_tokens": prompt - read - written,
        "output_tokens": as_count(fields.get("completion_tokens")),
        "cache_creation_input_tokens": written,
        "cache_read_input_tokens": read,
    }
