"""Where plans live: a table in the plugin's SQLite file, or a hash per tenant in Redis."""

from __future__ import annotations

import sqlite3
from typing import TYPE_CHECKING, Protocol

from .plans import Plan
from .sqlite_db import BillingDatabase, transaction

if TYPE_CHECKING:
    from redis.asyncio import Redis

__all__ = ["PlanStore", "RedisPlanStore", "SqlitePlanStore"]


class PlanStore(Protocol):
    async def put(self, plan: Plan) -> None: ...
    async def get(self, tenant_id: str, plan_id: str) -> Plan | None: ...
    async def list(self, tenant_id: str) -> list[Plan]: ...
    async def delete(self, tenant_id: str, plan_id: str) -> bool: ...


class SqlitePlanStore:
    def __init__(self, database: BillingDatabase) -> None:
        self._db = database

    async def put(self, plan: Plan) -> None:
        def write(c: sqlite3.Connection) -> None:
            c.execute(
                "INSERT INTO plans (tenant_id, id, created_at, doc) VALUES (?, ?, ?, ?)"
                " ON CONFLICT (tenant_id, id) DO UPDATE SET doc = excluded.doc",
                (plan.tenant_id, plan.id, plan.created_at.isoformat(), plan.model_dump_json()),
            )

        await self._db.run(lambda c: transaction(c, write))

    async def get(self, tenant_id: str, plan_id: str) -> Plan | None:
        rows = await self._db.run(
            lambda c: c.execute("SELECT doc FROM plans WHERE tenant_id = ? AND id = ?", (tenant_id, plan_id)).fetchall()
        )
        return Plan.model_validate_json(rows[0][0]) if rows else None

    async def list(self, tenant_id: str) -> list[Plan]:
        rows = await self._db.run(
            lambda c: c.execute("SELECT doc FROM plans WHERE tenant_id = ? ORDER BY created_at, id", (tenant_id,)).fetchall()
        )
        return [Plan.model_validate_json(doc) for (doc,) in rows]

    async def delete(self, tenant_id: str, plan_id: str) -> bool:
        def remove(c: sqlite3.Connection) -> bool:
            return c.execute("DELETE FROM plans WHERE tenant_id = ? AND id = ?", (tenant_id, plan_id)).rowcount > 0

        return await self._db.run(lambda c: transaction(c, remove))


class RedisPlanStore:
    """``{prefix}:billing:plans:{tenant_id}``: a hash of plan id to the plan's JSON."""

    def __init__(self, redis: "Redis", prefix: str) -> None:
        self._redis = redis
        self._prefix = prefix

    def _key(self, tenant_id: str) -> str:
        return f"{self._prefix}:billing:plans:{tenant_id}"

    async def put(self, plan: Plan) -> None:
        await self._redis.hset(self._key(plan.tenant_id), plan.id, plan.model_dump_json())

    async def get(self, tenant_id: str, plan_id: str) -> Plan | None:
        doc = await self._redis.hget(self._key(tenant_id), plan_id)
        return Plan.model_validate_json(doc) if doc is not None else None

    async def list(self, tenant_id: str) -> list[Plan]:
        docs = await self._redis.hvals(self._key(tenant_id))
        plans = [Plan.model_validate_json(doc) for doc in docs]
        return sorted(plans, key=lambda p: (p.created_at, p.id))

    async def delete(self, tenant_id: str, plan_id: str) -> bool:
        return bool(await self._redis.hdel(self._key(tenant_id), plan_id))
