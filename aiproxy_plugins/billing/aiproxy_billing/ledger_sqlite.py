"""The embedded ledger: a table with the idempotency key (tenant + request id) as primary key."""

from __future__ import annotations

import sqlite3
import time
from datetime import date

from . import sqlite_queue
from .events import BillingEvent
from .pricing import PeriodUsage
from .sqlite_db import BillingDatabase, transaction

__all__ = ["SqliteLedger"]


class SqliteLedger:
    def __init__(self, database: BillingDatabase) -> None:
        self._db = database

    async def drain_batch(self, limit: int) -> int:
        """Move up to ``limit`` outbox rows into the ledger in one transaction; returns rows moved."""
        return await self._db.run(lambda c: transaction(c, lambda c: self._move(c, limit)))

    @staticmethod
    def _move(connection: sqlite3.Connection, limit: int) -> int:
        rows = sqlite_queue.take(connection, limit)
        for _, text in rows:
            try:
                event = BillingEvent.from_json(text)
            except (ValueError, TypeError):
                continue  # malformed: dropped with its outbox row rather than blocking the queue
            write(connection, event)
        sqlite_queue.remove(connection, [seq for seq, _ in rows])
        return len(rows)

    async def write(self, events: list[BillingEvent]) -> int:
        def insert(c: sqlite3.Connection) -> int:
            return sum(write(c, e) for e in events)

        return await self._db.run(lambda c: transaction(c, insert))

    async def count(self, tenant_id: str) -> int:
        rows = await self._db.run(lambda c: c.execute("SELECT COUNT(*) FROM ledger WHERE tenant_id = ?", (tenant_id,)).fetchall())
        return int(rows[0][0])

    async def days(self, tenant_id: str, consumer: str, days: list[date]) -> tuple[dict[str, PeriodUsage], str | None]:
        first, last = days[0].isoformat(), days[-1].isoformat()

        def read(c: sqlite3.Connection) -> tuple[list[tuple[str, str, str, int, int, int]], list[tuple[str | None]]]:
            grouped = c.execute(
                "SELECT day, endpoint, model, COUNT(*), SUM(input_tokens), SUM(output_tokens) FROM ledger"
                " WHERE tenant_id = ? AND consumer = ? AND day BETWEEN ? AND ? GROUP BY day, endpoint, model",
                (tenant_id, consumer, first, last),
            ).fetchall()
            plan = c.execute(
                "SELECT plan_id FROM ledger WHERE tenant_id = ? AND consumer = ? AND day BETWEEN ? AND ?"
                " AND plan_id IS NOT NULL ORDER BY day DESC, rowid DESC LIMIT 1",
                (tenant_id, consumer, first, last),
            ).fetchall()
            return grouped, plan

        grouped, plan = await self._db.run(read)
        usage: dict[str, PeriodUsage] = {}
        for day, endpoint, model, requests, input_tokens, output_tokens in grouped:
            usage.setdefault(day, PeriodUsage()).add(endpoint, model, requests, input_tokens, output_tokens)
        return usage, plan[0][0] if plan else None


def write(connection: sqlite3.Connection, event: BillingEvent) -> int:
    """1 if the event is new, 0 if the ledger already holds its idempotency key."""
    cursor = connection.execute(
        "INSERT OR IGNORE INTO ledger (idempotency_key, tenant_id, consumer, day, endpoint, model,"
        " input_tokens, output_tokens, plan_id, event) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        (event.idempotency_key, event.tenant_id, event.consumer, event.day, event.endpoint, event.model,
         event.input_tokens, event.output_tokens, event.plan_id, event.to_json()),
    )
    if cursor.rowcount == 1:
        # A tenant that exports gets the event queued for its webhook in the same transaction.
        connection.execute(
            "INSERT OR IGNORE INTO export_queue (idempotency_key, tenant_id, event, attempts, next_at)"
            " SELECT ?, ?, ?, 0, ? WHERE EXISTS (SELECT 1 FROM export_targets WHERE tenant_id = ?)",
            (event.idempotency_key, event.tenant_id, event.to_json(), time.time(), event.tenant_id),
        )
    return cursor.rowcount
