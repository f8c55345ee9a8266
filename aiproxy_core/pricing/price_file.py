"""Reading ``model_prices.json``, the built-in price table, strictly.

The file is data, edited by hand when providers change prices: a typo (a misspelt key, a price
given as text, a missing date) fails loudly on load, and in tests, instead of pricing a model at 0.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import date
from importlib import resources
from typing import Any

from .model_price import ModelPrice

__all__ = ["PRICE_FILE", "PriceFile", "load_price_file", "parse_price_file", "read_builtin_price_file"]

#: The built-in table's file name, inside this package (shipped as package data).
PRICE_FILE = "model_prices.json"
_PACKAGE = __name__.rpartition(".")[0]

_TOP_KEYS = {"as_of", "currency", "unit", "source", "notes", "models"}
_REQUIRED_TOP_KEYS = {"as_of", "currency", "unit", "source", "models"}
_MODEL_KEYS = {"provider", "input", "output", "cached_input", "cache_write_input"}
_REQUIRED_MODEL_KEYS = {"provider", "input", "output"}


@dataclass(frozen=True, slots=True)
class PriceFile:
    """The parsed file: its date, where its numbers come from, and each model's price and provider."""

    as_of: date
    source: str
    prices: dict[str, ModelPrice]
    providers: dict[str, str]


def parse_price_file(document: Any) -> PriceFile:
    """Check and convert the parsed JSON; ValueError naming the first problem."""
    if not isinstance(document, dict):
        raise ValueError("the price file must be a JSON object")
    _check_keys("the price file", document, _TOP_KEYS, _REQUIRED_TOP_KEYS)
    if document["currency"] != "USD" or document["unit"] != "per 1M tokens":
        raise ValueError("the price file must be in USD per 1M tokens (currency, unit)")
    if not isinstance(document["source"], str) or not document["source"]:
        raise ValueError("source must say where the prices come from")
    try:
        as_of = date.fromisoformat(document["as_of"])
    except (TypeError, ValueError):
        raise ValueError(f"as_of must be a date (YYYY-MM-DD), not {document['as_of']!r}") from None
    models = document["models"]
    if not isinstance(models, dict) or not models:
        raise ValueError("models must be a non-empty object")
    prices: dict[str, ModelPrice] = {}
    providers: dict[str, str] = {}
    for name, entry in models.items():
        # Names are looked up lowercased: an uppercase one would never be found.
        if not name or name != name.lower():
            raise ValueError(f"model {name!r}: names are non-empty and lowercase")
        if not isinstance(entry, dict):
            raise ValueError(f"model {name!r} must be an object")
        _check_keys(f"model {name!r}", entry, _MODEL_KEYS, _REQUIRED_MODEL_KEYS)
        if not isinstance(entry["provider"], str) or not entry["provider"]:
            raise ValueError(f"model {name!r}: provider must be a name")
        try:
            prices[name] = ModelPrice(
                entry["input"], entry["output"], entry.get("cached_input"), entry.get("cache_write_input")
            )
        except ValueError as exc:
            raise ValueError(f"model {name!r}: {exc}") from None
        providers[name] = entry["provider"]
    return PriceFile(as_of, document["source"], prices, providers)


def _check_keys(where: str, value: dict[str, Any], known: set[str], required: set[str]) -> None:
    unknown, missing = set(value) - known, required - set(value)
    if unknown or missing:
        raise ValueError(f"{where}: unknown keys {sorted(unknown)}, missing keys {sorted(missing)}")


def _unique_keys(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    # json keeps the last of two equal keys: a model pasted twice would silently lose a price.
    result: dict[str, Any] = {}
    for key, value in pairs:
        if key in result:
            raise ValueError(f"the price file has the key {key!r} twice")
        result[key] = value
    return result


def load_price_file(text: str) -> PriceFile:
    """Parse and check the file's text (no key may appear twice in an object)."""
    return parse_price_file(json.loads(text, object_pairs_hook=_unique_keys))


def read_builtin_price_file() -> PriceFile:
    """The file shipped in this package, through importlib.resources (so it is found in a wheel,
    a zip or a source checkout alike)."""
    return load_price_file(resources.files(_PACKAGE).joinpath(PRICE_FILE).read_text(encoding="utf-8"))
