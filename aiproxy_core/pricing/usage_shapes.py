"""The token counts a price applies to, read from an upstream's ``usage`` object.

Three shapes say the same thing differently:

- OpenAI chat and legacy completions (and embeddings): ``prompt_tokens``, ``completion_tokens``,
  ``prompt_tokens_details.cached_tokens``; the cached tokens are *part of* ``prompt_tokens``.
- OpenAI Responses API: ``input_tokens``, ``output_tokens``, ``input_tokens_details.cached_tokens``;
  again part of ``input_tokens``.
- Anthropic Messages: ``input_tokens`` *excluding* the cache, ``cache_read_input_tokens``,
  ``cache_creation_input_tokens``, ``output_tokens``.

:class:`UsageCounts` holds them one way, OpenAI's: ``input_tokens`` is every input token, those read
from and written to the cache included, so it means what ``openai_shapes.TokenUsage.input_tokens``
means. The usage comes from an upstream (or through it, from whoever answers): anything malformed is
read as absent, never raised on.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

__all__ = ["MAX_TOKENS", "UsageCounts", "usage_counts"]

#: The most tokens one count may hold. No answer comes near a trillion tokens; a larger number is
#: garbage, and refusing it keeps the cost arithmetic far from float overflow and precision loss.
MAX_TOKENS = 10**12

# Anthropic's keys: their presence says input_tokens excludes the cache.
_ANTHROPIC_CACHE_KEYS = ("cache_read_input_tokens", "cache_creation_input_tokens")


_new, _set = object.__new__, object.__setattr__


@dataclass(frozen=True, slots=True)
class UsageCounts:
    """Tokens of one answer, as prices apply to them.

    ``input_tokens`` counts every input token, including ``cached_input_tokens`` (read from the
    provider's prompt cache) and ``cache_write_tokens`` (written to it); ``output_tokens`` includes
    reasoning tokens. Each is a whole number from 0 to :data:`MAX_TOKENS` (else ValueError).
    """

    input_tokens: int
    output_tokens: int
    cached_input_tokens: int = 0
    cache_write_tokens: int = 0

    def __post_init__(self) -> None:
        for name in ("input_tokens", "output_tokens", "cached_input_tokens", "cache_write_tokens"):
            if _count(getattr(self, name)) is None:
                raise ValueError(f"{name} must be a whole number from 0 to {MAX_TOKENS}")

    @classmethod
    def _checked(cls, input_tokens: int, output_tokens: int, cached_input_tokens: int, cache_write_tokens: int) -> UsageCounts:
        """Counts :func:`usage_counts` has already checked, without checking them again: the
        dataclass's own way (``__init__`` with ``__post_init__``) took half of the ~4 µs an
        answer's usage costs to read, on every answer."""
        counts = _new(cls)
        _set(counts, "input_tokens", input_tokens)
        _set(counts, "output_tokens", output_tokens)
        _set(counts, "cached_input_tokens", cached_input_tokens)
        _set(counts, "cache_write_tokens", cache_write_tokens)
        return counts

    @property
    def uncached_input_tokens(self) -> int:
        """Input tokens at the full input price. Never negative: counts built by hand that claim
        more cache tokens than input tokens leave none."""
        return max(0, self.input_tokens - self.cached_input_tokens - self.cache_write_tokens)


def _count(value: Any) -> int | None:
    # bool is an int subclass: `true` is not a token count.
    if isinstance(value, int) and not isinstance(value, bool) and 0 <= value <= MAX_TOKENS:
        return value
    return None


def _nested_count(usage: dict[Any, Any], details_key: str) -> int | None:
    details = usage.get(details_key)
    return _count(details.get("cached_tokens")) if isinstance(details, dict) else None


def usage_counts(usage: Any) -> UsageCounts | None:
    """A raw ``usage`` JSON object of OpenAI chat, OpenAI Responses or Anthropic as
    :class:`UsageCounts`; None when it is not an object or has neither a valid input nor output
    count. A missing or malformed count (a string, a bool, a negative or huge number) counts 0."""
    if not isinstance(usage, dict):
        return None
    if "prompt_tokens" in usage or "completion_tokens" in usage:
        return _openai(_count(usage.get("prompt_tokens")), _count(usage.get("completion_tokens")),
                       _nested_count(usage, "prompt_tokens_details"))
    if any(key in usage for key in _ANTHROPIC_CACHE_KEYS):
        return _anthropic(usage)
    # The Responses API; or Anthropic without cache keys, where both readings agree.
    return _openai(_count(usage.get("input_tokens")), _count(usage.get("output_tokens")),
                   _nested_count(usage, "input_tokens_details"))


def _openai(prompt: int | None, completion: int | None, cached: int | None) -> UsageCounts | None:
    if prompt is None and completion is None:
        return None
    prompt = prompt or 0
    # Cached tokens are part of the prompt: more than the prompt is a lie, capped rather than billed.
    return UsageCounts._checked(prompt, completion or 0, min(cached or 0, prompt), 0)


def _anthropic(usage: dict[Any, Any]) -> UsageCounts | None:
    uncached = _count(usage.get("input_tokens"))
    read = _count(usage.get("cache_read_input_tokens"))
    written = _count(usage.get("cache_creation_input_tokens"))
    output = _count(usage.get("output_tokens"))
    if uncached is None and read is None and written is None and output is None:
        return None
    total = (uncached or 0) + (read or 0) + (written or 0)
    if total > MAX_TOKENS:
        return None
    return UsageCounts._checked(total, output or 0, read or 0, written or 0)
