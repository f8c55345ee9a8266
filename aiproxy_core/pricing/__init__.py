"""What a request cost upstream, in USD: the model price table and the arithmetic.

The gateway's ``X-AIProxy-Cost`` header is the upstream's cost of one request: the tokens the
upstream reported (:func:`usage_counts` reads OpenAI chat, OpenAI Responses and Anthropic usage,
cached tokens included) priced by a :class:`PriceTable`.

The built-in table (:meth:`PriceTable.builtin`) is data, ``model_prices.json`` in this package:
OpenAI's and Anthropic's public list prices (standard tier) in USD per 1M tokens, checked on
2026-11-01 (its ``as_of``; the file says what it leaves out: batch discounts, long-context
surcharges, ...). Prices change: update the file, not code.

A tenant overrides it with its own prices (negotiated rates, a fine-tune, a self-hosted model):
``Tenant.model_prices``, validated as :data:`PriceOverrides` (model name -> :class:`ModelPriceInput`,
USD per 1M tokens), applied with ``PriceTable.builtin().with_overrides(tenant.model_prices)``; a
tenant's price for a name wins over the built-in one, and resolves like it (``gpt-4o`` priced by a
tenant also prices ``gpt-4o-2024-08-06``).
"""

from .model_price import COST_DECIMALS, ModelPrice
from .overrides import MAX_MODEL_NAME_LENGTH, MAX_PRICE, MAX_PRICE_OVERRIDES, ModelName, ModelPriceInput, PriceOverrides
from .price_table import MAX_RESOLVED_NAMES, PriceTable, format_cost
from .usage_shapes import MAX_TOKENS, UsageCounts, usage_counts

__all__ = [
    "COST_DECIMALS",
    "MAX_MODEL_NAME_LENGTH",
    "MAX_PRICE",
    "MAX_PRICE_OVERRIDES",
    "MAX_RESOLVED_NAMES",
    "MAX_TOKENS",
    "ModelName",
    "ModelPrice",
    "ModelPriceInput",
    "PriceOverrides",
    "PriceTable",
    "UsageCounts",
    "format_cost",
    "usage_counts",
]
