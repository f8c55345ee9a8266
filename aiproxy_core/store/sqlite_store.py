"""The embedded store: one SQLite file, for a gateway that runs as a single process.

Calls are synchronous ``sqlite3`` on the event loop. That is deliberate: admin writes are rare,
the auth and routing reads are cached by their callers, and a local SQLite read takes
microseconds, far less than a hop to a thread pool would. Each write is one short transaction
with no ``await`` inside it, so two coroutines can never interleave within one.
"""

from __future__ import annotations

import os
import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime

from ..errors import Conflict, NotFound
from ..models import ApiKey, Consumer, Rule, Tenant
from .base import Store, dump
from .events import ChangeEvent

_SCHEMA = """
CREATE TABLE IF NOT EXISTS tenants (
    id         TEXT PRIMARY KEY,
    name_key   TEXT NOT NULL UNIQUE,
    subdomain  TEXT NOT NULL UNIQUE,
    created_at REAL NOT NULL,
    doc        TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS rules (
    tenant_id  TEXT NOT NULL,
    id         TEXT NOT NULL,
    created_at REAL NOT NULL,
    doc        TEXT NOT NULL,
    PRIMARY KEY (tenant_id, id)
);
CREATE TABLE IF NOT EXISTS api_keys (
    id          TEXT PRIMARY KEY,
    tenant_id   TEXT NOT NULL,
    consumer_id TEXT,
    hash        TEXT NOT NULL UNIQUE,
    created_at  REAL NOT NULL,
    doc         TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS api_keys_by_tenant ON api_keys (tenant_id, consumer_id);
CREATE TABLE IF NOT EXISTS consumers (
    tenant_id  TEXT NOT NULL,
    id         TEXT NOT NULL,
    created_at REAL NOT NULL,
    doc        TEXT NOT NULL,
    PRIMARY KEY (tenant_id, id)
);
"""


def _name_key(name: str) -> str:
    """Tenant names are unique ignoring case; casefold also equates e.g. 'ß' and 'SS'."""
    return name.casefold()


def _sort_key(created_at: datetime) -> float:
    """Stored as epoch seconds: ISO strings with mixed offsets would not sort by time."""
    return created_at.timestamp()


class SQLiteStore(Store):
    """Tenants, rules and keys in one SQLite file (WAL mode), each record kept as its JSON."""

    def __init__(self, path: str) -> None:
        super().__init__()
        self.path = path if path == ":memory:" else os.path.abspath(path)
        self._conn: sqlite3.Connection | None = None

    @property
    def description(self) -> str:
        return f"SQLite file {self.path}"

    # -- lifecycle ------------------------------------------------------------------------------
    async def open(self) -> None:
        try:
            # isolation_level=None: we issue BEGIN/COMMIT ourselves, so a transaction spans
            # exactly the statements of one write and nothing else.
            conn = sqlite3.connect(self.path, check_same_thread=False, isolation_level=None, timeout=5.0)
            # WAL lets a CLI or backup read the file while the gateway writes to it.
            conn.execute("PRAGMA journal_mode=WAL")
            conn.executescript(_SCHEMA)
        except sqlite3.Error as exc:
            raise OSError(f"cannot open SQLite store {self.path}: {exc}") from exc
        self._conn = conn

    async def ping(self) -> None:
        if self._conn is None:
            raise ConnectionError(f"the SQLite store {self.path} is not open")
        self._conn.execute("SELECT 1").fetchone()

    async def close(self) -> None:
        if self._conn is not None:
            self._conn.close()
            self._conn = None

    @property
    def _db(self) -> sqlite3.Connection:
        if self._conn is None:
            raise RuntimeError("SQLiteStore used before open() or after close()")
        return self._conn

    @contextmanager
    def _transaction(self) -> Iterator[sqlite3.Connection]:
        """BEGIN IMMEDIATE takes the write lock up front, so checks and writes see one state."""
        db = self._db
        db.execute("BEGIN IMMEDIATE")
        try:
            yield db
        except BaseException:
            db.execute("ROLLBACK")
            raise
        db.execute("COMMIT")

    def _require_tenant(self, db: sqlite3.Connection, tenant_id: str) -> None:
        # Checked inside the write's transaction, so a rule or key can never outlive its tenant.
        if db.execute("SELECT 1 FROM tenants WHERE id = ?", (tenant_id,)).fetchone() is None:
            raise NotFound(f"tenant {tenant_id!r} does not exist", code="tenant_not_found")

    @staticmethod
    def _tenant_conflict(exc: sqlite3.IntegrityError, tenant: Tenant) -> Conflict:
        """Name the field whose UNIQUE constraint failed (sqlite says e.g. 'tenants.subdomain')."""
        text = str(exc)
        if "tenants.name_key" in text:
            return Conflict(
                f"name {tenant.name!r} is already used by another tenant (names ignore case)",
                code="tenant_name_taken",
            )
        if "tenants.subdomain" in text:
            return Conflict(f"subdomain {tenant.subdomain!r} is already used by another tenant", code="subdomain_taken")
        return Conflict(f"a tenant with id {tenant.id!r} already exists", code="tenant_exists")

    # -- tenants ---------------------------------------------------------------------------------
    async def create_tenant(self, tenant: Tenant) -> None:
        try:
            with self._transaction() as db:
                db.execute(
                    "INSERT INTO tenants (id, name_key, subdomain, created_at, doc) VALUES (?, ?, ?, ?, ?)",
                    (tenant.id, _name_key(tenant.name), tenant.subdomain, _sort_key(tenant.created_at), dump(tenant)),
                )
        except sqlite3.IntegrityError as exc:
            raise self._tenant_conflict(exc, tenant) from None
        await self.publish(ChangeEvent("tenant", tenant_id=tenant.id))

    async def get_tenant(self, tenant_id: str) -> Tenant | None:
        row = self._db.execute("SELECT doc FROM tenants WHERE id = ?", (tenant_id,)).fetchone()
        return Tenant.model_validate_json(row[0]) if row else None

    async def get_tenant_by_subdomain(self, subdomain: str) -> Tenant | None:
        # Host names are case-insensitive; stored subdomains are lowercase by the model's pattern.
        row = self._db.execute("SELECT doc FROM tenants WHERE subdomain = ?", (subdomain.lower(),)).fetchone()
        return Tenant.model_validate_json(row[0]) if row else None

    async def list_tenants(self) -> list[Tenant]:
        rows = self._db.execute("SELECT doc FROM tenants ORDER BY created_at, id").fetchall()
        return [Tenant.model_validate_json(doc) for (doc,) in rows]

    async def update_tenant(self, tenant: Tenant) -> None:
        try:
            with self._transaction() as db:
                cursor = db.execute(
                    "UPDATE tenants SET name_key = ?, subdomain = ?, created_at = ?, doc = ? WHERE id = ?",
                    (_name_key(tenant.name), tenant.subdomain, _sort_key(tenant.created_at), dump(tenant), tenant.id),
                )
                if cursor.rowcount == 0:
                    raise NotFound(f"tenant {tenant.id!r} does not exist", code="tenant_not_found")
        except sqlite3.IntegrityError as exc:
            raise self._tenant_conflict(exc, tenant) from None
        await self.publish(ChangeEvent("tenant", tenant_id=tenant.id))

    async def delete_tenant(self, tenant_id: str) -> bool:
        with self._transaction() as db:
            deleted = db.execute("DELETE FROM tenants WHERE id = ?", (tenant_id,)).rowcount > 0
            db.execute("DELETE FROM rules WHERE tenant_id = ?", (tenant_id,))
            db.execute("DELETE FROM api_keys WHERE tenant_id = ?", (tenant_id,))
            db.execute("DELETE FROM consumers WHERE tenant_id = ?", (tenant_id,))
        if not deleted:
            return False
        await self.publish(ChangeEvent("tenant", tenant_id=tenant_id))
        # Caches hold the tenant's keys by hash, which no tenant event names: drop them all.
        await self.publish(ChangeEvent("reset"))
        return True

    # -- rules -----------------------------------------------------------------------------------
    async def put_rule(self, rule: Rule) -> None:
        with self._transaction() as db:
            self._require_tenant(db, rule.tenant_id)
            # An upsert rather than INSERT OR REPLACE, which would delete and re-insert the row.
            db.execute(
                "INSERT INTO rules (tenant_id, id, created_at, doc) VALUES (?, ?, ?, ?) "
                "ON CONFLICT (tenant_id, id) DO UPDATE SET created_at = excluded.created_at, doc = excluded.doc",
                (rule.tenant_id, rule.id, _sort_key(rule.created_at), dump(rule)),
            )
        await self.publish(ChangeEvent("rule", tenant_id=rule.tenant_id))

    async def get_rule(self, tenant_id: str, rule_id: str) -> Rule | None:
        row = self._db.execute("SELECT doc FROM rules WHERE tenant_id = ? AND id = ?", (tenant_id, rule_id)).fetchone()
        return Rule.model_validate_json(row[0]) if row else None

    async def list_rules(self, tenant_id: str) -> list[Rule]:
        rows = self._db.execute(
            "SELECT doc FROM rules WHERE tenant_id = ? ORDER BY created_at, id", (tenant_id,)
        ).fetchall()
        return [Rule.model_validate_json(doc) for (doc,) in rows]

    async def delete_rule(self, tenant_id: str, rule_id: str) -> bool:
        with self._transaction() as db:
            deleted = db.execute("DELETE FROM rules WHERE tenant_id = ? AND id = ?", (tenant_id, rule_id)).rowcount > 0
        if deleted:
            await self.publish(ChangeEvent("rule", tenant_id=tenant_id))
        return deleted

    # -- keys ------------------------------------------------------------------------------------
    async def create_key(self, key: ApiKey) -> None:
        try:
            with self._transaction() as db:
                self._require_tenant(db, key.tenant_id)
                db.execute(
                    "INSERT INTO api_keys (id, tenant_id, consumer_id, hash, created_at, doc)"
                    " VALUES (?, ?, ?, ?, ?, ?)",
                    (key.id, key.tenant_id, key.consumer_id, key.hash, _sort_key(key.created_at), dump(key)),
                )
        except sqlite3.IntegrityError as exc:
            if "api_keys.hash" in str(exc):
                raise Conflict("an API key with this hash already exists", code="key_exists") from None
            raise Conflict(f"an API key with id {key.id!r} already exists", code="key_exists") from None
        await self.publish(ChangeEvent("key", tenant_id=key.tenant_id, key_hash=key.hash))

    async def find_key(self, key_hash: str) -> ApiKey | None:
        row = self._db.execute("SELECT doc FROM api_keys WHERE hash = ?", (key_hash,)).fetchone()
        return ApiKey.model_validate_json(row[0]) if row else None

    async def get_key(self, tenant_id: str, key_id: str) -> ApiKey | None:
        row = self._db.execute(
            "SELECT doc FROM api_keys WHERE tenant_id = ? AND id = ?", (tenant_id, key_id)
        ).fetchone()
        return ApiKey.model_validate_json(row[0]) if row else None

    async def list_keys(self, tenant_id: str, consumer_id: str | None = None) -> list[ApiKey]:
        if consumer_id is None:
            rows = self._db.execute(
                "SELECT doc FROM api_keys WHERE tenant_id = ? ORDER BY created_at, id", (tenant_id,)
            ).fetchall()
        else:
            rows = self._db.execute(
                "SELECT doc FROM api_keys WHERE tenant_id = ? AND consumer_id = ? ORDER BY created_at, id",
                (tenant_id, consumer_id),
            ).fetchall()
        return [ApiKey.model_validate_json(doc) for (doc,) in rows]

    async def update_key(self, key: ApiKey) -> None:
        with self._transaction() as db:
            # Matching on tenant and hash too: a key's identity is fixed, only its state changes.
            cursor = db.execute(
                "UPDATE api_keys SET consumer_id = ?, created_at = ?, doc = ?"
                " WHERE id = ? AND tenant_id = ? AND hash = ?",
                (key.consumer_id, _sort_key(key.created_at), dump(key), key.id, key.tenant_id, key.hash),
            )
            if cursor.rowcount == 0:
                raise NotFound(
                    f"tenant {key.tenant_id!r} has no API key {key.id!r} with this hash", code="key_not_found"
                )
        await self.publish(ChangeEvent("key", tenant_id=key.tenant_id, key_hash=key.hash))

    # -- consumers -------------------------------------------------------------------------------
    async def put_consumer(self, consumer: Consumer) -> None:
        with self._transaction() as db:
            self._require_tenant(db, consumer.tenant_id)
            db.execute(
                "INSERT INTO consumers (tenant_id, id, created_at, doc) VALUES (?, ?, ?, ?) "
                "ON CONFLICT (tenant_id, id) DO UPDATE SET doc = excluded.doc",
                (consumer.tenant_id, consumer.id, _sort_key(consumer.created_at), dump(consumer)),
            )
        await self.publish(ChangeEvent("consumer", tenant_id=consumer.tenant_id, consumer_id=consumer.id))

    async def get_consumer(self, tenant_id: str, consumer_id: str) -> Consumer | None:
        row = self._db.execute(
            "SELECT doc FROM consumers WHERE tenant_id = ? AND id = ?", (tenant_id, consumer_id)
        ).fetchone()
        return Consumer.model_validate_json(row[0]) if row else None

    async def list_consumers(self, tenant_id: str) -> list[Consumer]:
        rows = self._db.execute(
            "SELECT doc FROM consumers WHERE tenant_id = ? ORDER BY created_at, id", (tenant_id,)
        ).fetchall()
        return [Consumer.model_validate_json(doc) for (doc,) in rows]

    async def delete_consumer(self, tenant_id: str, consumer_id: str) -> bool:
        with self._transaction() as db:
            deleted = (
                db.execute("DELETE FROM consumers WHERE tenant_id = ? AND id = ?", (tenant_id, consumer_id)).rowcount > 0
            )
            hashes = [
                h for (h,) in db.execute(
                    "SELECT hash FROM api_keys WHERE tenant_id = ? AND consumer_id = ?", (tenant_id, consumer_id)
                )
            ]
            db.execute("DELETE FROM api_keys WHERE tenant_id = ? AND consumer_id = ?", (tenant_id, consumer_id))
        if not deleted:
            return False
        await self.publish(ChangeEvent("consumer", tenant_id=tenant_id, consumer_id=consumer_id))
        for key_hash in hashes:
            await self.publish(ChangeEvent("key", tenant_id=tenant_id, key_hash=key_hash))
        return True
