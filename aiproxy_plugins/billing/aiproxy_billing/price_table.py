"""The model price table shipped with the plugin (``model_prices.json``), as data, not code.

Prices change; the file carries its ``as_of`` date and ``source`` so a reader knows how old they
are, and a usage plan's own ``prices`` override it per model.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from decimal import Decimal
from functools import lru_cache
from importlib import resources

from .money import parse_money

__all__ = ["ModelPrice", "PriceTable", "price_table"]


@dataclass(frozen=True, slots=True)
class ModelPrice:
    input_per_1m: Decimal
    output_per_1m: Decimal


@dataclass(frozen=True)
class PriceTable:
    as_of: str
    source: str
    currency: str
    models: dict[str, ModelPrice]

    def find(self, model: str) -> ModelPrice | None:
        """The model's price; a dated snapshot (``gpt-4o-mini-2024-07-18``) takes its family's.

        The longest known name the model starts with wins, so ``gpt-4o-mini-...`` is never
        priced as ``gpt-4o``.
        """
        if model in self.models:
            return self.models[model]
        family = max((name for name in self.models if model.startswith(name + "-")), key=len, default=None)
        return self.models[family] if family is not None else None


@lru_cache(maxsize=1)
def price_table() -> PriceTable:
    raw = json.loads(resources.files(__package__).joinpath("model_prices.json").read_text())
    models = {
        name: ModelPrice(parse_money(p["input_per_1m"]), parse_money(p["output_per_1m"]))
        for name, p in raw["models"].items()
    }
    return PriceTable(raw["as_of"], raw["source"], raw["currency"], models)
