"""The plugin's own SQLite file (embedded gateways): plans, the event outbox and the ledger.

One file for all three, so moving an event from the outbox into the ledger is one transaction:
that is what makes the embedded path exactly-once. WAL mode lets ``aiproxy serve`` append to the
outbox while an ``aiproxy billing-worker`` process drains it.
"""

from __future__ import annotations

import asyncio
import sqlite3
import threading
from pathlib import Path
from typing import Any, Callable, TypeVar

__all__ = ["BillingDatabase", "FILE_NAME"]

FILE_NAME = "billing.db"

T = TypeVar("T")

SCHEMA = """
CREATE TABLE IF NOT EXISTS plans (
    tenant_id TEXT NOT NULL,
    id TEXT NOT NULL,
    created_at TEXT NOT NULL,
    doc TEXT NOT NULL,
    PRIMARY KEY (tenant_id, id)
);
CREATE TABLE IF NOT EXISTS outbox (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    event TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS ledger (
    idempotency_key TEXT PRIMARY KEY,
    tenant_id TEXT NOT NULL,
    consumer TEXT NOT NULL,
    day TEXT NOT NULL,
    endpoint TEXT NOT NULL,
    model TEXT NOT NULL,
    input_tokens INTEGER NOT NULL,
    output_tokens INTEGER NOT NULL,
    plan_id TEXT,
    event TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS ledger_by_consumer_day ON ledger (tenant_id, consumer, day);
CREATE TABLE IF NOT EXISTS export_targets (
    tenant_id TEXT PRIMARY KEY,
    doc TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS export_queue (
    idempotency_key TEXT PRIMARY KEY,
    tenant_id TEXT NOT NULL,
    event TEXT NOT NULL,
    attempts INTEGER NOT NULL,
    next_at REAL NOT NULL
);
CREATE INDEX IF NOT EXISTS export_queue_due ON export_queue (next_at);
"""

class BillingDatabase:
    """A sqlite3 connection used from worker threads, one statement batch at a time."""

    def __init__(self, path: Path) -> None:
        self.path = path
        path.parent.mkdir(parents=True, exist_ok=True)
        # isolation_level None: transactions are explicit (BEGIN IMMEDIATE), never implicit.
        self._connection = sqlite3.connect(str(path), check_same_thread=False, isolation_level=None, timeout=30)
        self._connection.execute("PRAGMA journal_mode=WAL")
        self._connection.execute("PRAGMA synchronous=NORMAL")
        self._connection.executescript(SCHEMA)
        self._lock = threading.Lock()

    @classmethod
    def in_directory(cls, data_dir: Path) -> "BillingDatabase":
        return cls(data_dir / FILE_NAME)

    async def run(self, work: Callable[[sqlite3.Connection], T]) -> T:
        """Run ``work(connection)`` in a thread: for work that may take long (reports, the drain).

        Such work must stay in C as much as it can (SQL, not Python per row): a thread running
        Python holds the GIL, and the serving thread waiting for it added ~150 ms to the
        gateway's p99 latency under load (bench/run.sh).
        """
        return await asyncio.to_thread(self.run_now, work)

    def run_now(self, work: Callable[[sqlite3.Connection], T]) -> T:
        """Run ``work(connection)`` on the calling thread: for the request path's short transactions.

        One event-loop turn's outbox rows take ~0.1-0.3 ms
        (WAL, synchronous=NORMAL: no fsync per commit), less than a thread hand-over costs. The
        loop waits while another writer holds the lock (the drain's short SQL transaction).
        """
        with self._lock:
            return work(self._connection)

    def close(self) -> None:
        with self._lock:
            self._connection.close()

def transaction(connection: sqlite3.Connection, work: Callable[[sqlite3.Connection], T]) -> T:
    """``work`` inside BEGIN IMMEDIATE ... COMMIT (rolled back if it raises)."""
    connection.execute("BEGIN IMMEDIATE")
    try:
        result = work(connection)
    except BaseException:
        connection.execute("ROLLBACK")
        raise
    connection.execute("COMMIT")
    return result

Row = tuple[Any, ...]
