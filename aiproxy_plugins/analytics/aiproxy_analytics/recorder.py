"""Per-process aggregation, off the request path: each request leaves a row, and a task adds the
rows up and writes what changed every ``flush_seconds``.

A process writes its whole aggregate of a bucket and group under its own key (overwriting its
previous write), so no two processes ever write one key: there is no contention, no lost update,
and a reader adds the processes' aggregates up. A bucket leaves memory after its last write once
it has ended; records are written in the same flush, batched.
"""

from __future__ import annotations

import asyncio
import logging
import time
import uuid
from typing import TYPE_CHECKING, Awaitable, Callable

from aiproxy_core.state import PluginState, Record

from .aggregate import Aggregate
from .buckets import INTERVALS, Interval, bucket_start, interval_seconds
from .keys import OTHER, Dimension, aggregate_key
from .record import RequestRecord
from .row import TENANT, Row
from .settings import AnalyticsConfig

if TYPE_CHECKING:
    from .batch import Combination
    from .country import CountryOf

__all__ = ["Recorder"]

logger = logging.getLogger("aiproxy.analytics")

#: Writes in flight at once during a flush (each is one state-API call).
_WRITE_CONCURRENCY = 64
#: Kept records are written at most this many per call.
_RECORDS_PER_WRITE = 1000
#: While the store cannot be written, memory stays bounded: records past this many are dropped
#: (oldest first), and buckets that ended this long ago are given up.
_MAX_PENDING_RECORDS = 50_000
_GIVE_UP_SECONDS = 600

_Slot = tuple[str, Interval, int, Dimension, str]  # tenant, interval, bucket, dimension, group


def _groups(combination: Combination) -> tuple[tuple[Dimension, str], ...]:
    _, _, consumer, rule, model, status, country = combination
    return (("all", ""), ("consumer", consumer), ("rule", rule), ("model", model), ("status", status), ("country", country))


class Recorder:
    def __init__(
        self, state: PluginState, config: AnalyticsConfig, countries: Callable[[], Awaitable[CountryOf]], process_id: str | None = None,
    ) -> None:
        self._state = state
        self._config = config
        #: The country lookup, loaded (once) when the first flush needs it.
        self._countries = countries
        #: This process's part of every key it writes.
        self.process_id = process_id or uuid.uuid4().hex[:12]
        #: Requests since the last flush, as they left them (:mod:`.row`).
        self._rows: list[Row] = []
        self._live: dict[_Slot, Aggregate] = {}
        self._dirty: set[_Slot] = set()
        self._seen: dict[tuple[str, Interval, int, Dimension], set[str]] = {}
        self._records: list[RequestRecord] = []
        self._records_store = state.records("requests")

    def add(self, row: Row) -> None:
        """A finished request's row (the request path's whole cost: one append)."""
        self._rows.append(row)

    async def _take_rows(self) -> None:
        """Add the rows since the last flush up (one aggregate per combination of their groups)
        and spread each aggregate into its 3 intervals x 6 dimensions."""
        country_of = await self._countries()  # awaited first: rows that arrive meanwhile wait for the next flush
        rows, self._rows = self._rows, []
        if not rows:
            return
        # Imported here: numpy costs the gateway's start ~70 ms, worth paying only once rows arrive.
        from .batch import aggregates_of, records_of

        if self._config.keep_records:
            self._records = (self._records + records_of(rows, country_of))[-_MAX_PENDING_RECORDS:]
        self._spread(aggregates_of(rows, country_of, self._config.relative_accuracy))

    def _spread(self, pending: dict[Combination, Aggregate]) -> None:
        accuracy = self._config.relative_accuracy
        for combination, aggregate in pending.items():
            tenant, minute = combination[0], combination[1]
            groups = _groups(combination)
            for interval in INTERVALS:
                bucket = bucket_start(interval, minute)
                for dimension, value in groups:
                    slot = (tenant, interval, bucket, dimension, self._capped(tenant, interval, bucket, dimension, value))
                    live = self._live.get(slot)
                    if live is None:
                        live = self._live[slot] = Aggregate(accuracy)
                    live.merge(aggregate)
                    self._dirty.add(slot)

    def _capped(self, tenant: str, interval: Interval, bucket: int, dimension: Dimension, value: str) -> str:
        seen = self._seen.setdefault((tenant, interval, bucket, dimension), set())
        if value in seen:
            return value
        if len(seen) >= self._config.max_groups:
            return OTHER
        seen.add(value)
        return value

    @property
    def held(self) -> tuple[int, int, int]:
        """(rows, buckets, records) held in memory: rows waiting for the next flush, buckets and
        records waiting to be written or for their bucket to end."""
        return len(self._rows), len(self._live), len(self._records)

    def forget_tenant(self, tenant_id: str) -> None:
        """Drop a deleted tenant's rows and buckets, so the next flush does not write them back."""
        self._rows = [row for row in self._rows if row[TENANT] != tenant_id]
        for slot in [slot for slot in self._live if slot[0] == tenant_id]:
            del self._live[slot]
            self._dirty.discard(slot)
        for seen in [seen for seen in self._seen if seen[0] == tenant_id]:
            del self._seen[seen]
        self._records = [record for record in self._records if record.tenant_id != tenant_id]

    async def flush(self, now: float | None = None) -> int:
        """Write what changed since the last flush; how many aggregates were written."""
        now = time.time() if now is None else now
        await self._take_rows()
        dirty, self._dirty = self._dirty, set()
        records, self._records = self._records, []
        # Serialized now: a record added while the writes await lands in the next flush.
        writes = [(slot, self._live[slot].to_json()) for slot in dirty if slot in self._live]
        semaphore = asyncio.Semaphore(_WRITE_CONCURRENCY)

        async def write(slot: _Slot, data: dict[str, object]) -> None:
            tenant, interval, bucket, dimension, group = slot
            ttl = self._config.retention.model_dump()[interval] + interval_seconds(interval)
            async with semaphore:
                await self._state.values(tenant).set(aggregate_key(interval, dimension, bucket, group, self.process_id), data, ttl=ttl)

        try:
            await asyncio.gather(*(write(slot, data) for slot, data in writes))
            await self._write_records(records)
        except BaseException:
            self._dirty |= dirty  # written again next time (a set overwrites: no double count)
            self._records = (records + self._records)[-_MAX_PENDING_RECORDS:]
            self._give_up(now)
            raise
        self._drop_ended(now)
        return len(writes)

    async def _write_records(self, records: list[RequestRecord]) -> None:
        for start in range(0, len(records), _RECORDS_PER_WRITE):
            batch = records[start:start + _RECORDS_PER_WRITE]
            await self._records_store.write([Record(r.tenant_id, r.request_id, r.time, r.data()) for r in batch])

    def _give_up(self, now: float) -> None:
        stale = [slot for slot in self._live if slot[2] + interval_seconds(slot[1]) + _GIVE_UP_SECONDS <= now]
        if stale:
            logger.warning("analytics: the store was not writable for %d s: %d bucket(s) given up", _GIVE_UP_SECONDS, len(stale))
        for slot in stale:
            del self._live[slot]
            self._dirty.discard(slot)

    def _drop_ended(self, now: float) -> None:
        ended = [slot for slot in self._live if slot not in self._dirty and slot[2] + interval_seconds(slot[1]) <= now]
        for slot in ended:
            del self._live[slot]
        for seen in [seen for seen in self._seen if seen[2] + interval_seconds(seen[1]) <= now]:
            del self._seen[seen]

    async def run(self, stop: asyncio.Event) -> None:
        """Flush every ``flush_seconds`` until ``stop``; a failed flush is logged and retried."""
        while not stop.is_set():
            try:
                await asyncio.wait_for(stop.wait(), self._config.flush_seconds)
            except asyncio.TimeoutError:
                pass
            try:
                await self.flush()
            except Exception:
                logger.exception("analytics: writing aggregates failed; retrying at the next flush")
