"""The embedded queue: an outbox table in the state file, read by worker groups.

Tables (every row keyed by plugin and queue name first):

* ``state_queue_items``: one row per item, ``id`` an AUTOINCREMENT integer (never reused, so an
  old id acknowledged late cannot name a newer item); ``item`` is JSON as TEXT or bytes as a BLOB.
* ``state_queue_groups``: one row per worker group with ``cursor``, the highest item id the group
  was handed (Redis's last-delivered-id): items above it are new to the group.
* ``state_queue_claims``: one row per item a group handed out and has not acknowledged, with the
  worker, when it was claimed and how many times (``attempts``).

So an item is acknowledged by a group when it lies at or below the group's cursor and has no claim
row; once every group has acknowledged it, the row is deleted in the same transaction, and the
tables hold only what is still on its way. ``claim`` is one ``BEGIN IMMEDIATE`` transaction, so
workers in several processes on one file never take the same item at once.

All of it runs on the event loop's thread (see :mod:`.sqlite_db`); the items appended in one
event-loop turn are inserted in one transaction (:class:`.TurnBatch`).
"""

from __future__ import annotations

import asyncio
import sqlite3
from typing import Any, Sequence

from .api import Queue, QueueEntry, Value, new_queue_entry
from .queue_checks import check_claim, checked_name
from .sqlite_db import StateDatabase
from .turn_batch import TurnBatch, refused
from .value_codec import dump_json, load_json

__all__ = ["SCHEMA", "SqliteQueue"]

SCHEMA = """
CREATE TABLE IF NOT EXISTS state_queue_items (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    plugin TEXT NOT NULL,
    queue TEXT NOT NULL,
    item BLOB NOT NULL
);
CREATE INDEX IF NOT EXISTS state_queue_items_by_queue ON state_queue_items (plugin, queue, id);
CREATE TABLE IF NOT EXISTS state_queue_groups (
    plugin TEXT NOT NULL,
    queue TEXT NOT NULL,
    grp TEXT NOT NULL,
    cursor INTEGER NOT NULL,
    PRIMARY KEY (plugin, queue, grp)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS state_queue_claims (
    plugin TEXT NOT NULL,
    queue TEXT NOT NULL,
    grp TEXT NOT NULL,
    item_id INTEGER NOT NULL,
    worker TEXT NOT NULL,
    claimed_at REAL NOT NULL,
    attempts INTEGER NOT NULL,
    PRIMARY KEY (plugin, queue, grp, item_id)
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS state_queue_claims_by_item ON state_queue_claims (plugin, queue, item_id);
"""

#: Acknowledged by every group: at or below each group's cursor and claimed by none.
_DELETE_DONE = (
    "DELETE FROM state_queue_items WHERE plugin = ? AND queue = ? AND id = ?"
    " AND NOT EXISTS (SELECT 1 FROM state_queue_groups g WHERE g.plugin = ? AND g.queue = ? AND g.cursor < ?)"
    " AND NOT EXISTS (SELECT 1 FROM state_queue_claims c WHERE c.plugin = ? AND c.queue = ? AND c.item_id = ?)"
)


class SqliteQueue(Queue):
    def __init__(self, db: StateDatabase, plugin: str, name: str) -> None:
        db.ensure_schema(SCHEMA)
        self._db = db
        self._plugin = plugin
        self._name = checked_name("queue", name)
        self._batch: TurnBatch[str | bytes] = TurnBatch(self._write)

    def append(self, item: Value) -> "asyncio.Future[None]":
        # Encoded here, so a bad item fails its own append, not the turn's whole batch.
        try:
            encoded = item if isinstance(item, bytes) else dump_json(item)
        except ValueError as exc:
            return refused(exc)
        return self._batch.add(encoded)

    async def _write(self, items: list[str | bytes]) -> None:
        rows = [(self._plugin, self._name, item) for item in items]
        with self._db.transaction() as conn:
            conn.executemany("INSERT INTO state_queue_items (plugin, queue, item) VALUES (?, ?, ?)", rows)

    async def claim(self, group: str, worker: str, *, count: int = 100, reclaim_after: float = 30.0) -> list[QueueEntry]:
        checked_name("group", group)
        checked_name("worker", worker)
        check_claim(count, reclaim_after)
        plugin, name = self._plugin, self._name
        now = self._db.now()
        with self._db.transaction() as conn:
            cursor = self._cursor(conn, group)
            if cursor is None:
                # A new group starts before the first item still queued: it gets all of them.
                conn.execute("INSERT INTO state_queue_groups (plugin, queue, grp, cursor) VALUES (?, ?, ?, 0)", (plugin, name, group))
                cursor = 0
            # A dead worker's items first (the oldest claims), then new ones.
            stale = conn.execute(
                "SELECT c.item_id, c.attempts, i.item FROM state_queue_claims c"
                " JOIN state_queue_items i ON i.id = c.item_id"
                " WHERE c.plugin = ? AND c.queue = ? AND c.grp = ? AND c.claimed_at <= ?"
                " ORDER BY c.claimed_at, c.item_id LIMIT ?",
                (plugin, name, group, now - reclaim_after, count),
            ).fetchall()
            conn.executemany(
                "UPDATE state_queue_claims SET worker = ?, claimed_at = ?, attempts = attempts + 1"
                " WHERE plugin = ? AND queue = ? AND grp = ? AND item_id = ?",
                [(worker, now, plugin, name, group, item_id) for item_id, _, _ in stale],
            )
            entries = [new_queue_entry(str(item_id), _decoded(item), attempts + 1, f"{name}/{item_id}") for item_id, attempts, item in stale]
            if len(entries) < count:
                new = conn.execute(
                    "SELECT id, item FROM state_queue_items WHERE plugin = ? AND queue = ? AND id > ? ORDER BY id LIMIT ?",
                    (plugin, name, cursor, count - len(entries)),
                ).fetchall()
                if new:
                    conn.executemany(
                        "INSERT INTO state_queue_claims (plugin, queue, grp, item_id, worker, claimed_at, attempts) VALUES (?, ?, ?, ?, ?, ?, 1)",
                        [(plugin, name, group, item_id, worker, now) for item_id, _ in new],
                    )
                    conn.execute("UPDATE state_queue_groups SET cursor = ? WHERE plugin = ? AND queue = ? AND grp = ?", (new[-1][0], plugin, name, group))
                    entries.extend(new_queue_entry(str(item_id), _decoded(item), 1, f"{name}/{item_id}") for item_id, item in new)
        return entries

    async def ack(self, group: str, ids: Sequence[str]) -> None:
        checked_name("group", group)
        item_ids = [_item_id(entry_id) for entry_id in ids]
        if not item_ids:
            return
        plugin, name = self._plugin, self._name
        with self._db.transaction() as conn:
            done = []
            for item_id in item_ids:
                removed = conn.execute(
                    "DELETE FROM state_queue_claims WHERE plugin = ? AND queue = ? AND grp = ? AND item_id = ?", (plugin, name, group, item_id)
                ).rowcount
                if removed:  # an id this group never held (or acknowledged already) changes nothing
                    done.append(item_id)
            conn.executemany(_DELETE_DONE, [(plugin, name, i, plugin, name, i, plugin, name, i) for i in done])

    async def backlog(self, group: str) -> int:
        checked_name("group", group)
        plugin, name = self._plugin, self._name
        conn = self._db.conn
        cursor = self._cursor(conn, group)
        # A group that never claimed would start at the oldest item still queued: all of them.
        unread = conn.execute(
            "SELECT COUNT(*) FROM state_queue_items WHERE plugin = ? AND queue = ? AND id > ?", (plugin, name, cursor or 0)
        ).fetchone()[0]
        held = conn.execute("SELECT COUNT(*) FROM state_queue_claims WHERE plugin = ? AND queue = ? AND grp = ?", (plugin, name, group)).fetchone()[0]
        return int(unread) + int(held)

    def _cursor(self, conn: sqlite3.Connection, group: str) -> int | None:
        row = conn.execute(
            "SELECT cursor FROM state_queue_groups WHERE plugin = ? AND queue = ? AND grp = ?", (self._plugin, self._name, group)
        ).fetchone()
        return None if row is None else int(row[0])


def _decoded(item: Any) -> Value:
    return item if isinstance(item, bytes) else load_json(item)


def _item_id(entry_id: str) -> int:
    if isinstance(entry_id, str) and entry_id.isascii() and entry_id.isdigit():
        return int(entry_id)
    raise ValueError(f"not an id this queue handed out (QueueEntry.id): {entry_id!r:.80}")
