"""The embedded event queue: an outbox table in the plugin's SQLite file.

``put`` appends a row after the response (the events of one event-loop turn in one transaction:
see :class:`aiproxy_core.state.TurnBatch`); the worker moves rows into the ledger and deletes them
in one transaction (see :mod:`.ledger_sqlite`), so a crash leaves every row either still in the
outbox or already in the ledger, never both counted nor neither.
"""

from __future__ import annotations

from typing import Any

from aiproxy_core.state import TurnBatch

from .events import BillingEvent
from .sqlite_db import BillingDatabase, transaction

__all__ = ["SqliteOutbox"]


class SqliteOutbox:
    def __init__(self, database: BillingDatabase) -> None:
        self._db = database
        self._batch: TurnBatch[str] = TurnBatch(self._write)

    async def put(self, event: BillingEvent) -> None:
        """Queue one event; returns once the row is committed (raises if it could not be)."""
        await self._batch.add(event.to_json())

    async def _write(self, docs: list[str]) -> None:
        # The events of one event-loop turn in one transaction, run on the event loop's own thread:
        # a WAL append without fsync (synchronous=NORMAL), ~0.1-0.3 ms here. In a worker thread it
        # cost far more: the serving thread then waits for the GIL on every hand-over, which put
        # the gateway's p99 latency at ~150 ms in bench/run.sh (14 ms this way). The price: while
        # another writer holds SQLite's lock (the worker's short transaction), the loop waits.
        rows = [(doc,) for doc in docs]
        self._db.run_now(lambda c: transaction(c, lambda c: c.executemany("INSERT INTO outbox (event) VALUES (?)", rows)))

    async def backlog(self) -> dict[str, Any]:
        return {"kind": "sqlite outbox", "events_waiting": await self.size()}

    async def size(self) -> int:
        rows = await self._db.run(lambda c: c.execute("SELECT COUNT(*) FROM outbox").fetchall())
        return int(rows[0][0])

