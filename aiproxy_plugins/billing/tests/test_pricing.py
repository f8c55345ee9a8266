"""The pricing engine against hand-computed amounts, to the cent (and exactly)."""

from __future__ import annotations

from decimal import Decimal

import pytest
from pydantic import ValidationError

from aiproxy_billing import PLAN_SPEC, PeriodUsage, price_period
from aiproxy_billing.money import parse_money, to_cents
from aiproxy_billing.price_table import price_table
from aiproxy_billing.pricing import graduated, package, volume

TIERS = [
    {"up_to": 100, "unit_price": "0.10", "flat_fee": "2.50"},
    {"up_to": 1000, "unit_price": "0.05"},
    {"unit_price": "0.01"},
]


def plan(**fields):  # type: ignore[no-untyped-def]
    return PLAN_SPEC.validate_python({"name": "p", **fields})


def requests(count: int, endpoint: str = "/v1/chat/completions") -> PeriodUsage:
    usage = PeriodUsage()
    usage.add(endpoint, "mock-model", count, 0, 0)
    return usage


def tokens(**by_model: tuple[int, int]) -> PeriodUsage:
    usage = PeriodUsage()
    for model, (i, o) in by_model.items():
        usage.add("/v1/chat/completions", model.replace("_", "-"), 1, i, o)
    return usage


@pytest.mark.parametrize(
    ("units", "expected"),
    [(0, "0"), (1, "2.60"), (100, "12.50"), (101, "12.55"), (1000, "57.50"), (1500, "62.50")],
)
def test_graduated(units: int, expected: str) -> None:
    # 1500: 100 x 0.10 + 2.50 flat = 12.50; 900 x 0.05 = 45.00; 500 x 0.01 = 5.00 -> 62.50
    tiered = plan(type="tiered", mode="graduated", tiers=TIERS)
    assert price_period(tiered, requests(units)) == Decimal(expected)
    assert graduated(units, tiered.tiers) == Decimal(expected)


@pytest.mark.parametrize(
    ("units", "expected"),
    [(0, "0"), (1, "2.60"), (100, "12.50"), (101, "5.05"), (500, "25.00"), (1000, "50.00"), (1500, "15.00")],
)
def test_volume(units: int, expected: str) -> None:
    # every unit at the price of the tier the total falls in: 1500 x 0.01 = 15.00
    tiered = plan(type="tiered", mode="volume", tiers=TIERS)
    assert volume(units, tiered.tiers) == Decimal(expected)
    assert price_period(tiered, requests(units)) == Decimal(expected)


@pytest.mark.parametrize(("units", "expected"), [(0, "0"), (1, "5.00"), (100, "5.00"), (101, "10.00"), (250, "15.00")])
def test_package(units: int, expected: str) -> None:
    assert package(units, 100, Decimal("5.00")) == Decimal(expected)
    assert price_period(plan(type="tiered", mode="package", package_size=100, package_price="5.00"), requests(units)) == Decimal(expected)


def test_tiered_on_tokens() -> None:
    tiered = plan(type="tiered", mode="graduated", unit="tokens", tiers=[{"up_to": 1000, "unit_price": "0"}, {"unit_price": "0.001"}])
    # 1,500 + 700 = 2,200 tokens: 1,000 free, 1,200 x 0.001 = 1.20
    assert price_period(tiered, tokens(mock_model=(1500, 700))) == Decimal("1.200")


def test_pay_per_call_by_endpoint() -> None:
    per_call = plan(type="pay_per_call", price_per_request="0.002", endpoint_prices={"/v1/embeddings": "0.0005"})
    usage = requests(1000)
    usage.merge(requests(2000, "/v1/embeddings"))
    # 1000 x 0.002 = 2.00; 2000 x 0.0005 = 1.00
    assert price_period(per_call, usage) == Decimal("3.00")


def test_subscription_with_included_usage_and_overage() -> None:
    sub = plan(type="subscription", fee="49.00", included_requests=10_000, overage_per_request="0.004",
               included_tokens=1_000_000, overage_per_1k_tokens="0.02")
    assert price_period(sub, PeriodUsage()) == Decimal("49.00")
    assert price_period(sub, requests(10_000)) == Decimal("49.00")
    usage = requests(12_500)
    usage.merge(tokens(gpt_4o=(1_000_000, 250_000)))  # one more request: 12,501
    # 49.00 + 2,501 x 0.004 = 10.004 + 250,000 tokens over = 250 x 0.02 = 5.00 -> 64.004
    assert price_period(sub, usage) == Decimal("64.004")
    assert to_cents(price_period(sub, usage)) == Decimal("64.00")


def test_usage_by_model_from_the_price_table() -> None:
    usage_plan = plan(type="usage")
    # gpt-4o-mini: 1M x 0.15 + 0.5M x 0.60 = 0.15 + 0.30 = 0.45; gpt-4o: 0.2M x 2.50 + 0.05M x 10 = 0.50 + 0.50
    usage = tokens(gpt_4o_mini=(1_000_000, 500_000), gpt_4o=(200_000, 50_000))
    assert price_period(usage_plan, usage) == Decimal("1.45")
    marked_up = plan(type="usage", markup_percent="20")
    assert price_period(marked_up, usage) == Decimal("1.74")


def test_dated_snapshots_take_their_family_price() -> None:
    table = price_table()
    assert table.find("gpt-4o-mini-2024-07-18") == table.models["gpt-4o-mini"]
    assert table.find("gpt-4o-2024-08-06") == table.models["gpt-4o"]
    assert table.find("nope") is None
    assert table.as_of and table.source.startswith("https://")


def test_usage_plan_prices_override_and_unknown_models() -> None:
    own = plan(type="usage", prices={"mock-model": {"input_per_1m": "1.00", "output_per_1m": "2.00"}})
    # 3,000 x 1.00/1M + 1,500 x 2.00/1M = 0.003 + 0.003 = 0.006 -> 0.01 to the cent
    cost = price_period(own, tokens(mock_model=(3000, 1500)))
    assert cost == Decimal("0.006") and to_cents(cost) == Decimal("0.01")
    assert price_period(own, tokens(unknown_x=(1_000_000, 0))) == 0
    fallback = plan(type="usage", unknown_model={"input_per_1m": "1", "output_per_1m": "1"})
    assert price_period(fallback, tokens(unknown_x=(1_000_000, 1_000_000))) == Decimal("2")


def test_free_plan_costs_nothing() -> None:
    assert price_period(plan(type="free", quota=10), requests(5)) == 0


@pytest.mark.parametrize(
    "fields",
    [
        {"type": "pay_per_call", "price_per_request": 0.1},  # a float: refused, never rounded
        {"type": "pay_per_call", "price_per_request": "-1"},
        {"type": "pay_per_call", "price_per_request": "abc"},
        {"type": "pay_per_call", "price_per_request": "NaN"},
        {"type": "tiered", "mode": "graduated", "tiers": [{"up_to": 10, "unit_price": "1"}]},  # no open last tier
        {"type": "tiered", "mode": "graduated", "tiers": [{"up_to": 10}, {"up_to": 5}, {}]},
        {"type": "tiered", "mode": "package", "package_size": 10},
        {"type": "free", "quota": 10, "over_quota_status": 403},
        {"type": "free", "quota": 10, "rate_limits": {"limit": 5, "window": "1 minute"}},
        {"type": "gold"},
    ],
)
def test_bad_plans_are_refused(fields: dict) -> None:  # type: ignore[type-arg]
    with pytest.raises(ValidationError):
        plan(**fields)


def test_money_parses_strings_and_ints_only() -> None:
    assert parse_money("0.002") == Decimal("0.002")
    assert parse_money(3) == Decimal(3)
    with pytest.raises(ValueError):
        parse_money(0.5)
    with pytest.raises(ValueError):
        parse_money(True)
