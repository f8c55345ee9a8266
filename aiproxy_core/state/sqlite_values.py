"""Values on the embedded SQLite state file.

One row per key: ``kind`` says what ``data`` is (``j`` canonical JSON text, ``b`` the bytes as a
BLOB, ``f`` a field record's integers as a JSON object), ``expires_at`` the deadline by
:meth:`StateDatabase.now` (NULL: never). Expired rows are invisible to every read, overwritten
by the next write of their key, and swept a few hundred at a time every :data:`SWEEP_EVERY`
writes, so TTL'd data does not pile up.

Every call runs on the loop's thread with no ``await`` inside, so one process never interleaves
two calls; a read-then-write is one ``BEGIN IMMEDIATE`` transaction, so other processes on the
same file wait instead of interleaving.
"""

from __future__ import annotations

import sqlite3
from typing import Any, Sequence

from .api import CompareAndSet, Delete, Increment, OnceStep, Operation, Set, SetIfAbsent, Value, Values
from .keyspace import checked_key
from .once_steps import checked_once_steps
from .sqlite_db import StateDatabase
from .value_codec import MAX_FIELD, check_fields, check_ttl, dump_json, field_overflow, load_json, wrong_kind_for_increment

__all__ = ["SCHEMA", "SqliteValues", "drop_tenant"]

SCHEMA = """
CREATE TABLE IF NOT EXISTS state_values (
    tenant TEXT NOT NULL,
    plugin TEXT NOT NULL,
    key TEXT NOT NULL,
    kind TEXT NOT NULL,
    data NOT NULL,
    expires_at REAL,
    PRIMARY KEY (tenant, plugin, key)
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS state_values_expiry ON state_values (expires_at) WHERE expires_at IS NOT NULL;
CREATE TABLE IF NOT EXISTS state_once_keys (
    tenant TEXT NOT NULL,
    plugin TEXT NOT NULL,
    key TEXT NOT NULL,
    expires_at REAL NOT NULL,
    PRIMARY KEY (tenant, plugin, key)
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS state_once_keys_expiry ON state_once_keys (expires_at);
"""

#: Writes between two sweeps of expired rows, and rows removed per sweep.
SWEEP_EVERY = 512
SWEEP_ROWS = 256

_LIVE = "(expires_at IS NULL OR expires_at > ?)"
_ROW = f"SELECT kind, data FROM state_values WHERE tenant = ? AND plugin = ? AND key = ? AND {_LIVE}"
_UPSERT = (
    "INSERT INTO state_values (tenant, plugin, key, kind, data, expires_at) VALUES (?, ?, ?, ?, ?, ?)"
    " ON CONFLICT (tenant, plugin, key) DO UPDATE SET kind = excluded.kind, data = excluded.data, expires_at = excluded.expires_at"
)
_INSERT_IF_ABSENT = _UPSERT + " WHERE state_values.expires_at IS NOT NULL AND state_values.expires_at <= ?"
_DELETE = "DELETE FROM state_values WHERE tenant = ? AND plugin = ? AND key = ? RETURNING expires_at"
_SWEEP = (
    "DELETE FROM state_values WHERE (tenant, plugin, key) IN"
    " (SELECT tenant, plugin, key FROM state_values WHERE expires_at <= ? LIMIT ?)"
)

_ONCE_SEEN = "SELECT 1 FROM state_once_keys WHERE tenant = ? AND plugin = ? AND key = ? AND expires_at > ?"
_ONCE_REMEMBER = (
    "INSERT INTO state_once_keys (tenant, plugin, key, expires_at) VALUES (?, ?, ?, ?)"
    " ON CONFLICT (tenant, plugin, key) DO UPDATE SET expires_at = excluded.expires_at"
)
_ONCE_SWEEP = (
    "DELETE FROM state_once_keys WHERE (tenant, plugin, key) IN"
    " (SELECT tenant, plugin, key FROM state_once_keys WHERE expires_at <= ? LIMIT ?)"
)

_writes = 0


def drop_tenant(conn: sqlite3.Connection, plugin: str | None, tenant_id: str) -> None:
    """Every value of ``tenant_id`` of ``plugin`` (None: of every plugin); inside a transaction."""
    for table in ("state_values", "state_once_keys"):
        if plugin is None:
            conn.execute(f"DELETE FROM {table} WHERE tenant = ?", (tenant_id,))
        else:
            conn.execute(f"DELETE FROM {table} WHERE tenant = ? AND plugin = ?", (tenant_id, plugin))


class SqliteValues(Values):
    def __init__(self, db: StateDatabase, plugin: str, tenant_id: str) -> None:
        db.ensure_schema(SCHEMA)
        self._db = db
        self._scope = (tenant_id, plugin)

    # -- reads -----------------------------------------------------------------------------

    async def get(self, key: str) -> Value | None:
        row = self._row(self._db.conn, checked_key(key))
        if row is None:
            return None
        kind, data = row
        if kind == "f":
            raise ValueError(f"the key {key!r:.80} holds integer fields (written by increment): read it with fields()")
        return data if kind == "b" else load_json(data)

    async def fields(self, key: str) -> dict[str, int]:
        row = self._row(self._db.conn, checked_key(key))
        if row is None:
            return {}
        if row[0] != "f":
            raise ValueError(f"the key {key!r:.80} holds a value (written by set): read it with get()")
        fields: dict[str, int] = load_json(row[1])
        return fields

    async def keys(self, prefix: str = "", limit: int = 1000) -> list[str]:
        _check_limit(limit)
        where, arguments = self._prefix_range(prefix)
        rows = self._db.conn.execute(
            f"SELECT key FROM state_values WHERE {where} AND {_LIVE} ORDER BY key LIMIT ?", (*arguments, self._db.now(), limit)
        )
        return [key for (key,) in rows]

    # -- writes ----------------------------------------------------------------------------

    async def set(self, key: str, value: Value, ttl: float | None = None) -> None:
        kind, data = _stored(value)
        row = (*self._scope, checked_key(key), kind, data, self._deadline(ttl))
        with self._db.transaction() as conn:
            conn.execute(_UPSERT, row)
            self._maybe_sweep(conn)

    async def set_if_absent(self, key: str, value: Value, ttl: float | None = None) -> bool:
        kind, data = _stored(value)
        now = self._db.now()
        row = (*self._scope, checked_key(key), kind, data, _deadline(now, ttl), now)
        with self._db.transaction() as conn:
            written = conn.execute(_INSERT_IF_ABSENT, row).rowcount > 0
            self._maybe_sweep(conn)
        return written

    async def delete(self, key: str) -> bool:
        now = self._db.now()
        with self._db.transaction() as conn:
            deadlines = conn.execute(_DELETE, (*self._scope, checked_key(key))).fetchall()
        return any(deadline is None or deadline > now for (deadline,) in deadlines)

    async def compare_and_set(self, key: str, expected: Value | None, value: Value, ttl: float | None = None) -> bool:
        checked_key(key)
        wanted = None if expected is None else _stored(expected)
        kind, data = _stored(value)
        deadline = self._deadline(ttl)
        with self._db.transaction() as conn:
            if self._row(conn, key) != wanted:
                return False
            conn.execute(_UPSERT, (*self._scope, key, kind, data, deadline))
            self._maybe_sweep(conn)
        return True

    async def increment(self, key: str, fields: dict[str, int], ttl: float | None = None) -> dict[str, int]:
        checked_key(key)
        check_fields(fields)
        check_ttl(ttl)
        with self._db.transaction() as conn:
            after = self._increment(conn, key, fields, ttl)
            self._maybe_sweep(conn)
        return after

    async def increment_once(self, steps: Sequence[OnceStep], *, remember: float) -> list[bool]:
        remember = checked_once_steps(steps, remember)
        now = self._db.now()
        applied: list[bool] = []
        with self._db.transaction() as conn:
            seen: set[str] = set()
            for step in steps:
                fresh = step.once_key not in seen and conn.execute(_ONCE_SEEN, (*self._scope, step.once_key, now)).fetchone() is None
                seen.add(step.once_key)
                applied.append(fresh)
                if not fresh:
                    continue
                conn.execute(_ONCE_REMEMBER, (*self._scope, step.once_key, now + remember))
                for increment in step.increments:
                    # A ValueError here (a value at the key, an overflow) rolls everything back.
                    self._increment(conn, increment.key, increment.fields, increment.ttl)
            self._maybe_sweep(conn)
        return applied

    async def delete_prefix(self, prefix: str) -> int:
        where, arguments = self._prefix_range(prefix)
        now = self._db.now()
        with self._db.transaction() as conn:
            deadlines = conn.execute(f"DELETE FROM state_values WHERE {where} RETURNING expires_at", arguments).fetchall()
        return sum(1 for (deadline,) in deadlines if deadline is None or deadline > now)

    async def atomic(self, operations: Sequence[Operation]) -> bool:
        # Everything is checked and encoded before the transaction: a bad value writes nothing.
        prepared = [_prepare(operation) for operation in operations]
        now = self._db.now()
        with self._db.transaction() as conn:
            for operation, stored in prepared:
                if isinstance(operation, SetIfAbsent) and self._row(conn, operation.key) is not None:
                    return False
                if isinstance(operation, CompareAndSet) and self._row(conn, operation.key) != stored[1]:
                    return False
            for operation, stored in prepared:
                if isinstance(operation, Delete):
                    conn.execute(_DELETE, (*self._scope, operation.key)).fetchall()
                elif isinstance(operation, Increment):
                    # A ValueError here (a value at the key, an overflow) rolls everything back.
                    self._increment(conn, operation.key, operation.fields, operation.ttl)
                else:
                    kind, data = stored[0]
                    conn.execute(_UPSERT, (*self._scope, operation.key, kind, data, _deadline(now, operation.ttl)))
            self._maybe_sweep(conn)
        return True

    # -- inside a transaction --------------------------------------------------------------

    def _row(self, conn: sqlite3.Connection, key: str) -> tuple[str, Any] | None:
        row: tuple[str, Any] | None = conn.execute(_ROW, (*self._scope, key, self._db.now())).fetchone()
        return row

    def _increment(self, conn: sqlite3.Connection, key: str, fields: dict[str, int], ttl: float | None) -> dict[str, int]:
        row = self._row(conn, key)
        if row is None:
            if not fields:
                return {}
            current: dict[str, int] = {}
            deadline = self._deadline(ttl)
        elif row[0] != "f":
            raise wrong_kind_for_increment(key)
        else:
            current = load_json(row[1])
            deadline = None  # the TTL is set at creation only: keep the row's own
        for name, amount in fields.items():
            total = current.get(name, 0) + amount
            if abs(total) >= MAX_FIELD:
                raise field_overflow(key, name)
            current[name] = total
        data = dump_json(current)
        if row is None:
            conn.execute(_UPSERT, (*self._scope, key, "f", data, deadline))
        else:
            conn.execute("UPDATE state_values SET data = ? WHERE tenant = ? AND plugin = ? AND key = ?", (data, *self._scope, key))
        return current

    def _maybe_sweep(self, conn: sqlite3.Connection) -> None:
        global _writes
        _writes += 1
        if _writes % SWEEP_EVERY == 0:
            conn.execute(_SWEEP, (self._db.now(), SWEEP_ROWS))
            conn.execute(_ONCE_SWEEP, (self._db.now(), SWEEP_ROWS))

    def _deadline(self, ttl: float | None) -> float | None:
        return _deadline(self._db.now(), ttl)

    def _prefix_range(self, prefix: str) -> tuple[str, tuple[Any, ...]]:
        """The WHERE clause (and its arguments) of this scope's keys starting with ``prefix``: a
        range of the primary key, so SQLite reads only those rows."""
        if prefix == "":
            return "tenant = ? AND plugin = ?", self._scope
        checked_key(prefix)
        end = _after_prefix(prefix)
        if end is None:
            return "tenant = ? AND plugin = ? AND key >= ?", (*self._scope, prefix)
        return "tenant = ? AND plugin = ? AND key >= ? AND key < ?", (*self._scope, prefix, end)


def _stored(value: Value) -> tuple[str, Any]:
    """The ``(kind, data)`` columns of a value."""
    if isinstance(value, bytes):
        return "b", value
    return "j", dump_json(value)


def _prepare(operation: Operation) -> tuple[Operation, tuple[Any, Any]]:
    """An operation checked, with its value's columns and (for a compare) the expected ones."""
    if not isinstance(operation, (Set, SetIfAbsent, CompareAndSet, Delete, Increment)):
        raise ValueError(f"atomic() takes Set, SetIfAbsent, CompareAndSet, Delete and Increment operations, not {type(operation).__name__}")
    checked_key(operation.key)
    if isinstance(operation, (Set, SetIfAbsent)):
        check_ttl(operation.ttl)
        return operation, (_stored(operation.value), None)
    if isinstance(operation, CompareAndSet):
        check_ttl(operation.ttl)
        expected = None if operation.expected is None else _stored(operation.expected)
        return operation, (_stored(operation.value), expected)
    if isinstance(operation, Increment):
        check_fields(operation.fields)
        check_ttl(operation.ttl)
        return operation, (None, None)
    return operation, (None, None)


def _deadline(now: float, ttl: float | None) -> float | None:
    seconds = check_ttl(ttl)
    return None if seconds is None else now + seconds


def _after_prefix(prefix: str) -> str | None:
    """The least string greater than every string starting with ``prefix`` (None: there is none).

    SQLite compares TEXT as UTF-8 bytes, which orders like Python's code points, so incrementing
    the last character that can be incremented gives the end of the range.
    """
    while prefix:
        last = ord(prefix[-1])
        if last < 0x10FFFF:
            following = last + 1 if last + 1 != 0xD800 else 0xE000  # surrogates are not text
            return prefix[:-1] + chr(following)
        prefix = prefix[:-1]
    return None


def _check_limit(limit: int) -> None:
    if isinstance(limit, bool) or not isinstance(limit, int) or limit < 1:
        raise ValueError(f"limit is a positive int, not {limit!r:.40}")
