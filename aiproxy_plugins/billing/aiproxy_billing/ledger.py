"""The ledger: each billed event counted once in its consumer's daily aggregates, and kept as a record.

One :meth:`Ledger.write` per claimed batch, in this order (a crash anywhere means a replay of the
batch, never a loss, and a replay changes nothing):

1. the events are kept as records (``records("ledger")``: the SQLite state file embedded,
   PostgreSQL with ``records.postgresql``, nowhere on Redis without it), idempotent by request id;
2. events of tenants that export are queued for their webhooks (at least once: a replay may queue
   an event again; the receiver dedupes by its CloudEvents id);
3. per tenant, one ``increment_once`` adds every event to its consumer's aggregate of its day
   (``daily:<consumer>:<YYYY-MM-DD>``: requests and tokens per endpoint, tokens per model,
   requests per plan) and to the tenant's total, once per queue batch (:attr:`QueueEntry.batch`:
   the events one event-loop turn appended, which the queue hands out and back together): the
   batch's events are summed here, and a batch already counted in the last ``remember`` seconds is
   skipped whole.

Why per batch and not per request id: under load a batch holds tens of events, and Redis's work
per event (an idempotency key set and expired, every field of every event read by a script) was
most of what billing cost Redis. The worker acknowledges every item of a claim only after this
write, so a batch's effect is written whole or not at all, and a redelivered batch (whole, or the
part not acknowledged) is skipped whole.

Usage reports and invoices read the aggregates, so they are exact whatever the records sink;
Redis holds the aggregates (a few hundred bytes per consumer and day) and the remembered batch
ids (``remember`` seconds of traffic), never the events themselves.
"""

from __future__ import annotations

from collections import defaultdict
from datetime import date, datetime
from typing import TYPE_CHECKING, Sequence

from aiproxy_core.state import Increment, OnceStep, PluginState, Record, Records, Values

from .events import BillingEvent, billing_subject
from .pricing import PeriodUsage

if TYPE_CHECKING:
    from .export import StateExports

__all__ = ["Ledger"]

#: Increments per increment_once call (at most MAX_ONCE_INCREMENTS): one short script on Redis.
INCREMENTS_PER_CALL = 1000
TOTALS = "totals"


class Ledger:
    def __init__(self, state: PluginState, exports: "StateExports", *, remember: float) -> None:
        self._state = state
        self._exports = exports
        self.records: Records = state.records("ledger")
        self.remember = remember

    async def write(self, claimed: Sequence[tuple[str, BillingEvent]]) -> int:
        """Count claimed events (each with its queue batch) once; how many were new. Every event
        of a batch that was claimed must be in this call. Raises if the store fails (then the
        caller acknowledges nothing, and the batch is replayed)."""
        if not claimed:
            return 0
        events = [event for _, event in claimed]
        if self.records.sink != "none":  # on Redis without a records server nothing would be kept
            await self.records.write([Record(e.tenant_id, e.request_id, _seconds(e), e.to_dict()) for e in events])
        await self._exports.queue_events(events)
        # Events alike (a batch's are mostly one consumer's calls of one endpoint and model) are
        # counted together first, so each aggregate's field names are built once per group, not
        # per event.
        groups: dict[tuple[str, str, str | None, str, str, str, str, str | None], list[int]] = {}
        for batch, event in claimed:
            group = (event.tenant_id, batch, event.consumer_id, event.key_id, event.day, event.endpoint, event.model, event.plan_id)
            found = groups.get(group)
            if found is None:
                groups[group] = [1, event.input_tokens, event.output_tokens]
            else:
                found[0] += 1
                found[1] += event.input_tokens
                found[2] += event.output_tokens
        # tenant -> batch -> aggregate key -> summed fields; the tenant's total (TOTALS) is one
        # more aggregate, so its count of events is also what a fresh step adds.
        sums: dict[str, dict[str, dict[str, dict[str, int]]]] = defaultdict(lambda: defaultdict(dict))
        for (tenant_id, batch, consumer_id, key_id, day, endpoint, model, plan_id), (count, tokens_in, tokens_out) in groups.items():
            aggregates = sums[tenant_id][batch]
            key, fields = _aggregate(billing_subject(consumer_id, key_id), day, endpoint, model, plan_id, count, tokens_in, tokens_out)
            into = aggregates.setdefault(key, {})
            for name, amount in fields.items():
                into[name] = into.get(name, 0) + amount
            totals = aggregates.setdefault(TOTALS, {"events": 0})
            totals["events"] += count
        new = 0
        for tenant_id, batches in sums.items():
            values = self._state.values(tenant_id)
            steps: list[OnceStep] = []
            size = 0
            for batch, aggregates in batches.items():
                if steps and size + len(aggregates) > INCREMENTS_PER_CALL:
                    new += await self._increment(values, steps)
                    steps, size = [], 0
                steps.append(OnceStep(_ONCE_PREFIX + batch, tuple(Increment(key, fields) for key, fields in aggregates.items())))
                size += len(aggregates)
            new += await self._increment(values, steps)
        return new

    async def _increment(self, values: Values, steps: list[OnceStep]) -> int:
        """Events counted by the steps that were new (their TOTALS increment)."""
        fresh = await values.increment_once(steps, remember=self.remember)
        return sum(_events_of(step) for step, new in zip(steps, fresh) if new)

    async def count(self, tenant_id: str) -> int:
        """Billed events of the tenant (from its aggregates: exact on every records sink)."""
        return (await self._state.values(tenant_id).fields(TOTALS)).get("events", 0)

    async def days(self, tenant_id: str, consumer: str, days: list[date]) -> tuple[dict[str, PeriodUsage], str | None]:
        """Each day's usage (days without any are left out) and the plan recorded last."""
        values = self._state.values(tenant_id)
        usage: dict[str, PeriodUsage] = {}
        plan_id: str | None = None
        for day in days:
            fields = await values.fields(f"daily:{consumer}:{day.isoformat()}")
            if not fields:
                continue
            usage[day.isoformat()] = _period(fields)
            plans = {name[5:]: count for name, count in fields.items() if name.startswith("plan:")}
            if plans:
                plan_id = max(sorted(plans), key=lambda plan: plans[plan])  # the day's most used plan
        return usage, plan_id


#: Endpoints and models longer than this are cut in aggregate field names (a state field name is at
#: most 512 characters; a hostile request path must not make a batch unwritable).
MAX_NAME = 200


#: Before a batch id in its once-key.
_ONCE_PREFIX = "batch:"


def _events_of(step: OnceStep) -> int:
    return next(increment.fields["events"] for increment in step.increments if increment.key == TOTALS)


def _aggregate(
    consumer: str, day: str, endpoint: str, model: str, plan_id: str | None, count: int, tokens_in: int, tokens_out: int
) -> tuple[str, dict[str, int]]:
    """The daily aggregate ``count`` alike events add to, and what they add."""
    endpoint, model = endpoint[:MAX_NAME], model[:MAX_NAME]
    # Only what reports and invoices read: requests and tokens in all are sums of these (each
    # field is Redis work per event in the ledger's script, so none is kept twice).
    fields = {
        f"ep:{endpoint}": count,
        f"epin:{endpoint}": tokens_in,
        f"epout:{endpoint}": tokens_out,
        f"mdin:{model}": tokens_in,
        f"mdout:{model}": tokens_out,
    }
    if plan_id:
        fields[f"plan:{plan_id[:MAX_NAME]}"] = count
    return f"daily:{consumer}:{day}", fields


def _seconds(event: BillingEvent) -> float:
    return datetime.fromisoformat(event.timestamp.replace("Z", "+00:00")).timestamp()


def _period(fields: dict[str, int]) -> PeriodUsage:
    period = PeriodUsage()
    for name, value in fields.items():
        kind, _, subject = name.partition(":")
        if kind == "ep":
            period.requests_by_endpoint[subject] = value
        elif kind in ("epin", "epout"):
            i, o = period.tokens_by_endpoint.get(subject, (0, 0))
            period.tokens_by_endpoint[subject] = (value, o) if kind == "epin" else (i, value)
        elif kind in ("mdin", "mdout"):
            i, o = period.tokens_by_model.get(subject, (0, 0))
            period.tokens_by_model[subject] = (value, o) if kind == "mdin" else (i, value)
    return period
