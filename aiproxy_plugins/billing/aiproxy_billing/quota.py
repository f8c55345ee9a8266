"""Free-plan quotas: admit at most ``quota`` requests per consumer and period, atomically.

Counting happens in ``pre_request`` (a refused request never reaches the upstream), in one Lua call
on Redis and one SQLite transaction embedded, so concurrent requests can never overshoot.
"""

from __future__ import annotations

import sqlite3
from datetime import datetime, timezone
from importlib import resources
from typing import Literal, Protocol

from aiproxy_core import ScriptConnection

from .sqlite_db import BillingDatabase, transaction

__all__ = ["QuotaCounter", "RedisQuota", "SqliteQuota", "period_key"]

SCRIPT = resources.files(__package__).joinpath("quota_take.lua").read_text()
#: Counters outlive their period by a margin, then expire on their own.
KEEP_SECONDS = {"day": 2 * 86400, "month": 32 * 86400}


def period_key(period: Literal["day", "month"], now: datetime | None = None) -> str:
    """The current period in UTC: ``2025-06-01`` for a day, ``2025-06`` for a month."""
    now = now or datetime.now(timezone.utc)
    return now.strftime("%Y-%m-%d" if period == "day" else "%Y-%m")


class QuotaCounter(Protocol):
    async def take(self, tenant_id: str, consumer: str, period: Literal["day", "month"], quota: int) -> bool:
        """Count one request and return True, or return False (and count nothing) when the quota is used up."""
        ...


class RedisQuota:
    """One Lua call per request, over the gateway's lean script connection."""

    def __init__(self, scripts: ScriptConnection, prefix: str) -> None:
        self._prefix = prefix
        self._scripts = scripts

    async def take(self, tenant_id: str, consumer: str, period: Literal["day", "month"], quota: int) -> bool:
        key = f"{self._prefix}:billing:quota:{tenant_id}:{consumer}:{period_key(period)}"
        return int(await self._scripts.evalsha(SCRIPT, [key], [quota, KEEP_SECONDS[period]])) > 0


class SqliteQuota:
    def __init__(self, database: BillingDatabase) -> None:
        self._db = database

    async def take(self, tenant_id: str, consumer: str, period: Literal["day", "month"], quota: int) -> bool:
        key = period_key(period)

        def count(c: sqlite3.Connection) -> bool:
            row = c.execute(
                "SELECT used FROM quota_counts WHERE tenant_id = ? AND consumer = ? AND period = ?", (tenant_id, consumer, key)
            ).fetchone()
            used = row[0] if row else 0
            if used >= quota:
                return False
            c.execute(
                "INSERT INTO quota_counts (tenant_id, consumer, period, used) VALUES (?, ?, ?, 1)"
                " ON CONFLICT (tenant_id, consumer, period) DO UPDATE SET used = used + 1",
                (tenant_id, consumer, key),
            )
            return True

        return self._db.run_now(lambda c: transaction(c, count))  # request path: see BillingDatabase.run_now
