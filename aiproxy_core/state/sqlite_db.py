"""The embedded state's SQLite file: one connection per gateway process, used on the loop's thread.

Why on the loop's thread? Each call is one short transaction (microseconds on a local file, with
WAL and ``synchronous=NORMAL``), and a worker thread would make the serving thread wait for the
GIL at every hand-over: billing measured p99 of 146-292 ms that way, 14 ms on the loop's thread.
Every table of the state API lives here (``state.db`` beside the store's file), each keyed by
plugin and tenant first, so a tenant's state is dropped with one DELETE per table.
"""

from __future__ import annotations

import contextlib
import sqlite3
import time
from pathlib import Path
from typing import Iterator

__all__ = ["StateDatabase"]


class StateDatabase:
    def __init__(self, path: Path) -> None:
        self.path = path
        self._conn: sqlite3.Connection | None = None
        self._schemas: set[str] = set()

    def open(self) -> None:
        if self._conn is not None:
            return
        self.path.parent.mkdir(parents=True, exist_ok=True)
        conn = sqlite3.connect(str(self.path), isolation_level=None, check_same_thread=False)
        conn.execute("PRAGMA journal_mode=WAL")
        conn.execute("PRAGMA synchronous=NORMAL")
        conn.execute("PRAGMA busy_timeout=5000")
        self._conn = conn

    def close(self) -> None:
        if self._conn is not None:
            self._conn.close()
            self._conn = None
            self._schemas.clear()

    @property
    def conn(self) -> sqlite3.Connection:
        if self._conn is None:
            raise RuntimeError("the state database is not open; the gateway opens it at start")
        return self._conn

    @contextlib.contextmanager
    def transaction(self) -> Iterator[sqlite3.Connection]:
        """One ``BEGIN IMMEDIATE`` ... ``COMMIT`` (rolled back on error): other processes on the
        same file wait (busy_timeout) instead of interleaving."""
        conn = self.conn
        conn.execute("BEGIN IMMEDIATE")
        try:
            yield conn
        except BaseException:
            conn.execute("ROLLBACK")
            raise
        conn.execute("COMMIT")

    def ensure_schema(self, statements: str) -> None:
        """Run a primitive's ``CREATE TABLE IF NOT EXISTS ...`` statements, once per open file;
        each ``Sqlite*`` class calls it when it is made, so tables exist before any use."""
        if statements not in self._schemas:
            self.conn.executescript(statements)
            self._schemas.add(statements)

    @staticmethod
    def now() -> float:
        """The embedded store's clock: this host's (one machine shares one clock)."""
        return time.time()
