"""The embedded ledger: a table with the idempotency key (tenant + request id) as primary key."""

from __future__ import annotations

import logging
import sqlite3
import time
from datetime import date

from .events import BillingEvent
from .pricing import PeriodUsage
from .sqlite_db import BillingDatabase, transaction

__all__ = ["SqliteLedger"]

logger = logging.getLogger("aiproxy.billing.ledger")


class SqliteLedger:
    def __init__(self, database: BillingDatabase) -> None:
        self._db = database

    async def drain_batch(self, limit: int) -> int:
        """Move up to ``limit`` outbox rows into the ledger in one transaction; returns rows moved."""

        def drain(c: sqlite3.Connection) -> int:
            last = c.execute("SELECT MAX(seq) FROM (SELECT seq FROM outbox ORDER BY seq LIMIT ?)", (limit,)).fetchone()[0]
            return 0 if last is None else _move(c, last)[0]

        return await self._db.run(lambda c: transaction(c, drain))

    async def write(self, events: list[BillingEvent]) -> int:
        """Write ``events`` as the worker does (through the outbox, with whatever else is queued there).

        One way into the ledger, so idempotency and export queueing cannot differ between paths.
        Returns how many events were new to the ledger.
        """
        if not events:
            return 0
        docs = [(event.to_json(),) for event in events]

        def insert(c: sqlite3.Connection) -> int:
            c.executemany("INSERT INTO outbox (event) VALUES (?)", docs)
            return _move(c, c.execute("SELECT MAX(seq) FROM outbox").fetchone()[0])[1]

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


# The move is SQL only (SQLite's JSON functions read the events): a worker thread running Python
# per event held the GIL for milliseconds at a time, and the serving thread, waiting for it, added
# tens of milliseconds to the gateway's p99 latency in bench/run.sh.
_VALID = (
    "CASE WHEN json_valid(event) THEN"
    + " AND".join(
        f" json_type(event, '$.{name}') = '{kind}'"
        for name, kind in (("tenant_id", "text"), ("request_id", "text"), ("key_id", "text"), ("timestamp", "text"),
                           ("endpoint", "text"), ("model", "text"), ("input_tokens", "integer"), ("output_tokens", "integer"))
    )
    + " ELSE 0 END"
)
_KEY = "json_extract(event, '$.tenant_id') || ':' || json_extract(event, '$.request_id')"
_EXPORT_NEW = (
    "INSERT OR IGNORE INTO export_queue (idempotency_key, tenant_id, event, attempts, next_at)"
    f" SELECT {_KEY}, json_extract(event, '$.tenant_id'), event, 0, ? FROM outbox"
    f" WHERE seq <= ? AND {_VALID}"
    " AND json_extract(event, '$.tenant_id') IN (SELECT tenant_id FROM export_targets)"
    f" AND NOT EXISTS (SELECT 1 FROM ledger WHERE idempotency_key = {_KEY})"
)
_LEDGER_NEW = (
    "INSERT OR IGNORE INTO ledger (idempotency_key, tenant_id, consumer, day, endpoint, model,"
    " input_tokens, output_tokens, plan_id, event)"
    f" SELECT {_KEY}, json_extract(event, '$.tenant_id'),"
    " COALESCE(json_extract(event, '$.consumer_id'), 'key:' || json_extract(event, '$.key_id')),"
    " substr(json_extract(event, '$.timestamp'), 1, 10), json_extract(event, '$.endpoint'), json_extract(event, '$.model'),"
    " json_extract(event, '$.input_tokens'), json_extract(event, '$.output_tokens'), json_extract(event, '$.plan_id'), event"
    f" FROM outbox WHERE seq <= ? AND {_VALID} ORDER BY seq"
)


def _move(connection: sqlite3.Connection, last: int) -> tuple[int, int]:
    """Outbox rows up to ``last`` into the ledger (a tenant that exports: its export queue too).

    Returns (rows taken from the outbox, events new to the ledger).
    """
    # Exports first: "new" means not in the ledger before this batch.
    connection.execute(_EXPORT_NEW, (time.time(), last))
    new = connection.execute(_LEDGER_NEW, (last,)).rowcount
    malformed = connection.execute(f"SELECT COUNT(*) FROM outbox WHERE seq <= ? AND NOT ({_VALID})", (last,)).fetchone()[0]
    if malformed:  # dropped with their outbox rows rather than blocking the queue
        logger.error("billing: dropped %d malformed outbox row(s) (not JSON billing events)", malformed)
    return connection.execute("DELETE FROM outbox WHERE seq <= ?", (last,)).rowcount, new
