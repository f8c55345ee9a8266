"""``services.state(plugin)``: each plugin's namespace, on the gateway's backend.

One :class:`StateService` per gateway process holds the backend's connections (the SQLite state
file, or the gateway's Redis client and its request-path script connection) and hands out one
:class:`BackendPluginState` per plugin name. Deleting a tenant drops its values and counters for
every plugin, with no plugin code.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import TYPE_CHECKING

from ..redis_keys import delete_matching
from . import sqlite_counters, sqlite_values
from .api import Counters, PluginState, Queue, Records, RecordSink, Values
from .discarded_records import DiscardedRecords
from .postgresql_records import PostgresqlRecords, PostgresqlSink
from .keyspace import KeySpace, checked_tenant
from .redis_count_batch import CountBatch
from .redis_counters import RedisCounters
from .redis_queue import RedisQueue
from .redis_values import RedisValues
from .sqlite_counters import SqliteCounters
from .sqlite_db import StateDatabase
from .sqlite_queue import SqliteQueue
from .sqlite_records import SqliteRecords
from .sqlite_values import SqliteValues

if TYPE_CHECKING:
    from redis.asyncio import Redis

    from ..config import GatewayConfig
    from ..redis_scripts import ScriptConnection

__all__ = ["BackendPluginState", "StateService", "data_directory"]

_PLUGIN_NAME = re.compile(r"^[A-Za-z0-9_.-]{1,64}$")

#: Counters objects one plugin state keeps (one per tenant) before it starts over.
_COUNTERS_KEPT = 10_000


def data_directory(config: "GatewayConfig") -> Path:
    """Where a gateway keeps its files: beside the SQLite store embedded, ``./aiproxy-data`` on Redis."""
    return Path(config.storage.path).resolve().parent if config.redis is None else Path("aiproxy-data").resolve()


class StateService:
    """Embedded (``redis`` None: a SQLite file in ``data_dir``) or on the gateway's Redis."""

    def __init__(
        self,
        data_dir: Path,
        *,
        redis: "Redis | None" = None,
        scripts: "ScriptConnection | None" = None,
        prefix: str = "aiproxy",
        records_url: str | None = None,
        records_pool_size: int = 4,
    ) -> None:
        self.redis = redis
        self.scripts = scripts
        #: This turn's sliding and fixed counts of every plugin, as one script (one Redis server).
        self.count_batch = CountBatch(scripts) if scripts is not None else None
        self.keys = KeySpace(prefix)
        self.db: StateDatabase | None = None if redis is not None else StateDatabase(data_dir / "state.db")
        #: Kept records' server (``records.postgresql``); None: the state file, or none on Redis.
        self.records_server = PostgresqlSink(records_url, records_pool_size) if records_url else None
        self._plugins: dict[str, BackendPluginState] = {}

    @classmethod
    def for_config(cls, config: "GatewayConfig", redis: "Redis | None", scripts: "ScriptConnection | None" = None) -> "StateService":
        """The state ``aiproxy serve`` uses for ``config`` (``redis``: its store's client), not yet
        opened: for the gateway and for plugin commands that work on the same state
        (``open()``, then ``await start()``; ``await stop()`` and ``close()`` after)."""
        records = config.records.postgresql
        return cls(
            data_directory(config),
            redis=redis,
            scripts=scripts,
            prefix=config.redis.prefix if config.redis is not None else "aiproxy",
            records_url=records.get_secret_value() if records is not None else None,
            records_pool_size=config.records.pool_size,
        )

    @property
    def record_sink(self) -> RecordSink:
        """Where plugins' kept records go (see :class:`~aiproxy_core.state.Records`)."""
        if self.records_server is not None:
            return "postgresql"
        return "sqlite" if self.db is not None else "none"

    @property
    def embedded(self) -> bool:
        return self.db is not None

    def open(self) -> None:
        """Open the SQLite file (embedded); each primitive creates its tables on first use."""
        if self.db is not None:
            self.db.open()

    def close(self) -> None:
        if self.db is not None:
            self.db.close()

    async def start(self) -> None:
        """Open the records server's pool (it connects when first used), after :meth:`open`."""
        if self.records_server is not None:
            await self.records_server.start()

    async def stop(self) -> None:
        if self.records_server is not None:
            await self.records_server.close()

    def for_plugin(self, plugin: str) -> PluginState:
        if not _PLUGIN_NAME.match(plugin):
            raise ValueError(f"a state namespace is a plugin name (letters, digits, _ . -), not {plugin!r:.80}")
        state = self._plugins.get(plugin)
        if state is None:
            state = self._plugins[plugin] = BackendPluginState(self, plugin)
        return state

    async def drop_tenant(self, tenant_id: str) -> None:
        """Every plugin's values and counters of ``tenant_id`` (the gateway calls it on delete)."""
        if self.db is not None:
            for module in (sqlite_values, sqlite_counters):
                self.db.ensure_schema(module.SCHEMA)
            with self.db.transaction() as conn:
                sqlite_values.drop_tenant(conn, None, tenant_id)
                sqlite_counters.drop_tenant(conn, None, tenant_id)
            return
        assert self.redis is not None
        await delete_matching(self.redis, _glob_escape(self.keys.tenant_root(tenant_id)) + "*")


class BackendPluginState(PluginState):
    def __init__(self, service: StateService, plugin: str) -> None:
        self.plugin = plugin
        self._service = service
        #: One object per queue name: its per-turn batcher must be shared by every appender.
        self._queues: dict[str, Queue] = {}
        self._records: dict[str, Records] = {}
        #: Counters per tenant, made once: a rate limiter asks for them on every request, and
        #: they hold per-tenant memos (RedisCounters._last). Bounded: past it, made again.
        self._counters: dict[str, Counters] = {}

    def values(self, tenant_id: str) -> Values:
        checked_tenant(tenant_id)  # the same ids on every backend
        service = self._service
        if service.db is not None:
            return SqliteValues(service.db, self.plugin, tenant_id)
        assert service.redis is not None
        return RedisValues(service.redis, service.scripts, service.keys, self.plugin, tenant_id)

    def counters(self, tenant_id: str) -> Counters:
        counters = self._counters.get(tenant_id)
        if counters is None:
            if len(self._counters) >= _COUNTERS_KEPT:
                self._counters.clear()
            counters = self._counters[tenant_id] = self._new_counters(tenant_id)
        return counters

    def _new_counters(self, tenant_id: str) -> Counters:
        checked_tenant(tenant_id)
        service = self._service
        if service.db is not None:
            return SqliteCounters(service.db, self.plugin, tenant_id)
        assert service.redis is not None
        return RedisCounters(service.redis, service.scripts, service.keys, self.plugin, tenant_id, service.count_batch)

    def queue(self, name: str) -> Queue:
        queue = self._queues.get(name)
        if queue is None:
            queue = self._queues[name] = self._new_queue(name)
        return queue

    def records(self, name: str) -> Records:
        records = self._records.get(name)
        if records is None:
            records = self._records[name] = self._new_records(name)
        return records

    def _new_records(self, name: str) -> Records:
        service = self._service
        if service.records_server is not None:
            return PostgresqlRecords(service.records_server, self.plugin, name)
        if service.db is not None:
            return SqliteRecords(service.db, self.plugin, name)
        return DiscardedRecords(name)

    def _new_queue(self, name: str) -> Queue:
        service = self._service
        if service.db is not None:
            return SqliteQueue(service.db, self.plugin, name)
        assert service.redis is not None
        return RedisQueue(service.redis, service.scripts, service.keys, self.plugin, name)

    async def drop_tenant(self, tenant_id: str) -> None:
        service = self._service
        if service.db is not None:
            for module in (sqlite_values, sqlite_counters):
                service.db.ensure_schema(module.SCHEMA)
            with service.db.transaction() as conn:
                sqlite_values.drop_tenant(conn, self.plugin, tenant_id)
                sqlite_counters.drop_tenant(conn, self.plugin, tenant_id)
            return
        assert service.redis is not None
        await delete_matching(service.redis, _glob_escape(f"{service.keys.tenant_root(tenant_id)}{self.plugin}:") + "*")


def _glob_escape(text: str) -> str:
    """``text`` as a literal in a Redis MATCH pattern (ids and prefixes may hold ``[``, ``*``, ``?``)."""
    return re.sub(r"([\\*?\[\]])", r"\\\1", text)
