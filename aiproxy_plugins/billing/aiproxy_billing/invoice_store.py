"""Closed invoices: a table in the plugin's SQLite file, or a hash per consumer in Redis.

A record is ``{"invoice": {...}, "billed_amount": "...", "billed_requests": n}``: the invoice as it
was closed, and what has been billed for its period so far (its own charges at close time, plus
any adjustment the next invoice carried when that one was closed).
"""

from __future__ import annotations

import json
import sqlite3
from typing import TYPE_CHECKING, Any, Protocol

from .sqlite_db import BillingDatabase, transaction

if TYPE_CHECKING:
    from redis.asyncio import Redis

__all__ = ["InvoiceStore", "RedisInvoices", "SqliteInvoices"]

SCHEMA = """
CREATE TABLE IF NOT EXISTS invoices (
    tenant_id TEXT NOT NULL,
    consumer TEXT NOT NULL,
    period TEXT NOT NULL,
    doc TEXT NOT NULL,
    PRIMARY KEY (tenant_id, consumer, period)
);
"""


class InvoiceStore(Protocol):
    async def get(self, tenant_id: str, consumer: str, period: str) -> dict[str, Any] | None: ...
    async def create(self, tenant_id: str, consumer: str, period: str, record: dict[str, Any]) -> bool: ...
    async def replace(self, tenant_id: str, consumer: str, period: str, record: dict[str, Any]) -> None: ...


class SqliteInvoices:
    def __init__(self, database: BillingDatabase) -> None:
        self._db = database
        database.run_now(lambda c: c.executescript(SCHEMA))

    async def get(self, tenant_id: str, consumer: str, period: str) -> dict[str, Any] | None:
        rows = await self._db.run(lambda c: c.execute(
            "SELECT doc FROM invoices WHERE tenant_id = ? AND consumer = ? AND period = ?", (tenant_id, consumer, period)
        ).fetchall())
        return json.loads(rows[0][0]) if rows else None

    async def create(self, tenant_id: str, consumer: str, period: str, record: dict[str, Any]) -> bool:
        def insert(c: sqlite3.Connection) -> bool:
            return c.execute(
                "INSERT OR IGNORE INTO invoices (tenant_id, consumer, period, doc) VALUES (?, ?, ?, ?)",
                (tenant_id, consumer, period, json.dumps(record)),
            ).rowcount > 0

        return await self._db.run(lambda c: transaction(c, insert))

    async def replace(self, tenant_id: str, consumer: str, period: str, record: dict[str, Any]) -> None:
        def update(c: sqlite3.Connection) -> None:
            c.execute(
                "UPDATE invoices SET doc = ? WHERE tenant_id = ? AND consumer = ? AND period = ?",
                (json.dumps(record), tenant_id, consumer, period),
            )

        await self._db.run(lambda c: transaction(c, update))


class RedisInvoices:
    """``{prefix}:billing:invoices:{tenant_id}:{consumer}``: a hash of period to the closed record."""

    def __init__(self, redis: "Redis", prefix: str) -> None:
        self._redis = redis
        self._prefix = prefix

    def key(self, tenant_id: str, consumer: str) -> str:
        return f"{self._prefix}:billing:invoices:{tenant_id}:{consumer}"

    async def get(self, tenant_id: str, consumer: str, period: str) -> dict[str, Any] | None:
        doc = await self._redis.hget(self.key(tenant_id, consumer), period)
        return json.loads(doc) if doc is not None else None

    async def create(self, tenant_id: str, consumer: str, period: str, record: dict[str, Any]) -> bool:
        return bool(await self._redis.hsetnx(self.key(tenant_id, consumer), period, json.dumps(record)))

    async def replace(self, tenant_id: str, consumer: str, period: str, record: dict[str, Any]) -> None:
        await self._redis.hset(self.key(tenant_id, consumer), period, json.dumps(record))
