"""The pricing engine: what one billing period's usage costs under a plan, exactly, in Decimal.

Pure functions of (plan, usage): no clock, no store. Callers split time into the plan's periods
(see :mod:`.usage`) and price each period alone, since tiers and included usage reset per period.
Nothing is rounded here; rounding to the cent happens once, where an amount is shown.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal

from .money import ZERO
from .plans import FreePlan, PayPerCallPlan, PlanSpec, SubscriptionPlan, Tier, TieredPlan, UsagePlan
from .price_table import PriceTable, price_table

__all__ = ["PeriodUsage", "graduated", "package", "price_period", "token_prices", "volume"]

MILLION = Decimal(1_000_000)
THOUSAND = Decimal(1000)
HUNDRED = Decimal(100)


@dataclass
class PeriodUsage:
    """What a consumer used in one period: requests per endpoint, (input, output) tokens per model."""

    requests_by_endpoint: dict[str, int] = field(default_factory=dict)
    tokens_by_model: dict[str, tuple[int, int]] = field(default_factory=dict)
    #: Only for reports (no plan prices tokens by endpoint).
    tokens_by_endpoint: dict[str, tuple[int, int]] = field(default_factory=dict)

    @property
    def requests(self) -> int:
        return sum(self.requests_by_endpoint.values())

    @property
    def input_tokens(self) -> int:
        return sum(i for i, _ in self.tokens_by_model.values())

    @property
    def output_tokens(self) -> int:
        return sum(o for _, o in self.tokens_by_model.values())

    def add(self, endpoint: str, model: str, requests: int, input_tokens: int, output_tokens: int) -> None:
        self.requests_by_endpoint[endpoint] = self.requests_by_endpoint.get(endpoint, 0) + requests
        _add_pair(self.tokens_by_model, model, input_tokens, output_tokens)
        _add_pair(self.tokens_by_endpoint, endpoint, input_tokens, output_tokens)

    def merge(self, other: "PeriodUsage") -> None:
        for endpoint, count in other.requests_by_endpoint.items():
            self.requests_by_endpoint[endpoint] = self.requests_by_endpoint.get(endpoint, 0) + count
        for model, (i, o) in other.tokens_by_model.items():
            _add_pair(self.tokens_by_model, model, i, o)
        for endpoint, (i, o) in other.tokens_by_endpoint.items():
            _add_pair(self.tokens_by_endpoint, endpoint, i, o)


def _add_pair(pairs: dict[str, tuple[int, int]], name: str, first: int, second: int) -> None:
    i, o = pairs.get(name, (0, 0))
    pairs[name] = (i + first, o + second)


def price_period(plan: PlanSpec, usage: PeriodUsage, table: PriceTable | None = None) -> Decimal:
    """The exact charge for one period of ``usage`` under ``plan``."""
    if isinstance(plan, FreePlan):
        return ZERO
    if isinstance(plan, PayPerCallPlan):
        return sum(
            (plan.endpoint_prices.get(endpoint, plan.price_per_request) * count
             for endpoint, count in usage.requests_by_endpoint.items()),
            ZERO,
        )
    if isinstance(plan, SubscriptionPlan):
        extra_requests = max(0, usage.requests - plan.included_requests)
        extra_tokens = max(0, usage.input_tokens + usage.output_tokens - plan.included_tokens)
        return plan.fee + extra_requests * plan.overage_per_request + extra_tokens * plan.overage_per_1k_tokens / THOUSAND
    if isinstance(plan, TieredPlan):
        units = usage.requests if plan.unit == "requests" else usage.input_tokens + usage.output_tokens
        if plan.mode == "package":
            assert plan.package_size is not None and plan.package_price is not None  # the model checks it
            return package(units, plan.package_size, plan.package_price)
        return graduated(units, plan.tiers) if plan.mode == "graduated" else volume(units, plan.tiers)
    if isinstance(plan, UsagePlan):
        return _by_tokens(plan, usage, table or price_table())
    raise TypeError(f"no pricing for {type(plan).__name__}")


def graduated(units: int, tiers: list[Tier]) -> Decimal:
    """Each unit at the price of the tier it falls in; the flat fee of every tier reached."""
    total = ZERO
    floor = 0
    for tier in tiers:
        if units <= floor:
            break
        ceiling = units if tier.up_to is None else min(units, tier.up_to)
        total += (ceiling - floor) * tier.unit_price + tier.flat_fee
        floor = ceiling if tier.up_to is None else tier.up_to
    return total


def volume(units: int, tiers: list[Tier]) -> Decimal:
    """Every unit at the price of the tier the total falls in, plus that tier's flat fee."""
    if units == 0:
        return ZERO  # no usage, no tier reached: not even the first tier's flat fee
    tier = next(t for t in tiers if t.up_to is None or units <= t.up_to)
    return units * tier.unit_price + tier.flat_fee


def package(units: int, size: int, price: Decimal) -> Decimal:
    """Whole packages, rounded up: a started package is paid in full."""
    return -(-units // size) * price


def token_prices(plan: UsagePlan, model: str, table: PriceTable) -> tuple[Decimal, Decimal] | None:
    """(input, output) prices per 1M tokens of ``model`` under ``plan``; None: the model costs nothing."""
    price = plan.prices.get(model)
    if price is not None:
        return price.input_per_1m, price.output_per_1m
    listed = table.find(model) if plan.use_price_table else None
    if listed is not None:
        return listed.input_per_1m, listed.output_per_1m
    if plan.unknown_model is not None:
        return plan.unknown_model.input_per_1m, plan.unknown_model.output_per_1m
    return None  # documented: an unknown model costs nothing rather than failing


def _by_tokens(plan: UsagePlan, usage: PeriodUsage, table: PriceTable) -> Decimal:
    total = ZERO
    for model, (input_tokens, output_tokens) in usage.tokens_by_model.items():
        prices = token_prices(plan, model, table)
        if prices is None:
            continue
        per_input, per_output = prices
        total += (input_tokens * per_input + output_tokens * per_output) / MILLION
    return total * (HUNDRED + plan.markup_percent) / HUNDRED
