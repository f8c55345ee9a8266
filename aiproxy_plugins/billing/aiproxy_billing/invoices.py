"""Monthly invoices from the same numbers as the usage report, closing them, and adjustments.

An invoice covers one calendar month (``YYYY-MM``, UTC). Its lines are the plan's priced
components, period by period as :func:`.pricing.price_period` computes them (a subscription's fee,
its overage; a pay-per-call price per endpoint; tiers; tokens per model and the markup), so the
lines of a month add up exactly to what the usage report charges for it. Line amounts and the
subtotal are exact; ``total`` is rounded half up to the cent.

Closing a month stores the invoice and what it billed. Events written later for that month (a
late worker, a replay) are billed on the next month's invoice as an ``adjustment`` line: the
closed month recomputed now, minus what was billed for it.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, datetime, timedelta, timezone
from decimal import Decimal
from typing import Any, Protocol

from aiproxy_core import BadRequest, Conflict, NotFound

from .backend import BillingBackend
from .money import CENT, ZERO, money_text, to_cents
from .plans import FreePlan, PayPerCallPlan, Plan, SubscriptionPlan, TieredPlan, UsagePlan
from .pricing import HUNDRED, MILLION, THOUSAND, PeriodUsage, price_period, token_prices
from .price_table import price_table
from .usage import UsageReport, days_between, period_of, report

__all__ = ["close_invoice", "get_invoice", "parse_period", "usage_report"]

_PERIOD = re.compile(r"^([0-9]{4})-(0[1-9]|1[0-2])$")


class ConsumerLookup(Protocol):
    async def get_consumer(self, tenant_id: str, consumer_id: str) -> Any: ...


@dataclass
class Line:
    kind: str
    description: str
    quantity: int | Decimal
    unit_price: Decimal
    amount: Decimal

    def as_json(self) -> dict[str, Any]:
        quantity = self.quantity if isinstance(self.quantity, int) else money_text(self.quantity.normalize())
        return {"type": self.kind, "description": self.description, "quantity": quantity,
                "unit_price": show(self.unit_price), "amount": show(self.amount)}


def show(amount: Decimal) -> str:
    """An exact amount without trailing zeros past the cent: "0.0300" is "0.03", "49" is "49.00"."""
    normal = amount.normalize()
    return money_text(normal.quantize(CENT) if normal.as_tuple().exponent > -2 else normal)  # type: ignore[operator]


#: Months an invoice can be for; their neighbours stay inside what ``datetime.date`` can hold.
FIRST_YEAR, LAST_YEAR = 1970, 9998


def parse_period(text: str) -> tuple[date, date]:
    """``YYYY-MM`` to its first and last day; anything else is a 400 ``invalid_period``."""
    match = _PERIOD.match(text)
    if match is None:
        raise BadRequest(f"period must be a month as YYYY-MM, not {text!r}", code="invalid_period")
    if not FIRST_YEAR <= int(match.group(1)) <= LAST_YEAR:  # also keeps next and previous months in range
        raise BadRequest(f"period must be a month of the years {FIRST_YEAR} to {LAST_YEAR}, not {text!r}", code="invalid_period")
    first = date(int(match.group(1)), int(match.group(2)), 1)
    following = date(first.year + first.month // 12, first.month % 12 + 1, 1)
    return first, following - timedelta(days=1)


def previous_period(period: str) -> str:
    first, _ = parse_period(period)
    return (first - timedelta(days=1)).strftime("%Y-%m")


async def consumer_plan(store: ConsumerLookup | None, tenant_id: str, consumer_id: str) -> tuple[bool, str | None]:
    """(does the consumer exist, its plan id); a store without consumers knows nothing (True, None)."""
    get_consumer = getattr(store, "get_consumer", None)
    if get_consumer is None:
        return True, None
    consumer = await get_consumer(tenant_id, consumer_id)
    if consumer is None:
        return False, None
    plan_id = getattr(consumer, "plan_id", None)
    return True, plan_id if isinstance(plan_id, str) and plan_id else None


async def usage_report(
    backend: BillingBackend, store: ConsumerLookup | None, tenant_id: str, consumer_id: str, first: date, last: date,
    plan_id: str | None = None,
) -> UsageReport:
    """The usage report (the Admin API's and ``aiproxy billing-usage``'s)."""
    usage_by_day, recorded_plan = await backend.ledger.days(tenant_id, consumer_id, days_between(first, last))
    explicit = plan_id
    plan_id = plan_id or (await consumer_plan(store, tenant_id, consumer_id))[1] or recorded_plan
    plan = await backend.plans.get(tenant_id, plan_id) if plan_id else None
    if explicit and plan is None:
        raise NotFound(f"this tenant has no plan with the id {explicit!r}", code="plan_not_found")
    return report(tenant_id, consumer_id, first, last, usage_by_day, plan)


def period_lines(plan: Plan, usage: PeriodUsage) -> list[Line]:
    """One line per priced component of one billing period; they add up to ``price_period``."""
    spec = plan.spec
    lines: list[Line] = []
    if isinstance(spec, FreePlan):
        return lines
    if isinstance(spec, PayPerCallPlan):
        for endpoint, count in sorted(usage.requests_by_endpoint.items()):
            price = spec.endpoint_prices.get(endpoint, spec.price_per_request)
            lines.append(Line("usage", f"Requests to {endpoint}", count, price, price * count))
    elif isinstance(spec, SubscriptionPlan):
        lines.append(Line("fixed_fee", f"Subscription fee ({spec.name})", 1, spec.fee, spec.fee))
        extra = max(0, usage.requests - spec.included_requests)
        if extra and spec.overage_per_request:
            lines.append(Line("usage", f"Requests over the {spec.included_requests} included", extra,
                              spec.overage_per_request, extra * spec.overage_per_request))
        tokens = max(0, usage.input_tokens + usage.output_tokens - spec.included_tokens)
        if tokens and spec.overage_per_1k_tokens:
            thousands = Decimal(tokens) / THOUSAND
            lines.append(Line("usage", f"Thousands of tokens over the {spec.included_tokens} included", thousands,
                              spec.overage_per_1k_tokens, tokens * spec.overage_per_1k_tokens / THOUSAND))
    elif isinstance(spec, TieredPlan):
        lines += _tier_lines(spec, usage)
    elif isinstance(spec, UsagePlan):
        table = price_table()
        for model, (input_tokens, output_tokens) in sorted(usage.tokens_by_model.items()):
            prices = token_prices(spec, model, table)
            if prices is None:
                continue
            for what, tokens, price in (("input", input_tokens, prices[0]), ("output", output_tokens, prices[1])):
                if tokens:
                    lines.append(Line("usage", f"{model} {what} tokens (millions)", Decimal(tokens) / MILLION, price,
                                      tokens * price / MILLION))
        if spec.markup_percent:
            base = sum((line.amount for line in lines), ZERO)
            markup = base * spec.markup_percent / HUNDRED
            lines.append(Line("usage", f"Markup {money_text(spec.markup_percent)}%", 1, markup, markup))
    return lines


def _tier_lines(spec: TieredPlan, usage: PeriodUsage) -> list[Line]:
    units = usage.requests if spec.unit == "requests" else usage.input_tokens + usage.output_tokens
    lines: list[Line] = []
    if spec.mode == "package":
        assert spec.package_size is not None and spec.package_price is not None
        packages = -(-units // spec.package_size)
        if packages:
            lines.append(Line("usage", f"Packages of {spec.package_size} {spec.unit}", packages, spec.package_price,
                              packages * spec.package_price))
        return lines
    if spec.mode == "volume":
        if units == 0:
            return lines
        tier = next(t for t in spec.tiers if t.up_to is None or units <= t.up_to)
        lines.append(Line("usage", f"{spec.unit.capitalize()} at the volume price", units, tier.unit_price, units * tier.unit_price))
        if tier.flat_fee:
            lines.append(Line("usage", "Volume tier flat fee", 1, tier.flat_fee, tier.flat_fee))
        return lines
    floor = 0
    for tier in spec.tiers:  # graduated, as pricing.graduated
        if units <= floor:
            break
        ceiling = units if tier.up_to is None else min(units, tier.up_to)
        lines.append(Line("usage", f"{spec.unit.capitalize()} {floor + 1}-{ceiling}", ceiling - floor, tier.unit_price,
                          (ceiling - floor) * tier.unit_price))
        if tier.flat_fee:
            lines.append(Line("usage", f"Flat fee, {spec.unit} {floor + 1}-{ceiling}", 1, tier.flat_fee, tier.flat_fee))
        floor = ceiling if tier.up_to is None else tier.up_to
    return lines


async def _own_charges(
    backend: BillingBackend, tenant_id: str, consumer_id: str, period: str, plan: Plan | None
) -> tuple[list[Line], int, PeriodUsage]:
    """The month's lines (merged over its billing periods), its request count and its usage."""
    first, last = parse_period(period)
    days = days_between(first, last)
    usage_by_day, _ = await backend.ledger.days(tenant_id, consumer_id, days)
    periods: dict[str, PeriodUsage] = {}
    total = PeriodUsage()
    for day in days:
        bucket = periods.setdefault(period_of(plan, day), PeriodUsage())
        used = usage_by_day.get(day.isoformat())
        if used is not None:
            bucket.merge(used)
            total.merge(used)
    merged: dict[tuple[str, str, Decimal], Line] = {}
    if plan is not None:
        for usage in periods.values():
            lines = period_lines(plan, usage)
            # the lines are the pricing engine's charge, component by component
            assert sum((line.amount for line in lines), ZERO) == price_period(plan.spec, usage), "invoice lines disagree with pricing"
            for line in lines:
                key = (line.kind, line.description, line.unit_price)
                if key in merged:
                    merged[key].quantity += line.quantity
                    merged[key].amount += line.amount
                else:
                    merged[key] = Line(line.kind, line.description, line.quantity, line.unit_price, line.amount)
    return list(merged.values()), total.requests, total


async def _resolve_plan(
    backend: BillingBackend, store: ConsumerLookup | None, tenant_id: str, consumer_id: str, period: str
) -> Plan | None:
    exists, plan_id = await consumer_plan(store, tenant_id, consumer_id)
    if not exists:
        raise NotFound(f"this tenant has no consumer with the id {consumer_id!r}", code="consumer_not_found")
    if plan_id is None:
        first, last = parse_period(period)
        _, plan_id = await backend.ledger.days(tenant_id, consumer_id, days_between(first, last))
    return await backend.plans.get(tenant_id, plan_id) if plan_id else None


async def _adjustment(backend: BillingBackend, tenant_id: str, consumer_id: str, period: str) -> tuple[str, Line, int] | None:
    """The line for usage recorded in the previous month after it was closed, if any."""
    previous = previous_period(period)
    closed = await backend.invoices.get(tenant_id, consumer_id, previous)
    if closed is None:
        return None
    plan_id = closed["invoice"].get("plan_id")
    plan = await backend.plans.get(tenant_id, plan_id) if plan_id else None
    lines, requests, _ = await _own_charges(backend, tenant_id, consumer_id, previous, plan)
    amount = sum((line.amount for line in lines), ZERO) - Decimal(closed["billed_amount"])
    extra = requests - int(closed["billed_requests"])
    if amount == 0 and extra == 0:
        return None
    text = f"Adjustment for {previous}: {extra} request(s) recorded after its invoice was closed"
    return previous, Line("adjustment", text, 1, amount, amount), extra


async def _build(
    backend: BillingBackend, store: ConsumerLookup | None, tenant_id: str, consumer_id: str, period: str
) -> tuple[dict[str, Any], Decimal, int, tuple[str, Line, int] | None]:
    first, last = parse_period(period)
    plan = await _resolve_plan(backend, store, tenant_id, consumer_id, period)
    lines, requests, usage = await _own_charges(backend, tenant_id, consumer_id, period, plan)
    own = sum((line.amount for line in lines), ZERO)
    adjustment = await _adjustment(backend, tenant_id, consumer_id, period)
    if adjustment is not None:
        lines.append(adjustment[1])
    subtotal = sum((line.amount for line in lines), ZERO)
    invoice = {
        "tenant_id": tenant_id, "consumer_id": consumer_id, "period": period,
        "from": first.isoformat(), "to": last.isoformat(), "status": "open",
        "plan_id": plan.id if plan else None, "currency": plan.spec.currency if plan else "USD",
        "requests": requests, "input_tokens": usage.input_tokens, "output_tokens": usage.output_tokens,
        "lines": [line.as_json() for line in lines],
        "subtotal": show(subtotal), "total": money_text(to_cents(subtotal)),
    }
    return invoice, own, requests, adjustment


async def get_invoice(backend: BillingBackend, store: ConsumerLookup | None, tenant_id: str, consumer_id: str, period: str) -> dict[str, Any]:
    """A closed month's stored invoice, or the open month's invoice computed now."""
    parse_period(period)
    if not (await consumer_plan(store, tenant_id, consumer_id))[0]:
        raise NotFound(f"this tenant has no consumer with the id {consumer_id!r}", code="consumer_not_found")
    closed = await backend.invoices.get(tenant_id, consumer_id, period)
    if closed is not None:
        return dict(closed["invoice"])
    return (await _build(backend, store, tenant_id, consumer_id, period))[0]


async def close_invoice(backend: BillingBackend, store: ConsumerLookup | None, tenant_id: str, consumer_id: str, period: str) -> dict[str, Any]:
    """Store the month's invoice as closed (409 if it already is, or if the month is not over)."""
    _, last = parse_period(period)
    if last >= datetime.now(timezone.utc).date():
        raise Conflict(f"{period} is not over yet; a month is closed after its last day (UTC)", code="period_not_over")
    invoice, own, requests, adjustment = await _build(backend, store, tenant_id, consumer_id, period)
    invoice["status"] = "closed"
    invoice["closed_at"] = datetime.now(timezone.utc).isoformat()
    record = {"invoice": invoice, "billed_amount": money_text(own), "billed_requests": requests}
    if not await backend.invoices.create(tenant_id, consumer_id, period, record):
        raise Conflict(f"the invoice for {period} is already closed", code="invoice_closed")
    if adjustment is not None:  # the previous month is now billed up to what this invoice carried
        previous, line, extra = adjustment
        earlier = await backend.invoices.get(tenant_id, consumer_id, previous)
        if earlier is not None:
            earlier["billed_amount"] = money_text(Decimal(earlier["billed_amount"]) + line.amount)
            earlier["billed_requests"] = int(earlier["billed_requests"]) + extra
            await backend.invoices.replace(tenant_id, consumer_id, previous, earlier)
    return invoice
