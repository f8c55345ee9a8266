"""Model prices by name, resolved the way clients spell models, and the cost of one answer.

Clients name models many ways: ``gpt-4o``, ``GPT-4o``, ``openai/gpt-4o``, ``gpt-4o-2024-08-06``,
``claude-3-5-sonnet-latest``, ``gpt-4o-mini-search-preview``. :meth:`PriceTable.price_of` tries, in
order, and answers with the first price found:

1. the name as given (lowercased: every lookup ignores case);
2. without a provider prefix (everything up to the last ``/``: ``openai/``, ``azure/openai/``);
3. without a snapshot suffix: a date (``-2024-08-06``, ``-20241022``) or ``-latest``;
4. the longest priced name it starts with, followed by ``-`` (``gpt-4o-mini-2024-07-18`` is
   ``gpt-4o-mini``, not ``gpt-4o``).

Step 4 assumes a variant costs what its family does. One that does not (``gpt-5-pro``, a dated
snapshot priced apart like ``gpt-4o-2024-05-13``) needs its own entry, which step 1 finds first.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from datetime import date
from functools import cache
from types import MappingProxyType
from typing import Any

from ..openai_shapes import TokenUsage
from .model_price import COST_DECIMALS, ModelPrice
from .overrides import MAX_MODEL_NAME_LENGTH, ModelPriceInput
from .price_file import read_builtin_price_file
from .usage_shapes import UsageCounts

__all__ = ["MAX_RESOLVED_NAMES", "ModelPrice", "PriceTable", "format_cost"]

#: Resolutions a table remembers. Model names come from clients, so any number of distinct names
#: may arrive; when this many are remembered the memory is cleared (resolving again is cheap).
MAX_RESOLVED_NAMES = 4096

_SNAPSHOT_SUFFIX = re.compile(r"-(?:\d{4}-\d{2}-\d{2}|\d{8}|latest)$")


class PriceTable:
    """Prices by model name (case-insensitive). Immutable but for its memory of resolved names,
    so one table may serve every request; a tenant's prices make another (:meth:`with_overrides`)."""

    __slots__ = ("_as_of", "_prices", "_resolved")

    def __init__(self, prices: Mapping[str, ModelPrice], *, as_of: date | None = None) -> None:
        """``prices``: USD per 1M tokens by model name; names of 1 to 200 characters, compared
        ignoring case (of two names equal but for case, the later wins). ``as_of``: the date the
        prices were checked, None when unknown."""
        table: dict[str, ModelPrice] = {}
        for name, price in prices.items():
            if not isinstance(name, str) or not 1 <= len(name) <= MAX_MODEL_NAME_LENGTH:
                raise ValueError(f"model names are text of 1 to {MAX_MODEL_NAME_LENGTH} characters, not {name!r}")
            if not isinstance(price, ModelPrice):
                raise TypeError(f"the price of {name!r} must be a ModelPrice, not {type(price).__name__}")
            table[name.lower()] = price
        self._prices = MappingProxyType(table)
        self._as_of = as_of
        self._resolved: dict[str, str | None] = {}

    @classmethod
    def builtin(cls) -> PriceTable:
        """The table shipped with the core (``model_prices.json``), read once per process."""
        return _builtin_table()

    @property
    def as_of(self) -> date | None:
        """When the prices were checked against the providers' pages."""
        return self._as_of

    @property
    def prices(self) -> Mapping[str, ModelPrice]:
        """Every price by (lowercase) model name, read-only."""
        return self._prices

    def with_overrides(self, overrides: Mapping[str, ModelPrice | ModelPriceInput | Mapping[str, Any]]) -> PriceTable:
        """This table with ``overrides`` (a tenant's own prices) winning: a new table, or this one
        when there are none. A mapping value is checked as :class:`ModelPriceInput` (pydantic's
        ValidationError, a ValueError, when it is not one).

        Building one costs a copy of the table: keep the result while the tenant is unchanged
        rather than building it per request, so its memory of resolved names is reused too."""
        if not overrides:
            return self
        merged = dict(self._prices)
        for name, price in overrides.items():
            if not isinstance(name, str):
                raise ValueError(f"model names are text, not {name!r}")
            merged[name.lower()] = _as_price(price)
        return PriceTable(merged, as_of=self._as_of)

    def price_of(self, model: str) -> ModelPrice | None:
        """The price of ``model`` as a client names it (see the module's docstring for how names
        resolve); None when no priced name matches, or the name is longer than 200 characters."""
        name = self.priced_name(model)
        return None if name is None else self._prices[name]

    def priced_name(self, model: str) -> str | None:
        """The table's own (lowercase) name that prices ``model``: ``gpt-4o`` for
        ``openai/GPT-4o-2024-08-06``. A bounded set, so it can label metrics, where the client's
        own spelling could not (any number of names resolve to one price)."""
        if not isinstance(model, str) or len(model) > MAX_MODEL_NAME_LENGTH:
            return None
        try:
            return self._resolved[model]
        except KeyError:
            pass
        name = self._resolve(model.lower())
        if len(self._resolved) >= MAX_RESOLVED_NAMES:
            self._resolved.clear()
        self._resolved[model] = name
        return name

    def _resolve(self, name: str) -> str | None:
        prices = self._prices
        if name in prices:
            return name
        name = name.rpartition("/")[2]
        if name in prices:
            return name
        name = _SNAPSHOT_SUFFIX.sub("", name)
        if name in prices:
            return name
        # Cutting at the last "-" each time tries the longest prefix first.
        while (cut := name.rfind("-")) > 0:
            name = name[:cut]
            if name in prices:
                return name
        return None

    def cost(self, model: str | None, usage: TokenUsage | UsageCounts | None) -> float | None:
        """What an answer cost in USD, rounded to 10 decimal places (see ``COST_DECIMALS``); None
        when the model or usage is unknown, or the usage is malformed.

        ``usage`` is :class:`UsageCounts` (from :func:`usage_counts`, which knows cached tokens) or
        ``openai_shapes.TokenUsage`` (whose input tokens are all priced as uncached)."""
        if model is None or usage is None:
            return None
        counts = _as_counts(usage)
        price = self.price_of(model)
        if counts is None or price is None:
            return None
        amount = price.cost(counts)
        # Only absurd prices built by hand overflow; a header must not read "inf".
        return amount if math.isfinite(amount) else None

    def __repr__(self) -> str:
        return f"PriceTable({len(self._prices)} models, as_of={self._as_of})"


def _as_price(price: ModelPrice | ModelPriceInput | Mapping[str, Any]) -> ModelPrice:
    if isinstance(price, ModelPrice):
        return price
    if isinstance(price, ModelPriceInput):
        return price.to_price()
    if isinstance(price, Mapping):
        return ModelPriceInput.model_validate(dict(price)).to_price()
    raise TypeError(f"a price is a ModelPrice, ModelPriceInput or mapping, not {type(price).__name__}")


def _as_counts(usage: TokenUsage | UsageCounts) -> UsageCounts | None:
    if isinstance(usage, UsageCounts):
        return usage
    if isinstance(usage, TokenUsage):
        try:
            return UsageCounts(usage.input_tokens, usage.output_tokens)
        except ValueError:  # counts beyond MAX_TOKENS, or not counts: the upstream's garbage
            return None
    return None


@cache
def _builtin_table() -> PriceTable:
    document = read_builtin_price_file()
    return PriceTable(document.prices, as_of=document.as_of)


def format_cost(cost: float) -> str:
    """``cost`` as a header value: a plain decimal (never an exponent: ``0.0000125``, not
    ``1.25e-05``), at most 10 decimals, no trailing zeros, ``"0"`` for zero. ValueError for NaN or
    an infinity."""
    if not math.isfinite(cost):
        raise ValueError(f"a cost is a finite number, not {cost!r}")
    text = f"{cost:.{COST_DECIMALS}f}".rstrip("0").rstrip(".")
    return "0" if text in ("", "-0") else text
