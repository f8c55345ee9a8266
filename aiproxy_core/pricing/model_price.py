"""One model's prices, in USD per 1M tokens, and what one answer's tokens cost at them."""

from __future__ import annotations

import math
from dataclasses import dataclass, fields

from .usage_shapes import UsageCounts

__all__ = ["COST_DECIMALS", "ModelPrice"]

#: Costs are rounded to this many decimal places (1e-10 USD). The cheapest token priced (a cached
#: gpt-5-nano input token, 0.005 per 1M) costs 5e-9 USD, so the rounding loses no token; it removes
#: float noise (3 * 0.1 is 0.30000000000000004) so equal usages give equal, short header values.
COST_DECIMALS = 10


@dataclass(frozen=True, slots=True)
class ModelPrice:
    """USD per 1M tokens. ``cached_input`` (a token read from the prompt cache) and
    ``cache_write_input`` (a token written to it) are None when the provider has no such price:
    those tokens then cost ``input``. Every price is a finite number >= 0 (else ValueError)."""

    input: float
    output: float
    cached_input: float | None = None
    cache_write_input: float | None = None

    def __post_init__(self) -> None:
        for field in fields(self):
            value = getattr(self, field.name)
            if value is None and field.name in ("cached_input", "cache_write_input"):
                continue
            # bool is an int subclass: `true` is not a price.
            if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value) or value < 0:
                raise ValueError(f"{field.name} must be a finite number >= 0 (USD per 1M tokens), not {value!r}")
            object.__setattr__(self, field.name, float(value))

    def cost(self, usage: UsageCounts) -> float:
        """What ``usage`` costs in USD, rounded to :data:`COST_DECIMALS` places."""
        cached = self.input if self.cached_input is None else self.cached_input
        write = self.input if self.cache_write_input is None else self.cache_write_input
        per_million = (
            usage.uncached_input_tokens * self.input
            + usage.cached_input_tokens * cached
            + usage.cache_write_tokens * write
            + usage.output_tokens * self.output
        )
        return round(per_million / 1_000_000, COST_DECIMALS)
