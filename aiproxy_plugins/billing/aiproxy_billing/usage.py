"""A consumer's usage report over a date range: totals, by day and by endpoint, with its cost.

Tiers and included usage reset each billing period, so the range is cut at the plan's period
boundaries (calendar months or days, UTC) and each period is priced alone. Inside a period a
day's cost is what that day added (price of the usage up to and including it, minus up to the day
before), so the days add up to the total exactly; a subscription's fee is the period's fixed part.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta
from decimal import Decimal
from typing import Any

from .money import ZERO, money_text, to_cents
from .plans import Plan, SubscriptionPlan, TieredPlan
from .pricing import PeriodUsage, price_period

__all__ = ["MAX_DAYS", "UsageReport", "days_between", "period_of", "report"]

MAX_DAYS = 366


def days_between(first: date, last: date) -> list[date]:
    return [first + timedelta(days=n) for n in range((last - first).days + 1)]


@dataclass
class UsageReport:
    tenant_id: str
    consumer_id: str
    first: date
    last: date
    plan: Plan | None
    total: PeriodUsage
    fixed_fees: Decimal
    cost: Decimal
    by_day: list[dict[str, Any]]

    def as_json(self) -> dict[str, Any]:
        return {
            "tenant_id": self.tenant_id,
            "consumer_id": self.consumer_id,
            "from": self.first.isoformat(),
            "to": self.last.isoformat(),
            "plan_id": self.plan.id if self.plan else None,
            "currency": self.plan.spec.currency if self.plan else None,
            "requests": self.total.requests,
            "input_tokens": self.total.input_tokens,
            "output_tokens": self.total.output_tokens,
            "cost": money_text(to_cents(self.cost)),
            "cost_exact": money_text(self.cost),
            "fixed_fees": money_text(self.fixed_fees),
            "by_day": self.by_day,
            "by_endpoint": [
                {"endpoint": endpoint, "requests": count,
                 "input_tokens": self.total.tokens_by_endpoint.get(endpoint, (0, 0))[0],
                 "output_tokens": self.total.tokens_by_endpoint.get(endpoint, (0, 0))[1]}
                for endpoint, count in sorted(self.total.requests_by_endpoint.items())
            ],
        }


def period_of(plan: Plan | None, day: date) -> str:
    spec = plan.spec if plan else None
    period = spec.period if isinstance(spec, (SubscriptionPlan, TieredPlan)) else "month"
    return day.isoformat() if period == "day" else day.strftime("%Y-%m")


def report(
    tenant_id: str, consumer_id: str, first: date, last: date, usage_by_day: dict[str, PeriodUsage], plan: Plan | None
) -> UsageReport:
    total = PeriodUsage()
    by_day: list[dict[str, Any]] = []
    cost = ZERO
    fixed = ZERO
    periods: dict[str, PeriodUsage] = {}  # usage so far in each period
    for day in days_between(first, last):
        key = period_of(plan, day)
        if key not in periods:
            periods[key] = PeriodUsage()
            base = price_period(plan.spec, PeriodUsage()) if plan else ZERO  # e.g. a subscription fee
            fixed += base
            cost += base
        used = usage_by_day.get(day.isoformat())
        if used is None:
            continue
        so_far = periods[key]
        before = price_period(plan.spec, so_far) if plan else ZERO
        so_far.merge(used)
        day_cost = (price_period(plan.spec, so_far) - before) if plan else ZERO
        cost += day_cost
        total.merge(used)
        by_day.append({
            "date": day.isoformat(),
            "requests": used.requests,
            "input_tokens": used.input_tokens,
            "output_tokens": used.output_tokens,
            "cost": money_text(day_cost),
        })
    return UsageReport(tenant_id, consumer_id, first, last, plan, total, fixed, cost, by_day)
