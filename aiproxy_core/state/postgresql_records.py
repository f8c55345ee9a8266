"""Kept records on a PostgreSQL server (``records.postgresql``), through asyncpg.

One pool per gateway process, made when the gateway starts and connecting only when first used
(``min_size=0``), so a gateway starts while PostgreSQL is down and its records wait in the queue
that feeds them. One table for every plugin and name::

    aiproxy_records (plugin, name, tenant_id, id, time, data jsonb, PRIMARY KEY (plugin, name, tenant_id, id))

A write is one ``INSERT ... SELECT FROM unnest(...) ON CONFLICT DO NOTHING``: all of a batch or
none of it, replays are no-ops. Connection failures surface as the builtin ``ConnectionError``
(or ``OSError``/``TimeoutError``), as on every state backend; the URL never appears in an error.
"""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING, Any, Awaitable, Callable, Sequence, TypeVar

from .api import Record, Records, RecordSink
from .record_checks import checked_name, checked_page, checked_records, loaded

if TYPE_CHECKING:
    import asyncpg

__all__ = ["PostgresqlRecords", "PostgresqlSink"]

T = TypeVar("T")

_SCHEMA = """
CREATE TABLE IF NOT EXISTS aiproxy_records (
    plugin text NOT NULL,
    name text NOT NULL,
    tenant_id text NOT NULL,
    id text NOT NULL,
    time double precision NOT NULL,
    data jsonb NOT NULL,
    PRIMARY KEY (plugin, name, tenant_id, id)
);
CREATE INDEX IF NOT EXISTS aiproxy_records_by_time ON aiproxy_records (plugin, name, tenant_id, time, id);
"""

_INSERT = """
INSERT INTO aiproxy_records (plugin, name, tenant_id, id, time, data)
SELECT $1, $2, r.tenant_id, r.id, r.time, r.data::jsonb
FROM unnest($3::text[], $4::text[], $5::float8[], $6::text[]) AS r(tenant_id, id, time, data)
ON CONFLICT DO NOTHING
RETURNING 1
"""

#: Seconds a statement (and a wait for a pooled connection) may take.
COMMAND_TIMEOUT = 10.0


class PostgresqlSink:
    """The process's pool on the records server."""

    def __init__(self, url: str, pool_size: int = 4) -> None:
        self._url = url
        self._pool_size = pool_size
        self._pool: "asyncpg.Pool | None" = None
        self._schema_ready = False
        self._schema_lock = asyncio.Lock()

    async def start(self) -> None:
        import asyncpg  # only deployments that name a PostgreSQL server load it

        if self._pool is None:
            self._pool = await asyncpg.create_pool(
                self._url, min_size=0, max_size=self._pool_size, command_timeout=COMMAND_TIMEOUT, timeout=COMMAND_TIMEOUT
            )

    async def close(self) -> None:
        if self._pool is not None:
            pool, self._pool = self._pool, None
            await pool.close()

    async def ping(self) -> None:
        """Raises ConnectionError when the server does not answer (``/healthz``)."""
        await self.run(lambda conn: conn.fetchval("SELECT 1"))

    async def run(self, work: Callable[["asyncpg.Connection"], Awaitable[T]]) -> T:
        """``work`` on a pooled connection; connection trouble as the builtin errors."""
        import asyncpg

        if self._pool is None:
            raise ConnectionError("the records server's pool is not open (the gateway opens it at start)")
        try:
            async with self._pool.acquire(timeout=COMMAND_TIMEOUT) as conn:
                if not self._schema_ready:
                    async with self._schema_lock:
                        if not self._schema_ready:
                            await conn.execute(_SCHEMA)
                            self._schema_ready = True
                return await work(conn)
        except (asyncpg.PostgresConnectionError, asyncpg.InterfaceError, asyncpg.CannotConnectNowError, asyncpg.exceptions.OperatorInterventionError) as exc:
            # The class only: asyncpg's messages may name the server.
            raise ConnectionError(f"the records server (PostgreSQL) cannot be reached: {type(exc).__name__}") from None
        except OSError as exc:
            raise ConnectionError(f"the records server (PostgreSQL) cannot be reached: {exc.strerror or type(exc).__name__}") from None


class PostgresqlRecords(Records):
    sink: RecordSink = "postgresql"

    def __init__(self, server: PostgresqlSink, plugin: str, name: str) -> None:
        self._server = server
        self._scope = (plugin, checked_name(name))

    async def write(self, records: Sequence[Record]) -> int:
        rows = checked_records(records)
        if not rows:
            return 0
        columns = [list(column) for column in zip(*rows)]
        inserted = await self._server.run(lambda conn: conn.fetch(_INSERT, *self._scope, *columns))
        return len(inserted)

    async def read(
        self, tenant_id: str, *, since: float | None = None, until: float | None = None, after: str | None = None, limit: int = 1000
    ) -> list[Record]:
        checked_page(tenant_id, limit, after)
        where, arguments = ["plugin = $1 AND name = $2 AND tenant_id = $3"], [*self._scope, tenant_id]

        def argument(value: Any) -> str:
            arguments.append(value)
            return f"${len(arguments)}"

        if since is not None:
            where.append(f"time >= {argument(float(since))}")
        if until is not None:
            where.append(f"time < {argument(float(until))}")
        if after is not None:
            where.append(
                f"(time, id) > (SELECT time, id FROM aiproxy_records WHERE plugin = $1 AND name = $2 AND tenant_id = $3 AND id = {argument(after)})"
            )
        query = f"SELECT id, time, data::text AS data FROM aiproxy_records WHERE {' AND '.join(where)} ORDER BY time, id LIMIT {argument(limit)}"
        rows = await self._server.run(lambda conn: conn.fetch(query, *arguments))
        return [loaded(tenant_id, row["id"], row["time"], row["data"]) for row in rows]

    async def count(self, tenant_id: str) -> int:
        checked_page(tenant_id, 1, None)
        query = "SELECT count(*) FROM aiproxy_records WHERE plugin = $1 AND name = $2 AND tenant_id = $3"
        found = await self._server.run(lambda conn: conn.fetchval(query, *self._scope, tenant_id))
        return int(found)
