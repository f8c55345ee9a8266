"""An analytics query: its parameters checked (every mistake a 400 with a ``code`` and what to
fix), then the asked buckets of every process read and added up into groups with a series."""

from __future__ import annotations

import asyncio
import logging
import math
import time
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any, Mapping

from aiproxy_core import BadRequest
from aiproxy_core.state import Values

from .aggregate import Aggregate
from .buckets import INTERVALS, MAX_BUCKETS, Interval, bucket_start, interval_seconds
from .keys import DIMENSIONS, NO_VALUE, Dimension, parse_key, range_prefix

__all__ = ["AnalyticsQuery", "parse_query", "run_query"]

logger = logging.getLogger("aiproxy.analytics")

#: The dimensions a caller may group by (``all`` is what no ``group_by`` means).
GROUP_BY = tuple(d for d in DIMENSIONS if d != "all")
_PARAMETERS = {"from", "to", "interval", "group_by"}
#: Without ``from``: this many buckets before ``to``.
_DEFAULT_BUCKETS: dict[Interval, int] = {"minute": 60, "hour": 24, "day": 30}
#: Gets in flight at once while reading.
_READ_CONCURRENCY = 64
#: Stored aggregates one query may read (buckets x groups x processes): past it the caller is
#: asked to narrow the range, so one request cannot make the Admin API read millions of keys.
MAX_KEYS_PER_QUERY = 200_000


@dataclass(frozen=True)
class AnalyticsQuery:
    interval: Interval
    dimension: Dimension
    first: int  # the first bucket's start
    last: int  # the last bucket's start (inclusive)
    only: str | None = None  # one group's value (a consumer's own analytics)


def parse_query(params: Mapping[str, str], *, now: float | None = None, only_consumer: str | None = None) -> AnalyticsQuery:
    unknown = sorted(set(params) - _PARAMETERS)
    if unknown:
        raise BadRequest(f"unknown query parameter {unknown[0]!r}: use from, to, interval, group_by", code="unknown_parameter")
    interval = params.get("interval", "hour")
    if interval not in INTERVALS:
        raise BadRequest(f"interval must be one of minute, hour, day, not {interval[:40]!r}", code="invalid_interval")
    if only_consumer is not None:
        if params.get("group_by", "consumer") != "consumer":
            raise BadRequest("a consumer's analytics are grouped by consumer only: leave group_by out", code="invalid_group_by")
        dimension: Dimension = "consumer"
    else:
        group_by = params.get("group_by")
        if group_by is not None and group_by not in GROUP_BY:
            raise BadRequest(f"group_by must be one of {', '.join(GROUP_BY)}, not {group_by[:40]!r}", code="invalid_group_by")
        dimension = group_by or "all"
    width = interval_seconds(interval)
    to = _time(params["to"], "to") if "to" in params else (time.time() if now is None else now)
    since = _time(params["from"], "from") if "from" in params else to - _DEFAULT_BUCKETS[interval] * width
    if since >= to:
        raise BadRequest("from must be before to", code="invalid_range")
    first, last = bucket_start(interval, since), bucket_start(interval, math.nextafter(to, -math.inf))
    buckets = (last - first) // width + 1
    if buckets > MAX_BUCKETS[interval]:
        raise BadRequest(
            f"from-to spans {buckets} {interval}s; at most {MAX_BUCKETS[interval]} per query: narrow it or use a longer interval",
            code="range_too_long",
        )
    return AnalyticsQuery(interval, dimension, first, last, only_consumer)


def _time(text: str, name: str) -> float:
    """Epoch seconds (``1733400000``, ``1733400000.5``) or ISO 8601 (``2026-12-05T10:00:00Z``;
    without an offset it is UTC)."""
    try:
        value = float(text)
    except ValueError:
        try:
            moment = datetime.fromisoformat(text.strip().replace("Z", "+00:00").replace("z", "+00:00"))
        except ValueError:
            raise BadRequest(
                f"{name} must be ISO 8601 (2026-12-05T10:00:00Z) or epoch seconds, not {text[:40]!r}", code="invalid_time"
            ) from None
        if moment.tzinfo is None:
            moment = moment.replace(tzinfo=timezone.utc)
        value = moment.timestamp()
    if not math.isfinite(value) or not 0 <= value < 253402300800:  # before year 10000
        raise BadRequest(f"{name} must be a time between 1970 and 9999, not {text[:40]!r}", code="invalid_time")
    return value


async def run_query(values: Values, query: AnalyticsQuery) -> dict[str, Any]:
    """``{"groups": [...]}``: one per group value, busiest first, each with its totals, latency and
    TTFT percentiles of the whole range, and a ``series`` of its buckets in time order."""
    prefix = range_prefix(query.interval, query.dimension, query.first, query.last)
    listed = await values.keys(prefix, limit=MAX_KEYS_PER_QUERY + 1)
    if len(listed) > MAX_KEYS_PER_QUERY:
        raise BadRequest(
            f"this range holds more than {MAX_KEYS_PER_QUERY} stored aggregates: narrow from-to or use a longer interval",
            code="range_too_large",
        )
    keys = []
    for key in listed:
        parsed = parse_key(key)
        if parsed is None or not query.first <= parsed.bucket <= query.last:
            continue
        if query.only is not None and parsed.group != query.only:
            continue
        keys.append((key, parsed.bucket, parsed.group))
    semaphore = asyncio.Semaphore(_READ_CONCURRENCY)

    async def read(key: str) -> Any:
        async with semaphore:
            return await values.get(key)

    stored = await asyncio.gather(*(read(key) for key, _, _ in keys))
    buckets: dict[str, dict[int, Aggregate]] = {}
    for (key, bucket, group), data in zip(keys, stored):
        if data is None:
            continue  # expired between listing and reading
        try:
            aggregate = Aggregate.from_json(data)
            series = buckets.setdefault(group, {})
            if bucket in series:
                series[bucket].merge(aggregate)
            else:
                series[bucket] = aggregate
        except ValueError:
            logger.warning("analytics: skipped %s (unreadable, or written with another relative_accuracy)", key)
    groups = []
    for group, series in buckets.items():
        total = Aggregate(next(iter(series.values())).latency.accuracy)
        for aggregate in series.values():
            total.merge(aggregate)
        groups.append({"key": _key(query.dimension, group), **_figures(total),
                       "series": [{"start": _iso(bucket), **_figures(series[bucket])} for bucket in sorted(series)]})
    groups.sort(key=lambda g: (-g["requests"], str(g["key"])))
    return {"interval": query.interval, "from": _iso(query.first), "to": _iso(query.last + interval_seconds(query.interval)),
            "group_by": None if query.dimension == "all" else query.dimension, "groups": groups}


def _key(dimension: Dimension, group: str) -> dict[str, str | None]:
    if dimension == "all":
        return {}
    return {dimension: None if group == NO_VALUE else group}


def _figures(aggregate: Aggregate) -> dict[str, Any]:
    counts = aggregate.counts
    return {
        "requests": counts["requests"],
        "errors": counts["errors"],
        "input_tokens": counts["input_tokens"],
        "output_tokens": counts["output_tokens"],
        "cost": counts["cost_micros"] / 1_000_000,
        "request_bytes": counts["request_bytes"],
        "response_bytes": counts["response_bytes"],
        "interrupted": counts["interrupted"],
        "cache_hits": counts["cache_hits"],
        "flagged": counts["flagged"],
        "latency_ms": aggregate.latency.quantiles(),
        "ttft_ms": aggregate.ttft.quantiles(),
    }


def _iso(timestamp: int) -> str:
    return datetime.fromtimestamp(timestamp, timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
