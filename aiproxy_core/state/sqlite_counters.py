"""Counters and balances on the embedded SQLite state file.

Tables (keyed by tenant and plugin first, so a tenant is dropped with one DELETE each):

* ``state_counter_buckets``: one row per sliding or fixed counter (name, kind, window): the
  current bucket's start and count and the previous bucket's count; ``expires_ms`` is when the
  row stops mattering (the end of the next bucket for sliding, of this one for fixed).
* ``state_counter_log``: the exact kind's log, one row per admitted call (its time and cost),
  ``expires_ms`` when it leaves the window.
* ``state_balances``: one row per balance (never expires: it is money).

Each call is one ``BEGIN IMMEDIATE`` transaction on the loop's thread with no ``await`` inside:
the check and the count are one step for this process and for any other on the same file.
Expired rows are invisible (every read compares with the clock) and swept a few hundred at a
time every :data:`SWEEP_EVERY` counting calls, so the tables do not grow with traffic.
"""

from __future__ import annotations

import math
import sqlite3
from typing import Iterator, Sequence

from .api import Counters, CounterRefund, CounterRequest, CounterVerdict, Reservation, WindowKind, new_verdict
from .counter_windows import (
    ExactLog,
    FixedBucket,
    Judgement,
    SlidingBuckets,
    Window,
    checked_amount,
    checked_kind,
    judge,
    window_ms,
)
from .keyspace import checked_key
from .sqlite_db import StateDatabase

__all__ = ["SCHEMA", "SqliteCounters", "drop_tenant"]

SCHEMA = """
CREATE TABLE IF NOT EXISTS state_counter_buckets (
    tenant TEXT NOT NULL,
    plugin TEXT NOT NULL,
    name TEXT NOT NULL,
    kind TEXT NOT NULL,
    window_ms INTEGER NOT NULL,
    start_ms INTEGER NOT NULL,
    cur INTEGER NOT NULL,
    prev INTEGER NOT NULL,
    expires_ms INTEGER NOT NULL,
    PRIMARY KEY (tenant, plugin, name, kind, window_ms)
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS state_counter_buckets_expiry ON state_counter_buckets (expires_ms);
CREATE TABLE IF NOT EXISTS state_counter_log (
    tenant TEXT NOT NULL,
    plugin TEXT NOT NULL,
    name TEXT NOT NULL,
    window_ms INTEGER NOT NULL,
    at_ms INTEGER NOT NULL,
    cost INTEGER NOT NULL,
    expires_ms INTEGER NOT NULL
);
CREATE INDEX IF NOT EXISTS state_counter_log_counter ON state_counter_log (tenant, plugin, name, window_ms, at_ms);
CREATE INDEX IF NOT EXISTS state_counter_log_expiry ON state_counter_log (expires_ms);
CREATE TABLE IF NOT EXISTS state_balances (
    tenant TEXT NOT NULL,
    plugin TEXT NOT NULL,
    name TEXT NOT NULL,
    amount INTEGER NOT NULL,
    PRIMARY KEY (tenant, plugin, name)
) WITHOUT ROWID;
"""

#: Counting calls between two sweeps, and rows removed per table per sweep: each call adds at
#: most one row, so a sweep removes more than the calls since the last one could have added.
SWEEP_EVERY = 128
SWEEP_ROWS = 256

_TABLES = ("state_counter_buckets", "state_counter_log", "state_balances")
_BUCKET = (
    "SELECT start_ms, cur, prev FROM state_counter_buckets"
    " WHERE tenant = ? AND plugin = ? AND name = ? AND kind = ? AND window_ms = ?"
)
_PUT_BUCKET = (
    "INSERT OR REPLACE INTO state_counter_buckets"
    " (tenant, plugin, name, kind, window_ms, start_ms, cur, prev, expires_ms) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)"
)
_LOG = (
    "SELECT rowid, at_ms, cost FROM state_counter_log"
    " WHERE tenant = ? AND plugin = ? AND name = ? AND window_ms = ? AND at_ms > ? ORDER BY at_ms, rowid"
)
_LOG_TOTAL = (
    "SELECT COALESCE(SUM(cost), 0) FROM state_counter_log"
    " WHERE tenant = ? AND plugin = ? AND name = ? AND window_ms = ? AND at_ms > ?"
)
_BALANCE = "SELECT amount FROM state_balances WHERE tenant = ? AND plugin = ? AND name = ?"
_PUT_BALANCE = "INSERT OR REPLACE INTO state_balances (tenant, plugin, name, amount) VALUES (?, ?, ?, ?)"

_calls = 0


def drop_tenant(conn: sqlite3.Connection, plugin: str | None, tenant_id: str) -> None:
    """Every counter and balance of ``tenant_id`` of ``plugin`` (None: every plugin's); inside a transaction."""
    for table in _TABLES:
        if plugin is None:
            conn.execute(f"DELETE FROM {table} WHERE tenant = ?", (tenant_id,))
        else:
            conn.execute(f"DELETE FROM {table} WHERE tenant = ? AND plugin = ?", (tenant_id, plugin))


def _sweep(conn: sqlite3.Connection, now: int) -> None:
    global _calls
    _calls += 1
    if _calls % SWEEP_EVERY:
        return
    conn.execute(
        "DELETE FROM state_counter_buckets WHERE (tenant, plugin, name, kind, window_ms) IN (SELECT tenant, plugin,"
        " name, kind, window_ms FROM state_counter_buckets WHERE expires_ms <= ? LIMIT ?)",
        (now, SWEEP_ROWS),
    )
    conn.execute(
        "DELETE FROM state_counter_log WHERE rowid IN (SELECT rowid FROM state_counter_log WHERE expires_ms <= ? LIMIT ?)",
        (now, SWEEP_ROWS),
    )


def _distinct(counters: list[tuple[str, str, int]]) -> None:
    if len(set(counters)) != len(counters):
        raise ValueError("a counter (name, kind, window) may appear only once in one call")


def _verdict(judgement: Judgement, limit: int, *, allowed: bool) -> CounterVerdict:
    return new_verdict(allowed, judgement.count, limit, judgement.retry_ms / 1000, judgement.reset_ms / 1000)


class SqliteCounters(Counters):
    def __init__(self, db: StateDatabase, plugin: str, tenant_id: str) -> None:
        db.ensure_schema(SCHEMA)
        self._db = db
        self._scope = (tenant_id, plugin)

    def _now_ms(self) -> int:
        return math.floor(self._db.now() * 1000)

    # -- windows ---------------------------------------------------------------------------

    async def add(self, name: str, cost: int, *, limit: int, window: float, kind: WindowKind = "sliding") -> CounterVerdict:
        (verdict,) = self._count([CounterRequest(name, cost, limit=limit, window=window, kind=kind)], counting=True)
        return verdict

    async def add_all(self, requests: Sequence[CounterRequest], *, timeout: float | None = None) -> list[CounterVerdict]:
        return self._count(requests, counting=True)

    async def peek(self, name: str, *, limit: int, window: float, kind: WindowKind = "sliding") -> CounterVerdict:
        (verdict,) = self._count([CounterRequest(name, 1, limit=limit, window=window, kind=kind)], counting=False)
        return verdict

    def _count(self, requests: Sequence[CounterRequest], *, counting: bool) -> list[CounterVerdict]:
        checked = [
            (checked_key(r.name), checked_amount(r.cost, "cost"), checked_amount(r.limit, "limit"), window_ms(r.window), checked_kind(r.kind))
            for r in requests
        ]
        _distinct([(name, kind, width) for name, _, _, width, kind in checked])
        if not checked:
            return []
        now = self._now_ms()
        with self._db.transaction() as conn:
            if counting:
                _sweep(conn, now)
            windows = [
                self._log(conn, name, width, now) if kind == "exact" else self._buckets(conn, name, kind, width, now)
                for name, _, _, width, kind in checked
            ]
            # Judged without counting first: only when every counter fits is any of them counted.
            fits = [cost <= limit and window.fits(cost, limit) for window, (_, cost, limit, _, _) in zip(windows, checked)]
            counted = counting and all(fits)
            verdicts = []
            for window, (name, cost, limit, width, kind) in zip(windows, checked):
                judgement = judge(window, cost, limit, counting=counted)
                if counted and cost:
                    if kind == "exact":
                        conn.execute(
                            "INSERT INTO state_counter_log (tenant, plugin, name, window_ms, at_ms, cost, expires_ms)"
                            " VALUES (?, ?, ?, ?, ?, ?, ?)",
                            (*self._scope, name, width, now, cost, now + width),
                        )
                    else:
                        self._put_buckets(conn, name, kind, width, now, window)  # type: ignore[arg-type]
                verdicts.append(_verdict(judgement, limit, allowed=all(fits)))
            return verdicts

    async def refund(self, name: str, cost: int, *, window: float, kind: WindowKind = "sliding") -> None:
        await self.refund_all([CounterRefund(name, cost, window=window, kind=kind)])

    async def refund_all(self, refunds: Sequence[CounterRefund], *, timeout: float | None = None) -> None:
        checked = [(checked_key(r.name), checked_amount(r.cost, "cost"), window_ms(r.window), checked_kind(r.kind)) for r in refunds]
        _distinct([(name, kind, width) for name, _, width, kind in checked])
        if not checked:
            return
        now = self._now_ms()
        with self._db.transaction() as conn:
            for name, cost, width, kind in checked:
                self._refund(conn, name, cost, width, kind, now)

    def _refund(self, conn: sqlite3.Connection, name: str, cost: int, width: int, kind: str, now: int) -> None:
        if kind == "exact":
            # The newest entries first: what was counted last is what is being taken back.
            rows = conn.execute(_LOG, (*self._scope, name, width, now - width)).fetchall()
            left = cost
            for rowid, _, entry_cost in reversed(rows):
                if left <= 0:
                    break
                if entry_cost <= left:
                    conn.execute("DELETE FROM state_counter_log WHERE rowid = ?", (rowid,))
                else:
                    conn.execute("UPDATE state_counter_log SET cost = ? WHERE rowid = ?", (entry_cost - left, rowid))
                left -= entry_cost
            return
        buckets = self._buckets(conn, name, kind, width, now)
        if buckets.count() == 0:
            return
        if isinstance(buckets, SlidingBuckets):
            # From this bucket first, then from the previous one (which still weighs on the window).
            taken = min(cost, buckets.cur)
            buckets.cur -= taken
            buckets.prev = max(0, buckets.prev - (cost - taken))
        else:
            buckets.cur = max(0, buckets.cur - cost)
        self._put_buckets(conn, name, kind, width, now, buckets)

    def _buckets(self, conn: sqlite3.Connection, name: str, kind: str, width: int, now: int) -> SlidingBuckets | FixedBucket:
        start = now - now % width
        row = conn.execute(_BUCKET, (*self._scope, name, kind[0], width)).fetchone()
        cur = prev = 0
        if row is not None:
            if row[0] == start:
                cur, prev = row[1], row[2]
            elif row[0] == start - width:
                prev = row[1]
        if kind == "fixed":
            return FixedBucket(cur, now - start, width)
        return SlidingBuckets(prev, cur, now - start, width)

    def _put_buckets(
        self, conn: sqlite3.Connection, name: str, kind: str, width: int, now: int, buckets: SlidingBuckets | FixedBucket
    ) -> None:
        start = now - now % width
        if isinstance(buckets, SlidingBuckets):
            row = (start, buckets.cur, buckets.prev, start + 2 * width)
        else:
            row = (start, buckets.cur, 0, start + width)
        conn.execute(_PUT_BUCKET, (*self._scope, name, kind[0], width, *row))

    def _log(self, conn: sqlite3.Connection, name: str, width: int, now: int) -> Window:
        where = (*self._scope, name, width, now - width)
        total = conn.execute(_LOG_TOTAL, where).fetchone()[0]

        def oldest() -> Iterator[tuple[int, int]]:
            # A cursor, read only as far as the wait needs (usually one row).
            for _, at, cost in conn.execute(_LOG, where):
                yield at, cost

        return ExactLog(total, oldest, now, width)

    # -- balances --------------------------------------------------------------------------

    def _balance(self, conn: sqlite3.Connection, name: str) -> int:
        row = conn.execute(_BALANCE, (*self._scope, name)).fetchone()
        return 0 if row is None else int(row[0])

    async def balance(self, name: str) -> int:
        return self._balance(self._db.conn, checked_key(name))

    async def credit(self, name: str, amount: int, *, ceiling: int | None = None) -> int | None:
        name, amount = checked_key(name), checked_amount(amount, "amount")
        if ceiling is not None:
            checked_amount(ceiling, "ceiling")
        with self._db.transaction() as conn:
            balance = self._balance(conn, name) + amount
            if ceiling is not None and balance > ceiling:
                return None
            conn.execute(_PUT_BALANCE, (*self._scope, name, balance))
            return balance

    async def reserve(self, name: str, amount: int) -> Reservation | None:
        name, amount = checked_key(name), checked_amount(amount, "amount")
        with self._db.transaction() as conn:
            balance = self._balance(conn, name)
            if balance < amount:
                return None
            conn.execute(_PUT_BALANCE, (*self._scope, name, balance - amount))
            return Reservation(name=name, amount=amount)

    async def settle(self, reservation: Reservation, spent: int) -> int:
        name, spent = checked_key(reservation.name), checked_amount(spent, "spent amount")
        with self._db.transaction() as conn:
            balance = self._balance(conn, name)
            owed = spent - reservation.amount
            if owed <= 0:
                conn.execute(_PUT_BALANCE, (*self._scope, name, balance - owed))
                return 0
            taken = min(balance, owed)
            conn.execute(_PUT_BALANCE, (*self._scope, name, balance - taken))
            return owed - taken
