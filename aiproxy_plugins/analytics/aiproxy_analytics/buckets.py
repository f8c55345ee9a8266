"""Time buckets: minute, hour and day (UTC), their start times, and how far a query may reach."""

from __future__ import annotations

from typing import Literal, get_args

__all__ = ["INTERVALS", "Interval", "MAX_BUCKETS", "bucket_start", "interval_seconds"]

Interval = Literal["minute", "hour", "day"]
INTERVALS: tuple[Interval, ...] = get_args(Interval)

_SECONDS: dict[Interval, int] = {"minute": 60, "hour": 3600, "day": 86400}

#: The most buckets one query may span, per interval: a day of minutes, 31 days of hours, a
#: year of days (a query reads every process's key of every bucket, so the range is its cost).
MAX_BUCKETS: dict[Interval, int] = {"minute": 1440, "hour": 744, "day": 366}


def interval_seconds(interval: Interval) -> int:
    return _SECONDS[interval]


def bucket_start(interval: Interval, timestamp: float) -> int:
    """The start (unix seconds) of the bucket holding ``timestamp``; days start at 00:00 UTC."""
    width = _SECONDS[interval]
    return int(timestamp // width) * width
