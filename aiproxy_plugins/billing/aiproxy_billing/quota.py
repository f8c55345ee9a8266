"""Free-plan quotas: admit at most ``quota`` requests per consumer and period (UTC day or month).

Each period is its own counter of the core's state API (``services.state("billing")``), named
``quota:<subject>:<period>`` (``2025-06`` or ``2025-06-01``), counted in ``pre_request`` with one
atomic check-and-count of the store, so concurrent requests on any number of gateways never
overshoot (a refused request counts nothing and never reaches the upstream).

The state API's windows are fixed lengths aligned to the epoch, and a calendar month is not: a
fixed window of, say, 32 days would start a new bucket (and forget the count) somewhere inside
most months. So each period gets a window of its own length: :func:`covering_window` picks a
width whose epoch-aligned bucket holds the whole period (from a margin before its first
millisecond to a margin after its last), and the counter, named by the period, is one bucket that
the store expires shortly after the period ends. Nothing else is ever counted in it.
"""

from __future__ import annotations

import time
from datetime import datetime, timedelta, timezone
from typing import Literal

from aiproxy_core.state import PluginState

__all__ = ["FreePlanQuota", "Period", "covering_window", "period_bounds", "period_key", "seconds_to_period_end"]

Period = Literal["day", "month"]

#: How far past each end of its period a counter's bucket reaches: the period is named by the
#: gateway's clock and counted by the store's, which may disagree by a little near midnight.
CLOCK_MARGIN_MS = 5 * 60 * 1000


def period_bounds(period: Period, now: datetime) -> tuple[datetime, datetime]:
    """The UTC day or calendar month holding ``now``: its first instant and the next period's."""
    if period == "day":
        start = now.replace(hour=0, minute=0, second=0, microsecond=0)
        return start, start + timedelta(days=1)
    start = now.replace(day=1, hour=0, minute=0, second=0, microsecond=0)
    year, month = (start.year + 1, 1) if start.month == 12 else (start.year, start.month + 1)
    return start, start.replace(year=year, month=month)


def period_key(period: Period, now: datetime) -> str:
    """The period in UTC: ``2025-06-01`` for a day, ``2025-06`` for a month."""
    return now.strftime("%Y-%m-%d" if period == "day" else "%Y-%m")


def covering_window(start_ms: int, end_ms: int) -> int:
    """A window width W (ms) such that one epoch-aligned bucket ``[kW, (k+1)W)`` holds
    ``[start_ms, end_ms)``; the bucket ends less than W/k after ``end_ms`` (about an hour for a
    month in this century), so the counter expires soon after its period.

    With ``k = start // length`` and ``W = start // k``, ``kW <= start`` and ``W >= length``; the
    bucket then reaches ``end`` unless ``start - kW`` (< k ms) eats into it, and one smaller k
    (W larger by about ``length / k``) always fixes that.
    """
    length = end_ms - start_ms
    if start_ms < length:
        return end_ms  # the first bucket [0, end) holds it (only periods near 1970)
    k = start_ms // length
    while k > 1:
        width = start_ms // k
        if (k + 1) * width >= end_ms:
            return width
        k -= 1
    return end_ms


class FreePlanQuota:
    """The free plans' request counts of every tenant, on the gateway's state backend."""

    def __init__(self, state: PluginState) -> None:
        self._state = state
        #: Per period type: (the period's end in epoch seconds, its counter's name part, window).
        self._current: dict[str, tuple[float, str, float]] = {}

    async def take(self, tenant_id: str, subject: str, period: Period, quota: int) -> bool:
        """Count one request and return True, or return False (counting nothing) when the quota is used up."""
        key, window = self._counter(period)
        verdict = await self._state.counters(tenant_id).add(f"quota:{subject}:{key}", 1, limit=quota, window=window, kind="fixed")
        return verdict.allowed

    def _counter(self, period: Period) -> tuple[str, float]:
        """The current period's name and window, worked out once per period (not per request)."""
        now = time.time()
        current = self._current.get(period)
        if current is None or now >= current[0]:
            moment = datetime.fromtimestamp(now, timezone.utc)
            start, end = period_bounds(period, moment)
            first = int(start.timestamp() * 1000) - CLOCK_MARGIN_MS
            last = int(end.timestamp() * 1000) + CLOCK_MARGIN_MS
            current = self._current[period] = (end.timestamp(), period_key(period, moment), covering_window(first, last) / 1000)
        return current[1], current[2]


def seconds_to_period_end(period: Period) -> int:
    """Whole seconds until the period ends (for ``Retry-After``), at least 1."""
    now = datetime.now(timezone.utc)
    return max(1, int((period_bounds(period, now)[1] - now).total_seconds()) + 1)
