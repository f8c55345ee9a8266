"""Kept records in the embedded SQLite state file: one row per record, ``INSERT OR IGNORE``."""

from __future__ import annotations

from typing import Any, Sequence

from .api import Record, Records, RecordSink
from .record_checks import checked_name, checked_page, checked_records, loaded
from .sqlite_db import StateDatabase

__all__ = ["SCHEMA", "SqliteRecords"]

SCHEMA = """
CREATE TABLE IF NOT EXISTS state_records (
    plugin TEXT NOT NULL,
    name TEXT NOT NULL,
    tenant TEXT NOT NULL,
    id TEXT NOT NULL,
    time REAL NOT NULL,
    data TEXT NOT NULL,
    PRIMARY KEY (plugin, name, tenant, id)
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS state_records_by_time ON state_records (plugin, name, tenant, time, id);
"""

_INSERT = "INSERT OR IGNORE INTO state_records (plugin, name, tenant, id, time, data) VALUES (?, ?, ?, ?, ?, ?)"


class SqliteRecords(Records):
    sink: RecordSink = "sqlite"

    def __init__(self, db: StateDatabase, plugin: str, name: str) -> None:
        db.ensure_schema(SCHEMA)
        self._db = db
        self._scope = (plugin, checked_name(name))

    async def write(self, records: Sequence[Record]) -> int:
        rows = checked_records(records)
        with self._db.transaction() as conn:
            before = conn.total_changes
            conn.executemany(_INSERT, [(*self._scope, *row) for row in rows])
            return conn.total_changes - before

    async def read(
        self, tenant_id: str, *, since: float | None = None, until: float | None = None, after: str | None = None, limit: int = 1000
    ) -> list[Record]:
        checked_page(tenant_id, limit, after)
        where = ["plugin = ? AND name = ? AND tenant = ?"]
        arguments: list[Any] = [*self._scope, tenant_id]
        if since is not None:
            where.append("time >= ?")
            arguments.append(since)
        if until is not None:
            where.append("time < ?")
            arguments.append(until)
        if after is not None:
            # The page's last record: continue strictly after its (time, id).
            where.append("(time, id) > (SELECT time, id FROM state_records WHERE plugin = ? AND name = ? AND tenant = ? AND id = ?)")
            arguments += [*self._scope, tenant_id, after]
        rows = self._db.conn.execute(
            f"SELECT id, time, data FROM state_records WHERE {' AND '.join(where)} ORDER BY time, id LIMIT ?", (*arguments, limit)
        )
        return [loaded(tenant_id, record_id, time, data) for record_id, time, data in rows]

    async def count(self, tenant_id: str) -> int:
        checked_page(tenant_id, 1, None)
        row = self._db.conn.execute(
            "SELECT COUNT(*) FROM state_records WHERE plugin = ? AND name = ? AND tenant = ?", (*self._scope, tenant_id)
        ).fetchone()
        return int(row[0])
