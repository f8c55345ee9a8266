"""A tenant's own model prices, as the Admin API accepts them (``Tenant.model_prices``).

A tenant with negotiated prices, or a model the built-in table lacks (a fine-tune, a self-hosted
model), names its prices here; they win over the built-in ones for its requests
(:meth:`PriceTable.with_overrides <aiproxy_core.pricing.price_table.PriceTable.with_overrides>`).
The limits keep one tenant's document small and its names printable: they are stored, listed by the
Admin API and compared against model names clients send.
"""

from __future__ import annotations

import unicodedata
from typing import Annotated

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, StringConstraints

from .model_price import ModelPrice

__all__ = ["MAX_MODEL_NAME_LENGTH", "MAX_PRICE", "MAX_PRICE_OVERRIDES", "ModelName", "ModelPriceInput", "PriceOverrides"]

#: The highest price accepted, USD per 1M tokens: well above any listed model (o1-pro's output is
#: 600), low enough that a slipped decimal point (a price per token typed as per 1M) is caught.
MAX_PRICE = 10_000
#: Models one tenant may price: far more than any provider offers.
MAX_PRICE_OVERRIDES = 500
#: The longest model name: no provider's comes close. PriceTable resolves no longer name either.
MAX_MODEL_NAME_LENGTH = 200

# strict: a price given as text ("2.5") or as a bool is a mistake to report, not to convert.
_Price = Annotated[float, Field(ge=0, le=MAX_PRICE, allow_inf_nan=False, strict=True)]


class ModelPriceInput(BaseModel):
    """One model's prices, USD per 1M tokens. ``cached_input`` (prompt-cache reads) and
    ``cache_write_input`` (prompt-cache writes) default to ``input`` when left out."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    input: _Price
    output: _Price
    cached_input: _Price | None = None
    cache_write_input: _Price | None = None

    def to_price(self) -> ModelPrice:
        return ModelPrice(self.input, self.output, self.cached_input, self.cache_write_input)


def _printable(name: str) -> str:
    # Cc: C0 and C1 controls and DEL (a newline or NUL in a name would corrupt logs and listings).
    if any(unicodedata.category(character) == "Cc" for character in name):
        raise ValueError("a model name may not contain control characters")
    return name


def _distinct_ignoring_case(overrides: dict[str, ModelPriceInput]) -> dict[str, ModelPriceInput]:
    # Names are matched case-insensitively: "GPT-4o" and "gpt-4o" would price the same model twice.
    seen: set[str] = set()
    for name in overrides:
        if name.lower() in seen:
            raise ValueError(f"the model {name!r} is priced twice (names are compared ignoring case)")
        seen.add(name.lower())
    return overrides


#: A model name a tenant may price: 1 to 200 characters, no control characters.
ModelName = Annotated[
    str, StringConstraints(min_length=1, max_length=MAX_MODEL_NAME_LENGTH), AfterValidator(_printable)
]

#: A tenant's prices by model name: at most 500 models, each name once ignoring case.
PriceOverrides = Annotated[
    dict[ModelName, ModelPriceInput],
    Field(max_length=MAX_PRICE_OVERRIDES),
    AfterValidator(_distinct_ignoring_case),
]
