"""The embedded event queue: an outbox table in the plugin's SQLite file.

``put`` appends a row on the request path; the worker moves rows into the ledger and deletes them
in one transaction (see :mod:`.ledger_sqlite`), so a crash leaves every row either still in the
outbox or already in the ledger, never both counted nor neither.
"""

from __future__ import annotations

import sqlite3
from typing import Any

from .events import BillingEvent
from .sqlite_db import BillingDatabase

__all__ = ["SqliteOutbox"]


class SqliteOutbox:
    def __init__(self, database: BillingDatabase) -> None:
        self._db = database

    async def put(self, event: BillingEvent) -> None:
        text = event.to_json()
        # One autocommitted INSERT: durable when put() returns (isolation_level None).
        await self._db.run(lambda c: c.execute("INSERT INTO outbox (event) VALUES (?)", (text,)))

    async def backlog(self) -> dict[str, Any]:
        return {"kind": "sqlite outbox", "events_waiting": await self.size()}

    async def size(self) -> int:
        rows = await self._db.run(lambda c: c.execute("SELECT COUNT(*) FROM outbox").fetchall())
        return int(rows[0][0])


def take(connection: sqlite3.Connection, limit: int) -> list[tuple[int, str]]:
    """The oldest ``limit`` rows (call inside the transaction that also deletes them)."""
    return connection.execute("SELECT seq, event FROM outbox ORDER BY seq LIMIT ?", (limit,)).fetchall()


def remove(connection: sqlite3.Connection, seqs: list[int]) -> None:
    connection.executemany("DELETE FROM outbox WHERE seq = ?", [(s,) for s in seqs])
